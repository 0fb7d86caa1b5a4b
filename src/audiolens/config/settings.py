"""From validated params sections to the library's frozen settings objects.

The library owns its settings: each concern defines a frozen dataclass without defaults
(``@dataclass(frozen=True, kw_only=True)``), so a default can live only in ``params.yaml``.
Stage scripts build them here, the one way config reaches the library:

>>> settings = to_settings(params.train, TrainSettings)              # doctest: +SKIP
>>> settings = to_settings(params.uncertainty, GateSettings, seed=3)  # + derived values

A field the section does not have must be given as a keyword (a derived value), else
:class:`~audiolens.errors.ConfigError` names the settings class and the missing fields.
"""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from pydantic import BaseModel

from audiolens.errors import ConfigError

__all__ = ["to_settings"]

T = TypeVar("T")


def to_settings(section: BaseModel, cls: type[T], **derived: Any) -> T:
    """Build ``cls`` (a frozen dataclass) from the matching fields of a params ``section``.

    Parameters
    ----------
    section : pydantic model
        A validated params section (e.g. ``params.train``).
    cls : dataclass type
        The library's settings class; every field must come from ``section`` or ``derived``.
    **derived
        Values not stored in params (computed, e.g. a fold count); override nothing silently:
        a name that is also a section field is an error.
    """
    if not dataclasses.is_dataclass(cls):
        raise ConfigError(f"{cls!r} is not a settings dataclass")
    names = [f.name for f in dataclasses.fields(cls)]
    data = section.model_dump()
    clash = sorted(set(derived) & set(data))
    if clash:
        raise ConfigError(f"{cls.__name__}: {clash} come from params, not as derived values")
    unknown = sorted(set(derived) - set(names))
    if unknown:
        raise ConfigError(f"{cls.__name__} has no field(s) {unknown}")
    values = {n: data[n] for n in names if n in data}
    values.update(derived)
    missing = [n for n in names if n not in values]
    if missing:
        raise ConfigError(f"{cls.__name__}: no params value for {missing} "
                          f"(section {type(section).__name__} has {sorted(data)})")
    return cls(**values)
