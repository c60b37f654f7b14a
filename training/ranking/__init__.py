"""Ranking agents' answers to one customer turn, and the answer lint."""
