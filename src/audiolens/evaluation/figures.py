"""Evaluation figures: confusion matrix, ROC, confidence strip plot, galleries, learning curves.

All figures use the house style (:mod:`audiolens.plots`) and are saved atomically.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from audiolens.plots import CORRECT, WRONG, image_grid, new_figure, save_figure

__all__ = ["plot_confusion", "plot_roc", "plot_confidence_strip", "save_gallery", "plot_learning_curves"]


def plot_confusion(cm: np.ndarray, class_names: list[str], path: str | Path, *, title: str = "") -> Path:
    """Confusion matrix ``(K, K)`` (rows true, columns predicted) with counts and row-normalised colour."""
    k = len(class_names)
    size = max(3.5, 0.45 * k + 2)
    fig, ax = new_figure(size=(size, size))
    ax = ax[0, 0]
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.grid(False)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.6 else "black")
    ax.set_xticks(range(k), class_names, rotation=90 if k > 4 else 0)
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix (test)")
    return save_figure(fig, path)


def plot_roc(curves: dict[str, pd.DataFrame], path: str | Path, *, title: str = "ROC (test)") -> Path:
    """ROC curves: ``{label: DataFrame(fpr, tpr)}``."""
    fig, ax = new_figure(size=(4.2, 4.0))
    ax = ax[0, 0]
    for label, df in curves.items():
        if len(df):
            ax.plot(df["fpr"], df["tpr"], lw=1.4, label=label)
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
    ax.set_xlabel("false positive rate (FAR)")
    ax.set_ylabel("true positive rate (1 - FRR)")
    ax.set_title(title)
    if len(curves) <= 12:
        ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, path)


def plot_confidence_strip(pred: pd.DataFrame, class_names: list[str], path: str | Path, *,
                          seed: int = 0) -> Path:
    """Per-sample confidence by true class; green correct, red wrong (jittered strip plot)."""
    rng = np.random.default_rng(seed)
    k = len(class_names)
    fig, ax = new_figure(size=(max(4.0, 0.6 * k + 2), 3.2))
    ax = ax[0, 0]
    idx = pred["true_index"].to_numpy()
    x = idx + rng.uniform(-0.28, 0.28, size=len(pred))
    ok = pred["correct"].to_numpy(bool)
    ax.scatter(x[ok], pred["confidence"][ok], s=9, c=CORRECT, alpha=0.7, label="correct")
    ax.scatter(x[~ok], pred["confidence"][~ok], s=12, c=WRONG, alpha=0.9, label="wrong")
    ax.set_xticks(range(k), class_names, rotation=90 if k > 4 else 0)
    ax.set_ylim(max(0.0, 1.0 / k - 0.05), 1.02)
    ax.set_xlabel("true class")
    ax.set_ylabel("confidence (max probability)")
    ax.set_title(f"confidence per segment ({int((~ok).sum())}/{len(ok)} wrong)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return save_figure(fig, path)


def save_gallery(images: np.ndarray, rows: pd.DataFrame, path: str | Path) -> Path:
    """Grid of dB spectrograms ``(n, F, T)`` titled ``true / pred / confidence``."""
    titles = [f"T:{t} P:{p}\n{c:.2f}" for t, p, c in zip(rows["true"], rows["pred"], rows["confidence"])]
    colors = [CORRECT if ok else WRONG for ok in rows["correct"]]
    fig = image_grid(list(images), titles, ncols=5, title_colors=colors)
    return save_figure(fig, path)


def plot_learning_curves(history: dict[str, list[float]], path: str | Path, *, best_epoch: int | None = None) -> Path:
    """Loss and accuracy per epoch (train and validation) from ``train_meta.json``'s history."""
    fig, axes = new_figure(1, 2, size=(4.0, 3.0))
    for ax, key in zip(axes[0], ("loss", "accuracy")):
        for name, style in ((key, "-"), (f"val_{key}", "--")):
            if name in history:
                ax.plot(np.arange(1, len(history[name]) + 1), history[name], style, label=name)
        if best_epoch:
            ax.axvline(best_epoch, c="grey", lw=0.8, ls=":", label="restored")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(key)
        ax.legend(fontsize=7)
    return save_figure(fig, path)
