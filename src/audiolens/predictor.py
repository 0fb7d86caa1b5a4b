"""The voice gate as an object: load a trained model once, score recordings one by one.

One code path for every front end: ``audiolens predict`` (:mod:`audiolens.cli`) and
``audiolens serve`` (:mod:`audiolens.serve`) both call :meth:`Predictor.score` and
:meth:`Predictor.document`, so the page, the API and the command line give the same
numbers. Settings come from the model's resolved config and the stage outputs beside it
(``reports/uncertainty/abstain.json``: the abstention method; ``reports/eval/threshold.json``:
the binary operating point; ``models/ood.npz``: the out-of-distribution check), never re-typed.
Every configuration problem is a :class:`~audiolens.errors.ConfigError` or
:class:`~audiolens.errors.ModelError` from the constructor, before any recording is scored.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from audiolens.errors import ConfigError, ModelError
from audiolens.io import file_problem, read_json_object
from audiolens.paths import ABSTAIN, EVAL_METRICS, EVAL_THRESHOLD

__all__ = ["GateFiles", "Predictor", "accept_threshold", "check_arguments", "recording_settings"]


@dataclass(frozen=True, kw_only=True)
class GateFiles:
    """Where a gate's parts live and what the caller overrides (None: the files decide).

    Attributes
    ----------
    model : path
        ``models/model.keras``; its folder holds ``resolved_params.yaml``, ``train_meta.json``
        and (optionally) ``ood.npz``.
    config : path or None
        Resolved config (None: ``<model dir>/resolved_params.yaml``).
    gate, operating_point, eval_metrics : path or None
        Abstention settings, binary accept threshold, test metrics (for the model card).
        None: the pipeline's file when it exists; a path given must exist.
    method, threshold, accept_threshold : optional overrides
    min_seconds : float
        Least sound after cleaning (s).
    """

    model: Path
    config: Path | None = None
    gate: Path | None = None
    operating_point: Path | None = None
    eval_metrics: Path | None = None
    method: str | None = None
    threshold: float | None = None
    accept_threshold: float | None = None
    min_seconds: float = 0.25


def check_arguments(files: GateFiles) -> None:
    """Argument ranges (a :class:`ConfigError` before anything is loaded)."""
    if not (math.isfinite(files.min_seconds) and files.min_seconds >= 0):
        raise ConfigError(f"--min-seconds must be a finite number >= 0, got {files.min_seconds:g}")
    if files.threshold is not None and not (math.isfinite(files.threshold) and files.threshold >= 0):
        raise ConfigError(f"--threshold must be a finite number >= 0, got {files.threshold:g}")
    if files.accept_threshold is not None and not 0.0 <= files.accept_threshold <= 1.0:
        raise ConfigError(f"--accept-threshold must lie in [0, 1], got {files.accept_threshold:g}")


def _settings_file(given: Path | None, default: Path) -> Path | None:
    """An explicitly given file must exist (checked by the reader); the default is optional."""
    if given is not None:
        return given
    return default if os.path.lexists(default) else None


def recording_settings(params) -> dict:
    """The ``clean``, ``segment`` and ``spectrogram`` settings of :func:`audiolens.inference.prepare_recording`
    from a resolved config (all at ``audio.sample_rate``)."""
    from audiolens.audio import CleanSettings
    from audiolens.config import to_settings
    from audiolens.features import SpectrogramConfig
    from audiolens.segments import SegmentSettings

    sr = params.audio.sample_rate
    return {"clean": to_settings(params.clean, CleanSettings, sample_rate=sr),
            "segment": to_settings(params.segment, SegmentSettings, sample_rate=sr),
            "spectrogram": to_settings(params.features, SpectrogramConfig, sample_rate=sr)}


def gate_config(files: GateFiles, params) -> dict:
    """Abstention settings: the model's own, then the gate file's (validated), then the overrides.

    ``threshold`` is any finite number >= 0: above 1 with score ``max_prob`` it abstains on everything.
    """
    from audiolens.uncertainty.gate import check_gate_config

    u = params.uncertainty
    cfg = {"method": "single", "score": "max_prob", "threshold": u.abstain_threshold, "members": [0],
           "mc_samples": u.mc_samples, "mc_layer": u.mc_layer, "seed": u.seed, "batch_size": u.batch_size}
    gate = _settings_file(files.gate, ABSTAIN)
    if gate is not None:
        cfg.update(read_json_object(gate, "abstention settings (--gate)"))
        check_gate_config(cfg, f"abstention settings {gate}")
    if files.method:
        cfg["method"] = files.method
    if files.threshold is not None:
        cfg["threshold"] = files.threshold
    return cfg


def accept_threshold(files: GateFiles) -> tuple[float | None, str]:
    """The binary accept threshold and where it came from (None: the most probable class decides)."""
    if files.accept_threshold is not None:
        return float(files.accept_threshold), "--accept-threshold"
    op = _settings_file(files.operating_point, EVAL_THRESHOLD)
    if op is None:
        return None, "most probable class"
    t = read_json_object(op, "operating point (--operating-point)").get("threshold")
    if t is None:
        return None, "most probable class"
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t <= 1.0:
        raise ConfigError(f"operating point {op}: threshold must be a number in [0, 1] or null, got {t!r}")
    return float(t), str(op)


def _class_names(files: GateFiles, params, config: Path) -> tuple[list[str], dict]:
    meta_path = files.model.parent / "train_meta.json"
    meta = read_json_object(meta_path, "training metadata") if os.path.lexists(meta_path) else {}
    names = meta.get("class_names") or params.data.class_names
    if names is None:
        raise ConfigError(f"no class names: neither {meta_path} nor {config} (data.class_names) has them")
    if not (isinstance(names, list) and len(names) >= 2 and all(isinstance(c, str) for c in names)):
        raise ConfigError(f"training metadata {meta_path}: class_names must be a list of >= 2 names, got {names!r}")
    return list(names), meta


def _check_shapes(models, class_names, settings, paths) -> None:
    """Every model takes the configured spectrograms and outputs one probability per class."""
    spec, seg = settings["spectrogram"], settings["segment"]
    want = (spec.n_freqs, spec.n_frames(seg.length))
    for model, path in zip(models, paths):
        got_in = tuple(model.input_shape[1:3])
        if any(g is not None and g != w for g, w in zip(got_in, want)):
            raise ModelError(f"model {path}: takes {got_in[0]} x {got_in[1]} spectrograms, the config gives "
                             f"{want[0]} x {want[1]} (a --config from another training run?)")
        if model.output_shape[-1] != len(class_names):
            raise ModelError(f"model {path}: {model.output_shape[-1]} outputs for {len(class_names)} class names "
                             f"{class_names}")


class Predictor:
    """A loaded gate: model or ensemble, abstention rule, operating point, OOD check."""

    def __init__(self, files: GateFiles):
        from audiolens.config import load_params
        from audiolens.models.registry import load_model
        from audiolens.ood.check import load_for_model
        from audiolens.uncertainty.members import member_paths

        check_arguments(files)
        self.files = files
        config = files.config or files.model.parent / "resolved_params.yaml"
        problem = file_problem(files.model)
        if problem:
            hint = " (train it with `dvc repro`)" if problem.startswith("file not found") else ""
            raise ConfigError(f"model {files.model}: {problem}{hint}")
        problem = file_problem(config)
        if problem:
            raise ConfigError(f"config {config}: {problem} (the model's resolved_params.yaml, or --config)")
        self.params = load_params(config)
        self.class_names, self.meta = _class_names(files, self.params, config)
        self.gate = gate_config(files, self.params)
        binary = self.params.data.positive is not None and len(self.class_names) == 2
        self.positive = 1 if binary else None
        self.accept_threshold, self.accept_source = accept_threshold(files) if binary else (None, "not a binary gate")
        self.settings = recording_settings(self.params)
        paths = member_paths(files.model.parent, self.gate["members"]) if self.gate["method"] == "ensemble" \
            else [files.model]
        self.models = [load_model(p) for p in paths]
        _check_shapes(self.models, self.class_names, self.settings, paths)
        self.ood = load_for_model(files.model)  # None (with a note on stderr) for a model folder without one
        main_first = self.gate["method"] != "ensemble" or list(self.gate["members"])[:1] == [0]
        self.ood_model = self.models[0] if self.ood is None or main_first else load_model(files.model)

    def score(self, path: str | Path, *, name: str | None = None, progress: Callable[[str], None] | None = None,
              explain_dir: Path | None = None) -> dict:
        """Score one recording.

        Parameters
        ----------
        path : path
            The audio file.
        name : str, optional
            What the result's ``file`` field says (default: ``path``).
        progress : callable, optional
            Called with each step's name (``read``, ``clean``, ``segment``, ``score``, ``explain``, ``done``).
        explain_dir : path, optional
            Write a Grad-CAM overlay PNG and the masked-in WAV here.

        Returns
        -------
        dict
            ``status`` 0 and ``decision``, ``label``, ``confidence``, ``probabilities``, ``uncertainty``,
            ``segments``, ``ood``...; or ``status`` = the CLI exit code and ``error: {code, message}``.
        """
        from audiolens.inference import PredictError, prepare_recording, recording_decision
        from audiolens.ood.check import apply_check
        from audiolens.uncertainty.gate import predictive

        step = progress or (lambda _: None)
        shown = str(path) if name is None else name
        try:
            prep = prepare_recording(path, **self.settings, min_seconds=self.files.min_seconds, progress=step)
        except PredictError as exc:
            message = str(exc) if name is None else str(exc).replace(str(path), shown)
            return {"file": shown, "status": exc.code, "error": {"code": exc.code, "message": message}}
        step("score")
        cfg = self.gate
        pred = predictive(cfg["method"], models=self.models, x=prep.x[..., None], mc_samples=int(cfg["mc_samples"]),
                          mc_layer=cfg["mc_layer"], seed=int(cfg["seed"]), batch_size=int(cfg["batch_size"]))
        r = {"file": shown, "status": 0, "method": cfg["method"],
             **recording_decision(pred.samples, score=cfg["score"], threshold=cfg["threshold"],
                                  class_names=self.class_names, positive_index=self.positive,
                                  accept_threshold=self.accept_threshold),
             "n_segments": int(prep.x.shape[0]), "duration_s": prep.info["duration_in_s"],
             "sound_s": prep.info["duration_out_s"],
             "segments": [{"start_s": float(s), "label": self.class_names[int(np.argmax(p))],
                           "confidence": float(np.max(p)),
                           "probabilities": {n: float(q) for n, q in zip(self.class_names, p)}}
                          for s, p in zip(prep.starts_s, pred.mean)]}
        apply_check(r, self.ood.evaluate(self.ood_model, prep) if self.ood is not None else None)
        if explain_dir is not None:
            from audiolens.explain_recording import explain

            step("explain")
            r["explain"] = explain(Path(shown).stem, prep, self.models[0], self.class_names.index(r["label"]),
                                   pred.mean, self.settings["spectrogram"], explain_dir)
        step("done")
        return r

    def document(self, results: list[dict]) -> dict:
        """The ``predict --json`` document around per-recording results (``status``: the batch's exit code)."""
        from audiolens.inference import batch_status

        return {"status": batch_status([r["status"] for r in results]), "results": results,
                "class_names": self.class_names,
                "gate": {k: self.gate[k] for k in ("method", "score", "threshold")},
                "accept": {"threshold": self.accept_threshold, "source": self.accept_source,
                           "positive": self.class_names[self.positive] if self.positive is not None else None}}

    def card(self) -> dict:
        """The model card: task, classes, training data, test metrics, operating point, abstention, OOD."""
        path = _settings_file(self.files.eval_metrics, EVAL_METRICS)
        m = read_json_object(path, "test metrics") if path is not None else {}
        test = {k: m[k] for k in ("n", "n_recordings", "accuracy", "balanced_accuracy", "f1_macro", "roc_auc",
                                  "ci95", "binary") if k in m}
        data = {k: self.meta[k] for k in ("n_train", "n_val", "n_test", "class_counts", "n_recordings")
                if k in self.meta}
        return {"task": "voice gate (binary)" if self.positive is not None else f"{len(self.class_names)}-class",
                "class_names": self.class_names,
                "positive": self.class_names[self.positive] if self.positive is not None else None,
                "model": {"file": self.files.model.name, "arch": self.params.model.arch, "members": len(self.models)},
                "training_data": data, "test": test,
                "accept": {"threshold": self.accept_threshold, "source": self.accept_source},
                "abstention": {k: self.gate[k] for k in ("method", "score", "threshold")},
                "ood_check": self.ood is not None,
                "input": {"sample_rate": self.params.audio.sample_rate, "segment_s": self.params.segment.length_s,
                          "min_seconds": self.files.min_seconds}}
