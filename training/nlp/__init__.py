"""training.nlp."""
