"""Typed, validated pipeline configuration.

``params.yaml`` is grouped by stage. :func:`load_params` parses it into a
:class:`Params` object (one pydantic model per section) and refuses unknown
keys, wrong types and out-of-range values with a message that names the key
path and what is allowed, before any stage does work.

Library code never reads ``params.yaml``: stage scripts load it here and build the
library's frozen settings objects with :func:`to_settings`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from audiolens.config.schema import Params
from audiolens.config.settings import to_settings
from audiolens.errors import ConfigError
from audiolens.io import atomic_write_text

__all__ = ["ConfigError", "Params", "load_params", "parse_params", "save_resolved", "to_settings"]


class _Loader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2 floats: ``1e-3`` is a number (PyYAML's 1.1 rules read it as a
    string, which strict types would then refuse), as DVC's own YAML reader has it."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
               r"|[0-9][0-9_]*[eE][-+]?[0-9]+|\.inf|\.Inf|\.INF|\.nan|\.NaN|\.NAN)$"),
    list("-+0123456789."))


def _allowed_keys(model_cls: type, loc: tuple) -> list[str]:
    """Field names allowed at the parent of ``loc`` (for unknown-key messages)."""
    cls = model_cls
    for part in loc[:-1]:
        field = getattr(cls, "model_fields", {}).get(part)
        if field is None:
            return []
        cls = field.annotation
    return sorted(getattr(cls, "model_fields", {}))


def _format_error(err: dict, source: str) -> str:
    loc = tuple(err["loc"])
    path = ".".join(str(p) for p in loc) or "<root>"
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(Params, loc)
        return f"{source}: {path}: unknown key (allowed here: {', '.join(allowed)})"
    if kind == "missing":
        return f"{source}: {path}: required key is missing"
    got = err.get("input")
    got_txt = "" if isinstance(got, (dict, Params)) else f" (got {got!r})"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{source}: {msg}{got_txt}" if not loc else f"{source}: {path}: {msg}{got_txt}"


def parse_params(raw: dict[str, Any] | None, *, source: str = "params.yaml") -> Params:
    """Validate a params mapping.

    Parameters
    ----------
    raw : dict
        The parsed YAML mapping.
    source : str
        Name used in error messages (usually the file path).

    Raises
    ------
    ConfigError
        Listing every offending key path and what is allowed.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: top level must be a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        lines = [_format_error(e, source) for e in exc.errors()]
        raise ConfigError("invalid parameters:\n  " + "\n  ".join(lines)) from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a params YAML file (see :func:`parse_params`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file not found: {path}")
    try:
        raw = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, source=str(path))


#: keys that say where the work runs, not what it computes: left out of resolved_params.yaml so a
#: stage's outputs are byte-identical whatever the worker count or scheduler
EXECUTION_ONLY = {"audio": ("n_jobs", "scheduler", "inline_below_s"), "data": ("n_jobs",)}


def save_resolved(params: Params, path: str | Path, *, sections: list[str] | None = None) -> Path:
    """Write the resolved (defaults filled in) config a stage ran with, atomically.

    The :data:`EXECUTION_ONLY` keys are left out (a reader gets their params.yaml defaults).

    Parameters
    ----------
    params : Params
        The validated configuration.
    path : path
        Destination YAML file, usually ``<stage output dir>/resolved_params.yaml``.
    sections : list of str, optional
        Only these top-level sections; all when omitted.
    """
    data = params.model_dump(mode="json")
    if sections is not None:
        data = {k: data[k] for k in sections}
    for section, keys in EXECUTION_ONLY.items():
        for key in keys:
            data.get(section, {}).pop(key, None)
    return atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))
