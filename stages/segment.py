"""Stage segment: cleaned recordings -> data/interim/segments/segments.csv + tails.csv (rows, no audio)."""
from audiolens.config import save_resolved, to_settings
from audiolens.io import atomic_dir, atomic_write_csv
from audiolens.paths import CLEAN, CLEAN_LOG, MANIFEST
from audiolens.paths import SEGMENT_REPORT as REPORT
from audiolens.paths import SEGMENTS as OUT
from audiolens.prep.common import recordings_table, unsegmented
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.segments import SegmentSettings, read_table, segment_table


@stage_main
def main() -> None:
    params, log = start_stage("segment")
    s, sr = params.segment, params.audio.sample_rate
    settings = to_settings(s, SegmentSettings, sample_rate=sr)
    manifest = read_table(MANIFEST)
    cleaned = read_table(CLEAN_LOG)["id"].tolist()
    with timed(log, "segment"):
        recs = recordings_table(manifest, ids=cleaned, audio_dir=CLEAN, sample_rate=sr)
        segs, tails = segment_table(recs, settings=settings, audio_dir=str(CLEAN))
    skipped = unsegmented(tails, paths=dict(zip(manifest["id"], manifest["path"])))
    with atomic_dir(OUT) as tmp:
        atomic_write_csv(tmp / "segments.csv", segs)
        atomic_write_csv(tmp / "tails.csv", tails)
        save_resolved(params, tmp / "resolved_params.yaml", sections=["audio", "segment"])
    atomic_write_csv(REPORT / "skipped.csv", skipped)
    if len(skipped):
        log.warning("%d recording(s) gave no segment (segment.tail=%s): see %s", len(skipped), s.tail,
                    REPORT / "skipped.csv")
    log.info("%d segments of %.2f s from %d recordings (%d padded tails, %d dropped)", len(segs), s.length_s,
             len(recs), int((tails["tail_action"] == "padded").sum()), int((tails["tail_action"] == "dropped").sum()))


if __name__ == "__main__":
    main()
