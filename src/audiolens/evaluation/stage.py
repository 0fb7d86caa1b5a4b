"""The evaluate stage: predictions, metrics, dvc plot data and figures of one split (:func:`run`), CV summary.

The binary accept threshold is fixed or picked on the validation split
(:mod:`~audiolens.evaluation.operating_point`) and written to ``threshold.json``, which
``audiolens predict`` uses; :func:`compare_with_baseline` adds the margin over the
baseline stage's best classifier.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from audiolens.bootstrap import BootstrapSettings
from audiolens.evaluation import figures
from audiolens.evaluation.intervals import paired_margin
from audiolens.evaluation.margin import baseline_margin, margin_sentence
from audiolens.evaluation.metrics import class_report, roc_points
from audiolens.evaluation.operating_point import OperatingPointSettings, pick_threshold
from audiolens.evaluation.scoring import (binary_metrics, fold_metrics, prediction_table, split_metrics,
                                          summarise_folds)
from audiolens.io import atomic_write_csv, atomic_write_json, atomic_write_text
from audiolens.models.predict import predict_store
from audiolens.tfdata import FeatureStore

__all__ = ["EvaluateSettings", "prediction_table", "binary_metrics", "run", "cv_summary",
           "compare_with_baseline"]

LOG = logging.getLogger("audiolens.evaluation")


@dataclass(frozen=True, kw_only=True)
class EvaluateSettings:
    """What the evaluate stage does besides scoring.

    Attributes
    ----------
    threshold : float or "auto"
        Binary accept threshold on P(positive), or ``"auto"``: picked on validation.
    target_far : float or None
        With ``"auto"``: operate at this validation FAR (None: at the validation EER).
    gallery_size : int
        Spectrograms per gallery figure (lowest confidence, random); 0: none.
    seed : int
        Seed of the random gallery and the confidence-strip jitter.
    bootstrap : BootstrapSettings or None
        95 % intervals over test recordings (the ``bootstrap`` section; None: none).
    """

    threshold: float | str
    target_far: float | None
    gallery_size: int
    seed: int
    bootstrap: BootstrapSettings | None

    @property
    def operating_point(self) -> OperatingPointSettings:
        return OperatingPointSettings(threshold=self.threshold, target_far=self.target_far)


def _operating_point(model, store, val_positions, settings: OperatingPointSettings, k: int,
                     batch_size: int) -> dict:
    if k != 2:
        return {"threshold": None, "method": "none", "chosen_on": None, "target_far": None,
                "description": "not a binary task: decisions by the most probable class"}
    val_positions = np.asarray([] if val_positions is None else val_positions, dtype=int)
    scores = labels = None
    if len(val_positions):
        scores = predict_store(model, store, val_positions, batch_size=batch_size).astype(np.float64)[:, 1]
        labels = store.index["label_index"].to_numpy(int)[val_positions] == 1
    return pick_threshold(settings, scores, labels)


def run(*, model, store: FeatureStore, positions, class_names: list[str], out_dir: str | Path,
        settings: EvaluateSettings, val_positions=None, history: dict | None = None,
        best_epoch: int | None = None, batch_size: int = 64) -> dict:
    """Predict ``positions`` (the test split) and write every evaluation output into ``out_dir``.

    For a binary task the accept threshold comes from ``settings`` (fixed, or picked on
    ``val_positions``) and is written to ``threshold.json``; ``metrics.json`` reports FAR/FRR
    at it under ``binary`` and how it was chosen under ``operating_point``.

    Writes ``metrics.json``, ``threshold.json``, ``class_report.json``, ``predictions.csv``, ``misclassified.csv``,
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
    k = len(class_names)
    op = _operating_point(model, store, val_positions, settings.operating_point, k, batch_size)
    threshold = op["threshold"] if op["threshold"] is not None else 0.5
    metrics, pred, rec_table = split_metrics(rows, probs, class_names, threshold=threshold,
                                             bootstrap=settings.bootstrap)
    y, yp = pred["true_index"].to_numpy(), pred["pred_index"].to_numpy()
    rec_metrics = metrics["recording"]
    if k == 2:
        metrics["operating_point"] = op
    cm = confusion_matrix(y, yp, labels=list(range(k)))
    metrics["confusion_matrix"] = cm.tolist()

    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_json(out / "threshold.json", {**op, "positive_class": class_names[1] if k == 2 else None})
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
    figures.plot_confidence_strip(pred, class_names, out / "confidence_strip.png", seed=settings.seed)
    if settings.gallery_size > 0:
        size = settings.gallery_size
        low = np.argsort(pred["confidence"].to_numpy(), kind="stable")[:size]
        rnd = np.sort(np.random.default_rng(settings.seed).choice(len(pred), size=min(size, len(pred)),
                                                                  replace=False))
        for name, sel in (("gallery_low_confidence.png", low), ("gallery_random.png", rnd)):
            figures.save_gallery(store.get(positions[sel]), pred.iloc[sel], out / name)
    if history:
        figures.plot_learning_curves(history, out / "learning_curves.png", best_epoch=best_epoch)
    LOG.info("evaluated %d segments: accuracy %.4f, balanced %.4f, recordings (mean prob) %.4f",
             len(pred), metrics["accuracy"], metrics["balanced_accuracy"],
             rec_metrics["mean_prob"]["accuracy"])
    return metrics


