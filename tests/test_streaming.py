"""Analysis stages read spectrograms from the shards one batch at a time (StoreRows), with the same numbers."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from _learn_fixtures import make_index, write_features
from audiolens.models.predict import predict
from audiolens.shards import FeatureStore, StoreRows

SHAPE = (32, 24)


@pytest.fixture
def store(tmp_path) -> FeatureStore:
    idx = make_index(n_classes=3, recordings_per_class=5, segments_per_recording=3, augmented_per_recording=0)
    return FeatureStore(write_features(tmp_path / "f", idx, shape=SHAPE, shard_size=7))


@pytest.fixture
def reads(monkeypatch) -> list[int]:
    """Sizes of every FeatureStore.get call (the shard reader spy)."""
    got: list[int] = []
    real = FeatureStore.get
    monkeypatch.setattr(FeatureStore, "get", lambda self, rows: got.append(len(rows)) or real(self, rows))
    return got


def model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inp = keras.Input((*SHAPE, 1))
    x = keras.layers.Conv2D(3, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(12, activation="relu", name="embedding")(x)
    x = keras.layers.Dropout(0.5, name="head_dropout")(x)
    x = keras.layers.Dense(3, name="logits")(x)
    return keras.Model(inp, keras.layers.Activation("softmax", name="probs")(x))


def test_store_rows_slices_are_the_rows_and_never_the_whole(store):
    pos = np.array([20, 3, 7, 7, 44, 0])
    lazy = store.rows(pos, channel=True)
    assert lazy.shape == (6, *SHAPE, 1) and lazy.ndim == 4 and len(lazy) == 6
    full = store.get(pos)[..., None]
    np.testing.assert_array_equal(lazy[1:4], full[1:4])
    np.testing.assert_array_equal(lazy[-1], full[-1])
    np.testing.assert_array_equal(lazy[np.array([5, 0])], full[[5, 0]])
    with pytest.raises(TypeError, match="slices"):
        np.asarray(lazy)
    both = StoreRows.concat([store.rows(pos[:2], channel=True), store.rows(pos[2:], channel=True)])
    np.testing.assert_array_equal(both[0:6], full)
    with pytest.raises(ValueError):
        StoreRows.concat([store.rows(pos), store.rows(pos, channel=True)])


@pytest.mark.parametrize("compiled", [True, False])
def test_predict_on_store_rows_is_bitwise_the_array_one_batch_by_batch(store, reads, compiled):
    m, pos = model(), np.arange(len(store))[::-1]
    ref = predict(m, store.get(pos)[..., None], batch_size=8, compiled=compiled)
    reads.clear()
    got = predict(m, store.rows(pos, channel=True), batch_size=8, compiled=compiled)
    np.testing.assert_array_equal(got, ref)
    assert max(reads) <= 8 and sum(reads) == len(pos)


def test_uncertainty_run_streamed_writes_the_same_files(store, reads, tmp_path):
    from audiolens.bootstrap import BootstrapSettings
    from audiolens.config import parse_params, to_settings
    from audiolens.uncertainty.stage import UncertaintySettings, run

    settings = to_settings(parse_params({"uncertainty": dict(mc_samples=3, batch_size=8)}).uncertainty,
                           UncertaintySettings, bootstrap=BootstrapSettings(resamples=100, seed=0))
    y, ids = store.index["label_index"].to_numpy(), store.index["segment_id"].to_numpy()
    val, test = np.arange(0, 45, 3), np.setdiff1d(np.arange(45), np.arange(0, 45, 3))
    out = {}
    for kind in ("array", "lazy"):
        models = {0: model(0), 1: model(1)}  # fresh models: the dropout seed generator starts anew
        reads.clear()
        run(models=models, ensemble_ids=[0, 1], out_dir=tmp_path / kind, class_names=["a", "b", "c"],
            settings=settings, splits={"val": (ids[val], _x(store, val, kind), y[val]),
                                       "test": (ids[test], _x(store, test, kind), y[test])})
        out[kind] = list(reads)
    assert max(out["lazy"]) <= 8  # streamed: no read of more than one batch
    for name in ("metrics.json", "comparison.json", "abstain.json", "predictions_test.csv"):
        assert (tmp_path / "lazy" / name).read_bytes() == (tmp_path / "array" / name).read_bytes(), name


def _x(store, pos, kind):
    return store.get(pos)[..., None] if kind == "array" else store.rows(pos, channel=True)


def test_ood_and_retrieval_embeddings_streamed_are_bitwise_the_array_ones(store, reads):
    from audiolens.interpret.retrieval import embeddings
    from audiolens.ood.detector import embed

    m, pos = model(), np.arange(3, 40)
    for fn, lazy in ((embed, store.rows(pos, channel=True)), (embeddings, store.rows(pos))):
        ref = fn(m, store.get(pos), batch_size=8)
        reads.clear()
        got = fn(m, lazy, batch_size=8)
        np.testing.assert_array_equal(got, ref)
        assert max(reads) <= 8 and sum(reads) == len(pos)
