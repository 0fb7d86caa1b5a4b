"""Benchmark: a voice gate on real speech (FSDD), with impostors it never trained on.

Two FSDD speakers are allowed, two more are the rejected speakers the gate trains on, and the
last two are impostors it never sees before the test. The real pipeline stages run in a
scratch workspace (ingest -> ... -> baseline -> train -> evaluate -> uncertainty -> ood) with
the voice-gate recipe: the project defaults (``params.yaml``: ``seed_cnn``, linear
spectrogram, ``pool: time``, the operating threshold picked at the validation EER) with
FSDD's file layout, 1.0 s segments, no denoising, no augmentation, and MC dropout as the
abstaining method (no ensemble members to train). The files are listed in a manifest CSV
(``data.layout: csv``) whose ``fold`` column is the split: for the enrolled speakers takes
0-9 test, 10-17 validation, 18-49 train; every take of the unseen impostors test.

Reported for each group of test recordings (allowed; enrolled impostors; unseen impostors):
the rate the CNN accepts at its validation threshold beside the rate the baseline (the best
per-band-statistics classifier, at its own validation threshold) accepts, with 95 %
intervals from a bootstrap over speaker-digit groups and the paired difference; and what the
whole gate does with each recording as ``audiolens predict`` runs it (accept / reject /
abstain: uncertain, not like the training data, no speech). Writes
``reports/bench/fsdd_gate.json``.

    python benchmarks/fsdd_gate.py [--data ../shared/data/fsdd/recordings] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from audiolens.io import atomic_write_json

from fsdd_speaker import ROOT, fsdd_params, run_stages

STAGES = ["ingest", "clean", "segment", "augment", "spectrogram", "split", "baseline", "train", "evaluate",
          "uncertainty", "ood"]
NAME = re.compile(r"(?P<digit>\d)_(?P<speaker>[a-z]+)_(?P<take>\d+)\.wav")
GROUPS = ("allowed", "enrolled_impostors", "unseen_impostors")


def manifest(data: Path, allowed: list[str], unseen: list[str]) -> pd.DataFrame:
    """One row per FSDD file: ``filename``, ``speaker``, ``digit``, ``fold`` (train / val / test) and
    ``group`` (allowed, enrolled_impostors, unseen_impostors)."""
    rows = [m.groupdict() | {"filename": p.name} for p in sorted(data.glob("*.wav")) if (m := NAME.fullmatch(p.name))]
    table = pd.DataFrame(rows)
    missing = sorted(set(allowed + unseen) - set(table["speaker"]))
    if missing:
        sys.exit(f"speakers not found in {data}: {missing}")
    take = table["take"].astype(int)
    table["fold"] = np.where(take < 10, "test", np.where(take < 18, "val", "train"))
    table["group"] = np.where(table["speaker"].isin(allowed), "allowed", "enrolled_impostors")
    new = table["speaker"].isin(unseen)
    table.loc[new, "fold"], table.loc[new, "group"] = "test", "unseen_impostors"
    return table


def gate_params(data: Path, manifest_csv: Path, allowed: list[str]) -> dict:
    """FSDD params (:func:`fsdd_speaker.fsdd_params`) as a binary gate on the manifest's folds."""
    params = fsdd_params(data)
    params["data"].update(layout="csv", manifest=str(manifest_csv), filename_column="filename", pattern=None,
                          label="speaker", speaker="speaker", positive=list(allowed),
                          class_names=["rejected", "allowed"], fold="fold")
    params["split"].update(method="folds", test_fold="test", val_fold="val")
    params["uncertainty"].update(members=[], abstain_method="mc_dropout")
    params["gate"].update(extra_ood_dirs=[], unseen_speakers=[])
    return params


def with_overrides(params: dict, overrides: list[str]) -> dict:
    """``params`` with ``section.key=value`` overrides (values parsed as YAML: ``1``, ``true``, ``[a, b]``)."""
    for item in overrides:
        key, sep, value = item.partition("=")
        section, _, name = key.partition(".")
        if not sep or not name or section not in params or name not in params[section]:
            sys.exit(f"--set {item}: expected section.key=value with a key of params.yaml")
        params[section][name] = yaml.safe_load(value)
    return params


def recordings(work: Path, stage: str, threshold: float, table: pd.DataFrame) -> pd.DataFrame:
    """Test recordings of ``reports/<stage>/predictions.csv``: mean P(allowed) over segments, accepted
    at ``threshold``, with the manifest's speaker, digit and group."""
    pred = pd.read_csv(work / "reports" / stage / "predictions.csv", keep_default_na=False)
    rec = pred.groupby("recording_id", sort=True)["prob_allowed"].mean().rename("p").reset_index()
    rec["accepted"] = (rec["p"] >= threshold).astype(float)
    rec["filename"] = rec["recording_id"] + ".wav"
    return rec.merge(table, on="filename", validate="one_to_one")


def _groups_named(d: dict) -> dict:
    """A :mod:`audiolens.bootstrap` result whose resampled groups are speaker-digits, not recordings."""
    d = dict(d)
    d["n_speaker_digits"] = d.pop("n_recordings")
    return d


