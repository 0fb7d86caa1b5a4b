"""Benchmark: MC dropout (T passes of the stochastic tail) vs one deterministic pass vs the
seeds' eager loop of ``model(x, training=True)``, on the same data, in one run.

Targets (head-only dropout): MC dropout at T=30 costs <= 3x one deterministic pass and is
>= 10x faster than the eager loop. A second variant adds spatial dropout after every conv
block (the tail is then almost the whole network) to show the cost of early dropout.

Usage: python benchmarks/uncertainty.py [--n 256] [--samples 30] [--batch-size 256]
Writes reports/bench/uncertainty.json.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from audiolens.config import load_params
from audiolens.io import atomic_write_json


def _time(fn, repeats: int) -> list[float]:
    fn()  # warm-up: traces / compiles
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _data(n: int, shape, seed: int) -> np.ndarray:
    feats = Path("data/processed/features")
    if (feats / "index.csv").is_file():
        from audiolens.tfdata import open_features

        store = open_features(feats)
        if tuple(store.shape) == tuple(shape[:2]):
            pos = np.random.default_rng(seed).choice(len(store.index), size=min(n, len(store.index)),
                                                     replace=False)
            x = store.get(np.sort(pos))[..., None]
            return np.resize(x, (n, *x.shape[1:]))  # repeat rows when the store is smaller than n
    return np.random.default_rng(seed).uniform(-80, 0, size=(n, *shape)).astype("float32")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256, help="examples")
    ap.add_argument("--samples", type=int, default=30, help="MC passes T")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of the fast paths (best kept)")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", default="reports/bench/uncertainty.json")
    args = ap.parse_args()

    import keras
    import tensorflow as tf

    from audiolens.models.predict import predict
    from audiolens.config.settings import to_settings
    from audiolens.models.registry import build_model
    from audiolens.models.settings import ModelSettings
    from audiolens.uncertainty.mc_dropout import MCDropout

    params = load_params(args.params)
    m = params.model
    shape = (129, 126, 1)
    meta = Path("data/processed/features/meta.json")
    if meta.is_file():
        import json
        shape = (*json.loads(meta.read_text())["shape"], 1)
    x = _data(args.n, shape, seed=0)
    results = {}
    for variant, conv_dropout in (("head_dropout_only", 0.0), ("conv_and_head_dropout", 0.2)):
        keras.utils.set_random_seed(0)
        settings = replace(to_settings(m, ModelSettings), dropout=m.dropout or 0.5, conv_dropout=conv_dropout)
        model = build_model(settings, input_shape=shape, n_classes=2, normalise="per_sample", stats=None)
        mc = MCDropout(model, seed=0)
        bs = args.batch_size

        def eager_loop():
            for _ in range(args.samples):
                for i in range(0, len(x), bs):
                    model(x[i:i + bs], training=True)

        det = _time(lambda: predict(model, x, batch_size=bs), args.repeats)
        reps = args.repeats if conv_dropout == 0 else 1  # the long-tail variant is slow
        mcs = _time(lambda: mc.sample(x, samples=args.samples, batch_size=bs), reps)
        eager = _time(eager_loop, 1)
        # best-of-repeats: the CPU may be shared, the minimum is the least disturbed run
        r = {"arch": m.arch, "conv_dropout": conv_dropout, "n_params": int(model.count_params()),
             "mc_start_layer": mc.start.name, "mc_tail_layers": mc.n_tail_layers,
             "deterministic_s": det, "mc_dropout_s": mcs, "eager_training_loop_s": eager,
             "mc_over_deterministic": min(mcs) / min(det),
             "mc_over_deterministic_median": statistics.median(mcs) / statistics.median(det),
             "eager_over_mc": min(eager) / min(mcs)}
        results[variant] = r
        print(f"{variant}: one pass {min(det):.3f} s, MC T={args.samples} {min(mcs):.3f} s "
              f"({r['mc_over_deterministic']:.2f}x; median ratio {r['mc_over_deterministic_median']:.2f}x), "
              f"eager loop {min(eager):.2f} s ({r['eager_over_mc']:.1f}x slower than MC)")
    head = results["head_dropout_only"]
    report = {"n": args.n, "input_shape": list(shape), "samples": args.samples, "batch_size": args.batch_size,
              "repeats": args.repeats, "variants": results,
              "targets": {"mc_over_deterministic_max": 3.0, "eager_over_mc_min": 10.0},
              "pass": {"mc_over_deterministic": head["mc_over_deterministic"] <= 3.0,
                       "eager_over_mc": head["eager_over_mc"] >= 10.0},
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "gpus": len(tf.config.list_physical_devices("GPU")),
                          "tensorflow": tf.__version__, "keras": keras.__version__}}
    atomic_write_json(args.out, report)
    print(f"wrote {args.out}: pass {report['pass']}")


if __name__ == "__main__":
    main()
