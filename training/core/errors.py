"""The base of every error whose message is meant for the user (in Chinese)."""


class UserError(ValueError):
    """Bad input or a refused operation; pages show ``str(exc)`` instead of a traceback."""
