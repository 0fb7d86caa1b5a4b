"""Masks from attribution maps and their application to dB spectrograms."""
from __future__ import annotations

import numpy as np
import pytest

from audiolens.attribution.masks import MASK_KINDS, apply_mask, make_mask, make_masks, parse_mask_kind

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


def test_apply_mask_formula_and_complement():
    x = np.array([[-10.0, -50.0], [0.0, -80.0]], np.float32)
    m = np.array([[1.0, 0.0], [0.5, 0.25]], np.float32)
    np.testing.assert_allclose(apply_mask(x, m), (x + 100) * m - 100)
    np.testing.assert_allclose(apply_mask(x, m, complement=True), (x + 100) * (1 - m) - 100)
    np.testing.assert_allclose(apply_mask(x, np.ones_like(x)), x)
    np.testing.assert_allclose(apply_mask(x, np.zeros_like(x), floor_db=-120), -120)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        apply_mask(x, m * 3)
