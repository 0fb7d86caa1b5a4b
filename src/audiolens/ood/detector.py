"""Embedding-distance out-of-distribution detector, fitted on the training embeddings.

Two scores of a segment's ``embedding``-layer output ``e`` (higher = less like the training data):

- ``knn``: Euclidean distance from ``e / |e|`` to its ``k``-th nearest L2-normalised
  training embedding (Sun et al., 2022);
- ``mahalanobis``: the smallest squared Mahalanobis distance to a class mean under one
  shared (ridge-regularised) covariance (Lee et al., 2018).

A recording's score is the mean of its segments' scores. The threshold is the
``pass_rate`` quantile of the validation recordings' scores (rounded up to an observed
score), so at least that fraction of them pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiolens.errors import ModelError
from audiolens.io import atomic_path

__all__ = ["METHODS", "unit", "Detector", "fit_detector", "recording_scores", "pass_threshold", "auroc",
           "embed", "save_npz"]

METHODS = ("knn", "mahalanobis")


def unit(e: np.ndarray) -> np.ndarray:
    """Rows of ``e`` (n, D) scaled to unit L2 norm (an all-zero row stays zero), float64."""
    e = np.asarray(e, dtype=np.float64)
    norm = np.linalg.norm(e, axis=1, keepdims=True)
    return e / np.where(norm > 0, norm, 1.0)


def embed(model, x: np.ndarray, *, batch_size: int) -> np.ndarray:
    """Outputs ``(n, D)`` float32 of the model's ``embedding`` layer for dB spectrograms ``x`` (n, F, T[, 1]).

    ``x`` may be a lazily read view of the feature shards (``store.rows(pos, channel=True)``):
    it is then read ``batch_size`` rows at a time, the same batches as the array's.
    """
    import keras

    from audiolens.models.introspect import embedding_layer
    from audiolens.models.predict import as_rows, predict

    x = as_rows(x)
    x = x if getattr(x, "lazy_rows", False) else x.astype(np.float32, copy=False)
    if x.ndim == 3:
        x = x[..., None]
    tap = getattr(model, "_audiolens_embedding_tap", None)
    if tap is None:
        tap = keras.Model(model.inputs[0] if len(model.inputs) == 1 else model.inputs, embedding_layer(model).output)
        model._audiolens_embedding_tap = tap
    emb = predict(tap, x, batch_size=batch_size, compiled=False)
    return np.asarray(emb, dtype=np.float32).reshape(len(x), -1)


@dataclass(frozen=True)
class Detector:
    """A fitted detector; :meth:`score` gives per-segment scores (n,).

    Attributes
    ----------
    method : {"knn", "mahalanobis"}
    k : int
        Neighbour rank (``knn``).
    reference : ndarray, shape (m, D)
        ``knn``: the unit training embeddings; ``mahalanobis``: the class means.
    precision : ndarray, shape (D, D)
        Inverse shared covariance (``mahalanobis``; empty (0, 0) for ``knn``).
    """

    method: str
    k: int
    reference: np.ndarray
    precision: np.ndarray

    def score(self, emb: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
        """Scores ``(n,)`` float64 of embeddings ``(n, D)``; ``exclude_self`` skips the nearest
        reference row (for scoring the reference set itself, ``knn`` only)."""
        emb = np.asarray(emb, dtype=np.float64)
        if emb.ndim != 2 or emb.shape[1] != self.reference.shape[1]:
            raise ValueError(f"embeddings must have shape (n, {self.reference.shape[1]}), got {emb.shape}")
        if self.method == "knn":
            q, ref = unit(emb), self.reference
            k = min(self.k + int(exclude_self), len(ref))
            out = np.empty(len(q))
            for s in range(0, len(q), 1024):
                d2 = np.maximum(2.0 - 2.0 * q[s:s + 1024] @ ref.T, 0.0)
                out[s:s + 1024] = np.sqrt(np.partition(d2, k - 1, axis=1)[:, k - 1])
            return out
        diff = emb[:, None, :] - self.reference[None]  # (n, C, D)
        return np.einsum("ncd,de,nce->nc", diff, self.precision, diff).min(axis=1)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays :meth:`from_arrays` rebuilds it from (plain dtypes: read with ``allow_pickle=False``)."""
        return {"method": np.array(self.method), "k": np.array(self.k), "reference": self.reference,
                "precision": self.precision}

    @classmethod
    def from_arrays(cls, z) -> "Detector":
        method = str(z["method"])
        if method not in METHODS:
            raise ModelError(f"unknown OOD method {method!r} (allowed: {', '.join(METHODS)})")
        return cls(method=method, k=int(z["k"]), reference=np.asarray(z["reference"], np.float64),
                   precision=np.asarray(z["precision"], np.float64))


