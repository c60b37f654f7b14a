"""training.ranking."""
