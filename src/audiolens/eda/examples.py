"""Example panels: linear vs mel of the same segment, unprocessed vs cleaned, augmented vs original.

Each function returns rows of panels for :func:`audiolens.eda.figures.plot_pairs`; the
spectrograms not stored by the spectrogram stage are computed on the fly with
:mod:`audiolens.features` (same STFT settings as the stored ones).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from audiolens.eda.views import AudioSource
from audiolens.features import SpectrogramConfig, read_segment_audio, spectrogram_db
from audiolens.io import AudioReadError

__all__ = ["panel", "linear_vs_mel", "unprocessed_vs_cleaned", "augmented_vs_original"]


def panel(db: np.ndarray, *, config: SpectrogramConfig, n_samples: int, title: str) -> dict:
    """A plot panel for a (F, T) dB image: time axis in s, frequency in Hz (linear) or mel bands."""
    dur = n_samples / config.sample_rate
    if config.kind == "linear":
        return {"image": db, "title": title, "extent": (0.0, dur, 0.0, config.sample_rate / 2),
                "ylabel": "frequency (Hz)"}
    f_hi = config.fmax or config.sample_rate / 2
    return {"image": db, "title": title, "extent": (0.0, dur, 0.0, float(config.n_mels)),
            "ylabel": f"mel band ({config.fmin:g}-{f_hi:g} Hz)"}


def _db(y: np.ndarray, config: SpectrogramConfig) -> np.ndarray:
    return spectrogram_db(np.asarray(y, dtype=np.float32)[None], config=config)[0][0]


def linear_vs_mel(store, rows: np.ndarray, *, root: str | Path = ".",
                  skipped: list[dict] | None = None) -> list[list[dict]]:
    """[linear, mel] panels for the given global rows of a :class:`~audiolens.shards.FeatureStore`.

    The stored kind comes from the store; the other kind is computed from the segment audio.
    Segments whose audio cannot be read are appended to ``skipped``.
    """
    cfg = SpectrogramConfig.from_meta(store.meta)
    other = replace(cfg, kind="mel" if cfg.kind == "linear" else "linear")
    stored = store.get(rows)
    out = []
    for x, r in zip(stored, rows):
        row = store.index.iloc[int(r)]
        try:
            y = read_segment_audio(row.to_dict(), root=root)
        except (AudioReadError, OSError) as exc:
            if skipped is not None:
                skipped.append({"id": row["segment_id"], "path": f"{row['audio_dir']}/{row['recording_id']}.wav",
                                "reason": "segment audio unreadable", "detail": str(exc)[:200]})
            continue
        computed = _db(y, other)
        tag = f"{row['segment_id']} [{row['label']}]"
        pair = {cfg.kind: panel(x, config=cfg, n_samples=len(y), title=f"{tag} (stored)"),
                other.kind: panel(computed, config=other, n_samples=len(y), title=f"{tag} (computed)")}
        out.append([pair["linear"], pair["mel"]])
    return out


def unprocessed_vs_cleaned(sample: pd.DataFrame, *, source: AudioSource, config: SpectrogramConfig,
                           seconds: float) -> list[list[dict]]:
    """[unprocessed, cleaned] panels of the first ``seconds`` of each sampled recording.

    Both are downmixed and resampled to ``config.sample_rate``; cleaning removes silence, so
    the cleaned panel covers more speech in the same time span.
    """
    out = []
    for _, row in sample.iterrows():
        raw = source.read(row, variant="unprocessed", seconds=seconds)
        clean = source.read(row, variant="cleaned", seconds=seconds)
        if raw is None or clean is None:
            continue
        tag = f"{row['id']} [{row['label']}]"
        out.append([panel(_db(raw, config), config=config, n_samples=len(raw), title=f"{tag} unprocessed"),
                    panel(_db(clean, config), config=config, n_samples=len(clean), title=f"{tag} cleaned")])
    return out


def augmented_vs_original(segments: pd.DataFrame, *, config: SpectrogramConfig, n: int, seed: int,
                          root: str | Path = ".", skipped: list[dict] | None = None) -> list[list[dict]]:
    """[original, augmented] panels: the first segment of a source recording and of a stretched copy.

    ``segments`` holds original and augmented rows (segments.csv columns). Up to ``n`` source
    recordings that have augmented copies are drawn at random (seeded). Empty when there
    are no augmented segments.
    """
    aug = segments[segments["augmented"].astype(bool)]
    orig = segments[~segments["augmented"].astype(bool)]
    sources = sorted(set(aug["source_id"]) & set(orig["source_id"]))
    if not sources:
        return []
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(sources, size=min(n, len(sources)), replace=False))
    out = []
    for sid in chosen:
        o = orig[orig["source_id"] == sid].sort_values("start").iloc[0]
        a = aug[aug["source_id"] == sid].sort_values(["factor", "start"]).iloc[0]
        panels = []
        for row, what in ((o, "original"), (a, f"stretched x{float(a['factor']):g}")):
            try:
                y = read_segment_audio(row.to_dict(), root=root)
            except (AudioReadError, OSError) as exc:
                if skipped is not None:
                    skipped.append({"id": row["segment_id"],
                                    "path": f"{row['audio_dir']}/{row['recording_id']}.wav",
                                    "reason": "segment audio unreadable", "detail": str(exc)[:200]})
                break
            panels.append(panel(_db(y, config), config=config, n_samples=len(y),
                                title=f"{row['segment_id']} [{row['label']}] {what}"))
        if len(panels) == 2:
            out.append(panels)
    return out
