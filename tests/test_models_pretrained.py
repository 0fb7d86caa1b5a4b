"""``musicnn_vgg``: the vendored pretrained trunk loads exactly, frozen blocks stay fixed, bad files are named."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from _learn_fixtures import build_test_model
from audiolens.errors import ParameterError
from audiolens.models.introspect import last_conv_layer, submodel
from audiolens.models.musicnn_vgg import BLOCKS, read_weights
from audiolens.models.registry import load_model

WEIGHTS = Path(__file__).resolve().parents[1] / "vendor" / "musicnn" / "mtt_vgg.npz"
SHAPE = (96, 32, 1)  # 96 mel bands as the trunk was trained on; 32 frames keep the test fast


def _pretrained(**kw):
    kw = {"arch": "musicnn_vgg", "width": 1.0, "dense_units": 8, "dropout": 0.3, "weights": str(WEIGHTS), **kw}
    return build_test_model(input_shape=SHAPE, n_classes=3, **kw)


def _x(n=4, seed=0):
    return np.random.default_rng(seed).uniform(-80, 0, size=(n, *SHAPE)).astype("float32")


def test_vendored_weights_load_exactly():
    arrays = read_weights(WEIGHTS)
    m = _pretrained()
    for i in range(1, BLOCKS + 1):
        k, b = m.get_layer(f"block{i}_conv").get_weights()
        np.testing.assert_array_equal(k, arrays[f"block{i}_conv/kernel"])
        np.testing.assert_array_equal(b, arrays[f"block{i}_conv/bias"])
        bn = m.get_layer(f"block{i}_bn").get_weights()
        for got, key in zip(bn, ("gamma", "beta", "moving_mean", "moving_variance")):
            np.testing.assert_array_equal(got, arrays[f"block{i}_bn/{key}"])
    affine = m.get_layer("input_affine")
    assert affine.scale == pytest.approx(float(arrays["input_bn/gamma"][0]))
    assert affine.offset == pytest.approx(float(arrays["input_bn/beta"][0]))
    # the trunk is not a random one: a fresh build without weights differs
    fresh = build_test_model(arch="musicnn_vgg", width=1.0, dense_units=8, input_shape=SHAPE, n_classes=3)
    assert not np.allclose(fresh.get_layer("block2_conv").get_weights()[0], arrays["block2_conv/kernel"])


def test_frozen_blocks_keep_their_weights_and_statistics():
    keras.utils.set_random_seed(0)
    m = _pretrained(freeze_blocks=2)
    before = {l.name: [w.copy() for w in l.get_weights()] for l in m.layers if l.name.startswith("block")}
    m.compile(optimizer=keras.optimizers.AdamW(1e-2), loss="sparse_categorical_crossentropy", run_eagerly=True)
    m.train_on_batch(_x(), np.arange(4) % 3)
    for name, old in before.items():
        new = m.get_layer(name).get_weights()
        frozen = int(name[5]) <= 2
        same = all(np.array_equal(a, b) for a, b in zip(old, new))
        assert same == frozen, f"{name}: frozen={frozen} but weights {'unchanged' if same else 'changed'}"


def test_cam_is_exact_and_save_load_keeps_frozen_flags(tmp_path):
    m = _pretrained(freeze_blocks=3, pool="gap")
    last = last_conv_layer(m)
    assert last.name == "cam_relu"
    x = _x()
    a, z = (np.asarray(v) for v in submodel(m, last.name, "logits")(x))
    w, b = m.get_layer("logits").get_weights()
    np.testing.assert_allclose(np.einsum("nftc,ck->nk", a, w) / (a.shape[1] * a.shape[2]) + b, z,
                               rtol=1e-4, atol=1e-5)
    m.save(tmp_path / "m.keras")
    again = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(m(x)), rtol=1e-5, atol=1e-6)
    assert [again.get_layer(f"block{i}_conv").trainable for i in range(1, 6)] == [False] * 3 + [True] * 2


def test_bad_weights_and_settings_are_named(tmp_path):
    with pytest.raises(ParameterError, match="model.weights: file not found: .*nope.npz"):
        _pretrained(weights=str(tmp_path / "nope.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ParameterError, match="model.weights: .*junk.npz is not a readable .npz"):
        _pretrained(weights=str(tmp_path / "junk.npz"))
    arrays = read_weights(WEIGHTS)
    np.savez(tmp_path / "short.npz", **{k: v for k, v in arrays.items() if k != "block4_bn/gamma"})
    with pytest.raises(ParameterError, match="has no array 'block4_bn/gamma'"):
        _pretrained(weights=str(tmp_path / "short.npz"))
    np.savez(tmp_path / "shape.npz", **{**arrays, "block1_conv/kernel": np.zeros((3, 3, 1, 64), "float32")})
    with pytest.raises(ParameterError, match=r"block1_conv/kernel has shape \(3, 3, 1, 64\)"):
        _pretrained(weights=str(tmp_path / "shape.npz"))
    with pytest.raises(ParameterError, match="model.width must be 1"):
        _pretrained(width=0.5)
    with pytest.raises(ParameterError, match="features.normalise must be per_sample or dataset"):
        _pretrained(normalise="none")
    with pytest.raises(ParameterError, match="freeze_blocks > 0 needs model.weights"):
        _pretrained(weights=None, freeze_blocks=1)
    with pytest.raises(ValueError, match="freeze_blocks is for musicnn_vgg"):
        build_test_model(arch="small_cnn", freeze_blocks=1, input_shape=SHAPE, n_classes=3)
    with pytest.raises(ParameterError, match="input sides >= 16"):
        build_test_model(arch="musicnn_vgg", input_shape=(96, 8, 1), n_classes=3)


def test_input_unlike_the_trunk_training_is_warned_about(caplog):
    """The trunk runs on any F >= 16, but says when the bands differ from the 96 mels it learned on."""
    import logging

    with caplog.at_level(logging.WARNING, logger="audiolens.models.musicnn_vgg"):
        _pretrained()
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="audiolens.models.musicnn_vgg"):
        build_test_model(arch="musicnn_vgg", width=1.0, weights=str(WEIGHTS), input_shape=(129, 32, 1), n_classes=3)
    assert any("saw 96 mel bands" in r.getMessage() and "F=129" in r.getMessage() for r in caplog.records)
