"""Benchmark: UrbanSound8K subset (folds 1, 2, 10), 3-fold CV on the predefined folds.

Each fold is the test set once; the model (and, with ``RECIPE["members"]`` > 1, the other
members of a seed ensemble) trains on the other two (``RECIPE["val_fraction"]``
> 0 holds out that share of their Freesound sources, ``fsID``, for early stopping; the recipe
uses none). Beside the CNN, on the same folds and spectrogram settings: 1-nearest-neighbour
and logistic regression on the whole clip's per-band log-mel mean + std (the trivial
baseline the issue names).

Ingest-free: FLACs are read with soundfile, resampled 22.05 -> 16 kHz (``audio.resample``),
padded/trimmed to 4.0 s, cut into windows (``segments.segment_bounds``: the pipeline's
segments), turned into log-mel dB (``features.spectrogram_db``) and written once to a
temporary feature store (``shards``), which ``training.train_model`` reads. A clip is scored
by the mean of its windows' probabilities (``evaluation.scoring.fold_metrics``, recording
level). Settings: the project's ``params.yaml`` with the "environmental sounds in
fixed-length clips" recipe (``RECIPE`` below, also in the README) on top; ``--set
section.key=value`` overrides one entry (screening other recipes).

Writes ``reports/bench/urbansound.json`` (per-fold and mean clip accuracy, baselines, CPU
minutes, the settings used).

    python benchmarks/urbansound.py [--data ../shared/data/urbansound8k_subset] [--folds 10,1,2]
        [--epochs N] [--set train.mixup_alpha=0.0 ...]
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
SR_IN, CLIP_S = 22050, 4.0
TARGET_MEAN, TARGET_MARGIN = 0.65, 0.15
# the "environmental sounds in fixed-length clips" recipe (README "Recipes"): musicnn's pretrained
# VGG trunk (vendor/musicnn, ISC) with its first two blocks frozen, under the CAM-exact head
RECIPE = {
    # each clip is cut into 2 s windows at 0.5 s hops (the pipeline's ``segment.length_s`` /
    # ``hop_s``); training sees every window, shifted by up to +-16 frames (0.5 s) at random each
    # epoch; a clip is scored by the mean of its windows' probabilities (window_s null: whole clip).
    # 96 mel bands as the trunk was trained on; hop 512 (32 ms) halves its cost against its own 256
    "features": dict(kind="mel", sample_rate=16000, n_fft=512, hop_length=512, n_mels=96, fmin=0.0,
                     fmax=None, top_db=80.0, window_s=2.0, hop_s=0.5),
    # share of the training folds' fsID groups held out for early stopping; 0: none, all of the
    # training folds train and the full schedule runs (min_epochs = epochs)
    "val_fraction": 0.0,
    # models per fold: member i trains with seed train.seed + 1000 i (the pipeline's deep ensemble,
    # ``uncertainty.members``); the CNN figures are member 0's (the main model, what ``evaluate``
    # scores), with > 1 the ensemble's (mean of the members' window probabilities) are reported beside
    "members": 1,
    # weights: relative to the repository root
    "model": dict(arch="musicnn_vgg", width=1.0, dense_units=64, dropout=0.3, conv_dropout=0.0, pool="gap",
                  weights="vendor/musicnn/mtt_vgg.npz", freeze_blocks=2),
    "train": dict(epochs=15, batch_size=32, learning_rate=0.001, weight_decay=0.0005, lr_schedule="cosine",
                  warmup_epochs=2, monitor="val_accuracy", monitor_smoothing=0.6, patience=8,
                  min_epochs=15, label_smoothing=0.1, shift_frames=16, specaugment=True, freq_masks=1,
                  time_masks=1, mixup_alpha=0.2, save_epochs=False),
}
# the from-scratch recipe this replaced (small_cnn, 3 seeds; reports/bench/urbansound_scratch.json):
# --set model='{arch: small_cnn, width: 0.75, dense_units: 64, dropout: 0.3, conv_dropout: 0.1, pool: gap}'
#   --set features.n_fft=1024 --set features.n_mels=64 --set features.fmax=8000 --set train.epochs=30
#   --set train.min_epochs=30 --set train.learning_rate=0.002 --set members=3


def recipe_with(overrides: list[str]) -> dict:
    """:data:`RECIPE` with ``section.key=value`` overrides (values parsed as YAML: ``1``, ``0.5``, ``null``)."""
    recipe = json.loads(json.dumps(RECIPE))
    for item in overrides:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        if not name:
            recipe[section] = yaml.safe_load(value)
        elif section not in recipe or not isinstance(recipe[section], dict):
            raise SystemExit(f"--set {item}: unknown section {section!r} (one of {sorted(RECIPE)})")
        else:
            recipe[section][name] = yaml.safe_load(value)
    return recipe


def settings(recipe: dict):
    """``(TrainSettings, ModelSettings)``: params.yaml defaults + ``recipe``."""
    from audiolens.config.learn import ModelParams, TrainParams
    from audiolens.config.settings import to_settings
    from audiolens.models.settings import ModelSettings
    from audiolens.training import TrainSettings

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    train = {**params["train"], **recipe["train"]}
    train["min_epochs"] = min(train["min_epochs"], train["epochs"])
    train["warmup_epochs"] = min(train["warmup_epochs"], train["epochs"] - 1)
    model = {**params["model"], **recipe["model"]}
    if model.get("weights"):
        model["weights"] = str(ROOT / model["weights"])
    return (to_settings(TrainParams(**train), TrainSettings), to_settings(ModelParams(**model), ModelSettings))


def member_settings(ts, member: int):
    """``ts`` with the seed of ensemble member ``member``: ``train.seed + 1000 * member`` (0: the main model)."""
    import dataclasses

    from audiolens.uncertainty.members import member_seed

    return dataclasses.replace(ts, seed=member_seed(ts.seed, member))


def load_clips(data: Path, labels: pd.DataFrame, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Every clip at ``sr`` Hz, zero-padded/trimmed to 4 s ``(n, 4 sr)``, and its own length (samples)."""
    import soundfile as sf

    from audiolens.audio import resample, to_mono

    n = int(CLIP_S * sr)
    clips = np.zeros((len(labels), n), np.float32)
    lengths = np.zeros(len(labels), np.int64)
    for i, name in enumerate(labels["filename"]):
        y, sr_in = sf.read(data / name, dtype="float32", always_2d=False)
        y = resample(to_mono(y), sr_in=sr_in, sr_out=sr) if sr_in != sr else to_mono(y)
        clips[i, :min(n, len(y))] = y[:n]
        lengths[i] = min(n, len(y))
    return clips, lengths


