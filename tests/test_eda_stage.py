"""The EDA run on a small demo corpus and on a few FSDD clips per speaker.

Upstream outputs (cleaned audio, segments, augmented copies, feature shards) are built here
with the preprocessing library, in the layout of docs/contracts.md, so the test does not
depend on another stage's script.
"""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from audiolens.audio import clean_signal, time_stretch
from audiolens.corpus.demo import voice_profile, write_demo_corpus
from audiolens.corpus.ingest import IngestSettings, ingest
from audiolens.config import parse_params, to_settings
from audiolens.eda import stage
from audiolens.eda.sampling import choose_groups
from audiolens.eda.stage import EdaSettings
from audiolens.features import read_segment_audio, spectrogram_db
from audiolens.io import read_audio, write_audio
from audiolens.segments import SegmentSettings, segment_table
from audiolens.shards import ShardWriter

from conftest import clean_settings, spectrogram_settings

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FIGURES = ["counts.png", "durations.png", "class_totals.png", "spectra.png", "pitch.png",
           "image_stats.png", "examples_linear_vs_mel.png", "examples_unprocessed_vs_cleaned.png",
           "examples_augmented_vs_original.png"]


def build_upstream(proj: Path, manifest: pd.DataFrame, *, data_root: Path, sr: int, length_s: float,
                   augment_speakers: list[str], kind: str = "linear") -> None:
    """clean + segment + augment + spectrogram outputs for ``manifest`` under ``proj``."""
    clean_dir = proj / "data/interim/clean"
    settings = clean_settings(sample_rate=sr, noise_profile_s=0.25)
    log_rows, recs, aug_recs = [], [], []
    (proj / "data/interim/ingest").mkdir(parents=True)
    manifest.to_csv(proj / "data/interim/ingest/manifest.csv", index=False)
    for row in manifest.to_dict("records"):
        y, sr0 = read_audio(data_root / row["path"], mono=False)
        yc, info = clean_signal(y, sr=sr0, settings=settings)
        write_audio(clean_dir / f"{row['id']}.wav", yc, sr)
        log_rows.append({"id": row["id"], **info})
        base = {k: row[k] for k in ("label", "label_index", "speaker", "group", "fold")}
        recs.append({"recording_id": row["id"], "source_id": row["id"], "n_samples": len(yc), **base})
        if row["speaker"] in augment_speakers:
            ya = time_stretch(yc, sr=sr, factor=0.5)
            write_audio(proj / "data/interim/augmented" / f"{row['id']}__x0.5.wav", ya, sr)
            aug_recs.append({"recording_id": f"{row['id']}__x0.5", "source_id": row["id"],
                             "n_samples": len(ya), "augmented": True, "factor": 0.5, **base})
    pd.DataFrame(log_rows).to_csv(clean_dir / "clean_log.csv", index=False)
    kw = dict(settings=SegmentSettings(sample_rate=sr, length_s=length_s, hop_s=None, tail="pad", min_tail_s=0.0))
    segs, _ = segment_table(pd.DataFrame(recs), audio_dir="data/interim/clean", **kw)
    (proj / "data/interim/segments").mkdir(parents=True)
    segs.to_csv(proj / "data/interim/segments/segments.csv", index=False)
    aug, _ = segment_table(pd.DataFrame(aug_recs), audio_dir="data/interim/augmented", **kw)
    aug.to_csv(proj / "data/interim/augmented/segments.csv", index=False)
    allseg = pd.concat([segs, aug], ignore_index=True)
    cfg = spectrogram_settings(kind=kind, sample_rate=sr, n_fft=256, hop_length=128, n_mels=32)
    audio = np.stack([read_segment_audio(r, root=proj) for r in allseg.to_dict("records")])
    db, ref = spectrogram_db(audio, config=cfg)
    feat = proj / "data/processed/features"
    writer = ShardWriter(feat, n_rows=len(db), shape=db.shape[1:], shard_size=64)
    writer.append(db)
    writer.close()
    shard, row = writer.locations()
    allseg.assign(shard=shard, row=row, ref_amplitude=ref).to_csv(feat / "index.csv", index=False)
    meta = {**cfg.to_dict(), "shape": list(db.shape[1:]), "freqs_hz": cfg.freqs_hz().tolist(),
            "frame_s": cfg.hop_length / sr, "class_names": sorted(manifest["label"].unique()),
            "normalise": "per_sample"}
    (feat / "meta.json").write_text(json.dumps(meta))


