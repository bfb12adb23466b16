"""The project's own error types: one base class, so every tool reports them the same way.

A ``PsfusionError`` is a problem the user can fix (bad data, a bad checkpoint, a bad config
value); its message names the file or key and says what to do.  Tools print it as one line,
``error: <message>``, and exit with status 2 (``psfusion.cli.run_tool``); anything else is a bug
and keeps its traceback.
"""
from __future__ import annotations


class PsfusionError(Exception):
    """Base class of errors whose message is meant for the user (no traceback needed)."""


class CheckpointError(PsfusionError, RuntimeError):
    """A checkpoint file that is missing, corrupt, incomplete or of the wrong kind."""


class ConfigError(PsfusionError, ValueError):
    """A config or command-line value that cannot be used (unknown key, wrong type...)."""
