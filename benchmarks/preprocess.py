"""Benchmark the preprocessing path on one synthetic corpus and write reports/bench/preprocess.json.

Measures, in one run:

(a) throughput of clean + segment + spectrogram (the library calls the stages make, on
    one core: ``n_jobs=1``; also ``n_jobs=2`` wall time), as audio seconds per second per
    core, from wall time and from CPU time (CPU time is robust to other processes
    sharing the machine; the load average is recorded);
(b) the spectrogram stage's time (read WAVs, STFT + dB, shard writes, index/meta; one
    core) over the bare STFT + dB compute on the same segments already in memory (our
    batched kernel, and librosa's ``stft`` + ``amplitude_to_db`` per segment for
    reference); best of ``--repeat`` runs each;
(c) the seed's way for a subset of the segments: per segment librosa STFT + dB,
    ``librosa.display.specshow`` into a figure saved as one PNG file, then every PNG read
    back as an array; per-segment time against ours.

Usage::

    python benchmarks/preprocess.py                       # default corpus (40 x 30 s)
    python benchmarks/preprocess.py --recordings 8 --seconds 10 --seed-segments 20   # quick
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from audiolens.audio import CleanSettings
from audiolens.config import Params, to_settings
from audiolens.corpus.demo import write_demo_corpus
from audiolens.features import SpectrogramConfig, spectrogram_db
from audiolens.io import atomic_write_json, read_audio
from audiolens.parallel import ExecutorSettings
from audiolens.prep.clean import clean_corpus
from audiolens.prep.common import recordings_table
from audiolens.prep.featurize import feature_meta, featurize
from audiolens.segments import SegmentSettings, segment_table

TARGETS = {"realtime_per_core": 200.0, "speedup_vs_seed": 10.0, "stage_over_bare": 2.0}


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


@contextmanager
def measure(out: dict, key: str):
    """Record wall and CPU seconds (this process + finished children) of the block."""
    w0, c0 = time.perf_counter(), _cpu()
    yield
    out[key] = {"wall_s": round(time.perf_counter() - w0, 4), "cpu_s": round(_cpu() - c0, 4)}


def make_corpus(root: Path, *, recordings: int, seconds: float) -> "pd.DataFrame":
    import pandas as pd

    speakers = [f"f{i}" for i in range(1, 11)] + [f"m{i}" for i in range(1, 11)]
    scripts = max(1, -(-recordings // len(speakers)))
    paths = write_demo_corpus(root, speakers=speakers, scripts=scripts, duration_s=seconds, sample_rate=16000,
                              noise_lead_s=0.5, snr_db=20.0, seed=0)[:recordings]
    ids = [p.stem for p in paths]
    return pd.DataFrame({"id": ids, "path": [p.name for p in paths], "label": [i[0] for i in ids],
                         "label_index": [int(i[0] == "m") for i in ids], "speaker": [i.split("_")[0] for i in ids],
                         "group": ids, "fold": ""})


def run_pipeline(manifest, *, raw: Path, work: Path, n_jobs: int, cfg: SpectrogramConfig, length_s: float,
                 scheduler: str = "processes") -> dict:
    """clean -> segment -> spectrogram with the stages' library calls; times per step."""
    t: dict = {}
    executor = ExecutorSettings(n_jobs=n_jobs, scheduler=scheduler, inline_below_s=Params().audio.inline_below_s)
    sr = cfg.sample_rate
    with measure(t, "clean"):
        log, skipped = clean_corpus(manifest, root=raw, out_dir=work / "clean",
                                    settings=to_settings(Params().clean, CleanSettings, sample_rate=sr),
                                    min_keep_s=0.1, executor=executor)
    with measure(t, "segment"):
        recs = recordings_table(manifest, ids=log["id"].tolist(), audio_dir=work / "clean", sample_rate=sr)
        segs, _ = segment_table(recs, settings=SegmentSettings(sample_rate=sr, length_s=length_s, hop_s=None, tail="keep",
                                min_tail_s=length_s / 3), audio_dir="clean")
    with measure(t, "spectrogram"):
        index = featurize(segs, config=cfg, out_dir=work / "features", shard_size=2048, root=work, executor=executor)
        index.to_csv(work / "features" / "index.csv", index=False)
        (work / "features" / "meta.json").write_text(json.dumps(feature_meta(
            cfg, segment_samples=int(length_s * sr), class_names=["f", "m"], normalise="per_sample",
            n_rows=len(index), shard_size=2048)))
    t["audio_in_s"] = float(log["duration_in_s"].sum())
    t["audio_clean_s"] = float(log["duration_out_s"].sum())
    t["segments"], t["skipped"] = len(segs), len(skipped)
    t["_segs"] = segs
    return t


