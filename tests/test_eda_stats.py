"""Spectrogram image statistics agree with scipy and behave on known images."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from audiolens.eda.stats import (STAT_COLUMNS, dominant_frequency, histogram_entropy, image_stats,
                                 mean_power_spectrum, summarise_by)


def test_moments_agree_with_scipy_on_random_arrays():
    rng = np.random.default_rng(0)
    imgs = np.stack([rng.gamma(2.0 + i, 3.0, size=(12, 20)) - 80.0 for i in range(5)])
    out = image_stats(imgs, np.arange(12) * 100.0)
    flat = imgs.reshape(5, -1)
    np.testing.assert_allclose(out["mean"], flat.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(out["variance"], sps.tvar(flat, axis=1, ddof=0), rtol=1e-10)
    np.testing.assert_allclose(out["skewness"], sps.skew(flat, axis=1), rtol=1e-9)
    np.testing.assert_allclose(out["kurtosis"], sps.kurtosis(flat, axis=1), rtol=1e-9)
    assert list(out.columns) == list(STAT_COLUMNS)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(2, 9), st.integers(2, 9))
def test_moments_agree_with_scipy_property(seed, f, t):
    rng = np.random.default_rng(seed)
    img = rng.normal(-40.0, 15.0, size=(f, t)) ** 3 / 1e3
    out = image_stats(img, np.linspace(0, 4000, f)).iloc[0]
    np.testing.assert_allclose(out["skewness"], sps.skew(img.ravel()), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(out["kurtosis"], sps.kurtosis(img.ravel()), rtol=1e-7, atol=1e-9)


def test_entropy_matches_scipy_entropy_of_histogram():
    rng = np.random.default_rng(1)
    img = rng.uniform(-80, 0, size=(32, 40))
    counts, _ = np.histogram(img, bins=16, range=(-80, 0))
    expected = sps.entropy(counts, base=2)
    got = histogram_entropy(img, bins=16, value_range=(-80, 0))[0]
    assert got == pytest.approx(expected, rel=1e-12)
    # per-image range: same as numpy's histogram over min..max
    counts2, _ = np.histogram(img, bins=16)
    assert histogram_entropy(img, bins=16)[0] == pytest.approx(sps.entropy(counts2, base=2), rel=1e-12)


def test_entropy_of_constant_image_is_zero_and_two_levels_is_one_bit():
    const = np.full((8, 10), -23.5)
    assert histogram_entropy(const)[0] == 0.0
    assert histogram_entropy(const, value_range=(-80, 0))[0] == 0.0
    out = image_stats(const, np.arange(8.0)).iloc[0]
    assert out["entropy"] == 0.0 and out["variance"] == 0.0
    assert out["skewness"] == 0.0 and out["kurtosis"] == 0.0
    half = np.zeros((4, 10))
    half[:2] = -60.0
    assert histogram_entropy(half, bins=64, value_range=(-80, 0))[0] == pytest.approx(1.0)


def test_dominant_frequency_of_pure_tone_within_one_bin():
    import librosa

    sr, n_fft = 8000, 256
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    for tone in (440.0, 1234.0, 3100.0):
        t = np.arange(sr) / sr
        y = 0.5 * np.sin(2 * np.pi * tone * t) + 0.001 * np.random.default_rng(0).normal(size=sr)
        s_db = librosa.amplitude_to_db(np.abs(librosa.stft(y, n_fft=n_fft, hop_length=128)),
                                       ref=np.max, top_db=80.0)
        got = dominant_frequency(s_db, freqs)[0]
        assert abs(got - tone) <= sr / n_fft, (tone, got)


def test_dominant_frequency_uses_mean_energy_not_peak():
    # row 1 has one loud frame, row 3 is moderately loud all the time: row 3 has more mean energy
    img = np.full((5, 10), -80.0)
    img[1, 0] = 0.0
    img[3, :] = -6.0
    assert dominant_frequency(img, np.array([0., 100., 200., 300., 400.]))[0] == 300.0


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="shape"):
        image_stats(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="freqs_hz"):
        dominant_frequency(np.zeros((3, 4)), np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        image_stats(np.full((3, 4), np.nan), np.zeros(3))


def test_mean_power_spectrum_peaks_at_tone_and_summarise_by():
    import librosa

    sr = 8000
    y = np.sin(2 * np.pi * 1000 * np.arange(sr) / sr)
    spec = mean_power_spectrum(y, sr=sr, n_fft=256, hop_length=128)
    # Parseval: mean frame power of a unit sine with a Hann window = sum(w²)/2 spread over the bins
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(256) / 256)
    full = np.concatenate([spec, spec[1:-1]])  # two-sided
    assert full.sum() / 256 == pytest.approx(np.sum(w ** 2) / 2, rel=0.02)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=256)
    assert spec.shape == (129,)
    assert abs(freqs[np.argmax(spec)] - 1000) <= sr / 256
    table = pd.DataFrame({"label": ["a", "a", "b"], **{c: [1.0, 3.0, 5.0] for c in STAT_COLUMNS}})
    summ = summarise_by(table, by="label")
    assert summ["n"].tolist() == [2, 1]
    assert summ.loc[0, "mean_mean"] == 2.0 and summ.loc[0, "mean_std"] == 1.0
    assert summ.loc[1, "entropy_median"] == 5.0 and summ.loc[1, "entropy_std"] == 0.0
