"""Stage spectrogram: segments -> data/processed/features/ (dB shards, index.csv, meta.json, png/)."""
import json

import pandas as pd

from audiolens.config import save_resolved, to_settings
from audiolens.errors import DataError
from audiolens.features import SpectrogramConfig
from audiolens.io import atomic_dir, atomic_write_csv, atomic_write_json
from audiolens.parallel import ExecutorSettings
from audiolens.paths import AUGMENTED_TABLE, CLASSES, SEGMENT_TABLE
from audiolens.paths import FEATURES as OUT
from audiolens.prep.featurize import export_pngs, feature_meta, featurize
from audiolens.runtime import stage_main, start_stage, timed
from audiolens.segments import read_table


@stage_main
def main() -> None:
    params, log = start_stage("spectrogram")
    f = params.features
    cfg = to_settings(f, SpectrogramConfig, sample_rate=params.audio.sample_rate)
    executor = to_settings(params.audio, ExecutorSettings)
    segs = pd.concat([read_table(p) for p in (SEGMENT_TABLE, AUGMENTED_TABLE) if p.is_file()], ignore_index=True)
    if segs.empty:
        raise DataError("no segments to featurise: see reports/clean, reports/segment skipped.csv")
    class_names = json.loads(CLASSES.read_text())["class_names"]
    length = int((segs["end"] - segs["start"]).iloc[0])
    log.info("%d segments (%d augmented) -> %s spectrograms %dx%d on %s", len(segs), int(segs["augmented"].sum()),
             cfg.kind, cfg.n_freqs, cfg.n_frames(length), executor.describe())
    with atomic_dir(OUT) as tmp:
        with timed(log, "spectrogram"):
            index = featurize(segs, config=cfg, out_dir=tmp, shard_size=f.shard_size, executor=executor)
        atomic_write_csv(tmp / "index.csv", index)
        atomic_write_json(tmp / "meta.json", feature_meta(cfg, segment_samples=length, class_names=class_names,
                                                          normalise=f.normalise, n_rows=len(index),
                                                          shard_size=f.shard_size))
        n_png = export_pngs(index, feature_dir=tmp, out_dir=tmp / "png", per_class=f.export_png, top_db=f.top_db)
        save_resolved(params, tmp / "resolved_params.yaml", sections=["audio", "features"])
    log.info("wrote %d spectrograms in %s, %d PNGs", len(index), OUT, n_png)


if __name__ == "__main__":
    main()
