"""The ``ood`` stage: fit the gate's out-of-distribution check and measure the whole gate on non-speech.

1. Embeds the training segments (the reference) and the validation segments with the main
   model's ``embedding`` layer; fits both detectors (k-NN and Mahalanobis) and sets each
   threshold so that ``pass_rate`` of the validation recordings pass; the configured one is
   written to ``models/ood.npz``.
2. Scores the validation recordings' speech presence on their cleaned audio.
3. Runs recordings that are not in the training distribution through the whole gate, exactly
   as ``audiolens predict`` does (prepare -> classifier + abstention -> OOD check): a
   generated set (:func:`~audiolens.ood.signals.generate_ood_set`), the audio files of
   ``extra_dirs``, and, for the demo corpus, new demo speakers never trained on.

``metrics.json`` keeps the headline figures (pass rate, AUROC, false accepts, each with n);
``details.json`` the per-kind and per-folder breakdown and both methods' AUROC;
``recordings.csv`` every scored recording's outcome.
"""
from __future__ import annotations

import logging
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from audiolens.inference import PredictError, prepare_recording, recording_decision
from audiolens.io import AudioReadError, atomic_write_csv, atomic_write_json, read_audio, write_audio
from audiolens.ood.check import OODCheck, apply_check
from audiolens.ood.detector import METHODS, auroc, embed, fit_detector, pass_threshold, recording_scores
from audiolens.ood.signals import SpeechThresholds, generate_ood_set, speech_presence
from audiolens.uncertainty.gate import Gate, predictive

__all__ = ["OODSettings", "fit_check", "score_file", "run"]

log = logging.getLogger("audiolens.ood")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


@dataclass(frozen=True, kw_only=True)
class OODSettings:
    """The ``gate`` section (see params.yaml) plus the working ``sample_rate`` (Hz)."""

    require_speech: bool
    method: str
    k: int
    pass_rate: float
    include_augmented: bool
    min_modulation: float
    min_pitch_st: float
    max_steady: float
    min_voiced: float
    generated_clips: int
    clip_seconds: float
    extra_ood_dirs: list
    unseen_speakers: list
    unseen_seed: int
    batch_size: int
    seed: int
    sample_rate: int

    @property
    def speech(self) -> SpeechThresholds:
        return SpeechThresholds(min_modulation=self.min_modulation, min_pitch_st=self.min_pitch_st,
                                max_steady=self.max_steady, min_voiced=self.min_voiced)


def fit_check(*, train_emb: np.ndarray, train_labels: np.ndarray, val_emb: np.ndarray, val_recordings,
              settings: OODSettings, method: str) -> tuple[OODCheck, dict]:
    """Fit ``method``'s detector on the training embeddings and set its threshold on validation.

    Returns
    -------
    check : OODCheck
    info : dict
        ``val_scores`` (per recording, (r,)), ``threshold``, ``val_pass_rate``, ``n_val``.
    """
    det = fit_detector(train_emb, train_labels, method=method, k=settings.k)
    _, rec = recording_scores(det.score(val_emb), val_recordings)
    t = pass_threshold(rec, settings.pass_rate)
    check = OODCheck(detector=det, threshold=t, require_speech=settings.require_speech,
                     speech=settings.speech, batch_size=settings.batch_size)
    return check, {"val_scores": rec, "threshold": t, "val_pass_rate": float(np.mean(rec <= t)), "n_val": len(rec)}


def score_file(path: Path, *, model, gate: Gate, check: OODCheck, prep_settings: dict, class_names: list[str],
               positive: int | None, accept_threshold: float | None, others: dict | None = None) -> dict:
    """One recording through the whole gate, as ``audiolens predict`` scores it (``model``: the main
    model, whose embeddings the check was fitted on).

    Returns
    -------
    dict
        ``decision`` (``error`` when the recording was refused before scoring), ``reason``,
        ``ood_score`` (NaN when refused), ``ood_passed``, ``speech_passed``, and ``score_<method>``
        for each detector of ``others`` (method -> :class:`~audiolens.ood.detector.Detector`, for comparison).
    """
    nan = {f"score_{m}": np.nan for m in (others or {})}
    try:
        prep = prepare_recording(path, **prep_settings)
    except PredictError as exc:
        msg = str(exc).removeprefix(f"{exc.path}: ")
        return {"decision": "error", "reason": f"exit {exc.code}: {msg}", "ood_score": np.nan,
                "ood_passed": None, "speech_passed": None, **nan}
    c = gate.config
    pred = predictive(c["method"], models=gate.models, x=prep.x[..., None], mc_samples=int(c["mc_samples"]),
                      mc_layer=c["mc_layer"], seed=int(c["seed"]), batch_size=int(c["batch_size"]))
    r = recording_decision(pred.samples, score=c["score"], threshold=c["threshold"], class_names=class_names,
                           positive_index=positive, accept_threshold=accept_threshold)
    ood = check.evaluate(model, prep)
    apply_check(r, ood)
    emb = embed(model, prep.x, batch_size=check.batch_size) if others else None
    return {"decision": r["decision"], "reason": r.get("reason"), "ood_score": ood["score"],
            "ood_passed": ood["score"] <= ood["threshold"],
            "speech_passed": None if ood["speech"] is None else ood["speech"]["passed"],
            **{f"score_{m}": float(np.mean(d.score(emb))) for m, d in (others or {}).items()}}


