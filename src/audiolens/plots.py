"""Shared figure helpers: one style for every figure the pipeline writes.

Every figure is saved with :func:`save_figure` (atomic, fixed DPI, closed after), so
the report looks like one product and an interrupted stage leaves no half PNG.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from audiolens.io import atomic_path  # noqa: E402

__all__ = ["STYLE", "new_figure", "save_figure", "show_spectrogram", "image_grid", "CORRECT", "WRONG"]

STYLE = {
    "figure.dpi": 100, "savefig.dpi": 110, "font.size": 9, "axes.titlesize": 10,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "image.cmap": "magma",
}
CORRECT = "#2ca02c"
WRONG = "#d62728"


def new_figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] | None = None, **kw):
    """``plt.subplots`` under the house style; ``size`` is per panel (inches)."""
    w, h = size or (4.0, 3.0)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(w * ncols, h * nrows), squeeze=False, **kw)
    return fig, axes


def save_figure(fig, path: str | Path) -> Path:
    """Save ``fig`` atomically (format from the suffix, PNG by default) and close it."""
    path = Path(path)
    with plt.rc_context(STYLE):
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=(path.suffix.lstrip(".") or "png"))
    plt.close(fig)
    return path


def show_spectrogram(ax, spec: np.ndarray, *, title: str | None = None, cmap: str = "magma",
                     axis_off: bool = True, **imshow_kw):
    """Draw a (F, T) spectrogram with low frequencies at the bottom."""
    im = ax.imshow(np.asarray(spec), origin="lower", aspect="auto", cmap=cmap,
                   interpolation="nearest", **imshow_kw)
    if title:
        ax.set_title(title, fontsize=8)
    if axis_off:
        ax.set_axis_off()
    return im


def image_grid(images: list[np.ndarray], titles: list[str] | None = None, *, ncols: int = 5,
               size: float = 1.8, cmap: str = "magma", title_colors: list[str] | None = None):
    """A grid figure of (F, T) images; returns the figure (save it with :func:`save_figure`)."""
    n = max(1, len(images))
    nrows = int(np.ceil(n / ncols))
    fig, axes = new_figure(nrows, min(ncols, n), size=(size, size))
    for i, ax in enumerate(axes.flat):
        if i < len(images):
            show_spectrogram(ax, images[i], title=titles[i] if titles else None, cmap=cmap)
            if title_colors and titles:
                ax.title.set_color(title_colors[i])
        else:
            ax.set_axis_off()
    return fig
