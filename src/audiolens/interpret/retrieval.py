"""Embedding retrieval: penultimate-layer embeddings, cosine top-k, precision@k, 2-D projection."""
from __future__ import annotations

from typing import Literal

import keras
import numpy as np
import pandas as pd

from audiolens.interpret.common import as_batch, tap_model
from audiolens.models.introspect import embedding_layer
from audiolens.models.predict import predict

__all__ = ["embeddings", "cosine_topk", "precision_at_k", "precision_table", "project_2d"]


def embeddings(model: keras.Model, x: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
    """Outputs of the contract's ``embedding`` layer.

    Parameters
    ----------
    x : ndarray, shape (n, F, T) or (n, F, T, 1)
        dB spectrograms.

    Returns
    -------
    ndarray, float32, shape (n, D)
    """
    xb = as_batch(model, x)
    emb = predict(tap_model(model, [embedding_layer(model)]), xb, batch_size=batch_size, compiled=False)
    return emb.reshape(len(emb), -1)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norm > 0, norm, 1.0)


def cosine_topk(queries: np.ndarray, index: np.ndarray, *, k: int,
                exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` index rows most cosine-similar to each query.

    Parameters
    ----------
    queries : ndarray, shape (q, D)
    index : ndarray, shape (m, D)
    k : int
        Neighbours per query (at most ``m``).
    exclude : ndarray of int, shape (q,), optional
        Index row to leave out per query (e.g. the query itself; ``-1`` = none).

    Returns
    -------
    rows : ndarray of int, shape (q, k)
        Index rows, most similar first (ties: lower row first). An all-zero embedding has
        similarity 0 to everything.
    sims : ndarray of float32, shape (q, k)
        Cosine similarities in ``[-1, 1]``.
    """
    queries, index = np.atleast_2d(queries), np.atleast_2d(index)
    if queries.shape[1] != index.shape[1]:
        raise ValueError(f"query dim {queries.shape[1]} != index dim {index.shape[1]}")
    limit = len(index) - (exclude is not None)
    if not 1 <= k <= limit:
        raise ValueError(f"k must be in [1, {limit}] for an index of {len(index)} rows, got {k}")
    sims = np.clip(_unit(queries) @ _unit(index).T, -1.0, 1.0)
    if exclude is not None:
        exclude = np.asarray(exclude)
        rows = np.flatnonzero(exclude >= 0)
        sims[rows, exclude[rows]] = -np.inf
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, axis=1).astype(np.float32)


def precision_at_k(query_labels: np.ndarray, index_labels: np.ndarray,
                   rows: np.ndarray) -> np.ndarray:
    """Per query, the fraction of its retrieved rows with the query's label.

    ``rows`` is ``(q, k)`` from :func:`cosine_topk`; returns float ``(q,)`` in ``[0, 1]``.
    """
    hits = np.asarray(index_labels)[rows] == np.asarray(query_labels)[:, None]
    return hits.mean(axis=1)


def precision_table(query_labels: np.ndarray, precision: np.ndarray,
                    class_names: list[str]) -> tuple[pd.DataFrame, dict]:
    """Per-class and overall precision@k.

    Returns
    -------
    table : DataFrame
        ``class, n_queries, precision_at_k`` per class present among the queries.
    summary : dict
        ``precision_at_k`` (mean over queries), ``precision_at_k_macro`` (mean over classes),
        ``n_queries`` and ``per_class``.
    """
    query_labels = np.asarray(query_labels)
    rows = []
    for c, name in enumerate(class_names):
        mask = query_labels == c
        if mask.any():
            rows.append({"class": name, "n_queries": int(mask.sum()),
                         "precision_at_k": float(precision[mask].mean())})
    table = pd.DataFrame(rows, columns=["class", "n_queries", "precision_at_k"])
    summary = {"precision_at_k": float(np.mean(precision)) if len(precision) else float("nan"),
               "precision_at_k_macro": float(table["precision_at_k"].mean()) if len(table) else float("nan"),
               "n_queries": int(len(precision)),
               "per_class": {r["class"]: r["precision_at_k"] for r in rows}}
    return table, summary


def project_2d(emb: np.ndarray, *, method: Literal["pca", "tsne"] = "pca", seed: int = 0,
               perplexity: float = 30.0) -> np.ndarray:
    """2-D projection of embeddings ``(n, D) -> (n, 2)`` float32 (PCA, or t-SNE after PCA-50)."""
    from sklearn.decomposition import PCA

    emb = np.asarray(emb, dtype=np.float64)
    n, d = emb.shape
    if n < 3:
        raise ValueError(f"need at least 3 embeddings to project, got {n}")
    if method == "pca":
        out = PCA(n_components=min(2, d), random_state=seed).fit_transform(emb)
    elif method == "tsne":
        from sklearn.manifold import TSNE
        red = PCA(n_components=min(50, d, n), random_state=seed).fit_transform(emb)
        out = TSNE(n_components=2, perplexity=min(perplexity, (n - 1) / 3), init="pca",
                   random_state=seed).fit_transform(red)
    else:
        raise ValueError(f"unknown projection {method!r} (allowed: pca, tsne)")
    if out.shape[1] < 2:
        out = np.hstack([out, np.zeros((n, 1))])
    return out.astype(np.float32)