def spectrogram_config(feats: dict):
    """The recipe's ``features`` as a ``SpectrogramConfig`` and its mel basis (None for linear)."""
    from audiolens.features import SpectrogramConfig

    cfg = SpectrogramConfig(**{k: v for k, v in feats.items() if k not in ("window_s", "hop_s", "normalise")})
    return cfg, (cfg.mel_basis() if cfg.kind == "mel" else None)


def build_store(clips: np.ndarray, lengths: np.ndarray, labels: pd.DataFrame, feats: dict,
                out: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-mel dB of every window of every clip into a feature store under ``out``.

    Windows are the pipeline's segments (``segments.segment_bounds``, ``tail="pad"``) of
    ``window_s`` at ``hop_s`` over each clip's own audio; ``window_s`` null: one row per
    clip (4 s). Returns the windows' dB ``(m, F, T)``, each window's clip index ``(m,)``
    and the whole clips' dB ``(n, F, T4)`` (what the baselines summarise).
    """
    from audiolens.features import spectrogram_db
    from audiolens.segments import segment_bounds
    from audiolens.shards import ShardWriter

    sr = feats["sample_rate"]
    cfg, basis = spectrogram_config(feats)
    whole, _ = spectrogram_db(clips, config=cfg, mel_basis=basis)
    if not feats.get("window_s"):
        db, clip_of = whole, np.arange(len(clips))
    else:
        length = int(round(feats["window_s"] * sr))
        hop = int(round((feats.get("hop_s") or feats["window_s"]) * sr))
        padded = np.pad(clips, ((0, 0), (0, length)))
        windows, clip_of = [], []
        for i, n in enumerate(lengths):
            for start in segment_bounds(int(max(n, 1)), length=length, hop=hop, tail="pad").starts:
                windows.append(padded[i, start:start + length])
                clip_of.append(i)
        clip_of = np.asarray(clip_of)
        db = np.concatenate([spectrogram_db(np.stack(windows[j:j + 512]), config=cfg, mel_basis=basis)[0]
                             for j in range(0, len(windows), 512)])
    writer = ShardWriter(out, n_rows=len(db), shape=db.shape[1:], shard_size=1024)
    writer.append(db)
    writer.close()
    shard, row = writer.locations()
    classes = labels.drop_duplicates("classID").sort_values("classID")["label"].tolist()
    lab = labels.iloc[clip_of].reset_index(drop=True)
    index = pd.DataFrame({"segment_id": [f"{f}#{j}" for j, f in enumerate(lab["filename"])],
                          "recording_id": lab["filename"], "source_id": lab["filename"], "label": lab["label"],
                          "label_index": lab["classID"], "group": lab["fsID"].astype(str),
                          "fold": lab["fold"].astype(str), "augmented": False, "shard": shard, "row": row})
    index.to_csv(out / "index.csv", index=False)
    meta = {**cfg.to_dict(), "shape": list(db.shape[1:]), "class_names": classes,
            "normalise": feats.get("normalise", "per_sample"),
            "freqs_hz": cfg.freqs_hz().tolist(), "frame_s": feats["hop_length"] / sr}
    (out / "meta.json").write_text(json.dumps(meta))
    return db, clip_of, whole


def fold_split(labels: pd.DataFrame, test_fold: int, seed: int, val_fraction: float) -> np.ndarray:
    """Each clip's split: ``test_fold`` is test; of the rest, ``val_fraction`` of the fsID groups validate."""
    rng = np.random.default_rng(seed)
    rest = labels[labels["fold"] != test_fold]
    groups = np.array(sorted(rest["fsID"].unique()))
    n_val = int(round(val_fraction * len(groups)))
    val_groups = set(rng.choice(groups, size=max(1, n_val), replace=False)) if n_val else set()
    return np.where(labels["fold"] == test_fold, "test",
                    np.where(labels["fsID"].isin(val_groups), "val", "train"))


def band_stats(db: np.ndarray) -> np.ndarray:
    """Per-band dB mean and standard deviation of each clip: ``(n, F, T)`` -> ``(n, 2F)``."""
    return np.concatenate([db.mean(axis=2), db.std(axis=2)], axis=1)


def baseline_predictions(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict:
    """Test-clip predictions of 1-NN and logistic regression on standardised features ``x`` (n, d)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x[train])
    xtr, xte = scaler.transform(x[train]), scaler.transform(x[test])
    return {"knn1": KNeighborsClassifier(n_neighbors=1).fit(xtr, y[train]).predict(xte),
            "logreg": LogisticRegression(max_iter=3000).fit(xtr, y[train]).predict(xte)}


def baselines(db: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict:
    """Test-clip predictions of 1-NN and logistic regression on per-band dB mean + std (train on ``train``)."""
    return baseline_predictions(band_stats(db), y, train, test)


def clip_correct(probs: np.ndarray, clip: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1.0 where a clip's mean window probability picks its class, per clip in ``np.unique(clip)`` order.

    ``probs``: window probabilities ``(n_windows, K)``; ``clip``: each window's clip index; ``y``:
    every clip's class (indexed by clip index).
    """
    from audiolens.evaluation.metrics import aggregate_recordings

    ids, _, pred = aggregate_recordings(clip, probs, method="mean_prob")  # ids sorted as strings
    clips = ids.astype(int)
    return (pred == y[clips]).astype(float)[np.argsort(clips)]


def intervals(cnn_ok: np.ndarray, base_ok: np.ndarray, sources: np.ndarray, resamples: int) -> dict:
    """CNN and best-baseline clip accuracy with 95 % intervals, and their paired difference.

    Resampling is over Freesound sources (``fsID``: a source's clips are not independent), the
    difference paired on the same resampled sources (``audiolens.bootstrap``).
    """
    from audiolens.bootstrap import BootstrapSettings, bootstrap_ci, bootstrap_difference

    boot = BootstrapSettings(resamples=resamples, seed=0)
    acc = lambda ok: float(np.mean(ok))  # noqa: E731
    return {"cnn": bootstrap_ci(acc, cnn_ok, groups=sources, settings=boot),
            "best_baseline": bootstrap_ci(acc, base_ok, groups=sources, settings=boot),
            "difference": bootstrap_difference(acc, (cnn_ok,), (base_ok,), groups=sources, settings=boot)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "urbansound8k_subset"))
    ap.add_argument("--folds", default="10,1,2", help="test folds to run (comma-separated)")
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs (quick runs)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="override a RECIPE entry (screening), e.g. --set train.mixup_alpha=0.2")
    ap.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples of the intervals")
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench" / "urbansound.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    data = Path(args.data).resolve()
    if not (data / "labels.csv").is_file():
        sys.exit(f"UrbanSound8K subset not found at {data} (the benchmark needs ../shared/data)")
    from audiolens.evaluation.scoring import fold_metrics
    from audiolens.runtime import apply_numerics
    from audiolens.training import train_model

    numerics = yaml.safe_load((ROOT / "params.yaml").read_text())["numerics"]
    apply_numerics(deterministic=numerics["deterministic"], cpu_isa=numerics["cpu_isa"])

    recipe = recipe_with(args.set + ([f"train.epochs={args.epochs}"] if args.epochs else []))
    ts, ms = settings(recipe)
    labels = pd.read_csv(data / "labels.csv")
    work = Path(tempfile.mkdtemp(prefix="urbansound_bench_"))
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        clips, lengths = load_clips(data, labels, recipe["features"]["sample_rate"])
        db, clip_of, whole = build_store(clips, lengths, labels, recipe["features"], work / "features")
        del clips
        feat_s = time.perf_counter() - t0
        y = labels["classID"].to_numpy()
        rec_ids = labels["filename"].to_numpy()[clip_of]
        folds = []
        for k in [int(f) for f in args.folds.split(",")]:
            tf0, cf0 = time.perf_counter(), time.process_time()
            clip_split = fold_split(labels, k, seed=ts.seed, val_fraction=recipe["val_fraction"])
            split = pd.DataFrame({"segment_id": [f"{f}#{j}" for j, f in enumerate(rec_ids)],
                                  "split": clip_split[clip_of]})
            test = (split["split"] == "test").to_numpy()
            member_probs = []
            for i in range(recipe["members"]):
                # member i: seed train.seed + 1000 i, as the pipeline's ensemble (uncertainty.members)
                model, meta = train_model(features_dir=work / "features", split=split,
                                          out_dir=work / f"model_{k}_{i}", settings=member_settings(ts, i),
                                          model_settings=ms, verbose=0)
                member_probs.append(model.predict(db[test][..., None], batch_size=64, verbose=0))
                if i == 0:
                    meta0 = meta
            meta = meta0
            m = fold_metrics(y[clip_of][test], member_probs[0], rec_ids[test])
            ens = fold_metrics(y[clip_of][test], np.mean(member_probs, axis=0), rec_ids[test])
            test_clips = clip_split == "test"
            base_pred = baselines(whole, y, ~test_clips, test_clips)
            base = {b: float((p == y[test_clips]).mean()) for b, p in base_pred.items()}
            best = max(base, key=base.get)
            acc = m["recording_accuracy"]
            cnn_ok = clip_correct(member_probs[0], clip_of[test], y)  # clips in index order, as base_pred
            assert abs(cnn_ok.mean() - acc) < 1e-9, (cnn_ok.mean(), acc)
            ci = intervals(cnn_ok, (base_pred[best] == y[test_clips]).astype(float),
                           labels["fsID"].to_numpy()[test_clips], args.resamples)
            folds.append({"test_fold": k, "n_test": int(test_clips.sum()),
                          "n_train": int((clip_split == "train").sum()), "n_val": int((clip_split == "val").sum()),
                          "n_train_windows": meta["n_train"], "cnn_accuracy": acc,
                          "cnn_window_accuracy": m["accuracy"],
                          **({"ensemble_accuracy": ens["recording_accuracy"],
                              "ensemble_margin_over_best_baseline": ens["recording_accuracy"] - max(base.values()),
                              "member_accuracies": [fold_metrics(y[clip_of][test], p, rec_ids[test])[
                                  "recording_accuracy"] for p in member_probs]}
                             if recipe["members"] > 1 else {}),
                          **{f"{b}_accuracy": v for b, v in base.items()},
                          "margin_over_best_baseline": acc - max(base.values()), "best_baseline": best,
                          "intervals": ci, "epochs_run": meta["epochs_run"],
                          "best_epoch": meta["best_epoch"], "wall_s": round(time.perf_counter() - tf0, 1),
                          "cpu_s": round(time.process_time() - cf0, 1)})
            print(json.dumps(folds[-1]), flush=True)
            write(summary(folds, args, recipe, feat_s, t0, c0, db.shape[1:], complete=False), Path(args.out))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = summary(folds, args, recipe, feat_s, t0, c0, db.shape[1:], complete=True)
    write(result, Path(args.out))
    print(json.dumps({k: v for k, v in result.items() if k not in ("folds", "recipe")}, indent=2))


