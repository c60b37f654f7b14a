"""training.mining."""
