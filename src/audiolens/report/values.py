"""Read a metric, its 95 % interval and its sample size out of a stage's ``metrics.json``.

Stages write intervals in more than one shape; :func:`lookup` accepts all of these for a
metric at ``path`` (e.g. ``"binary.eer"`` or ``"single.ece"``):

1. a ``ci95`` block beside the value or in any enclosing dict, keyed by the rest of the path
   or by the metric's name: ``{"accuracy": 0.9, "ci95": {"accuracy": {"lo": .., "hi": ..}}}``,
   ``{"binary": {"eer": 0.1}, "ci95": {"eer": [lo, hi]}}`` (the search stops at a dict with its own
   ``n``: ``recording.mean_prob.accuracy`` does not take the segments' interval);
2. flat siblings: ``<key>_ci95`` (a pair) or ``<key>_ci95_lo`` / ``<key>_ci95_hi``;
3. the value as a dict: ``{"value": v, "ci95": pair, "n": n}`` or a paired difference
   ``{"diff": d, "lo": .., "hi": .., "distinguishable": 0/1}``.

A pair is ``{"lo", "hi"}``, ``{"low", "high"}`` or a two-element list. The sample size is
``<key>_n``, the value dict's ``n``, or the nearest enclosing ``n``; ``n_recordings`` likewise.
Anything missing or not a finite number reads as None, never as an error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["Value", "lookup", "number", "pair", "fmt_value"]


@dataclass(frozen=True)
class Value:
    """One metric: ``value``, its 95 % interval ``lo``/``hi``, ``n`` and ``n_recordings`` (each may be None)."""

    value: float | None
    lo: float | None = None
    hi: float | None = None
    n: int | None = None
    n_recordings: int | None = None

    @property
    def has_ci(self) -> bool:
        return self.lo is not None and self.hi is not None

    @property
    def spans_zero(self) -> bool:
        """The interval includes 0 (a difference not distinguishable from none)."""
        return self.has_ci and self.lo <= 0 <= self.hi


def number(v: Any) -> float | None:
    """A finite float, or None for anything missing or not a number."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def pair(c: Any) -> tuple[float, float] | None:
    """``(lo, hi)`` of an interval written as a dict or a two-element list, or None."""
    if isinstance(c, dict):
        lo, hi = c.get("lo", c.get("low")), c.get("hi", c.get("high"))
    elif isinstance(c, (list, tuple)) and len(c) == 2:
        lo, hi = c
    else:
        return None
    lo, hi = number(lo), number(hi)
    return (lo, hi) if lo is not None and hi is not None else None


def _at(d: Any, parts: list[str] | tuple[str, ...]) -> Any:
    for p in parts:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def lookup(data: Any, path: str) -> Value:
    """The metric at dotted ``path`` of ``data`` with whatever interval and n are written beside it."""
    parts = path.split(".")
    key = parts[-1]
    parent = _at(data, parts[:-1])
    if not isinstance(parent, dict):
        return Value(None)
    raw = parent.get(key)
    ci: tuple[float, float] | None = None
    n = n_rec = None
    if isinstance(raw, dict):
        value = number(raw.get("value", raw.get("diff")))
        ci = pair(raw.get("ci95")) or pair(raw)
        n, n_rec = raw.get("n"), raw.get("n_recordings")
    else:
        value = number(raw)
    if ci is None:
        ci = pair(parent.get(f"{key}_ci95")) or pair({"lo": parent.get(f"{key}_ci95_lo"),
                                                      "hi": parent.get(f"{key}_ci95_hi")})
    # a ci95 block in the parent or an enclosing dict (deepest first), never past a dict with its
    # own ``n``: an interval of another sample (recordings vs segments) is not this metric's
    for depth in range(len(parts) - 1, -1, -1):
        if ci is not None:
            break
        scope = _at(data, parts[:depth])
        block = scope.get("ci95") if isinstance(scope, dict) else None
        if isinstance(block, dict):
            ci = pair(_at(block, parts[depth:])) or pair(block.get(key))
        if depth > 0 and isinstance(scope, dict) and "n" in scope:
            break
    # the sample size: the metric's own, else the nearest enclosing one
    n = n if number(n) is not None else parent.get(f"{key}_n")
    for depth in range(len(parts) - 1, -1, -1):
        scope = _at(data, parts[:depth])
        if not isinstance(scope, dict):
            continue
        if number(n) is None:
            n = scope.get("n")
        if number(n_rec) is None:
            n_rec = scope.get("n_recordings")
    if value is None:
        return Value(None)
    as_int = (lambda v: int(v) if number(v) is not None else None)
    return Value(value, *(ci or (None, None)), n=as_int(n), n_recordings=as_int(n_rec))


def fmt_value(v: Value | None, *, percent: bool, signed: bool = False, digits: int = 3) -> str:
    """``95.7 % [91.3, 100.0]`` (percent), ``+2.1 pts [-1.0, +5.3]`` (signed percent: a difference
    in percentage points) or ``0.036 [0.021, 0.090]``; ``–`` when missing."""
    if v is None or v.value is None:
        return "–"
    sign = "+" if signed else ""
    if percent:
        text = f"{100 * v.value:{sign}.1f}" + (" pts" if signed else " %")
        return text + (f" [{100 * v.lo:{sign}.1f}, {100 * v.hi:{sign}.1f}]" if v.has_ci else "")
    text = f"{v.value:{sign}.{digits}f}"
    return text + (f" [{v.lo:{sign}.{digits}f}, {v.hi:{sign}.{digits}f}]" if v.has_ci else "")
