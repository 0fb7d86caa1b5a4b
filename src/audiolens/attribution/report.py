"""Figures and tables of the attribution stage (house style from :mod:`audiolens.plots`)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from audiolens.attribution.masks import apply_mask, make_mask
from audiolens.io import atomic_write_json, atomic_write_text
from audiolens.plots import new_figure, save_figure, show_spectrogram

__all__ = ["SUMMARY_METRICS", "summary_table", "markdown", "write_table", "example_figure",
           "fidelity_heatmaps", "sanity_figure", "noise_figure"]

SUMMARY_METRICS = ("FF", "AI", "AD", "AG", "fid_in", "SPS", "COMP", "COMP_norm", "mask_mean")


def summary_table(per_example: pd.DataFrame) -> pd.DataFrame:
    """Mean of each metric per ``domain × explainer × mask`` (NaNs ignored) with the count ``n``."""
    if per_example.empty:
        return pd.DataFrame(columns=["domain", "explainer", "mask", "n", *SUMMARY_METRICS])
    keys = ["domain", "explainer", "mask"]
    g = per_example.groupby(keys, sort=False)
    out = g[list(SUMMARY_METRICS)].mean()
    out.insert(0, "n", g.size())
    return out.reset_index()


def markdown(df: pd.DataFrame, *, digits: int = 3) -> str:
    """A GitHub markdown table (no extra dependency)."""
    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return "nan" if not np.isfinite(v) and not np.isinf(v) else f"{v:.{digits}f}"
        return str(v)
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def write_table(df: pd.DataFrame, out_dir: Path, name: str, *, title: str) -> None:
    """``<name>.csv``, ``<name>.json`` (records) and ``<name>.md`` (titled table)."""
    from audiolens.io import atomic_write_csv

    atomic_write_csv(out_dir / f"{name}.csv", df)
    atomic_write_json(out_dir / f"{name}.json", df.replace({np.nan: None}).to_dict(orient="records"))
    atomic_write_text(out_dir / f"{name}.md", f"# {title}\n\n" + markdown(df))


def example_figure(path: Path, spec_db: np.ndarray, maps: dict[str, np.ndarray], *, mask_kind: str,
                   floor_db: float, title: str) -> Path:
    """Rows = explainers; columns = spectrogram, attribution (signed, symmetric scale), mask, masked spectrogram."""
    names = list(maps)
    fig, axes = new_figure(max(1, len(names)), 4, size=(2.4, 1.8))
    lo, hi = float(spec_db.min()), float(spec_db.max())
    for r, name in enumerate(names):
        a = maps[name]
        m = make_mask(a, mask_kind)
        peak = float(np.abs(a).max()) or 1.0
        show_spectrogram(axes[r, 0], spec_db, title=f"{name}: spectrogram" if r == 0 else name, vmin=lo, vmax=hi)
        show_spectrogram(axes[r, 1], a, title="attribution", cmap="RdBu_r", vmin=-peak, vmax=peak)
        show_spectrogram(axes[r, 2], m, title=f"mask {mask_kind} (mean {m.mean():.2f})", cmap="gray",
                         vmin=0, vmax=1)
        show_spectrogram(axes[r, 3], apply_mask(spec_db, m, floor_db=floor_db), title="masked",
                         vmin=lo, vmax=hi)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def fidelity_heatmaps(path: Path, summary: pd.DataFrame, *, metrics: Sequence[str] = ("FF", "AD", "fid_in", "SPS"),
                      domain: str = "spectral") -> Path | None:
    """Explainer × mask heatmaps of a few summary metrics (annotated)."""
    df = summary[summary["domain"] == domain]
    if df.empty:
        return None
    fig, axes = new_figure(1, len(metrics), size=(3.2, 0.45 * df["explainer"].nunique() + 1.2))
    for ax, met in zip(axes[0], metrics):
        tab = df.pivot(index="explainer", columns="mask", values=met).reindex(
            index=df["explainer"].unique(), columns=df["mask"].unique())
        im = ax.imshow(tab.to_numpy(dtype=float), aspect="auto", cmap="viridis")
        ax.set_xticks(range(tab.shape[1]), tab.columns, rotation=45, ha="right")
        ax.set_yticks(range(tab.shape[0]), tab.index)
        ax.grid(False)
        for (i, j), v in np.ndenumerate(tab.to_numpy(dtype=float)):
            ax.text(j, i, f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}", ha="center", va="center", fontsize=7,
                    color="w")
        ax.set_title(f"{met} ({domain})")
        fig.colorbar(im, ax=ax, fraction=0.046)
    return save_figure(fig, path)


def sanity_figure(path: Path, table: pd.DataFrame, *, metric: str = "spearman_abs") -> Path | None:
    """Similarity to the trained model's maps vs cascading randomisation step, one line per explainer."""
    if table.empty:
        return None
    fig, axes = new_figure(1, 1, size=(6.0, 3.2))
    ax = axes[0, 0]
    for name, g in table.groupby("explainer", sort=False):
        ax.plot(g["step"], g[metric], marker="o", label=name)
    steps = table.drop_duplicates("step")
    ax.set_xticks(steps["step"], steps["layer"], rotation=45, ha="right")
    ax.set_ylabel(f"{metric} to trained maps")
    ax.set_xlabel("layers randomised (cumulative, top-down)")
    ax.set_ylim(min(-0.1, float(np.nanmin(table[metric].to_numpy(dtype=float), initial=0.0)) - 0.05), 1.05)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def noise_figure(path: Path, perf: pd.DataFrame, fid: pd.DataFrame) -> Path | None:
    """Accuracy, ECE and FF against SNR per noise (the clean value as a dashed line)."""
    if perf.empty:
        return None
    fig, axes = new_figure(1, 3, size=(3.4, 2.8))
    clean = perf[perf["noise"] == "clean"]
    noisy = perf[perf["noise"] != "clean"]
    for ax, met in zip(axes[0, :2], ("accuracy", "ece")):
        for name, g in noisy.groupby("noise", sort=False):
            ax.plot(g["snr_db"], g[met], marker="o", label=name)
        if not clean.empty:
            ax.axhline(float(clean[met].iloc[0]), ls="--", color="k", lw=1, label="clean")
        ax.set_xlabel("SNR (dB)")
        ax.set_title(met)
        ax.legend(fontsize=6)
    ax = axes[0, 2]
    noisy_f = fid[fid["noise"] != "clean"] if not fid.empty else fid
    for (name, ex), g in (noisy_f.groupby(["noise", "explainer"], sort=False) if not noisy_f.empty else []):
        ax.plot(g["snr_db"], g["FF"], marker=".", label=f"{name}/{ex}")
    clean_f = fid[fid["noise"] == "clean"] if not fid.empty else fid
    for i, row in enumerate(clean_f.itertuples(index=False)):
        ax.axhline(row.FF, ls="--", lw=1, color=f"C{i}", label=f"clean/{row.explainer}")
    ax.set_xlabel("SNR (dB)")
    ax.set_title("FF (faithfulness)")
    ax.legend(fontsize=6)
    return save_figure(fig, path)
