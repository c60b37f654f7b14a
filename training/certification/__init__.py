"""Certification programmes, certificates with expiry, the on-duty gate and re-certification."""
