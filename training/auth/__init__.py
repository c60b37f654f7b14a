"""Accounts, passwords, login and login sessions, role checks and the audit trail."""
