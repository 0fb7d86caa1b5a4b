"""Stage train: features + split -> models/model.keras, weights, train_meta.json; reports/train (DVCLive).

With ``split.method: cv`` it also trains folds 1..k-1 into models/cv/<i>/ (fold 0 is the main model).
With ``train.distribute: multi_worker`` every worker of ``TF_CONFIG`` runs this script; only the
chief writes the outputs (the others train along into a scratch folder; docs/scaling.md).
"""
import tempfile
from dataclasses import replace
from pathlib import Path

from audiolens.config import save_resolved
from audiolens.config.settings import to_settings
from audiolens.distribution import is_chief
from audiolens.io import atomic_dir, atomic_write_json
from audiolens.models.settings import ModelSettings
from audiolens.paths import CV_MODELS, FEATURES, MODEL_PARAMS, MODELS, SPLIT_TABLE
from audiolens.paths import TRAIN_REPORT as LIVE
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.segments import read_table
from audiolens.split import cv_folds
from audiolens.training import TrainSettings, train_model


def _train_all(params, log, *, models: Path, live: Path | None, cv_models: Path) -> None:
    split = read_table(SPLIT_TABLE)
    train = to_settings(params.train, TrainSettings)
    model = to_settings(params.model, ModelSettings)
    with timed(log, "train"):
        train_model(features_dir=FEATURES, split=split, out_dir=models, live_dir=live, settings=train,
                    model_settings=model)
    k = params.split.cv_folds if params.split.method == "cv" else 0
    with atomic_dir(cv_models) as tmp:
        for i, fold_split in cv_folds(split, k):
            with timed(log, f"train cv fold {i}/{k - 1}"):
                train_model(features_dir=FEATURES, split=fold_split, out_dir=tmp / str(i),
                            settings=replace(train, save_epochs=False), model_settings=model)
        atomic_write_json(tmp / "cv.json", {"folds": k, "trained": list(range(1, k)),
                                            "note": "fold 0 is models/model.keras"})


@stage_main
def main() -> None:
    params, log = start_stage("train", tensorflow=True)
    if not is_chief():
        with tempfile.TemporaryDirectory(prefix="audiolens-worker-") as scratch:
            _train_all(params, log, models=Path(scratch), live=None, cv_models=Path(scratch) / "cv")
        return
    _train_all(params, log, models=MODELS, live=LIVE, cv_models=CV_MODELS)
    save_resolved(params, LIVE / "resolved_params.yaml", sections=["features", "split", "model", "train"])
    # everything `audiolens predict` needs to score new audio exactly as the model was trained
    save_resolved(params, MODEL_PARAMS,
                  sections=["data", "audio", "clean", "segment", "features", "model", "train"])


if __name__ == "__main__":
    main()
