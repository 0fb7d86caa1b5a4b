"""Synthetic DAPS-like demo corpus, pure numpy/scipy, deterministic by seed.

Each speaker (named like DAPS: ``f1..f10``, ``m1..m10``) gets a voice profile: a
fundamental frequency range (female ~165-255 Hz, male ~85-150 Hz), a vocal-tract
length factor that scales the formants, a speaking rate and a breathiness level.
An utterance is a sequence of words made of syllables (optional fricative burst +
a voiced vowel: a glottal pulse train shaped by three formant resonators and an
intonation contour), separated by short gaps and longer pauses, so silence removal
has work to do. Stationary pink-ish background noise runs through the whole file
and is alone for the first ``noise_lead_s`` seconds, so noise reduction has a profile.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal

__all__ = ["VoiceProfile", "voice_profile", "synth_utterance", "demo_filename", "write_demo_corpus"]

# (F1, F2, F3) in Hz for an adult male vocal tract; scaled per speaker.
_VOWELS = np.array([
    [730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480],
    [570, 840, 2410], [660, 1720, 2410], [440, 1020, 2240], [490, 1350, 1690],
], dtype=float)
_BANDWIDTHS = np.array([90.0, 110.0, 170.0])


@dataclass(frozen=True)
class VoiceProfile:
    """A synthetic speaker's voice.

    Attributes
    ----------
    f0_hz : float
        Mean fundamental frequency (Hz).
    f0_range : float
        Relative intonation excursion (fraction of ``f0_hz``).
    formant_scale : float
        Multiplier applied to all formant frequencies (shorter tract → larger).
    syllable_s : float
        Mean syllable duration (s); the inverse speaking rate.
    breathiness : float
        Aspiration noise level relative to the voiced source (0..1).
    tilt : float
        One-pole glottal low-pass coefficient (spectral tilt, 0..1).
    timbre_hz : float
        A fixed, vowel-independent resonance (Hz) that colours every voiced sound
        (nasal/sinus cavity), the main cue that tells speakers of similar pitch apart.
    fricative_hz : float
        Centre of the speaker's fricative noise band (Hz, at 16 kHz and above).
    """

    f0_hz: float
    f0_range: float
    formant_scale: float
    syllable_s: float
    breathiness: float
    tilt: float
    timbre_hz: float
    fricative_hz: float


def _stable_seed(*parts: object) -> list[int]:
    return [zlib.crc32(str(p).encode()) for p in parts]


def voice_profile(speaker: str, *, seed: int = 0) -> VoiceProfile:
    """Deterministic voice profile of a speaker name (``f*`` female, otherwise male)."""
    rng = np.random.default_rng(_stable_seed("voice", seed, speaker))
    female = speaker.lower().startswith("f")
    return VoiceProfile(
        f0_hz=float(rng.uniform(165, 255) if female else rng.uniform(85, 150)),
        f0_range=float(rng.uniform(0.08, 0.25)),
        formant_scale=float(rng.uniform(1.05, 1.35) if female else rng.uniform(0.85, 1.1)),
        syllable_s=float(rng.uniform(0.12, 0.24)),
        breathiness=float(rng.uniform(0.02, 0.25)),
        tilt=float(rng.uniform(0.85, 0.97)),
        timbre_hz=float(rng.uniform(900, 3400)),
        fricative_hz=float(rng.uniform(2800, 5500)),
    )


def _vowel(profile: VoiceProfile, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One voiced syllable nucleus of ``n`` samples."""
    if n < 16:
        return np.zeros(n)
    t = np.arange(n) / sr
    contour = 1.0 + profile.f0_range * (rng.uniform(-1, 1) * np.linspace(0, 1, n)
                                        + 0.3 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))
    f0 = profile.f0_hz * contour * (1 + 0.01 * rng.standard_normal(n).cumsum() / np.sqrt(n))
    phase = np.cumsum(f0 / sr)
    pulses = np.diff(np.floor(phase), prepend=0.0).astype(float)
    source = signal.lfilter([1.0], [1.0, -profile.tilt], pulses)
    source += profile.breathiness * 0.05 * rng.standard_normal(n)
    formants = _VOWELS[rng.integers(len(_VOWELS))] * profile.formant_scale
    out = np.zeros(n)
    resonances = zip([*formants, profile.timbre_hz], [*_BANDWIDTHS, 120.0], (1.0, 0.6, 0.3, 0.5))
    for f, bw, gain in resonances:
        if f >= sr / 2 * 0.95:
            continue
        r = np.exp(-np.pi * bw / sr)
        a = [1.0, -2 * r * np.cos(2 * np.pi * f / sr), r * r]
        out += gain * signal.lfilter([1.0 - r], a, source)
    env = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / max(1, int(0.02 * sr)))
    return out * env


