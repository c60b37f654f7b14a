"""training.certification."""