def _false_accepts(rows: list[dict], accepting: set[str]) -> dict:
    n = len(rows)
    fa = sum(r["decision"] in accepting for r in rows)
    return {"n": n, "false_accepts": fa, "false_accept_rate": fa / n if n else None,
            "decisions": dict(sorted(Counter(r["decision"] for r in rows).items())),
            "refused": sum(r["decision"] == "error" for r in rows),
            "ood_pass_rate": float(np.mean(checked)) if (checked := [bool(r["ood_passed"]) for r in rows
                                                                     if r["ood_passed"] is not None]) else None}


def _score_many(files: list[tuple[str, str, Path]], **kw) -> list[dict]:
    return [{"set": s, "name": name, **score_file(p, **kw)} for s, name, p in files]


def _val_speech(clean_dir: Path, recordings, settings: OODSettings) -> dict:
    passed, skipped = [], []
    for rid in recordings:
        path = clean_dir / f"{rid}.wav"
        try:
            y, sr = read_audio(path)
        except (AudioReadError, OSError) as exc:  # listed in details.json, not fatal
            skipped.append(f"{path}: {exc}")
            continue
        passed.append(speech_presence(y, sr, settings.speech)["passed"])
    return {"speech_pass_rate": float(np.mean(passed)) if passed else None, "n": len(passed), "skipped": skipped}


