"""The figure the CNN must beat: per-band statistics of its spectrograms + logistic regression / 1-NN.

Each spectrogram ``(F, T)`` the CNN sees (dB, with the model's per-sample standardisation
when the features use ``normalise: per_sample``) becomes a vector of per-frequency-band
statistics over time (mean, std, percentiles, mean absolute frame-to-frame change...),
streamed from the memory-mapped feature shards. Features are standardised on the train
split; every candidate (logistic regression for each C, 1-nearest-neighbour) is fitted on
train, the best is chosen by validation balanced accuracy (then accuracy, then the
candidate order), and the test split is scored exactly like ``evaluate`` scores the CNN
(:func:`audiolens.evaluation.scoring.split_metrics`). With cross-validation every
arrangement repeats this and the folds are summarised like the CNN's.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audiolens.bootstrap import BootstrapSettings
from audiolens.errors import DataError, ParameterError
from audiolens.evaluation.metrics import classification_metrics
from audiolens.evaluation.operating_point import OperatingPointSettings, pick_threshold
from audiolens.evaluation.scoring import fold_metrics, split_metrics, summarise_folds
from audiolens.io import atomic_write_csv, atomic_write_json
from audiolens.shards import FeatureStore
from audiolens.split import split_positions

__all__ = ["BaselineSettings", "STATS", "band_statistics", "store_features", "candidates", "fit_select",
           "run"]

LOG = logging.getLogger("audiolens.baseline")

STATS = ("mean", "std", "min", "max", "p10", "p50", "p90", "delta")
PER_SAMPLE_EPS = 1e-3  # as the model's PerSampleStandardize layer


@dataclass(frozen=True, kw_only=True)
class BaselineSettings:
    """The baseline classifiers and their features.

    Attributes
    ----------
    stats : sequence of str
        Per-band statistics over time, each giving F features: ``mean``, ``std``, ``min``,
        ``max``, ``p10``/``p50``/``p90`` (percentiles), ``delta`` (mean absolute change
        between consecutive frames).
    classifiers : sequence of str
        ``logreg`` (one candidate per C in ``logreg_c``) and/or ``knn1`` (Euclidean 1-NN).
    logreg_c : sequence of float
        Inverse L2 regularisation strengths tried for the logistic regression (> 0).
    max_iter : int
        Solver iterations of the logistic regression.
    batch_size : int
        Spectrograms read from the shards at a time.
    seed : int
        Seed of the logistic regression solver.
    operating_point : OperatingPointSettings
        The binary accept threshold (as ``evaluate``'s), picked on validation scores.
    bootstrap : BootstrapSettings or None
        95 % intervals of the test figures over recordings (None: none).
    """

    stats: tuple[str, ...] | list[str]
    classifiers: tuple[str, ...] | list[str]
    logreg_c: tuple[float, ...] | list[float]
    max_iter: int
    batch_size: int
    seed: int
    operating_point: OperatingPointSettings
    bootstrap: BootstrapSettings | None


def band_statistics(x: np.ndarray, stats, *, per_sample: bool) -> np.ndarray:
    """Per-band statistics of spectrograms, one spectrogram at a time.

    Each spectrogram's statistics depend on it alone, so they are computed row by row: the
    float64 working copies (standardised input, percentile partitions, frame differences)
    are those of one ``(F, T)`` spectrogram, whatever ``n`` is, and the result is bitwise
    the same as a vectorised pass over all ``n`` rows.

    Parameters
    ----------
    x : ndarray, shape (n, F, T)
        dB spectrograms (any float dtype; a read-only memmap is fine).
    stats : sequence of str
        Names from :data:`STATS`, in output order.
    per_sample : bool
        First standardise each spectrogram over all its bins (the CNN's ``per_sample`` input).

    Returns
    -------
    ndarray, shape (n, len(stats) * F), float64
        Blocks of F values per statistic, in ``stats`` order.
    """
    unknown = [s for s in stats if s not in STATS]
    if unknown:
        raise ParameterError(f"stats: unknown {unknown} (allowed: {', '.join(STATS)})")
    if np.ndim(x) != 3:
        raise ParameterError(f"x must have shape (n, F, T), got {np.shape(x)}")
    n, f = len(x), x.shape[1]
    out = np.empty((n, len(stats) * f))
    for i in range(n):
        out[i] = _row_statistics(np.asarray(x[i], dtype=np.float64), stats, per_sample=per_sample)
    return out


def _row_statistics(x: np.ndarray, stats, *, per_sample: bool) -> np.ndarray:
    """:func:`band_statistics` of one spectrogram ``x`` (F, T) float64 -> (len(stats) * F,)."""
    if per_sample:
        mu = x.mean(keepdims=True)
        x = (x - mu) / np.sqrt(((x - mu) ** 2).mean(keepdims=True) + PER_SAMPLE_EPS)
    pct = {"p10": 10, "p50": 50, "p90": 90}
    need = [pct[s] for s in stats if s in pct]
    q = dict(zip(need, np.percentile(x, need, axis=1))) if need else {}
    out = []
    for s in stats:
        if s == "mean":
            out.append(x.mean(axis=1))
        elif s == "std":
            out.append(x.std(axis=1))
        elif s == "min":
            out.append(x.min(axis=1))
        elif s == "max":
            out.append(x.max(axis=1))
        elif s == "delta":
            out.append(np.abs(np.diff(x, axis=1)).mean(axis=1) if x.shape[1] > 1 else np.zeros(x.shape[0]))
        else:
            out.append(q[pct[s]])
    return np.concatenate(out)


def store_features(store: FeatureStore, positions, stats, *, batch_size: int) -> np.ndarray:
    """:func:`band_statistics` of feature-store rows ``positions``, read ``batch_size`` at a time.

    Only one batch of spectrograms ``(batch_size, F, T)`` float32 and the statistics matrix
    ``(len(positions), len(stats) * F)`` float64 are ever held (the shards are memory-mapped
    and their pages released after each read).
    """
    per_sample = store.meta.get("normalise") == "per_sample"
    positions = np.asarray(positions, dtype=np.int64)
    blocks = [band_statistics(x, stats, per_sample=per_sample)
              for _, x in store.batches(positions, batch_size=batch_size)]
    return np.concatenate(blocks) if blocks else np.zeros((0, len(stats) * store.shape[0]))


def candidates(settings: BaselineSettings) -> dict[str, object]:
    """Unfitted scikit-learn classifiers by name (``logreg_C0.1``, ``knn1``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    out: dict[str, object] = {}
    for kind in settings.classifiers:
        if kind == "logreg":
            for c in settings.logreg_c:
                out[f"logreg_C{c:g}"] = LogisticRegression(C=float(c), class_weight="balanced",
                                                           max_iter=settings.max_iter,
                                                           random_state=settings.seed)
        elif kind == "knn1":
            out["knn1"] = KNeighborsClassifier(n_neighbors=1)
        else:
            raise ParameterError(f"classifiers: unknown {kind!r} (logreg, knn1)")
    return out


def _probs(clf, x: np.ndarray, k: int) -> np.ndarray:
    """Class probabilities ``(n, k)`` over all ``k`` classes (a class absent from train gets 0)."""
    p = clf.predict_proba(x)
    out = np.zeros((len(x), k))
    out[:, np.asarray(clf.classes_, dtype=int)] = p
    return out


@dataclass(frozen=True)
class _Fold:
    """Scaled features and labels of one arrangement's splits."""

    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]


def _standardise(feats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    mu = feats["train"].mean(axis=0)
    sd = feats["train"].std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return {k: (v - mu) / sd for k, v in feats.items()}


def fit_select(settings: BaselineSettings, fold: _Fold, k: int) -> tuple[str, object, dict]:
    """Fit every candidate on train; pick the best on validation (train when there is no validation).

    Returns
    -------
    name, fitted classifier, ``{name: {"val_accuracy", "val_balanced_accuracy"}}``
    """
    sel = "val" if len(fold.y.get("val", [])) else "train"
    scores, fitted = {}, {}
    for name, clf in candidates(settings).items():
        clf.fit(fold.x["train"], fold.y["train"])
        m = classification_metrics(fold.y[sel], _probs(clf, fold.x[sel], k))
        scores[name] = {f"{sel}_accuracy": m["accuracy"], f"{sel}_balanced_accuracy": m["balanced_accuracy"]}
        fitted[name] = clf
    order = list(scores)
    best = max(order, key=lambda n: (scores[n][f"{sel}_balanced_accuracy"], scores[n][f"{sel}_accuracy"],
                                     -order.index(n)))
    return best, fitted[best], scores


def _arrangement(store: FeatureStore, split: pd.DataFrame, cache: dict,
                 settings: BaselineSettings) -> tuple[_Fold, dict]:
    """Features of train/val/test of one split table, computed once per segment (``cache``: row -> vector)."""
    labels = store.index["label_index"].to_numpy(int)
    pos = {name: split_positions(store.index, split, name) for name in ("train", "val", "test")}
    todo = sorted(set(np.concatenate(list(pos.values())).tolist()) - set(cache))
    if todo:
        feats = store_features(store, todo, settings.stats, batch_size=settings.batch_size)
        cache.update(zip(todo, feats))
    width = len(settings.stats) * store.shape[0]
    raw = {n: (np.stack([cache[i] for i in p]) if len(p) else np.zeros((0, width))) for n, p in pos.items()}
    return _Fold(x=_standardise(raw), y={n: labels[p] for n, p in pos.items()}), pos


def _binary_threshold(settings: BaselineSettings, clf, fold: _Fold, k: int) -> float:
    if k != 2 or not len(fold.y["val"]):
        return pick_threshold(settings.operating_point)["threshold"]
    return pick_threshold(settings.operating_point, _probs(clf, fold.x["val"], k)[:, 1],
                          fold.y["val"] == 1)["threshold"]


def run(*, settings: BaselineSettings, store: FeatureStore, split: pd.DataFrame, out_dir: str | Path,
        cv_splits: list[tuple[str, pd.DataFrame]] | None = None) -> dict:
    """Fit, select and score the baseline; write ``metrics.json`` and ``predictions.csv`` into ``out_dir``.

    Parameters
    ----------
    settings : BaselineSettings
    store : FeatureStore
        The feature folder the CNN trained on.
    split : DataFrame
        The split table (``segment_id``, ``split``); its test split is the one reported.
    out_dir : path
    cv_splits : list of (fold name, split table), optional
        Cross-validation arrangements, ``split`` first; each is fitted, selected and
        scored, and ``metrics["cv"]`` summarises them like ``evaluate``'s ``cv``.

    Returns
    -------
    dict
        The metrics: ``best``, ``selected_on``, ``candidates``, ``features``, ``operating_point``
        and every figure of :func:`~audiolens.evaluation.scoring.split_metrics` on test.
    """
    class_names = store.class_names
    k = len(class_names)
    if k < 2:
        raise DataError(f"{store.path}/meta.json: the baseline needs at least two classes")
    cache: dict = {}
    fold, pos = _arrangement(store, split, cache, settings)
    if not len(fold.y["train"]) or not len(fold.y["test"]):
        raise DataError("the split table has no train or no test segments")
    best, clf, scores = fit_select(settings, fold, k)
    threshold = _binary_threshold(settings, clf, fold, k)
    probs = _probs(clf, fold.x["test"], k)
    rows = store.index.iloc[pos["test"]].reset_index(drop=True)
    metrics, pred, _ = split_metrics(rows, probs, class_names, threshold=threshold, bootstrap=settings.bootstrap)
    metrics = {"best": best, "selected_on": "val" if len(fold.y["val"]) else "train", "candidates": scores,
               "features": {"stats": list(settings.stats), "n_features": int(fold.x["train"].shape[1]),
                            "per_sample": store.meta.get("normalise") == "per_sample"},
               **({"threshold": threshold} if k == 2 else {}), **metrics}
    if cv_splits:
        per_fold, names = [], []
        for name, table in cv_splits:
            f, p = _arrangement(store, table, cache, settings)
            b, c, _ = fit_select(settings, f, k)
            t = _binary_threshold(settings, c, f, k) if k == 2 else None
            rec = store.index.iloc[p["test"]].get("recording_id", store.index.iloc[p["test"]]["segment_id"])
            per_fold.append({"classifier": b, **fold_metrics(f.y["test"], _probs(c, f.x["test"], k),
                                                             rec.to_numpy(), threshold=t)})
            names.append(name)
            LOG.info("baseline cv fold %s: %s, test accuracy %.4f", name, b, per_fold[-1]["accuracy"])
        metrics["cv"] = summarise_folds(per_fold, names)
    out = Path(out_dir)
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_csv(out / "predictions.csv", pred.assign(classifier=best))
    LOG.info("baseline %s (of %d, chosen on %s): test accuracy %.4f, balanced %.4f, recordings %.4f",
             best, len(scores), metrics["selected_on"], metrics["accuracy"], metrics["balanced_accuracy"],
             metrics["recording"]["mean_prob"]["accuracy"])
    return metrics