def clean_breakdown(manifest, *, raw: Path, sample_rate: int, n: int = 10) -> dict:
    """CPU ms per audio second of each clean step (in-process, first ``n`` recordings)."""
    from audiolens.audio import denoise, remove_silence, resample, to_mono
    from audiolens.io import write_audio

    cpu = {"read": 0.0, "resample": 0.0, "denoise": 0.0, "remove_silence": 0.0, "write": 0.0}
    seconds = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for path in manifest["path"].iloc[:n]:
            t = time.process_time()
            y, sr = read_audio(raw / path, mono=False)
            cpu["read"] += time.process_time() - t
            seconds += len(y) / sr
            t = time.process_time()
            x = resample(to_mono(y), sr_in=sr, sr_out=sample_rate)
            cpu["resample"] += time.process_time() - t
            t = time.process_time()
            x = denoise(x, sr=sample_rate, noise_profile_s=0.5, stationary=True, prop_decrease=1.0,
                        freq_smooth_hz=50.0, time_smooth_ms=50.0)
            cpu["denoise"] += time.process_time() - t
            t = time.process_time()
            x = remove_silence(x, sr=sample_rate, frame_ms=25.0, threshold_db=-35.0, min_silence_s=0.1)
            cpu["remove_silence"] += time.process_time() - t
            t = time.process_time()
            write_audio(Path(tmp) / "x.wav", x, sample_rate)
            cpu["write"] += time.process_time() - t
    return {k: round(1000 * v / seconds, 3) for k, v in cpu.items()} | {"unit": "CPU ms per audio second"}


def load_segments(segs, *, root: Path, length: int) -> np.ndarray:
    x = np.zeros((len(segs), length), np.float32)
    for k, row in enumerate(segs.itertuples()):
        y, _ = read_audio(root / row.audio_dir / f"{row.recording_id}.wav", start=row.start, stop=row.end)
        x[k, : len(y)] = y
    return x


def best_of(fn, repeat: int) -> dict:
    """Minimum wall and CPU seconds of ``repeat`` calls (filters out other processes' bursts)."""
    runs: list[dict] = []
    for _ in range(repeat):
        t: dict = {}
        with measure(t, "x"):
            fn()
        runs.append(t["x"])
    return {"wall_s": min(r["wall_s"] for r in runs), "cpu_s": min(r["cpu_s"] for r in runs), "repeat": repeat}


