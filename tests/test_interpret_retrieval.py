"""Embedding retrieval: cosine top-k, precision@k, projection."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from audiolens.interpret.retrieval import (cosine_topk, embeddings, precision_at_k,
                                           precision_table, project_2d)


def tiny_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 10, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(5, activation="relu", name="embedding")(x)
    x = keras.layers.Dense(2, name="logits")(x)
    return keras.Model(inp, keras.layers.Activation("softmax", name="probs")(x))


def test_embeddings_shape_and_batching():
    model = tiny_model()
    x = np.random.default_rng(0).normal(-30, 5, (7, 8, 10)).astype(np.float32)
    e = embeddings(model, x, batch_size=3)
    assert e.shape == (7, 5) and e.dtype == np.float32
    np.testing.assert_allclose(e, embeddings(model, x[..., None], batch_size=64), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="expects"):
        embeddings(model, np.zeros((2, 9, 10), np.float32))


def test_query_in_index_comes_first():
    rng = np.random.default_rng(1)
    index = rng.normal(size=(50, 16))
    q = [3, 17, 49]
    rows, sims = cosine_topk(index[q], index, k=5)
    assert list(rows[:, 0]) == q
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-6)
    assert np.all(np.diff(sims, axis=1) <= 1e-7), "not sorted by similarity"
    # brute-force check of the neighbour set
    unit = index / np.linalg.norm(index, axis=1, keepdims=True)
    for qi, r in zip(q, rows):
        want = np.argsort(-(unit @ unit[qi]))[:5]
        assert set(r) == set(want)
    # scaled copies are still the query (cosine ignores norm); excluding it skips it
    rows2, _ = cosine_topk(index[q] * 7.5, index, k=3, exclude=np.array(q))
    assert not np.any(rows2 == np.array(q)[:, None])


def test_topk_validates_k_and_dims():
    with pytest.raises(ValueError, match="k must be"):
        cosine_topk(np.ones((1, 3)), np.ones((4, 3)), k=5)
    with pytest.raises(ValueError, match="dim"):
        cosine_topk(np.ones((1, 3)), np.ones((4, 2)), k=1)


def test_precision_at_k_and_table():
    index_labels = np.array([0, 0, 1, 1, 1])
    rows = np.array([[0, 1, 2], [2, 3, 0], [4, 3, 2]])
    qlab = np.array([0, 1, 0])
    p = precision_at_k(qlab, index_labels, rows)
    np.testing.assert_allclose(p, [2 / 3, 2 / 3, 0.0])
    table, summary = precision_table(qlab, p, ["a", "b", "c"])
    assert list(table["class"]) == ["a", "b"]  # class c has no queries
    assert summary["per_class"] == pytest.approx({"a": 1 / 3, "b": 2 / 3})
    assert summary["precision_at_k"] == pytest.approx(4 / 9)
    assert summary["precision_at_k_macro"] == pytest.approx(0.5)


def test_project_2d_separates_clusters():
    rng = np.random.default_rng(2)
    a = rng.normal(0, 0.1, (20, 10)) + 3.0 * np.eye(10)[0]
    b = rng.normal(0, 0.1, (20, 10)) - 3.0 * np.eye(10)[0]
    p = project_2d(np.vstack([a, b]))
    assert p.shape == (40, 2)
    assert np.abs(p[:20, 0].mean() - p[20:, 0].mean()) > 5.0  # PC1 is the cluster axis (gap 6)
    np.testing.assert_array_equal(p, project_2d(np.vstack([a, b])))
    t = project_2d(np.vstack([a, b]), method="tsne", seed=0)
    assert t.shape == (40, 2)
    gap = np.linalg.norm(t[:20].mean(0) - t[20:].mean(0))
    assert gap > 2 * max(t[:20].std(0).max(), t[20:].std(0).max())
    with pytest.raises(ValueError, match="unknown projection"):
        project_2d(np.vstack([a, b]), method="umap")
