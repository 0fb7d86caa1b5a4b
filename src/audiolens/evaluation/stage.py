"""The evaluate stage: predictions, metrics, dvc plot data and figures of one split (:func:`run`), CV summary."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from audiolens.evaluation import figures
from audiolens.evaluation.metrics import (aggregate_recordings, class_report, classification_metrics,
                                          eer, far_frr, roc_points)
from audiolens.io import atomic_write_csv, atomic_write_json
from audiolens.models.predict import predict_store
from audiolens.tfdata import FeatureStore

__all__ = ["prediction_table", "binary_metrics", "run", "cv_summary"]

LOG = logging.getLogger("audiolens.evaluation")


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


def _recording_level(pred: pd.DataFrame, probs: np.ndarray, class_names, threshold):
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


def run(*, model, store: FeatureStore, positions, class_names: list[str], out_dir: str | Path,
        threshold: float = 0.5, gallery_size: int = 25, seed: int = 0,
        history: dict | None = None, best_epoch: int | None = None,
        batch_size: int = 64) -> dict:
    """Predict ``positions`` and write every evaluation output into ``out_dir``.

    Writes ``metrics.json``, ``class_report.json``, ``predictions.csv``, ``misclassified.csv``,
    ``recordings.csv``, dvc plot data ``plots/confusion.csv`` (actual, predicted) and
    ``plots/roc.csv`` (fpr, tpr, threshold), and figures ``confusion.png``, ``roc.png``,
    ``confidence_strip.png``, ``gallery_low_confidence.png``, ``gallery_random.png``,
    ``learning_curves.png`` (when ``history``).

    Returns
    -------
    dict
        The metrics written to ``metrics.json``.
    """
    out = Path(out_dir)
    positions = np.asarray(positions)
    if len(positions) == 0:
        raise ValueError("evaluation split is empty")
    rows = store.index.iloc[positions].reset_index(drop=True)
    probs = predict_store(model, store, positions, batch_size=batch_size).astype(np.float64)
    pred = prediction_table(rows, probs, class_names)
    y, yp = pred["true_index"].to_numpy(), pred["pred_index"].to_numpy()
    k = len(class_names)

    metrics = classification_metrics(y, probs)
    rec_metrics, rec_table = _recording_level(pred, probs, class_names, threshold)
    metrics["recording"] = rec_metrics
    if k == 2 and len(np.unique(y)) == 2:
        metrics["binary"] = binary_metrics(probs[:, 1], y == 1, threshold=threshold)
        metrics["binary"]["positive_class"] = class_names[1]
    cm = confusion_matrix(y, yp, labels=list(range(k)))
    metrics["confusion_matrix"] = cm.tolist()

    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_json(out / "class_report.json", class_report(y, yp, class_names))
    atomic_write_csv(out / "predictions.csv", pred)
    atomic_write_csv(out / "misclassified.csv", pred[~pred["correct"]].sort_values("confidence", ascending=False))
    atomic_write_csv(out / "recordings.csv", rec_table)
    atomic_write_csv(out / "plots" / "confusion.csv", pd.DataFrame({"actual": pred["true"], "predicted": pred["pred"]}))
    roc = roc_points(y, probs)
    atomic_write_csv(out / "plots" / "roc.csv", roc)

    figures.plot_confusion(cm, class_names, out / "confusion.png")
    curves = {"micro OvR" if k > 2 else f"{class_names[1]} vs {class_names[0]}": roc}
    if k > 2:
        curves.update({c: roc_points((y == i).astype(int), np.stack([1 - probs[:, i], probs[:, i]], 1))
                       for i, c in enumerate(class_names)})
    figures.plot_roc(curves, out / "roc.png")
    figures.plot_confidence_strip(pred, class_names, out / "confidence_strip.png", seed=seed)
    if gallery_size > 0:
        low = np.argsort(pred["confidence"].to_numpy(), kind="stable")[:gallery_size]
        rnd = np.sort(np.random.default_rng(seed).choice(len(pred), size=min(gallery_size, len(pred)),
                                                         replace=False))
        for name, sel in (("gallery_low_confidence.png", low), ("gallery_random.png", rnd)):
            figures.save_gallery(store.get(positions[sel]), pred.iloc[sel], out / name)
    if history:
        figures.plot_learning_curves(history, out / "learning_curves.png", best_epoch=best_epoch)
    LOG.info("evaluated %d segments: accuracy %.4f, balanced %.4f, recordings (mean prob) %.4f",
             len(pred), metrics["accuracy"], metrics["balanced_accuracy"],
             rec_metrics["mean_prob"]["accuracy"])
    return metrics


CV_KEYS = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc")


def cv_summary(folds, *, store: FeatureStore, threshold: float = 0.5, batch_size: int = 64) -> dict:
    """Cross-validation metrics: each ``(model, test_positions)`` fold, then mean and std.

    Probabilities are streamed from ``store`` (:func:`audiolens.models.predict.predict_store`,
    ``batch_size`` rows per pass, as in :func:`run`).

    Returns
    -------
    dict
        ``k``, ``<metric>_mean``, ``<metric>_std`` (population std over folds) for accuracy,
        balanced accuracy, macro F1, ROC AUC (and EER for binary tasks), plus ``folds``
        (the per-fold values).
    """
    per_fold = []
    for model, pos in folds:
        probs = predict_store(model, store, pos, batch_size=batch_size).astype(np.float64)
        y = store.index["label_index"].to_numpy(int)[np.asarray(pos)]
        m = {key: classification_metrics(y, probs)[key] for key in CV_KEYS}
        if probs.shape[1] == 2 and len(np.unique(y)) == 2:
            m["eer"] = eer(probs[:, 1], y == 1)[0]
        per_fold.append(m)
    out: dict = {"k": len(per_fold)}
    for key in per_fold[0]:
        vals = np.array([f[key] for f in per_fold if f.get(key) is not None], dtype=float)
        out[f"{key}_mean"] = float(vals.mean()) if len(vals) else None
        out[f"{key}_std"] = float(vals.std()) if len(vals) else None
    out["folds"] = per_fold
    return out
