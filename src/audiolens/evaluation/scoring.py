"""Scores -> the evaluation figures, for any classifier (the CNN in ``evaluate``, the ``baseline`` stage).

TensorFlow-free: it takes class probabilities, not a model, so the baseline stage reports
exactly the figures ``evaluate`` reports (segment level, recording level by mean probability
and by majority vote, binary EER and FAR/FRR at the operating threshold).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from audiolens.bootstrap import BootstrapSettings
from audiolens.evaluation.intervals import recording_intervals, segment_intervals
from audiolens.evaluation.metrics import aggregate_recordings, classification_metrics, eer, far_frr

__all__ = ["prediction_table", "binary_metrics", "recording_level", "split_metrics", "fold_metrics",
           "summarise_folds", "FOLD_KEYS"]

# per-fold figures of a cross-validation (segment level, then recordings by mean probability)
FOLD_KEYS = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "recording_accuracy",
             "recording_balanced_accuracy")


def prediction_table(rows: pd.DataFrame, probs: np.ndarray, class_names: list[str]) -> pd.DataFrame:
    """``segment_id, recording_id, true, pred, true_index, pred_index, prob_<class>..., confidence, correct``."""
    true = rows["label_index"].to_numpy(int)
    pred = probs.argmax(axis=1)
    names = np.asarray(class_names, dtype=object)
    out = pd.DataFrame({"segment_id": rows["segment_id"].to_numpy(),
                        "recording_id": rows.get("recording_id", rows["segment_id"]).to_numpy(),
                        "true": names[true], "pred": names[pred], "true_index": true, "pred_index": pred})
    for c, name in enumerate(class_names):
        out[f"prob_{name}"] = probs[:, c]
    out["confidence"] = probs.max(axis=1)
    out["correct"] = true == pred
    return out


def binary_metrics(scores, is_positive, *, threshold: float) -> dict:
    """EER (+ threshold) and FAR/FRR at the operating ``threshold`` for positive-class scores."""
    e, t = eer(scores, is_positive)
    far, frr = far_frr(scores, is_positive, threshold)
    return {"eer": e, "eer_threshold": t, "threshold": threshold, "far": far, "frr": frr}


def recording_level(pred: pd.DataFrame, probs: np.ndarray, class_names: list[str],
                    threshold: float) -> tuple[dict, pd.DataFrame]:
    """Recording metrics by ``mean_prob`` and ``majority_vote`` (+ binary figures) and their table.

    Parameters
    ----------
    pred : DataFrame
        :func:`prediction_table` rows (``recording_id``, ``true_index``).
    probs : (n, K) float
    class_names : list of str
    threshold : float
        Accept threshold on P(class 1) for the binary FAR/FRR.
    """
    truth = pred.groupby("recording_id")["true_index"].agg(lambda s: int(s.mode().iloc[0]))
    out, tables = {}, []
    for method in ("mean_prob", "majority_vote"):
        ids, rp, rpred = aggregate_recordings(pred["recording_id"], probs, method=method)
        y = truth.loc[ids].to_numpy(int)
        m = classification_metrics(y, rp, y_pred=rpred)
        if len(class_names) == 2 and method == "mean_prob" and len(np.unique(y)) == 2:
            m["binary"] = binary_metrics(rp[:, 1], y == 1, threshold=threshold)
        out[method] = m
        tables.append(pd.DataFrame({"recording_id": ids, "method": method,
                                    "true": np.asarray(class_names)[y],
                                    "pred": np.asarray(class_names)[rpred], "score": rp.max(axis=1)}))
    return out, pd.concat(tables, ignore_index=True)


def split_metrics(rows: pd.DataFrame, probs: np.ndarray, class_names: list[str], *,
                  threshold: float, bootstrap: BootstrapSettings | None = None
                  ) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Every figure of one evaluated split.

    Parameters
    ----------
    rows : DataFrame
        Feature-index rows of the segments (``segment_id``, ``recording_id``, ``label_index``).
    probs : (n, K) float
        Class probabilities of those rows.
    class_names : list of str
    threshold : float
        Binary accept threshold on P(class 1) (FAR/FRR).
    bootstrap : BootstrapSettings, optional
        95 % intervals over recordings (:mod:`audiolens.evaluation.intervals`); None: none.

    Returns
    -------
    metrics : dict
        :func:`~audiolens.evaluation.metrics.classification_metrics` of the segments
        (``n`` segments), ``n_recordings``, ``ci95`` (``{metric: {"lo", "hi"}}`` for accuracy,
        balanced accuracy, macro F1 and, binary, ROC AUC, EER, FAR, FRR; with ``bootstrap``),
        ``recording`` (``mean_prob`` with its own ``ci95``, ``majority_vote``) and, for two
        classes, ``binary``.
    pred : DataFrame
        :func:`prediction_table`.
    recordings : DataFrame
        One row per recording and aggregation method.
    """
    probs = np.asarray(probs, dtype=np.float64)
    pred = prediction_table(rows, probs, class_names)
    y = pred["true_index"].to_numpy()
    metrics = classification_metrics(y, probs)
    metrics["n_recordings"] = int(pred["recording_id"].astype(str).nunique())
    binary = len(class_names) == 2 and len(np.unique(y)) == 2
    ci = segment_intervals(y, probs, pred["recording_id"].to_numpy(), bootstrap,
                           threshold=threshold if binary else None)
    if ci:
        metrics["ci95"] = ci
    metrics["recording"], rec_table = recording_level(pred, probs, class_names, threshold)
    rec_ci = recording_intervals(pred, probs, bootstrap)
    if rec_ci:
        metrics["recording"]["mean_prob"]["ci95"] = rec_ci
    if binary:
        metrics["binary"] = binary_metrics(probs[:, 1], y == 1, threshold=threshold)
        metrics["binary"]["positive_class"] = class_names[1]
    return metrics, pred, rec_table


