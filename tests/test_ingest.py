import hashlib
import itertools
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audiolens.corpus.ingest import MANIFEST_COLUMNS, IngestError, IngestSettings, ingest
from audiolens.corpus.layouts import LayoutError

from conftest import write_wav

DAPS = r"(?P<speaker>[fm]\d+)_(?P<script>script\d+)_(?P<condition>\w+)\.(wav|flac|ogg)"
FSDD = r"(?P<digit>\d)_(?P<speaker>[a-z]+)_(?P<take>\d+)\.wav"


_FREQS = itertools.count()


def tone(sec=0.3, sr=8000, f=None):
    """A sine; without ``f`` each call gets a new frequency (distinct audio: no content duplicates)."""
    f = 200.0 + 11.0 * next(_FREQS) if f is None else f
    t = np.arange(int(sec * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def run(root, **kw):
    args = dict(root=root, layout="regex", pattern=DAPS, manifest=None, label="speaker", positive=None,
                class_names=None, speaker="speaker", group=None, fold=None, filename_column="filename",
                extensions=["wav", "flac", "ogg"], min_sample_rate=1000, max_sample_rate=384000, n_jobs=1)
    args.update(kw)
    return ingest(root=args.pop("root"), settings=IngestSettings(**args))


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
            h.update(str(os.stat(p).st_mtime_ns).encode())
    return h.hexdigest()


@pytest.fixture
def daps(tmp_path):
    root = tmp_path / "raw"
    for spk in ["f1", "f2", "m3", "m4"]:
        for s in (1, 2):
            write_wav(root / "clean" / f"{spk}_script{s}_clean.wav", tone(), 8000)
    # other formats, rates and channel counts are fine
    write_wav(root / "ipad" / "f1_script3_ipad_balcony1.flac", tone(sr=16000), 16000)
    write_wav(root / "ipad" / "m4_script3_ipad_office1.wav", np.stack([tone(f=300.0), tone(f=310.0)], 1), 8000)
    return root


def test_regex_layout_manifest_columns_and_fields(daps):
    res = run(daps)
    m = res.manifest
    assert list(m.columns) == MANIFEST_COLUMNS
    assert len(m) == 10 and res.skipped.empty
    assert sorted(m.speaker.unique()) == ["f1", "f2", "m3", "m4"]
    assert res.classes["class_names"] == ["f1", "f2", "m3", "m4"]
    row = m.set_index("path").loc["ipad/f1_script3_ipad_balcony1.flac"]
    assert row.sample_rate == 16000 and row.channels == 1 and row.label == "f1"
    assert row.id == "ipad__f1_script3_ipad_balcony1" and row.group == row.id
    assert m.set_index("path").loc["ipad/m4_script3_ipad_office1.wav"].channels == 2
    assert np.allclose(m.duration_s, 0.3)
    assert m.sha256.str.len().eq(64).all() and m.id.is_unique


def test_positive_list_gives_binary_gate(daps):
    res = run(daps, positive=["f1", "m3"], class_names=["rejected", "allowed"])
    m = res.manifest
    assert res.classes["class_names"] == ["rejected", "allowed"]
    assert set(m[m.label_index == 1].speaker) == {"f1", "m3"}
    assert set(m[m.label_index == 0].speaker) == {"f2", "m4"}
    assert (m.label == np.where(m.label_index == 1, "allowed", "rejected")).all()


def test_positive_matching_nothing_fails_clearly(daps):
    with pytest.raises(IngestError, match=r"no recordings.*positive labels \['x9'\]"):
        run(daps, positive=["x9"])


def test_bad_files_are_skipped_and_listed(daps):
    (daps / "clean" / "f2_script9_corrupt.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    (daps / "clean" / "f2_script8_empty.wav").write_bytes(b"")
    write_wav(daps / "clean" / "f2_script7_zero.wav", np.zeros(0, np.float32), 8000)
    write_wav(daps / "clean" / "f2_script6_nan.wav", np.array([0.1, np.nan, 0.0], np.float32), 8000,
              subtype="FLOAT")
    write_wav(daps / "clean" / "unrelated_name.wav", tone(), 8000)
    (daps / "clean" / "notes.txt").write_text("not audio, not considered")
    res = run(daps)
    reasons = dict(zip(res.skipped.path, res.skipped.reason))
    assert reasons == {
        "clean/f2_script9_corrupt.wav": "unreadable",
        "clean/f2_script8_empty.wav": "empty file",
        "clean/f2_script7_zero.wav": "zero-length",
        "clean/f2_script6_nan.wav": "non-finite samples",
        "clean/unrelated_name.wav": "name does not match the pattern",
    }
    assert len(res.manifest) == 10
    assert not set(reasons) & set(res.manifest.path)


def test_nothing_usable_fails_with_skipped_table(tmp_path):
    (tmp_path / "f1_script1_a.wav").write_bytes(b"")
    with pytest.raises(IngestError, match="no usable recordings") as err:
        run(tmp_path)
    assert list(err.value.skipped.reason) == ["empty file"]
    with pytest.raises(LayoutError, match="data root folder not found"):
        run(tmp_path / "missing")


def test_symlink_out_of_root_refused(daps, tmp_path):
    outside = write_wav(tmp_path / "secret" / "f9_script1_x.wav", tone(), 8000)
    (daps / "clean" / "f9_script1_x.wav").symlink_to(outside)
    res = run(daps)
    assert "clean/f9_script1_x.wav" not in set(res.manifest.path)
    assert res.skipped.set_index("path").loc["clean/f9_script1_x.wav", "reason"] == "path escapes data root"


def test_folders_layout(tmp_path):
    for label in ["dog", "cat"]:
        for i in range(2):
            write_wav(tmp_path / label / f"{i}.wav", tone(), 8000)
    write_wav(tmp_path / "loose.wav", tone(), 8000)
    res = run(tmp_path, layout="folders", pattern=None, label="folder", speaker=None)
    assert res.classes["class_names"] == ["cat", "dog"]
    assert dict(res.manifest.groupby("label").size()) == {"cat": 2, "dog": 2}
    assert list(res.skipped.reason) == ["not inside a class folder"]


def test_csv_layout_refuses_traversal_and_lists_missing(tmp_path):
    root = tmp_path / "audio"
    for name in ["1-a.wav", "2-b.wav", "3-c.wav"]:
        write_wav(root / name, tone(), 8000)
    write_wav(tmp_path / "outside.wav", tone(), 8000)
    csv = tmp_path / "meta.csv"
    pd.DataFrame({"filename": ["1-a.wav", "2-b.wav", "3-c.wav", "../outside.wav", "4-gone.wav",
                               str(tmp_path / "outside.wav")],
                  "category": ["dog", "cat", "dog", "dog", "cat", "cat"],
                  "fold": ["1", "2", "3", "1", "2", "3"], "src": ["s1", "s1", "s2", "s3", "s4", "s5"]}
                 ).to_csv(csv, index=False)
    res = run(root, layout="csv", pattern=None, manifest=str(csv), label="category", speaker=None,
              group="src", fold="fold")
    m = res.manifest
    assert sorted(m.path) == ["1-a.wav", "2-b.wav", "3-c.wav"]
    assert list(m.sort_values("path").fold) == ["1", "2", "3"]
    assert list(m.sort_values("path").group) == ["s1", "s1", "s2"]
    reasons = dict(zip(res.skipped.path, res.skipped.reason))
    assert reasons["../outside.wav"] == "path escapes data root"
    assert reasons[str(tmp_path / "outside.wav")] == "path escapes data root"
    assert reasons["4-gone.wav"] == "missing file"


def test_class_names_restrict_and_order(daps):
    res = run(daps, class_names=["m3", "f1"])
    assert res.classes["class_names"] == ["m3", "f1"]
    assert set(res.manifest.label) == {"m3", "f1"}
    assert (res.skipped.reason == "label not in class_names").sum() == 5


def test_parallel_equals_serial_and_raw_untouched(daps):
    for i in range(40):
        write_wav(daps / "more" / f"m3_script{10 + i}_clean.wav", tone(sec=0.1 + i / 100), 8000)
    before = tree_digest(daps)
    a = run(daps, n_jobs=1).manifest
    b = run(daps, n_jobs=2).manifest
    pd.testing.assert_frame_equal(a, b)
    assert tree_digest(daps) == before


@pytest.mark.shared
def test_fsdd_regex_layout(shared_data):
    root = shared_data / "fsdd" / "recordings"
    res = run(root, pattern=FSDD, n_jobs=2)
    assert len(res.manifest) == 3000 and res.skipped.empty
    assert res.manifest.speaker.nunique() == 6
    gate = run(root, pattern=FSDD, positive=["george", "jackson"], n_jobs=2).manifest
    assert set(gate.label_index) == {0, 1}
    assert (gate.label_index == gate.speaker.isin(["george", "jackson"]).astype(int)).all()
    assert (gate.label_index == 1).sum() == 1000


@pytest.mark.shared
def test_esc50_csv_layout(shared_data, tmp_path):
    root = shared_data / "esc50_samples"
    ids = {"car_horn": "2-100648-A-43", "cat": "5-177614-A-5", "clapping": "2-76408-D-22",
           "crow": "1-56234-A-9", "dog": "3-157695-A-0", "sea_waves": "4-182613-A-11"}
    csv = tmp_path / "esc50.csv"
    pd.DataFrame({"filename": [f"{k}.wav" for k in ids], "category": list(ids),
                  "fold": [v.split("-")[0] for v in ids.values()]}).to_csv(csv, index=False)
    res = run(root, layout="csv", pattern=None, manifest=str(csv), label="category", speaker=None, fold="fold")
    m = res.manifest
    assert len(m) == 6 and res.classes["class_names"] == sorted(ids)
    assert (m.sample_rate == 44100).all() and np.allclose(m.duration_s, 5.0)
    assert sorted(m.fold) == ["1", "2", "2", "3", "4", "5"]
