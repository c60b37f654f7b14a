"""The demo store: fixed facts, seed data and four months of deterministic history."""
