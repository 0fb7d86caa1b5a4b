"""Segment planning: counts and the tail table at edge lengths, overlap, real FSDD lengths."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiolens.segments import (SEGMENT_COLUMNS, TAIL_COLUMNS, SegmentSettings, read_table, segment_bounds,
                                segment_table)

L = 24000  # 3 s at 8 kHz


@pytest.mark.parametrize("n, tail, n_seg, tail_samples, action, last_pad", [
    (0, "pad", 0, 0, "empty", None),
    (0, "drop", 0, 0, "empty", None),
    (100, "pad", 1, 100, "padded", L - 100),            # under one segment
    (100, "drop", 0, 100, "dropped", None),
    (100, "keep", 0, 100, "dropped", None),              # below min_tail (8000)
    (9000, "keep", 1, 9000, "padded", L - 9000),         # above min_tail
    (3 * L, "pad", 3, 0, "none", 0),                     # exact multiple
    (3 * L, "drop", 3, 0, "none", 0),
    (3 * L + 1, "pad", 4, 1, "padded", L - 1),           # one sample over
    (3 * L + 1, "drop", 3, 1, "dropped", 0),
    (3 * L + 1, "keep", 3, 1, "dropped", 0),
    (L - 1, "pad", 1, L - 1, "padded", 1),
    (L, "keep", 1, 0, "none", 0),
])
def test_segment_counts_and_tails_at_edge_lengths(n, tail, n_seg, tail_samples, action, last_pad):
    plan = segment_bounds(n, length=L, tail=tail, min_tail=8000)
    assert len(plan.starts) == n_seg
    assert plan.tail == tail_samples and plan.tail_action == action
    assert plan.starts.tolist() == [k * L for k in range(n_seg)]
    if last_pad is not None:
        assert max(0, plan.starts[-1] + L - n) == last_pad
    recs = pd.DataFrame([{"recording_id": "r", "source_id": "r", "n_samples": n, "label": "a",
                          "label_index": 0, "speaker": "", "group": "r", "fold": ""}])
    segs, tails = segment_table(recs, settings=SegmentSettings(sample_rate=8000, length_s=3.0, hop_s=None, tail=tail,
                                min_tail_s=1.0), audio_dir="data/interim/clean")
    assert list(segs.columns) == SEGMENT_COLUMNS and list(tails.columns) == TAIL_COLUMNS
    assert len(segs) == n_seg and tails.iloc[0]["n_segments"] == n_seg
    assert tails.iloc[0]["tail_samples"] == tail_samples and tails.iloc[0]["tail_action"] == action
    assert tails.iloc[0]["tail_s"] == pytest.approx(tail_samples / 8000)
    if n_seg:
        assert segs["segment_id"].tolist() == [f"r__{k}" for k in range(n_seg)]
        assert (segs["end"] - segs["start"] == L).all()
        assert segs["pad"].iloc[-1] == last_pad and (segs["pad"].iloc[:-1] == 0).all()
        assert not segs["augmented"].any() and (segs["factor"] == 1.0).all()


def test_overlapping_hop():
    plan = segment_bounds(10, length=4, hop=2, tail="pad")
    assert plan.starts.tolist() == [0, 2, 4, 6] and plan.tail_action == "none"
    plan = segment_bounds(11, length=4, hop=2, tail="pad")
    assert plan.starts.tolist() == [0, 2, 4, 6, 8] and plan.tail == 3
    plan = segment_bounds(11, length=4, hop=2, tail="drop")
    assert plan.starts.tolist() == [0, 2, 4, 6] and plan.tail_action == "dropped"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="hop"):
        segment_bounds(10, length=4, hop=5, tail="pad")
    with pytest.raises(ValueError, match="length"):
        segment_bounds(10, length=0, tail="pad")
    with pytest.raises(ValueError, match="tail"):
        segment_bounds(10, length=4, tail="trim")


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 5000), length=st.integers(1, 700), hop_frac=st.floats(0.1, 1.0),
       tail=st.sampled_from(["drop", "pad", "keep"]), min_tail=st.integers(0, 700))
def test_segment_plan_properties(n, length, hop_frac, tail, min_tail):
    hop = max(1, int(length * hop_frac))
    plan = segment_bounds(n, length=length, hop=hop, tail=tail, min_tail=min_tail)
    s = plan.starts
    assert (np.diff(s) == hop).all() and (s < max(n, 1)).all()
    full = s[s + length <= n]
    assert len(full) == (0 if n < length else (n - length) // hop + 1)   # every full segment is taken
    assert len(s) - len(full) <= 1                                         # at most one padded tail
    if tail == "pad" and n > 0:
        assert len(s) >= 1 and s[-1] + length >= n                         # pad covers every sample
    if tail == "drop":
        assert (s + length <= n).all()


def test_read_table_keeps_strings(tmp_path):
    frame = pd.DataFrame({"segment_id": ["007__0"], "label": ["0"], "speaker": [""], "fold": [""],
                          "start": [0], "augmented": [True]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    back = read_table(tmp_path / "t.csv", columns=["segment_id"])
    assert back.loc[0, "segment_id"] == "007__0" and back.loc[0, "label"] == "0"
    assert back.loc[0, "speaker"] == "" and bool(back.loc[0, "augmented"]) is True
    with pytest.raises(ValueError, match="missing column"):
        read_table(tmp_path / "t.csv", columns=["nope"])


@pytest.mark.shared
@pytest.mark.parametrize("length_s", [0.5, 1.0, 3.0])
def test_every_fsdd_clip_gives_at_least_one_padded_segment(shared_data, length_s):
    import soundfile as sf

    files = sorted((shared_data / "fsdd" / "recordings").glob("*.wav"))
    assert len(files) == 3000
    n = [sf.info(str(f)).frames for f in files]
    recs = pd.DataFrame({"recording_id": [f.stem for f in files], "source_id": [f.stem for f in files],
                         "n_samples": n, "label": [f.stem.split("_")[1] for f in files],
                         "label_index": 0, "speaker": "", "group": "", "fold": ""})
    segs, tails = segment_table(recs, settings=SegmentSettings(sample_rate=8000, length_s=length_s, hop_s=None, tail="pad",
                                min_tail_s=0.0), audio_dir="x")
    per_rec = segs.groupby("recording_id").size()
    assert len(per_rec) == 3000 and per_rec.min() >= 1                    # none lost
    assert (tails["n_segments"] >= 1).all()
    first = segs.drop_duplicates("recording_id").set_index("recording_id")
    short = recs.set_index("recording_id")["n_samples"] < int(length_s * 8000)
    assert (first.loc[short[short].index, "pad"] > 0).all()               # short clips padded
    covered = segs.groupby("recording_id")["end"].max() - segs.groupby("recording_id")["pad"].sum()
    assert (covered.reindex(recs["recording_id"]).to_numpy() >= np.asarray(n)).all()