def run(proj: Path, data_root: Path, sr: int, **settings) -> dict:
    return stage.run(manifest_path=proj / "data/interim/ingest/manifest.csv",
                     clean_dir=proj / "data/interim/clean",
                     clean_log_path=proj / "data/interim/clean/clean_log.csv",
                     segments_paths=[proj / "data/interim/segments/segments.csv",
                                     proj / "data/interim/augmented/segments.csv"],
                     features_dir=proj / "data/processed/features", data_root=data_root,
                     sample_rate=sr, out_dir=proj / "reports/eda", project_root=proj,
                     settings=to_settings(parse_params({"eda": settings}).eda, EdaSettings),
                     progress=False)


def check_outputs(out: Path) -> None:
    for name in FIGURES:
        img = mpimg.imread(out / "figures" / name)
        assert img.shape[0] > 100 and img[..., :3].std() > 0.01, name
    for name in ("counts", "durations", "class_totals", "spectra_unprocessed", "spectra_cleaned",
                 "pitch_frames", "pitch_summary", "image_stats"):
        assert len(pd.read_csv(out / "tables" / f"{name}.csv")) > 0, name


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory):
    proj = tmp_path_factory.mktemp("eda_demo")
    raw = proj / "data/raw/demo"
    speakers = ["f1", "f2", "m1", "m2"]
    write_demo_corpus(raw, speakers=speakers, scripts=2, duration_s=4.0, sample_rate=16000,
                      noise_lead_s=0.5, snr_db=20.0, seed=0)
    res = ingest(root=raw, settings=IngestSettings(
        layout="demo", pattern=r"(?P<speaker>[fm]\d+)_(?P<script>script\d+)_(?P<condition>\w+)\.wav",
        manifest=None, label="speaker", positive=["f1", "m2"], class_names=["rejected", "allowed"],
        speaker="speaker", group=None, fold=None, filename_column="filename", extensions=["wav"], min_sample_rate=1000,
        max_sample_rate=384000, n_jobs=1))
    build_upstream(proj, res.manifest, data_root=raw, sr=8000, length_s=1.0, augment_speakers=["f1"])
    return proj, raw, res.manifest


def test_eda_on_demo_corpus(demo_project):
    proj, raw, manifest = demo_project
    summary = run(proj, raw, 8000, max_recordings_per_speaker=2, pyin_seconds_per_speaker=1.5,
                  max_images=40, examples=2, example_seconds=2.0)
    out = proj / "reports/eda"
    check_outputs(out)
    assert summary["group_by"] == "speaker" and summary["groups"] == 4
    assert summary["recordings"] == len(manifest) == 8
    assert summary["skipped"] == 0 and summary["augmented_segments"] > 0
    assert summary["seconds_after_cleaning"] < summary["seconds_before_cleaning"]
    # pYIN bounded per speaker
    assert summary["pyin_seconds"] <= 4 * 1.5 + 1e-6
    pitch = pd.read_csv(out / "tables/pitch_summary.csv").set_index("speaker")
    assert (pitch["voiced_fraction"] > 0.5).all()  # the demo voices are voiced
    # pYIN recovers each synthetic speaker's F0 (intonation moves the median a few %)
    for spk, row in pitch.iterrows():
        true_f0 = voice_profile(spk).f0_hz
        assert abs(row["f0_median_hz"] / true_f0 - 1) < 0.1, (spk, row["f0_median_hz"], true_f0)
    # per-class metrics: one entry per class with every statistic
    metrics = json.loads((out / "class_summary.json").read_text())["per_class"]
    assert set(metrics) == {"rejected", "allowed"}
    assert {"n", "entropy_mean", "dominant_hz_mean", "kurtosis_std"} <= set(metrics["allowed"])
    stats = pd.read_csv(out / "tables/image_stats.csv")
    assert len(stats) <= 40 and stats["augmented"].any() and (~stats["augmented"]).any()
    assert ((stats["mean"] <= 0) & (stats["mean"] >= -80)).all()
    spectra = pd.read_csv(out / "tables/spectra_cleaned.csv")
    assert sorted(spectra["speaker"]) == ["f1", "f2", "m1", "m2"] and spectra.shape[1] == 1 + 513


