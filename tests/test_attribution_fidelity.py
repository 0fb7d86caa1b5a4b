"""Fidelity metrics against hand-computed values; randomisation sanity check on a tiny model."""
from __future__ import annotations

import numpy as np
import pytest

from audiolens.attribution.fidelity import complexity, fidelity_metrics, gini, spectral_fidelity, summarise


def test_metrics_by_hand():
    probs = np.array([[0.2, 0.8], [0.0, 1.0], [0.6, 0.4]])
    p_in = np.array([[0.5, 0.5], [0.3, 0.7], [0.1, 0.9]])
    p_out = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]])
    c = np.array([1, 1, 1])
    masks = np.ones((3, 2, 2))
    m = fidelity_metrics(probs, p_in, p_out, c, masks, maps=masks)
    np.testing.assert_allclose(m["FF"], [0.7, 0.8, 0.1])
    np.testing.assert_allclose(m["AI"], [0, 0, 100])
    # AD = 100 max(0, p - p_in) / p; example 2 has p_c = 1 -> 100 * 0.3 / 1 = 30
    np.testing.assert_allclose(m["AD"], [100 * 0.3 / 0.8, 30.0, 0.0])
    # AG = 100 max(0, p_in - p) / (1 - p); p_c = 1 -> 0 (nothing to gain)
    np.testing.assert_allclose(m["AG"], [0.0, 0.0, 100 * 0.5 / 0.6])
    np.testing.assert_allclose(m["fid_in"], [0, 1, 1])   # argmax of p_in: 0, 1, 1
    np.testing.assert_allclose(m["mask_mean"], 1.0)
    np.testing.assert_allclose(m["SPS"], 0.0)            # uniform mask: Gini 0
    np.testing.assert_allclose(m["COMP"], np.log(4))     # uniform: max entropy
    np.testing.assert_allclose(m["COMP_norm"], 1.0)


def test_ad_when_p_is_one_and_fully_kept():
    one = np.array([[0.0, 1.0]])
    m = fidelity_metrics(one, one, np.array([[1.0, 0.0]]), np.array([1]), np.ones((1, 2, 2)))
    assert m["AD"][0] == 0 and m["AG"][0] == 0 and m["AI"][0] == 0 and m["FF"][0] == 1.0


@pytest.mark.parametrize("n,k", [(10, 1), (10, 3), (64, 16), (7, 7)])
def test_sps_of_binary_mask_is_one_minus_k_over_n(n, k):
    mask = np.zeros(n)
    mask[np.random.default_rng(k).choice(n, k, replace=False)] = 1
    assert gini(mask) == pytest.approx(1 - k / n)


def test_gini_and_complexity_by_hand():
    assert gini(np.array([0, 0, 0, 1.0])) == pytest.approx(0.75)
    # a = [1, 3]: sorted; sum (2i - n - 1) a_i = -1*1 + 1*3 = 2; / (n * sum) = 2 / 8
    assert gini(np.array([3.0, 1.0])) == pytest.approx(0.25)
    assert np.isnan(gini(np.zeros(4)))
    h, hn = complexity(np.array([1.0, 1.0, 2.0, 0.0]))
    p = np.array([0.25, 0.25, 0.5])
    assert h == pytest.approx(-(p * np.log(p)).sum()) and hn == pytest.approx(h / np.log(4))
    assert complexity(np.array([0.0, 5.0]))[0] == 0.0


