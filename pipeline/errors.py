"""Errors the ``newsmon`` command prints as one line with an exit status (see pipeline/cli.py)."""

__all__ = ["UsageError"]


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""
