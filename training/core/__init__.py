"""Shared core: settings, engine, migrations, errors, clock, upload gate, tables, JSON Lines, progress."""
