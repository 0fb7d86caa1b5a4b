"""The attribution stage's analysis: explain, mask, measure, reconstruct, sanity-check, contaminate.

:func:`run` takes the loaded model, the chosen test examples (dB spectrograms,
labels, segment audio) and a train background, and writes tables, figures and WAVs into
``out_dir`` (see :mod:`audiolens.attribution.report`). Every sample size is a field of
:class:`~audiolens.attribution.settings.AttributionSettings` (bounded in params).
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from audiolens.attribution.explainers import explain, probabilities
from audiolens.attribution.frames import curves_frame, fidelity_frame, roundtrip_frame
from audiolens.attribution.masks import fill_state, make_masks
from audiolens.attribution.reconstruct import error_db, masked_audio
from audiolens.attribution.registry import explainer_options
from audiolens.attribution.settings import AttributionSettings
from audiolens.bootstrap import BootstrapSettings
from audiolens.errors import DataError
from audiolens.features import SpectrogramConfig, read_segment_audio, spectrogram_db
from audiolens.io import SKIPPED_COLUMNS, atomic_write_csv, atomic_write_json

__all__ = ["select_examples", "compute_maps", "reconstruction_errors", "featurize", "run"]

#: explainers whose functions fill a ``diagnostics`` dict (IG: completeness error; LIME: R²)
DIAGNOSED = ("integrated_gradients", "lime")

log = logging.getLogger("audiolens.attribution")


def select_examples(labels: np.ndarray, n: int, *, seed: int = 0) -> np.ndarray:
    """Up to ``n`` positions, stratified by class (round-robin over a seeded shuffle per class).

    Returns positions sorted ascending (deterministic for the same inputs).
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(np.flatnonzero(labels == k))) for k in np.unique(labels)]
    out: list[int] = []
    while len(out) < min(n, len(labels)):
        for pool in pools:
            if pool and len(out) < n:
                out.append(int(pool.pop(0)))
    return np.sort(np.asarray(out, dtype=np.int64))


def compute_maps(model, x: np.ndarray, c: np.ndarray, explainers: Sequence[str], kwargs: dict[str, dict],
                 diagnostics: dict[str, dict] | None = None
                 ) -> tuple[dict[str, np.ndarray], dict[str, float], list[dict]]:
    """Maps of every explainer; an explainer that fails is listed (``skipped``) and left out.

    ``diagnostics``, when given, receives per explainer of :data:`DIAGNOSED` the dict its
    function fills (IG: ``completeness_error``, ``delta_f``; LIME: ``r2``; arrays ``(n,)``).

    Returns
    -------
    maps : {name: (n, F, T)}, seconds : {name: float}, skipped : list of dict rows
        (``id, path, reason, detail``).
    """
    maps, seconds, skipped = {}, {}, []
    for name in explainers:
        t0 = time.perf_counter()
        opts = dict(kwargs[name])
        if diagnostics is not None and name in DIAGNOSED:
            opts["diagnostics"] = diagnostics.setdefault(name, {})
        try:
            maps[name] = explain(name, model, x, class_index=c, **opts)
        except Exception as exc:  # one broken explainer must not hide the others
            log.warning("explainer %s failed: %s", name, exc)
            skipped.append({"id": name, "path": "", "reason": "explainer failed", "detail": str(exc)[:300]})
            continue
        seconds[name] = round(time.perf_counter() - t0, 3)
        log.info("%-21s %d maps in %.2f s", name, len(x), seconds[name])
    return maps, seconds, skipped


def reconstruction_errors(x: np.ndarray, *, config: SpectrogramConfig, ref_amplitude: np.ndarray,
                          audio: list[np.ndarray]) -> np.ndarray:
    """dB error of the all-ones-mask reconstruction against the segment audio, per example."""
    out = []
    for xi, ref, y in zip(x, ref_amplitude, audio):
        rec = masked_audio(xi, np.ones_like(xi), config=config, ref_amplitude=float(ref), source_audio=y,
                           length=len(y))["masked_in"]
        out.append(error_db(y, rec) if np.any(y) else float("nan"))
    return np.asarray(out)


