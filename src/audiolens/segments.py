"""Fixed-length segments as rows ``(recording, start, end)``, and the short-tail policy.

No audio is copied: a segment is a sample range of a cleaned (or augmented) recording,
``end`` exclusive and possibly beyond the audio (the excess is zero padding). See
``docs/contracts.md`` ("segments.csv") for the table's columns.

Tail policies (``tail``) for the audio left after the last full segment:

- ``drop``: dropped (a recording shorter than one segment gives no segment);
- ``pad``: any non-empty tail becomes one zero-padded segment (so every non-empty
  recording gives at least one segment);
- ``keep``: a tail of at least ``min_tail`` samples becomes a padded segment, a shorter
  one is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

import numpy as np
import pandas as pd

__all__ = ["SEGMENT_COLUMNS", "TAIL_COLUMNS", "SegmentSettings", "SegmentPlan", "segment_bounds",
           "segment_table", "read_table"]

SEGMENT_COLUMNS = ["segment_id", "recording_id", "source_id", "audio_dir", "start", "end",
                   "start_s", "end_s", "pad", "label", "label_index", "speaker", "group", "fold",
                   "augmented", "factor", "audio_sha256"]
TAIL_COLUMNS = ["recording_id", "source_id", "n_samples", "duration_s", "n_segments",
                "tail_samples", "tail_s", "tail_action"]
_STR_COLUMNS = ["segment_id", "recording_id", "source_id", "audio_dir", "label", "speaker", "group",
                "fold", "id", "path", "sha256", "audio_sha256", "tail_action"]


@dataclass(frozen=True, kw_only=True)
class SegmentSettings:
    """How recordings are cut (the ``segment`` section + ``audio.sample_rate``).

    Attributes
    ----------
    sample_rate : int
        Hz; converts the seconds below to samples.
    length_s : float
        Segment length (s).
    hop_s : float or None
        Hop between segment starts (s); None: ``length_s`` (no overlap).
    tail : {"drop", "pad", "keep"}
        Policy for the audio after the last full segment (see the module docstring).
    min_tail_s : float
        Shortest tail kept under ``tail="keep"`` (s).
    """

    sample_rate: int
    length_s: float
    hop_s: float | None
    tail: Literal["drop", "pad", "keep"]
    min_tail_s: float

    @property
    def length(self) -> int:
        """Segment length in samples."""
        return int(round(self.length_s * self.sample_rate))

    @property
    def hop(self) -> int:
        """Hop in samples (= :attr:`length` without ``hop_s``)."""
        return self.length if self.hop_s is None else int(round(self.hop_s * self.sample_rate))

    @property
    def min_tail(self) -> int:
        """Shortest kept tail in samples."""
        return int(round(self.min_tail_s * self.sample_rate))


@dataclass(frozen=True)
class SegmentPlan:
    """The segments of one recording.

    Attributes
    ----------
    starts : ndarray of int, shape (k,)
        First sample of each segment.
    length : int
        Segment length (samples); segment ``i`` covers ``[starts[i], starts[i] + length)``.
    tail : int
        Samples of audio a tail segment would hold (from the hop after the last full
        segment to the end; 0 when the full segments reach the end).
    tail_action : str
        ``none`` (no tail), ``padded``, ``dropped`` or ``empty`` (0-sample recording).
    """

    starts: np.ndarray
    length: int
    tail: int
    tail_action: str


def segment_bounds(n_samples: int, *, length: int, hop: int | None = None,
                   tail: Literal["drop", "pad", "keep"], min_tail: int = 0) -> SegmentPlan:
    """Plan the segments of a recording of ``n_samples`` samples.

    Parameters
    ----------
    n_samples : int
        Recording length (samples).
    length : int
        Segment length (samples, > 0).
    hop : int, optional
        Distance between segment starts (samples, 0 < hop <= length); default ``length``.
    tail : {"drop", "pad", "keep"}
        Policy for the audio after the last full segment (see the module docstring).
    min_tail : int
        Minimum tail (samples) kept under ``keep``.

    Returns
    -------
    SegmentPlan
    """
    hop = length if hop is None else hop
    if length <= 0:
        raise ValueError(f"segment length must be > 0 samples (got {length})")
    if not 0 < hop <= length:
        raise ValueError(f"segment hop must be in (0, length={length}] samples (got {hop})")
    if tail not in ("drop", "pad", "keep"):
        raise ValueError(f"segment tail policy must be drop, pad or keep (got {tail!r})")
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0 (got {n_samples})")
    if n_samples == 0:
        return SegmentPlan(np.zeros(0, dtype=np.int64), length, 0, "empty")
    n_full = (n_samples - length) // hop + 1 if n_samples >= length else 0
    starts = np.arange(n_full, dtype=np.int64) * hop
    next_start = n_full * hop
    rest = max(0, n_samples - next_start)
    if n_full and next_start + length - hop >= n_samples:
        rest = 0  # the last full segment already reaches the end (overlapping hops)
    if rest == 0:
        return SegmentPlan(starts, length, 0, "none")
    take = tail == "pad" or (tail == "keep" and rest >= max(1, min_tail))
    if take:
        starts = np.append(starts, next_start)
    return SegmentPlan(starts, length, int(rest), "padded" if take else "dropped")


def segment_table(recordings: pd.DataFrame, *, settings: SegmentSettings,
                  audio_dir: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Segment rows and the tail table for many recordings.

    Parameters
    ----------
    recordings : DataFrame
        One row per recording with ``recording_id``, ``source_id``, ``n_samples`` and the
        manifest fields ``label``, ``label_index``, ``speaker``, ``group``, ``fold``, and
        optionally ``augmented`` (default False), ``factor`` (default 1.0) and
        ``audio_sha256`` (the source's audio fingerprint, default empty).
    settings : SegmentSettings
        Length, hop and tail policy (seconds, converted at ``settings.sample_rate``).
    audio_dir : str
        Folder of the recordings' WAVs, written into every row.

    Returns
    -------
    segments : DataFrame
        :data:`SEGMENT_COLUMNS`, in the order of ``recordings`` then segment index.
    tails : DataFrame
        :data:`TAIL_COLUMNS`, one row per recording (also those giving no segment).
    """
    sample_rate, tail = settings.sample_rate, settings.tail
    length, hop, min_tail = settings.length, settings.hop, settings.min_tail
    seg_rows: list[dict] = []
    tail_rows: list[dict] = []
    for rec in recordings.to_dict("records"):
        n = int(rec["n_samples"])
        plan = segment_bounds(n, length=length, hop=hop, tail=tail, min_tail=min_tail)
        for k, s in enumerate(plan.starts.tolist()):
            e = s + length
            seg_rows.append({
                "segment_id": f"{rec['recording_id']}__{k}", "recording_id": rec["recording_id"],
                "source_id": rec["source_id"], "audio_dir": audio_dir, "start": s, "end": e,
                "start_s": s / sample_rate, "end_s": e / sample_rate, "pad": max(0, e - n),
                "label": rec["label"], "label_index": int(rec["label_index"]),
                "speaker": rec["speaker"], "group": rec["group"], "fold": rec["fold"],
                "augmented": bool(rec.get("augmented", False)),
                "factor": float(rec.get("factor", 1.0)),
                "audio_sha256": str(rec.get("audio_sha256", "") or "")})
        tail_rows.append({
            "recording_id": rec["recording_id"], "source_id": rec["source_id"], "n_samples": n,
            "duration_s": n / sample_rate, "n_segments": len(plan.starts),
            "tail_samples": plan.tail, "tail_s": plan.tail / sample_rate,
            "tail_action": plan.tail_action})
    return (pd.DataFrame(seg_rows, columns=SEGMENT_COLUMNS),
            pd.DataFrame(tail_rows, columns=TAIL_COLUMNS))


def read_table(path, *, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Read a pipeline CSV (manifest, segments, index) keeping id/label/speaker/fold as str.

    Empty strings stay empty strings (not NaN), so ids and labels round-trip exactly.
    """
    head = pd.read_csv(path, nrows=0).columns
    dtype = {c: str for c in _STR_COLUMNS if c in head}
    frame = pd.read_csv(path, dtype=dtype, keep_default_na=False)
    for c in ("augmented",):
        if c in frame.columns and frame[c].dtype != bool:
            frame[c] = frame[c].astype(str).str.lower().isin(["true", "1"])
    if columns is not None:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing} (has {list(frame.columns)})")
    return frame
