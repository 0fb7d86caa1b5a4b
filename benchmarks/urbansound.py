"""Benchmark: UrbanSound8K subset (folds 1, 2, 10), 3-fold CV on the predefined folds.

Each fold is the test set once; the model trains on the other two, with a validation set
carved from them by Freesound source (``fsID``: clips of one source never straddle train and
validation). Beside the CNN, on the same folds and the same spectrograms: 1-nearest-neighbour
and logistic regression on per-band log-mel mean + std (the trivial baseline the issue names).

Ingest-free: FLACs are read with soundfile, resampled 22.05 -> 16 kHz (``audio.resample``),
padded/trimmed to 4.0 s, turned into 64-band log-mel dB (``features.spectrogram_db``) and
written once to a temporary feature store (``shards``), which ``training.train_model`` reads.
Model and training settings: the project's ``params.yaml`` with the "environmental sounds
in fixed-length clips" recipe (``RECIPE`` below, also in the README) on top.

Writes ``reports/bench/urbansound.json`` (per-fold and mean clip accuracy, baselines, CPU
minutes, the settings used).

    python benchmarks/urbansound.py [--data ../shared/data/urbansound8k_subset] [--epochs N]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
SR_IN, SR, CLIP_S = 22050, 16000, 4.0
FEATURES = dict(kind="mel", sample_rate=SR, n_fft=1024, hop_length=512, n_mels=64, fmin=0.0, fmax=8000.0,
                top_db=80.0)
VAL_FRACTION = 0.15
TARGET_MEAN, TARGET_MARGIN = 0.65, 0.15
# the "environmental sounds in fixed-length clips" recipe (README "Recipes")
RECIPE = {
    "model": dict(arch="small_cnn", width=0.75, dense_units=64, dropout=0.3, conv_dropout=0.1, pool="gap"),
    "train": dict(epochs=30, batch_size=32, learning_rate=0.002, weight_decay=0.0005, lr_schedule="cosine",
                  warmup_epochs=2, monitor="val_accuracy", monitor_smoothing=0.6, patience=8,
                  min_epochs=20, label_smoothing=0.1, shift_frames=16, specaugment=True, freq_masks=1,
                  time_masks=1, mixup_alpha=0.0, save_epochs=False),
}


def settings(epochs: int | None):
    """``(TrainSettings, ModelSettings)``: params.yaml defaults + :data:`RECIPE`."""
    from audiolens.config.learn import ModelParams, TrainParams
    from audiolens.config.settings import to_settings
    from audiolens.models.settings import ModelSettings
    from audiolens.training import TrainSettings

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    train = {**params["train"], **RECIPE["train"], **({"epochs": epochs} if epochs else {})}
    train["min_epochs"] = min(train["min_epochs"], train["epochs"])
    train["warmup_epochs"] = min(train["warmup_epochs"], train["epochs"] - 1)
    model = {**params["model"], **RECIPE["model"]}
    return (to_settings(TrainParams(**train), TrainSettings), to_settings(ModelParams(**model), ModelSettings))


def build_store(data: Path, labels: pd.DataFrame, out: Path) -> np.ndarray:
    """Log-mel dB of every clip into a feature store under ``out``; returns the ``(n, F, T)`` array."""
    import soundfile as sf

    from audiolens.audio import resample, to_mono
    from audiolens.features import SpectrogramConfig, spectrogram_db
    from audiolens.shards import ShardWriter

    cfg = SpectrogramConfig(**FEATURES)
    n = int(CLIP_S * SR)
    clips = np.zeros((len(labels), n), np.float32)
    for i, name in enumerate(labels["filename"]):
        y, sr = sf.read(data / name, dtype="float32", always_2d=False)
        y = resample(to_mono(y), sr_in=sr, sr_out=SR) if sr != SR else to_mono(y)
        clips[i, :min(n, len(y))] = y[:n]
    db, _ = spectrogram_db(clips, config=cfg, mel_basis=cfg.mel_basis())
    writer = ShardWriter(out, n_rows=len(db), shape=db.shape[1:], shard_size=256)
    writer.append(db)
    writer.close()
    shard, row = writer.locations()
    classes = labels.drop_duplicates("classID").sort_values("classID")["label"].tolist()
    index = pd.DataFrame({"segment_id": labels["filename"], "recording_id": labels["filename"],
                          "source_id": labels["filename"], "label": labels["label"],
                          "label_index": labels["classID"], "group": labels["fsID"].astype(str),
                          "fold": labels["fold"].astype(str), "augmented": False, "shard": shard, "row": row})
    index.to_csv(out / "index.csv", index=False)
    meta = {**cfg.to_dict(), "shape": list(db.shape[1:]), "class_names": classes, "normalise": "per_sample",
            "freqs_hz": cfg.freqs_hz().tolist(), "frame_s": FEATURES["hop_length"] / SR}
    (out / "meta.json").write_text(json.dumps(meta))
    return db


def fold_split(labels: pd.DataFrame, test_fold: int, seed: int) -> pd.DataFrame:
    """``segment_id, split``: ``test_fold`` is test; of the rest, ~15 % of fsID groups validate."""
    rng = np.random.default_rng(seed)
    rest = labels[labels["fold"] != test_fold]
    groups = np.array(sorted(rest["fsID"].unique()))
    val_groups = set(rng.choice(groups, size=max(1, int(round(VAL_FRACTION * len(groups)))), replace=False))
    split = np.where(labels["fold"] == test_fold, "test",
                     np.where(labels["fsID"].isin(val_groups), "val", "train"))
    return pd.DataFrame({"segment_id": labels["filename"], "split": split})


def baselines(db: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict:
    """Clip accuracy of 1-NN and logistic regression on per-band dB mean + std (train on ``train``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([db.mean(axis=2), db.std(axis=2)], axis=1)
    scaler = StandardScaler().fit(x[train])
    xtr, xte = scaler.transform(x[train]), scaler.transform(x[test])
    knn = KNeighborsClassifier(n_neighbors=1).fit(xtr, y[train])
    lr = LogisticRegression(max_iter=3000).fit(xtr, y[train])
    return {"knn1": float((knn.predict(xte) == y[test]).mean()),
            "logreg": float((lr.predict(xte) == y[test]).mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "urbansound8k_subset"))
    ap.add_argument("--folds", default="10,1,2", help="test folds to run (comma-separated)")
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs (quick runs)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench" / "urbansound.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    data = Path(args.data).resolve()
    if not (data / "labels.csv").is_file():
        sys.exit(f"UrbanSound8K subset not found at {data} (the benchmark needs ../shared/data)")
    from audiolens.runtime import apply_numerics
    from audiolens.training import train_model

    numerics = yaml.safe_load((ROOT / "params.yaml").read_text())["numerics"]
    apply_numerics(deterministic=numerics["deterministic"], cpu_isa=numerics["cpu_isa"])

    ts, ms = settings(args.epochs)
    labels = pd.read_csv(data / "labels.csv")
    work = Path(tempfile.mkdtemp(prefix="urbansound_bench_"))
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        db = build_store(data, labels, work / "features")
        feat_s = time.perf_counter() - t0
        y = labels["classID"].to_numpy()
        folds = []
        for k in [int(f) for f in args.folds.split(",")]:
            tf0, cf0 = time.perf_counter(), time.process_time()
            split = fold_split(labels, k, seed=ts.seed)
            model, meta = train_model(features_dir=work / "features", split=split, out_dir=work / f"model_{k}",
                                      settings=ts, model_settings=ms, verbose=0)
            test = (split["split"] == "test").to_numpy()
            probs = model.predict(db[test][..., None], batch_size=64, verbose=0)
            acc = float((probs.argmax(1) == y[test]).mean())
            base = baselines(db, y, (split["split"] != "test").to_numpy(), test)
            best = max(base.values())
            folds.append({"test_fold": k, "n_test": int(test.sum()), "n_train": meta["n_train"],
                          "n_val": meta["n_val"], "cnn_accuracy": acc, **{f"{b}_accuracy": v for b, v in base.items()},
                          "margin_over_best_baseline": acc - best, "epochs_run": meta["epochs_run"],
                          "best_epoch": meta["best_epoch"], "wall_s": round(time.perf_counter() - tf0, 1),
                          "cpu_s": round(time.process_time() - cf0, 1)})
            print(json.dumps(folds[-1]), flush=True)
            write(summary(folds, args, feat_s, t0, c0, db.shape[1:], complete=False), Path(args.out))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = summary(folds, args, feat_s, t0, c0, db.shape[1:], complete=True)
    write(result, Path(args.out))
    print(json.dumps({k: v for k, v in result.items() if k not in ("folds", "recipe")}, indent=2))


def summary(folds: list[dict], args, feat_s: float, t0: float, c0: float, shape, *, complete: bool) -> dict:
    """The JSON written to ``--out`` (after every fold; ``complete`` once all requested folds ran)."""
    mean = float(np.mean([f["cnn_accuracy"] for f in folds]))
    return {
        "task": "UrbanSound8K subset (10 classes, 28 clips/class/fold), CV on predefined folds, clip accuracy",
        "complete": complete, "folds_requested": args.folds,
        "folds": folds, "cnn_accuracy_mean": mean,
        "knn1_accuracy_mean": float(np.mean([f["knn1_accuracy"] for f in folds])),
        "logreg_accuracy_mean": float(np.mean([f["logreg_accuracy"] for f in folds])),
        "min_margin_over_best_baseline": float(min(f["margin_over_best_baseline"] for f in folds)),
        "targets": {"cnn_accuracy_mean": TARGET_MEAN, "margin_every_fold": TARGET_MARGIN},
        "passed": bool(complete and mean >= TARGET_MEAN
                       and all(f["margin_over_best_baseline"] >= TARGET_MARGIN for f in folds)),
        "features": {**FEATURES, "clip_s": CLIP_S, "resampled_from": SR_IN, "shape": list(shape)},
        "recipe": RECIPE, "epochs_override": args.epochs, "features_s": round(feat_s, 1),
        "wall_minutes": round((time.perf_counter() - t0) / 60, 2),
        "cpu_minutes": round((time.process_time() - c0) / 60, 2), "cpu_count": os.cpu_count(),
    }


def write(result: dict, out: Path) -> None:
    """Write ``result`` to ``out`` atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
