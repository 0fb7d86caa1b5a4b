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
    """``uncertainty``: MC dropout, deep ensemble, calibration, abstention.

    The ensemble is the main model (member 0, when ``include_main``) plus one
    ``train_member@i`` DVC stage per id in ``members`` (DVC ``foreach`` needs an explicit
    list; it cannot expand ``range(n)``). Growing the ensemble by one = appending one id:
    ``dvc exp run -S 'uncertainty.members=[1,2,3,4,5]'`` trains only member 5.
    ``ensemble_size`` is derived; if given it must match.
    """

    mc_samples: int = Field(default=30, ge=1, le=10000)
    mc_layer: str | None = None
    members: list[int] = Field(default_factory=lambda: [1, 2, 3, 4])
    include_main: bool = True
    ensemble_size: int | None = Field(default=None, ge=1)
    member_epochs: int | None = Field(default=None, ge=1)
    ece_bins: int = Field(default=15, ge=1, le=1000)
    batch_size: int = Field(default=256, ge=1)
    abstain_method: Literal["single", "mc_dropout", "ensemble"] = "ensemble"
    abstain_score: Literal["max_prob", "entropy", "mutual_info", "std"] = "max_prob"
    abstain_threshold: float = Field(default=0.7, ge=0.0)
    abstain_target_accuracy: float = Field(default=0.95, gt=0.0, le=1.0)
    max_scatter_classes: int = Field(default=12, ge=1)
    seed: int = 0

    @model_validator(mode="after")
    def _ensemble(self) -> "UncertaintyParams":
        if any(m < 1 for m in self.members):
            raise ValueError(f"uncertainty.members: ids must be >= 1 (0 is the main model), "
                             f"got {self.members}")
        if len(set(self.members)) != len(self.members):
            raise ValueError(f"uncertainty.members: duplicate ids in {self.members}")
        size = len(self.members) + int(self.include_main)
        if size < 1:
            raise ValueError("uncertainty: empty ensemble (no members and include_main: false)")
        if self.ensemble_size is not None and self.ensemble_size != size:
            want = list(range(1, self.ensemble_size - int(self.include_main) + 1))
            raise ValueError(
                f"uncertainty.ensemble_size={self.ensemble_size} but members {self.members} "
                f"(+ main model: {self.include_main}) make {size}; DVC foreach needs the explicit "
                f"list, set uncertainty.members: {want}")
        self.__dict__["ensemble_size"] = size
        if self.abstain_score == "max_prob" and self.abstain_threshold > 1:
            raise ValueError(f"uncertainty.abstain_threshold: a max_prob threshold must be <= 1, "
                             f"got {self.abstain_threshold}")
        if self.abstain_method == "single" and self.abstain_score in ("mutual_info", "std"):
            raise ValueError(f"uncertainty.abstain_score={self.abstain_score!r} needs several samples; "
                             f"use abstain_method mc_dropout or ensemble")
        return self

    @property
    def member_ids(self) -> list[int]:
        """All ensemble member ids in order (0 = main model)."""
        return ([0] if self.include_main else []) + list(self.members)


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
