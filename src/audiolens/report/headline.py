"""The headline metrics: the few numbers ``dvc exp show`` / ``dvc metrics diff`` lead with.

Per-class, per-recording and per-method details stay in each stage's ``metrics.json`` and in
the report; this small flat set is the only top-level DVC metrics file, so an experiments
table at terminal width shows whole numbers instead of ``…``.
"""
from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

__all__ = ["HEADLINE_KEYS", "headline"]

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


def _number(value: Any) -> float | None:
    """A finite float, or None for anything missing or not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def headline(evaluation: dict[str, Any] | None, uncertainty: dict[str, Any] | None = None,
             n_uncertainty: int | None = None) -> dict[str, float | int]:
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
        Flat ``{key: number}`` in :data:`HEADLINE_KEYS` order; keys whose value is missing
        (``eer`` for a multi-class task, ``ece`` without the uncertainty stage) are left out.
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
    return out
