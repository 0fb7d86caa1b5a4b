"""Masks from attribution maps and their application to dB spectrograms."""
from __future__ import annotations

import numpy as np
import pytest

from audiolens.attribution.masks import MASK_KINDS, apply_mask, fill_state, make_mask, make_masks, parse_mask_kind

A = np.array([[-2.0, -1.0, 0.0, 1.0],
              [2.0, 3.0, 4.0, 5.0]])     # 8 bins, 5 positive


def test_fourteen_canonical_kinds_all_in_unit_interval():
    assert len(MASK_KINDS) == 14 and len(set(MASK_KINDS)) == 14
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 9))
    for kind in MASK_KINDS:
        m = make_mask(a, kind)
        assert m.shape == a.shape and m.dtype == np.float32
        assert m.min() >= 0 and m.max() <= 1, kind


def test_minmax_sigmoid_binary_by_hand():
    np.testing.assert_allclose(make_mask(A, "minmax"), (A + 2) / 7, rtol=1e-6)
    np.testing.assert_allclose(make_mask(A, "sigmoid"), 1 / (1 + np.exp(-A / A.std())), rtol=1e-6)
    np.testing.assert_array_equal(make_mask(A, "binary"), (A > 0).astype(np.float32))
    np.testing.assert_allclose(make_mask(A, "pos_minmax"), np.maximum(A, 0) / 5, rtol=1e-6)


def test_top_k_keeps_ceil_of_k_percent_largest():
    m = make_mask(A, "top30")          # ceil(0.3 * 8) = 3 bins: 5, 4, 3
    np.testing.assert_array_equal(m, [[0, 0, 0, 0], [0, 1, 1, 1]])
    assert make_mask(A, "top5").sum() == 1 and make_mask(A, "top5")[1, 3] == 1
    assert make_mask(A, "top50").sum() == 4
    # positive-part variant never keeps a non-positive bin
    assert make_mask(-np.abs(A) - 0.5, "pos_top30").sum() == 0
    assert make_mask(A, "pos_top50").sum() == 4  # 4 of the 5 positive bins (ceil(0.5*8)=4)
    assert make_mask(np.array([[1.0, -1, -2, -3]]), "pos_top50").sum() == 1  # only 1 positive bin


def test_thresholds_by_hand():
    # minmax = (A + 2) / 7 -> >= 0.5 for A >= 1.5: 2, 3, 4, 5
    np.testing.assert_array_equal(make_mask(A, "t50"), [[0, 0, 0, 0], [1, 1, 1, 1]])
    # positive part / max = A / 5 -> >= 0.75 for A >= 3.75: 4, 5
    np.testing.assert_array_equal(make_mask(A, "pos_t75"), [[0, 0, 0, 0], [0, 0, 1, 1]])
    np.testing.assert_array_equal(make_mask(A, "pos_t20"), [[0, 0, 0, 1], [1, 1, 1, 1]])  # 1/5 >= 0.2
    np.testing.assert_array_equal(make_mask(A, "pos_t25"), [[0, 0, 0, 0], [1, 1, 1, 1]])


def test_constant_map_gives_empty_mask():
    for kind in ("minmax", "top30", "t50", "pos_t50", "sigmoid", "binary"):
        assert make_mask(np.zeros((3, 3)), kind).sum() == 0, kind


def test_parse_and_errors():
    assert parse_mask_kind("top12.5") == ("top", False, 12.5)
    assert parse_mask_kind("pos_t40") == ("threshold", True, 0.4)
    for bad in ("top0", "top101", "pos_sigmoid", "foo", "t"):
        with pytest.raises(ValueError, match="mask kind"):
            parse_mask_kind(bad)
    with pytest.raises(ValueError, match="NaN"):
        make_mask(np.array([[np.nan, 1.0]]), "minmax")
    with pytest.raises(ValueError, match=r"\(n, F, T\)"):
        make_masks(A, "minmax")


