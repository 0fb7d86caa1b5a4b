"""Spectrograms: shapes as configured, librosa agreement, dB convention, inversion."""
from __future__ import annotations

import numpy as np
import pytest

from audiolens.features import (SpectrogramConfig, db_to_amplitude, db_to_audio, phase,
                                read_segment_audio, spectrogram_db, stft)
from conftest import spectrogram_settings

SR = 8000


def chirp_batch(n: int = 3, length: int = 16000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length) / SR
    out = []
    for i in range(n):
        f0 = 200 + 150 * i
        y = 0.4 * np.sin(2 * np.pi * (f0 * t + 300 * t ** 2)) + 0.01 * rng.standard_normal(length)
        out.append(y)
    return np.asarray(out, dtype=np.float32)


@pytest.mark.parametrize("kind, n_fft, hop, n_mels, length", [
    ("linear", 256, 128, 64, 16000), ("linear", 256, 192, 64, 24000), ("linear", 512, 256, 64, 8000),
    ("mel", 256, 128, 64, 16000), ("mel", 512, 160, 40, 12345),
])
def test_shapes_are_as_configured(kind, n_fft, hop, n_mels, length):
    cfg = spectrogram_settings(kind=kind, sample_rate=SR, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
    x = chirp_batch(2, length)
    db, ref = spectrogram_db(x, config=cfg)
    f = n_mels if kind == "mel" else n_fft // 2 + 1
    t = 1 + length // hop
    assert db.shape == (2, f, t) == (2, cfg.n_freqs, cfg.n_frames(length))
    assert db.dtype == np.float32 and ref.shape == (2,)
    assert len(cfg.freqs_hz()) == f and np.all(np.diff(cfg.freqs_hz()) > 0)


@pytest.mark.parametrize("kind", ["linear", "mel"])
def test_matches_librosa_and_db_convention(kind):
    import librosa

    cfg = spectrogram_settings(kind=kind, sample_rate=SR, n_fft=256, hop_length=128, n_mels=64, top_db=80.0)
    x = chirp_batch(2)
    db, ref = spectrogram_db(x, config=cfg)
    for i in range(2):
        mag = np.abs(librosa.stft(x[i], n_fft=256, hop_length=128, center=True, pad_mode="constant"))
        if kind == "mel":
            mag = np.sqrt(librosa.feature.melspectrogram(S=mag ** 2, sr=SR, n_fft=256, n_mels=64))
        assert ref[i] == pytest.approx(mag.max(), rel=1e-4)
        expected = np.maximum(20 * np.log10(np.maximum(mag, 1e-5) / mag.max()), -80.0)
        assert np.abs(db[i] - expected).max() < 0.01
        assert db[i].max() == 0.0 and db[i].min() >= -80.0
        # undoing the dB scaling gives the magnitudes back wherever they were above the floor
        above = expected > -79.0
        back = db_to_amplitude(db[i], ref_amplitude=ref[i])
        assert np.allclose(back[above], mag[above], rtol=2e-3)


def test_silent_segment_is_all_floor():
    cfg = spectrogram_settings(kind="linear", sample_rate=SR, n_fft=256, hop_length=128, top_db=60.0)
    db, ref = spectrogram_db(np.zeros((1, 4000), np.float32), config=cfg)
    assert ref[0] == 0.0 and np.all(db == -60.0)


def test_single_signal_stft_and_phase():
    cfg = spectrogram_settings(kind="linear", sample_rate=SR, n_fft=256, hop_length=128)
    y = chirp_batch(1)[0]
    s = stft(y, config=cfg)
    assert s.shape == (129, 1 + len(y) // 128) and np.iscomplexobj(s)
    ph = phase(y, config=cfg)
    assert np.allclose(np.abs(ph), 1.0, atol=1e-5)
    assert np.allclose(np.abs(s) * ph, s, atol=1e-4)


def test_inversion_with_source_phase_is_near_exact_for_linear():
    cfg = spectrogram_settings(kind="linear", sample_rate=SR, n_fft=256, hop_length=128, top_db=100.0)
    y = chirp_batch(1)[0]
    db, ref = spectrogram_db(y[None], config=cfg)
    back = db_to_audio(db[0], config=cfg, ref_amplitude=float(ref[0]), length=len(y), source_audio=y)
    assert back.shape == y.shape
    snr = 10 * np.log10(np.sum(y ** 2) / np.sum((back - y) ** 2))
    assert snr > 30.0


def test_masking_removes_the_masked_band_and_keeps_the_rest():
    cfg = spectrogram_settings(kind="linear", sample_rate=SR, n_fft=256, hop_length=128)
    t = np.arange(16000) / SR
    low, high = 0.3 * np.sin(2 * np.pi * 500 * t), 0.3 * np.sin(2 * np.pi * 2500 * t)
    y = (low + high).astype(np.float32)
    db, ref = spectrogram_db(y[None], config=cfg)
    masked = db[0].copy()
    masked[cfg.freqs_hz() > 1500] = -100.0
    back = db_to_audio(masked, config=cfg, ref_amplitude=float(ref[0]), length=len(y), source_audio=y)
    err = 10 * np.log10(np.sum(low[400:-400] ** 2) / np.sum((back - low)[400:-400] ** 2))
    assert err > 20.0


def test_mel_inversion_and_griffin_lim_recover_the_spectrum():
    cfg = spectrogram_settings(kind="mel", sample_rate=SR, n_fft=256, hop_length=64, n_mels=64)
    y = chirp_batch(1, 8000)[0]
    db, ref = spectrogram_db(y[None], config=cfg)
    for src in (y, None):
        back = db_to_audio(db[0], config=cfg, ref_amplitude=float(ref[0]), length=len(y),
                           source_audio=src, n_iter=32)
        db2, _ = spectrogram_db(back[None], config=cfg)
        loud = db[0] > -30
        assert np.median(np.abs(db2[0][loud] - db[0][loud])) < 3.0   # within 3 dB where it matters
    lin = spectrogram_settings(kind="linear", sample_rate=SR, n_fft=256, hop_length=64)
    d, r = spectrogram_db(y[None], config=lin)
    a = db_to_audio(d[0], config=lin, ref_amplitude=float(r[0]), length=len(y), seed=1)
    b = db_to_audio(d[0], config=lin, ref_amplitude=float(r[0]), length=len(y), seed=1)
    assert np.array_equal(a, b)  # Griffin-Lim is seeded


def test_config_round_trip_and_errors():
    cfg = spectrogram_settings(kind="mel", sample_rate=SR, n_fft=256, hop_length=128, n_mels=40,
                            fmin=50.0, fmax=3800.0, top_db=70.0)
    meta = {**cfg.to_dict(), "shape": [40, 126]}
    assert SpectrogramConfig.from_meta(meta) == cfg
    with pytest.raises(ValueError, match="fmax"):
        spectrogram_settings(kind="mel", sample_rate=SR, n_fft=256, hop_length=128, fmax=5000.0)
    with pytest.raises(ValueError, match="kind"):
        spectrogram_settings(kind="cqt", sample_rate=SR, n_fft=256, hop_length=128)


def test_read_segment_audio_pads_beyond_the_end(tmp_path):
    from audiolens.io import write_audio

    y = np.linspace(-0.5, 0.5, 1000).astype(np.float32)
    write_audio(tmp_path / "clean" / "rec.wav", y, SR)
    row = {"audio_dir": "clean", "recording_id": "rec", "start": 800, "end": 1300}
    seg = read_segment_audio(row, root=tmp_path)
    assert seg.shape == (500,) and np.array_equal(seg[:200], y[800:]) and not seg[200:].any()
