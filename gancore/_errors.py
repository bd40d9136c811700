"""The gancore error family: every error the library raises derives from `GancoreError`."""

from __future__ import annotations

__all__ = [
    "GancoreError",
    "InvalidArgumentError",
    "PluginError",
    "PluginNotFoundError",
    "PluginLoadError",
    "BackendUnsupportedError",
]


class GancoreError(Exception):
    """Base class of every error raised by gancore."""


class InvalidArgumentError(GancoreError, ValueError):
    """An argument has a value, shape or dtype that gancore does not accept.

    The message names the argument, what is allowed and what was received.
    """


class PluginError(GancoreError):
    """A plugin (backend, architecture, loss or dataset) cannot be used."""


class PluginNotFoundError(PluginError, LookupError):
    """No plugin of that name is installed; the message lists what is installed."""


class PluginLoadError(PluginError):
    """A plugin is installed but failed to load or returned the wrong kind of object."""


class BackendUnsupportedError(GancoreError, NotImplementedError):
    """The backend cannot run what was asked (e.g. a native module of another framework)."""
