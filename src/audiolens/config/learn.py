"""Params sections for learning: ``split``, ``model``, ``train``, ``numerics``, ``evaluate``, ``baseline``,
``bootstrap``."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from audiolens.config.base import Section


class SplitParams(Section):
    """``split``: leakage-safe train/val/test assignment."""

    method: Literal["ratio", "folds", "cv"] = "ratio"
    group_by: Literal["recording", "speaker"] = "recording"
    train: float = Field(default=0.7, gt=0.0, lt=1.0)
    val: float = Field(default=0.15, ge=0.0, lt=1.0)
    test: float = Field(default=0.15, gt=0.0, lt=1.0)
    test_fold: str | None = None
    val_fold: str | None = None
    cv_folds: int = Field(default=0, ge=0, le=50)
    seed: int = 0

    @field_validator("test_fold", "val_fold", mode="before")
    @classmethod
    def _fold_name(cls, v):
        """Folds are named by the data's values: ``1`` (YAML / ``-S split.test_fold=1``) is fold ``"1"``."""
        if isinstance(v, bool):
            raise ValueError("a fold is a number or a name, not true/false")
        return str(v) if isinstance(v, int) else v

    @model_validator(mode="after")
    def _ratios(self) -> "SplitParams":
        if self.method == "ratio" and abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError(f"split.train + split.val + split.test must be 1 "
                             f"(got {self.train + self.val + self.test:g})")
        if self.method == "folds" and not self.test_fold:
            raise ValueError("split.test_fold is required when split.method is 'folds'")
        if self.method == "cv" and self.cv_folds < 3:
            raise ValueError(f"split.cv_folds must be >= 3 when split.method is 'cv' "
                             f"(fold i is test, fold i+1 validation; got {self.cv_folds})")
        return self


class ModelParams(Section):
    """``model``: architecture and its hyper-parameters."""

    arch: Literal["seed_cnn", "compact_cnn", "resnet_small", "efficientnet_b0", "small_cnn",
                  "musicnn_vgg"] = "seed_cnn"
    width: float = Field(default=0.5, gt=0.0, le=8.0)
    dense_units: int = Field(default=64, ge=1)
    dropout: float = Field(default=0.5, ge=0.0, lt=1.0)
    conv_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    weights: str | None = None
    pool: Literal["gap", "time", "flatten"] = "time"
    freeze_blocks: int = Field(default=0, ge=0, le=5)

    @model_validator(mode="after")
    def _cam_head_pool(self) -> "ModelParams":
        if self.arch in ("small_cnn", "musicnn_vgg") and self.pool not in ("gap", "time"):
            raise ValueError(f"model.pool must be 'gap' or 'time' with model.arch {self.arch} "
                             "(its pooled heads keep CAM exact)")
        if self.freeze_blocks and self.arch != "musicnn_vgg":
            raise ValueError(f"model.freeze_blocks is for musicnn_vgg's pretrained trunk, not {self.arch!r}; use 0")
        return self


class TrainParams(Section):
    """``train``: optimisation, augmentation, early stopping and checkpointing."""

    epochs: int = Field(default=30, ge=1)
    batch_size: int = Field(default=16, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0.0)
    weight_decay: float = Field(default=1e-4, ge=0.0)
    lr_schedule: Literal["cosine", "plateau"] = "plateau"
    warmup_epochs: int = Field(default=0, ge=0)
    lr_patience: int = Field(default=2, ge=1)
    lr_factor: float = Field(default=0.5, gt=0.0, lt=1.0)
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    monitor_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)
    patience: int = Field(default=5, ge=1)
    min_epochs: int = Field(default=1, ge=1)
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)
    class_weight: Literal["balanced", "none"] = "balanced"
    augmented_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    gain_db: float = Field(default=0.0, ge=0.0)
    shift_frames: int = Field(default=0, ge=0)
    specaugment: bool = False
    freq_masks: int = Field(default=2, ge=0)
    time_masks: int = Field(default=2, ge=0)
    max_freq: float = Field(default=0.15, ge=0.0, le=1.0)
    max_time: float = Field(default=0.15, ge=0.0, le=1.0)
    mixup_alpha: float = Field(default=0.0, ge=0.0)
    seed: int = 0
    save_epochs: bool = True
    distribute: Literal["auto", "none", "mirrored", "multi_worker"] = "auto"
    mixed_precision: Literal["auto", "off", "on"] = "auto"

    @model_validator(mode="after")
    def _epochs(self) -> "TrainParams":
        if self.min_epochs > self.epochs:
            raise ValueError(f"train.min_epochs ({self.min_epochs}) must be <= train.epochs ({self.epochs})")
        if self.lr_schedule == "cosine" and self.warmup_epochs >= self.epochs:
            raise ValueError(f"train.warmup_epochs ({self.warmup_epochs}) must be < train.epochs "
                             f"({self.epochs}) with lr_schedule cosine")
        return self


class NumericsParams(Section):
    """``numerics``: how TensorFlow computes, for results that do not depend on the machine."""

    deterministic: bool = True
    cpu_isa: Literal["SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI",
                     "AVX512_CORE_BF16", "AVX512_CORE_AMX"] | None = "AVX2"


class BootstrapParams(Section):
    """``bootstrap``: grouped 95 % intervals of the headline metrics (evaluate, baseline, uncertainty,
    interpret, attribution); resamples recordings with replacement.
    """

    resamples: int = Field(default=1000, ge=0, le=100000)
    seed: int = 0

    @field_validator("resamples")
    @classmethod
    def _enough(cls, v: int) -> int:
        if 0 < v < 100:
            raise ValueError("must be 0 (no intervals) or >= 100 (fewer resamples give unstable 2.5/97.5 "
                             "percentiles)")
        return v


class EvaluateParams(Section):
    """``evaluate``: operating threshold (fixed, or picked on validation), galleries."""

    threshold: Literal["auto"] | float = "auto"
    target_far: float | None = Field(default=None, gt=0.0, lt=1.0)
    gallery_size: int = Field(default=25, ge=0)
    seed: int = 0

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, v):
        if v != "auto" and not 0.0 < v < 1.0:
            raise ValueError("must be 'auto' or a number between 0 and 1 (exclusive)")
        return v


class BaselineParams(Section):
    """``baseline``: per-band statistics + logistic regression / 1-NN, the figure the CNN must beat."""

    stats: list[Literal["mean", "std", "min", "max", "p10", "p50", "p90", "delta"]] = Field(
        default_factory=lambda: ["mean", "std", "p10", "p50", "p90", "delta"], min_length=1)
    classifiers: list[Literal["logreg", "knn1"]] = Field(default_factory=lambda: ["logreg", "knn1"],
                                                         min_length=1)
    logreg_c: list[float] = Field(default_factory=lambda: [0.01, 0.1, 1.0], min_length=1)
    max_iter: int = Field(default=2000, ge=10)
    batch_size: int = Field(default=256, ge=1)
    seed: int = 0

    @field_validator("logreg_c")
    @classmethod
    def _positive(cls, v):
        if any(c <= 0 for c in v):
            raise ValueError("every C must be > 0")
        return v
