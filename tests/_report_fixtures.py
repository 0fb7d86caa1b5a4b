"""A constructed ``reports/`` folder shaped like the stages' outputs, intervals included (for the report tests)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from audiolens.io import write_audio
from audiolens.plots import new_figure, save_figure

EXPLAINERS = ("saliency", "gradcam")


def _png(path: Path, k: int = 1, *, image: bool = False) -> None:
    fig, ax = new_figure()
    if image:  # a spectrogram-like picture (many colours: encoded lossy)
        ax[0, 0].imshow(np.random.default_rng(k).normal(size=(64, 96)), aspect="auto", cmap="magma")
    else:
        ax[0, 0].plot(np.arange(10) ** k)
    save_figure(fig, path)


def _json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def make_reports(root: Path, *, intervals: bool = True, n: int = 46, n_recordings: int = 16,
                 margin_ci: tuple[float, float] = (-0.04, 0.04), outlier: bool = True) -> Path:
    """Write a small ``reports/`` folder under ``root`` and return it.

    Intervals follow the evaluate/uncertainty stages' ``ci95`` blocks (``{"lo", "hi"}``) when
    ``intervals``; one ensemble member is an outlier when ``outlier``.
    """
    r = root / "reports"
    ci = {"accuracy": {"lo": 0.91, "hi": 1.0}, "balanced_accuracy": {"lo": 0.89, "hi": 1.0},
          "f1_macro": {"lo": 0.88, "hi": 1.0}, "eer": {"lo": 0.0, "hi": 0.09},
          "far": {"lo": 0.0, "hi": 0.1}, "frr": {"lo": 0.0, "hi": 0.2}}
    _json(r / "eval/metrics.json", {
        "n": n, "n_recordings": n_recordings, "accuracy": 0.957, "balanced_accuracy": 0.949, "f1_macro": 0.949,
        **({"ci95": ci} if intervals else {}),
        "recording": {"mean_prob": {"n": n_recordings, "accuracy": 1.0}},
        "binary": {"eer": 0.031, "threshold": 0.305, "far": 0.031, "frr": 0.071, "positive_class": "allowed"},
        "operating_point": {"threshold": 0.305, "method": "eer", "chosen_on": "validation", "n_val": 47},
        "baseline_margin": {"baseline": "logreg_C0.1", "accuracy": 0.0, "baseline_accuracy": 0.957,
                            "balanced_accuracy": 0.0, "cnn_beats_baseline": 0,
                            **({"ci95": {"accuracy": {"lo": margin_ci[0], "hi": margin_ci[1]}},
                                "distinguishable": {"accuracy": 0}} if intervals else {})}})
    _json(r / "eval/threshold.json", {"threshold": 0.305, "method": "eer", "chosen_on": "validation",
                                      "description": "threshold 0.3049 at the validation EER (6.7 %)",
                                      "positive_class": "allowed"})
    _json(r / "eval/class_report.json", {"rejected": {"precision": 1.0}, "allowed": {"precision": 0.9},
                                         "accuracy": 0.957, "macro avg": {"precision": 0.95}})
    (r / "eval/headline.md").write_text("CNN test accuracy 95.7 % vs best baseline 95.7 %: they tie.\n")
    _png(r / "eval/confusion.png")
    _json(r / "baseline/metrics.json", {"best": "logreg_C0.1", "n": n, "accuracy": 0.957, "balanced_accuracy": 0.949,
                                        "f1_macro": 0.949, "binary": {"eer": 0.062},
                                        **({"ci95": {"accuracy": {"lo": 0.9, "hi": 1.0}}} if intervals else {})})
    unc = {m: {"accuracy": 0.957, "nll": nll, "ece": ece, "ece_debiased": ece / 2,
               **({"ci95": {"ece": {"lo": ece / 2, "hi": ece * 2}}} if intervals else {})}
           for m, nll, ece in (("single", 0.154, 0.036), ("mc_dropout", 0.141, 0.038), ("ensemble", 0.118, 0.048))}
    unc |= {"n": n, "n_recordings": n_recordings, "abstain": {"test_coverage": 1.0, "test_accuracy": 0.957},
            "members": {"n_outliers": int(outlier), "outliers": [3] if outlier else []}}
    _json(r / "uncertainty/metrics.json", unc)
    _json(r / "uncertainty/comparison.json", {"members": {"outliers": [
        {"member": 3, "nll": 0.184, "median": 0.122, "robust_sd": 0.01, "z": 6.2}] if outlier else []}})
    _json(r / "uncertainty/abstain.json", {"method": "ensemble", "score": "max_prob", "threshold": 0.7,
                                           "class_names": ["rejected", "allowed"],
                                           "val": {"n": 47, "coverage": 0.87, "selective_accuracy": 1.0},
                                           "test": {"n": n, "coverage": 0.9, "selective_accuracy": 0.98}})
    _png(r / "uncertainty/reliability.png", 2)
    _json(r / "ood/metrics.json", {"val_pass_rate": 0.95, "n_val": 20, "generated_false_accept_rate": 0.05,
                                   "n_generated": 40})
    _json(r / "ingest/summary.json", {"recordings": 100, "skipped": 2, "classes": 2, "speakers": 20,
                                      "per_class": {"allowed": 30, "rejected": 70}})
    (r / "ingest/skipped.csv").write_text("id,path,reason,detail\na,a.wav,unreadable,x\nb,b.wav,too short,y\n")
    _json(r / "clean/summary.json", {"recordings": 98, "hours_out": 0.24})
    (r / "clean/skipped.csv").write_text("id,path,reason,detail\n")
    _json(r / "eda/summary.json", {"recordings": 98, "segments": 305, "augmented_segments": 250})
    _png(r / "eda/figures/counts.png", 3)
    # attribution: one example, two explainers, original / kept / removed
    rng = np.random.default_rng(0)
    clip = (0.1 * rng.standard_normal(8000)).astype(np.float32)
    for name in EXPLAINERS:
        for part, scale in (("original", 1.0), ("masked_in", 0.6), ("masked_out", 0.3)):
            write_audio(r / f"attribution/wav/00_f2_script1_room__2_{name}_top30_{part}.wav", scale * clip, 8000)
    _png(r / "attribution/figures/example_00_f2_script1_room__2.png", 4, image=True)
    _png(r / "attribution/figures/sanity.png", 5)
    _json(r / "attribution/metrics.json", {"n_examples": 4, "explainers": {n: {"FF": 0.5} for n in EXPLAINERS}})
    _png(r / "interpret/cam/allowed.png", 6, image=True)
    _png(r / "interpret/projection_pca.png", 7)
    _json(r / "interpret/summary.json", {"cam": "not applicable: layer 'embedding' sits between pooling and logits"})
    return r
