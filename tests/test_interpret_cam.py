"""Grad-CAM / CAM on tiny functional models that follow the model contract."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import needs_fp16_onednn

from audiolens.interpret.cam import CamNotApplicable, cam, grad_cam, normalise_maps

F, T = 16, 16
REGION = (slice(10, 14), slice(2, 6))  # rows (frequency bins), columns (frames) of the evidence


def contract_model(*, hidden_relu: bool = True, seed: int = 0, n_classes: int = 2,
                   head: str | None = None) -> keras.Model:
    """Tiny model: conv -> pool -> conv -> GAP -> head -> head_dropout -> logits -> probs.

    ``head``: ``"relu"`` / ``"linear"`` Dense ``embedding``; ``"gap"``: the GAP output is the
    embedding (the classic CAM network); ``"bn"``: linear Dense + BatchNorm embedding.
    """
    head = head or ("relu" if hidden_relu else "linear")
    keras.utils.set_random_seed(seed)
    inp = keras.Input((F, T, 1), name="spectrogram")
    x = keras.layers.Rescaling(1 / 20.0, offset=2.0, name="normalise")(inp)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="embedding" if head == "gap" else "gap")(x)
    if head in ("relu", "linear", "bn"):
        x = keras.layers.Dense(6, activation="relu" if head == "relu" else None,
                               name="dense" if head == "bn" else "embedding")(x)
    if head == "bn":
        x = keras.layers.BatchNormalization(name="embedding")(x)
    x = keras.layers.Dropout(0.2, name="head_dropout")(x)
    x = keras.layers.Dense(n_classes, name="logits")(x)
    out = keras.layers.Activation("softmax", name="probs")(x)
    return keras.Model(inp, out)


def evidence_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """dB noise; class 1 has a +25 dB patch inside REGION, class 0 has none."""
    rng = np.random.default_rng(seed)
    x = rng.normal(-50.0, 4.0, size=(n, F, T)).astype(np.float32)
    y = np.arange(n) % 2
    x[y == 1, REGION[0], REGION[1]] += 25.0
    return np.clip(x, -80.0, 0.0), y


@pytest.fixture(scope="module")
def trained():
    x, y = evidence_data(128)
    model = contract_model(hidden_relu=True, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[..., None], y, epochs=12, batch_size=32, verbose=0, shuffle=False)
    return model


def test_gradcam_peaks_inside_evidence_region(trained):
    x, y = evidence_data(40, seed=7)
    probs = trained.predict(x[..., None], verbose=0)
    assert (probs.argmax(1) == y).mean() >= 0.95, "tiny model failed to learn the patch"
    pos = x[y == 1]
    maps = grad_cam(trained, pos, class_index=np.ones(len(pos), dtype=int))
    assert maps.shape == pos.shape and maps.dtype == np.float32
    inside = np.zeros((F, T), bool)
    inside[REGION] = True
    # the peak lies in the region, grown by one cell for the 2x bilinear upsampling
    grown = np.zeros((F, T), bool)
    grown[9:15, 1:7] = True
    peaks = [np.unravel_index(np.argmax(m), m.shape) for m in maps]
    assert np.mean([grown[p] for p in peaks]) >= 0.9
    # and most of the map's mass sits there (the region is 1/16 of the plane)
    mass = (maps * inside).sum(axis=(1, 2)) / maps.sum(axis=(1, 2))
    assert np.median(mass) > 0.3


def test_gradcam_is_deterministic_and_relu(trained):
    x, _ = evidence_data(6, seed=3)
    a = grad_cam(trained, x)
    b = grad_cam(trained, x[..., None], batch_size=2)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert a.min() >= 0.0
    s = grad_cam(trained, x, signed=True)
    assert s.min() < 0 < s.max()
    # ReLU on the feature grid, then bilinear upsampling (non-negative weights), bounds the
    # ReLU of the upsampled signed map from above: sum w max(v, 0) >= max(sum w v, 0)
    assert np.all(a >= np.maximum(s, 0) - 1e-5 * np.abs(s).max())
    assert np.allclose(a[s > 0.5 * s.max()], s[s > 0.5 * s.max()], rtol=0.3)


@pytest.mark.parametrize("head", ["gap", "linear", "bn"])
def test_cam_equals_gradcam_up_to_scale_for_gap_linear_head(head):
    model = contract_model(seed=2, n_classes=3, head=head)
    if head == "bn":  # non-trivial inference-mode statistics
        bn = model.get_layer("embedding")
        rng = np.random.default_rng(0)
        bn.moving_mean.assign(rng.normal(size=6).astype("float32"))
        bn.moving_variance.assign(rng.uniform(0.2, 3.0, size=6).astype("float32"))
        bn.gamma.assign(rng.normal(size=6).astype("float32"))
    x, _ = evidence_data(5, seed=4)
    cls = np.array([0, 1, 2, 1, 0])
    c = cam(model, x, class_index=cls, signed=True)
    g = grad_cam(model, x, class_index=cls, signed=True)
    h, w = 8, 8  # conv2 feature grid
    np.testing.assert_allclose(g * h * w, c, rtol=1e-3, atol=1e-4 * np.abs(c).max())
    assert np.abs(c).max() > 0
    # ReLU'd variants agree too, and the predicted class is used by default
    np.testing.assert_allclose(grad_cam(model, x) * h * w, cam(model, x), rtol=1e-3,
                               atol=1e-4 * np.abs(c).max())


def test_cam_refuses_nonlinear_head(trained):
    x, _ = evidence_data(2)
    with pytest.raises(CamNotApplicable, match="embedding"):
        cam(trained, x)


def test_bad_inputs_are_named(trained):
    with pytest.raises(ValueError, match=r"expects \(16, 16\)"):
        grad_cam(trained, np.zeros((2, 8, 16), np.float32))
    with pytest.raises(ValueError, match="class_index"):
        grad_cam(trained, np.zeros((2, F, T), np.float32), class_index=np.array([0, 5]))
    with pytest.raises(ValueError, match="4-D"):
        grad_cam(trained, np.zeros((2, F, T), np.float32), layer="embedding")


def test_normalise_maps():
    m = np.array([[[0.0, 2.0], [-4.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]], np.float32)
    np.testing.assert_allclose(normalise_maps(m, signed=True)[0], [[0, 0.5], [-1, 0.25]])
    assert normalise_maps(m)[0].min() == 0 and np.all(normalise_maps(m)[1] == 0)


@needs_fp16_onednn
def test_gradcam_under_mixed_precision_matches_float32():
    """A model trained with mixed_float16 (GPU default) gives the float32 model's maps."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        half = contract_model(hidden_relu=True, seed=3)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    full = contract_model(hidden_relu=True, seed=3)
    full.set_weights(half.get_weights())
    x, _ = evidence_data(4, seed=2)
    cls = np.array([0, 1, 1, 0])
    g16 = grad_cam(half, x, class_index=cls, signed=True)
    g32 = grad_cam(full, x, class_index=cls, signed=True)
    assert g16.dtype == np.float32 and np.isfinite(g16).all()
    np.testing.assert_allclose(g16, g32, atol=0.02 * np.abs(g32).max())


