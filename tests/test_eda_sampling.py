"""Bounded, seeded samples."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audiolens.eda.sampling import balanced_quota, choose_groups, sample_balanced, sample_seconds_per_group


@given(st.dictionaries(st.text("abcdef", min_size=1, max_size=3), st.integers(0, 50), max_size=6),
       st.integers(0, 200))
def test_balanced_quota_properties(counts, total):
    q = balanced_quota(counts, total)
    assert sum(q.values()) == min(total, sum(counts.values()))
    assert all(0 <= q[k] <= counts[k] for k in counts)
    # evenness: a group below its size never has fewer than another group minus one
    for k in counts:
        if q[k] < counts[k]:
            assert all(q[j] <= q[k] + 1 for j in counts)


def test_sample_balanced_is_bounded_even_and_seeded():
    table = pd.DataFrame({"label": ["a"] * 90 + ["b"] * 8 + ["c"] * 30, "x": range(128)})
    s1 = sample_balanced(table, by="label", total=40, seed=3)
    s2 = sample_balanced(table, by="label", total=40, seed=3)
    assert len(s1) == 40 and s1.equals(s2)
    assert s1["label"].value_counts().to_dict() == {"a": 16, "c": 16, "b": 8}
    assert s1.index.is_monotonic_increasing
    assert len(sample_balanced(table, by="label", total=500, seed=0)) == 128
    with pytest.raises(ValueError, match="column missing"):
        sample_balanced(table, by="speaker", total=4, seed=0)


def test_sample_seconds_per_group_respects_budget():
    table = pd.DataFrame({"speaker": ["s1"] * 10 + ["s2"] * 2,
                          "duration_s": [2.0] * 10 + [1.0, 1.5]})
    out = sample_seconds_per_group(table, by="speaker", seconds=5.0, seed=0)
    per = out.groupby("speaker")["take_s"].sum()
    assert per["s1"] == pytest.approx(5.0) and (out["speaker"] == "s1").sum() == 3
    assert per["s2"] == pytest.approx(2.5)  # all it has
    capped = sample_seconds_per_group(table, by="speaker", seconds=100.0, seed=0, max_rows=2)
    assert capped["speaker"].value_counts().to_dict() == {"s1": 2, "s2": 2}
    again = sample_seconds_per_group(table, by="speaker", seconds=5.0, seed=0)
    assert out.equals(again)


def test_choose_groups_bounds_and_is_seeded():
    vals = pd.Series([f"s{i}" for i in range(30)] * 2)
    assert choose_groups(vals.head(5), max_groups=10, seed=0) == ["s0", "s1", "s2", "s3", "s4"]
    a = choose_groups(vals, max_groups=7, seed=1)
    assert len(a) == 7 and a == sorted(a) and set(a) <= set(vals)
    assert a == choose_groups(vals, max_groups=7, seed=1)
    with pytest.raises(ValueError):
        choose_groups(vals, max_groups=0, seed=0)
