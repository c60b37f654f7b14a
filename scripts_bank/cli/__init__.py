"""`huashu` batch CLI (docs/cli.md is its reference): parse JSONL, call the domain, write JSONL.

``main`` holds the entry point and the argument parser; ``text`` the JSONL commands
(similarity, rank, lookup, mine-questions), ``data`` the database file commands (import-chats,
backup, restore) and ``model`` the encoder command (adapt). The domain is imported inside the
commands that need the database or the encoder, so ``huashu --help`` loads neither.
"""
