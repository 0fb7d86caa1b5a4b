"""Stage split: features index -> data/processed/split/split.csv (+ counts.csv), leakage-safe.

With ``data.fold`` set, ``method: cv`` uses the predefined folds (each the test set once).
"""
from audiolens.config import save_resolved
from audiolens.io import atomic_dir, atomic_write_csv
from audiolens.paths import FEATURES
from audiolens.paths import SPLIT as OUT
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.shards import FeatureStore
from audiolens.split import make_split, split_counts


@stage_main
def main() -> None:
    params, log = start_stage("split")
    s = params.split
    store = FeatureStore(FEATURES)
    with timed(log, "split"):  # a split the data cannot satisfy: SplitError, one line, exit 2
        table = make_split(store.index, method=s.method, group_by=s.group_by, train=s.train, val=s.val,
                           test=s.test, test_fold=s.test_fold, val_fold=s.val_fold,
                           cv_folds=s.cv_folds, seed=s.seed, predefined_folds=params.data.fold is not None,
                           class_names=store.class_names)
    counts = split_counts(table, store.class_names)
    with atomic_dir(OUT) as tmp:
        atomic_write_csv(tmp / "split.csv", table)
        atomic_write_csv(tmp / "counts.csv", counts)
        save_resolved(params, tmp / "resolved_params.yaml", sections=["split"])
    per_split = counts.groupby("split")[["segments", "groups"]].sum()
    for name, row in per_split.iterrows():
        log.info("%-6s %5d segments in %4d groups", name, row.segments, row.groups)


if __name__ == "__main__":
    main()
