"""Noise mixing at a requested SNR; noise files (stereo, other rates) become usable mono noise."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import write_wav

from audiolens.evaluation.noise import (fit_length, load_noise, mix_at_snr, noise_robustness, noise_sources, snr_db,
                                       white_noise)

SR = 8000


@pytest.mark.parametrize("snr", [30.0, 10.0, 3.5, 0.0, -5.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_mix_hits_requested_snr(snr, seed):
    rng = np.random.default_rng(seed)
    s = (np.sin(2 * np.pi * 220 * np.arange(SR) / SR) * rng.uniform(0.1, 1)).astype(np.float32)
    n = rng.standard_normal(3000).astype(np.float32) * 5   # shorter than s: looped
    mixed = mix_at_snr(s, n, snr, offset=123)
    assert mixed.shape == s.shape and mixed.dtype == np.float32
    assert abs(snr_db(s, mixed - s) - snr) < 0.1


def test_fit_length_loops_and_crops():
    n = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(fit_length(n, 12), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1])
    np.testing.assert_array_equal(fit_length(n, 3, offset=4), [4, 0, 1])
    with pytest.raises(ValueError, match="empty"):
        fit_length(np.zeros(0), 3)


def test_silent_inputs_are_refused():
    with pytest.raises(ValueError, match="signal is silent"):
        mix_at_snr(np.zeros(10), np.ones(10), 10)
    with pytest.raises(ValueError, match="noise segment is silent"):
        mix_at_snr(np.ones(10), np.zeros(10), 10)


def test_stereo_resampled_noise_file(tmp_path):
    t = np.arange(int(0.5 * 16000)) / 16000
    left = 0.5 * np.sin(2 * np.pi * 1000 * t)
    stereo = np.stack([left, left], axis=1)          # both channels equal -> mono = left
    path = write_wav(tmp_path / "stereo.wav", stereo, 16000)
    y = load_noise(path, sample_rate=SR)
    assert y.ndim == 1 and abs(len(y) - 4000) <= 1
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) * SR / len(y) - 1000) < 5     # the tone survives resampling
    write_wav(tmp_path / "silent.wav", np.zeros(800), SR)
    with pytest.raises(ValueError, match="silent.wav"):
        load_noise(tmp_path / "silent.wav", sample_rate=SR)


def test_noise_sources_white_first_then_files(tmp_path):
    path = write_wav(tmp_path / "hum.wav", 0.1 * np.ones(400), SR)
    srcs = noise_sources([path], sample_rate=SR, white_seconds=1.0, seed=3)
    assert [s.name for s in srcs] == ["white", "hum"]
    np.testing.assert_array_equal(srcs[0].audio, white_noise(SR, seed=3))
    assert abs(srcs[0].audio.std() - 1) < 0.05
    with pytest.raises(FileNotFoundError, match="noise_files"):
        noise_sources([tmp_path / "missing.wav"], sample_rate=SR)


@pytest.mark.shared
def test_real_noise_files_mix_at_snr(shared_data):
    files = sorted((shared_data / "noises").glob("*.wav"))
    assert len(files) == 3
    import soundfile as sf
    assert sum(sf.info(str(f)).channels == 2 for f in files) == 2
    srcs = noise_sources(files, sample_rate=SR)
    speech = sorted((shared_data / "fsdd" / "recordings").glob("*.wav"))[0]
    from audiolens.io import read_audio
    s, sr = read_audio(speech)
    assert sr == SR
    for src in srcs:
        assert src.audio.ndim == 1 and abs(len(src.audio) / SR - (10.0 if src.name == "white" else 5.0)) < 0.01
        for snr in (20.0, 3.5):
            assert abs(snr_db(s, mix_at_snr(s, src.audio, snr) - s) - snr) < 0.1


@pytest.mark.parametrize("fill", ["floor", "shuffle"])
def test_noise_fidelity_removes_bins_to_the_stage_fill(fill):
    rng = np.random.default_rng(0)
    audio = rng.uniform(0.1, 1.0, size=(3, 20)).astype(np.float32)
    seen = []

    def predict(x):
        seen.append(np.array(x))
        p1 = 1 / (1 + np.exp(-np.asarray(x).mean(axis=(1, 2)) / 10))
        return np.stack([1 - p1, p1], axis=1)
    featurize = lambda a: (20 * np.log10(a)).reshape(len(a), 4, 5)          # distinct dB values
    _, fid = noise_robustness(predict=predict, audio=audio, labels=np.ones(3, int), sources=[], snrs=[],
                              featurize=featurize, explainers={"id": lambda x, c: x.copy()}, mask="top30", fill=fill)
    x = featurize(audio)
    kept_only = seen[1]                              # X ⊙ M: 6 of 20 bins kept, 14 removed
    at_floor = (kept_only == x.min(axis=(1, 2), keepdims=True)).sum(axis=(1, 2))
    assert (at_floor >= 14).all() if fill == "floor" else (at_floor <= 2).all()
    assert list(fid["explainer"]) == ["id"] and np.isfinite(fid["FF"]).all()
