"""training.exams."""
