"""training.ops.demo."""
