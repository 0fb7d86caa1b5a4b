"""The EDA stage's work: read the pipeline tables, sample within budget, write figures and tables.

Outputs (under ``out_dir``)::

    figures/  counts.png durations.png class_totals.png spectra.png pitch.png image_stats.png
              examples_linear_vs_mel.png examples_unprocessed_vs_cleaned.png
              examples_augmented_vs_original.png (only when there are augmented segments)
    tables/   counts.csv durations.csv class_totals.csv spectra_<variant>.csv pitch_frames.csv
              pitch_summary.csv image_stats.csv
    class_summary.csv, class_summary.json   per-class image statistics (the dvc metrics)
    summary.json                            counts, sample sizes (timings: logged)
    skipped.csv                             recordings/segments that could not be read
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audiolens.eda import figures
from audiolens.eda.examples import augmented_vs_original, linear_vs_mel, unprocessed_vs_cleaned
from audiolens.eda.pitch import pitch_summary
from audiolens.eda.sampling import choose_groups, sample_balanced, sample_seconds_per_group
from audiolens.eda.stats import STAT_COLUMNS, image_stats, summarise_by
from audiolens.eda.views import AudioSource, pitch_frames_by_group, spectra_by_group
from audiolens.errors import ParameterError
from audiolens.features import SpectrogramConfig
from audiolens.io import SKIPPED_COLUMNS, atomic_dir, atomic_write_csv, atomic_write_json
from audiolens.segments import read_table
from audiolens.shards import FeatureStore

__all__ = ["EdaSettings", "run", "group_column", "clean_durations"]


@dataclass(frozen=True, kw_only=True)
class EdaSettings:
    """Budgets of the bounded-cost analysis (built from the ``eda`` params section).

    Attributes
    ----------
    max_recordings_per_speaker : int
        Recordings per speaker (per label without speakers) for spectra and pYIN.
    max_groups : int
        Speakers (labels) shown in per-speaker figures; a seeded sample beyond.
    spectrum_n_fft : int
        STFT size of the mean spectra (samples).
    pyin_seconds_per_speaker : float
        Cleaned audio per speaker analysed with pYIN (s).
    pyin_fmin, pyin_fmax : float
        F0 search range (Hz).
    max_images : int
        Spectrograms sampled for image statistics.
    entropy_bins : int
        Histogram bins over ``[-top_db, 0]`` dB for the entropy.
    examples : int
        Example rows per example figure.
    example_seconds : float
        Seconds shown in the unprocessed-vs-cleaned examples.
    seed : int
        Seed of every sample drawn.
    """

    max_recordings_per_speaker: int
    max_groups: int
    spectrum_n_fft: int
    pyin_seconds_per_speaker: float
    pyin_fmin: float
    pyin_fmax: float
    max_images: int
    entropy_bins: int
    examples: int
    example_seconds: float
    seed: int


def group_column(manifest: pd.DataFrame) -> str:
    """``speaker`` when the manifest names speakers, else ``label``."""
    if "speaker" in manifest.columns and manifest["speaker"].astype(str).str.len().gt(0).any():
        return "speaker"
    return "label"


def clean_durations(manifest: pd.DataFrame, clean_log: pd.DataFrame, *, source: str = "clean_log.csv"
                    ) -> pd.DataFrame:
    """Durations before/after cleaning per recording, joined with the manifest.

    Returns the manifest rows with ``duration_before_s`` and ``duration_after_s`` (NaN for a
    recording the clean stage skipped, e.g. empty after cleaning).
    """
    before = next((c for c in ("duration_in_s", "duration_before_s") if c in clean_log.columns), None)
    after = next((c for c in ("duration_out_s", "duration_after_s") if c in clean_log.columns), None)
    if "id" not in clean_log.columns or before is None or after is None:
        raise ValueError(f"{source}: needs columns id, duration_in_s, duration_out_s "
                         f"(has {list(clean_log.columns)})")
    log = clean_log[["id", before, after]].rename(
        columns={before: "duration_before_s", after: "duration_after_s"})
    return manifest.merge(log.astype({"id": str}), on="id", how="left")


def _segment_seconds(segments: pd.DataFrame, sample_rate: int) -> pd.DataFrame:
    """Segments with ``seconds`` = audio they hold (padding excluded)."""
    n = segments["end"].astype(np.int64) - segments["start"].astype(np.int64) - segments["pad"].astype(np.int64)
    return segments.assign(seconds=np.maximum(n, 0) / float(sample_rate))


def _stats_sample(store: FeatureStore, *, settings: EdaSettings, log: logging.Logger) -> pd.DataFrame:
    """Image statistics of at most ``max_images`` stored spectrograms, balanced over class x augmented."""
    idx = store.index.reset_index(drop=True).assign(_row=np.arange(len(store)))
    idx["_stratum"] = idx["label"].astype(str) + "|" + idx["augmented"].astype(str)
    sample = sample_balanced(idx, by="_stratum", total=settings.max_images, seed=settings.seed)
    freqs = np.asarray(store.meta["freqs_hz"], dtype=np.float64)
    top_db = float(store.meta["top_db"])
    parts = []
    for rows, x in store.batches(sample["_row"].to_numpy(), batch_size=256):
        parts.append(image_stats(x, freqs, bins=settings.entropy_bins, value_range=(-top_db, 0.0)))
    stats = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(STAT_COLUMNS))
    keep = ["segment_id", "source_id", "label", "speaker", "augmented"]
    out = pd.concat([sample[keep].reset_index(drop=True), stats], axis=1)
    log.info("image statistics of %d of %d spectrograms", len(out), len(store))
    return out


def run(*, manifest_path: str | Path, clean_dir: str | Path, clean_log_path: str | Path,
            segments_paths: list[str | Path], features_dir: str | Path, data_root: str | Path,
            sample_rate: int, out_dir: str | Path, settings: EdaSettings, project_root: str | Path = ".",
            log: logging.Logger | None = None, progress: bool = True) -> dict:
    """Run the whole analysis and write the outputs listed in the module docstring.

    Parameters
    ----------
    manifest_path, clean_log_path : path
        ``manifest.csv`` (ingest) and ``clean_log.csv`` (clean).
    clean_dir : path
        Cleaned ``<id>.wav`` files.
    segments_paths : list of path
        ``segments.csv`` of originals and of augmented copies (missing files are ignored).
    features_dir : path
        Spectrogram stage folder (a :class:`~audiolens.shards.FeatureStore`).
    data_root : path
        Folder the manifest's paths are relative to (unprocessed audio).
    sample_rate : int
        Sample rate of the cleaned audio (Hz).
    out_dir : path
        Output folder (``reports/eda``).
    project_root : path
        Folder the segment tables' ``audio_dir`` is relative to.

    Returns
    -------
    dict
        The content of ``summary.json``.
    """
    log = log or logging.getLogger("audiolens.eda")
    s = settings
    if s.pyin_fmax >= sample_rate / 2:
        raise ParameterError(f"pyin_fmax = {s.pyin_fmax:g} Hz must be below sample_rate / 2 "
                             f"({sample_rate / 2:g} Hz)")
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    out_dir = Path(out_dir)
    manifest = read_table(manifest_path, columns=["id", "path", "label", "speaker", "duration_s"])
    if manifest.empty:
        raise ValueError(f"{manifest_path}: no recordings")
    by = group_column(manifest)
    if by == "speaker":
        manifest["speaker"] = manifest["speaker"].replace("", "(none)")
    durations = clean_durations(manifest, read_table(clean_log_path), source=str(clean_log_path))
    shown = choose_groups(manifest[by], max_groups=s.max_groups, seed=s.seed)
    if len(shown) < manifest[by].nunique():
        log.info("%d %s values: per-%s figures show a random %d (eda.max_groups)",
                 manifest[by].nunique(), by, by, len(shown))
    in_shown = manifest[by].astype(str).isin(shown)
    seg_tables = [read_table(p) for p in segments_paths if Path(p).is_file()]
    if not seg_tables:
        raise FileNotFoundError(f"no segment table found among {[str(p) for p in segments_paths]}")
    segments = _segment_seconds(pd.concat(seg_tables, ignore_index=True), sample_rate)
    store = FeatureStore(features_dir)
    source = AudioSource(data_root=data_root, clean_dir=clean_dir, sample_rate=sample_rate)
    seg_skipped: list[dict] = []
    rng_seed = s.seed

    with atomic_dir(out_dir / "figures") as fig_dir, atomic_dir(out_dir / "tables") as tab_dir:
        # 1. counts, durations, class totals -------------------------------------------
        t = time.perf_counter()
        counts = manifest.groupby([by, "label"] if by != "label" else ["label"]).size().rename("recordings")
        atomic_write_csv(tab_dir / "counts.csv", counts.reset_index())
        figures.plot_counts(manifest, out=fig_dir / "counts.png", speaker_col=by if by != "label" else "")
        atomic_write_csv(tab_dir / "durations.csv",
                         durations[["id", by, "label", "duration_before_s", "duration_after_s"]]
                         if by != "label" else durations[["id", "label", "duration_before_s",
                                                           "duration_after_s"]])
        figures.plot_durations(durations[durations[by].astype(str).isin(shown)],
                               out=fig_dir / "durations.png", by=by)
        totals = (segments.groupby(["label", "augmented"])
                  .agg(segments=("segment_id", "size"), seconds=("seconds", "sum")).reset_index())
        atomic_write_csv(tab_dir / "class_totals.csv", totals)
        figures.plot_class_totals(segments, out=fig_dir / "class_totals.png")
        timings["counts_s"] = time.perf_counter() - t

        # 2. mean spectra, unprocessed vs cleaned (bounded sample per group) ------------
        t = time.perf_counter()
        spec_sample = sample_seconds_per_group(manifest[in_shown], by=by, seconds=float("inf"), seed=rng_seed,
                                               max_rows=s.max_recordings_per_speaker)
        spectra, freqs = spectra_by_group(spec_sample, source=source, by=by, n_fft=s.spectrum_n_fft,
                                          progress=progress)
        for variant, table in spectra.items():
            atomic_write_csv(tab_dir / f"spectra_{variant}.csv", table.reset_index(names=by))
        figures.plot_spectra(spectra, freqs, out=fig_dir / "spectra.png", by=by)
        timings["spectra_s"] = time.perf_counter() - t
        log.info("mean spectra from %d recordings per variant", len(spec_sample))

        # 3. pYIN F0 on a bounded sample of cleaned audio per group --------------------
        t = time.perf_counter()
        clean_dur = durations.dropna(subset=["duration_after_s"]).drop(columns="duration_s")
        clean_dur = clean_dur[(clean_dur["duration_after_s"] > 0) & clean_dur[by].astype(str).isin(shown)]
        clean_dur = clean_dur.rename(columns={"duration_after_s": "duration_s"})
        pitch_sample = sample_seconds_per_group(clean_dur, by=by, seconds=s.pyin_seconds_per_speaker,
                                                seed=rng_seed, max_rows=s.max_recordings_per_speaker)
        frames = pitch_frames_by_group(pitch_sample, source=source, by=by, fmin=s.pyin_fmin,
                                       fmax=s.pyin_fmax, progress=progress)
        pitch = pitch_summary(frames, by=by)
        atomic_write_csv(tab_dir / "pitch_frames.csv", frames)
        atomic_write_csv(tab_dir / "pitch_summary.csv", pitch)
        figures.plot_pitch(frames, pitch, out=fig_dir / "pitch.png", by=by)
        timings["pitch_s"] = time.perf_counter() - t
        log.info("pYIN on %.1f s of audio (%d recordings)", pitch_sample["take_s"].sum(), len(pitch_sample))

        # 4. spectrogram image statistics --------------------------------------------
        t = time.perf_counter()
        stats = _stats_sample(store, settings=s, log=log)
        atomic_write_csv(tab_dir / "image_stats.csv", stats)
        originals = stats[~stats["augmented"].astype(bool)]
        figures.plot_image_stats(originals if len(originals) else stats, out=fig_dir / "image_stats.png")
        class_summary = summarise_by(originals if len(originals) else stats, by="label")
        timings["image_stats_s"] = time.perf_counter() - t

        # 5. examples ------------------------------------------------------------------
        t = time.perf_counter()
        cfg = SpectrogramConfig.from_meta(store.meta)
        orig_idx = store.index.reset_index(drop=True)
        orig_rows = np.flatnonzero(~orig_idx["augmented"].astype(bool).to_numpy()) if len(orig_idx) else []
        picks = sample_balanced(orig_idx.iloc[orig_rows].assign(_row=orig_rows), by="label",
                                total=s.examples, seed=rng_seed)["_row"].to_numpy()
        example_files = {}
        rows = linear_vs_mel(store, picks, root=project_root, skipped=seg_skipped)
        if rows:
            example_files["linear_vs_mel"] = figures.plot_pairs(
                rows, out=fig_dir / "examples_linear_vs_mel.png", col_titles=["linear", "mel"]).name
        ex_sample = sample_balanced(manifest, by="label", total=s.examples, seed=rng_seed)
        rows = unprocessed_vs_cleaned(ex_sample, source=source, config=cfg, seconds=s.example_seconds)
        if rows:
            example_files["unprocessed_vs_cleaned"] = figures.plot_pairs(
                rows, out=fig_dir / "examples_unprocessed_vs_cleaned.png",
                col_titles=["unprocessed", "cleaned"]).name
        rows = augmented_vs_original(segments, config=cfg, n=s.examples, seed=rng_seed,
                                     root=project_root, skipped=seg_skipped)
        if rows:
            example_files["augmented_vs_original"] = figures.plot_pairs(
                rows, out=fig_dir / "examples_augmented_vs_original.png",
                col_titles=["original", "augmented"]).name
        timings["examples_s"] = time.perf_counter() - t

    atomic_write_csv(out_dir / "class_summary.csv", class_summary)
    metrics = {str(r["label"]): {k: (round(float(v), 6) if k != "n" else int(v))
                                 for k, v in r.items() if k != "label"
                                 and (k == "n" or k.endswith("_mean") or k.endswith("_std"))}
               for _, r in class_summary.iterrows()}
    atomic_write_json(out_dir / "class_summary.json", {"per_class": metrics})
    skipped = pd.concat([source.skipped_table(), pd.DataFrame(seg_skipped, columns=SKIPPED_COLUMNS)],
                        ignore_index=True).drop_duplicates()
    atomic_write_csv(out_dir / "skipped.csv", skipped)
    for reason, n in skipped["reason"].value_counts().items():
        log.warning("skipped %d item(s): %s", n, reason)
    aug = segments["augmented"].astype(bool)
    summary = {
        "group_by": by, "recordings": int(len(manifest)), "groups": int(manifest[by].nunique()),
        "groups_shown": len(shown),
        "classes": int(manifest["label"].nunique()),
        "seconds_before_cleaning": round(float(durations["duration_before_s"].sum()), 3),
        "seconds_after_cleaning": round(float(durations["duration_after_s"].sum()), 3),
        "not_cleaned": int(durations["duration_after_s"].isna().sum()),
        "segments": int((~aug).sum()), "augmented_segments": int(aug.sum()),
        "spectra_recordings": int(len(spec_sample)),
        "pyin_recordings": int(len(pitch_sample)), "pyin_seconds": round(float(pitch_sample["take_s"].sum()), 3),
        "pyin_voiced_fraction": round(float(frames["voiced"].mean()), 4) if len(frames) else 0.0,
        "images_analysed": int(len(stats)), "images_total": int(len(store)),
        "examples": example_files, "skipped": int(len(skipped)),
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "total_s": round(time.perf_counter() - t0, 2),
    }
    # seconds differ between identical runs: logged and returned, not written (outputs reproduce)
    log.info("eda timings (s): %s", summary["timings_s"])
    atomic_write_json(out_dir / "summary.json", {k: v for k, v in summary.items() if k not in ("timings_s", "total_s")})
    return summary
