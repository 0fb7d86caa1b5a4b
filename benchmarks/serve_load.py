"""Benchmark: `audiolens serve` under load on localhost.

Starts the server as its own process (`audiolens serve`, the project's `serve` params unless
overridden), sends ``--concurrency`` simultaneous `POST /api/predict` requests of the same
recording, several rounds, and reports: status codes (200 or 429 only, nothing dropped),
latency percentiles of the answered requests, and the server's resident memory before the
first round and after the last (flat = no growth beyond a few MB).

    python benchmarks/serve_load.py --model models/model.keras [--wav FILE] [--concurrency 50] [--rounds 3]

Writes reports/bench/serve.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_wav(path: Path, seconds: float = 4.0, sr: int = 16000) -> Path:
    """A speech-like recording (the demo generator's voice f1) when no --wav is given."""
    from audiolens.corpus.demo import synth_utterance, voice_profile
    from audiolens.io import write_audio

    y = synth_utterance(voice_profile("f1"), duration_s=seconds, sample_rate=sr, noise_lead_s=0.5, snr_db=20.0,
                        rng=np.random.default_rng(1))
    return write_audio(path, y, sr)


def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=Path("models/model.keras"))
    ap.add_argument("--gate", type=Path, default=Path("reports/uncertainty/abstain.json"))
    ap.add_argument("--operating-point", type=Path, default=Path("reports/eval/threshold.json"))
    ap.add_argument("--wav", type=Path, default=None)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "reports/bench/serve.json")
    args = ap.parse_args()
    import httpx
    import soundfile as sf

    from audiolens.io import atomic_write_json

    wav = args.wav or test_wav(Path(os.environ.get("TMPDIR", "/tmp")) / "audiolens_serve_bench.wav")
    data = wav.read_bytes()
    port = free_port()
    cmd = [sys.executable, "-m", "audiolens.cli", "serve", "--model", str(args.model), "--gate", str(args.gate),
           "--operating-point", str(args.operating_point), "--port", str(port), "--params", str(ROOT / "params.yaml")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/api/config", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"server did not start: {proc.stderr.read()[-2000:]}")
        cfg = httpx.get(url + "/api/config").json()
        httpx.post(url + "/api/predict", files={"file": ("w.wav", data)}, timeout=120)  # warm-up (traces)
        rss_start = rss_mb(proc.pid)

        def one(_):
            t = time.perf_counter()
            r = httpx.post(url + "/api/predict", files={"file": ("w.wav", data)}, timeout=300)
            return r.status_code, time.perf_counter() - t

        rounds = []
        for i in range(args.rounds):
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                res = list(pool.map(one, range(args.concurrency)))
            codes = [c for c, _ in res]
            ok = [s for c, s in res if c == 200]
            rounds.append({"round": i + 1, "wall_s": round(time.perf_counter() - t0, 2),
                           "status_counts": {str(c): codes.count(c) for c in sorted(set(codes))},
                           "latency_ok_s": {"n": len(ok), "p50": round(float(np.percentile(ok, 50)), 3) if ok else None,
                                            "p95": round(float(np.percentile(ok, 95)), 3) if ok else None},
                           "rss_mb_after": round(rss_mb(proc.pid), 1)})
            print(rounds[-1], flush=True)
        result_note = ("the machine was loaded by other work during this run" if os.getloadavg()[0] > 1.5
                       else "idle machine")
        all_codes = {c for r in rounds for c in map(int, r["status_counts"])}
        single = [one(0)[1] for _ in range(5)]
        result = {"what": "POST /api/predict, same recording, concurrent clients on localhost",
                  "recording_s": round(sf.info(str(wav)).duration, 2), "recording": str(wav.name),
                  "model": str(args.model), "serve": {k: cfg[k] for k in ("max_duration_s", "max_upload_mb")},
                  "concurrency": args.concurrency, "rounds": rounds,
                  "all_answered_200_or_429": all_codes <= {200, 429},
                  "single_request_latency_s": {"n": 5, "median": round(float(np.median(single)), 3)},
                  "rss_mb_start": round(rss_start, 1), "rss_mb_end": rounds[-1]["rss_mb_after"],
                  "rss_growth_mb": round(rounds[-1]["rss_mb_after"] - rss_start, 1),
                  "cpu_count": os.cpu_count(), "load_note": result_note,
                  "load_average_1min": round(os.getloadavg()[0], 2), "machine": platform.processor() or platform.machine()}
        atomic_write_json(args.out, result)
        print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=1))
    finally:
        proc.terminate()
        proc.wait(20)


if __name__ == "__main__":
    main()