def featurize(audio: np.ndarray, *, config: SpectrogramConfig, shape: tuple[int, int]) -> np.ndarray:
    """dB spectrograms ``(n, F, T)`` of equal-length audio ``(n, L)``, checked against the model's shape."""
    db = spectrogram_db(audio, config=config, mel_basis=config.mel_basis() if config.kind == "mel" else None)[0]
    if db.shape[1:] != tuple(shape):
        raise ValueError(f"recomputed spectrogram shape {db.shape[1:]} differs from the features' {tuple(shape)}")
    return db


def _read_audio(rows: pd.DataFrame, root: str | Path, skipped: list[dict]) -> list[np.ndarray | None]:
    out = []
    for row in rows.to_dict(orient="records"):
        path = Path(root) / str(row["audio_dir"]) / f"{row['recording_id']}.wav"
        try:
            y = read_segment_audio(row, root=root)
        except (OSError, ValueError) as exc:
            skipped.append({"id": row["segment_id"], "path": str(path), "reason": "segment audio unreadable",
                            "detail": str(exc)[:300]})
            y = None
        else:
            if not np.any(y):
                skipped.append({"id": row["segment_id"], "path": str(path), "reason": "silent segment",
                                "detail": "audio round trip and noise mixing need a non-silent segment"})
                y = None
        out.append(y)
    return out


