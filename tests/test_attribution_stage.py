"""The attribution stage's analysis end to end on a tiny synthetic feature folder and model."""
from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audiolens.attribution.explainers import probabilities
from audiolens.attribution.settings import AttributionSettings
from audiolens.attribution.stage import run, select_examples
from audiolens.bootstrap import BootstrapSettings
from audiolens.features import spectrogram_db
from audiolens.shards import FeatureStore, ShardWriter
from conftest import small_cnn, spectrogram_settings

SR, L = 8000, 2000
CFG = spectrogram_settings(kind="linear", sample_rate=SR, n_fft=64, hop_length=16)


def tiny_model(shape) -> keras.Model:
    return small_cnn(shape, n_classes=2, conv2=4, dense=6)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("att")
    rng = np.random.default_rng(0)
    t = np.arange(L) / SR
    rows, audio = [], []
    for i in range(12):
        label = i % 2
        y = 0.5 * np.sin(2 * np.pi * (2500 if label else 600) * t) + 0.05 * rng.standard_normal(L)
        if i == 11:
            y[:] = 0.0        # a silent segment: reported, not a crash
        rid = f"rec{i}"
        (root / "clean").mkdir(exist_ok=True)
        sf.write(root / "clean" / f"{rid}.wav", y.astype(np.float32), SR, subtype="FLOAT")
        rows.append({"segment_id": f"{rid}__0", "recording_id": rid, "audio_dir": "clean", "start": 0, "end": L,
                     "label": str(label), "label_index": label})
        audio.append(y.astype(np.float32))
    db, ref = spectrogram_db(np.stack(audio), config=CFG)
    feat = root / "features"
    w = ShardWriter(feat, n_rows=len(db), shape=db.shape[1:], shard_size=5)
    w.append(db)
    w.close()
    shard, row = w.locations()
    index = pd.DataFrame(rows).assign(shard=shard, row=row, ref_amplitude=ref)
    index.to_csv(feat / "index.csv", index=False)
    meta = {**CFG.to_dict(), "shape": list(db.shape[1:]), "class_names": ["low", "high"]}
    (feat / "meta.json").write_text(json.dumps(meta))
    return root, FeatureStore(feat)


def settings(**over):
    s = dict(explainers=["saliency", "integrated_gradients", "occlusion", "gradcam", "lime", "shap"],
             masks=["minmax", "top30"], headline_mask="top30", n_examples=4, floor_db=None, fill="shuffle",
             target="log_odds",
             curve_steps=4, random_draws=10,
             baseline_db=None, smoothgrad_samples=2, smoothgrad_noise=0.1, ig_steps=4, occlusion_patch=0.25,
             lime_samples=20, lime_grid_freq=4, lime_grid_time=4, shap_background=3, shap_samples=4,
             gradcam_signed=False, roundtrip_examples=2, roundtrip_all_masks=True, wav_examples=1, figure_examples=1,
             sanity_examples=2,
             sanity_explainers=["saliency"], sanity_layers=2, noise_files=[], white_noise=True,
             snr_db=[10.0, 0.0], noise_examples=6, noise_explainers=["saliency"], ece_bins=5, seed=0)
    s.update(over)
    return {"settings": AttributionSettings(**s), "bootstrap": BootstrapSettings(resamples=200, seed=0)}


def test_select_examples_stratified_and_deterministic():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 1)
    sel = select_examples(labels, 6, seed=1)
    assert len(sel) == 6 and len(set(sel)) == 6
    assert sorted(np.bincount(labels[sel], minlength=3)) == [1, 2, 3]     # round robin: 2, 3?, 1
    np.testing.assert_array_equal(sel, select_examples(labels, 6, seed=1))
    assert len(select_examples(labels, 100)) == 14


