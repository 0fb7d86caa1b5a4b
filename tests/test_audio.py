"""Signal operations: resample, silence removal, noise reduction, time stretch, clean_signal."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from audiolens.audio import (DenoiseSkipped, clean_signal, denoise, remove_silence,
                             resample, silence_mask, time_stretch, to_mono)
from conftest import clean_settings

SR = 8000


def _denoise(y, **options):
    """``denoise`` at 0.5 s of noise profile, with the params.yaml defaults for what a test does not set."""
    from audiolens.config.preprocess import CleanParams

    d = CleanParams()
    defaults = dict(stationary=d.stationary, prop_decrease=d.prop_decrease, freq_smooth_hz=d.freq_smooth_hz,
                    time_smooth_ms=d.time_smooth_ms)
    return denoise(y, sr=SR, noise_profile_s=0.5, **{**defaults, **options})


def tone(seconds: float, *, freq: float = 440.0, amp: float = 0.5, sr: int = SR, phase: float = 0.3):
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def peak_freq(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spec)])


def test_to_mono_and_resample_keep_the_tone():
    stereo = np.stack([tone(1.0, sr=16000), tone(1.0, sr=16000)], axis=1)
    mono = to_mono(stereo)
    assert mono.shape == (16000,) and mono.dtype == np.float32
    out = resample(mono, sr_in=16000, sr_out=SR)
    assert out.shape == (8000,) and out.dtype == np.float32
    assert abs(peak_freq(out, SR) - 440.0) < 2.0
    # an alias-prone 6 kHz tone is filtered out when going to 8 kHz (Nyquist 4 kHz)
    hi = resample(tone(1.0, freq=6000.0, sr=16000), sr_in=16000, sr_out=SR)
    assert np.sqrt(np.mean(hi[200:-200] ** 2)) < 0.01
    odd = resample(tone(1.0, sr=44100), sr_in=44100, sr_out=SR)
    assert odd.shape == (8000,)
    with pytest.raises(ValueError, match="sample rates"):
        resample(mono, sr_in=0, sr_out=SR)


@pytest.mark.parametrize("noise_db", [None, -60.0])
def test_silence_removal_cuts_inserted_silences_to_within_one_frame(noise_db):
    rng = np.random.default_rng(1)
    frame_ms = 25.0
    frame = int(frame_ms * SR / 1000)
    parts, silences, tones = [], [], []
    pos = 0
    for kind, sec in [("s", 0.21), ("t", 0.5), ("s", 0.3), ("t", 0.4), ("s", 0.257), ("t", 0.6), ("s", 0.15)]:
        if kind == "t":
            x = tone(sec, freq=300 + 100 * len(tones))
            tones.append(x)
        else:
            x = np.zeros(int(round(sec * SR)), np.float32)
            silences.append((pos, pos + len(x)))
        parts.append(x)
        pos += len(x)
    y = np.concatenate(parts)
    if noise_db is not None:
        y = y + (10 ** (noise_db / 20) * 0.5 * rng.standard_normal(len(y))).astype(np.float32)
    mask = silence_mask(y, sr=SR, frame_ms=frame_ms, threshold_db=-35.0)
    for a, b in silences:  # every inserted silence is found, leaving less than a frame of it
        assert (b - a) - mask[a:b].sum() < frame, (a, b, mask[a:b].sum())
    tone_samples = ~np.isin(np.arange(len(y)), np.concatenate([np.arange(a, b) for a, b in silences]))
    assert mask[tone_samples].mean() < 0.001  # the tones are (essentially) untouched
    out = remove_silence(y, sr=SR, frame_ms=frame_ms, threshold_db=-35.0, min_silence_s=0.05)
    n_tone = sum(len(t) for t in tones)
    assert n_tone - 8 <= len(out) <= n_tone + len(silences) * frame
    assert np.sum(out.astype(np.float64) ** 2) >= 0.999 * sum(np.sum(t.astype(np.float64) ** 2) for t in tones)


def test_cuts_join_without_a_click():
    a, b = tone(0.303, freq=300.0), tone(0.3, freq=300.0)  # cut points off the analysis hop grid
    t = np.arange(2417) / SR
    drift = (0.006 * np.cos(2 * np.pi * 5 * t)).astype(np.float32)  # a -40 dB hum: +0.006 ... -0.006
    y = np.concatenate([a, drift, b])
    for fade_ms, limit in [(2.0, 1e-3), (0.0, None)]:
        out = remove_silence(y, sr=SR, frame_ms=25.0, threshold_db=-35.0, min_silence_s=0.1, fade_ms=fade_ms)
        assert np.array_equal(out[: len(a)], a) and np.array_equal(out[-len(b):], b)  # tones untouched
        gap = out[len(a): len(out) - len(b)]
        assert len(gap) < int(0.025 * SR)
        jump = np.abs(np.diff(gap)).max() if len(gap) > 1 else 0.0
        if limit is not None:
            assert jump < limit, jump  # faded: no step at the join
        else:
            assert jump > 3e-3, jump   # a hard cut steps across the hum


def test_short_pauses_are_kept_and_an_all_silent_signal_empties():
    gap = np.zeros(int(0.05 * SR), np.float32)
    y = np.concatenate([tone(0.3), gap, tone(0.3)])
    kept = remove_silence(y, sr=SR, frame_ms=20.0, threshold_db=-35.0, min_silence_s=0.1)
    assert len(kept) == len(y)
    cut = remove_silence(y, sr=SR, frame_ms=20.0, threshold_db=-35.0, min_silence_s=0.01)
    assert len(cut) < len(y) - len(gap) // 2
    assert len(remove_silence(np.zeros(4000, np.float32), sr=SR, frame_ms=25.0, threshold_db=-35.0)) == 0
    assert len(remove_silence(np.zeros(0, np.float32), sr=SR, frame_ms=25.0, threshold_db=-35.0)) == 0


def _noise_floor_db(y: np.ndarray, tone_hz: float) -> tuple[float, float]:
    f, p = welch(y, fs=SR, nperseg=512)
    away = (np.abs(f - tone_hz) > 150) & (f > 100) & (f < SR / 2 - 100)
    at = np.argmin(np.abs(f - tone_hz))
    return float(10 * np.log10(np.median(p[away]))), float(10 * np.log10(p[at - 1: at + 2].sum()))


@pytest.mark.parametrize("stationary", [True, False])
def test_noise_reduction_lowers_the_floor_and_keeps_the_tone(stationary):
    rng = np.random.default_rng(0)
    n_lead = int(0.5 * SR)
    sound = tone(4.0, freq=1000.0, amp=0.3)
    if not stationary:  # a steady tone *is* stationary noise to the non-stationary gate: pulse it
        sound = sound * ((np.arange(len(sound)) / SR) % 0.5 < 0.2)
    clean = np.concatenate([np.zeros(n_lead, np.float32), sound])
    noisy = clean + (0.03 * rng.standard_normal(len(clean))).astype(np.float32)
    out = _denoise(noisy, stationary=stationary)
    assert out.shape == noisy.shape and out.dtype == np.float32
    floor_in, tone_in = _noise_floor_db(noisy[n_lead:], 1000.0)
    floor_out, tone_out = _noise_floor_db(out[n_lead:], 1000.0)
    assert floor_in - floor_out >= 6.0, (floor_in, floor_out)
    assert abs(tone_in - tone_out) < (1.0 if stationary else 2.0), (tone_in, tone_out)


def test_noise_reduction_with_real_noise(shared_data):
    from audiolens.io import read_audio

    noise, sr = read_audio(shared_data / "noises" / "165058__theundecided__white-noise.wav")
    noise = resample(noise, sr_in=sr, sr_out=SR)[: int(4.5 * SR)]
    noise = 0.03 * noise / np.std(noise)
    clean = np.concatenate([np.zeros(SR // 2, np.float32), tone(4.0, freq=1000.0, amp=0.3)])
    noisy = clean + noise[: len(clean)]
    out = _denoise(noisy, stationary=True)
    floor_in, tone_in = _noise_floor_db(noisy[SR // 2:], 1000.0)
    floor_out, tone_out = _noise_floor_db(out[SR // 2:], 1000.0)
    assert floor_in - floor_out >= 6.0 and abs(tone_in - tone_out) < 1.0


def test_default_noisereduce_smoothing_would_eat_the_tone():
    """Why ``freq_smooth_hz`` exists: 500 Hz mask smoothing attenuates a tone by > 6 dB."""
    rng = np.random.default_rng(0)
    noisy = np.concatenate([np.zeros(SR // 2, np.float32), tone(3.0, freq=1000.0, amp=0.3)])
    noisy = noisy + (0.03 * rng.standard_normal(len(noisy))).astype(np.float32)
    wide = _denoise(noisy, freq_smooth_hz=500.0)
    narrow = _denoise(noisy, freq_smooth_hz=50.0)
    assert _noise_floor_db(narrow[SR // 2:], 1000.0)[1] - _noise_floor_db(wide[SR // 2:], 1000.0)[1] > 6.0


def test_denoise_refuses_a_profile_that_is_not_noise():
    with pytest.raises(DenoiseSkipped, match="too short"):
        _denoise(tone(0.6))
    with pytest.raises(DenoiseSkipped, match="not quieter"):  # speech from the first sample (FSDD)
        _denoise(tone(2.0) + 0.01)
    rng = np.random.default_rng(0)
    noisy = np.concatenate([np.zeros(SR // 2, np.float32), tone(2.0)])
    noisy = noisy + (0.01 * rng.standard_normal(len(noisy))).astype(np.float32)
    for f_hz, t_ms in [(0.0, 0.0), (10.0, 5.0)]:  # below one bin / one hop: no smoothing, no error
        out = _denoise(noisy, freq_smooth_hz=f_hz, time_smooth_ms=t_ms)
        assert _noise_floor_db(out[SR // 2:], 440.0)[0] < _noise_floor_db(noisy[SR // 2:], 440.0)[0] - 6


@pytest.mark.parametrize("factor", [0.35, 0.8, 1.25, 2.0])
def test_time_stretch_changes_duration_by_the_factor_and_keeps_pitch(factor):
    y = tone(1.5, freq=500.0)
    z = time_stretch(y, sr=SR, factor=factor)
    assert abs(len(z) - len(y) / factor) <= 1
    assert z.dtype == np.float32
    mid = z[len(z) // 4: 3 * len(z) // 4]
    assert abs(peak_freq(mid, SR) - 500.0) < 10.0
    short = time_stretch(tone(0.02), sr=SR, factor=factor)  # shorter than the STFT window
    assert abs(len(short) - 160 / factor) <= 1
    with pytest.raises(ValueError, match="factor"):
        time_stretch(y, sr=SR, factor=0.0)


def test_clean_signal_steps_and_unprocessed_path():
    rng = np.random.default_rng(3)
    lead = (0.01 * rng.standard_normal(SR // 2)).astype(np.float32)
    body = np.concatenate([tone(1.0), np.zeros(SR // 2, np.float32), tone(1.0)])
    body = body + (0.01 * rng.standard_normal(len(body))).astype(np.float32)
    y16 = resample(np.concatenate([lead, body]), sr_in=SR, sr_out=16000)
    stereo = np.stack([y16, y16], axis=1)
    full, info = clean_signal(stereo, sr=16000, settings=clean_settings(sample_rate=SR))
    assert info["denoised"] and info["denoise_note"] == ""
    assert info["duration_in_s"] == pytest.approx(3.0, abs=1e-3)
    assert 1.9 <= info["duration_out_s"] <= 2.2  # lead noise and the 0.5 s pause removed
    assert info["removed_fraction"] == pytest.approx(1 - len(full) / (3 * SR))
    raw, info0 = clean_signal(stereo, sr=16000, settings=clean_settings(sample_rate=SR, enabled=False))
    assert len(raw) == 3 * SR and not info0["denoised"] and info0["removed_fraction"] == 0.0
    short, info1 = clean_signal(tone(0.4), sr=SR, settings=clean_settings(sample_rate=SR))
    assert not info1["denoised"] and "too short" in info1["denoise_note"] and len(short) > 0
