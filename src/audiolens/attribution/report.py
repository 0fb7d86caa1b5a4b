"""Figures and tables of the attribution stage (house style from :mod:`audiolens.plots`)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from audiolens.attribution.intervals import CONTROL, comparisons, mean_interval
from audiolens.attribution.masks import apply_mask, make_mask
from audiolens.bootstrap import BootstrapSettings
from audiolens.io import atomic_write_json, atomic_write_text
from audiolens.plots import new_figure, save_figure, show_spectrogram

__all__ = ["SUMMARY_METRICS", "GAIN_METRICS", "HEADLINE_METRICS", "summary_table", "curve_summary",
           "comparison_frame", "diagnostics_table",
           "markdown", "write_table", "example_figure", "fidelity_heatmaps", "curves_figure", "sanity_figure",
           "noise_figure", "headline"]

SUMMARY_METRICS = ("FF", "AI", "AD", "AG", "fid_in", "SPS", "COMP", "COMP_norm", "mask_mean")
#: metrics with a random-mask control (``rand_<m>``) and a gain ``gain_<m> = m - rand_<m>``
#: (for AD, where lower is better, ``gain_AD = rand_AD - AD``)
GAIN_METRICS = ("FF", "AI", "AD", "fid_in")


def _interval_cols(g, col: str, settings: BootstrapSettings) -> tuple[np.ndarray, np.ndarray]:
    """Per group of ``g`` (in its order): the grouped bootstrap interval over ``recording_id`` of the
    mean of ``col`` (``lo``, ``hi`` arrays; NaN where there is none)."""
    cis = [mean_interval(d[col].to_numpy(dtype=float), d["recording_id"].astype(str).to_numpy(), settings)
           for _, d in g]
    return (np.array([np.nan if ci is None else ci["lo"] for ci in cis]),
            np.array([np.nan if ci is None else ci["hi"] for ci in cis]))


def summary_table(per_example: pd.DataFrame, settings: BootstrapSettings | None = None) -> pd.DataFrame:
    """Mean of each metric per ``domain × explainer × mask`` (NaNs ignored) with ``n`` and ``n_recordings``.

    Where the per-example frame has the random-mask control ``rand_<m>`` (spectral domain),
    adds its mean and the gain ``gain_<m>`` (explainer minus control; for AD control minus
    explainer, so positive is always better than chance). With ``settings`` (and a
    ``recording_id`` column), ``<m>_lo``/``<m>_hi`` and ``gain_<m>_lo``/``gain_<m>_hi`` are the
    grouped bootstrap 95 % intervals over recordings (:mod:`audiolens.attribution.intervals`).
    """
    if per_example.empty:
        return pd.DataFrame(columns=["domain", "explainer", "mask", "n", *SUMMARY_METRICS])
    df = per_example.copy()
    gains = [m for m in GAIN_METRICS if f"rand_{m}" in df]
    for m in gains:
        df[f"gain_{m}"] = (df[f"rand_{m}"] - df[m]) if m == "AD" else (df[m] - df[f"rand_{m}"])
    keys = ["domain", "explainer", "mask"]
    g = df.groupby(keys, sort=False)
    cols = list(SUMMARY_METRICS) + [f"rand_{m}" for m in gains] + [f"gain_{m}" for m in gains]
    out = g[cols].mean()
    if settings is not None and "recording_id" in df:
        for m in [*GAIN_METRICS, *(f"gain_{m}" for m in gains)]:
            out[f"{m}_lo"], out[f"{m}_hi"] = _interval_cols(g, m, settings)
    out.insert(0, "n", g.size())
    if "recording_id" in df:
        out.insert(1, "n_recordings", g["recording_id"].nunique())
    return out.reset_index()


def curve_summary(per_example: pd.DataFrame, settings: BootstrapSettings | None = None) -> pd.DataFrame:
    """Per explainer: ``n``, ``n_recordings`` and the mean of each AUC and gain column, with its
    grouped bootstrap 95 % interval over recordings (``<col>_lo``, ``<col>_hi``) when ``settings``."""
    cols = ["deletion_auc", "insertion_auc", "deletion_gain", "insertion_gain"]
    if per_example.empty:
        return pd.DataFrame(columns=["explainer", "n", *cols])
    g = per_example.groupby("explainer", sort=False)
    out = pd.DataFrame({"n": g.size()})
    if "recording_id" in per_example:
        out["n_recordings"] = g["recording_id"].nunique()
    for col in cols:
        out[col] = g[col].mean()
        if settings is not None and "recording_id" in per_example:
            out[f"{col}_lo"], out[f"{col}_hi"] = _interval_cols(g, col, settings)
    return out.reset_index()


def diagnostics_table(diagnostics: dict[str, dict], ids: Sequence[str]) -> pd.DataFrame:
    """Per example: IG's completeness error (absolute, and relative to ``|f(x) - f(baseline)|``) and LIME's R²."""
    cols: dict[str, np.ndarray] = {}
    ig = diagnostics.get("integrated_gradients", {})
    if "completeness_error" in ig:
        err, df = np.asarray(ig["completeness_error"]), np.asarray(ig["delta_f"])
        cols["ig_delta_f"] = df
        cols["ig_completeness_error"] = err
        with np.errstate(divide="ignore", invalid="ignore"):
            cols["ig_completeness_rel"] = np.where(np.abs(df) > 0, np.abs(err) / np.abs(df), np.nan)
    if "r2" in diagnostics.get("lime", {}):
        cols["lime_r2"] = np.asarray(diagnostics["lime"]["r2"])
    if not cols:
        return pd.DataFrame()
    return pd.DataFrame({"segment_id": list(ids), **cols})


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
                   floor_db: float | None, title: str, seed=0) -> Path:
    """Rows = explainers; columns = spectrogram, attribution (signed, symmetric scale), mask, masked spectrogram."""
    names = list(maps)
    fig, axes = new_figure(max(1, len(names)), 4, size=(2.4, 1.8))
    lo, hi = float(spec_db.min()), float(spec_db.max())
    for r, name in enumerate(names):
        a = maps[name]
        m = make_mask(a, mask_kind, seed=np.random.default_rng(seed))
        peak = float(np.abs(a).max()) or 1.0
        show_spectrogram(axes[r, 0], spec_db, title=f"{name}: spectrogram" if r == 0 else name, vmin=lo, vmax=hi)
        show_spectrogram(axes[r, 1], a, title="attribution", cmap="RdBu_r", vmin=-peak, vmax=peak)
        show_spectrogram(axes[r, 2], m, title=f"mask {mask_kind} (mean {m.mean():.2f})", cmap="gray",
                         vmin=0, vmax=1)
        show_spectrogram(axes[r, 3], apply_mask(spec_db, m, floor_db=floor_db), title="masked",
                         vmin=lo, vmax=hi)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def fidelity_heatmaps(path: Path, summary: pd.DataFrame, *,
                      metrics: Sequence[str] = ("FF", "gain_FF", "gain_AD", "SPS"),
                      domain: str = "spectral") -> Path | None:
    """Explainer × mask heatmaps of a few summary metrics (annotated; absent metrics skipped)."""
    df = summary[summary["domain"] == domain]
    metrics = [m for m in metrics if m in df and df[m].notna().any()]
    if df.empty or not metrics:
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


def curves_figure(path: Path, curves: pd.DataFrame) -> Path | None:
    """Mean deletion and insertion curves per explainer, the random orders dashed black."""
    if curves.empty:
        return None
    fig, axes = new_figure(1, 2, size=(4.2, 3.2))
    for ax, col in zip(axes[0], ("deletion", "insertion")):
        for name, g in curves.groupby("explainer", sort=False):
            style = dict(color="k", ls="--", lw=1.5) if name == "random" else dict(marker=".")
            ax.plot(g["k"], g[col], label=name, **style)
        ax.set_xscale("log", base=2)          # the AUC is taken over log2 k
        ax.set_xlabel("fraction of bins " + ("removed" if col == "deletion" else "kept") + " (most important first)")
        ax.set_ylabel("p(explained class)")
        ax.set_title(f"{col} ({'lower' if col == 'deletion' else 'higher'} area is better)")
        ax.legend(fontsize=6)
    return save_figure(fig, path)


def sanity_figure(path: Path, table: pd.DataFrame, *, metric: str = "spearman_abs") -> Path | None:
    """Similarity to the trained model's maps vs cascading randomisation step, one line per explainer
    (error bars: 1.96 SE over examples; degenerate explainers marked in the legend)."""
    if table.empty:
        return None
    fig, axes = new_figure(1, 1, size=(6.0, 3.2))
    ax = axes[0, 0]
    for name, g in table.groupby("explainer", sort=False):
        degenerate = "status" in g and (g["status"] == "degenerate").any()
        err = 1.96 * g[f"{metric}_se"] if f"{metric}_se" in g else None
        ax.errorbar(g["step"], g[metric], yerr=err, marker="o", capsize=2,
                    label=f"{name} (degenerate: constant maps)" if degenerate else name)
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


HEADLINE_METRICS = ("deletion_auc", "insertion_auc", "FF", "AD", "AI", "fid_in")
LOWER_IS_BETTER = ("deletion_auc", "AD")


def comparison_frame(curve_examples: pd.DataFrame, per_example: pd.DataFrame, *, headline_mask: str,
                     settings: BootstrapSettings | None) -> pd.DataFrame:
    """Paired differences (:func:`audiolens.attribution.intervals.comparisons`) of the deletion /
    insertion AUC and of FF/AD/AI/fid_in at the headline mask (spectral; the control is each
    row's own ``rand_<m>``): every explainer against the random control and against each other."""
    spec = per_example[(per_example["domain"] == "spectral") & (per_example["mask"] == headline_mask)]
    keep = ["explainer", "segment_id", "recording_id"]
    auc = curve_examples[keep + ["deletion_auc", "insertion_auc"]]
    single = spec[keep + [m for m in HEADLINE_METRICS[2:] if m in spec]
                  + [f"rand_{m}" for m in HEADLINE_METRICS[2:] if f"rand_{m}" in spec]]
    frames = [comparisons(auc, HEADLINE_METRICS[:2], settings=settings, lower_is_better=LOWER_IS_BETTER),
              comparisons(single, HEADLINE_METRICS[2:], settings=settings, lower_is_better=LOWER_IS_BETTER)]
    filled = [f for f in frames if not f.empty]
    return pd.concat(filled, ignore_index=True) if filled else frames[0]


def headline(summary: pd.DataFrame, curves: pd.DataFrame, sanity: pd.DataFrame, perf: pd.DataFrame,
             diag: pd.DataFrame, *, headline_mask: str, n: int, accuracy: float,
             reconstruction_error_db: np.ndarray, compared: pd.DataFrame | None = None) -> dict:
    """The dvc metrics. Per explainer (and ``random``): ``n``, ``n_recordings``, the deletion /
    insertion AUC and, at the headline mask, FF/AD/AI/fid_in, with their grouped bootstrap
    intervals in a ``ci95`` block; ``vs_random``: each of these against the random control as a
    paired difference (explainer − control: ``diff, lo, hi, distinguishable, verdict``);
    SPS / COMP_norm of the raw map; the audio round trip; the last sanity step
    (``sanity_status``: ``ok`` or ``degenerate``); IG completeness and LIME R². Top level:
    ``comparisons`` of the AUCs between explainers (``"<a> vs <b>".<metric>``: ``a − b``) and
    accuracy / ECE per noise condition."""
    def num(v):
        v = float(v) if v is not None else float("nan")
        return round(v, 5) if np.isfinite(v) else None

    def ci(d: dict, key: str, row: dict, col: str) -> None:
        lo, hi = num(row.get(f"{col}_lo")), num(row.get(f"{col}_hi"))
        if lo is not None and hi is not None:
            d.setdefault("ci95", {})[key] = {"lo": lo, "hi": hi}
    out: dict = {"n_examples": n, "accuracy": num(accuracy),
                 "reconstruction_error_db": num(np.nanmean(reconstruction_error_db))
                 if np.isfinite(reconstruction_error_db).any() else None, "explainers": {}}
    for row in curves.to_dict(orient="records"):
        d = out["explainers"][row["explainer"]] = {"n": int(row["n"])}
        if "n_recordings" in row:
            d["n_recordings"] = int(row["n_recordings"])
        for k in ("deletion_auc", "insertion_auc"):
            d[k] = num(row[k])
            ci(d, k, row, k)
    for row in summary[summary["mask"] == headline_mask].to_dict(orient="records"):
        d = out["explainers"].setdefault(row["explainer"], {})
        prefix = "" if row["domain"] == "spectral" else "audio_"
        for met in ("FF", "AD", "AI", "fid_in"):
            d[prefix + met] = num(row[met])
            if not prefix:
                ci(d, met, row, met)
        if not prefix and row["explainer"] != CONTROL:
            d["SPS"], d["COMP_norm"] = num(row["SPS"]), num(row["COMP_norm"])
    pairwise: dict = {}
    for r in ([] if compared is None else compared.to_dict(orient="records")):
        cmp = {"diff": num(r["diff"]), "lo": num(r["lo"]), "hi": num(r["hi"]),
               "distinguishable": int(r["distinguishable"]), "verdict": r["verdict"]}
        if r["b"] == CONTROL:
            out["explainers"].setdefault(r["a"], {}).setdefault("vs_random", {})[r["metric"]] = cmp
        elif r["metric"] in ("deletion_auc", "insertion_auc"):
            pairwise.setdefault(f"{r['a']} vs {r['b']}", {})[r["metric"]] = cmp
    if pairwise:
        out["comparisons"] = pairwise
    if not sanity.empty:
        last = sanity[sanity["step"] == sanity["step"].max()]
        for row in last.to_dict(orient="records"):
            d = out["explainers"].setdefault(row["explainer"], {})
            d["sanity_status"] = row.get("status", "ok")
            d["sanity_spearman_abs"] = num(row["spearman_abs"])
            d["sanity_spearman_abs_se"] = num(row.get("spearman_abs_se", np.nan))
            d["sanity_n"] = int(row.get("n", 0))
    if not diag.empty and "ig_completeness_error" in diag:
        d = out["explainers"].setdefault("integrated_gradients", {})
        d["completeness_error_abs"] = num(diag["ig_completeness_error"].abs().mean())
        d["completeness_error_rel"] = num(diag["ig_completeness_rel"].mean())
    if not diag.empty and "lime_r2" in diag:
        out["explainers"].setdefault("lime", {})["fit_r2"] = num(diag["lime_r2"].mean())
    out["noise"] = {f"{r.noise}" + ("" if r.noise == "clean" else f"@{r.snr_db:g}dB"):
                    {"accuracy": num(r.accuracy), "ece": num(r.ece)} for r in perf.itertuples(index=False)}
    return out
