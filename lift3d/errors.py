"""Errors a user can act on.

Every reader, writer and public entry point raises :class:`InputError` (or a subclass) for bad input:
the message says what was wrong and what was expected, and names the file when there is one. The CLI
prints these without a traceback and exits non-zero.
"""

from __future__ import annotations

from os import PathLike


class Lift3DError(Exception):
    """Base class of the errors lift3d raises on purpose."""


class InputError(Lift3DError, ValueError):
    """Bad input: a missing, unreadable, truncated or malformed file, a wrong shape, NaN, and so on."""

    def __init__(self, message: str, path: str | PathLike | None = None):
        self.path = None if path is None else str(path)
        self.problem = message
        super().__init__(message if path is None else f"{path}: {message}")


class ConfigError(Lift3DError, ValueError):
    """A config file or override that is missing keys, has unknown keys or wrong types."""