def test_gradcam_explains_the_requested_target():
    """Signed Grad-CAM is linear in the explained score: the log-odds map of a 3-class model is the
    logit map minus the p-weighted maps of the other logits (∂ logsumexp = softmax weights)."""
    model = contract_model(seed=3, n_classes=3)
    x, _ = evidence_data(4, seed=2)
    c = np.array([0, 1, 2, 0])
    logit = {k: grad_cam(model, x, class_index=np.full(4, k), signed=True) for k in range(3)}
    lo = grad_cam(model, x, class_index=c, signed=True, target="log_odds")
    assert not np.allclose(lo, np.stack([logit[k][i] for i, k in enumerate(c)]), atol=1e-6)
    # binary-style check on the 2-class model: log-odds = z_c - z_other exactly
    m2 = contract_model(seed=4, n_classes=2)
    g = {k: grad_cam(m2, x, class_index=np.full(4, k), signed=True) for k in range(2)}
    lo2 = grad_cam(m2, x, class_index=np.zeros(4, int), signed=True, target="log_odds")
    np.testing.assert_allclose(lo2, g[0] - g[1], atol=1e-5 * (np.abs(g[0]).max() + 1e-12))
    with pytest.raises(ValueError, match="target"):
        grad_cam(m2, x, target="nope")


def test_cam_is_exact_for_time_pooled_head():
    """Mean over time per frequency row -> flatten -> linear: per-row weights, map mean = logit - bias."""
    keras.utils.set_random_seed(3)
    inp = keras.Input((F, T, 1), name="spectrogram")
    x = keras.layers.Rescaling(1 / 20.0, offset=2.0, name="normalise")(inp)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(x)  # grid = input grid
    x = keras.layers.AveragePooling2D(pool_size=(1, T), name="time_pool")(x)
    x = keras.layers.Flatten(name="embedding")(x)
    x = keras.layers.Dropout(0.2, name="head_dropout")(x)
    z = keras.layers.Dense(3, name="logits")(x)
    model = keras.Model(inp, keras.layers.Activation("softmax", name="probs")(z))
    x, _ = evidence_data(4, seed=5)
    cls = np.array([0, 1, 2, 1])
    maps = cam(model, x, class_index=cls, signed=True)
    logits = keras.Model(model.inputs, model.get_layer("logits").output)(x[..., None]).numpy()
    bias = model.get_layer("logits").bias.numpy()
    np.testing.assert_allclose(maps.mean(axis=(1, 2)) + bias[cls], logits[np.arange(4), cls], rtol=1e-4, atol=1e-5)
    # the evidence is located in frequency: rows matter, so Grad-CAM (one weight per channel) differs
    assert not np.allclose(grad_cam(model, x, class_index=cls, signed=True) * F * T, maps, atol=1e-3)
