"""Ingest guards against hostile corpora: unique ids, content duplicates, implausible files, data keys.

Fast unit tests; ``tests/test_hostile_corpus.py`` runs the whole set through ``dvc repro split``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import audiolens.corpus.ingest as ingest_mod
from audiolens.corpus.ids import make_ids
from audiolens.corpus.ingest import IngestSettings, ingest
from audiolens.corpus.layouts import LayoutError
from audiolens.corpus.probe import probe_file, wav_declared_frames
from audiolens.io import AudioReadError
from audiolens.split import SplitError, check_content, make_split

from conftest import write_wav

ANY = r"(?P<who>[a-z]+)[^/]*\.(wav|flac)"


def sine(f: float, sec: float = 0.3, sr: int = 8000) -> np.ndarray:
    t = np.arange(int(sec * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def run(root, tmp_path=None, **kw):
    args = dict(layout="regex", pattern=ANY, manifest=None, label="who", positive=None, class_names=None,
                speaker=None, group=None, fold=None, filename_column="filename", extensions=["wav", "flac"],
                min_sample_rate=1000, max_sample_rate=384000, n_jobs=1)
    args.update(kw)
    dup = tmp_path / "duplicates.csv" if tmp_path is not None else None
    return ingest(root=root, settings=IngestSettings(**args), duplicates_path=dup)


# ---------------------------------------------------------------- A: ids

def test_ids_colliding_paths_get_a_stable_hash_suffix():
    paths = ["sub/clash.wav", "sub__clash.wav", "a/b.wav", "x.wav", "x.flac", "Case.wav", "case.wav"]
    ids, clashes = make_ids(paths)
    assert clashes == [] and len(set(ids.values())) == len(paths)
    assert ids["a/b.wav"] == "a__b"  # no collision: the readable id, unchanged
    for p in ("sub/clash.wav", "sub__clash.wav", "x.wav", "x.flac", "Case.wav", "case.wav"):
        assert ids[p] != ids["a/b.wav"] and len(ids[p].rsplit("__", 1)[-1]) == 8, ids[p]
    assert {i.casefold() for i in ids.values()}.__len__() == len(paths)  # also on case-insensitive disks
    again, _ = make_ids(list(reversed(paths)) + [])
    assert again == ids  # independent of order


def test_ids_that_still_clash_are_reported_with_both_paths():
    ids, _ = make_ids(["x.wav", "x.flac"])
    evil = ids["x.wav"] + ".wav"  # a file named like x.wav's disambiguated id
    ids2, clashes = make_ids(["x.wav", "x.flac", evil])
    assert ("x.wav", evil) in clashes and (evil, "x.wav") in clashes
    assert "x.wav" not in ids2 and evil not in ids2 and "x.flac" in ids2


def test_ingest_ids_unique_for_clashing_names(tmp_path):
    root = tmp_path / "raw"
    write_wav(root / "sub" / "clash.wav", sine(300), 8000)
    write_wav(root / "sub__clash.wav", sine(400), 8000)
    write_wav(root / "sub" / "other.wav", sine(500), 8000)
    m = run(root).manifest.set_index("path")
    assert m.index.is_unique and m["id"].is_unique
    assert m.loc["sub/other.wav", "id"] == "sub__other"
    assert m.loc["sub/clash.wav", "id"].startswith("sub__clash__")


# ---------------------------------------------------------------- B: content duplicates

def test_duplicates_same_label_kept_once_cross_label_refused(tmp_path):
    import soundfile as sf

    root = tmp_path / "raw"
    write_wav(root / "alpha1.wav", sine(300), 8000)
    write_wav(root / "alpha2.wav", sine(300), 8000)  # byte copy, same label
    write_wav(root / "beta1.wav", sine(500), 8000)
    y, _ = sf.read(str(root / "beta1.wav"), dtype="int16")
    sf.write(str(root / "gamma1.flac"), y, 8000, subtype="PCM_16")  # same samples, FLAC, another label
    write_wav(root / "beta2.wav", sine(700), 8000)
    (root / "alpha3.wav").symlink_to(root / "beta2.wav")  # in-root symlink under another label
    write_wav(root / "gamma2.wav", sine(900), 8000)
    outside = write_wav(tmp_path / "elsewhere" / "gamma9.wav", sine(1100), 8000)
    (root / "gamma9.wav").symlink_to(outside)
    res = run(root, tmp_path)
    assert sorted(res.manifest.path) == ["alpha1.wav", "gamma2.wav"]
    assert res.classes["class_names"] == ["alpha", "gamma"]  # every beta copy was refused: no class left
    reasons = dict(zip(res.skipped.path, res.skipped.reason))
    assert reasons == {"alpha2.wav": "duplicate content", "beta1.wav": "conflicting labels",
                       "gamma1.flac": "conflicting labels", "alpha3.wav": "conflicting labels",
                       "beta2.wav": "conflicting labels", "gamma9.wav": "path escapes data root"}
    dup = pd.read_csv(tmp_path / "duplicates.csv").set_index("path_b")
    assert dup.loc["alpha2.wav", ["path_a", "kind", "label_a", "label_b"]].tolist() == [
        "alpha1.wav", "sha256", "alpha", "alpha"]
    assert dup.loc["alpha2.wav", "action"].startswith("kept a")
    assert dup.loc["gamma1.flac", ["path_a", "kind"]].tolist() == ["beta1.wav", "audio"]
    assert dup.loc["beta2.wav", ["path_a", "kind"]].tolist() == ["alpha3.wav", "sha256"]
    assert dup.loc["beta2.wav", "action"].startswith("skipped both")
    assert res.manifest["audio_sha256"].str.len().eq(64).all()


def test_fingerprint_ignores_container_and_bit_depth(tmp_path):
    import soundfile as sf

    a = write_wav(tmp_path / "a.wav", sine(300), 8000, subtype="PCM_16")
    y, _ = sf.read(str(a), dtype="int16")
    b = write_wav(tmp_path / "b.flac", y, 8000, subtype="PCM_24")  # the same samples in 24-bit FLAC
    f = write_wav(tmp_path / "f.wav", y.astype(np.float32) / 32768, 8000, subtype="FLOAT")  # and as float
    c = write_wav(tmp_path / "c.wav", y, 16000, subtype="PCM_16")  # same samples, other rate
    ff = probe_file(f, min_sample_rate=1000, max_sample_rate=384000)
    fa, fb, fc = (probe_file(p, min_sample_rate=1000, max_sample_rate=384000) for p in (a, b, c))
    assert fa["audio_sha256"] == fb["audio_sha256"] and fa["sha256"] != fb["sha256"]
    assert ff["audio_sha256"] == fa["audio_sha256"]
    assert fc["audio_sha256"] != fa["audio_sha256"]


# ---------------------------------------------------------------- C: implausible files

def test_truncated_wav_and_rate_out_of_range_are_refused(tmp_path):
    full = write_wav(tmp_path / "full.wav", sine(300, sec=5.0), 8000)
    data = full.read_bytes()
    trunc = tmp_path / "trunc.wav"
    trunc.write_bytes(data[:44 + int(1.7 * 8000) * 2])
    assert wav_declared_frames(full) == (40000, 40000)
    assert wav_declared_frames(trunc) == (40000, 13600)
    with pytest.raises(AudioReadError, match=r"truncated.*5\.000 s.*1\.700 s"):
        probe_file(trunc, min_sample_rate=1000, max_sample_rate=384000)
    one_hz = write_wav(tmp_path / "one.wav", np.zeros(20000, np.float32), 1)
    with pytest.raises(AudioReadError, match=r"sample rate out of range.*1 Hz"):
        probe_file(one_hz, min_sample_rate=1000, max_sample_rate=384000)
    hi = write_wav(tmp_path / "hi.wav", sine(300, sr=192000), 192000, subtype="PCM_24")
    assert probe_file(hi, min_sample_rate=1000, max_sample_rate=384000)["sample_rate"] == 192000
    with pytest.raises(AudioReadError, match="sample rate out of range"):
        probe_file(hi, min_sample_rate=1000, max_sample_rate=96000)


def test_ingest_lists_every_implausible_file(tmp_path):
    root = tmp_path / "raw"
    write_wav(root / "alpha1.wav", sine(300), 8000)
    write_wav(root / "alpha2.wav", sine(300, sec=5.0), 8000)
    (root / "alpha3.wav").write_bytes((root / "alpha2.wav").read_bytes()[:3000])
    write_wav(root / "alpha4.wav", np.zeros(20000, np.float32), 1)
    write_wav(root / "alpha5.wav", np.array([0.1, np.inf, 0.0], np.float32), 8000, subtype="FLOAT")
    res = run(root)
    assert dict(zip(res.skipped.path, res.skipped.reason)) == {
        "alpha3.wav": "truncated", "alpha4.wav": "sample rate out of range", "alpha5.wav": "non-finite samples"}


# ---------------------------------------------------------------- D: keys checked before any audio

@pytest.fixture
def no_probe(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("audio was read before the keys were checked")
    monkeypatch.setattr(ingest_mod, "probe_file", boom)


def test_csv_keys_checked_before_audio(tmp_path, no_probe):
    root = tmp_path / "audio"
    write_wav(root / "a.wav", sine(300), 8000)
    csv = tmp_path / "meta.csv"
    pd.DataFrame({"filename": ["a.wav"], "category": ["dog"], "fold": ["1"]}).to_csv(csv, index=False)
    base = dict(layout="csv", pattern=None, manifest=str(csv), label="category")
    with pytest.raises(LayoutError, match=r"data.label = 'categroy' is not a column .*'category', 'fold'"):
        run(root, **{**base, "label": "categroy"})
    with pytest.raises(LayoutError, match=r"data.speaker = 'spk' is not a column"):
        run(root, **base, speaker="spk")
    with pytest.raises(LayoutError, match=r"data.fold = 'folds'"):
        run(root, **base, fold="folds")
    with pytest.raises(LayoutError, match=r"data.manifest: manifest CSV file not found"):
        run(root, **{**base, "manifest": str(tmp_path / "none.csv")})
    with pytest.raises(LayoutError, match=r"data.root: data root folder not found"):
        run(tmp_path / "gone", **base)


def test_regex_and_folders_keys_checked_before_audio(tmp_path, no_probe):
    write_wav(tmp_path / "dog" / "a.wav", sine(300), 8000)
    with pytest.raises(LayoutError, match=r"data.group = 'take' is not a named group of data.pattern .*\['who'\]"):
        run(tmp_path, group="take")
    with pytest.raises(LayoutError, match=r"data.speaker = 'speaker' is not a field of layout 'folders'"):
        run(tmp_path, layout="folders", pattern=None, label="folder", speaker="speaker")


def test_csv_duplicate_rows_conflicting_labels_refused(tmp_path):
    root = tmp_path / "audio"
    for i, f in enumerate((300, 400, 500, 600)):
        write_wav(root / f"{i}.wav", sine(f), 8000)
    csv = tmp_path / "meta.csv"
    pd.DataFrame({"filename": ["0.wav", "1.wav", "2.wav", "3.wav", "1.wav", "./2.wav", "../audio/3.wav"],
                  "category": ["dog", "cat", "dog", "cat", "dog", "dog", "cat"]}).to_csv(csv, index=False)
    res = run(root, layout="csv", pattern=None, manifest=str(csv), label="category")
    assert sorted(res.manifest.path) == ["0.wav", "2.wav", "3.wav"]
    reasons = dict(zip(res.skipped.path, res.skipped.reason))
    assert reasons == {"1.wav": "conflicting rows", "2.wav": "duplicate row", "3.wav": "duplicate row"}


# ---------------------------------------------------------------- split: one audio never in two splits

def test_split_refuses_the_same_audio_in_two_splits():
    seg = pd.DataFrame({"segment_id": [f"r{i}__0" for i in range(12)],
                        "source_id": [f"r{i}" for i in range(12)], "label_index": [0, 1] * 6,
                        "augmented": False, "audio_sha256": [f"h{i}" for i in range(12)]})
    make_split(seg, seed=0)  # distinct audio: fine
    seg.loc[5, "audio_sha256"] = "h0"
    split = pd.Series(["train"] * 11 + ["test"])
    check_content(seg, split)  # r0 and r5 both in train: fine
    split[5] = "test"
    with pytest.raises(SplitError, match=r"same audio .* r5 \(test\), r0 \(train\)"):
        check_content(seg, split)
    split[5] = "unused"
    check_content(seg, split)


def test_config_refuses_fields_a_folders_layout_lacks():
    from audiolens.config import parse_params
    from audiolens.errors import ConfigError

    with pytest.raises(ConfigError, match=r"data.speaker = 'speaker': layout 'folders' has only the field 'folder'"):
        parse_params({"data": {"layout": "folders", "label": "folder", "root": "x"}})
    assert parse_params({"data": {"layout": "folders", "label": "folder", "speaker": None, "root": "x"}})
