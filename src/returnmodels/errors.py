"""Domain exceptions: messages a statistician can act on, raised before any sampling."""

from __future__ import annotations

__all__ = ["ReturnModelsError", "ConfigError"]


class ReturnModelsError(Exception):
    """Base class of every error returnmodels raises on purpose.

    The command-line interface prints ``str(error)`` and exits non-zero, without a
    traceback; anything else escaping is a bug.
    """


class ConfigError(ReturnModelsError, ValueError):
    """A parameter has a value that is not allowed; the message names both."""
