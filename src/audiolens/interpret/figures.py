"""Figures of the interpret and paramspace stages (house style from :mod:`audiolens.plots`)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from audiolens.interpret.internals import FilterSummary, top_channels
from audiolens.plots import CORRECT, WRONG, new_figure, show_spectrogram

__all__ = ["filters_figure", "feature_maps_figure", "retrieval_gallery", "projection_figure",
           "cam_figure", "drift_figure", "robustness_figure"]


def _panel_off(axes, start: int) -> None:
    for ax in list(axes.flat)[start:]:
        ax.set_axis_off()


def filters_figure(summary: FilterSummary, *, max_filters: int, ncols: int = 8):
    """Kernels of one conv layer.

    First layer: the kernels themselves on a shared diverging scale. Deeper layers: per
    output channel, the tap energy over input channels. Below, when the layer has several
    input channels, the input x output channel-norm matrix (the only panel for 1x1 kernels).
    """
    imgs = summary.images[:max_filters]
    direct = summary.kind == "direct"
    spatial = imgs.shape[1] * imgs.shape[2] > 1
    matrix = summary.channel_norms.shape[0] > 1
    n = len(imgs) if spatial else 0
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols)) + matrix
    fig, axes = new_figure(max(nrows, 1), ncols, size=(1.3, 1.3))
    lim = float(np.abs(imgs).max()) or 1.0
    kw = dict(cmap="RdBu_r", vmin=-lim, vmax=lim) if direct else dict(cmap="magma", vmin=0, vmax=lim)
    flat = list(axes.flat)
    for i in range(n):
        show_spectrogram(flat[i], imgs[i], title=f"out {i}", **kw)
    _panel_off(axes, n)
    if matrix:
        for ax in axes[-1]:
            ax.remove()
        ax = fig.add_subplot(nrows, 1, nrows)
        im = ax.imshow(summary.channel_norms, aspect="auto", cmap="viridis", interpolation="nearest",
                       origin="lower")
        ax.set_xlabel("output channel")
        ax.set_ylabel("input channel")
        ax.grid(False)
        fig.colorbar(im, ax=ax, label="kernel L2 norm", fraction=0.04)
    what = "kernels (input channels summed)" if direct else "per-output-channel tap energy ‖w‖₂ over inputs"
    if not spatial:
        what = "1x1 kernels: channel mixing"
    shown = f", first {n} of {len(summary.images)}" if 0 < n < len(summary.images) else ""
    fig.suptitle(f"{summary.layer}: {what}{shown}", fontsize=9)
    return fig


def feature_maps_figure(spec: np.ndarray, maps: dict[str, np.ndarray], *, title: str,
                        max_channels: int):
    """One example: the input spectrogram, then per block the channel mean and its most active
    channels. ``spec`` is ``(F, T)`` dB; ``maps`` name -> ``(h, w, c)``."""
    names = list(maps)
    ncols = 2 + max_channels
    fig, axes = new_figure(max(1, len(names)), ncols, size=(1.5, 1.3))
    for r, name in enumerate(names):
        row = axes[r]
        if r == 0:
            show_spectrogram(row[0], spec, title="input (dB)")
        else:
            row[0].set_axis_off()
        fmap = maps[name]
        show_spectrogram(row[1], fmap.mean(axis=-1), title=f"{name}\nmean of {fmap.shape[-1]}",
                         cmap="viridis")
        chans = top_channels(fmap, max_channels)
        for j, ax in enumerate(row[2:]):
            if j < len(chans):
                show_spectrogram(ax, fmap[..., chans[j]], title=f"ch {chans[j]}", cmap="viridis")
            else:
                ax.set_axis_off()
    fig.suptitle(title, fontsize=9)
    return fig


def retrieval_gallery(query: np.ndarray, query_titles: list[str], neighbours: np.ndarray,
                      sims: np.ndarray, neighbour_labels: list[list[str]], query_labels: list[str]):
    """Rows: a query ``(F, T)`` then its ``k`` nearest index spectrograms with cosine similarity
    and label (green: same label as the query, red: different).

    Shapes: ``query (q, F, T)``, ``neighbours (q, k, F, T)``, ``sims (q, k)``.
    """
    q, k = sims.shape
    fig, axes = new_figure(q, k + 1, size=(1.6, 1.4))
    for i in range(q):
        show_spectrogram(axes[i, 0], query[i], title=query_titles[i])
        axes[i, 0].title.set_fontweight("bold")
        for j in range(k):
            lab = neighbour_labels[i][j]
            show_spectrogram(axes[i, j + 1], neighbours[i, j], title=f"#{j + 1} {lab}\ncos={sims[i, j]:.3f}")
            axes[i, j + 1].title.set_color(CORRECT if lab == query_labels[i] else WRONG)
    fig.suptitle("embedding retrieval: query (left) and its nearest training spectrograms", fontsize=9)
    return fig


def projection_figure(points: np.ndarray, labels: np.ndarray, class_names: list[str],
                      split: np.ndarray, *, method: str):
    """2-D embedding projection coloured by class; train ``o``, test ``^``."""
    import matplotlib.pyplot as plt

    fig, axes = new_figure(1, 1, size=(6.0, 5.0))
    ax = axes[0, 0]
    cmap = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    for c, name in enumerate(class_names):
        for s, marker in (("train", "o"), ("test", "^")):
            m = (labels == c) & (split == s)
            if m.any():
                ax.scatter(points[m, 0], points[m, 1], s=12 if s == "train" else 30, marker=marker,
                           color=cmap(c % cmap.N), alpha=0.5 if s == "train" else 0.95,
                           edgecolors="none" if s == "train" else "k", linewidths=0.4,
                           label=f"{name} ({s})")
    ax.set_xlabel(f"{method} 1")
    ax.set_ylabel(f"{method} 2")
    ax.set_title(f"embeddings, {method.upper()} projection")
    ax.legend(fontsize=7, markerscale=1.2, ncol=2 if len(class_names) > 4 else 1)
    return fig


def cam_figure(specs: np.ndarray, maps: dict[str, np.ndarray], row_titles: list[str], *,
               title: str, alpha: float = 0.5):
    """Per example row: spectrogram, then per method a heatmap and an overlay on the spectrogram.

    ``specs (n, F, T)`` dB; ``maps`` method -> ``(n, F, T)`` normalised to [0, 1] (or [-1, 1]
    for methods whose name contains ``signed``).
    """
    n = len(specs)
    methods = list(maps)
    fig, axes = new_figure(n, 1 + 2 * len(methods), size=(1.7, 1.5))
    for i in range(n):
        show_spectrogram(axes[i, 0], specs[i], title=row_titles[i])
        for m, name in enumerate(methods):
            signed = "signed" in name
            kw = dict(cmap="RdBu_r", vmin=-1, vmax=1) if signed else dict(cmap="inferno", vmin=0, vmax=1)
            show_spectrogram(axes[i, 1 + 2 * m], maps[name][i], title=f"{name}" if i == 0 else None, **kw)
            ax = axes[i, 2 + 2 * m]
            show_spectrogram(ax, specs[i], cmap="gray", title=f"{name} overlay" if i == 0 else None)
            ax.imshow(maps[name][i], origin="lower", aspect="auto", alpha=alpha, interpolation="bilinear", **kw)
    fig.suptitle(title, fontsize=9)
    return fig


def drift_figure(table: pd.DataFrame, *, max_legend: int = 12):
    """Per layer over epochs: ``‖W_e − W_0‖`` (left) and relative change (right).

    With more than ``max_legend`` layers the lines are coloured by depth (colour bar)
    instead of named in a legend.
    """
    import matplotlib.pyplot as plt

    fig, axes = new_figure(1, 2, size=(5.0, 3.6))
    groups = list(table.groupby("layer", sort=False))
    by_depth = len(groups) > max_legend
    cmap = plt.get_cmap("viridis")
    for d, (layer, g) in enumerate(groups):
        kw = dict(color=cmap(d / max(1, len(groups) - 1)), lw=0.8) if by_depth else dict(marker=".")
        axes[0, 0].plot(g["epoch"], g["change"], label=layer, **kw)
        axes[0, 1].plot(g["epoch"], g["relative_change"], label=layer, **kw)
    axes[0, 0].set_ylabel("‖W_e − W_0‖")
    axes[0, 1].set_ylabel("‖W_e − W_0‖ / ‖W_0‖")
    for ax in axes[0]:
        ax.set_xlabel("epoch (0 = initial weights)")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    if by_depth:
        sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, len(groups) - 1))
        fig.colorbar(sm, ax=axes[0, 1], label="layer depth (0 = first)")
    else:
        axes[0, 1].legend(fontsize=7, loc="best")
    fig.suptitle("how far each layer moved from its initial weights", fontsize=9)
    return fig


def robustness_figure(table: pd.DataFrame, reference: dict):
    """Test accuracy after resetting each layer to its initial / fresh random weights."""
    n = len(table)
    fig, axes = new_figure(1, 1, size=(max(5.0, 0.55 * n + 2.0), 3.8))
    ax = axes[0, 0]
    pos = np.arange(n)
    for off, mode, color in ((-0.2, "initial", "#1f77b4"), (0.2, "random", "#ff7f0e")):
        bars = ax.bar(pos + off, table[f"acc_{mode}"], width=0.4, color=color, label=f"reset to {mode}")
        for b, st in zip(bars, table[f"status_{mode}"]):
            if st == "critical":
                b.set_edgecolor(WRONG)
                b.set_linewidth(1.5)
    ax.axhline(reference["accuracy"], color="k", ls="--", lw=1, label="trained model")
    ax.axhline(reference["accuracy"] - reference["critical_drop"], color=WRONG, ls=":", lw=1,
               label="critical_drop (red edge: drop's 95 % interval above it)")
    ax.set_xticks(pos, table["layer"], rotation=45, ha="right")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"layer re-initialisation robustness (BN statistics: {reference['bn_stats']})")
    return fig
