"""Params sections for analysis: ``eda``, ``uncertainty``, ``gate``, ``interpret``, ``attribution``, ``report``."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from audiolens.config.base import Section


class EdaParams(Section):
    """``eda``: bounded-cost dataset analysis (samples, never scans a large corpus).

    Spectra and pitch are grouped by speaker (by label when there is no speaker).
    """

    max_recordings_per_speaker: int = Field(default=10, ge=1)
    max_groups: int = Field(default=24, ge=1, le=200)
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
    :attr:`ensemble_size` is derived (a property, never a key).
    """

    mc_samples: int = Field(default=30, ge=1, le=10000)
    mc_layer: str | None = None
    members: list[int] = Field(default_factory=lambda: [1, 2, 3, 4])
    include_main: bool = True
    member_epochs: int | None = Field(default=None, ge=1)
    ece_bins: int = Field(default=15, ge=1, le=1000)
    batch_size: int = Field(default=256, ge=1)
    abstain_method: Literal["single", "mc_dropout", "ensemble"] = "ensemble"
    abstain_score: Literal["max_prob", "entropy", "mutual_info", "std"] = "max_prob"
    abstain_threshold: float = Field(default=0.7, ge=0.0)
    abstain_target_accuracy: float = Field(default=0.95, gt=0.0, le=1.0)
    max_scatter_classes: int = Field(default=12, ge=1)
    member_outlier_z: float = Field(default=3.0, gt=0.0)
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
        if self.abstain_score == "max_prob" and self.abstain_threshold > 1:
            raise ValueError(f"uncertainty.abstain_threshold: a max_prob threshold must be <= 1, "
                             f"got {self.abstain_threshold}")
        n_samples = {"single": 1, "mc_dropout": self.mc_samples, "ensemble": size}[self.abstain_method]
        if self.abstain_score in ("mutual_info", "std") and n_samples < 2:
            raise ValueError(f"uncertainty.abstain_score={self.abstain_score!r} needs several samples, "
                             f"abstain_method={self.abstain_method!r} gives {n_samples}")
        return self

    @property
    def ensemble_size(self) -> int:
        """Number of ensemble members: ``len(members)`` + the main model when ``include_main``."""
        return len(self.members) + int(self.include_main)

    @property
    def member_ids(self) -> list[int]:
        """All ensemble member ids in order (0 = main model)."""
        return ([0] if self.include_main else []) + list(self.members)


class InterpretParams(Section):
    """``interpret`` (filters, feature maps, retrieval, CAM) and ``paramspace`` stages."""

    examples_per_class: int = Field(default=2, ge=1, le=50)
    queries_per_class: int = Field(default=2, ge=1, le=20)
    top_k: int = Field(default=5, ge=1, le=100)
    max_index: int = Field(default=2000, ge=1)
    max_queries: int = Field(default=1000, ge=1)
    include_augmented: bool = False
    tsne: bool = False
    max_filters: int = Field(default=32, ge=1)
    max_channels: int = Field(default=6, ge=1, le=32)
    cam_layer: str | None = None
    batch_size: int = Field(default=32, ge=1)
    reset_bn_stats: Literal["keep", "reset", "recompute"] = "recompute"
    critical_drop: float = Field(default=0.05, ge=0.0, le=1.0)
    max_eval: int = Field(default=1000, ge=1)
    bn_samples: int = Field(default=128, ge=1)
    max_reset_layers: int | None = Field(default=24, ge=1)
    seed: int = 0


#: Grammar of attribution mask names (see :mod:`audiolens.attribution.masks`); kept here so that
#: params validation needs no TensorFlow import.
MASK_KIND_PATTERN = (r"^(?P<pos>pos_)?(?:(?P<family>minmax|sigmoid|binary)|top(?P<k>\d+(?:\.\d+)?)"
                     r"|t(?P<t>\d+(?:\.\d+)?))$")


