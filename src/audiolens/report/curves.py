"""Learning curves drawn from step-indexed TSV logs (DVCLive's ``plots/metrics/<split>/<metric>.tsv``)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from audiolens.plots import new_figure, save_figure
from audiolens.report.discover import Section

__all__ = ["find_curves", "plot_curves"]


def find_curves(section: Section) -> dict[str, dict[str, pd.DataFrame]]:
    """Step-indexed series of a section: ``{metric: {series: frame(step, value)}}``.

    A TSV qualifies when it has a ``step`` column and one other numeric column (a
    ``timestamp`` column is ignored); the metric is the file stem, the series its folder
    name (``train``, ``eval``). Unreadable or other TSVs are left to the tables.
    """
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for a in section.of("table"):
        if a.path.suffix.lower() != ".tsv":
            continue
        try:
            frame = pd.read_csv(a.path, sep="\t")
        except (ValueError, OSError, pd.errors.ParserError):
            continue
        values = [c for c in frame.columns if c not in ("step", "timestamp")]
        if "step" not in frame.columns or len(values) != 1 or frame.empty:
            continue
        col = values[0]
        if not pd.api.types.is_numeric_dtype(frame[col]):
            continue
        out.setdefault(a.path.stem, {})[a.path.parent.name] = frame[["step", col]].rename(columns={col: "value"})
    return {k: out[k] for k in sorted(out)}


def plot_curves(curves: dict[str, dict[str, pd.DataFrame]], *, out: str | Path) -> Path:
    """One panel per metric, one line per series (x: step)."""
    if not curves:
        raise ValueError("no curves to plot")
    ncols = min(3, len(curves))
    nrows = -(-len(curves) // ncols)
    fig, axes = new_figure(nrows, ncols, size=(3.6, 2.6))
    flat = list(axes.flat)
    for ax, (metric, series) in zip(flat, curves.items()):
        for name in sorted(series):
            f = series[name]
            ax.plot(f["step"], f["value"], marker="o" if len(f) < 30 else None, ms=3, label=name)
        ax.set_title(metric)
        ax.set_xlabel("step (epoch)")
        ax.legend(fontsize=7)
    for ax in flat[len(curves):]:
        ax.set_axis_off()
    return save_figure(fig, out)
