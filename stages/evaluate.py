"""Stage evaluate: model + test split -> reports/eval (metrics.json, threshold.json, predictions, plots).

The binary accept threshold is fixed or picked on the validation split (``threshold.json``,
used by ``audiolens predict``); the margin over the baseline stage's best classifier is a
metric (``baseline_margin``) and the sentence of ``headline.md``.
"""
from audiolens.bootstrap import BootstrapSettings
from audiolens.config import save_resolved
from audiolens.config.settings import to_settings
from audiolens.evaluation import stage
from audiolens.io import atomic_dir, atomic_write_json
from audiolens.models.registry import load_model
from audiolens.paths import BASELINE_METRICS, BASELINE_PREDICTIONS, CV_MODELS, FEATURES, MODEL, SPLIT_TABLE, TRAIN_META
from audiolens.paths import EVAL_REPORT as OUT
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.split import cv_fold_names, cv_folds, split_positions
from audiolens.stage_io import load_stage_inputs


@stage_main
def main() -> None:
    params, log = start_stage("evaluate", tensorflow=True)
    settings = to_settings(params.evaluate, stage.EvaluateSettings,
                           bootstrap=to_settings(params.bootstrap, BootstrapSettings))
    inp = load_stage_inputs(features=FEATURES, split=SPLIT_TABLE, model=MODEL, meta=TRAIN_META)
    store, split, meta = inp.store, inp.split, inp.meta
    with atomic_dir(OUT) as tmp, timed(log, "evaluate"):
        metrics = stage.run(model=inp.model, store=store, positions=inp.positions("test"),
                            val_positions=inp.positions("val"), class_names=meta["class_names"], out_dir=tmp,
                            settings=settings, history=meta.get("history"), best_epoch=meta.get("best_epoch"))
        k = params.split.cv_folds if params.split.method == "cv" else 0
        if k:
            folds = [(inp.model, inp.positions("test"), inp.positions("val"))]
            for i, arr in cv_folds(split, k):
                folds.append((load_model(CV_MODELS / str(i) / "model.keras"),
                              split_positions(store.index, arr, "test"), split_positions(store.index, arr, "val")))
            metrics["cv"] = stage.cv_summary(folds, store=store, settings=settings.operating_point,
                                             names=cv_fold_names(split, k))
        stage.compare_with_baseline(metrics, BASELINE_METRICS, tmp, baseline_predictions=BASELINE_PREDICTIONS,
                                    bootstrap=settings.bootstrap)
        atomic_write_json(tmp / "metrics.json", metrics)
        save_resolved(params, tmp / "resolved_params.yaml",
                      sections=["split", "model", "train", "evaluate", "bootstrap"])
    log.info("test accuracy %.4f (balanced %.4f)%s", metrics["accuracy"], metrics["balanced_accuracy"],
             f", CV accuracy {metrics['cv']['accuracy_mean']:.4f} ± {metrics['cv']['accuracy_std']:.4f}"
             if "cv" in metrics else "")


if __name__ == "__main__":
    main()
