"""Objective items, papers, taking an exam, scoring, release, reviews, feedback and retakes."""
