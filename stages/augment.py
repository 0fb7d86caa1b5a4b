"""Stage augment: time-stretched copies of chosen recordings -> data/interim/augmented/ (+ segments.csv)."""
import json

from audiolens.config import save_resolved, to_settings
from audiolens.io import atomic_dir, atomic_write_csv
from audiolens.parallel import ExecutorSettings
from audiolens.paths import AUGMENT_REPORT as REPORT
from audiolens.paths import AUGMENTED as OUT
from audiolens.paths import CLASSES, CLEAN, CLEAN_LOG, MANIFEST, SEGMENT_TABLE
from audiolens.prep.augment import augment_corpus, select_recordings
from audiolens.prep.common import unsegmented
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.segments import SegmentSettings, read_table, segment_table


@stage_main
def main() -> None:
    params, log = start_stage("augment")
    a, s, sr = params.augment, params.segment, params.audio.sample_rate
    manifest = read_table(MANIFEST)
    classes = json.loads(CLASSES.read_text())
    positive_class = classes["class_names"][-1] if classes.get("positive") else None
    cleaned = set(read_table(CLEAN_LOG)["id"])
    segmented = set(read_table(SEGMENT_TABLE, columns=["source_id"])["source_id"])  # gave an original segment
    sources = manifest[manifest["id"].isin(cleaned & segmented)]
    chosen = select_recordings(sources, select_by=a.select_by, values=a.values,
                               positive_class=positive_class) if a.enabled else manifest.iloc[:0]
    log.info("augmenting %d recordings x factors %s", len(chosen), a.factors if a.enabled else [])
    with atomic_dir(OUT) as tmp:
        with timed(log, "augment"):
            aug = augment_corpus(chosen, clean_dir=CLEAN, out_dir=tmp, factors=a.factors, sample_rate=sr,
                                 executor=to_settings(params.audio, ExecutorSettings))
        segs, tails = segment_table(aug, settings=to_settings(s, SegmentSettings, sample_rate=sr),
                                    audio_dir=str(OUT))
        atomic_write_csv(tmp / "segments.csv", segs)
        atomic_write_csv(tmp / "tails.csv", tails)
        save_resolved(params, tmp / "resolved_params.yaml", sections=["audio", "segment", "augment"])
    atomic_write_csv(REPORT / "skipped.csv", unsegmented(tails))
    per_factor = segs.groupby("factor").size().to_dict() if len(segs) else {}
    log.info("%d augmented recordings -> %d segments (per factor: %s)", len(aug), len(segs),
             {f"{k:g}": int(v) for k, v in per_factor.items()})


if __name__ == "__main__":
    main()