def _fricative(n: int, sr: int, centre_hz: float, rng: np.random.Generator) -> np.ndarray:
    if n < 16:
        return np.zeros(n)
    centre = min(centre_hz, sr * 0.38)
    lo, hi = centre / 1.4, min(centre * 1.4, sr * 0.48)
    sos = signal.butter(4, [lo, hi], btype="band", fs=sr, output="sos")
    env = np.hanning(n)
    return 0.3 * signal.sosfilt(sos, rng.standard_normal(n)) * env


def _background(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Stationary pink-ish noise with unit RMS."""
    white = rng.standard_normal(n)
    b, a = [0.049922, -0.095993, 0.050612, -0.004408], [1, -2.494956, 2.017265, -0.522189]
    pink = signal.lfilter(b, a, white)
    return pink / (np.sqrt(np.mean(pink ** 2)) + 1e-12)


def synth_utterance(profile: VoiceProfile, *, duration_s: float, sample_rate: int,
                    noise_lead_s: float, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Synthesise one noisy, pause-filled utterance.

    Parameters
    ----------
    profile : VoiceProfile
    duration_s : float
        Total length (s).
    sample_rate : int
        Hz.
    noise_lead_s : float
        Seconds of background noise alone at the start.
    snr_db : float
        Speech-to-background power ratio over the voiced parts (dB).
    rng : numpy Generator

    Returns
    -------
    ndarray, float32, shape (round(duration_s * sample_rate),)
        Peak-normalised to 0.9.
    """
    sr = sample_rate
    n_total = int(round(duration_s * sr))
    speech = np.zeros(n_total)
    pos = int(noise_lead_s * sr) + int(rng.uniform(0.05, 0.2) * sr)
    while pos < n_total - int(0.3 * sr):
        for _ in range(rng.integers(1, 5)):  # syllables in a word
            if rng.random() < 0.35:
                nf = int(rng.uniform(0.03, 0.08) * sr)
                speech[pos:pos + nf] += _fricative(len(speech[pos:pos + nf]), sr, profile.fricative_hz, rng)
                pos += nf
            nv = int(profile.syllable_s * rng.uniform(0.6, 1.4) * sr)
            seg = speech[pos:pos + nv]
            seg += _vowel(profile, len(seg), sr, rng)
            pos += nv
        gap = rng.uniform(0.4, 0.9) if rng.random() < 0.25 else rng.uniform(0.04, 0.12)
        pos += int(gap * sr)
    voiced = speech[np.abs(speech) > 1e-6]
    p_speech = float(np.mean(voiced ** 2)) if voiced.size else 1.0
    noise = _background(n_total, sr, rng) * np.sqrt(p_speech / 10 ** (snr_db / 10))
    y = speech + noise
    return (0.9 * y / (np.max(np.abs(y)) + 1e-12)).astype(np.float32)


def demo_filename(speaker: str, script: int) -> str:
    """DAPS-style file name, e.g. ``f1_script3_room.wav``."""
    return f"{speaker}_script{script}_room.wav"


def write_demo_corpus(root: str | Path, *, speakers: list[str], scripts: int, duration_s: float,
                      sample_rate: int, noise_lead_s: float, snr_db: float, seed: int) -> list[Path]:
    """Write the demo corpus as 16-bit WAVs under ``root`` (which must not exist yet or be empty).

    Returns the written paths, sorted. Same arguments → byte-identical files.
    """
    import soundfile as sf

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for spk in speakers:
        profile = voice_profile(spk, seed=seed)
        for j in range(1, scripts + 1):
            rng = np.random.default_rng(_stable_seed("utt", seed, spk, j))
            y = synth_utterance(profile, duration_s=duration_s, sample_rate=sample_rate,
                                noise_lead_s=noise_lead_s, snr_db=snr_db, rng=rng)
            path = root / demo_filename(spk, j)
            sf.write(str(path), y, sample_rate, subtype="PCM_16", format="WAV")
            paths.append(path)
    return sorted(paths)