def summary(folds: list[dict], args, recipe: dict, feat_s: float, t0: float, c0: float, shape, *,
            complete: bool) -> dict:
    """The JSON written to ``--out`` (after every fold; ``complete`` once all requested folds ran)."""
    mean = float(np.mean([f["cnn_accuracy"] for f in folds]))
    return {
        "task": "UrbanSound8K subset (10 classes, 28 clips/class/fold), CV on predefined folds, clip accuracy",
        "complete": complete, "folds_requested": args.folds,
        "folds": folds, "cnn_accuracy_mean": mean,
        "knn1_accuracy_mean": float(np.mean([f["knn1_accuracy"] for f in folds])),
        "logreg_accuracy_mean": float(np.mean([f["logreg_accuracy"] for f in folds])),
        "min_margin_over_best_baseline": float(min(f["margin_over_best_baseline"] for f in folds)),
        **({"ensemble_accuracy_mean": float(np.mean([f["ensemble_accuracy"] for f in folds])),
            "ensemble_min_margin_over_best_baseline": float(min(f["ensemble_margin_over_best_baseline"]
                                                                for f in folds)),
            "ensemble_passed": bool(complete and np.mean([f["ensemble_accuracy"] for f in folds]) >= TARGET_MEAN
                                    and all(f["ensemble_margin_over_best_baseline"] >= TARGET_MARGIN
                                            for f in folds))}
           if recipe["members"] > 1 else {}),
        "targets": {"cnn_accuracy_mean": TARGET_MEAN, "margin_every_fold": TARGET_MARGIN},
        "interval": f"95 % bootstrap over the test fold's Freesound sources (fsID), {args.resamples} resamples; "
                    "the difference CNN - best baseline paired on the same resamples",
        "passed": bool(complete and mean >= TARGET_MEAN
                       and all(f["margin_over_best_baseline"] >= TARGET_MARGIN for f in folds)),
        "features": {"clip_s": CLIP_S, "resampled_from": SR_IN, "window_shape": list(shape)},
        "recipe": recipe, "overrides": args.set, "epochs_override": args.epochs,
        "features_s": round(feat_s, 1),
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
