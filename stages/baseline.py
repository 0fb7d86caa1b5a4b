"""Stage baseline: features + split -> reports/baseline (metrics.json, predictions.csv).

Per-band statistics of the spectrograms + logistic regression / 1-NN, chosen on validation:
the figure the CNN must beat (``evaluate`` reports the margin). With ``split.method: cv``
every arrangement is fitted and scored (per fold + mean ± std).
"""
from audiolens.baseline import BaselineSettings, run
from audiolens.bootstrap import BootstrapSettings
from audiolens.config import save_resolved
from audiolens.config.settings import to_settings
from audiolens.evaluation.operating_point import OperatingPointSettings
from audiolens.io import atomic_dir
from audiolens.paths import BASELINE_REPORT as OUT
from audiolens.paths import FEATURES, SPLIT_TABLE
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.segments import read_table
from audiolens.shards import FeatureStore
from audiolens.split import cv_fold_names, cv_folds


@stage_main
def main() -> None:
    params, log = start_stage("baseline")
    settings = to_settings(params.baseline, BaselineSettings,
                           operating_point=to_settings(params.evaluate, OperatingPointSettings),
                           bootstrap=to_settings(params.bootstrap, BootstrapSettings))
    store, split = FeatureStore(FEATURES), read_table(SPLIT_TABLE)
    k = params.split.cv_folds if params.split.method == "cv" else 0
    names = cv_fold_names(split, k)
    cv = [(names[0], split), *((names[i], arr) for i, arr in cv_folds(split, k))] if k else None
    with atomic_dir(OUT) as tmp, timed(log, "baseline"):
        run(settings=settings, store=store, split=split, out_dir=tmp, cv_splits=cv)
        save_resolved(params, tmp / "resolved_params.yaml", sections=["split", "evaluate", "baseline", "bootstrap"])


if __name__ == "__main__":
    main()
