"""training.auth."""
