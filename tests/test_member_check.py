"""Per-member ensemble metrics and the documented outlier rule on constructed numbers."""
from __future__ import annotations

import numpy as np
import pytest

from audiolens.uncertainty.member_check import member_metrics, outlier_members


def test_outlier_rule_flags_the_weak_member_only():
    # the demo's pattern: four members near 0.12, one at 0.184
    nll = {0: 0.122, 1: 0.118, 2: 0.125, 3: 0.184, 4: 0.120}
    out = outlier_members(nll, z=3.0)
    assert [o["member"] for o in out] == [3]
    o = out[0]
    assert o["median"] == pytest.approx(0.122)
    # robust SD = max(1.4826 * MAD, 5 % of the median); MAD = median |x - 0.122| = 0.002
    assert o["robust_sd"] == pytest.approx(max(1.4826 * 0.002, 0.05 * 0.122))
    assert o["z"] == pytest.approx((0.184 - 0.122) / o["robust_sd"])
    # a higher bar lets it pass
    assert outlier_members(nll, z=o["z"] + 0.1) == []


def test_outlier_rule_is_quiet_for_similar_members_and_few_members():
    assert outlier_members({0: 0.100, 1: 0.101, 2: 0.100, 3: 0.102}, z=3.0) == []  # spread floor
    assert outlier_members({0: 0.1, 1: 0.1, 2: 0.1}, z=3.0) == []  # identical: MAD 0, floor 5 %
    assert outlier_members({0: 0.1, 1: 0.9}, z=3.0) == []  # fewer than 3 members: no rule
    # a better-than-median member is never an outlier (one-sided)
    assert outlier_members({0: 0.3, 1: 0.3, 2: 0.31, 3: 0.01}, z=3.0) == []


def test_member_metrics_score_each_member_alone():
    y = np.array([0, 1, 1, 0])
    good = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.8, 0.2]])
    bad = good[:, ::-1]
    rows = member_metrics(np.stack([good, bad]), y, [0, 7], bins=5)
    assert [r["member"] for r in rows] == [0, 7]
    assert rows[0]["accuracy"] == 1.0 and rows[1]["accuracy"] == 0.0
    assert rows[0]["nll"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.9, 0.8])))
    assert rows[1]["nll"] > rows[0]["nll"]
    with pytest.raises(ValueError, match="member ids"):
        member_metrics(np.stack([good]), y, [0, 1], bins=5)
