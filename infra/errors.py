"""The base class of every error a user can cause and fix: a missing or damaged file, a bad
option, a full disk, a text model that does not fit. Each command line catches it in one place and
prints its message as one ``error: ...`` line, without a traceback; anything else is a bug and
keeps its traceback."""
from __future__ import annotations


class GLIMError(Exception):
    """An error the user can cause and fix; its message says what and how, on one line."""


class OptionError(GLIMError, ValueError):
    """A command-line option or configuration value that cannot be used."""
