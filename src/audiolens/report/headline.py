"""The headline metrics: the few numbers ``dvc exp show`` / ``dvc metrics diff`` lead with.

Per-class, per-recording and per-method details stay in each stage's ``metrics.json`` and in
the report; this small flat set is the only top-level DVC metrics file, so an experiments
table at terminal width shows whole numbers instead of ``…``. The 95 % intervals (grouped
bootstrap over test recordings) sit in one nested ``ci95`` block: ``dvc metrics show`` lists
them as ``ci95.<key>.lo`` / ``.hi`` (and ``ci95.n_recordings``, the recordings resampled),
while the README's ``dvc exp show --drop '.*[./]|…'`` keeps the table to the values.
"""
from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

__all__ = ["HEADLINE_KEYS", "CI_SOURCES", "headline"]

# key -> what it is (read-only)
HEADLINE_KEYS = MappingProxyType({
    "n": "test segments scored by evaluate",
    "accuracy": "test accuracy (segments)",
    "balanced_accuracy": "mean per-class recall",
    "f1_macro": "macro-averaged F1",
    "eer": "equal error rate (binary tasks only)",
    "ece": "expected calibration error of the single model",
    "ece_n": "test segments the ECE is computed on",
    "margin": "CNN accuracy minus the best baseline's (segments; > 0: the CNN is better)",
})
# where each headline key's interval is found: (stage, path inside its metrics.json)
CI_SOURCES = MappingProxyType({
    "accuracy": ("eval", ("ci95", "accuracy")),
    "balanced_accuracy": ("eval", ("ci95", "balanced_accuracy")),
    "f1_macro": ("eval", ("ci95", "f1_macro")),
    "eer": ("eval", ("ci95", "eer")),
    "ece": ("uncertainty", ("single", "ci95", "ece")),
    "margin": ("eval", ("baseline_margin", "ci95", "accuracy")),
})


def _at(d: Any, path: tuple[str, ...]) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def _number(value: Any) -> float | None:
    """A finite float, or None for anything missing or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def headline(evaluation: dict[str, Any] | None, uncertainty: dict[str, Any] | None = None,
             n_uncertainty: int | None = None) -> dict[str, Any]:
    """Pick the headline metrics from the evaluate and uncertainty metrics.

    Parameters
    ----------
    evaluation : dict, optional
        ``reports/eval/metrics.json`` (``n``, ``accuracy``, ``balanced_accuracy``,
        ``f1_macro``, ``binary.eer`` when the task is binary, ``baseline_margin`` when the
        baseline stage ran).
    uncertainty : dict, optional
        ``reports/uncertainty/metrics.json`` (``single.ece``); None when that stage did not run.
    n_uncertainty : int, optional
        Number of test segments the uncertainty metrics were computed on.

    Returns
    -------
    dict
        ``{key: number}`` in :data:`HEADLINE_KEYS` order; keys whose value is missing
        (``eer`` for a multi-class task, ``ece`` without the uncertainty stage) are left out.
        When the stages computed intervals, a last key ``ci95``: ``{"n_recordings": int,
        key: {"lo", "hi"}}`` for each present key with an interval (:data:`CI_SOURCES`).
    """
    evaluation = evaluation or {}
    values: dict[str, Any] = {
        "n": evaluation.get("n"),
        "accuracy": evaluation.get("accuracy"),
        "balanced_accuracy": evaluation.get("balanced_accuracy"),
        "f1_macro": evaluation.get("f1_macro"),
        "eer": (evaluation.get("binary") or {}).get("eer"),
        "ece": ((uncertainty or {}).get("single") or {}).get("ece"),
        "ece_n": n_uncertainty,
        "margin": (evaluation.get("baseline_margin") or {}).get("accuracy"),
    }
    out: dict[str, float | int] = {}
    for key in HEADLINE_KEYS:
        number = _number(values[key])
        if number is not None:
            out[key] = int(number) if key in ("n", "ece_n") else number
    if "ece" not in out:
        out.pop("ece_n", None)
    sources = {"eval": evaluation, "uncertainty": uncertainty or {}}
    ci: dict[str, Any] = {}
    for key, (stage, path) in CI_SOURCES.items():
        c = _at(sources[stage], path)
        if key in out and isinstance(c, dict) and _number(c.get("lo")) is not None \
                and _number(c.get("hi")) is not None:
            ci[key] = {"lo": float(c["lo"]), "hi": float(c["hi"])}
    if ci:
        n_rec = _number(evaluation.get("n_recordings"))
        out["ci95"] = ({"n_recordings": int(n_rec)} if n_rec is not None else {}) | ci
    return out
