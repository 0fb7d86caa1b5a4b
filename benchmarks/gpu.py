"""Benchmark: the default pipeline's training stages on the GPU (mixed precision on) vs the CPU.

In a scratch copy of the project it runs every stage up to ``uncertainty`` once on the CPU
(``CUDA_VISIBLE_DEVICES=-1``, ``train.mixed_precision: off``), timing ``train``,
``train_member@*`` and ``uncertainty``; then it reruns those stages on the GPU with
``train.mixed_precision: on`` and compares the headline metrics of the two runs.

Tolerance: mixed precision and GPU kernels change the arithmetic, so the two runs train
different (equally valid) models; on the demo corpus each compared metric (validation
accuracy, test accuracy and ECE of the single model and the ensemble) must agree within
``--tolerance`` (absolute, default 0.05). ``within_tolerance`` records the verdict;
``--strict`` turns a miss into exit status 1. The tolerance is meant for the default
settings; a barely trained model (e.g. ``--profile tests/profiles/tiny.yaml --set
train.epochs=3``, which checks the script in ~15 min on 2 CPU cores) misses it by design.

Usage: python benchmarks/gpu.py [--profile FILE] [--set train.epochs=2 ...] [--allow-cpu] [--out reports/bench/gpu.json]
Without a GPU it stops unless ``--allow-cpu`` is given (then the "gpu" run is the CPU with
mixed precision on: a check of this script, not a benchmark).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from types import MappingProxyType

import yaml

REPO = Path(__file__).resolve().parents[1]
TIMED = re.compile(r"^(train|train_member@.+|uncertainty)$")
COMPARED = MappingProxyType({  # name -> (file, dotted key)
    "val_accuracy": ("reports/train/metrics.json", "eval.accuracy"),
    "single_test_accuracy": ("reports/uncertainty/metrics.json", "single.accuracy"),
    "single_ece": ("reports/uncertainty/metrics.json", "single.ece"),
    "ensemble_test_accuracy": ("reports/uncertainty/metrics.json", "ensemble.accuracy"),
    "ensemble_ece": ("reports/uncertainty/metrics.json", "ensemble.ece"),
})


def run(cmd: list[str], cwd: Path, env: dict) -> str:
    """Run ``cmd``; raise with its output tail on failure, else return stdout."""
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res.stdout


def copy_tree(dest: Path) -> None:
    """Copy the working tree (tracked + untracked-not-ignored files) into ``dest`` as a git repo."""
    files = run(["git", "ls-files", "-co", "--exclude-standard"], REPO, dict(os.environ)).split("\n")
    for rel in filter(None, files):
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)


def merge(base: dict, over: dict) -> dict:
    """``over`` deep-merged onto ``base``."""
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merge(out[key], value) if both else value
    return out


def set_params(path: Path, assignments: list[str], profile: Path | None = None) -> None:
    """Deep-merge a YAML ``profile``, then apply ``a.b=value`` assignments (YAML values), to a params file."""
    params = yaml.safe_load(path.read_text())
    if profile is not None:
        params = merge(params, yaml.safe_load(profile.read_text()))
    for item in assignments:
        key, value = item.split("=", 1)
        *parents, leaf = key.split(".")
        node = params
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def stage_order(root: Path, env: dict, target: str) -> list[str]:
    """Stages ``dvc repro <target>`` would run, in order."""
    out = run(["dvc", "repro", "--dry", "--force", target], root, env)
    return re.findall(r"Running stage '([^']+)'", out)


def time_stages(root: Path, env: dict, stages: list[str]) -> dict[str, float]:
    """Run each stage alone (``dvc repro -s -f``) and return its wall time in seconds."""
    out = {}
    for stage in stages:
        t0 = time.perf_counter()
        run(["dvc", "repro", "--single-item", "--force", stage], root, env)
        out[stage] = round(time.perf_counter() - t0, 2)
    return out


def read_metrics(root: Path) -> dict[str, float]:
    """The compared metrics of the current run."""
    out = {}
    for name, (file, key) in COMPARED.items():
        value = json.loads((root / file).read_text())
        for part in key.split("."):
            value = value[part]
        out[name] = float(value)
    return out


def gpu_names(env: dict) -> list[str]:
    """GPU names as TensorFlow sees them under ``env``."""
    code = ("import json, tensorflow as tf; print(json.dumps([tf.config.experimental.get_device_details(d)"
            ".get('device_name', d.name) for d in tf.config.list_physical_devices('GPU')]))")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1]) if res.returncode == 0 else []


def main(argv: list[str] | None = None) -> int:
    """Run both variants and write the JSON report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="params.yaml override for both runs (e.g. train.epochs=2)")
    ap.add_argument("--profile", type=Path, help="YAML deep-merged over params.yaml (e.g. tests/profiles/tiny.yaml)")
    ap.add_argument("--tolerance", type=float, default=0.05, help="max |gpu - cpu| per compared metric")
    ap.add_argument("--allow-cpu", action="store_true", help="run without a GPU (checks the script only)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a metric is outside the tolerance")
    ap.add_argument("--keep", action="store_true", help="keep the scratch project")
    ap.add_argument("--out", default=str(REPO / "reports/bench/gpu.json"))
    args = ap.parse_args(argv)

    base_env = {**os.environ, "DVC_NO_ANALYTICS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "TQDM_DISABLE": "1",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    cpu_env = {**base_env, "CUDA_VISIBLE_DEVICES": "-1"}
    gpus = gpu_names(base_env)
    if not gpus and not args.allow_cpu:
        print("no GPU visible to TensorFlow (install requirements/gpu.lock); --allow-cpu to test the script",
              file=sys.stderr)
        return 2

    root = Path(tempfile.mkdtemp(prefix="audiolens-gpu-bench-"))
    try:
        copy_tree(root)
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "bench"]):
            run(cmd, root, base_env)
        set_params(root / "params.yaml", [*args.set, "train.mixed_precision='off'"],
                   args.profile.resolve() if args.profile else None)
        stages = stage_order(root, cpu_env, "uncertainty")
        timed = [s for s in stages if TIMED.match(s)]
        run(["dvc", "repro", "uncertainty"], root, cpu_env)  # upstream stages + a warm-up of the timed ones
        cpu_times = time_stages(root, cpu_env, timed)
        cpu_metrics = read_metrics(root)

        set_params(root / "params.yaml", ["train.mixed_precision='on'"])
        gpu_times = time_stages(root, base_env, timed)
        gpu_metrics = read_metrics(root)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    deltas = {k: round(abs(gpu_metrics[k] - cpu_metrics[k]), 4) for k in COMPARED}
    ok = all(d <= args.tolerance for d in deltas.values())
    report = {
        "what": "train, train_member@*, uncertainty: CPU (mixed precision off) vs GPU (mixed precision on)",
        "gpu": gpus, "ran_on_gpu": bool(gpus), "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "overrides": args.set, "profile": str(args.profile or ""),
        "seconds": {s: {"cpu": cpu_times[s], "gpu": gpu_times[s],
                        "speedup": round(cpu_times[s] / gpu_times[s], 2) if gpu_times[s] else None}
                    for s in timed},
        "metrics": {"cpu": cpu_metrics, "gpu": gpu_metrics, "abs_diff": deltas},
        "tolerance": args.tolerance, "within_tolerance": ok,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["seconds"], indent=2))
    print(f"metrics within {args.tolerance}: {ok}  ({out})")
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