def test_spectral_fidelity_uses_masked_inputs():
    # "model": p_1 = sigmoid(mean dB of bin [0, 0] / 10 + 5)
    def predict(x):
        z = x[:, 0, 0] / 10 + 5
        p1 = 1 / (1 + np.exp(-z))
        return np.stack([1 - p1, p1], axis=1)
    x = np.full((2, 2, 2), -20.0)
    masks = np.zeros((2, 2, 2))
    masks[0, 0, 0] = 1       # example 0 keeps the evidence bin, example 1 removes it
    m = spectral_fidelity(predict, x, masks, np.array([1, 1]), floor_db=-100, maps=masks)
    p = 1 / (1 + np.exp(-3.0))
    p_floor = 1 / (1 + np.exp(5.0))
    np.testing.assert_allclose(m["AD"], [0.0, 100 * (p - p_floor) / p])
    np.testing.assert_allclose(m["FF"], [p - p_floor, 0.0], atol=1e-6)
    s = summarise(m)
    assert s["n"] == 2 and s["AD"] == pytest.approx(50 * (p - p_floor) / p)
    assert np.isnan(m["SPS"][1]) and s["SPS"] == pytest.approx(0.75)   # NaN ignored in the mean


def test_map_similarity_identity_and_independence():
    from audiolens.attribution.sanity import map_similarity
    rng = np.random.default_rng(0)
    a = rng.normal(size=(16, 20))
    same = map_similarity(a, a)
    assert same["spearman"] == pytest.approx(1) and same["ssim"] == pytest.approx(1)
    other = map_similarity(a, rng.normal(size=(16, 20)))
    assert abs(other["spearman"]) < 0.2 and abs(other["spearman_abs"]) < 0.2
    # a constant map has no ranking: undefined (NaN), never a 0 that reads as a pass
    assert all(np.isnan(v) for v in map_similarity(a, np.zeros_like(a)).values())
    z = np.zeros_like(a)
    assert all(np.isnan(v) for v in map_similarity(z, z).values())


def test_cascading_randomisation_lowers_similarity_and_restores_weights():
    import keras

    from audiolens.attribution.explainers import explain, resolve_classes
    from audiolens.attribution.sanity import cascading_randomisation, weighted_layers

    keras.utils.set_random_seed(0)
    inp = keras.Input((12, 12, 1))
    h = keras.layers.Rescaling(1 / 40.0, offset=1.0)(inp)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(h)
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv2")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    h = keras.layers.Dense(6, activation="relu", name="embedding")(h)
    logits = keras.layers.Dense(2, name="logits")(h)
    model = keras.Model(inp, keras.layers.Activation("softmax", name="probs")(logits))
    x = np.random.default_rng(1).uniform(-80, 0, size=(3, 12, 12)).astype(np.float32)
    c = resolve_classes(model, x)
    before = [w.copy() for w in model.get_weights()]
    fns = {"saliency": lambda m, xx, cc: explain("saliency", m, xx, class_index=cc)}
    table = cascading_randomisation(model, x, c, fns, seed=3)
    assert [l.name for l in weighted_layers(model)] == ["conv1", "conv2", "embedding", "logits"]
    assert list(table["layer"]) == ["none", "logits", "embedding", "conv2", "conv1"]
    assert table["spearman"].iloc[0] == pytest.approx(1.0)
    assert table["spearman_abs"].iloc[-1] < 0.9          # fully random model: different maps
    for w0, w1 in zip(before, model.get_weights()):
        np.testing.assert_array_equal(w0, w1)


def test_reinitialise_batchnorm_and_dense():
    import keras

    from audiolens.attribution.sanity import reinitialise

    keras.utils.set_random_seed(0)
    inp = keras.Input((4, 4, 1))
    h = keras.layers.Conv2D(2, 3, name="conv")(inp)
    h = keras.layers.BatchNormalization(name="bn")(h)
    model = keras.Model(inp, h)
    bn = model.get_layer("bn")
    bn.set_weights([np.full(2, 3.0), np.full(2, 2.0), np.full(2, 0.5), np.full(2, 4.0)])
    assert reinitialise(bn, seed=1) == ["gamma", "beta"]
    gamma, beta, mean, var = bn.get_weights()
    np.testing.assert_array_equal(gamma, 1.0)      # its own initialisers: ones / zeros
    np.testing.assert_array_equal(beta, 0.0)
    np.testing.assert_array_equal(mean, 0.5)       # moving statistics kept
    np.testing.assert_array_equal(var, 4.0)
    conv = model.get_layer("conv")
    k0 = conv.get_weights()[0].copy()
    reinitialise(conv, seed=2)
    k1 = conv.get_weights()[0].copy()
    reinitialise(conv, seed=2)
    assert not np.allclose(k0, k1)
    np.testing.assert_array_equal(k1, conv.get_weights()[0])   # seeded: same draw


