"""Benchmark: FSDD speaker identification (6 speakers) with the default model.

Runs the real pipeline stages (ingest -> clean -> segment -> spectrogram -> split -> baseline
-> train -> evaluate) in a scratch workspace on ``../shared/data/fsdd/recordings`` with params
adapted only where FSDD differs from the demo corpus: the file-name pattern and label
(speaker), short clips (1.0 s segments, short clips zero-padded), no denoising (the clips are
already trimmed, there is no leading noise to profile) and no augmentation. Model and
training params are the project defaults (``params.yaml``). The split is recording-disjoint.

Writes ``reports/bench/fsdd_speaker.json`` (test accuracy, target >= 0.95, the best baseline on
per-band statistics and the CNN's margin over it with its paired 95 % interval, timings).

    python benchmarks/fsdd_speaker.py [--data ../shared/data/fsdd/recordings] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from audiolens.io import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["ingest", "clean", "segment", "augment", "spectrogram", "split", "baseline", "train", "evaluate"]
TARGET = 0.95


def fsdd_params(data: Path) -> dict:
    """The project's params.yaml with the FSDD-specific overrides."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(layout="regex", root=str(data), label="speaker", speaker="speaker",
                          pattern=r"(?P<digit>\d)_(?P<speaker>[a-z]+)_(?P<take>\d+)\.wav",
                          positive=None, class_names=None, group=None, fold=None)
    params["audio"]["sample_rate"] = 8000
    params["clean"].update(enabled=False)
    params["segment"].update(length_s=1.0, hop_s=None, tail="pad", min_tail_s=0.0)
    params["augment"]["enabled"] = False
    params["features"].update(n_fft=256, hop_length=80)  # 1.0 s -> T = 101 frames, F = 129
    params["split"].update(method="ratio", group_by="recording")
    params["evaluate"]["gallery_size"] = 25
    return params


def run_stages(work: Path, stages: list[str]) -> dict[str, float]:
    """Run the pipeline's stage scripts in ``work`` (its ``params.yaml``) in order; seconds per stage."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    timings = {}
    for stage in stages:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "stages" / f"{stage}.py"), "--params", "params.yaml"],
                       cwd=work, env=env, check=True)
        timings[stage] = round(time.perf_counter() - t0, 1)
    return timings


def duration_baseline(work: Path) -> float:
    """Test accuracy of a logistic regression on clip duration alone (same split): shows how much
    of the CNN's accuracy a duration shortcut (short clips are zero-padded) could explain."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    man = pd.read_csv(work / "data" / "interim" / "ingest" / "manifest.csv", keep_default_na=False)
    idx = pd.read_csv(work / "data" / "processed" / "features" / "index.csv", keep_default_na=False)
    split = pd.read_csv(work / "data" / "processed" / "split" / "split.csv", keep_default_na=False)
    rec = (idx.merge(split[["segment_id", "split"]], on="segment_id")
           .drop_duplicates("source_id").merge(man[["id", "duration_s"]], left_on="source_id", right_on="id"))
    x = np.c_[rec["duration_s"], rec["duration_s"] ** 2]
    tr, te = (rec["split"] == "train").to_numpy(), (rec["split"] == "test").to_numpy()
    clf = LogisticRegression(max_iter=2000).fit(x[tr], rec["label_index"][tr])
    return float((clf.predict(x[te]) == rec["label_index"][te]).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fsdd" / "recordings"))
    ap.add_argument("--keep", default=None, help="workspace folder to keep (default: a temp dir, removed)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench" / "fsdd_speaker.json"))
    args = ap.parse_args()
    data = Path(args.data).resolve()
    if not data.is_dir():
        sys.exit(f"FSDD not found at {data} (the benchmark needs ../shared/data)")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fsdd_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "params.yaml").write_text(yaml.safe_dump(fsdd_params(data), sort_keys=False))
    try:
        timings = run_stages(work, STAGES)
        metrics = json.loads((work / "reports" / "eval" / "metrics.json").read_text())
        meta = json.loads((work / "models" / "train_meta.json").read_text())
        counts = (work / "data" / "processed" / "split" / "counts.csv").read_text()
        duration_only = duration_baseline(work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result = {
        "task": "FSDD speaker identification (6 speakers), recording-disjoint split",
        "test_accuracy": metrics["accuracy"], "test_balanced_accuracy": metrics["balanced_accuracy"],
        "test_f1_macro": metrics["f1_macro"], "n_test_segments": metrics["n"],
        "recording_accuracy_mean_prob": metrics["recording"]["mean_prob"]["accuracy"],
        "target": TARGET, "passed": metrics["accuracy"] >= TARGET,
        "baseline": {k: metrics["baseline_margin"].get(k) for k in
                     ("baseline", "baseline_accuracy", "accuracy", "baseline_recording_accuracy",
                      "recording_accuracy", "ci95", "distinguishable", "cnn_beats_baseline")},
        "duration_only_baseline_accuracy": duration_only, "chance_accuracy": 1 / len(meta["class_names"]),
        "model": {"arch": meta["arch"], "n_params": meta["n_params"], "input_shape": meta["input_shape"],
                  "epochs_run": meta["epochs_run"], "best_epoch": meta["best_epoch"]},
        "split_counts_csv": counts, "seconds": timings, "total_s": round(sum(timings.values()), 1),
        "cpu_count": os.cpu_count(),
    }
    atomic_write_json(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k != "split_counts_csv"}, indent=2))
    if not result["passed"]:
        sys.exit(f"test accuracy {metrics['accuracy']:.4f} < target {TARGET}")


if __name__ == "__main__":
    main()
