"""95 % intervals of the evaluation figures and of the CNN-vs-baseline margin (grouped bootstrap).

Segments are resampled by recording (:mod:`audiolens.bootstrap`); recording-level figures
resample the recordings themselves with the same seed, so the same recordings are drawn.
The margin is *paired*: CNN and baseline are scored on the same resampled recordings and
the interval is that of the per-resample difference.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from audiolens.bootstrap import (BootstrapSettings, auroc, ci_block, confusion_scores, difference, plan)
from audiolens.evaluation.metrics import aggregate_recordings, eer

__all__ = ["segment_intervals", "recording_intervals", "recording_table", "paired_margin", "MARGIN_CI_KEYS"]

MARGIN_CI_KEYS = ("accuracy", "balanced_accuracy", "recording_accuracy", "recording_balanced_accuracy")


def _eer(scores, pos):
    p = np.asarray(pos, dtype=bool)
    return None if p.all() or not p.any() else eer(scores, p)[0]


def segment_intervals(y, probs, recording_ids, settings: BootstrapSettings | None, *,
                      threshold: float | None = None) -> dict[str, dict[str, float]]:
    """Intervals of the segment figures: accuracy, balanced accuracy, macro F1, ROC AUC (binary),
    EER and FAR/FRR at ``threshold`` (binary).

    Parameters
    ----------
    y : (n,) int
    probs : (n, K) float
    recording_ids : (n,) the resampling groups
    settings : BootstrapSettings or None (None / 0 resamples: ``{}``)
    threshold : float, optional
        Accept threshold on P(class 1) for FAR/FRR.

    Returns
    -------
    dict
        ``{metric: {"lo", "hi"}}``.
    """
    boot = plan(recording_ids, settings)
    if boot is None:
        return {}
    y, probs = np.asarray(y, dtype=int), np.asarray(probs, dtype=np.float64)
    dists = confusion_scores(boot, y, probs.argmax(axis=1), probs.shape[1])
    if probs.shape[1] == 2:
        pos = y == 1
        dists["roc_auc"] = boot.apply(auroc, probs[:, 1], pos)
        dists["eer"] = boot.apply(_eer, probs[:, 1], pos)
        if threshold is not None:
            accept = probs[:, 1] >= threshold
            w = boot.weights.astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                dists["far"] = (w @ (accept & ~pos)) / (w @ ~pos)
                dists["frr"] = (w @ (~accept & pos)) / (w @ pos)
    return ci_block(dists)


def recording_table(pred: pd.DataFrame, probs: np.ndarray) -> pd.DataFrame:
    """Per recording (sorted ids): ``recording_id``, ``true`` (majority label), ``pred`` (argmax of the
    mean probability), ``correct``, ``p1`` (mean P(class 1), binary tasks)."""
    ids, rp, rpred = aggregate_recordings(pred["recording_id"], probs, method="mean_prob")
    truth = pred.groupby(pred["recording_id"].astype(str))["true_index"].agg(lambda s: int(s.mode().iloc[0]))
    y = truth.loc[ids].to_numpy(int)
    out = pd.DataFrame({"recording_id": ids, "true": y, "pred": rpred, "correct": y == rpred})
    if rp.shape[1] == 2:
        out["p1"] = rp[:, 1]
    return out


def recording_intervals(pred: pd.DataFrame, probs: np.ndarray,
                        settings: BootstrapSettings | None) -> dict[str, dict[str, float]]:
    """Intervals of recording-level (mean probability) accuracy and balanced accuracy."""
    table = recording_table(pred, probs)
    boot = plan(table["recording_id"].to_numpy(), settings)
    if boot is None:
        return {}
    d = confusion_scores(boot, table["true"], table["pred"], probs.shape[1])
    return ci_block({"accuracy": d["accuracy"], "balanced_accuracy": d["balanced_accuracy"]})


def _point(y, pred, k: int) -> dict[str, float]:
    """Accuracy and balanced accuracy through the same code as the resamples (every row once)."""
    return {m: float(v[0]) for m, v in confusion_scores(_Identity(len(y)), y, pred, k).items()}


def _paired(boot, y, pred_a, pred_b, k: int, prefix: str) -> dict:
    da, db = confusion_scores(boot, y, pred_a, k), confusion_scores(boot, y, pred_b, k)
    pa, pb = _point(y, pred_a, k), _point(y, pred_b, k)
    return {f"{prefix}{m}": difference(pa[m], pb[m], da[m], db[m]) for m in ("accuracy", "balanced_accuracy")}


def paired_margin(cnn: pd.DataFrame, baseline: pd.DataFrame, settings: BootstrapSettings | None,
                  n_classes: int) -> dict[str, dict]:
    """CNN minus baseline with a paired 95 % interval, on the test segments both scored.

    Parameters
    ----------
    cnn, baseline : DataFrame
        Prediction tables (``segment_id``, ``recording_id``, ``true_index``, ``pred_index``,
        ``prob_<class>`` columns in class order).
    settings : BootstrapSettings or None
    n_classes : int

    Returns
    -------
    dict
        Per key of :data:`MARGIN_CI_KEYS`: :func:`audiolens.bootstrap.difference` (``diff``,
        ``lo``, ``hi``, ``distinguishable``); ``{}`` when intervals are off or no segment is shared.
    """
    b = baseline.drop_duplicates("segment_id").set_index("segment_id")
    a = cnn[cnn["segment_id"].isin(b.index)].reset_index(drop=True)
    if settings is None or settings.resamples <= 0 or a.empty:
        return {}
    b = b.loc[a["segment_id"]].reset_index()
    b["recording_id"] = a["recording_id"].to_numpy()
    y = a["true_index"].to_numpy(int)
    out = _paired(plan(a["recording_id"].to_numpy(), settings), y, a["pred_index"].to_numpy(int),
                  b["pred_index"].to_numpy(int), n_classes, "")
    prob_cols = [c for c in a.columns if c.startswith("prob_")]
    ra, rb = recording_table(a, a[prob_cols].to_numpy(float)), recording_table(b, b[prob_cols].to_numpy(float))
    out.update(_paired(plan(ra["recording_id"].to_numpy(), settings), ra["true"].to_numpy(int),
                       ra["pred"].to_numpy(int), rb["pred"].to_numpy(int), n_classes, "recording_"))
    return out


class _Identity:
    """A one-resample plan holding every row once (the point estimate through the same code)."""

    def __init__(self, n: int):
        self.n = n
        self.weights = np.ones((1, n), dtype=np.int32)
