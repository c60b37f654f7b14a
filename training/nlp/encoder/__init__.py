"""training.nlp.encoder."""