def test_run_writes_tables_figures_wavs(corpus, tmp_path):
    root, store = corpus
    model = tiny_model(store.shape)
    test = np.arange(8, 12)            # includes the silent segment 11
    train = np.arange(0, 8)
    out = tmp_path / "out"
    head = run(model=model, store=store, test_positions=test, train_positions=train, config=CFG,
                           out_dir=out, audio_root=root, **settings())
    fid = pd.read_csv(out / "fidelity.csv")
    # 6 explainers x 2 masks, spectral and audio domains, + the shared random row of top30 (spectral)
    assert set(fid["domain"]) == {"spectral", "audio"}
    assert len(fid) == 6 * 2 * 2 + 1 and (fid.loc[fid["domain"] == "spectral", "n"] == 4).all()
    spec = fid[fid["domain"] == "spectral"]
    assert spec["rand_FF"].notna().all() and spec["gain_FF"].notna().all()
    rnd = spec[spec["explainer"] == "random"].iloc[0]
    assert rnd["mask"] == "top30" and rnd["FF"] == pytest.approx(rnd["rand_FF"])
    top = spec[(spec["mask"] == "top30") & (spec["explainer"] != "random")]
    # every explainer's top30 control is the shared random row (same k) unless its map is constant
    shared = top[top["mask_mean"] > 0]
    np.testing.assert_allclose(shared["rand_FF"], rnd["FF"])
    # SPS is the map's, not the mask's: it differs between explainers (binary top30 would give 0.7 for all)
    assert spec.groupby("explainer")["SPS"].first().dropna().nunique() > 1
    curves = pd.read_csv(out / "curves.csv")
    assert set(curves["explainer"]) == {*head["explainers"]} and (curves["n"] == 4).all()
    assert curves.loc[curves["explainer"] == "random", "deletion_gain"].iloc[0] == 0
    diag = pd.read_csv(out / "diagnostics.csv")
    assert {"ig_completeness_error", "ig_completeness_rel", "lime_r2"} <= set(diag.columns) and len(diag) == 4
    assert (fid.loc[fid["domain"] == "audio", "n"] == 2).all()
    assert fid["FF"].between(-1, 1).all() and fid["AD"].between(0, 100).all()
    assert (out / "fidelity.md").read_text().startswith("# Fidelity")
    skipped = pd.read_csv(out / "skipped.csv")
    assert "rec11__0" in set(skipped["id"]) and "silent segment" in set(skipped["reason"])
    wavs = sorted(p.name for p in (out / "wav").glob("*.wav"))
    assert len(wavs) == 6 * 3 and any(w.endswith("_masked_out.wav") for w in wavs)
    assert len(list((out / "figures").glob("example_*.png"))) == 1
    for f in ("fidelity_spectral.png", "fidelity_audio.png", "sanity.png", "noise.png", "deletion_insertion.png"):
        assert (out / "figures" / f).stat().st_size > 1000, f
    # the all-ones mask gives the segment audio back (overlapping STFT)
    assert head["reconstruction_error_db"] < -40
    sanity = pd.read_csv(out / "sanity.csv")
    assert list(sanity["layer"]) == ["none", "logits", "embedding"]
    # noise: the clean condition re-computes the stored spectrograms -> same accuracy as the model on them
    perf = pd.read_csv(out / "noise_performance.csv")
    assert list(perf["noise"]) == ["clean", "white", "white"] and list(perf["n"]) == [3, 3, 3]
    noise_pos = [p for p in range(12) if p in set(test) and p != 11]
    x = store.get(noise_pos)
    acc = float(np.mean(probabilities(model)(x).argmax(1) == store.index["label_index"].to_numpy()[noise_pos]))
    assert perf["accuracy"].iloc[0] == pytest.approx(acc)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(head))
    assert set(metrics["explainers"]) == {"saliency", "integrated_gradients", "occlusion", "gradcam", "lime", "shap",
                                          "random"}
    sal = metrics["explainers"]["saliency"]
    assert "audio_FF" in sal and "sanity_spearman_abs" in sal and sal["sanity_status"] in ("ok", "degenerate")
    assert {"deletion_auc", "insertion_auc", "FF", "AD", "n", "n_recordings", "ci95", "vs_random"} <= set(sal)
    assert sal["n"] == 4 and sal["n_recordings"] == 4
    # grouped bootstrap intervals beside the values, paired differences against the control
    assert {"deletion_auc", "insertion_auc", "FF"} <= set(sal["ci95"])
    assert sal["ci95"]["deletion_auc"]["lo"] <= sal["deletion_auc"] <= sal["ci95"]["deletion_auc"]["hi"]
    vs = sal["vs_random"]["deletion_auc"]
    assert set(vs) == {"diff", "lo", "hi", "distinguishable", "verdict"}
    assert vs["diff"] == pytest.approx(sal["deletion_auc"] - metrics["explainers"]["random"]["deletion_auc"], abs=1e-4)
    pairs = metrics["comparisons"]
    assert len(pairs) == 15 and set(pairs["saliency vs integrated_gradients"]) == {"deletion_auc", "insertion_auc"}
    cmp = pd.read_csv(out / "comparisons.csv")
    assert set(cmp["metric"]) == {"deletion_auc", "insertion_auc", "FF", "AD", "AI", "fid_in"}
    assert set(cmp["verdict"]) <= {"not distinguishable", *(f"{e} better" for e in metrics["explainers"])}
    assert "completeness_error_rel" in metrics["explainers"]["integrated_gradients"]
    assert "fit_r2" in metrics["explainers"]["lime"]
    assert set(metrics["noise"]) == {"clean", "white@10dB", "white@0dB"}


