"""Stage evaluate: model + test split -> reports/eval (metrics.json, predictions, plots, galleries)."""
from audiolens.config import save_resolved
from audiolens.evaluation import stage
from audiolens.io import atomic_dir, atomic_write_json
from audiolens.models.registry import load_model
from audiolens.paths import CV_MODELS, FEATURES, MODEL, SPLIT_TABLE, TRAIN_META
from audiolens.paths import EVAL_REPORT as OUT
from audiolens.runtime import start_stage, timed
from audiolens.stage_io import load_stage_inputs
from audiolens.split import cv_folds, split_positions


def main() -> None:
    params, log = start_stage("evaluate", tensorflow=True)
    e = params.evaluate
    inp = load_stage_inputs(features=FEATURES, split=SPLIT_TABLE, model=MODEL, meta=TRAIN_META)
    store, split, meta = inp.store, inp.split, inp.meta
    with atomic_dir(OUT) as tmp, timed(log, "evaluate"):
        metrics = stage.run(model=inp.model, store=store, positions=inp.positions("test"),
                            class_names=meta["class_names"], out_dir=tmp, threshold=e.threshold,
                            gallery_size=e.gallery_size, seed=e.seed, history=meta.get("history"),
                            best_epoch=meta.get("best_epoch"))
        k = params.split.cv_folds if params.split.method == "cv" else 0
        if k:
            folds = [(inp.model, inp.positions("test"))]
            for i, arr in cv_folds(split, k):
                folds.append((load_model(CV_MODELS / str(i) / "model.keras"),
                              split_positions(store.index, arr, "test")))
            metrics["cv"] = stage.cv_summary(folds, store=store, threshold=e.threshold)
            atomic_write_json(tmp / "metrics.json", metrics)
        save_resolved(params, tmp / "resolved_params.yaml", sections=["split", "model", "train", "evaluate"])
    log.info("test accuracy %.4f (balanced %.4f)%s", metrics["accuracy"], metrics["balanced_accuracy"],
             f", CV accuracy {metrics['cv']['accuracy_mean']:.4f} ± {metrics['cv']['accuracy_std']:.4f}"
             if "cv" in metrics else "")


if __name__ == "__main__":
    main()
