"""Each EDA figure renders a real PNG from small tables."""
from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from audiolens.eda import figures
from audiolens.eda.stats import image_stats


def _assert_png(path):
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert img[..., :3].std() > 0.01  # something was drawn


@pytest.fixture
def manifest():
    rng = np.random.default_rng(0)
    spk = [f"s{i}" for i in range(5) for _ in range(4)]
    return pd.DataFrame({"speaker": spk, "label": [("yes" if s in ("s1", "s3") else "no") for s in spk],
                         "duration_before_s": rng.uniform(3, 6, 20),
                         "duration_after_s": rng.uniform(1, 3, 20)})


def test_counts_durations_totals(tmp_path, manifest):
    _assert_png(figures.plot_counts(manifest, out=tmp_path / "counts.png"))
    _assert_png(figures.plot_counts(manifest.assign(speaker=""), out=tmp_path / "counts_nospk.png"))
    _assert_png(figures.plot_durations(manifest, out=tmp_path / "dur.png"))
    seg = pd.DataFrame({"label": ["yes", "no", "no", "yes"], "augmented": [False, False, False, True],
                        "seconds": [3.0, 3.0, 2.0, 3.0]})
    _assert_png(figures.plot_class_totals(seg, out=tmp_path / "totals.png"))


def test_spectra_pitch_stats_pairs(tmp_path):
    freqs = np.linspace(0, 4000, 129)
    spec = pd.DataFrame(np.abs(np.random.default_rng(1).normal(size=(3, 129))) + 1e-3,
                        index=["a", "b", "c"])
    _assert_png(figures.plot_spectra({"unprocessed": spec, "cleaned": spec * 0.5}, freqs,
                                     out=tmp_path / "spec.png"))
    frames = pd.DataFrame({"speaker": ["a"] * 5 + ["b"] * 5,
                           "f0_hz": [100, 110, np.nan, 105, 102, np.nan, np.nan, 200, 210, 190.0],
                           "voiced": [1, 1, 0, 1, 1, 0, 0, 1, 1, 1]})
    summary = pd.DataFrame({"speaker": ["a", "b"], "voiced_fraction": [0.8, 0.6]})
    _assert_png(figures.plot_pitch(frames, summary, out=tmp_path / "pitch.png"))
    imgs = np.random.default_rng(2).uniform(-80, 0, size=(12, 16, 20))
    st = image_stats(imgs, freqs[:16]).assign(label=["x", "y", "z"] * 4)
    _assert_png(figures.plot_image_stats(st, out=tmp_path / "stats.png"))
    many = st.assign(label=[f"c{i}" for i in range(12)])
    _assert_png(figures.plot_image_stats(many, out=tmp_path / "stats_many.png"))
    rows = [[{"image": imgs[0], "title": "a", "extent": (0, 3, 0, 4000), "ylabel": "Hz"},
             {"image": imgs[1][:8]}], [{"image": imgs[2]}]]
    _assert_png(figures.plot_pairs(rows, out=tmp_path / "pairs.png", col_titles=["linear", "mel"]))
    with pytest.raises(ValueError):
        figures.plot_pairs([], out=tmp_path / "none.png")


def test_natural_sorted_orders_numbers_numerically():
    assert figures.natural_sorted(["f10", "f2", "m1", "f1", "f2"]) == ["f1", "f2", "f10", "m1"]
    assert figures.natural_sorted([3, 20, 1]) == ["1", "3", "20"]
