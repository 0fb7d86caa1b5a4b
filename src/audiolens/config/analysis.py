"""Params sections for analysis: ``eda``, ``uncertainty``, ``interpret``, ``attribution``, ``report``."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from audiolens.config.base import Section


class EdaParams(Section):
    """``eda``: bounded-cost dataset analysis (samples, never scans a large corpus).

    Spectra and pitch are grouped by speaker (by label when there is no speaker).
    """

    max_recordings_per_speaker: int = Field(default=10, ge=1)
    spectrum_n_fft: int = Field(default=1024, ge=32, le=16384)
    pyin_seconds_per_speaker: float = Field(default=6.0, gt=0.0)
    pyin_fmin: float = Field(default=60.0, gt=0.0)
    pyin_fmax: float = Field(default=500.0, gt=0.0)
    max_images: int = Field(default=2000, ge=1)
    entropy_bins: int = Field(default=64, ge=2, le=4096)
    examples: int = Field(default=3, ge=1, le=50)
    example_seconds: float = Field(default=4.0, gt=0.0, le=120.0)
    seed: int = 0

    @model_validator(mode="after")
    def _pyin_range(self) -> "EdaParams":
        if self.pyin_fmin >= self.pyin_fmax:
            raise ValueError(f"eda.pyin_fmin ({self.pyin_fmin:g} Hz) must be below eda.pyin_fmax "
                             f"({self.pyin_fmax:g} Hz)")
        return self


class UncertaintyParams(Section):
    """``uncertainty``: MC dropout, deep ensemble, calibration, abstention."""

    mc_samples: int = Field(default=30, ge=1)
    ensemble_size: int = Field(default=5, ge=1)
    ece_bins: int = Field(default=15, ge=1)
    abstain_score: Literal["max_prob", "entropy", "mutual_info", "std"] = "max_prob"
    abstain_threshold: float = 0.7
    method: Literal["mc_dropout", "ensemble"] = "mc_dropout"


class InterpretParams(Section):
    """``interpret``: internals, retrieval, CAM and parameter space."""

    examples_per_class: int = Field(default=2, ge=1)
    top_k: int = Field(default=5, ge=1)
    tsne: bool = False
    seed: int = 0


class AttributionParams(Section):
    """``attribution``: explainers, masks, fidelity metrics and noise contamination."""

    explainers: list[str] = Field(default_factory=lambda: [
        "saliency", "smoothgrad", "integrated_gradients", "occlusion", "gradcam", "lime", "shap"])
    masks: list[str] = Field(default_factory=lambda: ["minmax", "binary", "top30", "pos_t50"])
    n_examples: int = Field(default=16, ge=1)
    floor_db: float = -100.0
    noise_files: list[str] = Field(default_factory=list)
    snr_db: list[float] = Field(default_factory=lambda: [20.0, 10.0, 3.5])
    seed: int = 0


class ReportParams(Section):
    """``report``: the HTML report."""

    title: str = "audiolens report"
