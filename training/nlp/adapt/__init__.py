"""training.nlp.adapt."""
