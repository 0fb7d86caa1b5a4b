"""EDA figures, drawn from plain tables and arrays (no file reading here).

Every function writes one PNG with :func:`audiolens.plots.save_figure` and returns its path.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from audiolens.eda.stats import STAT_COLUMNS
from audiolens.plots import new_figure, save_figure, show_spectrogram

__all__ = ["natural_sorted", "plot_counts", "plot_durations", "plot_class_totals", "plot_spectra", "plot_pitch",
           "plot_image_stats", "plot_pairs"]

ORIGINAL = "#1f77b4"
AUGMENTED = "#ff7f0e"
BEFORE = "#9e9e9e"
AFTER = "#2ca02c"
STAT_UNITS = {"mean": "dB", "variance": "dB²", "entropy": "bits", "skewness": "", "kurtosis": "excess",
              "dominant_hz": "Hz"}


def natural_sorted(values) -> list[str]:
    """Distinct values as str, sorted so that ``f2`` comes before ``f10``."""
    import re

    return sorted({str(v) for v in values},
                  key=lambda x: [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", x)])


def _colours(n: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _rotate(ax, labels: Sequence[str]) -> None:
    if len(labels) > 6 or max((len(str(x)) for x in labels), default=0) > 6:
        ax.tick_params(axis="x", labelrotation=60)
        for t in ax.get_xticklabels():
            t.set_horizontalalignment("right")


def plot_counts(manifest: pd.DataFrame, *, out: str | Path, speaker_col: str = "speaker",
                label_col: str = "label") -> Path:
    """Recordings per speaker (bars coloured by label) and per label.

    ``manifest`` needs ``label`` and optionally ``speaker`` (empty strings → no speaker panel).
    """
    labels = natural_sorted(manifest[label_col])
    colour = dict(zip(labels, _colours(len(labels))))
    has_spk = speaker_col in manifest.columns and manifest[speaker_col].astype(str).str.len().gt(0).any()
    n_spk = manifest[speaker_col].nunique() if has_spk else 0
    fig, axes = new_figure(1, 2 if has_spk else 1, size=(max(4.0, 0.28 * n_spk + 1.5), 3.2))
    per_label = manifest[label_col].astype(str).value_counts().reindex(labels)
    ax = axes[0, -1]
    ax.bar(labels, per_label.to_numpy(), color=[colour[x] for x in labels])
    ax.set_title(f"recordings per {label_col}")
    ax.set_ylabel("recordings")
    _rotate(ax, labels)
    if has_spk:
        ax = axes[0, 0]
        table = (manifest.assign(_l=manifest[label_col].astype(str), _s=manifest[speaker_col].astype(str))
                 .groupby(["_s", "_l"]).size().unstack(fill_value=0)
                 .reindex(index=natural_sorted(manifest[speaker_col]), columns=labels, fill_value=0))
        bottom = np.zeros(len(table))
        for lab in labels:
            vals = table[lab].to_numpy()
            ax.bar(table.index.astype(str), vals, bottom=bottom, color=colour[lab], label=lab)
            bottom += vals
        ax.set_title(f"recordings per {speaker_col}")
        ax.set_ylabel("recordings")
        ax.legend(title=label_col, fontsize=7, bbox_to_anchor=(1.01, 1.0), loc="upper left")
        _rotate(ax, list(table.index.astype(str)))
    return save_figure(fig, out)


def plot_durations(durations: pd.DataFrame, *, out: str | Path, by: str = "speaker") -> Path:
    """Boxplots of recording duration per group, before and after cleaning, side by side.

    ``durations`` needs ``<by>``, ``duration_before_s``, ``duration_after_s`` (seconds).
    """
    groups = natural_sorted(durations[by])
    fig, axes = new_figure(1, 1, size=(max(5.0, 0.45 * len(groups) + 1.5), 3.4))
    ax = axes[0, 0]
    pos = np.arange(len(groups), dtype=float)
    for offset, col, colour, name in ((-0.2, "duration_before_s", BEFORE, "before cleaning"),
                                      (0.2, "duration_after_s", AFTER, "after cleaning")):
        data = [durations.loc[durations[by].astype(str) == g, col].dropna().to_numpy() for g in groups]
        bp = ax.boxplot(data, positions=pos + offset, widths=0.35, patch_artist=True,
                        showfliers=True, flierprops={"markersize": 2})
        for box in bp["boxes"]:
            box.set_facecolor(colour)
            box.set_alpha(0.8)
        ax.plot([], [], color=colour, lw=6, label=name)
    ax.set_xticks(pos, groups)
    _rotate(ax, groups)
    ax.set_ylabel("duration (s)")
    ax.set_title(f"recording duration per {by}, before vs after cleaning")
    ax.legend(fontsize=7)
    return save_figure(fig, out)


def plot_class_totals(segments: pd.DataFrame, *, out: str | Path, label_col: str = "label") -> Path:
    """Seconds and segment counts per class, original and augmented shown apart.

    ``segments`` needs ``<label_col>``, ``augmented`` (bool), ``seconds`` (segment length, s).
    """
    labels = natural_sorted(segments[label_col])
    seg = segments.assign(_l=segments[label_col].astype(str), _aug=segments["augmented"].astype(bool))
    fig, axes = new_figure(1, 2, size=(max(3.5, 0.6 * len(labels) + 1.5), 3.2))
    x = np.arange(len(labels), dtype=float)
    for ax, (what, agg) in zip(axes[0], (("seconds", "sum"), ("segments", "size"))):
        for offset, aug, colour, name in ((-0.2, False, ORIGINAL, "original"),
                                          (0.2, True, AUGMENTED, "augmented")):
            part = seg[seg["_aug"] == aug].groupby("_l")
            vals = (part["seconds"].sum() if agg == "sum" else part.size()).reindex(labels, fill_value=0)
            bars = ax.bar(x + offset, vals.to_numpy(), width=0.4, color=colour, label=name)
            ax.bar_label(bars, fmt="%.0f", fontsize=6)
        ax.set_xticks(x, labels)
        _rotate(ax, labels)
        ax.set_title(f"{what} per class")
        ax.set_ylabel(what if what == "segments" else "audio (s)")
        ax.legend(fontsize=7)
    return save_figure(fig, out)


def plot_spectra(spectra: dict[str, pd.DataFrame], freqs_hz: np.ndarray, *, out: str | Path,
                 by: str = "speaker") -> Path:
    """Mean intensity (dB) per frequency bin per group, one panel per variant, log-frequency axis.

    Parameters
    ----------
    spectra : dict
        Variant name (e.g. ``"unprocessed"``, ``"cleaned"``) → DataFrame with one row per
        group (index = group name) and one column per frequency bin (mean power, linear).
    freqs_hz : ndarray, shape (F,)
        Bin frequencies (Hz); the 0 Hz bin is left out of the log axis.
    """
    freqs = np.asarray(freqs_hz, dtype=float)
    keep = freqs > 0
    groups = natural_sorted(g for df in spectra.values() for g in df.index)
    colour = dict(zip(groups, _colours(len(groups))))
    fig, axes = new_figure(1, len(spectra), size=(4.6, 3.4), sharey=True)
    for ax, (name, df) in zip(axes[0], spectra.items()):
        for g in natural_sorted(df.index):
            power = np.asarray(df.loc[g].to_numpy(dtype=float))
            ax.plot(freqs[keep], 10 * np.log10(np.maximum(power[keep], 1e-20)), lw=0.9,
                    color=colour[str(g)], label=str(g))
        ax.set_xscale("log")
        ax.set_xlabel("frequency (Hz)")
        ax.set_title(f"mean spectrum per {by}: {name}")
    axes[0, 0].set_ylabel("mean power (dB)")
    axes[0, -1].legend(fontsize=6, ncol=2 if len(groups) > 12 else 1, title=by,
                       bbox_to_anchor=(1.01, 1.0), loc="upper left")
    return save_figure(fig, out)


def plot_pitch(frames: pd.DataFrame, summary: pd.DataFrame, *, out: str | Path,
               by: str = "speaker") -> Path:
    """F0 distribution of voiced frames per group (boxplots) and voiced fraction (bars).

    ``frames``: ``<by>``, ``f0_hz``, ``voiced``; ``summary``: output of
    :func:`audiolens.eda.pitch.pitch_summary`.
    """
    groups = natural_sorted(summary[by])
    fig, axes = new_figure(1, 2, size=(max(4.0, 0.35 * len(groups) + 1.5), 3.4))
    voiced = frames[frames["voiced"].astype(bool) & np.isfinite(frames["f0_hz"])]
    data = [voiced.loc[voiced[by].astype(str) == g, "f0_hz"].to_numpy() for g in groups]
    ax = axes[0, 0]
    ax.boxplot([d if d.size else np.array([np.nan]) for d in data], showfliers=False)
    ax.set_xticks(np.arange(1, len(groups) + 1), groups)
    _rotate(ax, groups)
    ax.set_ylabel("F0 (Hz)")
    ax.set_title(f"pYIN F0 of voiced frames per {by}")
    ax = axes[0, 1]
    frac = summary.assign(_g=summary[by].astype(str)).set_index("_g")["voiced_fraction"].reindex(groups)
    ax.bar(groups, frac.to_numpy(), color=ORIGINAL)
    ax.set_ylim(0, 1)
    ax.set_ylabel("voiced fraction of frames")
    ax.set_title(f"voiced fraction per {by}")
    _rotate(ax, groups)
    return save_figure(fig, out)


def plot_image_stats(stats: pd.DataFrame, *, out: str | Path, by: str = "label",
                     columns: Sequence[str] = STAT_COLUMNS) -> Path:
    """Distribution of each image statistic per class: overlaid histograms (≤ 8 classes) or boxplots."""
    groups = natural_sorted(stats[by])
    colour = dict(zip(groups, _colours(len(groups))))
    ncols = 3
    nrows = int(np.ceil(len(columns) / ncols))
    fig, axes = new_figure(nrows, ncols, size=(3.4, 2.6))
    for ax, col in zip(axes.flat, columns):
        data = [stats.loc[stats[by].astype(str) == g, col].to_numpy(dtype=float) for g in groups]
        unit = STAT_UNITS.get(col, "")
        if len(groups) <= 8:
            allv = np.concatenate(data)
            lo, hi = float(np.min(allv)), float(np.max(allv))
            edges = np.linspace(lo, hi if hi > lo else lo + 1.0, 31)
            for g, d in zip(groups, data):
                ax.hist(d, bins=edges, density=True, histtype="step", lw=1.2, color=colour[g], label=g)
            ax.set_xlabel(f"{col} ({unit})" if unit else col)
            ax.set_ylabel("density")
        else:
            ax.boxplot(data, showfliers=False)
            ax.set_xticks(np.arange(1, len(groups) + 1), groups)
            _rotate(ax, groups)
            ax.set_ylabel(f"{col} ({unit})" if unit else col)
        ax.set_title(col)
    for ax in list(axes.flat)[len(columns):]:
        ax.set_axis_off()
    if len(groups) <= 8:
        axes.flat[0].legend(title=by, fontsize=6)
    return save_figure(fig, out)


def plot_pairs(rows: list[list[dict]], *, out: str | Path, col_titles: Sequence[str] | None = None,
               size: tuple[float, float] = (3.0, 2.2)) -> Path:
    """A grid of spectrogram panels, one row per example, e.g. [linear, mel] or [raw, cleaned].

    Parameters
    ----------
    rows : list of list of dict
        Each panel: ``image`` (F, T) dB array; optional ``title``, ``extent``
        ``(t0_s, t1_s, f_lo, f_hi)`` and ``ylabel``. A row may have fewer panels.
    col_titles : list of str, optional
        Shown above the first row (prefixed to the panel titles).
    """
    if not rows:
        raise ValueError("plot_pairs needs at least one row of panels")
    ncols = max(len(r) for r in rows)
    fig, axes = new_figure(len(rows), ncols, size=size)
    for i, row in enumerate(rows):
        for j in range(ncols):
            ax = axes[i, j]
            if j >= len(row):
                ax.set_axis_off()
                continue
            panel = row[j]
            title = panel.get("title", "")
            if i == 0 and col_titles:
                title = f"{col_titles[j]}\n{title}" if title else col_titles[j]
            kw = {"extent": panel["extent"]} if panel.get("extent") is not None else {}
            im = show_spectrogram(ax, panel["image"], title=title, axis_off=False, **kw)
            ax.grid(False)
            ax.set_ylabel(panel.get("ylabel", "bin"), fontsize=7)
            if i == len(rows) - 1:
                ax.set_xlabel("time (s)" if "extent" in kw else "frame", fontsize=7)
            ax.tick_params(labelsize=6)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=6)
    return save_figure(fig, out)
