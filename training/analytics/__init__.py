"""Figures for the dashboards, the learner's progress and the home page, aggregated in SQL."""
