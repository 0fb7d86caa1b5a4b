"""Params sections for audio preprocessing: ``audio``, ``clean``, ``segment``, ``augment``, ``features``."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from audiolens.config.base import Section


class AudioParams(Section):
    """``audio``: the working sample rate every stage after ingest uses, and where per-recording
    work runs (``n_jobs`` workers; ``scheduler``: local pool, Dask LocalCluster or a Dask address)."""

    sample_rate: int = Field(default=8000, ge=1000, le=192000)
    n_jobs: int = Field(default=2, ge=1, le=256)
    # processes | local | a Dask scheduler address (tcp://host:8786)
    scheduler: str = Field(default="processes", pattern=r"^(processes|local|(tcp|tls|ucx|ws|wss)://\S+)$")
    # processes: estimated seconds of work (first item x items) below which a map stays in the stage process
    inline_below_s: float = Field(default=0.5, ge=0.0, le=3600.0)


class CleanParams(Section):
    """``clean``: noise reduction and silence removal (``enabled: false``: resample/downmix only)."""

    enabled: bool = True
    denoise: bool = True
    noise_profile_s: float = Field(default=0.5, gt=0.0, le=10.0)
    stationary: bool = True
    prop_decrease: float = Field(default=1.0, ge=0.0, le=1.0)
    freq_smooth_hz: float = Field(default=50.0, ge=0.0, le=4000.0)
    time_smooth_ms: float = Field(default=50.0, ge=0.0, le=2000.0)
    remove_silence: bool = True
    frame_ms: float = Field(default=25.0, gt=1.0, le=500.0)
    threshold_db: float = Field(default=-35.0, lt=0.0, ge=-120.0)
    min_silence_s: float = Field(default=0.1, ge=0.0, le=60.0)
    min_keep_s: float = Field(default=0.1, ge=0.0)


class SegmentParams(Section):
    """``segment``: fixed-length chunks and the policy for the short tail."""

    length_s: float = Field(default=3.0, gt=0.0, le=600.0)
    hop_s: float | None = Field(default=None, gt=0.0)
    tail: Literal["drop", "pad", "keep"] = "keep"
    min_tail_s: float = Field(default=1.0, ge=0.0)

    @model_validator(mode="after")
    def _hop_le_length(self) -> "SegmentParams":
        if self.hop_s is not None and self.hop_s > self.length_s:
            raise ValueError(f"segment.hop_s ({self.hop_s:g}) must be <= segment.length_s ({self.length_s:g})")
        return self


class AugmentParams(Section):
    """``augment``: time stretch of chosen recordings (kept with their source by the split)."""

    enabled: bool = True
    factors: list[float] = Field(default_factory=lambda: [0.35])
    select_by: Literal["speaker", "label"] = "speaker"
    values: list[str] | None = None

    @field_validator("factors")
    @classmethod
    def _factors(cls, v: list[float]) -> list[float]:
        bad = [f for f in v if not 0.05 <= f <= 20.0]
        if bad:
            raise ValueError(f"stretch factors must lie in [0.05, 20] (got {bad})")
        if len({f"{f:g}" for f in v}) != len(v):
            raise ValueError(f"stretch factors must be distinct (got {v})")
        return v


class FeaturesParams(Section):
    """``features``: spectrogram kind, resolution, dB scaling, normalisation, storage."""

    kind: Literal["linear", "mel"] = "linear"
    n_fft: int = Field(default=256, ge=16, le=16384)
    hop_length: int = Field(default=192, ge=1)
    n_mels: int = Field(default=64, ge=4, le=512)
    fmin: float = Field(default=0.0, ge=0.0)
    fmax: float | None = Field(default=None, gt=0.0)
    top_db: float = Field(default=80.0, gt=0.0, le=200.0)
    normalise: Literal["none", "per_sample", "dataset"] = "per_sample"
    shard_size: int = Field(default=2048, ge=1)
    export_png: int = Field(default=4, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> "FeaturesParams":
        if self.hop_length > self.n_fft:
            raise ValueError(f"features.hop_length ({self.hop_length}) must be <= features.n_fft "
                             f"({self.n_fft}), or samples between frames are never seen")
        if self.fmax is not None and self.fmax <= self.fmin:
            raise ValueError(f"features.fmax ({self.fmax:g}) must be > features.fmin ({self.fmin:g})")
        return self
