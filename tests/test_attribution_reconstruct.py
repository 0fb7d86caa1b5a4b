"""Mask-and-reconstruct: all-ones mask gives the audio back; masks remove what they should."""
from __future__ import annotations

import numpy as np
import pytest

from audiolens.features import spectrogram_db
from audiolens.attribution.reconstruct import error_db, masked_audio, roundtrip_probs, write_example_wavs

from conftest import spectrogram_settings

SR = 8000


def signal(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    y = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * (300 + 1500 * t) * t)
    return (y + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("kind", ["linear", "mel"])
def test_all_ones_mask_returns_original_audio(kind):
    cfg = spectrogram_settings(kind=kind, sample_rate=SR, n_fft=256, hop_length=64, n_mels=128)
    y = signal()
    db, ref = spectrogram_db(y[None], config=cfg)
    out = masked_audio(db[0], np.ones_like(db[0]), config=cfg, ref_amplitude=float(ref[0]), source_audio=y,
                       length=y.size, floor_db=-100.0)   # below the -80 dB top_db clip (default: the minimum)
    err = error_db(y, out["masked_in"])
    # linear: exact up to the top_db clip; mel: through the NNLS mel -> linear map
    assert err < (-40.0 if kind == "linear" else -10.0), err
    # the complement of an all-ones mask is (almost) silence: every bin at the -100 dB floor
    # (mel: the NNLS mel -> linear map spreads the floor over the linear bins)
    rel = np.sqrt(np.mean(out["masked_out"] ** 2) / np.mean(y ** 2))
    assert rel < (1e-3 if kind == "linear" else 0.1), rel


def test_low_band_mask_keeps_low_tone_and_removes_it_from_complement():
    cfg = spectrogram_settings(kind="linear", sample_rate=SR, n_fft=256, hop_length=64)
    t = np.arange(SR) / SR
    low, high = np.sin(2 * np.pi * 500 * t), np.sin(2 * np.pi * 3000 * t)
    y = (low + high).astype(np.float32)
    db, ref = spectrogram_db(y[None], config=cfg)
    freqs = cfg.freqs_hz()
    mask = np.repeat((freqs < 1500).astype(np.float32)[:, None], db.shape[2], axis=1)
    out = masked_audio(db[0], mask, config=cfg, ref_amplitude=float(ref[0]), source_audio=y, length=y.size)
    assert error_db(low, out["masked_in"]) < -30
    assert error_db(high, out["masked_out"]) < -30


def test_griffin_lim_when_no_phase():
    cfg = spectrogram_settings(kind="linear", sample_rate=SR, n_fft=256, hop_length=64)
    y = signal(0.5)
    db, ref = spectrogram_db(y[None], config=cfg)
    out = masked_audio(db[0], np.ones_like(db[0]), config=cfg, ref_amplitude=float(ref[0]), source_audio=None,
                       length=y.size)["masked_in"]
    # phase differs, but the magnitude spectrogram comes back close
    db2, _ = spectrogram_db(out[None], config=cfg)
    assert np.mean(np.abs(db2 - db)[db > -40]) < 6.0


def low_band_predict(db):
    """A stand-in model ``(n, F, T) -> (n, 2)``: P(class 1) grows with the mean dB of the low band."""
    z = db[:, :20].mean(axis=(1, 2)) / 10 + 4
    p1 = 1 / (1 + np.exp(-z))
    return np.stack([1 - p1, p1], axis=1)


def test_roundtrip_probs_and_wavs(tmp_path):
    import soundfile as sf

    cfg = spectrogram_settings(kind="linear", sample_rate=SR, n_fft=256, hop_length=64)
    ys = [signal(0.5, seed=s) for s in range(2)]
    x, ref = spectrogram_db(np.stack(ys), config=cfg)

    masks = np.zeros_like(x)
    masks[:, :20] = 1.0
    kw = dict(config=cfg, ref_amplitude=ref, source_audio=ys)
    p, none = roundtrip_probs(low_band_predict, x, np.ones_like(x), complement=False, **kw)
    assert none is None
    np.testing.assert_allclose(p, low_band_predict(x), atol=1e-3)     # unmasked round trip is faithful
    p_in, p_out = roundtrip_probs(low_band_predict, x, masks, **kw)
    np.testing.assert_allclose(p_in, p, atol=1e-2)           # the low band carries the evidence (up to leakage)
    assert (p_out[:, 1] < p[:, 1]).all()                     # removing the low band lowers p_1
    paths = write_example_wavs(tmp_path, "ex0", original=ys[0], masked_in=ys[0] * 0.5, masked_out=ys[0] * 0.1,
                               sample_rate=SR)
    assert [p.name for p in paths] == ["ex0_original.wav", "ex0_masked_in.wav", "ex0_masked_out.wav"]
    a, sr = sf.read(paths[0])
    b, _ = sf.read(paths[1])
    assert sr == SR and np.abs(a).max() == pytest.approx(0.9, rel=1e-5)
    np.testing.assert_allclose(b, 0.5 * a, atol=1e-6)        # one shared gain


def test_roundtrip_removed_bins_take_the_given_fill():
    """With ``fill``, removed bins are resynthesised from it, not from the floor: filling with the
    spectrogram itself makes an all-zeros mask a faithful round trip; the floor makes it silence."""
    cfg = spectrogram_settings(kind="linear", sample_rate=SR, n_fft=256, hop_length=64)
    ys = [signal(0.5, seed=s) for s in range(2)]
    x, ref = spectrogram_db(np.stack(ys), config=cfg)
    kw = dict(config=cfg, ref_amplitude=ref, source_audio=ys)
    p = roundtrip_probs(low_band_predict, x, np.ones_like(x), complement=False, **kw)[0]
    nothing = np.zeros_like(x)
    p_fill, p_fill_out = roundtrip_probs(low_band_predict, x, nothing, fill=x, **kw)
    np.testing.assert_allclose(p_fill, p, atol=1e-3)        # every bin removed, each refilled with itself
    np.testing.assert_allclose(p_fill_out, p, atol=1e-3)    # the complement keeps everything
    p_floor = roundtrip_probs(low_band_predict, x, nothing, complement=False, **kw)[0]
    assert (np.abs(p_floor[:, 1] - p[:, 1]) > 0.05).all()   # without the fill: the floor, a different input
