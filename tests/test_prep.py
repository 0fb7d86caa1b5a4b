"""Corpus-level preprocessing: clean (skips reported), augment (groups kept), featurize (shards)."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from audiolens.features import spectrogram_db
from audiolens.parallel import ExecutorSettings
from audiolens.prep.augment import aug_id, augment_corpus, select_recordings
from audiolens.prep.clean import CLEAN_LOG_COLUMNS, clean_corpus
from audiolens.prep.common import recordings_table, unsegmented
from audiolens.prep.featurize import export_pngs, feature_meta, featurize
from audiolens.segments import SegmentSettings, segment_table
from audiolens.shards import FeatureStore
from conftest import clean_settings, spectrogram_settings, write_wav

SR = 8000
INLINE = ExecutorSettings(n_jobs=1, scheduler="processes", inline_below_s=0.0)
POOL2 = ExecutorSettings(n_jobs=2, scheduler="processes", inline_below_s=0.0)  # always the pool


def _speechy(seconds: float, seed: int, sr: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    env = (np.sin(2 * np.pi * 1.5 * t) > -0.2).astype(np.float32)
    y = 0.3 * env * np.sin(2 * np.pi * (150 + 20 * seed) * t) + 0.005 * rng.standard_normal(len(t))
    y[: sr // 2] = 0.005 * rng.standard_normal(sr // 2)  # noise-only lead
    return y.astype(np.float32)


@pytest.fixture()
def corpus(tmp_path):
    root = tmp_path / "raw"
    rows = []
    for i, spk in enumerate(["a", "a", "b", "c"]):
        name = f"{spk}_{i}.wav"
        y = _speechy(3.0 + i, i)
        write_wav(root / name, np.stack([y, y], 1) if i == 1 else y, 16000)
        rows.append({"id": f"{spk}_{i}", "path": name, "speaker": spk})
    write_wav(root / "silent.wav", np.zeros(16000, np.float32), 16000)
    (root / "broken.wav").write_bytes(b"RIFF not really")
    rows += [{"id": "silent", "path": "silent.wav", "speaker": "c"},
             {"id": "broken", "path": "broken.wav", "speaker": "c"},
             {"id": "escape", "path": "../outside.wav", "speaker": "c"},
             {"id": "gone", "path": "gone.wav", "speaker": "c"}]
    m = pd.DataFrame(rows)
    m["label"] = np.where(m["speaker"] == "a", "allowed", "rejected")
    m["label_index"] = (m["label"] == "allowed").astype(int)
    m["group"], m["fold"] = m["id"], ""
    return root, m


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_clean_corpus_reports_skips_and_is_identical_across_job_counts(corpus, tmp_path):
    root, m = corpus
    settings = clean_settings(sample_rate=SR)
    log1, skipped = clean_corpus(m, root=root, out_dir=tmp_path / "c1", settings=settings,
                                 min_keep_s=0.1, executor=INLINE)
    log2, _ = clean_corpus(m, root=root, out_dir=tmp_path / "c2", settings=settings, min_keep_s=0.1, executor=POOL2)
    assert list(log1.columns) == CLEAN_LOG_COLUMNS
    assert log1["id"].tolist() == ["a_0", "a_1", "b_2", "c_3"]
    assert dict(zip(skipped["id"], skipped["reason"])) == {
        "silent": "empty after cleaning", "broken": "unreadable", "escape": "outside the data root",
        "gone": "missing file"}
    assert set(log1["id"]) | set(skipped["id"]) == set(m["id"])  # none silently lost
    assert log1["denoised"].all() and (log1["removed_fraction"] > 0.1).all()
    assert log1.loc[1, "channels"] == 2 and (log1["sample_rate_in"] == 16000).all()
    pd.testing.assert_frame_equal(log1, log2)
    assert _digest(tmp_path / "c1") == _digest(tmp_path / "c2")  # byte-identical, n_jobs-independent

    recs = recordings_table(m, ids=log1["id"].tolist(), audio_dir=tmp_path / "c1", sample_rate=SR)
    assert recs["n_samples"].tolist() == [round(d * SR) for d in log1["duration_out_s"]]
    with pytest.raises(ValueError, match="16000 Hz"):
        recordings_table(m, ids=["a_0"], audio_dir=tmp_path / "c1", sample_rate=16000)


def test_augment_keeps_group_and_marks_rows(corpus, tmp_path):
    root, m = corpus
    clean_log, _ = clean_corpus(m, root=root, out_dir=tmp_path / "clean", settings=clean_settings(sample_rate=SR),
                                min_keep_s=0.1, executor=INLINE)
    kept = m[m["id"].isin(clean_log["id"])]
    chosen = select_recordings(kept, select_by="speaker", values=None, positive_class="allowed")
    assert chosen["id"].tolist() == ["a_0", "a_1"]
    assert select_recordings(kept, select_by="speaker", values=["b"], positive_class="allowed")["id"].tolist() == ["b_2"]
    assert len(select_recordings(kept, select_by="label", values=None, positive_class=None)) == len(kept)
    aug = augment_corpus(chosen, clean_dir=tmp_path / "clean", out_dir=tmp_path / "aug", factors=[0.5, 2.0],
                         sample_rate=SR, executor=INLINE)
    assert aug["recording_id"].tolist() == [aug_id(i, f) for i in ("a_0", "a_1") for f in (0.5, 2.0)]
    n_src = recordings_table(m, ids=["a_0"], audio_dir=tmp_path / "clean", sample_rate=SR)["n_samples"].iloc[0]
    assert abs(aug["n_samples"].iloc[0] - n_src / 0.5) <= 1 and abs(aug["n_samples"].iloc[1] - n_src / 2.0) <= 1
    segs, tails = segment_table(aug, settings=SegmentSettings(sample_rate=SR, length_s=1.0, hop_s=None, tail="pad",
                                min_tail_s=0.0), audio_dir="aug")
    assert segs["augmented"].all() and set(segs["factor"]) == {0.5, 2.0}
    assert set(segs["group"]) == {"a_0", "a_1"} and set(segs["source_id"]) == {"a_0", "a_1"}
    assert unsegmented(tails).empty


def test_featurize_writes_shards_index_meta_and_pngs(tmp_path):
    from audiolens.io import write_audio

    rng = np.random.default_rng(0)
    audio = {}
    for rid, n in [("r1", 9000), ("r2", 20000), ("r3", 3000)]:
        audio[rid] = (0.2 * rng.standard_normal(n)).astype(np.float32)
        write_audio(tmp_path / "clean" / f"{rid}.wav", audio[rid], SR)
    recs = pd.DataFrame({"recording_id": list(audio), "source_id": list(audio),
                         "n_samples": [len(a) for a in audio.values()], "label": ["x", "y", "x"],
                         "label_index": [0, 1, 0], "speaker": "", "group": list(audio), "fold": ""})
    segs, _ = segment_table(recs, settings=SegmentSettings(sample_rate=SR, length_s=0.5, hop_s=None, tail="pad",
                                min_tail_s=0.0), audio_dir="clean")
    cfg = spectrogram_settings(kind="linear", sample_rate=SR, n_fft=128, hop_length=64, top_db=80.0)
    out = tmp_path / "features"
    index = featurize(segs, config=cfg, out_dir=out, shard_size=5, root=tmp_path, executor=POOL2, per_task=3)
    index.to_csv(out / "index.csv", index=False)
    meta = feature_meta(cfg, segment_samples=4000, class_names=["x", "y"], normalise="per_sample",
                        n_rows=len(index), shard_size=5)
    (out / "meta.json").write_text(__import__("json").dumps(meta))
    store = FeatureStore(out)
    assert len(store) == len(segs) == 9 and store.shape == (65, 63) == tuple(meta["shape"])
    assert sorted(p.name for p in out.glob("shard_*.npy")) == ["shard_000.npy", "shard_001.npy"]
    for k in [0, 3, 8]:  # stored rows equal a direct computation on the padded segment audio
        row = segs.iloc[k]
        seg = np.zeros(4000, np.float32)
        chunk = audio[row["recording_id"]][row["start"]: row["end"]]
        seg[: len(chunk)] = chunk
        db, ref = spectrogram_db(seg[None], config=cfg)
        assert np.allclose(store.get([k])[0], db[0], atol=1e-4)
        assert store.index.loc[k, "ref_amplitude"] == pytest.approx(ref[0], rel=1e-5)
    assert len(meta["freqs_hz"]) == 65 and meta["frame_s"] == 64 / SR
    n = export_pngs(store.index, feature_dir=out, out_dir=out / "png", per_class=2, top_db=80.0)
    from PIL import Image

    pngs = sorted((out / "png").rglob("*.png"))
    assert n == 4 and [p.parent.name for p in pngs] == ["x", "x", "y", "y"]
    img = np.asarray(Image.open(pngs[0]))
    assert img.shape == (65, 63) and img.dtype == np.uint8 and img.max() == 255


@pytest.mark.shared
def test_fsdd_clips_survive_cleaning_and_segmenting(shared_data, tmp_path):
    """A sample of real FSDD clips (0.2-2.3 s, trimmed): cleaned, none emptied or lost, >= 1 padded segment."""
    files = sorted((shared_data / "fsdd" / "recordings").glob("*.wav"))[::25]
    m = pd.DataFrame({"id": [f.stem for f in files], "path": [f.name for f in files],
                      "label": [f.stem.split("_")[1] for f in files], "label_index": 0, "speaker": "",
                      "group": [f.stem for f in files], "fold": ""})
    log, skipped = clean_corpus(m, root=files[0].parent, out_dir=tmp_path / "clean",
                                settings=clean_settings(sample_rate=SR), min_keep_s=0.1, executor=POOL2)
    assert skipped.empty and log["id"].tolist() == m["id"].tolist()
    # trimmed clips have no noise-only lead: denoising is skipped and says why, never eats the speech
    assert not log["denoised"].any() and log["denoise_note"].str.len().gt(0).all()
    from audiolens.io import read_audio

    for f in files[::6]:  # what silence removal cut was silence: >= 99 % of the energy is kept
        y, _ = read_audio(f)
        z, _ = read_audio(tmp_path / "clean" / f"{f.stem}.wav")
        assert np.sum(z.astype(np.float64) ** 2) >= 0.99 * np.sum(y.astype(np.float64) ** 2), f.name
    recs = recordings_table(m, ids=log["id"].tolist(), audio_dir=tmp_path / "clean", sample_rate=SR)
    segs, tails = segment_table(recs, settings=SegmentSettings(sample_rate=SR, length_s=1.0, hop_s=None, tail="pad",
                                min_tail_s=0.0), audio_dir="clean")
    assert (tails["n_segments"] >= 1).all() and set(segs["recording_id"]) == set(m["id"])
