"""Stage evaluate: model + test split -> reports/eval (metrics.json, predictions, plots, galleries)."""
import json
from pathlib import Path

from audiolens.config import save_resolved
from audiolens.evaluation import stage
from audiolens.io import atomic_dir, atomic_write_json
from audiolens.models.registry import load_model
from audiolens.runtime import start_stage, timed
from audiolens.segments import read_table
from audiolens.split import cv_folds, split_positions
from audiolens.tfdata import open_features

FEATURES = Path("data/processed/features")
SPLIT = Path("data/processed/split/split.csv")
MODELS = Path("models")
OUT = Path("reports/eval")


def main() -> None:
    params, log = start_stage("evaluate")
    e = params.evaluate
    store = open_features(FEATURES)
    split = read_table(SPLIT)
    meta = json.loads((MODELS / "train_meta.json").read_text())
    model = load_model(MODELS / "model.keras")
    with atomic_dir(OUT) as tmp, timed(log, "evaluate"):
        metrics = stage.run(model=model, store=store, positions=split_positions(store.index, split, "test"),
                            class_names=meta["class_names"], out_dir=tmp, threshold=e.threshold,
                            gallery_size=e.gallery_size, seed=e.seed, history=meta.get("history"),
                            best_epoch=meta.get("best_epoch"))
        k = params.split.cv_folds if params.split.method == "cv" else 0
        if k:
            folds = [(model, split_positions(store.index, split, "test"))]
            for i, arr in cv_folds(split, k):
                folds.append((load_model(MODELS / "cv" / str(i) / "model.keras"),
                              split_positions(store.index, arr, "test")))
            metrics["cv"] = stage.cv_summary(folds, store=store, threshold=e.threshold)
            atomic_write_json(tmp / "metrics.json", metrics)
        save_resolved(params, tmp / "resolved_params.yaml", sections=["split", "model", "train", "evaluate"])
    log.info("test accuracy %.4f (balanced %.4f)%s", metrics["accuracy"], metrics["balanced_accuracy"],
             f", CV accuracy {metrics['cv']['accuracy_mean']:.4f} ± {metrics['cv']['accuracy_std']:.4f}"
             if "cv" in metrics else "")


if __name__ == "__main__":
    main()
