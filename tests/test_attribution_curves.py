"""Deletion / insertion curves and the random-mask control on constructed models."""
from __future__ import annotations

import numpy as np
import pytest

from audiolens.attribution.curves import (curve_auc, deletion_insertion, fractions, random_control,
                                          random_curves, random_masks)
from audiolens.attribution.masks import fill_state, make_masks

F, T = 8, 10
REGION = (slice(2, 4), slice(3, 7))      # the 8 bins the constructed model listens to


def region_model(x: np.ndarray) -> np.ndarray:
    """p_1 rises with the mean dB of REGION only (the true explanation is known)."""
    z = (x[:, REGION[0], REGION[1]].mean(axis=(1, 2)) + 40.0) / 5.0
    p1 = 1.0 / (1.0 + np.exp(-z))
    return np.stack([1 - p1, p1], axis=1)


def examples(n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.uniform(-70, -30, size=(n, F, T)).astype(np.float32)
    x[:, REGION[0], REGION[1]] = -10.0
    x[:, 0, 0] = -80.0                    # every example's floor
    return x


def test_curve_auc_is_the_normalised_trapezoid_over_log_k():
    ks = fractions(3)
    np.testing.assert_allclose(ks, [0.25, 0.5, 1])
    # log2 k = -2, -1, 0: each interval weighs 1/2
    np.testing.assert_allclose(curve_auc(np.array([[0.7, 0.7, 0.7], [1.0, 0.5, 0.0]]), ks), [0.7, 0.5])
    with pytest.raises(ValueError):
        fractions(1)


def test_true_region_beats_random_orders_on_both_curves():
    x = examples()
    c = np.ones(len(x), dtype=int)
    truth = np.zeros_like(x)
    truth[:, REGION[0], REGION[1]] = 1.0
    truth += 1e-3 * np.random.default_rng(1).random(x.shape)
    ks = fractions(6)
    d, i = deletion_insertion(region_model, x, truth, c, ks)
    rd, ri = random_curves(region_model, x, c, ks, draws=10)
    assert d.shape == i.shape == rd.shape == (len(x), len(ks))
    np.testing.assert_allclose(d[:, -1], rd[:, -1])      # shared end points at k = 1
    np.testing.assert_allclose(i[:, -1], ri[:, -1])
    assert np.all(curve_auc(d, ks) < curve_auc(rd, ks) - 0.2)
    assert np.all(curve_auc(i, ks) > curve_auc(ri, ks) + 0.2)
    # an anti-explanation (the region ranked last) is worse than random on deletion
    d_anti, _ = deletion_insertion(region_model, x, -truth, c, ks)
    assert np.all(curve_auc(d_anti, ks) > curve_auc(rd, ks))


def test_random_masks_keep_k_and_values_and_are_deterministic():
    rng = np.random.default_rng(3)
    maps = rng.normal(size=(4, F, T))
    masks = make_masks(maps, "top30")
    r1, r2 = random_masks(masks, draw=0, seed=5), random_masks(masks, draw=0, seed=5)
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(r1.reshape(4, -1).sum(axis=1), masks.reshape(4, -1).sum(axis=1))
    assert not np.array_equal(r1, random_masks(masks, draw=1, seed=5))
    soft = make_masks(maps, "minmax")
    rs = random_masks(soft, draw=0)
    np.testing.assert_allclose(np.sort(rs.reshape(4, -1), axis=1), np.sort(soft.reshape(4, -1), axis=1))
    # two explainers' top30 masks (different bins, same k) get the same random control
    other = make_masks(rng.normal(size=(4, F, T)), "top30")
    np.testing.assert_array_equal(random_masks(other, draw=0, seed=5), r1)


def test_random_control_is_deterministic_and_cached():
    x = examples(4)
    c = np.ones(4, dtype=int)
    probs = region_model(x)
    masks = make_masks(np.random.default_rng(0).normal(size=x.shape), "top30")
    calls = []

    def counted(xx):
        calls.append(len(xx))
        return region_model(xx)
    cache: dict = {}
    a = random_control(counted, x, masks, c, probs=probs, draws=10, seed=0, cache=cache)
    assert sum(calls) == 80                       # 10 draws x 4 examples x (masked in, masked out)
    b = random_control(counted, x, masks, c, probs=probs, draws=10, seed=0, cache=cache)
    assert sum(calls) == 80                       # same k: served from the cache
    fresh = random_control(region_model, x, masks, c, probs=probs, draws=10, seed=0)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        np.testing.assert_array_equal(a[k], fresh[k])
    assert set(a) == {"FF", "AI", "AD", "AG", "fid_in"} and a["FF"].shape == (4,)


def standardising_model(x: np.ndarray) -> np.ndarray:
    """Like the demo CNN: z-scores each input over its own F x T plane, then p_1 = sigmoid(max z over REGION)."""
    mu, sd = x.mean(axis=(1, 2), keepdims=True), x.std(axis=(1, 2), keepdims=True) + 1e-3
    z = ((x - mu) / sd)[:, REGION[0], REGION[1]].max(axis=(1, 2))
    p1 = 1.0 / (1.0 + np.exp(-z))
    return np.stack([1 - p1, p1], axis=1)


def test_explainer_curves_and_random_control_remove_bins_to_the_same_given_fill():
    x = examples(4)
    c = np.ones(4, dtype=int)
    fill = np.full_like(x, -99.0)                 # a marker value: not in x, not the floor (-80)
    maps = np.random.default_rng(2).normal(size=x.shape)
    for run in (lambda p: deletion_insertion(p, x, maps, c, fractions(3), fill=fill),
                lambda p: random_curves(p, x, c, fractions(3), fill=fill, draws=1),
                lambda p: random_control(p, x, make_masks(maps, "top30"), c, probs=region_model(x), fill=fill)):
        seen = []
        run(lambda xx: (seen.append(np.array(xx)), region_model(xx))[1])
        batch = np.concatenate(seen)
        assert (batch == -99).any() and np.isin(batch, np.r_[x.ravel(), -99.0]).all()


def test_on_a_standardising_model_one_bin_on_the_floor_is_extreme_and_on_the_shuffled_fill_it_is_not():
    x = examples(4)
    c = np.ones(4, dtype=int)
    truth = np.zeros_like(x)
    truth[:, REGION[0], REGION[1]] = 1.0
    one_bin = np.array([1.0 / (F * T)])
    p_full = standardising_model(x)[:, 1]
    _, ins_floor = deletion_insertion(standardising_model, x, truth, c, one_bin)
    _, ins_fill = deletion_insertion(standardising_model, x, truth, c, one_bin, fill=fill_state(x, "shuffle"))
    assert np.all(ins_floor[:, 0] > 0.999) and np.all(p_full < 0.95)   # one bin beats the whole input
    assert np.all(np.abs(ins_fill[:, 0] - p_full) < 0.05)                # the bin keeps its usual scale