def run(*, model, gate: Gate, store, positions: dict[str, np.ndarray], clean_dir: Path, class_names: list[str],
        positive: int | None, accept_threshold: float | None, prep_settings: dict, settings: OODSettings,
        demo: dict | None, model_path: Path, out_dir: Path) -> dict:
    """Fit, write ``model_path`` (``ood.npz``) and the reports in ``out_dir``; returns metrics.json's content.

    Parameters
    ----------
    model : keras.Model
        The main model (its ``embedding`` layer is the OOD representation).
    gate : Gate
        The abstaining classifier of ``abstain.json`` (:func:`audiolens.uncertainty.gate.load_gate`).
    store : FeatureStore
    positions : dict
        ``train``, ``val`` and (optional) ``test`` row positions in ``store.index``; the test
        recordings' pass rate is reported, never used to fit.
    clean_dir : path
        Folder of the cleaned recordings (``<recording_id>.wav``), for speech presence on validation.
    positive, accept_threshold
        The binary gate's positive class and accept threshold (as ``audiolens predict`` uses them).
    prep_settings : dict
        ``clean``, ``segment``, ``spectrogram`` settings of :func:`~audiolens.inference.prepare_recording`.
    demo : dict or None
        :func:`~audiolens.corpus.demo.write_demo_corpus` arguments (all but ``root``, ``speakers``,
        ``seed``) when the corpus is the demo; None: no unseen-speaker check.
    """
    idx = store.index
    aug = idx["augmented"].astype(str).str.lower().eq("true").to_numpy()
    tr = np.asarray(positions["train"])
    tr = tr if settings.include_augmented else tr[~aug[tr]]
    va = np.asarray(positions["val"])
    va = va[~aug[va]]
    # embeddings streamed from the memory-mapped shards, one batch of spectrograms at a time
    train_emb = embed(model, store.rows(tr, channel=True), batch_size=settings.batch_size)
    val_emb = embed(model, store.rows(va, channel=True), batch_size=settings.batch_size)
    val_rec = idx["recording_id"].to_numpy()[va]
    te = np.asarray(positions.get("test", []), dtype=int)
    te = te[~aug[te]]
    log.info("reference: %d train segments, validation: %d segments of %d recordings",
             len(tr), len(va), len(np.unique(val_rec)))
    fitted = {m: fit_check(train_emb=train_emb, train_labels=idx["label_index"].to_numpy()[tr], val_emb=val_emb,
                           val_recordings=val_rec, settings=settings, method=m) for m in METHODS}
    check, info = fitted[settings.method]
    check.save(model_path)
    te_emb = embed(model, store.rows(te, channel=True), batch_size=settings.batch_size) if te.size else None
    test = (recording_scores(check.detector.score(te_emb),
                             idx["recording_id"].to_numpy()[te])[1] if te.size else np.zeros(0))
    if info["n_val"] < 1 / max(1 - settings.pass_rate, 1e-9):
        log.warning("the OOD threshold rests on %d validation recordings: the %.3g quantile is their maximum, so "
                    "unseen in-distribution recordings may fail more often (test recordings passing: %s)",
                    info["n_val"], settings.pass_rate,
                    f"{np.mean(test <= info['threshold']):.2f}" if test.size else "n/a")
    speech_val = (_val_speech(clean_dir, np.unique(val_rec), settings) if settings.require_speech
                  else {"speech_pass_rate": None, "n": 0, "skipped": []})
    accepting = {"accept"} if positive is not None else set(class_names)
    kw = dict(model=model, gate=gate, check=check, prep_settings=prep_settings, class_names=class_names,
              positive=positive, accept_threshold=accept_threshold,
              others={m: f[0].detector for m, f in fitted.items()})
    with tempfile.TemporaryDirectory(prefix=".ood_clips.", dir=out_dir) as tmp:
        tmp = Path(tmp)
        clips = generate_ood_set(n_clips=settings.generated_clips, duration_s=settings.clip_seconds,
                                 sample_rate=settings.sample_rate, seed=settings.seed)
        files = [(c.kind, c.name, write_audio(tmp / f"{c.name}.wav", c.audio, c.sample_rate)) for c in clips]
        rows = _score_many([(f"generated:{k}", n, p) for k, n, p in files], **kw)
        missing = [str(d) for d in settings.extra_ood_dirs if not Path(d).is_dir()]
        for d in settings.extra_ood_dirs:
            if Path(d).is_dir():
                found = sorted(p for p in Path(d).rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
                rows += _score_many([(f"extra:{d}", p.name, p) for p in found], **kw)
        if missing:
            log.warning("gate.extra_ood_dirs: not found, skipped: %s", ", ".join(missing))
        unseen: list[dict] = []
        if demo is not None and settings.unseen_speakers:
            from audiolens.corpus.demo import write_demo_corpus

            paths = write_demo_corpus(tmp / "unseen", speakers=list(settings.unseen_speakers),
                                      seed=settings.unseen_seed, **demo)
            unseen = _score_many([("unseen_speakers", p.name, p) for p in paths], **kw)
    table = pd.DataFrame(rows + unseen)
    atomic_write_csv(out_dir / "recordings.csv", table)
    gen = [r for r in rows if r["set"].startswith("generated:")]
    extra = [r for r in rows if r["set"].startswith("extra:")]
    val_scores = {m: f[1]["val_scores"] for m, f in fitted.items()}

    def aurocs(subset: list[dict], method: str) -> dict:
        """AUROC of ``method``'s score: validation recordings vs the ``subset`` recordings that reached the check."""
        out = [r[f"score_{method}"] for r in subset if np.isfinite(r[f"score_{method}"])]
        return {"auroc": auroc(val_scores[method], out), "n_in": len(val_scores[method]), "n_out": len(out)}

    details = {
        "method": settings.method, "threshold": info["threshold"], "pass_rate_target": settings.pass_rate,
        "methods": {m: {"threshold": f[1]["threshold"], "val_pass_rate": f[1]["val_pass_rate"],
                        "generated": aurocs(gen, m)} for m, f in fitted.items()},
        "generated_by_kind": {k: _false_accepts([r for r in gen if r["set"] == f"generated:{k}"], accepting)
                              for k in sorted({r["set"].split(":", 1)[1] for r in gen})},
        "extra_dirs": {d: {**_false_accepts([r for r in extra if r["set"] == f"extra:{d}"], accepting),
                           **aurocs([r for r in extra if r["set"] == f"extra:{d}"], settings.method)}
                       for d in settings.extra_ood_dirs if str(d) not in missing},
        "extra_dirs_missing": missing, "val_speech": speech_val,
        "unseen_speakers": {"speakers": list(settings.unseen_speakers), "seed": settings.unseen_seed,
                            **_false_accepts(unseen, accepting)} if unseen else None,
    }
    atomic_write_json(out_dir / "details.json", details)
    g, x = _false_accepts(gen, accepting), _false_accepts(extra, accepting)
    metrics = {
        "val_pass_rate": info["val_pass_rate"], "n_val": info["n_val"],
        "val_speech_pass_rate": speech_val["speech_pass_rate"],
        "test_pass_rate": float(np.mean(test <= info["threshold"])) if test.size else None, "n_test": int(test.size),
        "auroc_generated": details["methods"][settings.method]["generated"]["auroc"],
        "n_generated": g["n"], "n_generated_scored": details["methods"][settings.method]["generated"]["n_out"],
        "generated_false_accepts": g["false_accepts"], "generated_false_accept_rate": g["false_accept_rate"],
        "auroc_extra": aurocs(extra, settings.method)["auroc"] if extra else None,
        "n_extra": x["n"], "extra_false_accepts": x["false_accepts"] if extra else None,
    }
    if unseen:
        u = details["unseen_speakers"]
        metrics.update(unseen_false_accept_rate=u["false_accept_rate"], n_unseen=u["n"],
                       unseen_ood_pass_rate=u["ood_pass_rate"])
    atomic_write_json(out_dir / "metrics.json", metrics)
    return metrics
