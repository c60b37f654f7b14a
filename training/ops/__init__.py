"""training.ops."""