@pytest.mark.shared
def test_run_with_real_noise_files(corpus, tmp_path, shared_data):
    import soundfile as sf_

    root, store = corpus
    files = sorted(str(p) for p in (shared_data / "noises").glob("*.wav"))
    assert sum(sf_.info(f).channels == 2 for f in files) == 2
    head = run(model=tiny_model(store.shape), store=store, test_positions=np.arange(6, 12),
                           train_positions=np.arange(0, 6), config=CFG, out_dir=tmp_path, audio_root=root,
                           **settings(explainers=["saliency"], roundtrip_examples=0, wav_examples=0,
                                      figure_examples=0, sanity_examples=0, noise_files=files, white_noise=False,
                                      snr_db=[3.5]))
    perf = pd.read_csv(tmp_path / "noise_performance.csv")
    stems = [p.rsplit("/", 1)[-1][:-4] for p in files]
    assert list(perf["noise"]) == ["clean", *stems] and (perf["n"] == 5).all()
    assert set(head["noise"]) == {"clean", *(f"{s}@3.5dB" for s in stems)}
    nf = pd.read_csv(tmp_path / "noise_fidelity.csv")
    assert len(nf) == 4 and nf["FF"].notna().all()


@pytest.mark.parametrize("bad,msg", [
    ({"masks": ["top30", "nope"]}, "unknown mask kind 'nope'"),
    ({"masks": ["top0"], "headline_mask": "top0"}, "percentage"),
    ({"masks": ["minmax"]}, "headline_mask 'top30' must be one of"),
    ({"explainers": []}, "at least one explainer"),
    ({"noise_explainers": ["gradcam", "magic"]}, "unknown explainer"),
    ({"target": "softmax"}, "attribution.target"),
    ({"fill": "blur"}, "attribution.fill"),
])
def test_attribution_params_are_validated(bad, msg):
    from audiolens.config import ConfigError, parse_params

    with pytest.raises(ConfigError, match=msg):
        parse_params({"attribution": bad})
    # defaults (and every canonical mask kind) validate
    from audiolens.attribution.masks import MASK_KINDS
    assert parse_params({"attribution": {"masks": list(MASK_KINDS)}}).attribution.headline_mask == "top30"
