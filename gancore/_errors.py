"""The gancore error family: every error the library raises derives from `GancoreError`."""

from __future__ import annotations

__all__ = [
    "GancoreError",
    "InvalidArgumentError",
    "PluginError",
    "PluginNotFoundError",
    "PluginLoadError",
    "BackendUnsupportedError",
    "CheckpointError",
    "NonFiniteError",
    "RunFolderError",
    "TrainingStopped",
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


class CheckpointError(GancoreError):
    """A checkpoint cannot be read, or cannot resume the run it was asked to resume (the
    message names the setting that differs)."""


class NonFiniteError(GancoreError, FloatingPointError):
    """Training diverged: a loss, metric or weight is nan or inf (the message names the
    step and the quantity). No checkpoint is written from such a state."""


class RunFolderError(GancoreError):
    """A run folder cannot be used: it holds another run, or another training writes it."""


class TrainingStopped(GancoreError):
    """Training stopped on SIGINT or SIGTERM after finishing its step (and writing a
    checkpoint where the run has a checkpoint callback); `signal` names the signal."""

    def __init__(self, message: str, *, step: int, signal: int) -> None:
        super().__init__(message)
        self.step = step
        self.signal = signal