def cv_summary(folds, *, store: FeatureStore, settings: OperatingPointSettings | None = None,
               names: list[str] | None = None, batch_size: int = 64) -> dict:
    """Cross-validation metrics: each fold's test figures, then mean and std over folds.

    Parameters
    ----------
    folds : sequence of (model, test_positions) or (model, test_positions, val_positions)
        One entry per fold; probabilities are streamed from ``store``
        (:func:`audiolens.models.predict.predict_store`, ``batch_size`` rows per pass).
    settings : OperatingPointSettings, optional
        For binary tasks: each fold's threshold, picked on that fold's validation
        positions; FAR/FRR on its test set at that threshold. None: EER only.
    names : list of str, optional
        Fold names (the predefined fold values), stored as ``fold`` in each entry.

    Returns
    -------
    dict
        ``k``, ``<metric>_mean``, ``<metric>_std`` (population std over folds) of
        :data:`~audiolens.evaluation.scoring.FOLD_KEYS` (and EER, threshold, FAR, FRR for
        binary tasks), plus ``folds`` (the per-fold values).
    """
    per_fold = []
    for fold in folds:
        model, pos = fold[0], np.asarray(fold[1])
        probs = predict_store(model, store, pos, batch_size=batch_size).astype(np.float64)
        rows = store.index.iloc[pos]
        threshold = None
        if settings is not None and probs.shape[1] == 2:
            val = fold[2] if len(fold) > 2 else None
            threshold = _operating_point(model, store, val, settings, 2, batch_size)["threshold"]
        y = rows["label_index"].to_numpy(int)
        rec = rows.get("recording_id", rows["segment_id"]).to_numpy()
        per_fold.append(fold_metrics(y, probs, rec, threshold=threshold))
    return summarise_folds(per_fold, names)


def compare_with_baseline(metrics: dict, baseline_metrics: str | Path, out_dir: str | Path, *,
                          baseline_predictions: str | Path | None = None,
                          bootstrap: BootstrapSettings | None = None) -> dict | None:
    """Add ``baseline_margin`` to ``metrics`` and write ``headline.md`` (one sentence) into ``out_dir``.

    With ``baseline_predictions`` (the baseline's ``predictions.csv``), ``out_dir/predictions.csv``
    (the CNN's, written by :func:`run`) and ``bootstrap``, the margins get a paired 95 % interval
    (:func:`audiolens.evaluation.intervals.paired_margin`: the same resampled recordings for both).

    Returns the margin, or None (and writes nothing) when ``baseline_metrics`` does not exist.
    """
    path = Path(baseline_metrics)
    if not path.is_file():
        LOG.warning("no baseline metrics at %s: no margin reported", path)
        return None
    paired = {}
    cnn_pred = Path(out_dir) / "predictions.csv"
    if baseline_predictions is not None and Path(baseline_predictions).is_file() and cnn_pred.is_file():
        a, b = pd.read_csv(cnn_pred, dtype={"segment_id": str, "recording_id": str}), \
            pd.read_csv(baseline_predictions, dtype={"segment_id": str, "recording_id": str})
        paired = paired_margin(a, b, bootstrap, len([c for c in a.columns if c.startswith("prob_")]))
    margin = baseline_margin(metrics, json.loads(path.read_text()), paired=paired)
    metrics["baseline_margin"] = margin
    sentence = margin_sentence(metrics, margin)
    atomic_write_text(Path(out_dir) / "headline.md", sentence + "\n")
    LOG.info("%s", sentence)
    return margin