def accept_rates(cnn: pd.DataFrame, base: pd.DataFrame, resamples: int) -> dict:
    """Per group: accept rates of the CNN and the baseline with 95 % intervals (bootstrap over
    speaker-digit groups) and their paired difference."""
    from audiolens.bootstrap import BootstrapSettings, bootstrap_ci, bootstrap_difference

    boot = BootstrapSettings(resamples=resamples, seed=0)
    both = cnn.merge(base[["filename", "accepted"]], on="filename", suffixes=("", "_base"), validate="one_to_one")
    out = {}
    for g in GROUPS:
        sub = both[both["group"] == g]
        groups = (sub["speaker"] + ":" + sub["digit"]).to_numpy()
        a, b = sub["accepted"].to_numpy(), sub["accepted_base"].to_numpy()
        out[g] = {"speakers": sorted(sub["speaker"].unique()), "n_recordings": len(sub),
                  "by_speaker": {s: {"n": int(len(r)), "cnn": float(r["accepted"].mean()),
                                     "baseline": float(r["accepted_base"].mean())}
                                 for s, r in sub.groupby("speaker", sort=True)},
                  "n_speaker_digits": len(set(groups)),
                  **{k: _groups_named(v) for k, v in (
                      ("cnn", bootstrap_ci(np.mean, a, groups=groups, settings=boot)),
                      ("baseline", bootstrap_ci(np.mean, b, groups=groups, settings=boot)),
                      ("difference", bootstrap_difference(np.mean, [a], [b], groups=groups, settings=boot)))}}
    return out


def whole_gate(work: Path, data: Path, cnn: pd.DataFrame) -> dict:
    """``audiolens predict --json`` on every test recording (run in ``work``: its model, gate,
    OOD check and threshold); decision counts per group and the reasons for abstaining."""
    files = [str(data / f) for f in cnn["filename"]]
    done = subprocess.run([sys.executable, "-m", "audiolens.cli", "predict", "--json", *files], cwd=work,
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if done.returncode not in (0, 3, 4, 5):
        sys.exit(f"audiolens predict failed ({done.returncode}): {done.stderr[-2000:]}")
    results = {Path(r["file"]).name: r for r in json.loads(done.stdout)["results"]}
    out = {}
    for g in GROUPS:
        rs = [results[f] for f in cnn.loc[cnn["group"] == g, "filename"]]
        decisions = [r.get("decision", "error") for r in rs]
        reasons = [(r.get("ood") or {}).get("reason") or "uncertain" for r in rs if r.get("decision") == "abstain"]
        errors = [f"exit {r['error']['code']}: " + re.sub(r"\d+(\.\d+)?", "#", r["error"]["message"]
                                                          .replace(r["file"], "").lstrip(": "))
                  for r in rs if "error" in r]  # numbers masked: one count per kind of error
        out[g] = {"n": len(rs), "decisions": {d: decisions.count(d) for d in sorted(set(decisions))},
                  "accept_rate": decisions.count("accept") / len(rs),
                  "abstain_reasons": {k: reasons.count(k) for k in sorted(set(reasons))},
                  "errors": {k: errors.count(k) for k in sorted(set(errors))}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fsdd" / "recordings"))
    ap.add_argument("--allowed", default="george,jackson", help="allowed speakers (comma-separated)")
    ap.add_argument("--unseen", default="theo,yweweler", help="impostors never trained on (comma-separated)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="override a param of the recipe, e.g. --set train.mixup_alpha=0.2 --set gate.min_voiced=0.1")
    ap.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples of the intervals")
    ap.add_argument("--keep", default=None, help="workspace folder to keep (default: a temp dir, removed)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench" / "fsdd_gate.json"))
    args = ap.parse_args()
    data = Path(args.data).resolve()
    if not data.is_dir():
        sys.exit(f"FSDD not found at {data} (the benchmark needs ../shared/data)")
    allowed, unseen = args.allowed.split(","), args.unseen.split(",")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fsdd_gate_"))
    work.mkdir(parents=True, exist_ok=True)
    table = manifest(data, allowed, unseen)
    table.to_csv(work / "manifest.csv", index=False)
    params = with_overrides(gate_params(data, work / "manifest.csv", allowed), args.set)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        timings = run_stages(work, STAGES)
        metrics = json.loads((work / "reports" / "eval" / "metrics.json").read_text())
        base_m = json.loads((work / "reports" / "baseline" / "metrics.json").read_text())
        ood = json.loads((work / "reports" / "ood" / "metrics.json").read_text())
        cnn = recordings(work, "eval", metrics["operating_point"]["threshold"], table)
        base = recordings(work, "baseline", base_m["threshold"], table)
        rates = accept_rates(cnn, base, args.resamples)
        t0 = time.perf_counter()
        gate = whole_gate(work, data, cnn)
        timings["predict"] = round(time.perf_counter() - t0, 1)
        meta = json.loads((work / "models" / "train_meta.json").read_text())
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    result = {
        "task": "FSDD voice gate: 2 allowed speakers, 2 enrolled impostors, 2 unseen impostors (test only)",
        "speakers": {"allowed": allowed, "enrolled_impostors": sorted(set(table["speaker"]) - set(allowed + unseen)),
                     "unseen_impostors": unseen},
        "split": "enrolled speakers: takes 0-9 test, 10-17 validation, 18-49 train; unseen impostors: all takes test",
        "cnn_threshold": metrics["operating_point"], "baseline": {"classifier": base_m["best"],
                                                                  "threshold": base_m["threshold"]},
        "overrides": args.set, "accept_rates": rates, "whole_gate": gate,
        "interval": f"95 % bootstrap over speaker-digit groups, {args.resamples} resamples; the difference "
                    "CNN - baseline paired on the same resamples",
        "test_segments_pipeline": {k: metrics[k] for k in ("n", "n_recordings", "accuracy", "binary")},
        "ood": ood, "model": {"arch": meta["arch"], "n_params": meta["n_params"],
                              "epochs_run": meta["epochs_run"], "best_epoch": meta["best_epoch"]},
        "seconds": timings, "total_s": round(sum(timings.values()), 1), "cpu_count": os.cpu_count(),
    }
    atomic_write_json(args.out, result)
    print(json.dumps({k: result[k] for k in ("accept_rates", "whole_gate", "total_s")}, indent=2))


if __name__ == "__main__":
    main()