def test_apply_mask_scales_amplitude_towards_the_floor():
    x = np.array([[-10.0, -50.0], [0.0, -80.0]], np.float32)
    m = np.array([[1.0, 0.0], [0.5, 0.25]], np.float32)

    def amp_blend(x, m, floor):        # L-MAC: the mask multiplies amplitude (above the floor)
        a, af = 10 ** (x / 20), 10 ** (floor / 20)
        return 20 * np.log10(af + (a - af) * m)
    np.testing.assert_allclose(apply_mask(x, m, floor_db=-100), amp_blend(x, m, -100.0), rtol=1e-5)
    np.testing.assert_allclose(apply_mask(x, m, floor_db=-100, complement=True), amp_blend(x, 1 - m, -100.0),
                               rtol=1e-5)
    # M = 0.5 halves the amplitude of a loud bin (about -6 dB), not half its dB distance to the floor
    assert apply_mask(np.array([[-20.0]]), np.array([[0.5]]), floor_db=-100)[0, 0] == pytest.approx(
        -20 + 20 * np.log10(0.5), abs=0.01)
    np.testing.assert_array_equal(apply_mask(x, np.ones_like(x)), x)            # M = 1: exact
    np.testing.assert_allclose(apply_mask(x, np.zeros_like(x), floor_db=-120), -120)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        apply_mask(x, m * 3)


def test_default_floor_is_each_examples_minimum():
    x = np.stack([np.full((3, 4), -20.0), np.full((3, 4), -10.0)]).astype(np.float32)
    x[0, 0, 0], x[1, 2, 3] = -75.0, -60.0
    out = apply_mask(x, np.zeros_like(x))
    np.testing.assert_array_equal(out[0], -75.0)
    np.testing.assert_array_equal(out[1], -60.0)      # per example, not the batch minimum


def test_top_k_ties_are_broken_by_a_seeded_random_order_not_raster():
    a = np.ones((8, 10))
    a[7, 9] = 0.0                               # 79 tied bins, one lower: top30 keeps 24 of the ties
    m1, m2 = make_mask(a, "top30", seed=1), make_mask(a, "top30", seed=1)
    np.testing.assert_array_equal(m1, m2)       # deterministic for a seed
    assert m1.sum() == 24 and m1[7, 9] == 0
    assert not np.array_equal(m1, make_mask(a, "top30", seed=2))
    raster = np.zeros(80)
    raster[:24] = 1
    assert not np.array_equal(m1.ravel(), raster)    # not the first (low-frequency) rows
    assert m1[4:].sum() > 0                          # ties reach the upper half too
    batch = make_masks(np.stack([a, a]), "top30", seed=0)
    assert not np.array_equal(batch[0], batch[1])    # each example its own order


def test_shuffle_fill_keeps_each_examples_values_without_their_order():
    rng = np.random.default_rng(0)
    x = rng.normal(-40, 15, size=(3, 6, 7)).astype(np.float32)
    f = fill_state(x, "shuffle", seed=4)
    assert f.shape == x.shape
    for xi, fi in zip(x, f):                      # the example's own values (mean, spread), per example
        np.testing.assert_array_equal(np.sort(fi.ravel()), np.sort(xi.ravel()))
        assert not np.array_equal(fi, xi)          # ... in another order
    np.testing.assert_array_equal(f, fill_state(x, "shuffle", seed=4))       # seeded
    assert not np.array_equal(f, fill_state(x, "shuffle", seed=5))
    np.testing.assert_array_equal(fill_state(x, "floor"), np.broadcast_to(x.min(axis=(1, 2), keepdims=True), x.shape))
    np.testing.assert_array_equal(fill_state(x, "floor", floor_db=-90), -90)
    with pytest.raises(ValueError, match="fill"):
        fill_state(x, "blur")


def test_apply_mask_puts_the_fill_where_bins_are_removed():
    rng = np.random.default_rng(1)
    x = rng.normal(-40, 10, size=(2, 4, 5)).astype(np.float32)
    fill = fill_state(x, "shuffle", seed=0)
    m = (rng.random(x.shape) > 0.5).astype(np.float32)
    out = apply_mask(x, m, fill=fill)
    np.testing.assert_array_equal(out[m == 1], x[m == 1])
    np.testing.assert_array_equal(out[m == 0], fill[m == 0])       # not the floor
    np.testing.assert_array_equal(apply_mask(x, m, fill=fill, complement=True)[m == 1], fill[m == 1])
    half = apply_mask(x, np.full_like(x, 0.5), fill=fill)           # soft: amplitude halfway to the fill
    np.testing.assert_allclose(10 ** (half / 20), (10 ** (x / 20) + 10 ** (fill / 20)) / 2, rtol=1e-4)