def stage_vs_bare(segs, x: np.ndarray, cfg: SpectrogramConfig, *, work: Path, repeat: int) -> dict:
    """The spectrogram stage's library call vs the bare compute on in-memory segments."""
    import librosa

    basis = cfg.mel_basis() if cfg.kind == "mel" else None
    spectrogram_db(x[:4], config=cfg, mel_basis=basis)  # warm-ups (first-call costs excluded)
    librosa.amplitude_to_db(np.abs(librosa.stft(x[0], n_fft=cfg.n_fft, hop_length=cfg.hop_length)), ref=np.max)
    counter = iter(range(10 ** 6))

    def stage() -> None:
        out = work / f"features_{next(counter)}"
        index = featurize(segs, config=cfg, out_dir=out, shard_size=2048, root=work,
                          executor=ExecutorSettings(n_jobs=1, scheduler="processes", inline_below_s=0.0))
        index.to_csv(out / "index.csv", index=False)
        (out / "meta.json").write_text(json.dumps(feature_meta(
            cfg, segment_samples=x.shape[1], class_names=["f", "m"], normalise="per_sample",
            n_rows=len(index), shard_size=2048)))

    def kernel() -> None:
        for a in range(0, len(x), 64):
            spectrogram_db(x[a: a + 64], config=cfg, mel_basis=basis)

    def reference() -> None:
        for seg in x:
            s = np.abs(librosa.stft(seg, n_fft=cfg.n_fft, hop_length=cfg.hop_length, pad_mode="constant"))
            librosa.amplitude_to_db(s, ref=np.max, top_db=cfg.top_db)

    return {"stage": best_of(stage, repeat), "kernel": best_of(kernel, repeat), "librosa": best_of(reference, repeat)}