def fit_detector(train_emb: np.ndarray, train_labels: np.ndarray, *, method: str, k: int,
                 ridge: float = 1e-3) -> Detector:
    """Fit a :class:`Detector` on the training embeddings.

    Parameters
    ----------
    train_emb : ndarray, shape (n, D)
    train_labels : ndarray of int, shape (n,)
        Class of each row (``mahalanobis``: one mean per class).
    method : {"knn", "mahalanobis"}
    k : int
        Neighbour rank for ``knn`` (<= n).
    ridge : float
        ``mahalanobis``: ``ridge * mean variance`` is added to the covariance diagonal.
    """
    train_emb = np.asarray(train_emb, dtype=np.float64)
    if method not in METHODS:
        raise ValueError(f"unknown OOD method {method!r} (allowed: {', '.join(METHODS)})")
    if train_emb.ndim != 2 or len(train_emb) < 2:
        raise ValueError(f"need at least 2 training embeddings (n, D), got shape {train_emb.shape}")
    if method == "knn":
        if not 1 <= k <= len(train_emb) - 1:
            raise ValueError(f"k must be in [1, {len(train_emb) - 1}] (training embeddings - 1), got {k}")
        return Detector("knn", int(k), unit(train_emb), np.zeros((0, 0)))
    labels = np.asarray(train_labels)
    classes = np.unique(labels)
    means = np.stack([train_emb[labels == c].mean(axis=0) for c in classes])
    centred = train_emb - means[np.searchsorted(classes, labels)]
    cov = centred.T @ centred / max(1, len(train_emb) - len(classes))
    cov += np.eye(cov.shape[0]) * ridge * max(float(np.trace(cov)) / cov.shape[0], 1e-12)
    return Detector("mahalanobis", int(k), means, np.linalg.inv(cov))


def recording_scores(scores: np.ndarray, recording_ids) -> tuple[np.ndarray, np.ndarray]:
    """Mean segment score per recording: ``(ids (r,), scores (r,))``, ids sorted."""
    ids, inv = np.unique(np.asarray(recording_ids).astype(str), return_inverse=True)
    sums = np.bincount(inv, weights=np.asarray(scores, dtype=np.float64), minlength=len(ids))
    return ids, sums / np.bincount(inv, minlength=len(ids))


def pass_threshold(val_scores: np.ndarray, pass_rate: float) -> float:
    """The smallest observed validation score that at least ``pass_rate`` of ``val_scores`` do not exceed."""
    s = np.sort(np.asarray(val_scores, dtype=np.float64))
    if s.size == 0:
        raise ValueError("no validation scores to set the OOD threshold on")
    if not 0 < pass_rate <= 1:
        raise ValueError(f"pass_rate must be in (0, 1], got {pass_rate}")
    return float(s[min(s.size, int(np.ceil(pass_rate * s.size - 1e-9))) - 1])


def auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float | None:
    """AUROC of telling ``out_scores`` (positive) from ``in_scores`` by a higher score; None if either is empty."""
    from sklearn.metrics import roc_auc_score

    a, b = np.asarray(in_scores, float), np.asarray(out_scores, float)
    if a.size == 0 or b.size == 0:
        return None
    return float(roc_auc_score(np.r_[np.zeros(a.size), np.ones(b.size)], np.r_[a, b]))


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` with ``np.savez`` atomically (plain dtypes only: read back with ``allow_pickle=False``)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return Path(path)
