"""The one forward-pass helper: compiled and eager batches, output structure, the streamed variant."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from _learn_fixtures import make_index, write_features
from audiolens.models.predict import fixed_batches, predict, predict_store
from audiolens.tfdata import open_features


def small_model(shape=(32, 24), n_classes: int = 3) -> keras.Model:
    keras.utils.set_random_seed(0)
    inp = keras.Input((*shape, 1))
    h = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inp)
    h = keras.layers.GlobalAveragePooling2D(name="embedding")(h)
    logits = keras.layers.Dense(n_classes, name="logits")(h)
    return keras.Model(inp, keras.layers.Activation("softmax", name="probs")(logits))


def test_fixed_batches_pad_the_last_batch_and_cover_every_row():
    x = np.arange(7)[:, None]
    got = list(fixed_batches(x, 3))
    assert [b.shape[0] for _, b in got] == [3, 3, 3]
    assert np.concatenate([b[:s.stop - s.start] for s, b in got]).ravel().tolist() == list(range(7))
    assert got[-1][1].ravel().tolist() == [6, 6, 6]          # padded with the last row
    with pytest.raises(ValueError, match="empty"):
        list(fixed_batches(x[:0], 3))


@pytest.mark.parametrize("compiled", [True, False])
def test_predict_matches_one_full_forward_pass(compiled):
    model = small_model()
    x = np.random.default_rng(1).normal(-40, 10, (11, 32, 24, 1)).astype(np.float32)
    ref = np.asarray(model(x, training=False))
    p = predict(model, x, batch_size=4, compiled=compiled)
    assert p.dtype == np.float32 and p.shape == (11, 3)
    np.testing.assert_allclose(p, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_predict_keeps_the_models_output_structure():
    model = small_model()
    x = np.random.default_rng(2).normal(-40, 10, (5, 32, 24, 1)).astype(np.float32)
    taps = keras.Model(model.inputs, [model.get_layer("conv").output, model.get_layer("embedding").output])
    conv, emb = predict(taps, x, batch_size=2, compiled=False)
    assert conv.shape == (5, 30, 22, 3) and emb.shape == (5, 3)
    only = predict(keras.Model(model.inputs, [model.get_layer("embedding").output]), x, batch_size=2,
                   compiled=False)
    np.testing.assert_allclose(only, emb, rtol=1e-6)
    with pytest.raises(ValueError, match="no inputs"):
        predict(model, x[:0], batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        predict(model, x, batch_size=0)


def test_predict_store_streams_the_same_probabilities(tmp_path):
    idx = make_index(n_classes=3, recordings_per_class=2, segments_per_recording=2)
    store = open_features(write_features(tmp_path / "f", idx))
    model = small_model(store.shape)
    pos = np.array([5, 0, 3, 7, 2])
    p = predict_store(model, store, pos, batch_size=2)
    assert p.dtype == np.float32 and p.shape == (5, 3)
    np.testing.assert_allclose(p, predict(model, store.get(pos)[..., None], batch_size=2), rtol=1e-5, atol=1e-6)
