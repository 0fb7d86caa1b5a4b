"""Stage ingest: data root -> data/interim/ingest/manifest.csv (+ reports/ingest/skipped.csv, duplicates.csv)."""
from audiolens.config import save_resolved, to_settings
from audiolens.corpus.ingest import IngestSettings, ingest
from audiolens.io import atomic_dir, atomic_write_csv, atomic_write_json
from audiolens.paths import INGEST as OUT
from audiolens.paths import INGEST_REPORT as REPORT
from audiolens.runtime import stage_main, start_stage, timed


@stage_main
def main() -> None:
    params, log = start_stage("ingest")
    d = params.data
    with timed(log, "ingest"):
        res = ingest(root=d.root, settings=to_settings(d, IngestSettings), skipped_path=REPORT / "skipped.csv",
                     duplicates_path=REPORT / "duplicates.csv")
    for reason, n in res.skipped.reason.value_counts().items():
        log.warning("skipped %d file(s): %s", n, reason)
    m = res.manifest
    summary = {"recordings": len(m), "skipped": len(res.skipped), "duplicate_pairs": len(res.duplicates),
               "classes": len(res.classes["class_names"]),
               "speakers": int(m.speaker[m.speaker != ""].nunique()),
               "hours": round(m.duration_s.sum() / 3600, 4),
               "per_class": {k: int(v) for k, v in m.label.value_counts().sort_index().items()}}
    atomic_write_json(REPORT / "summary.json", summary)
    with atomic_dir(OUT) as tmp:
        atomic_write_csv(tmp / "manifest.csv", m)
        atomic_write_json(tmp / "classes.json", {**res.classes, "root": d.root})
        save_resolved(params, tmp / "resolved_params.yaml", sections=["data"])
    log.info("manifest: %d recordings, %d classes, %d speakers", len(m), summary["classes"], summary["speakers"])


if __name__ == "__main__":
    main()
