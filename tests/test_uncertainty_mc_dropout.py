"""MC dropout: always-on dropout on the stochastic tail only, BatchNorm untouched, exact at rate 0."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from audiolens.models.introspect import submodel
from audiolens.models.predict import predict
from audiolens.uncertainty.mc_dropout import MCDropout, first_dropout_layer


def contract_model(*, rate: float = 0.5, conv_rate: float | None = None, n_classes: int = 3,
                   seed: int = 0) -> keras.Model:
    """Tiny model following the model contract, BatchNorm in the trunk, optional early
    spatial dropout (``conv_rate`` not None) whose branch is bypassed by a residual connection."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 10, 1), name="spectrogram")
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv1")(inp)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU()(x)
    if conv_rate is not None:
        y = keras.layers.SpatialDropout2D(conv_rate, name="conv_dropout")(x)
        y = keras.layers.Conv2D(6, 3, padding="same", name="conv2")(y)
        y = keras.layers.BatchNormalization(name="bn2")(y)
        x = keras.layers.Add(name="skip")([x, y])
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(16, activation="relu", name="embedding")(x)
    x = keras.layers.Dropout(rate, name="head_dropout")(x)
    x = keras.layers.Dense(n_classes, name="logits")(x)
    out = keras.layers.Activation("softmax", name="probs")(x)
    model = keras.Model(inp, out)
    # non-trivial BatchNorm statistics, so that batch statistics would differ from them
    for bn in [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]:
        bn.moving_mean.assign(np.linspace(-0.5, 0.5, 6).astype("float32"))
        bn.moving_variance.assign(np.linspace(0.5, 2.0, 6).astype("float32"))
    return model


def data(n: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(-40, 15, size=(n, 12, 10, 1)).astype("float32")


def bn_state(model):
    return [v.numpy().copy() for l in model.layers if isinstance(l, keras.layers.BatchNormalization)
            for v in (l.moving_mean, l.moving_variance)]


@pytest.mark.parametrize("conv_rate", [None, 0.3])
def test_batchnorm_moving_statistics_unchanged_by_mc_passes(conv_rate):
    model = contract_model(conv_rate=conv_rate)
    x = data()
    before = bn_state(model)
    samples = MCDropout(model, seed=1).sample(x, samples=10, batch_size=16)
    assert samples.shape == (10, 40, 3)
    for a, b in zip(before, bn_state(model)):
        np.testing.assert_array_equal(a, b)
    # the trap the implementation avoids: training=True puts BatchNorm in batch-statistics
    # mode (and updates its moving statistics)
    model(x, training=True)
    assert any(not np.array_equal(a, b) for a, b in zip(before, bn_state(model)))


@pytest.mark.parametrize("conv_rate", [None, 0.0])
def test_rate_zero_equals_deterministic_output(conv_rate):
    model = contract_model(rate=0.0, conv_rate=conv_rate)
    x = data()
    ref = model.predict(x, verbose=0)
    for jit in (False, True):
        samples = MCDropout(model, jit=jit).sample(x, samples=3, batch_size=16)
        for s in samples:
            np.testing.assert_allclose(s, ref, rtol=1e-5, atol=1e-6)
    pred = MCDropout(model).predict(x, samples=5, batch_size=64)
    np.testing.assert_allclose(pred.mutual_info, 0.0, atol=1e-6)


def test_deterministic_path_matches_model_and_predict():
    model = contract_model(conv_rate=0.3)
    x = data(23)
    ref = model.predict(x, verbose=0)
    np.testing.assert_allclose(MCDropout(model).deterministic(x, batch_size=5), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict(model, x, batch_size=7), ref, rtol=1e-5, atol=1e-6)


def test_split_point_and_tail_length():
    plain = MCDropout(contract_model())
    assert plain.start.name == "head_dropout" and plain.n_tail_layers == 3  # dropout, logits, probs
    early = contract_model(conv_rate=0.3)
    mc = MCDropout(early)
    assert mc.start.name == "conv_dropout" and mc.n_tail_layers > 3
    # the residual branch bypasses the dropout: the tail reads the pre-dropout tensor only
    assert len(mc._boundary) == 1
    assert MCDropout(early, start="head_dropout").n_tail_layers == 3
    assert first_dropout_layer(early, name="head_dropout").name == "head_dropout"
    with pytest.raises(ValueError, match="not a dropout layer"):
        first_dropout_layer(early, name="conv1")


def test_model_without_dropout_is_refused_with_its_name():
    inp = keras.Input((4,))
    out = keras.layers.Dense(2, activation="softmax")(inp)
    with pytest.raises(ValueError, match="no top-level dropout layer"):
        MCDropout(keras.Model(inp, out, name="nodrop"))


def test_passes_differ_and_are_reproducible_by_seed():
    model = contract_model(rate=0.5)
    x = data()
    a = MCDropout(model, seed=3).sample(x, samples=8, batch_size=16)
    b = MCDropout(model, seed=3).sample(x, samples=8, batch_size=16)
    c = MCDropout(model, seed=4).sample(x, samples=8, batch_size=16)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    spread = a.std(axis=0).max(axis=1)
    assert np.mean(spread > 1e-4) > 0.9  # almost every example gets different passes
    np.testing.assert_allclose(a.sum(-1), 1.0, rtol=1e-5)


def test_mc_mean_matches_explicit_numpy_monte_carlo():
    """Head dropout: mean of T passes == E over Bernoulli masks of softmax(W (m*e)/(1-p) + b)."""
    rate, T = 0.5, 3000
    model = contract_model(rate=rate)
    x = data(6)
    emb = submodel(model, "embedding").predict(x, verbose=0)
    w, b = model.get_layer("logits").get_weights()
    rng = np.random.default_rng(0)
    masks = rng.random((T, *emb.shape)) >= rate
    logits = (masks * emb / (1 - rate)) @ w + b
    e = np.exp(logits - logits.max(-1, keepdims=True))
    expected = (e / e.sum(-1, keepdims=True)).mean(0)
    got = MCDropout(model, seed=0).predict(x, samples=T, batch_size=64).mean
    np.testing.assert_allclose(got, expected, atol=0.02)
    det = model.predict(x, verbose=0)
    assert np.abs(got - det).max() > 1e-3  # MC averaging is not the deterministic pass