def test_eda_is_deterministic_and_lists_missing_audio(demo_project, tmp_path):
    import shutil

    proj, raw, manifest = demo_project
    copy = tmp_path / "proj"
    shutil.copytree(proj, copy)
    shutil.rmtree(copy / "reports", ignore_errors=True)
    shown = choose_groups(manifest["speaker"], max_groups=3, seed=0)
    victim = manifest.loc[manifest["speaker"] == shown[0], "id"].iloc[0]
    (copy / "data/interim/clean" / f"{victim}.wav").unlink()
    kw = dict(max_recordings_per_speaker=2, max_groups=3, pyin_seconds_per_speaker=1.0, max_images=20,
              examples=1, example_seconds=1.0)
    summary = run(copy, raw, 8000, **kw)
    skipped = pd.read_csv(copy / "reports/eda/skipped.csv")
    assert victim in set(skipped["id"]) and (skipped["reason"] == "missing cleaned audio").any()
    # max_groups bounds the per-speaker analyses
    assert summary["groups"] == 4 and summary["groups_shown"] == 3
    assert sorted(pd.read_csv(copy / "reports/eda/tables/spectra_cleaned.csv")["speaker"]) == shown
    first = (copy / "reports/eda/tables/image_stats.csv").read_bytes()
    run(copy, raw, 8000, **kw)
    assert (copy / "reports/eda/tables/image_stats.csv").read_bytes() == first
    with pytest.raises(ValueError, match="pyin_fmax"):
        run(copy, raw, 800, pyin_fmax=500.0)


@pytest.mark.shared
@pytest.mark.slow
def test_eda_on_fsdd_sample(tmp_path):
    fsdd = SHARED / "fsdd" / "recordings"
    if not fsdd.is_dir():
        pytest.skip("../shared/data/fsdd absent")
    names = sorted(p.name for p in fsdd.glob("*.wav"))
    speakers = sorted({n.split("_")[1] for n in names})
    pick = [n for s in speakers for n in [f"{d}_{s}_0.wav" for d in range(3)] if (fsdd / n).is_file()]
    listing = tmp_path / "pick.csv"
    pd.DataFrame({"filename": pick, "speaker": [n.split("_")[1] for n in pick]}).to_csv(listing, index=False)
    res = ingest(root=fsdd, settings=IngestSettings(
        layout="csv", pattern=None, manifest=str(listing), label="speaker", positive=None, class_names=None,
        speaker="speaker", group=None, fold=None, filename_column="filename", extensions=["wav"], min_sample_rate=1000,
        max_sample_rate=384000, n_jobs=1))
    proj = tmp_path / "proj"
    build_upstream(proj, res.manifest, data_root=fsdd, sr=8000, length_s=1.0,
                   augment_speakers=["george", "jackson"], kind="mel")
    summary = run(proj, fsdd, 8000, max_recordings_per_speaker=3, pyin_seconds_per_speaker=1.5,
                  max_images=30, examples=2, example_seconds=1.0)
    check_outputs(proj / "reports/eda")
    assert summary["groups"] == len(speakers) == 6 and summary["skipped"] == 0
    pitch = pd.read_csv(proj / "reports/eda/tables/pitch_summary.csv").set_index("speaker")
    # real speech: voiced frames found for every speaker, F0 in the human range
    assert (pitch["voiced_fraction"] > 0.2).all()
    assert pitch["f0_median_hz"].between(70, 350).all()
