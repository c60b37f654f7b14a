"""training.analytics."""
