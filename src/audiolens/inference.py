"""Score new recordings exactly as the pipeline scored its own (the voice gate's core).

The settings come from the resolved config the model was trained with
(``models/resolved_params.yaml``: ``audio``, ``clean``, ``segment``, ``features``, turned
into settings objects by the caller), never re-typed. A recording is cleaned, segmented and turned into dB spectrograms with
the same library functions the stages use; segment predictions (with MC dropout or
ensemble samples) are averaged per stochastic sample into one recording-level
prediction, whose uncertainty decides accept / reject / abstain.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from audiolens.audio import CleanSettings, clean_signal
from audiolens.errors import DataError
from audiolens.features import SpectrogramConfig, spectrogram_db
from audiolens.io import AudioReadError, file_problem, read_audio
from audiolens.segments import SegmentSettings, segment_bounds

__all__ = ["PredictError", "EXIT_UNREADABLE", "EXIT_SILENT", "EXIT_TOO_SHORT", "EXIT_PRECEDENCE", "Prepared",
           "prepare_recording", "recording_decision", "batch_status"]

EXIT_UNREADABLE = 3
EXIT_SILENT = 4
EXIT_TOO_SHORT = 5

#: Status of a batch: the first of these any file got (the input itself is broken, then no
#: sound, then too little); a code not listed ranks after them (highest first); 0 when all scored.
EXIT_PRECEDENCE = (EXIT_UNREADABLE, EXIT_SILENT, EXIT_TOO_SHORT)


def batch_status(codes) -> int:
    """Exit status of a batch from its per-file statuses (0 = scored), by :data:`EXIT_PRECEDENCE`."""
    bad = {int(c) for c in codes if c}
    for code in EXIT_PRECEDENCE:
        if code in bad:
            return code
    return max(bad, default=0)


class PredictError(DataError, RuntimeError):
    """A recording that cannot be scored; ``code`` is the CLI exit status."""

    def __init__(self, path: str | Path, code: int, message: str):
        self.path, self.code = str(path), code
        super().__init__(f"{path}: {message}")


@dataclass
class Prepared:
    """Model inputs of one recording.

    Attributes
    ----------
    x : ndarray, shape (k, F, T), float32
        dB spectrograms of the k segments.
    ref_amplitude : ndarray, shape (k,)
    segments_audio : ndarray, shape (k, L), float32
        The (zero-padded) cleaned audio of each segment, L samples at ``sample_rate``.
    starts_s : ndarray, shape (k,)
        Segment starts in the cleaned audio (s).
    sample_rate : int
        Hz.
    info : dict
        Cleaning log: ``duration_in_s``, ``duration_out_s``, ``removed_fraction``.
    """

    x: np.ndarray
    ref_amplitude: np.ndarray
    segments_audio: np.ndarray
    starts_s: np.ndarray
    sample_rate: int
    info: dict


def _level_spread_db(y: np.ndarray, *, sr: int, frame_s: float = 0.025) -> float:
    """Spread of 25 ms frame levels, 95th minus 10th percentile (dB); ~1-3 dB for steady noise."""
    n = max(1, int(frame_s * sr))
    k = len(y) // n
    if k < 4:
        return float("inf")
    db = 10 * np.log10(np.mean(np.square(y[: k * n].reshape(k, n), dtype=np.float64), axis=1) + 1e-20)
    return float(np.percentile(db, 95) - np.percentile(db, 10))


def prepare_recording(path: str | Path, *, clean: CleanSettings, segment: SegmentSettings,
                      spectrogram: SpectrogramConfig, min_seconds: float = 0.25,
                      noise_only_db: float = 12.0, min_spread_db: float = 4.0,
                      progress: Callable[[str], None] | None = None) -> Prepared:
    """Read, clean, segment and featurise one recording.

    ``clean``, ``segment`` and ``spectrogram`` are the settings the model's pipeline ran
    with (all at the same sample rate).

    Input with no foreground sound is refused as silent: a recording whose power falls
    by more than ``noise_only_db`` dB under noise reduction (it is its own noise profile),
    or whose 25 ms frame levels vary by less than ``min_spread_db`` dB (steady noise).
    ``progress`` (optional) is called with ``"read"``, ``"clean"`` and ``"segment"`` as each starts.

    Raises
    ------
    PredictError
        ``EXIT_UNREADABLE`` (missing, a directory or other non-regular file, unreadable,
        corrupt, not audio, NaN), ``EXIT_SILENT`` (nothing left
        after cleaning: silence or pure noise), ``EXIT_TOO_SHORT`` (less than ``min_seconds``
        of sound after cleaning).
    """
    step = progress or (lambda _: None)
    path = Path(path)
    step("read")
    problem = file_problem(path)
    if problem:
        raise PredictError(path, EXIT_UNREADABLE, problem)
    try:
        y, sr = read_audio(path, mono=False)
    except AudioReadError as exc:
        raise PredictError(path, EXIT_UNREADABLE, f"cannot read audio: {exc.reason}"
                           + (f" ({exc.detail})" if exc.detail else "")) from None
    settings, seg = clean, segment
    step("clean")
    clean, info = clean_signal(y, sr=sr, settings=settings)
    sr_out = settings.sample_rate
    peak = float(np.max(np.abs(clean))) if clean.size else 0.0
    if clean.size == 0 or peak < 1e-6:
        raise PredictError(path, EXIT_SILENT, "no sound left after cleaning (silence)")
    drop_db = 10 * np.log10(np.mean(np.square(y, dtype=np.float64)) / max(np.mean(np.square(clean, dtype=np.float64)), 1e-20))
    if info.get("denoised") and drop_db > noise_only_db:
        raise PredictError(path, EXIT_SILENT, f"only background noise: noise reduction removed {drop_db:.1f} dB "
                           f"of the signal's power (more than {noise_only_db:g} dB)")
    if clean.size < min_seconds * sr_out:
        raise PredictError(path, EXIT_TOO_SHORT, f"only {clean.size / sr_out:.2f} s of sound after cleaning "
                           f"(need at least {min_seconds:g} s)")
    spread = _level_spread_db(clean, sr=sr_out)
    if spread < min_spread_db:
        raise PredictError(path, EXIT_SILENT, f"only steady noise: frame levels vary by {spread:.1f} dB "
                           f"(10th to 95th percentile; foreground sound varies by more than {min_spread_db:g} dB)")
    step("segment")
    length = seg.length
    hop = seg.hop if seg.hop_s else None
    plan = segment_bounds(clean.size, length=length, hop=hop, tail=seg.tail, min_tail=int(seg.min_tail_s * sr_out))
    if plan.starts.size == 0:  # shorter than one segment under a drop/keep policy: score it padded
        plan = segment_bounds(clean.size, length=length, hop=hop, tail="pad")
    padded = np.zeros(max(clean.size, int(plan.starts[-1]) + length), np.float32)
    padded[: clean.size] = clean
    audio = np.stack([padded[s: s + length] for s in plan.starts])
    x, ref = spectrogram_db(audio, config=spectrogram)
    return Prepared(x=x, ref_amplitude=ref, segments_audio=audio, starts_s=plan.starts / sr_out,
                    sample_rate=sr_out, info=info)


def recording_decision(samples: np.ndarray, *, score: str, threshold: float,
                       class_names: list[str], positive_index: int | None,
                       accept_threshold: float | None = None) -> dict:
    """Aggregate segment samples into one decision.

    Parameters
    ----------
    samples : ndarray, shape (S, k, C)
        S stochastic predictions (S = 1 for a single model) of the k segments.
    score : {"max_prob", "entropy", "mutual_info", "std"}
    threshold : float
        Abstention threshold (see :mod:`audiolens.uncertainty.selective`).
    class_names : list of str
    positive_index : int or None
        For a binary gate, the class that means "accept".
    accept_threshold : float, optional
        Binary gate: accept (label = the positive class) when the recording's mean
        P(positive) >= this; None: the most probable class decides.

    Returns
    -------
    dict
        ``decision`` (accept / reject / abstain for a gate, otherwise the label or abstain),
        ``label``, ``confidence``, ``probabilities``, ``uncertainty`` (all scores, nats).
    """
    from audiolens.uncertainty.decompose import summarise
    from audiolens.uncertainty.selective import accept_mask

    rec = summarise(np.asarray(samples).mean(axis=1, keepdims=True))  # (S, 1, C)
    scores = rec.scores()
    if score not in scores:  # e.g. mutual information of a single deterministic model
        score = "max_prob"
    accepted = bool(accept_mask(score, scores, threshold)[0])
    pred = int(rec.predicted[0])
    if positive_index is not None and accept_threshold is not None and len(class_names) == 2:
        pred = positive_index if rec.mean[0][positive_index] >= accept_threshold else 1 - positive_index
    if not accepted:
        decision = "abstain"
    elif positive_index is not None:
        decision = "accept" if pred == positive_index else "reject"
    else:
        decision = class_names[pred]
    return {"decision": decision, "label": class_names[pred], "confidence": float(rec.max_prob[0]),
            "probabilities": {n: float(p) for n, p in zip(class_names, rec.mean[0])},
            "uncertainty": {"score": score, "threshold": float(threshold),
                            **{k: float(v[0]) for k, v in scores.items()},
                            "samples": int(rec.n_samples)}}
