"""Widgets and plumbing the pages share: shell, login, actions, markdown escaping, exam views."""
