"""Synthetic feature shards and split tables for the split/train/evaluate tests.

Class ``c`` puts a loud horizontal band at a class-specific frequency over a noisy
-80..0 dB background, so a tiny CNN can learn it in a few steps.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def make_index(*, n_classes: int = 3, recordings_per_class: int = 6, segments_per_recording: int = 3,
               augmented_per_recording: int = 1, speakers_per_class: int = 3, seed: int = 0) -> pd.DataFrame:
    """A features index.csv-like table (without shard/row)."""
    rows = []
    for c in range(n_classes):
        for r in range(recordings_per_class):
            rec = f"c{c}_r{r}"
            spk = f"s{c}_{r % speakers_per_class}"
            for a in range(1 + augmented_per_recording):
                aug = a > 0
                rid = f"{rec}_x{a}" if aug else rec
                for k in range(segments_per_recording):
                    rows.append({"segment_id": f"{rid}__{k}", "recording_id": rid, "source_id": rec,
                                 "label": f"class{c}", "label_index": c, "speaker": spk, "group": rec,
                                 "fold": str(1 + r % 3), "augmented": aug, "factor": 0.8 if aug else 1.0})
    return pd.DataFrame(rows)


def write_features(root: Path, index: pd.DataFrame, *, shape=(32, 24), shard_size: int = 40,
                   seed: int = 0, kind: str = "linear", normalise: str = "per_sample",
                   class_names: list[str] | None = None) -> Path:
    """Write shard_NNN.npy / index.csv / meta.json for ``index`` under ``root``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    f, t = shape
    n_classes = int(index["label_index"].max()) + 1
    x = rng.uniform(-80, -50, size=(len(index), f, t)).astype(np.float32)
    for i, c in enumerate(index["label_index"].to_numpy()):
        band = int((c + 0.5) * f / n_classes)
        x[i, max(0, band - 1):band + 2, :] = rng.uniform(-10, 0, size=(min(f, band + 2) - max(0, band - 1), t))
    index = index.copy()
    index["shard"] = np.arange(len(index)) // shard_size
    index["row"] = np.arange(len(index)) % shard_size
    index["ref_amplitude"] = 1.0
    for s in sorted(index["shard"].unique()):
        np.save(root / f"shard_{s:03d}.npy", x[index["shard"].to_numpy() == s])
    index.to_csv(root / "index.csv", index=False)
    meta = {"kind": kind, "shape": [f, t], "sample_rate": 8000, "n_fft": 2 * (f - 1), "hop_length": 128,
            "n_mels": f, "fmin": 0.0, "fmax": 4000.0, "top_db": 80.0,
            "freqs_hz": np.linspace(0, 4000, f).tolist(), "frame_s": 0.016,
            "class_names": class_names or [f"class{c}" for c in range(n_classes)], "normalise": normalise}
    (root / "meta.json").write_text(json.dumps(meta))
    return root


def model_settings(**overrides):
    """``ModelSettings`` from the ``model`` params defaults (== params.yaml) with ``overrides``."""
    from audiolens.config.learn import ModelParams
    from audiolens.config.settings import to_settings
    from audiolens.models.settings import ModelSettings

    if overrides.get("arch") in ("small_cnn", "musicnn_vgg"):
        overrides.setdefault("pool", "gap")
    return to_settings(ModelParams(**overrides), ModelSettings)


def train_settings(**overrides):
    """``TrainSettings`` from the ``train`` params defaults (== params.yaml) with ``overrides``."""
    from audiolens.config.learn import TrainParams
    from audiolens.config.settings import to_settings
    from audiolens.training import TrainSettings

    return to_settings(TrainParams(**overrides), TrainSettings)


def build_test_model(*, input_shape, n_classes: int, normalise: str = "per_sample", stats=None, **model):
    """``registry.build_model`` with the ``model`` params defaults plus ``model`` overrides."""
    from audiolens.models.registry import build_model

    return build_model(model_settings(**model), input_shape=input_shape, n_classes=n_classes,
                       normalise=normalise, stats=stats)


def train_test_model(*, features_dir, split, out_dir, live_dir=None, verbose: int = 0, **overrides):
    """``training.train_model`` with params defaults; ``overrides`` go to the model or train settings."""
    from audiolens.config.learn import ModelParams
    from audiolens.training import train_model

    model = {k: overrides.pop(k) for k in list(overrides) if k in ModelParams.model_fields}
    return train_model(features_dir=features_dir, split=split, out_dir=out_dir, live_dir=live_dir,
                       verbose=verbose, settings=train_settings(**overrides), model_settings=model_settings(**model))