def fold_metrics(y, probs, recording_ids, *, threshold: float | None = None) -> dict:
    """The :data:`FOLD_KEYS` figures of one cross-validation fold (+ EER, FAR/FRR when binary).

    Recordings are scored by their mean segment probability.
    """
    y = np.asarray(y, dtype=int)
    probs = np.asarray(probs, dtype=np.float64)
    seg = classification_metrics(y, probs)
    ids, rp, rpred = aggregate_recordings(recording_ids, probs, method="mean_prob")
    truth = pd.Series(y).groupby(np.asarray(recording_ids).astype(str)).agg(lambda s: int(s.mode().iloc[0]))
    rec = classification_metrics(truth.loc[ids].to_numpy(int), rp, y_pred=rpred)
    m = {key: seg[key] for key in FOLD_KEYS[:4]}
    m["recording_accuracy"], m["recording_balanced_accuracy"] = rec["accuracy"], rec["balanced_accuracy"]
    if probs.shape[1] == 2 and len(np.unique(y)) == 2:
        m["eer"] = eer(probs[:, 1], y == 1)[0]
        if threshold is not None:
            m["threshold"] = float(threshold)
            m["far"], m["frr"] = far_frr(probs[:, 1], y == 1, threshold)
    return m


def summarise_folds(per_fold: list[dict], names: list[str] | None = None) -> dict:
    """``k``, ``<key>_mean`` and ``<key>_std`` (population std) of every numeric key, and ``folds``."""
    out: dict = {"k": len(per_fold)}
    keys = [k for k, v in per_fold[0].items() if v is None or isinstance(v, (int, float))] if per_fold else []
    for key in keys:
        vals = np.array([f[key] for f in per_fold if f.get(key) is not None], dtype=float)
        out[f"{key}_mean"] = float(vals.mean()) if len(vals) else None
        out[f"{key}_std"] = float(vals.std()) if len(vals) else None
    out["folds"] = [({"fold": names[i]} if names else {}) | f for i, f in enumerate(per_fold)]
    return out
