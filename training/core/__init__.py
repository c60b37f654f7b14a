"""training.core."""
