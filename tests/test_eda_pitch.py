"""pYIN F0 on synthetic voiced tones, and the per-speaker summary."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audiolens.eda.pitch import pitch_summary, pyin_f0, pyin_frame_length


def _voiced(f0: float, sr: int, seconds: float = 1.0) -> np.ndarray:
    """A harmonic-rich 'voice': 6 harmonics with 1/k amplitudes."""
    t = np.arange(int(sr * seconds)) / sr
    return sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 7)).astype(np.float32) * 0.3


@pytest.mark.parametrize("f0,sr", [(110.0, 8000), (220.0, 16000), (310.0, 8000)])
def test_pyin_finds_synthetic_voiced_tone_within_2_percent(f0, sr):
    est, voiced, prob = pyin_f0(_voiced(f0, sr), sr=sr, fmin=60.0, fmax=500.0)
    assert voiced.mean() > 0.8
    assert abs(np.nanmedian(est[voiced]) - f0) / f0 < 0.02
    assert est.shape == voiced.shape == prob.shape


def test_pyin_on_noise_is_mostly_unvoiced():
    y = np.random.default_rng(0).normal(scale=0.3, size=8000).astype(np.float32)
    _, voiced, _ = pyin_f0(y, sr=8000, fmin=60.0, fmax=500.0)
    assert voiced.mean() < 0.2


def test_frame_length_and_argument_checks():
    assert pyin_frame_length(sr=8000, fmin=60.0) == 1024
    assert pyin_frame_length(sr=16000, fmin=60.0) == 2048
    with pytest.raises(ValueError, match="Nyquist"):
        pyin_f0(np.zeros(4000), sr=800, fmin=60, fmax=500)
    with pytest.raises(ValueError, match="fmin < fmax"):
        pyin_f0(np.zeros(4000), sr=8000, fmin=300, fmax=200)
    # shorter than a frame: padded, still returns a track
    f0, voiced, _ = pyin_f0(np.zeros(100, dtype=np.float32), sr=8000, fmin=60, fmax=500)
    assert len(f0) >= 1 and not voiced.any()


def test_pitch_summary_per_speaker():
    frames = pd.DataFrame({
        "speaker": ["a"] * 4 + ["b"] * 2,
        "f0_hz": [100.0, 110.0, np.nan, 120.0, np.nan, np.nan],
        "voiced": [True, True, False, True, False, False],
    })
    out = pitch_summary(frames).set_index("speaker")
    assert out.loc["a", "voiced_fraction"] == 0.75
    assert out.loc["a", "f0_median_hz"] == 110.0
    assert out.loc["a", "frames"] == 4
    assert out.loc["b", "voiced_fraction"] == 0.0 and np.isnan(out.loc["b", "f0_median_hz"])
    with pytest.raises(ValueError, match="lacks"):
        pitch_summary(frames.drop(columns="voiced"))
