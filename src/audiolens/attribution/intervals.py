"""Grouped bootstrap intervals of the fidelity metrics, and the paired comparisons.

The explained examples are segments, several of which can come from one recording, so
every interval resamples *recordings* (:mod:`audiolens.bootstrap`: ``bootstrap.resamples``
draws seeded by ``bootstrap.seed``) and recomputes the mean over all the drawn recordings'
segments. Every explainer is measured on the same examples, so one plan (the same draws)
serves every metric and both sides of a comparison:

- an explainer against the random-mask control (its own ``rand_<metric>`` column where the
  per-example frame has one, else the ``random`` rows), and
- every explainer against every other,

as paired differences ``A - B`` with a percentile interval; ``verdict`` says which is better
(by the metric's direction) or ``not distinguishable`` when the interval spans 0.
Per-example values that are NaN (e.g. a constant map's SPS) are left out of each resampled
mean; a resample without any finite value is undefined (:func:`audiolens.bootstrap.interval`).
"""
from __future__ import annotations

from itertools import combinations
from typing import Collection, Sequence

import numpy as np
import pandas as pd

from audiolens.bootstrap import BootstrapSettings, GroupBootstrap, difference, interval, plan

__all__ = ["CONTROL", "resampled_means", "mean_interval", "verdict", "comparisons"]

CONTROL = "random"  # the random-mask control's name in the ``explainer`` column


def resampled_means(boot: GroupBootstrap, values) -> np.ndarray:
    """Mean of the finite per-segment ``values`` (n,) in every resample: shape (B,), NaN where none is finite."""
    return boot.mean(values, skip_nan=True)


def mean_interval(values, groups, settings: BootstrapSettings | None) -> dict[str, float] | None:
    """Grouped 95 % percentile interval ``{"lo", "hi"}`` of the mean of ``values`` (n,), or None.

    ``groups`` (n,) are the recordings; None when intervals are off (no settings, 0 resamples).
    """
    boot = plan(np.asarray(groups), settings)
    return None if boot is None else interval(resampled_means(boot, values))


def verdict(d: dict, *, lower_is_better: bool, names: tuple[str, str] = ("A", "B")) -> str:
    """``"<A> better"``, ``"<B> better"`` or ``"not distinguishable"`` for a :func:`difference` ``A - B``."""
    if not d.get("distinguishable"):
        return "not distinguishable"
    a_higher = d["lo"] > 0
    return f"{names[0] if a_higher != lower_is_better else names[1]} better"


def _wide(frame: pd.DataFrame, column: str, order: Sequence[str]) -> pd.DataFrame:
    return frame.pivot(index="segment_id", columns="explainer", values=column).reindex(list(order))


def comparisons(frame: pd.DataFrame, metrics: Sequence[str], *, settings: BootstrapSettings | None,
                lower_is_better: Collection[str] = ()) -> pd.DataFrame:
    """Paired differences of every explainer against the random control and against each other.

    Parameters
    ----------
    frame : DataFrame
        One row per explainer × example: ``explainer, segment_id, recording_id`` and the
        ``metrics`` columns (each explainer on the same examples); optionally
        ``rand_<metric>`` (the example's own random-mask control) and rows of the
        :data:`CONTROL` explainer.
    metrics : sequence of str
    settings : BootstrapSettings or None
        None or 0 resamples: differences without intervals (all ``not distinguishable``).
    lower_is_better : collection of str
        Metrics where a lower value is better (deletion AUC, AD).

    Returns
    -------
    DataFrame
        ``metric, a, b, a_value, b_value, diff, lo, hi, distinguishable, verdict, n,
        n_recordings``; ``b`` is :data:`CONTROL` for the comparisons with the control.
        ``a_value`` / ``b_value`` are the means over the examples (NaNs left out).
    """
    cols = ["metric", "a", "b", "a_value", "b_value", "diff", "lo", "hi", "distinguishable", "verdict", "n",
            "n_recordings"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    rec = frame.drop_duplicates("segment_id").set_index("segment_id")["recording_id"].astype(str)
    order = list(rec.index)
    boot = plan(rec.to_numpy(), settings)
    names = [str(e) for e in frame["explainer"].unique() if e != CONTROL]
    rows = []
    for m in metrics:
        if m not in frame:
            continue
        wide = _wide(frame, m, order)
        ctrl = _wide(frame, f"rand_{m}", order) if f"rand_{m}" in frame else None
        pairs = [(a, CONTROL) for a in names] + list(combinations(names, 2))
        for a, b in pairs:
            va = wide[a].to_numpy(dtype=float)
            if b == CONTROL and ctrl is not None:
                vb = ctrl[a].to_numpy(dtype=float)
            elif b in wide:
                vb = wide[b].to_numpy(dtype=float)
            else:
                continue
            both = np.isfinite(va) & np.isfinite(vb)
            if not both.any():
                continue
            va, vb = np.where(both, va, np.nan), np.where(both, vb, np.nan)
            ma, mb = float(np.nanmean(va)), float(np.nanmean(vb))
            if boot is None:
                d = {"diff": ma - mb, "lo": None, "hi": None, "distinguishable": 0}
            else:
                d = difference(ma, mb, resampled_means(boot, va), resampled_means(boot, vb))
            rows.append({"metric": m, "a": a, "b": b, "a_value": ma, "b_value": mb, **d,
                         "verdict": verdict(d, lower_is_better=m in lower_is_better, names=(a, b)),
                         "n": int(both.sum()), "n_recordings": int(rec[both].nunique())})
    return pd.DataFrame(rows, columns=cols)
