"""One exception root for audiolens (as librosa's ``ParameterError``).

Every error the library raises on purpose derives from :class:`AudiolensError`, so a
stage (``runtime.start_stage``) or the CLI turns any of them into one clear line and exit
code 2. Subclass by what went wrong, not by where:

- :class:`ConfigError`: a params file or a settings value that cannot work;
- :class:`ParameterError`: a function argument out of range (the message names it);
- :class:`DataError`: input data that cannot be used (names the file or table);
- :class:`ModelError`: a model file or model structure that cannot be used.
"""
from __future__ import annotations

__all__ = ["AudiolensError", "ConfigError", "ParameterError", "DataError", "ModelError"]


class AudiolensError(Exception):
    """Root of every error audiolens raises on purpose."""


class ConfigError(AudiolensError, ValueError):
    """A params file or settings value that cannot work; the message names the key."""


class ParameterError(AudiolensError, ValueError):
    """A function argument that is out of range or of the wrong kind; the message names it."""


class DataError(AudiolensError, ValueError):
    """Input data (audio, tables, features) that cannot be used; the message names the file."""


class ModelError(AudiolensError, ValueError):
    """A model file or structure that cannot be used; the message names the file or layer."""
