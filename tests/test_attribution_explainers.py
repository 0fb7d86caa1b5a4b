"""Explainers: shapes, occlusion finds the evidence region, IG completeness, LIME/SHAP/Grad-CAM run."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from audiolens.attribution.explainers import explain, probabilities, resolve_classes
from audiolens.attribution.registry import EXPLAINERS, explainer_options
from audiolens.attribution.gradients import integrated_gradients
from audiolens.attribution.perturbation import grid_segments
from conftest import small_cnn

F, T = 16, 20
REGION = (slice(3, 8), slice(5, 12))   # frequency rows 3..7, time frames 5..11


def region_model(weight: float = 0.08) -> keras.Model:
    """Contract model whose class-1 logit is driven only by the energy inside ``REGION``.

    conv (1x1, relu) maps dB to ``(x + 80) / 10`` (0 for silence, 8 for 0 dB); the logits
    Dense adds ``weight`` per region bin to class 1 minus a bias; class 0 has logit 0.
    """
    inp = keras.Input((F, T, 1))
    h = keras.layers.Conv2D(1, 1, activation="relu", name="conv")(inp)
    e = keras.layers.Flatten(name="embedding")(h)
    logits = keras.layers.Dense(2, name="logits")(e)
    out = keras.layers.Activation("softmax", name="probs")(logits)
    model = keras.Model(inp, out)
    model.get_layer("conv").set_weights([np.full((1, 1, 1, 1), 0.1, np.float32), np.array([8.0], np.float32)])
    w = np.zeros((F, T), np.float32)
    w[REGION] = weight
    kernel = np.zeros((F * T, 2), np.float32)
    kernel[:, 1] = w.ravel()
    n_region = w[REGION].size
    model.get_layer("logits").set_weights([kernel, np.array([0.0, -weight * n_region * 4.0], np.float32)])
    return model


def random_cnn(seed: int = 0, n_classes: int = 3) -> keras.Model:
    return small_cnn((F, T), n_classes=n_classes, seed=seed)


def spectrograms(n: int, seed: int = 0, loud_region: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-80.0, -60.0, size=(n, F, T)).astype(np.float32)
    if loud_region:
        x[:, REGION[0], REGION[1]] = rng.uniform(-10.0, 0.0, size=(n, 5, 7))
    return x


@pytest.fixture(scope="module")
def rmodel():
    return region_model()


def test_region_model_is_confident_on_loud_region(rmodel):
    p = probabilities(rmodel)(spectrograms(4))
    assert (p[:, 1] > 0.9).all()
    assert (probabilities(rmodel)(spectrograms(4, loud_region=False))[:, 1] < 0.1).all()


def test_occlusion_of_the_evidence_region_lowers_confidence(rmodel):
    x = spectrograms(3)
    a = explain("occlusion", rmodel, x, patch=(4, 4), stride=(2, 2))
    assert a.shape == x.shape
    inside = a[:, REGION[0], REGION[1]].mean(axis=(1, 2))
    mask = np.ones((F, T), bool)
    mask[REGION] = False
    outside = a[:, mask].mean(axis=1)
    assert (inside > 0.05).all() and (np.abs(outside) < inside / 5).all()
    # and really occluding the top-attributed region lowers p_c
    occluded = x.copy()
    occluded[:, REGION[0], REGION[1]] = -80.0
    assert (probabilities(rmodel)(occluded)[:, 1] < probabilities(rmodel)(x)[:, 1] - 0.5).all()


@pytest.mark.parametrize("method", ["saliency", "smoothgrad", "integrated_gradients", "gradcam", "lime"])
def test_explainers_put_evidence_in_region(rmodel, method):
    x = spectrograms(2, seed=1)
    kw = {"smoothgrad": {"n_samples": 8}, "lime": {"num_samples": 120, "n_freq": 8, "n_time": 10},
          "integrated_gradients": {"steps": 16}}.get(method, {})
    a = explain(method, rmodel, x, **kw)
    assert a.shape == x.shape and a.dtype == np.float32
    mask = np.zeros((F, T), bool)
    mask[REGION] = True
    # the mean attribution inside the evidence region exceeds the one outside
    assert (a[:, mask].mean(axis=1) > a[:, ~mask].mean(axis=1) + 1e-6).all(), method


def test_shap_with_background_attributes_region(rmodel):
    x = spectrograms(2, seed=2)
    bg = spectrograms(6, seed=3, loud_region=False)
    a = explain("shap", rmodel, x, background=bg, n_samples=32)
    mask = np.zeros((F, T), bool)
    mask[REGION] = True
    assert (a[:, mask].sum(axis=1) > 0).all()
    assert np.abs(a[:, ~mask]).max() < 1e-4   # the model ignores everything else
    with pytest.raises(ValueError, match="background"):
        explain("shap", rmodel, x, background=bg[:, :4])


@pytest.mark.parametrize("target", ["log_odds", "logits", "probs"])
def test_integrated_gradients_completeness(target):
    model = random_cnn(seed=1)
    x = spectrograms(3, seed=4)
    c = resolve_classes(model, x)
    a, delta = integrated_gradients(model, x, c, steps=64, target=target, return_delta=True)
    total = a.reshape(3, -1).sum(axis=1)
    expected = total - delta
    assert np.all(np.abs(expected) > 1e-6)
    assert np.all(np.abs(total - expected) <= 0.05 * np.abs(expected)), (total, expected)
    # independent check of f(X) - f(baseline) through the model itself
    base = np.ascontiguousarray(np.broadcast_to(x.reshape(3, -1).min(axis=1)[:, None, None], x.shape))

    def f(z):
        if target == "logits":
            return np.asarray(keras.Model(model.inputs, model.get_layer("logits").output)(z[..., None]))
        p = np.asarray(model(z[..., None]), dtype=np.float64)
        return p if target == "probs" else np.log(p) - np.log1p(-p)
    fx, fb = f(x)[np.arange(3), c], f(base)[np.arange(3), c]
    assert np.allclose(expected, fx - fb, rtol=1e-3, atol=1e-4)


def test_explain_validates_inputs(rmodel):
    x = spectrograms(1)
    with pytest.raises(ValueError, match="unknown explainer"):
        explain("nope", rmodel, x)
    with pytest.raises(ValueError, match="class_index"):
        explain("saliency", rmodel, x, class_index=5)
    with pytest.raises(ValueError, match="expects"):
        explain("saliency", rmodel, np.zeros((1, F + 1, T), np.float32))
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        explain("saliency", rmodel, bad)
    assert set(EXPLAINERS) == {"saliency", "smoothgrad", "integrated_gradients", "occlusion", "gradcam",
                               "lime", "shap"}


def test_chosen_class_flips_sign_of_saliency(rmodel):
    x = spectrograms(1)
    a1 = explain("saliency", rmodel, x, class_index=1)
    a0 = explain("saliency", rmodel, x, class_index=0)
    assert a1[0][REGION].mean() > 0 and a0[0][REGION].mean() <= 0


def test_grid_segments_are_a_regular_grid():
    seg = grid_segments((16, 20), n_freq=4, n_time=5)
    assert seg.shape == (16, 20) and seg.max() == 19
    assert np.all(np.bincount(seg.ravel()) == 16)     # 4x4 bins per cell
    assert seg[0, 0] == 0 and seg[-1, -1] == 19 and seg[4, 0] == 5


@pytest.mark.parametrize("method", ["occlusion", "saliency"])
def test_fidelity_of_region_masks_on_the_region_model(rmodel, method):
    from audiolens.attribution.fidelity import spectral_fidelity
    from audiolens.attribution.masks import make_masks

    x = spectrograms(3, seed=5)
    a = explain(method, rmodel, x, **({"patch": (4, 4), "stride": (2, 2)} if method == "occlusion" else {}))
    masks = make_masks(a, "binary")     # A > 0: the region (occlusion: plus its patch-wide rim)
    m = spectral_fidelity(lambda z: probabilities(rmodel)(z), x, masks, np.ones(3, int))
    assert (m["AD"] < 1.0).all()          # keeping the evidence keeps the confidence
    assert (m["FF"] > 0.5).all()          # removing it destroys the confidence
    assert (m["fid_in"] == 1).all()


@pytest.mark.parametrize("name", sorted(EXPLAINERS))
def test_every_registered_explainer_obeys_the_calling_convention(name):
    """``f(model, x (n, F, T), c (n,), **options) -> (n, F, T)`` finite, options from the settings."""
    model = random_cnn(seed=2)
    x = spectrograms(2, seed=6)
    settings = dict(target="log_odds", baseline_db=None, smoothgrad_samples=2, smoothgrad_noise=0.1, ig_steps=2,
                    occlusion_patch=0.5, lime_samples=10, lime_grid_freq=2, lime_grid_time=2, shap_samples=2,
                    gradcam_signed=False, background=spectrograms(2, seed=7), seed=0)
    options = explainer_options(name, settings)
    c = resolve_classes(model, x)
    raw = np.asarray(EXPLAINERS[name].load()(model, x, c, **options))
    assert raw.shape == x.shape
    maps = explain(name, model, x, class_index=c, **options)
    assert maps.shape == x.shape and maps.dtype == np.float32 and np.isfinite(maps).all()
    assert explain(name, model, x[:0], **options).shape == (0, F, T)
