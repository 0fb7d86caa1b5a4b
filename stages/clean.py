"""Stage clean: manifest -> data/interim/clean/<id>.wav (mono, audio.sample_rate, denoised, silence cut)."""
from audiolens.audio import CleanSettings
from audiolens.config import save_resolved, to_settings
from audiolens.errors import DataError
from audiolens.io import atomic_dir, atomic_write_csv, atomic_write_json
from audiolens.parallel import ExecutorSettings
from audiolens.paths import CLEAN as OUT
from audiolens.paths import CLEAN_REPORT as REPORT
from audiolens.paths import MANIFEST
from audiolens.prep.clean import clean_corpus
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.segments import read_table


@stage_main
def main() -> None:
    params, log = start_stage("clean")
    c = params.clean
    settings = to_settings(c, CleanSettings, sample_rate=params.audio.sample_rate)
    executor = to_settings(params.audio, ExecutorSettings)
    manifest = read_table(MANIFEST, columns=["id", "path"])
    log.info("cleaning %d recordings on %s: %s", len(manifest), executor.describe(), settings)
    with atomic_dir(OUT) as tmp:
        with timed(log, "clean"):
            clean_log, skipped = clean_corpus(manifest, root=params.data.root, out_dir=tmp, settings=settings,
                                              min_keep_s=c.min_keep_s, executor=executor)
        atomic_write_csv(tmp / "clean_log.csv", clean_log)
        save_resolved(params, tmp / "resolved_params.yaml", sections=["audio", "clean"])
    atomic_write_csv(REPORT / "skipped.csv", skipped)
    if clean_log.empty:
        raise DataError(f"no recording survived cleaning ({len(skipped)} skipped): see {REPORT / 'skipped.csv'}")
    for reason, n in skipped["reason"].value_counts().sort_index().items():
        log.warning("skipped %d recording(s): %s (see %s)", n, reason, REPORT / "skipped.csv")
    summary = {"recordings": len(clean_log), "skipped": len(skipped),
               "denoised": int(clean_log["denoised"].sum()),
               "hours_in": round(float(clean_log["duration_in_s"].sum()) / 3600, 4),
               "hours_out": round(float(clean_log["duration_out_s"].sum()) / 3600, 4),
               "mean_removed_fraction": round(float(clean_log["removed_fraction"].mean()), 4) if len(clean_log) else 0.0}
    atomic_write_json(REPORT / "summary.json", summary)
    log.info("clean: %s", summary)


if __name__ == "__main__":
    main()