def test_sps_and_comp_are_computed_on_the_raw_map_and_tell_peaked_from_flat():
    rng = np.random.default_rng(0)
    flat = 1.0 + 0.01 * rng.random((1, 8, 8))
    peaked = np.zeros((1, 8, 8))
    peaked[0, 3, 4], peaked[0, 3, 5] = 5.0, 1.0
    peaked += 1e-3 * rng.random((1, 8, 8))
    one = np.array([[0.0, 1.0]])
    out = {}
    for name, a in (("flat", flat), ("peaked", peaked)):
        from audiolens.attribution.masks import make_masks
        mask = make_masks(a, "top30")      # both binary top30 masks: identical SPS if taken on the mask
        out[name] = fidelity_metrics(one, one, one, np.array([1]), mask, maps=a)
    assert out["peaked"]["SPS"][0] > out["flat"]["SPS"][0] + 0.5
    assert out["peaked"]["COMP_norm"][0] < out["flat"]["COMP_norm"][0] - 0.3
    no_maps = fidelity_metrics(one, one, one, np.array([1]), np.ones((1, 2, 2)))
    assert np.isnan(no_maps["SPS"][0]) and np.isnan(no_maps["COMP"][0])


def test_degenerate_maps_are_flagged_in_the_sanity_table():
    import keras

    from audiolens.attribution.sanity import cascading_randomisation

    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 5, 1))
    h = keras.layers.Flatten()(inp)
    h = keras.layers.Dense(4, activation="relu", name="embedding")(h)
    logits = keras.layers.Dense(2, name="logits")(h)
    model = keras.Model(inp, keras.layers.Softmax(name="probs")(logits))
    x = np.random.default_rng(0).normal(size=(4, 6, 5)).astype(np.float32)
    c = np.zeros(4, dtype=int)
    rng = np.random.default_rng(1)
    fns = {"constant": lambda m, xx, cc: np.zeros(xx.shape, np.float32),
           "noise": lambda m, xx, cc: rng.normal(size=xx.shape).astype(np.float32)}
    table = cascading_randomisation(model, x, c, fns, seed=0)
    const = table[table["explainer"] == "constant"]
    assert (const["status"] == "degenerate").all() and const["spearman_abs"].isna().all()
    assert (const["n_degenerate"] == 4).all() and (const["n"] == 4).all()
    noise = table[table["explainer"] == "noise"]
    assert (noise["status"] == "ok").all() and noise["spearman_abs_se"].iloc[-1] > 0
    last = noise.iloc[-1]
    assert last["spearman_abs_lo"] < last["spearman_abs"] < last["spearman_abs_hi"]


def test_ig_completeness_error_is_small_on_a_linear_model():
    import keras

    from audiolens.attribution.gradients import integrated_gradients

    keras.utils.set_random_seed(0)
    inp = keras.Input((4, 3, 1))
    logits = keras.layers.Dense(2, name="logits")(keras.layers.Flatten()(inp))
    model = keras.Model(inp, keras.layers.Softmax(name="probs")(logits))
    x = np.random.default_rng(0).normal(-40, 10, size=(3, 4, 3)).astype(np.float32)
    diag: dict = {}
    maps = integrated_gradients(model, x, np.array([0, 1, 0]), steps=8, target="logits", diagnostics=diag)
    err, df = diag["completeness_error"], diag["delta_f"]
    assert np.all(np.abs(df) > 1e-3)
    np.testing.assert_allclose(maps.reshape(3, -1).sum(axis=1), df, rtol=1e-3, atol=1e-3)
    assert np.all(np.abs(err) <= 1e-3 * np.maximum(1.0, np.abs(df)))
