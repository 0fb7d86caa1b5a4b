import os

import numpy as np
import pytest

from audiolens.io import (AudioReadError, PathEscapeError, atomic_dir, atomic_path, atomic_write_text,
                          read_audio, resolve_inside)

from conftest import write_wav


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.txt"]


def test_atomic_dir_swaps_only_when_complete(tmp_path):
    d = tmp_path / "d"
    with atomic_dir(d) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(ValueError):
        with atomic_dir(d) as tmp:
            (tmp / "b").write_text("2")
            raise ValueError
    assert sorted(os.listdir(d)) == ["a"] and sorted(os.listdir(tmp_path)) == ["d"]


def test_resolve_inside_refuses_escapes(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.wav").write_bytes(b"x")
    assert resolve_inside(root, "sub/a.wav") == (root / "sub" / "a.wav").resolve()
    for bad in ["../x.wav", "sub/../../x.wav", str(tmp_path / "elsewhere.wav")]:
        with pytest.raises(PathEscapeError, match="escapes"):
            resolve_inside(root, bad)
    (tmp_path / "outside.wav").write_bytes(b"x")
    (root / "link.wav").symlink_to(tmp_path / "outside.wav")
    with pytest.raises(PathEscapeError):
        resolve_inside(root, "link.wav")


def test_read_audio_mono_and_errors(tmp_path):
    st = np.stack([np.full(100, 0.5), np.full(100, -0.25)], axis=1).astype(np.float32)
    p = write_wav(tmp_path / "s.wav", st, 8000, subtype="FLOAT")
    y, sr = read_audio(p)
    assert sr == 8000 and y.shape == (100,) and np.allclose(y, 0.125)
    y2, _ = read_audio(p, mono=False)
    assert y2.shape == (100, 2)
    nan = write_wav(tmp_path / "n.wav", np.array([0.1, np.nan, 0.2], np.float32), 8000, subtype="FLOAT")
    with pytest.raises(AudioReadError, match="non-finite"):
        read_audio(nan)
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioReadError, match="empty file"):
        read_audio(empty)


def test_slug_is_file_name_safe():
    from audiolens.io import slug

    assert slug("yes") == "yes" and slug("conv2d_1/kernel:0") == "conv2d_1_kernel_0"
    assert slug("../../etc") == "etc" and slug("_background_noise_") == "background_noise"
    assert slug("..") == "_" and slug("") == "_"
    assert len(slug("a" * 200)) == 80 and slug("a b\tc") == "a_b_c"


def test_skipped_columns_are_one_tuple_shared_by_the_stages():
    from audiolens.corpus import ingest
    from audiolens.io import SKIPPED_COLUMNS
    from audiolens.prep import common

    assert SKIPPED_COLUMNS == ("id", "path", "reason", "detail")
    assert ingest.SKIPPED_COLUMNS is SKIPPED_COLUMNS and common.SKIPPED_COLUMNS is SKIPPED_COLUMNS
