"""The gate's out-of-distribution check, as ``audiolens predict`` and the ``ood`` stage apply it.

``models/ood.npz`` (written by the ``ood`` stage, read with ``allow_pickle=False``) holds the
fitted detector, its threshold and the speech-presence settings. :meth:`OODCheck.evaluate`
scores one prepared recording (:class:`audiolens.inference.Prepared`); :func:`apply_check`
turns a failed check into ``abstain`` with the reason ``"out of distribution"`` or ``"no speech"``.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiolens.errors import ModelError
from audiolens.ood.detector import Detector, embed, save_npz
from audiolens.ood.signals import SpeechThresholds, speech_presence

__all__ = ["OUT_OF_DISTRIBUTION", "NO_SPEECH", "OODCheck", "prepared_audio", "load_for_model", "apply_check",
           "describe"]

OUT_OF_DISTRIBUTION = "out of distribution"
NO_SPEECH = "no speech"


def prepared_audio(prep) -> np.ndarray:
    """The cleaned recording ``(n,)`` float32 rebuilt from a :class:`~audiolens.inference.Prepared`'s segments."""
    sr, length = prep.sample_rate, prep.segments_audio.shape[1]
    starts = np.round(np.asarray(prep.starts_s) * sr).astype(int)
    total = int(round(float(prep.info.get("duration_out_s", 0.0)) * sr)) or int(starts[-1]) + length
    out = np.zeros(max(total, int(starts[-1]) + length), np.float32)
    for s, seg in zip(starts, prep.segments_audio):
        out[s:s + length] = seg
    return out[:total]


@dataclass(frozen=True)
class OODCheck:
    """Fitted detector + threshold (+ speech presence when ``require_speech``).

    Attributes
    ----------
    detector : Detector
    threshold : float
        A recording passes when its mean segment score is <= this.
    require_speech : bool
    speech : SpeechThresholds
    batch_size : int
        Embedding batch size.
    """

    detector: Detector
    threshold: float
    require_speech: bool
    speech: SpeechThresholds
    batch_size: int

    def arrays(self) -> dict[str, np.ndarray]:
        s = self.speech
        return {**self.detector.arrays(), "threshold": np.array(self.threshold),
                "require_speech": np.array(self.require_speech), "batch_size": np.array(self.batch_size),
                "speech_thresholds": np.array([s.min_modulation, s.min_pitch_st, s.max_steady, s.min_voiced])}

    def save(self, path: str | Path) -> Path:
        """Write ``ood.npz`` atomically."""
        return save_npz(path, self.arrays())

    @classmethod
    def load(cls, path: str | Path) -> "OODCheck":
        """Read ``ood.npz``.

        Raises
        ------
        ModelError
            Naming the file, when it is not a readable npz of the expected arrays.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                mod, pitch, steady, voiced = (float(v) for v in z["speech_thresholds"])
                return cls(detector=Detector.from_arrays(z), threshold=float(z["threshold"]),
                           require_speech=bool(z["require_speech"]), batch_size=int(z["batch_size"]),
                           speech=SpeechThresholds(min_modulation=mod, min_pitch_st=pitch, max_steady=steady,
                                                   min_voiced=voiced))
        except ModelError as exc:
            raise ModelError(f"{path}: {exc}") from None
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise ModelError(f"{path}: not a valid OOD check file ({type(exc).__name__}: {exc}); "
                             f"rerun the ood stage") from None

    def scores(self, model, x: np.ndarray) -> np.ndarray:
        """Segment scores ``(k,)`` of dB spectrograms ``x`` (k, F, T[, 1])."""
        return self.detector.score(embed(model, x, batch_size=self.batch_size))

    def evaluate(self, model, prep) -> dict:
        """Check one prepared recording.

        Returns
        -------
        dict
            ``passed`` (bool), ``reason`` (None, ``"out of distribution"`` or ``"no speech"``),
            ``score`` (mean segment score), ``threshold``, ``method``, ``speech`` (the
            :func:`~audiolens.ood.signals.speech_presence` features, or None when not required).
        """
        score = float(np.mean(self.scores(model, prep.x)))
        speech = speech_presence(prepared_audio(prep), prep.sample_rate, self.speech) if self.require_speech else None
        reason = None
        if not score <= self.threshold:  # NaN fails too
            reason = OUT_OF_DISTRIBUTION
        elif speech is not None and not speech["passed"]:
            reason = NO_SPEECH
        return {"passed": reason is None, "reason": reason, "score": score, "threshold": self.threshold,
                "method": self.detector.method, "speech": speech}


def load_for_model(model_path: str | Path) -> OODCheck | None:
    """The check fitted for a model: ``ood.npz`` beside ``model_path``.

    A model folder without one (trained before the ``ood`` stage existed) is scored without
    the check: one note on stderr, then None.

    Raises
    ------
    ModelError
        When the file exists but is not a valid check.
    """
    import sys

    path = Path(model_path).parent / "ood.npz"
    if not path.is_file():
        print(f"audiolens: note: {path} not found: scoring without the out-of-distribution check "
              f"(run `dvc repro ood` to fit it)", file=sys.stderr)
        return None
    return OODCheck.load(path)


def apply_check(result: dict, check: dict | None) -> dict:
    """Attach ``check`` to a :func:`~audiolens.inference.recording_decision` result as ``ood``
    (None: no check was run); a failed check makes the decision ``abstain`` with ``reason``.
    Returns ``result`` (modified)."""
    result["ood"] = check
    if check is not None and not check["passed"]:
        result["decision"] = "abstain"
        result["reason"] = check["reason"]
    return result


def describe(result: dict) -> str:
    """Text-output suffix of a result: the reason and the OOD score (empty without a check)."""
    c = result.get("ood")
    if c is None:
        return ""
    head = f"  [{c['reason']}]" if c["reason"] else ""
    return f"{head} ood={c['score']:.3f} (threshold {c['threshold']:.3f}, {c['method']})"
