"""Chat logs: formats, masking of personal data, and the all-or-nothing import."""
