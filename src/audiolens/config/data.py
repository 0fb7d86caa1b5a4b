"""Params sections for the corpus: ``data`` (where and how to read) and ``demo`` (synthetic corpus)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from audiolens.config.base import Section

#: ``data.manifest`` when the layout has no CSV table: an empty, tracked CSV. ``dvc.yaml`` makes
#: ``${data.manifest}`` a dependency of ``ingest`` in every layout (so editing a real manifest
#: reruns ingest wherever it lives), and a DVC dependency must be an existing path, never null.
NO_MANIFEST = "stages/no_manifest.csv"


class DataParams(Section):
    """``data``: which recordings, in which layout, labelled how."""

    layout: Literal["demo", "regex", "folders", "csv"] = "demo"
    root: str = "data/raw/demo"
    pattern: str | None = r"(?P<speaker>[fm]\d+)_(?P<script>script\d+)_(?P<condition>\w+)\.(wav|flac|ogg)"
    manifest: str | None = NO_MANIFEST  # None: accepted in resolved files written before the placeholder
    label: str = "speaker"
    positive: list[str] | None = Field(default_factory=lambda: ["f1", "f7", "f8", "m3", "m6", "m8"])
    class_names: list[str] | None = Field(default_factory=lambda: ["rejected", "allowed"])
    speaker: str | None = "speaker"
    group: str | None = None
    fold: str | None = None
    filename_column: str = "filename"
    extensions: list[str] = Field(default_factory=lambda: ["wav", "flac", "ogg"], min_length=1)
    min_sample_rate: int = Field(default=1000, ge=1)
    max_sample_rate: int = Field(default=384000, ge=1)
    n_jobs: int = Field(default=2, ge=1, le=256)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return v

    @field_validator("extensions")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return [e.lower().lstrip(".") for e in v]

    @model_validator(mode="after")
    def _layout_needs(self) -> "DataParams":
        if self.layout in ("regex", "demo") and not self.pattern:
            raise ValueError(f"data.pattern is required when data.layout is {self.layout!r}")
        if self.layout == "csv" and (not self.manifest or Path(self.manifest) == Path(NO_MANIFEST)):
            raise ValueError("data.manifest (a CSV path) is required when data.layout is 'csv'")
        if self.layout in ("regex", "demo") and self.pattern:
            names = set(re.compile(self.pattern).groupindex)
            for key in ("label", "speaker", "group", "fold"):
                val = getattr(self, key)
                if val and val not in names:
                    raise ValueError(
                        f"data.{key} = {val!r} is not a named group of data.pattern "
                        f"(named groups: {sorted(names)})")
        if self.min_sample_rate > self.max_sample_rate:
            raise ValueError(f"data.min_sample_rate ({self.min_sample_rate}) must be <= data.max_sample_rate "
                             f"({self.max_sample_rate})")
        if self.layout == "folders" and self.label != "folder":
            raise ValueError("data.label must be 'folder' when data.layout is 'folders'")
        if self.layout == "folders":
            for key in ("speaker", "group", "fold"):
                val = getattr(self, key)
                if val and val != "folder":
                    raise ValueError(f"data.{key} = {val!r}: layout 'folders' has only the field 'folder' "
                                     f"(set data.{key}: null)")
        if self.class_names is not None and self.positive is not None and len(self.class_names) != 2:
            raise ValueError("data.class_names must have 2 names (negative, positive) with data.positive")
        return self


class DemoParams(Section):
    """``demo``: size of the synthetic DAPS-like corpus generated when ``data.layout: demo``."""

    speakers: list[str] = Field(
        default_factory=lambda: [f"f{i}" for i in range(1, 11)] + [f"m{i}" for i in range(1, 11)],
        min_length=2)
    scripts: int = Field(default=5, ge=1, le=100)
    duration_s: float = Field(default=12.0, gt=1.0, le=600.0)
    sample_rate: int = Field(default=16000, ge=4000, le=96000)
    noise_lead_s: float = Field(default=0.5, ge=0.0, le=5.0)
    snr_db: float = Field(default=20.0, ge=-10.0, le=80.0)
    seed: int = 0
