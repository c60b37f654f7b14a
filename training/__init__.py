"""Huashu training domain: settings, storage, accounts, encoder, mining, exams and ranking."""
