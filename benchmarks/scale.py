"""How time and memory grow with the data, and what a second worker buys: reports/bench/scale.json.

(a) Every stage of dvc.yaml, at 1x, 4x and 10x a demo corpus (``demo.scripts`` scaled; short
    recordings to keep it cheap): wall time and peak RSS of the real stage scripts (``python
    stages/<s>.py`` in a scratch project, one subprocess each, the params.yaml defaults except the
    overrides in :data:`OVERRIDES`: two training epochs, one ensemble member, small analysis
    samples, the same at every scale). Peak RSS is measured two ways: ``ru_maxrss`` of the stage
    from ``os.wait4`` (the largest single process: the stage or one of its pool workers, exact)
    and the sum over the stage's process tree sampled every 0.1 s with psutil (approximate,
    counts pool workers together; also its anonymous part, RSS minus file-backed pages). Also the
    bytes each data folder holds.
(b) Preprocessing throughput (clean + segment + spectrogram, the stages' library calls, as in
    benchmarks/preprocess.py) on one corpus with 1 and 2 local worker processes
    (``audio.scheduler: processes``; best of ``--repeat`` runs, after an untimed warm-up that
    loads the lazily imported libraries) and with a 2-worker Dask ``LocalCluster``
    (``audio.scheduler: local``, started per call: start-up included) and an already running one
    (``audio.scheduler: tcp://...``).

Run it alone on an idle machine for the speed-up figure: the JSON records the CPU use of the 2 s
before the start (``idle``: under 15 %), the load averages, and the processes the caller paused
(``--paused-pids``). Usage::

    python benchmarks/scale.py --tp-recordings 120      # 1x/4x/10x of 20 speakers x 1 script x 4 s
    python benchmarks/scale.py --scales 1 --seconds 2 --no-throughput    # quick check
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

# every stage of dvc.yaml, in its order (train_member once: one ensemble member)
STAGES = [("demo", []), ("ingest", []), ("clean", []), ("segment", []), ("augment", []), ("spectrogram", []),
          ("split", []), ("eda", []), ("baseline", []), ("train", []), ("evaluate", []),
          ("train_member", ["--member", "1"]), ("uncertainty", []), ("ood", []), ("attribution", []),
          ("interpret", []), ("paramspace", []), ("report", [])]
# cheap training and small analysis samples: the benchmark measures how each stage's memory and time
# grow with the data, not the model; the same overrides at every scale
OVERRIDES = {"train": {"epochs": 2, "min_epochs": 1}, "augment": {"factors": [0.8]},
             "uncertainty": {"members": [1], "member_epochs": 1, "mc_samples": 10},
             "eda": {"max_recordings_per_speaker": 2, "pyin_seconds_per_speaker": 1.0, "max_images": 200},
             "gate": {"generated_clips": 9, "unseen_speakers": ["f11"]},
             "attribution": {"explainers": ["saliency", "gradcam"], "masks": ["top30"], "n_examples": 4,
                             "sanity_examples": 2, "sanity_explainers": ["saliency"], "noise_examples": 2,
                             "noise_explainers": ["saliency"], "snr_db": [10.0], "roundtrip_examples": 1,
                             "wav_examples": 1, "figure_examples": 1, "curve_steps": 4},
             "interpret": {"examples_per_class": 1, "queries_per_class": 1, "max_filters": 8,
                           "max_reset_layers": 4}}
DATA_DIRS = ["data/raw", "data/interim/clean", "data/interim/augmented", "data/processed/features", "models"]


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def make_project(dest: Path, *, scripts: int, seconds: float) -> Path:
    """A scratch project: stages/ and params.yaml (demo corpus of ``scripts`` scripts x 20 speakers)."""
    shutil.copytree(REPO / "stages", dest / "stages")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params = _merge(params, {**OVERRIDES, "demo": {"scripts": scripts, "duration_s": seconds}})
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return dest


def _tree_rss(pid: int) -> tuple[int, int]:
    """(resident, anonymous resident = rss - file-backed/shared) bytes, summed over the process tree."""
    import psutil

    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    total = anon = 0
    for q in procs:
        try:
            m = q.memory_info()
            total, anon = total + m.rss, anon + m.rss - getattr(m, "shared", 0)
        except psutil.Error:
            pass
    return total, anon


def run_stage(project: Path, name: str, extra: list[str], env: dict) -> dict:
    """Run one stage script; wall seconds, exit code, peak RSS (MiB) both ways."""
    import subprocess

    log = project / "logs" / f"{name}.log"
    log.parent.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, f"stages/{name}.py", *extra], cwd=project, env=env,
                                stdout=fh, stderr=subprocess.STDOUT)
        tree_peak = anon_peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss, anon = _tree_rss(proc.pid)
            tree_peak, anon_peak = max(tree_peak, rss), max(anon_peak, anon)
            time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = {"wall_s": round(time.perf_counter() - t0, 2), "rc": proc.returncode,
           "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
           "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "peak_tree_rss_mib": round(tree_peak / 2 ** 20, 1),
           "peak_tree_anon_mib": round(anon_peak / 2 ** 20, 1)}
    if proc.returncode:
        out["log_tail"] = log.read_text()[-1500:]
    return out


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def stage_scaling(scales: list[int], *, scripts: int, seconds: float, tmp: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
           "TF_CPP_MIN_LOG_LEVEL": "2", "TQDM_DISABLE": "1", "DVC_NO_ANALYTICS": "1"}
    out: dict = {}
    for s in scales:
        proj = make_project(tmp / f"x{s}", scripts=scripts * s, seconds=seconds)
        res: dict = {"recordings": 20 * scripts * s, "audio_s": 20 * scripts * s * seconds, "stages": {}}
        for name, extra in STAGES:
            r = run_stage(proj, name, extra, env)
            res["stages"][name] = r
            print(f"x{s} {name}: {r['wall_s']} s, {r['peak_rss_mib']} MiB (tree {r['peak_tree_rss_mib']})",
                  flush=True)
            if r["rc"]:
                break
        seg = proj / "data/processed/features/index.csv"
        res["segments"] = sum(1 for _ in open(seg)) - 1 if seg.is_file() else None
        res["bytes"] = {d: _du(proj / d) for d in DATA_DIRS}
        out[f"x{s}"] = res
        shutil.rmtree(proj, ignore_errors=True)
    return out


def growth(results: dict, lo: str, hi: str) -> dict:
    """Peak RSS and wall of each stage at ``hi`` over ``lo``."""
    a, b = results[lo]["stages"], results[hi]["stages"]
    return {name: {"peak_rss": round(b[name]["peak_rss_mib"] / a[name]["peak_rss_mib"], 2),
                   "peak_tree_rss": round(b[name]["peak_tree_rss_mib"] / max(a[name]["peak_tree_rss_mib"], 1e-9), 2),
                   "peak_tree_anon": round(b[name]["peak_tree_anon_mib"] / max(a[name]["peak_tree_anon_mib"], 1e-9), 2),
                   "wall": round(b[name]["wall_s"] / a[name]["wall_s"], 2)}
            for name in a if name in b and not a[name]["rc"] and not b[name]["rc"]}


def throughput(*, recordings: int, seconds: float, tmp: Path, repeat: int = 2) -> dict:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_preprocess", Path(__file__).with_name("preprocess.py"))
    preprocess = importlib.util.module_from_spec(spec)  # the sibling benchmark's corpus and pipeline helpers
    spec.loader.exec_module(preprocess)
    make_corpus, run_pipeline = preprocess.make_corpus, preprocess.run_pipeline

    from audiolens.config import Params, to_settings
    from audiolens.features import SpectrogramConfig

    cfg = to_settings(Params().features, SpectrogramConfig, sample_rate=8000)
    manifest = make_corpus(tmp / "raw", recordings=recordings, seconds=seconds)
    # warm-up on 2 recordings, untimed: the lazily imported libraries (noisereduce ~0.5 s, soxr) are
    # loaded before any timed run, so the first configuration does not pay them and the others not
    # (forked workers inherit them): every configuration measures the same steady-state work
    run_pipeline(manifest.iloc[:2], raw=tmp / "raw", work=tmp / "warmup", n_jobs=1, cfg=cfg, length_s=3.0)
    shutil.rmtree(tmp / "warmup", ignore_errors=True)
    out = {"recordings": recordings, "seconds_each": seconds, "repeat": repeat}
    runs = (("processes_1", 1, "processes"), ("processes_2", 2, "processes"), ("dask_local_2", 2, "local"),
            ("dask_running_cluster_2", 2, None))
    cluster = None
    for key, n_jobs, scheduler in runs:
        if scheduler is None:  # started only now: an idle cluster in the background would tax the other runs
            from distributed import LocalCluster

            t0 = time.perf_counter()
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
            out["dask_localcluster_start_s"] = round(time.perf_counter() - t0, 2)
            scheduler = cluster.scheduler_address
        tries = []
        for i in range(repeat):  # best of `repeat` (the Dask runs once: they are context, not targets)
            if i and key.startswith("dask"):
                break
            r = run_pipeline(manifest, raw=tmp / "raw", work=tmp / key, n_jobs=n_jobs, cfg=cfg, length_s=3.0,
                             scheduler=scheduler)
            r.pop("_segs")
            shutil.rmtree(tmp / key, ignore_errors=True)
            r["wall_s"] = round(sum(r[s]["wall_s"] for s in ("clean", "segment", "spectrogram")), 3)
            tries.append(r)
            print(f"throughput {key} try {i + 1}: {r['wall_s']:.2f} s", flush=True)
        r = min(tries, key=lambda t: t["wall_s"])
        out[key] = {**{s: r[s] for s in ("clean", "segment", "spectrogram")}, "wall_s": r["wall_s"],
                    "tries_wall_s": [t["wall_s"] for t in tries],
                    "audio_s_per_s": round(r["audio_in_s"] / r["wall_s"], 1), "segments": r["segments"]}
    if cluster is not None:
        cluster.close()
    base = out["processes_1"]["wall_s"]
    out["speedup_vs_1"] = {k: round(base / out[k]["wall_s"], 2) for k, _, _ in runs[1:]}
    out["speedup_vs_1_per_step"] = {s: round(out["processes_1"][s]["wall_s"] / out["processes_2"][s]["wall_s"], 2)
                                    for s in ("clean", "spectrogram")}
    out["note"] = ("imports warmed up before the timed runs (untimed 2-recording run); processes_1/processes_2: "
                   f"best of {repeat} runs; dask_local_2 starts a LocalCluster for each of clean and spectrogram "
                   "(audio.scheduler: local), its wall includes both start-ups; dask_running_cluster_2 sends the same "
                   "tasks to an already running 2-worker cluster through its tcp:// address "
                   "(audio.scheduler: tcp://...), started after the local runs")
    return out


def _busy_pct(seconds: float = 2.0) -> float:
    """System-wide CPU use (%) over ``seconds`` right before the start (others' load: idle is < 15 %)."""
    import psutil

    return float(psutil.cpu_percent(interval=seconds))


def _paused(pids: list[int]) -> list[dict]:
    import psutil

    out = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            out.append({"pid": pid, "status": p.status(), "nice": p.nice(), "cmd": " ".join(p.cmdline())[:160]})
        except psutil.Error:
            out.append({"pid": pid, "status": "gone"})
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 4, 10])
    ap.add_argument("--scripts", type=int, default=1, help="demo scripts per speaker at 1x (20 speakers)")
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each demo recording")
    ap.add_argument("--tp-recordings", type=int, default=40, help="throughput corpus: recordings")
    ap.add_argument("--tp-seconds", type=float, default=20.0, help="throughput corpus: seconds each")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--out", default="reports/bench/scale.json")
    ap.add_argument("--repeat", type=int, default=2, help="throughput: best of this many runs (1 and 2 processes)")
    ap.add_argument("--paused-pids", type=int, nargs="*", default=[],
                    help="other processes the caller paused (kill -STOP) for this run; recorded in the JSON")
    args = ap.parse_args(argv)
    paused = _paused(args.paused_pids)
    busy0 = _busy_pct()
    load0, t0 = os.getloadavg(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        stages = stage_scaling(args.scales, scripts=args.scripts, seconds=args.seconds, tmp=Path(tmp))
        tp = None if args.no_throughput else throughput(recordings=args.tp_recordings, seconds=args.tp_seconds,
                                                        tmp=Path(tmp) / "tp", repeat=args.repeat)
    load1 = os.getloadavg()
    keys = list(stages)
    idle = busy0 < 15.0
    report = {
        "command": "python benchmarks/scale.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "niceness": os.nice(0),
                    "loadavg_before": [round(v, 2) for v in load0], "loadavg_after": [round(v, 2) for v in load1],
                    # idle: the CPUs were (nearly) unused in the 2 s before the start; the load averages lag
                    # (a 1-minute average still counts processes paused just before) and the one after
                    # includes this benchmark's own processes
                    "cpu_busy_before_pct": round(busy0, 1), "idle": idle,
                    "paused_others": paused,
                    "note": ("loaded machine: wall times and the 2-worker speed-up include waiting for other "
                             "processes; peak RSS is not affected" if not idle else
                             "idle machine at the start" + (f" ({len(paused)} other process(es) paused with "
                                                             "SIGSTOP for the run, resumed after)" if paused else ""))},
        "overrides": OVERRIDES, "stages": stages,
        "growth": {f"{b}/{a}": growth(stages, a, b) for a, b in zip(keys[:1] * (len(keys) - 1), keys[1:])},
        "throughput": tp, "total_s": round(time.perf_counter() - t0, 1),
    }
    if len(keys) > 1:
        g = report["growth"][f"{keys[-1]}/{keys[0]}"]
        report["targets"] = {"peak_rss_growth <= 1.5 (every stage, ru_maxrss)":
                             {"value": max(v["peak_rss"] for v in g.values()),
                              "met": all(v["peak_rss"] <= 1.5 for v in g.values())}}
    if tp is not None:  # unrounded: 1.6988 is not 1.7
        v = round(tp["processes_1"]["wall_s"] / tp["processes_2"]["wall_s"], 3)
        report.setdefault("targets", {})["2 workers >= 1.7x faster (idle 2-core machine)"] = {
            "value": v, "met": v >= 1.7 if idle else None,
            "note": None if idle else "not measurable: the machine was not idle"}
    from audiolens.io import atomic_write_json

    atomic_write_json(REPO / args.out if not Path(args.out).is_absolute() else args.out, report)
    print(json.dumps({k: report.get(k) for k in ("machine", "growth", "targets")}, indent=1))
    return report


if __name__ == "__main__":
    main()