def run(*, model, store, test_positions: np.ndarray, train_positions: np.ndarray,
        config: SpectrogramConfig, out_dir: str | Path, audio_root: str | Path,
        settings: AttributionSettings, bootstrap: BootstrapSettings | None = None) -> dict:
    """Run the whole analysis on a bounded sample of the test split and write ``out_dir``.

    Parameters
    ----------
    model, store
        The loaded model and the :class:`~audiolens.shards.FeatureStore`.
    test_positions, train_positions : ndarray of int
        Store positions of the test split and of the train split (SHAP background).
    config : SpectrogramConfig
        The features' STFT settings (audio round trip).
    out_dir, audio_root : path
        Output folder; folder the segment tables' ``audio_dir`` is relative to.
    settings : AttributionSettings
    bootstrap : BootstrapSettings or None
        Grouped bootstrap over recordings for every fidelity interval and comparison
        (:mod:`audiolens.attribution.intervals`); None: means without intervals.

    Returns
    -------
    dict
        The headline metrics (also written to ``out_dir/metrics.json``).
    """
    from audiolens.attribution import report as rep
    from audiolens.evaluation.noise import noise_robustness, noise_sources
    from audiolens.attribution.reconstruct import write_example_wavs
    from audiolens.attribution.sanity import cascading_randomisation

    out, s = Path(out_dir), settings
    (out / "figures").mkdir(parents=True, exist_ok=True)
    skipped: list[dict] = []
    index = store.index
    labels_all = index["label_index"].to_numpy(dtype=int)
    pos = np.asarray(test_positions)[select_examples(labels_all[test_positions], s.n_examples, seed=s.seed)]
    if len(pos) == 0:
        raise DataError("the test split is empty: nothing to explain")
    x, y, rows = store.get(pos), labels_all[pos], index.iloc[pos].reset_index(drop=True)
    ids = rows["segment_id"].astype(str).tolist()
    bg_pos = np.asarray(train_positions)[select_examples(labels_all[train_positions], s.shap_background, seed=s.seed + 1)]
    background = store.get(bg_pos) if len(bg_pos) else None
    probs = probabilities(model)(x)
    c = probs.argmax(axis=1)
    log.info("explaining %d test segments (accuracy %.3f), background %d train segments",
             len(x), float(np.mean(c == y)), len(bg_pos))

    options = {**asdict(s), "background": background}
    kwargs = {name: explainer_options(name, options)
              for name in set(s.explainers) | set(s.sanity_explainers) | set(s.noise_explainers)}
    diagnostics: dict[str, dict] = {}
    maps, seconds, skipped_ex = compute_maps(model, x, c, s.explainers, kwargs, diagnostics)
    skipped += skipped_ex
    t0 = time.perf_counter()
    fill = fill_state(x, s.fill, floor_db=s.floor_db, seed=s.seed)   # one fill for every explainer and the control
    per_example = fidelity_frame(model, x, c, ids, maps, s.masks, floor_db=s.floor_db, probs=probs, fill=fill,
                                 draws=s.random_draws, seed=s.seed)
    seconds["fidelity"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    curve_examples, curves = curves_frame(model, x, c, ids, maps, steps=s.curve_steps, floor_db=s.floor_db,
                                          fill=fill, draws=s.random_draws, seed=s.seed)
    seconds["curves"] = round(time.perf_counter() - t0, 3)

    # audio: round trip, reconstruction error, WAVs
    audio = _read_audio(rows, audio_root, skipped)
    ok = [i for i, a in enumerate(audio) if a is not None]
    rt = ok[:s.roundtrip_examples]
    rec_err = np.array([])
    t0 = time.perf_counter()
    if rt:
        sel = np.asarray(rt)
        rec_err = reconstruction_errors(x[sel], config=config, ref_amplitude=rows["ref_amplitude"].to_numpy()[sel],
                                        audio=[audio[i] for i in rt])
        rtf = roundtrip_frame(model, x[sel], c[sel], [ids[i] for i in rt], {k: v[sel] for k, v in maps.items()},
                              s.masks if s.roundtrip_all_masks else [s.headline_mask], config=config,
                              ref_amplitude=rows["ref_amplitude"].to_numpy()[sel],
                              audio=[audio[i] for i in rt], floor_db=s.floor_db, seed=s.seed, fill=fill[sel])
        per_example = pd.concat([per_example, rtf], ignore_index=True)
    seconds["roundtrip"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    for i in ok[:s.wav_examples]:
        for name, a in maps.items():
            pair = masked_audio(x[i], make_masks(a, s.headline_mask, seed=s.seed)[i], config=config,
                                ref_amplitude=float(rows["ref_amplitude"].iloc[i]), source_audio=audio[i],
                                length=len(audio[i]), floor_db=s.floor_db)
            write_example_wavs(out / "wav", f"{i:02d}_{ids[i]}_{name}_{s.headline_mask}", original=audio[i],
                               sample_rate=config.sample_rate, **pair)

    seconds["wavs"] = round(time.perf_counter() - t0, 3)
    t0 = time.perf_counter()
    recording = dict(zip(ids, rows["recording_id"].astype(str)))   # the group for a bootstrap over recordings
    for frame in (per_example, curve_examples):
        frame.insert(frame.columns.get_loc("segment_id") + 1, "recording_id", frame["segment_id"].map(recording))
    summary = rep.summary_table(per_example, bootstrap)
    rep.write_table(per_example, out, "fidelity_examples", title="Fidelity per example")
    rep.write_table(summary, out, "fidelity", title="Fidelity per explainer × mask (mean over examples; _lo/_hi: "
                    "95 % bootstrap over recordings)")
    curve_summary = rep.curve_summary(curve_examples, bootstrap)
    rep.write_table(curve_examples, out, "curves_examples", title="Deletion / insertion AUC per example")
    rep.write_table(curve_summary, out, "curves", title="Deletion / insertion AUC per explainer (mean, 95 % "
                    "bootstrap over recordings; gain = better than random orders)")
    compared = rep.comparison_frame(curve_examples, per_example, headline_mask=s.headline_mask, settings=bootstrap)
    rep.write_table(compared, out, "comparisons", title="Paired differences a − b (95 % bootstrap over recordings): "
                    "each explainer against the random control and against each other")
    rep.write_table(curves, out, "curves_mean", title="Mean deletion / insertion curves")
    rep.curves_figure(out / "figures" / "deletion_insertion.png", curves)
    rep.fidelity_heatmaps(out / "figures" / "fidelity_spectral.png", summary, domain="spectral")
    rep.fidelity_heatmaps(out / "figures" / "fidelity_audio.png", summary, domain="audio")
    names = [str(n) for n in store.class_names] or [str(k) for k in range(probs.shape[1])]
    for i in range(min(s.figure_examples, len(x))):
        rep.example_figure(out / "figures" / f"example_{i:02d}_{ids[i]}.png", x[i], {k: v[i] for k, v in maps.items()},
                           mask_kind=s.headline_mask, floor_db=s.floor_db, seed=[s.seed, i],
                           title=f"{ids[i]}: label {names[y[i]]}, predicted {names[c[i]]} (p={probs[i, c[i]]:.2f})")

    seconds["tables_figures"] = round(time.perf_counter() - t0, 3)
    log.info("fidelity %.1f s, audio round trip %.1f s (%d examples), WAVs %.1f s, tables/figures %.1f s",
             seconds["fidelity"], seconds["roundtrip"], len(rt), seconds["wavs"], seconds["tables_figures"])

    # sanity check
    sanity = pd.DataFrame()
    if s.sanity_examples > 0 and s.sanity_explainers:
        fns = {n: (lambda m, xx, cc, n=n: explain(n, m, xx, class_index=cc, **kwargs[n])) for n in s.sanity_explainers}
        t0 = time.perf_counter()
        spos = np.asarray(test_positions)[select_examples(labels_all[test_positions], s.sanity_examples,
                                                          seed=s.seed + 3)]   # class-stratified, own sample
        xs = store.get(spos)
        sanity = cascading_randomisation(model, xs, probabilities(model)(xs).argmax(axis=1), fns, seed=s.seed,
                                         max_layers=s.sanity_layers)
        seconds["sanity"] = round(time.perf_counter() - t0, 3)
        rep.write_table(sanity, out, "sanity", title="Model-parameter randomisation (cascading, top-down)")
        rep.sanity_figure(out / "figures" / "sanity.png", sanity)

    # noise contamination
    perf, nfid = pd.DataFrame(), pd.DataFrame()
    sources = noise_sources(s.noise_files, sample_rate=config.sample_rate, white=s.white_noise, seed=s.seed)
    if s.noise_examples > 0 and sources and s.snr_db:
        npos = np.asarray(test_positions)[select_examples(labels_all[test_positions], s.noise_examples, seed=s.seed + 2)]
        nrows = index.iloc[npos].reset_index(drop=True)
        naudio = _read_audio(nrows, audio_root, skipped)
        keep = [i for i, a in enumerate(naudio) if a is not None]
        if keep:
            t0 = time.perf_counter()
            fns = {n: (lambda xx, cc, n=n: explain(n, model, xx, class_index=cc, **kwargs[n]))
                   for n in s.noise_explainers}
            perf, nfid = noise_robustness(
                predict=probabilities(model), audio=np.stack([naudio[i] for i in keep]),
                labels=labels_all[npos][keep], sources=sources, snrs=list(s.snr_db),
                featurize=lambda a: featurize(a, config=config, shape=store.shape), explainers=fns,
                mask=s.headline_mask, floor_db=s.floor_db, fill=s.fill, ece_bins=s.ece_bins, seed=s.seed)
            seconds["noise"] = round(time.perf_counter() - t0, 3)
            rep.write_table(perf, out, "noise_performance", title="Accuracy and calibration per noise × SNR")
            rep.write_table(nfid, out, "noise_fidelity", title=f"Fidelity ({s.headline_mask} mask) per noise × SNR")
            rep.noise_figure(out / "figures" / "noise.png", perf, nfid)

    atomic_write_csv(out / "skipped.csv", pd.DataFrame(skipped, columns=SKIPPED_COLUMNS))
    log.info("attribution timings (s): %s", seconds)  # logged, not written: outputs reproduce
    diag = rep.diagnostics_table(diagnostics, ids)
    if not diag.empty:
        rep.write_table(diag, out, "diagnostics", title="IG completeness error and LIME surrogate R² per example")
    head = rep.headline(summary, curve_summary, sanity, perf, diag, headline_mask=s.headline_mask, n=len(x),
                        accuracy=float(np.mean(c == y)), reconstruction_error_db=rec_err, compared=compared)
    atomic_write_json(out / "metrics.json", head)
    return head

