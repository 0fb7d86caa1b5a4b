"""Signals for the out-of-distribution check: a generated non-speech set and a speech-presence test.

:func:`generate_ood_set` synthesises seeded clips the gate must never accept (tones, tone
bursts, syllable-rate amplitude-modulated tones, chirps, white / pink noise, noise bursts,
click trains, music-like harmonic note sequences). :func:`speech_presence` measures the two
properties speech has and a tone or stationary noise lacks: energy modulated at syllable
rate (2-8 Hz) and a pitch that varies and glides (a held note does not).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

__all__ = ["OOD_KINDS", "OODClip", "generate_ood_set", "SpeechThresholds", "speech_features", "speech_presence"]

OOD_KINDS = ("tone", "tone_burst", "am_tone", "chirp", "white_noise", "pink_noise", "noise_burst",
             "clicks", "harmonics")


@dataclass(frozen=True)
class OODClip:
    """One generated clip: ``kind`` (of :data:`OOD_KINDS`), a ``name``, ``audio`` float32 (n,) at ``sample_rate`` Hz."""

    kind: str
    name: str
    audio: np.ndarray
    sample_rate: int


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    b, a = [0.049922, -0.095993, 0.050612, -0.004408], [1, -2.494956, 2.017265, -0.522189]
    p = signal.lfilter(b, a, rng.standard_normal(n))
    return p / (np.std(p) + 1e-12)


def _gate(t: np.ndarray, rate_hz: float, duty: float) -> np.ndarray:
    """On/off envelope at ``rate_hz`` with ``duty`` fraction on, 5 ms ramps."""
    on = ((t * rate_hz) % 1.0 < duty).astype(float)
    k = max(1, int(0.005 / max(t[1] - t[0], 1e-9)))
    return np.convolve(on, np.ones(k) / k, mode="same")


def _clip(kind: str, n: int, sr: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    t = np.arange(n) / sr
    nyq = sr / 2
    if kind in ("tone", "tone_burst", "am_tone"):
        f = float(np.exp(rng.uniform(np.log(60.0), np.log(0.45 * sr))))
        y = np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        if kind == "tone":
            return y, f"{f:.0f}Hz"
        rate = float(rng.uniform(1.0, 10.0) if kind == "tone_burst" else rng.uniform(2.0, 8.0))
        if kind == "tone_burst":
            return y * _gate(t, rate, float(rng.uniform(0.3, 0.7))), f"{f:.0f}Hz_{rate:.1f}per_s"
        depth = float(rng.uniform(0.6, 1.0))
        return y * (1 - depth * 0.5 * (1 + np.sin(2 * np.pi * rate * t))), f"{f:.0f}Hz_am{rate:.1f}Hz"
    if kind == "chirp":
        f0, f1 = sorted(float(x) for x in np.exp(rng.uniform(np.log(50.0), np.log(0.45 * sr), 2)))
        if rng.random() < 0.5:
            f0, f1 = f1, f0
        method = ("linear", "logarithmic")[int(rng.integers(2))]
        period = float(rng.choice([t[-1] + 1 / sr, rng.uniform(0.2, 1.0)]))  # one sweep or repeated sweeps
        return signal.chirp(t % period, f0=f0, t1=period, f1=f1, method=method), f"{f0:.0f}-{f1:.0f}Hz_{method}"
    if kind in ("white_noise", "pink_noise", "noise_burst"):
        y = rng.standard_normal(n) if kind != "pink_noise" else _pink(n, rng)
        if kind == "noise_burst":
            rate = float(rng.uniform(1.0, 8.0))
            return y * _gate(t, rate, float(rng.uniform(0.2, 0.6))), f"{rate:.1f}per_s"
        return y, "stationary"
    if kind == "clicks":
        rate = float(np.exp(rng.uniform(np.log(1.0), np.log(40.0))))
        y = np.zeros(n)
        y[(np.arange(0.0, t[-1], 1 / rate) * sr).astype(int)] = 1.0
        if rng.random() < 0.5:  # resonant clicks (e.g. a metronome)
            y = signal.lfilter([1.0], [1.0, -1.8 * np.cos(2 * np.pi * rng.uniform(500, 0.4 * sr) / sr), 0.81], y)
        return y, f"{rate:.1f}per_s"
    if kind == "harmonics":  # a melody of harmonic notes with attack/decay envelopes
        y = np.zeros(n)
        pos = 0
        while pos < n:
            d = int(rng.uniform(0.12, 0.5) * sr)
            f0 = float(110.0 * 2 ** (rng.integers(0, 30) / 12))
            tt = np.arange(min(d, n - pos)) / sr
            note = sum((0.7 ** h) * np.sin(2 * np.pi * f0 * (h + 1) * tt)
                       for h in range(int(rng.integers(3, 9))) if f0 * (h + 1) < 0.95 * nyq)
            y[pos:pos + tt.size] += note * np.exp(-tt * rng.uniform(2, 10)) * np.minimum(1, tt / 0.01)
            pos += d
        return y, "melody"
    raise ValueError(f"unknown OOD kind {kind!r} (allowed: {', '.join(OOD_KINDS)})")


def generate_ood_set(*, n_clips: int, duration_s: float, sample_rate: int, seed: int) -> list[OODClip]:
    """Seeded non-speech clips, the kinds in turn (clip ``i`` is ``OOD_KINDS[i % 9]``).

    Every clip has a random peak level (0.05-0.9); half of them start with 0.5 s of faint
    noise (-50 dB) so they look like a recording made in a room, as the training data do.

    Parameters
    ----------
    n_clips : int
        Number of clips (>= 1).
    duration_s : float
        Seconds per clip.
    sample_rate : int
        Hz (the pipeline's working rate).
    seed : int
        Same arguments -> identical clips.

    Returns
    -------
    list of OODClip
    """
    if n_clips < 1 or duration_s <= 0 or sample_rate < 1000:
        raise ValueError(f"need n_clips >= 1, duration_s > 0, sample_rate >= 1000 "
                         f"(got {n_clips}, {duration_s}, {sample_rate})")
    n = int(round(duration_s * sample_rate))
    out = []
    for i in range(n_clips):
        kind = OOD_KINDS[i % len(OOD_KINDS)]
        rng = np.random.default_rng([seed, i])
        y, desc = _clip(kind, n, sample_rate, rng)
        y = np.asarray(y, dtype=np.float64)
        y = y / (np.max(np.abs(y)) + 1e-12) * rng.uniform(0.05, 0.9)
        if rng.random() < 0.5:
            lead = int(0.5 * sample_rate)
            y = np.concatenate([np.zeros(lead), y])[:n]
            y += 10 ** (-50 / 20) * rng.standard_normal(n)
        out.append(OODClip(kind=kind, name=f"{i:04d}_{kind}_{desc}", audio=y.astype(np.float32),
                           sample_rate=sample_rate))
    return out


@dataclass(frozen=True, kw_only=True)
class SpeechThresholds:
    """Speech is present when all four hold.

    Attributes
    ----------
    min_modulation : float
        Syllable-rate (2-8 Hz) modulation depth of the frame-level envelope (std of the
        band-passed envelope / its mean); a steady tone or noise gives ~0-0.05.
    min_pitch_st : float
        Spread (standard deviation, semitones) of the autocorrelation pitch over voiced frames.
    max_steady : float
        Most fraction of steady-pitch frame steps (held notes and tones are steady).
    min_voiced : float
        Fraction of frames that are voiced (60-400 Hz periodicity).
    """

    min_modulation: float
    min_pitch_st: float
    max_steady: float
    min_voiced: float


def _frames(y: np.ndarray, size: int, hop: int) -> np.ndarray:
    if y.size < size:
        y = np.pad(y, (0, size - y.size))
    k = 1 + (y.size - size) // hop
    return np.lib.stride_tricks.as_strided(y, (k, size), (y.strides[0] * hop, y.strides[0]))


def _pitch_track(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation pitch of 40 ms frames every 10 ms: ``(semitones re 1 Hz (m,), voiced (m,) bool)``.

    A frame is voiced when it is within 30 dB of the loudest frame and its normalised
    autocorrelation peaks at >= 0.5 for a lag of a 60-400 Hz period; the period is the first
    lag reaching 90 % of that peak, refined to its local maximum by parabolic interpolation.
    """
    size, hop = int(0.04 * sr), max(1, sr // 100)
    fr = _frames(y, size, hop)
    level = 10 * np.log10(np.mean(np.square(fr), axis=1) + 1e-20)
    fr = fr * np.hanning(size)
    nfft = int(2 ** np.ceil(np.log2(2 * size)))
    acf = np.fft.irfft(np.abs(np.fft.rfft(fr, nfft, axis=1)) ** 2, nfft, axis=1)[:, :size]
    acf = acf / np.maximum(acf[:, :1], 1e-20)
    lo, hi = max(1, int(sr / 400)), min(size - 2, int(sr / 60))
    band = acf[:, lo:hi + 1]
    rows = np.arange(len(band))
    voiced = (band.max(axis=1) >= 0.5) & (level > level.max() - 30)
    i = np.argmax(band >= 0.9 * band.max(axis=1, keepdims=True), axis=1)
    for _ in range(4):  # climb to the local maximum
        nxt = np.minimum(i + 1, band.shape[1] - 1)
        i = np.where(band[rows, nxt] > band[rows, i], nxt, i)
    a, b, c = band[rows, np.maximum(i - 1, 0)], band[rows, i], band[rows, np.minimum(i + 1, band.shape[1] - 1)]
    den = a - 2 * b + c
    off = np.clip(np.divide(0.5 * (a - c), den, out=np.zeros_like(den), where=np.abs(den) > 1e-12), -0.5, 0.5)
    return 12 * np.log2(sr / (lo + i + off)), voiced


def speech_features(y: np.ndarray, sr: int) -> dict[str, float]:
    """Syllable-rate modulation, pitch spread and voiced fraction of a mono recording.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Audio (any level).
    sr : int
        Hz.

    Returns
    -------
    dict
        ``modulation`` (std of the 2-8 Hz band of the 10 ms RMS envelope over its mean),
        ``pitch_st`` (std of the voiced frames' F0 in semitones), ``pitch_steady`` (fraction
        of consecutive voiced frame pairs, 10 ms apart, whose F0 differs by < 0.05 semitone:
        ~1 for tones and musical notes, < 0.65 for speech, whose pitch glides), ``voiced``
        (fraction of voiced frames, see ``_pitch_track``).
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    y = y - y.mean() if y.size else y
    hop, win = max(1, sr // 100), max(2, sr // 50)
    env = np.sqrt(np.mean(np.square(_frames(y, win, hop)), axis=1))
    mod = 0.0
    if env.size >= 16 and env.mean() > 0:
        spec = np.fft.rfft(env - env.mean())
        freqs = np.fft.rfftfreq(env.size, d=hop / sr)
        spec[(freqs < 2.0) | (freqs > 8.0)] = 0
        mod = float(np.std(np.fft.irfft(spec, n=env.size)) / env.mean())
    st, voiced = _pitch_track(y, sr)
    f0 = st[voiced]
    pitch = float(np.std(f0)) if f0.size >= 5 else 0.0
    pairs = voiced[1:] & voiced[:-1]
    steps = np.abs(np.diff(st))[pairs]
    steady = float(np.mean(steps < 0.05)) if steps.size >= 5 else 0.0
    return {"modulation": mod, "pitch_st": pitch, "pitch_steady": steady,
            "voiced": float(voiced.mean()) if voiced.size else 0.0}


def speech_presence(y: np.ndarray, sr: int, thresholds: SpeechThresholds) -> dict:
    """:func:`speech_features` plus ``passed`` (bool): every feature on the speech side of ``thresholds``."""
    f = speech_features(y, sr)
    t = thresholds
    f["passed"] = bool(f["modulation"] >= t.min_modulation and f["pitch_st"] >= t.min_pitch_st
                       and f["pitch_steady"] <= t.max_steady and f["voiced"] >= t.min_voiced)
    return f
