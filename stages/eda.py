"""Stage eda: manifest, cleaned audio, segments and spectrograms -> figures and tables in reports/eda."""
from audiolens.config import save_resolved, to_settings
from audiolens.eda import stage
from audiolens.eda.stage import EdaSettings
from audiolens.paths import AUGMENTED_TABLE, CLEAN, CLEAN_LOG, FEATURES, MANIFEST, SEGMENT_TABLE
from audiolens.paths import EDA_REPORT as OUT
from audiolens.runtime import stage_main, start_stage, timed


@stage_main
def main() -> None:
    params, log = start_stage("eda")
    e = params.eda
    settings = to_settings(e, EdaSettings)
    with timed(log, "eda"):
        summary = stage.run(manifest_path=MANIFEST, clean_dir=CLEAN, clean_log_path=CLEAN_LOG,
                            segments_paths=[SEGMENT_TABLE, AUGMENTED_TABLE],
                            features_dir=FEATURES, data_root=params.data.root,
                            sample_rate=params.audio.sample_rate, out_dir=OUT, settings=settings, log=log)
    save_resolved(params, OUT / "resolved_params.yaml", sections=["eda", "audio", "data"])
    log.info("eda: %d recordings, %d segments (+%d augmented), %d of %d images analysed, "
             "%.1f s of pYIN audio, %d skipped", summary["recordings"], summary["segments"],
             summary["augmented_segments"], summary["images_analysed"], summary["images_total"],
             summary["pyin_seconds"], summary["skipped"])


if __name__ == "__main__":
    main()
