"""Uncertainty figures (house style from :mod:`audiolens.plots`)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from audiolens.plots import CORRECT, WRONG, new_figure, save_figure
from audiolens.uncertainty.decompose import Predictive
from audiolens.uncertainty.metrics import aurc, reliability, risk_coverage

__all__ = ["uncertainty_histograms", "reliability_diagrams", "risk_coverage_steps", "risk_coverage_curves",
           "mean_std_scatter", "metrics_vs_count_figure"]

OTHER = "#9e9e9e"


def uncertainty_histograms(preds: Mapping[str, Predictive], y: np.ndarray, path: str | Path) -> Path:
    """Histograms of the predicted-class std and the predictive entropy, correct vs wrong.

    One row per method with more than one sample.
    """
    rows = {k: p for k, p in preds.items() if p.n_samples > 1} or dict(preds)
    fig, axes = new_figure(len(rows), 2, size=(4.2, 2.8))
    for r, (name, pred) in enumerate(rows.items()):
        correct = pred.predicted == np.asarray(y)
        for c, (label, vals) in enumerate((("std of predicted-class probability", pred.predicted_std),
                                           ("predictive entropy (nats)", pred.predictive_entropy))):
            ax = axes[r, c]
            edges = np.histogram_bin_edges(vals, bins=30)
            for mask, colour, what in ((correct, CORRECT, "correct"), (~correct, WRONG, "wrong")):
                if mask.any():
                    ax.hist(vals[mask], bins=edges, density=True, alpha=0.55, color=colour,
                            label=f"{what} (n={int(mask.sum())})")
            ax.set_xlabel(label)
            ax.set_ylabel("density")
            ax.set_title(f"{name} ({pred.n_samples} samples)")
            ax.legend(fontsize=7)
    return save_figure(fig, path)


def reliability_diagrams(preds: Mapping[str, Predictive], y: np.ndarray, path: str | Path, *,
                         bins: int = 15) -> Path:
    """Accuracy vs confidence per equal-width bin, one panel per method, with ECE."""
    fig, axes = new_figure(1, len(preds), size=(3.4, 3.4))
    for ax, (name, pred) in zip(axes[0], preds.items()):
        rel = reliability(pred.mean, y, bins=bins)
        edges = np.asarray(rel["edges"])
        centres, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
        acc = np.array([a if a is not None else np.nan for a in rel["accuracy"]])
        conf = np.array([c if c is not None else np.nan for c in rel["confidence"]])
        n = sum(rel["count"])
        ece = float(np.nansum(np.asarray(rel["count"]) * np.abs(acc - conf)) / n)
        ax.bar(centres, np.nan_to_num(acc), width=width * 0.95, color="#4c72b0", alpha=0.8,
               label="accuracy")
        ax.bar(centres, np.nan_to_num(conf - acc), bottom=np.nan_to_num(acc), width=width * 0.95,
               color=WRONG, alpha=0.25, label="gap to confidence")
        ax.plot([0, 1], [0, 1], "k--", lw=1)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (max probability)")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{name}: ECE {ece:.3f}")
        ax.legend(fontsize=7, loc="upper left")
    return save_figure(fig, path)


def risk_coverage_steps(score: np.ndarray, wrong: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the risk–coverage step curve whose area is :func:`~audiolens.uncertainty.metrics.aurc`.

    AURC gives each coverage interval ``(c_{j-1}, c_j]`` the risk at its right end ``c_j``
    (the risk once that group of tied scores is kept); the polyline
    ``(0, r_1), (c_1, r_1), (c_1, r_2), (c_2, r_2), ...`` draws exactly that, so its area
    (``np.trapezoid(risk, coverage)``) equals the printed AURC.

    Returns
    -------
    coverage, risk : ndarray (2k,)
    """
    cov, risk = risk_coverage(score, wrong)
    x = np.repeat(np.r_[0.0, cov], 2)[1:-1]
    return x, np.repeat(risk, 2)


def risk_coverage_curves(preds: Mapping[str, Predictive], y: np.ndarray, path: str | Path) -> Path:
    """Selective risk vs coverage for every score of every method (one panel per method).

    Each curve is drawn with :func:`risk_coverage_steps`, so its area is the AURC in its label.
    """
    fig, axes = new_figure(1, len(preds), size=(3.6, 3.2), sharey=True)
    for ax, (name, pred) in zip(axes[0], preds.items()):
        wrong = pred.predicted != np.asarray(y)
        for (score, vals), ls in zip(pred.scores().items(), ("-", "--", "-.", ":")):
            ax.plot(*risk_coverage_steps(vals, wrong), ls=ls, label=f"{score} (AURC {aurc(vals, wrong)['aurc']:.3f})")
        n, e = wrong.size, int(wrong.sum())
        oracle = np.r_[np.zeros(n - e), np.ones(e)]      # every error ranked least certain
        ax.plot(*risk_coverage_steps(np.arange(n, dtype=float), oracle), color="k", lw=0.8, alpha=0.5,
                label="oracle")
        ax.set_xlabel("coverage")
        ax.set_ylabel("risk (error rate of kept)")
        ax.set_title(name)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def mean_std_scatter(pred: Predictive, y: np.ndarray, path: str | Path, *,
                     class_names: Sequence[str], max_classes: int = 12, title: str = "") -> Path:
    """Per class ``c``: mean probability of ``c`` vs its std across samples for every example.

    Examples of class ``c`` are green when predicted right, red when wrong; examples of
    other classes grey. At most ``max_classes`` panels (the first classes).
    """
    y = np.asarray(y)
    n_c = min(pred.mean.shape[1], max_classes)
    ncols = min(4, n_c)
    nrows = int(np.ceil(n_c / ncols))
    fig, axes = new_figure(nrows, ncols, size=(2.8, 2.5))
    right = pred.predicted == y
    for c, ax in enumerate(axes.flat):
        if c >= n_c:
            ax.set_axis_off()
            continue
        m, s = pred.mean[:, c], pred.std[:, c]
        own = y == c
        ax.scatter(m[~own], s[~own], s=5, color=OTHER, alpha=0.35, label="other classes")
        ax.scatter(m[own & right], s[own & right], s=7, color=CORRECT, alpha=0.7, label="correct")
        ax.scatter(m[own & ~right], s[own & ~right], s=9, color=WRONG, alpha=0.9, label="wrong")
        ax.set_xlim(-0.02, 1.02)
        ax.set_title(f"{class_names[c] if c < len(class_names) else c}", fontsize=8)
        ax.set_xlabel("mean probability")
        ax.set_ylabel("std")
        if c == 0:
            ax.legend(fontsize=6)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def metrics_vs_count_figure(vs_count: Mapping[str, list[dict]], path: str | Path, *,
                            labels: Mapping[str, str] | None = None) -> Path:
    """Accuracy, NLL and ECE of the mean of the first ``s`` samples, per method."""
    fig, axes = new_figure(1, 3, size=(3.4, 2.9))
    for name, rows in vs_count.items():
        s = [r["count"] for r in rows]
        for ax, key in zip(axes[0], ("accuracy", "nll", "ece")):
            ax.plot(s, [r[key] for r in rows], marker="o", ms=3, label=(labels or {}).get(name, name))
            ax.set_xlabel("samples (MC passes / ensemble members)")
            ax.set_ylabel(key)
            ax.set_xscale("log")
    axes[0, 0].legend(fontsize=7)
    return save_figure(fig, path)