class AttributionParams(Section):
    """``attribution``: explainers, masks, mask-and-reconstruct, fidelity, sanity check, noise.

    Sample sizes are bounded so the stage stays a small part of the demo's time budget.
    """

    explainers: list[str] = Field(default_factory=lambda: [
        "saliency", "smoothgrad", "integrated_gradients", "occlusion", "gradcam", "lime", "shap"])
    masks: list[str] = Field(default_factory=lambda: ["minmax", "binary", "top30", "pos_t50"])
    headline_mask: str = "top30"
    n_examples: int = Field(default=12, ge=1)
    floor_db: float | None = None
    fill: Literal["shuffle", "floor"] = "shuffle"
    curve_steps: int = Field(default=8, ge=2, le=20)
    random_draws: int = Field(default=10, ge=10, le=1000)
    target: Literal["log_odds", "logits", "probs"] = "log_odds"
    baseline_db: float | None = None
    smoothgrad_samples: int = Field(default=8, ge=1)
    smoothgrad_noise: float = Field(default=0.1, gt=0.0)
    ig_steps: int = Field(default=16, ge=1)
    occlusion_patch: float = Field(default=0.2, gt=0.0, le=1.0)
    lime_samples: int = Field(default=288, ge=10)
    lime_grid_freq: int = Field(default=6, ge=1)
    lime_grid_time: int = Field(default=6, ge=1)
    shap_background: int = Field(default=16, ge=1)
    shap_samples: int = Field(default=32, ge=1)
    gradcam_signed: bool = False
    roundtrip_examples: int = Field(default=4, ge=0)
    roundtrip_all_masks: bool = False
    wav_examples: int = Field(default=2, ge=0)
    figure_examples: int = Field(default=2, ge=0)
    sanity_examples: int = Field(default=16, ge=0)
    sanity_explainers: list[str] = Field(default_factory=lambda: ["saliency", "integrated_gradients", "gradcam"])
    sanity_layers: int | None = Field(default=None, ge=1)
    noise_files: list[str] = Field(default_factory=list)
    white_noise: bool = True
    snr_db: list[float] = Field(default_factory=lambda: [20.0, 10.0, 3.5])
    noise_examples: int = Field(default=24, ge=0)
    noise_explainers: list[str] = Field(default_factory=lambda: ["saliency", "gradcam"])
    ece_bins: int = Field(default=10, ge=1)
    seed: int = 0

    @field_validator("explainers", "sanity_explainers", "noise_explainers")
    @classmethod
    def _known_explainers(cls, v: list[str], info) -> list[str]:
        from audiolens.attribution.registry import EXPLAINERS

        known = tuple(EXPLAINERS)
        if info.field_name == "explainers" and not v:
            raise ValueError("list at least one explainer")
        bad = [e for e in v if e not in known]
        if bad:
            raise ValueError(f"unknown explainer(s) {bad}; known: {', '.join(known)}")
        if len(set(v)) != len(v):
            raise ValueError(f"explainers listed twice: {v}")
        return v

    @field_validator("masks")
    @classmethod
    def _known_masks(cls, v: list[str]) -> list[str]:
        for kind in v:
            m = re.match(MASK_KIND_PATTERN, kind)
            if m is None or (m["pos"] and m["family"] in ("sigmoid", "binary")):
                raise ValueError(f"unknown mask kind {kind!r} (minmax, sigmoid, binary, top<k>, t<pct>, "
                                 f"pos_minmax, pos_top<k>, pos_t<pct>)")
            if not 0 < float(m["k"] or m["t"] or 1) <= 100:
                raise ValueError(f"mask kind {kind!r}: percentage must be in (0, 100]")
        if not v or len(set(v)) != len(v):
            raise ValueError(f"masks must be a non-empty list without repeats, got {v}")
        return v

    @model_validator(mode="after")
    def _headline_in_masks(self) -> "AttributionParams":
        if self.headline_mask not in self.masks:
            raise ValueError(f"attribution.headline_mask {self.headline_mask!r} must be one of "
                             f"attribution.masks {self.masks}")
        return self


class ReportParams(Section):
    """``report``: the HTML report."""

    title: str = "audiolens report"
    warn_min_segments: int = Field(default=100, ge=0)
    warn_min_recordings: int = Field(default=30, ge=0)


class GateParams(Section):
    """``gate``: the out-of-distribution check of ``audiolens predict`` (stage ``ood``).

    A recording passes when the mean over its segments of the embedding distance to the
    training data is within the threshold that ``pass_rate`` of the validation recordings
    meet, and (``require_speech``) when its cleaned audio shows syllable-rate modulation,
    varying, gliding pitch and enough voiced frames.
    """

    require_speech: bool = True
    method: Literal["knn", "mahalanobis"] = "mahalanobis"
    k: int = Field(default=5, ge=1, le=1000)
    pass_rate: float = Field(default=0.99, gt=0.0, le=1.0)
    include_augmented: bool = False
    min_modulation: float = Field(default=0.2, ge=0.0)
    min_pitch_st: float = Field(default=0.5, ge=0.0)
    max_steady: float = Field(default=0.8, ge=0.0, le=1.0)
    min_voiced: float = Field(default=0.3, ge=0.0, le=1.0)
    generated_clips: int = Field(default=243, ge=9, le=100000)
    clip_seconds: float = Field(default=3.0, gt=0.0, le=60.0)
    extra_ood_dirs: list[str] = Field(default_factory=list)
    unseen_speakers: list[str] = Field(default_factory=lambda: ["f11", "f12", "m11", "m12"])
    unseen_seed: int = 1
    batch_size: int = Field(default=64, ge=1)
    seed: int = 0