def seed_way(x: np.ndarray, cfg: SpectrogramConfig, folder: Path) -> dict:
    """The seed: STFT + dB, specshow, one PNG per segment, then PNGs read back as arrays."""
    import librosa
    import librosa.display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    out: dict = {}
    fig = plt.figure(figsize=(2.0, 2.0), dpi=100)  # warm-up: first figure, colormap, PNG writer
    librosa.display.specshow(np.zeros((8, 8)), ax=fig.add_axes([0, 0, 1, 1]), cmap="gray")
    fig.savefig(folder.parent / "warmup.png")
    plt.close(fig)
    with measure(out, "render_png"):
        for k, seg in enumerate(x):
            s = librosa.amplitude_to_db(np.abs(librosa.stft(seg, n_fft=cfg.n_fft, hop_length=cfg.hop_length)),
                                        ref=np.max, top_db=cfg.top_db)
            fig = plt.figure(figsize=(2.0, 2.0), dpi=100)  # ~200x200 px, smaller than the seed's default
            ax = fig.add_axes([0, 0, 1, 1])
            librosa.display.specshow(s, sr=cfg.sample_rate, hop_length=cfg.hop_length, cmap="gray", ax=ax)
            ax.set_axis_off()
            fig.savefig(folder / f"{k:05d}.png")
            plt.close(fig)
    with measure(out, "read_back"):
        arrays = [plt.imread(p)[..., 0] for p in sorted(folder.glob("*.png"))]
    out["image_shape"] = list(arrays[0].shape)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recordings", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--seed-segments", type=int, default=60, help="segments rendered the seed's way")
    ap.add_argument("--kind", default="linear", choices=["linear", "mel"])
    ap.add_argument("--repeat", type=int, default=5, help="best-of repeats for (b)")
    ap.add_argument("--out", default="reports/bench/preprocess.json")
    args = ap.parse_args(argv)
    cfg = to_settings(Params(features={"kind": args.kind}).features, SpectrogramConfig, sample_rate=8000)
    length_s = 3.0
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_preprocess_") as tmp:
        tmp = Path(tmp)
        manifest = make_corpus(tmp / "raw", recordings=args.recordings, seconds=args.seconds)
        one = run_pipeline(manifest, raw=tmp / "raw", work=tmp / "w1", n_jobs=1, cfg=cfg, length_s=length_s)
        two = run_pipeline(manifest, raw=tmp / "raw", work=tmp / "w2", n_jobs=2, cfg=cfg, length_s=length_s)
        breakdown = clean_breakdown(manifest, raw=tmp / "raw", sample_rate=cfg.sample_rate)
        segs = one.pop("_segs")
        two.pop("_segs")
        x = load_segments(segs, root=tmp / "w1", length=int(length_s * cfg.sample_rate))
        bare = stage_vs_bare(segs, x, cfg, work=tmp / "w1", repeat=args.repeat)
        k = min(args.seed_segments, len(x))
        seed = seed_way(x[:k], cfg, tmp / "seed_png")
    audio = one["audio_in_s"]
    steps = ("clean", "segment", "spectrogram")
    wall1 = sum(one[s]["wall_s"] for s in steps)
    cpu1 = sum(one[s]["cpu_s"] for s in steps)
    wall2 = sum(two[s]["wall_s"] for s in steps)
    n = one["segments"]
    spec, kern, lib = bare["stage"], bare["kernel"], bare["librosa"]
    seed_total = {m: seed["render_png"][m] + seed["read_back"][m] for m in ("wall_s", "cpu_s")}
    report = {
        "command": "python benchmarks/preprocess.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "note": ("The targets are judged on CPU seconds (this process + its pool workers): on a shared "
                 "machine (see loadavg) wall time also counts waiting for other processes. Wall figures "
                 "are given beside them."),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_before": [round(v, 2) for v in load0],
                    "loadavg_after": [round(v, 2) for v in os.getloadavg()]},
        "corpus": {"recordings": args.recordings, "seconds_each": args.seconds, "audio_s": round(audio, 2),
                   "audio_after_clean_s": round(one["audio_clean_s"], 2), "segments": n,
                   "segment_s": length_s, "shape": [cfg.n_freqs, cfg.n_frames(int(length_s * cfg.sample_rate))],
                   "kind": cfg.kind, "sample_rate": cfg.sample_rate},
        "a_throughput": {
            "n_jobs_1": {s: one[s] for s in steps},
            "n_jobs_2": {s: two[s] for s in steps},
            "realtime_per_core_cpu": round(audio / cpu1, 1),
            "realtime_per_core_wall": round(audio / wall1, 1),
            "realtime_per_core_wall_n_jobs_2": round(audio / (wall2 * 2), 1),
            "share_of_cpu": {s: round(one[s]["cpu_s"] / cpu1, 3) for s in steps},
            "realtime_per_core_cpu_by_step": {s: round(audio / max(one[s]["cpu_s"], 1e-9), 1) for s in steps},
            "clean_breakdown": breakdown,
        },
        "b_stage_vs_bare": {
            "stage": spec, "bare_kernel": kern, "bare_librosa": lib,
            "ratio_cpu_vs_kernel": round(spec["cpu_s"] / kern["cpu_s"], 2),
            "ratio_wall_vs_kernel": round(spec["wall_s"] / kern["wall_s"], 2),
            "ratio_cpu_vs_librosa": round(spec["cpu_s"] / lib["cpu_s"], 3),
        },
        "c_seed_way": {
            "segments": k, **seed,
            "seed_per_segment_cpu_s": round(seed_total["cpu_s"] / k, 5),
            "ours_per_segment_cpu_s": round(spec["cpu_s"] / n, 6),
            "speedup_cpu": round((seed_total["cpu_s"] / k) / (spec["cpu_s"] / n), 1),
            "speedup_wall": round((seed_total["wall_s"] / k) / (spec["wall_s"] / n), 1),
        },
    }
    rt, sp, ratio = (report["a_throughput"]["realtime_per_core_cpu"], report["c_seed_way"]["speedup_cpu"],
                     report["b_stage_vs_bare"]["ratio_cpu_vs_kernel"])
    report["targets"] = {
        "realtime_per_core >= 200": {"value": rt, "met": rt >= TARGETS["realtime_per_core"]},
        "speedup_vs_seed >= 10": {"value": sp, "met": sp >= TARGETS["speedup_vs_seed"]},
        "stage_over_bare <= 2": {"value": ratio, "met": ratio <= TARGETS["stage_over_bare"]},
    }
    atomic_write_json(args.out, report)
    print(json.dumps({k: report[k] for k in ("corpus", "targets")}, indent=1))
    return report


if __name__ == "__main__":
    main()
