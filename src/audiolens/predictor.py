"""The voice gate as an object: load a trained model once, score recordings one by one.

One code path for every front end: ``audiolens predict`` (:mod:`audiolens.cli`) and
``audiolens serve`` (:mod:`audiolens.serve`) both call :meth:`Predictor.score` and
:meth:`Predictor.document`, so the page, the API and the command line give the same
numbers. Settings come from the model's resolved config and the stage outputs beside it
(``reports/uncertainty/abstain.json``: the abstention method; ``reports/eval/threshold.json``:
the binary operating point), never re-typed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["GateFiles", "Predictor", "accept_threshold", "recording_settings"]


@dataclass(frozen=True, kw_only=True)
class GateFiles:
    """Where a gate's parts live and what the caller overrides (None: the files decide).

    Attributes
    ----------
    model : path
        ``models/model.keras``; its folder holds ``resolved_params.yaml`` and ``train_meta.json``.
    config : path or None
        Resolved config (None: ``<model dir>/resolved_params.yaml``).
    gate : path
        Abstention settings of the uncertainty stage (``abstain.json``; absent: the model's params).
    operating_point : path
        Binary accept threshold of the evaluate stage (``threshold.json``).
    eval_metrics : path
        Test metrics of the evaluate stage, shown in the model card (absent: omitted).
    method, threshold, accept_threshold : optional overrides
    min_seconds : float
        Least sound after cleaning (s).
    """

    model: Path
    config: Path | None
    gate: Path
    operating_point: Path
    eval_metrics: Path
    method: str | None
    threshold: float | None
    accept_threshold: float | None
    min_seconds: float


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


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def accept_threshold(files: GateFiles) -> tuple[float | None, str]:
    """The binary accept threshold and where it came from (None: the most probable class decides)."""
    if files.accept_threshold is not None:
        return float(files.accept_threshold), "--accept-threshold"
    t = (_read_json(files.operating_point) or {}).get("threshold")
    if t is not None:
        return float(t), str(files.operating_point)
    return None, "most probable class"


class Predictor:
    """A loaded gate (model or ensemble, abstention rule, operating point).

    Raises
    ------
    ModelError, ConfigError
        From the constructor when the model or its settings cannot be loaded.
    """

    def __init__(self, files: GateFiles):
        from audiolens.config import load_params
        from audiolens.errors import ModelError
        from audiolens.models.registry import load_model
        from audiolens.uncertainty.members import member_paths

        self.files = files
        if not files.model.is_file():
            raise ModelError(f"model not found: {files.model} (train it with `dvc repro`)")
        self.params = load_params(files.config or files.model.parent / "resolved_params.yaml")
        self.meta = _read_json(files.model.parent / "train_meta.json") or {}
        self.class_names = list(self.meta.get("class_names") or self.params.data.class_names)
        self.gate = self._gate_config()
        members = member_paths(files.model.parent, self.gate["members"]) if self.gate["method"] == "ensemble" \
            else [files.model]
        self.models = [load_model(p) for p in members]
        binary = self.params.data.positive is not None and len(self.class_names) == 2
        self.positive = 1 if binary else None
        self.accept_threshold, self.accept_source = accept_threshold(files) if binary else (None, "not a binary gate")
        self.settings = recording_settings(self.params)

    def _gate_config(self) -> dict:
        u = self.params.uncertainty  # the model's own settings; abstain.json (the uncertainty stage's choice) wins
        cfg = {"method": "single", "score": "max_prob", "threshold": u.abstain_threshold, "members": [0],
               "mc_samples": u.mc_samples, "mc_layer": u.mc_layer, "seed": u.seed, "batch_size": u.batch_size}
        cfg.update(_read_json(self.files.gate) or {})
        if self.files.method:
            cfg["method"] = self.files.method
        if self.files.threshold is not None:
            cfg["threshold"] = self.files.threshold
        return cfg

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
            Called with each step's name (``read``, ``clean``, ``segment``, ``score``, ``explain``).
        explain_dir : path, optional
            Write a Grad-CAM overlay PNG and the masked-in WAV here.

        Returns
        -------
        dict
            ``decision``, ``label``, ``confidence``, ``probabilities``, ``uncertainty``, ``segments``...
            or ``{"file", "error": {"code", "message"}}`` (code = the CLI's exit status).
        """
        from audiolens.inference import PredictError, prepare_recording, recording_decision
        from audiolens.uncertainty.gate import predictive

        step = progress or (lambda _: None)
        shown = str(path) if name is None else name
        try:
            prep = prepare_recording(path, **self.settings, min_seconds=self.files.min_seconds, progress=step)
        except PredictError as exc:
            return {"file": shown, "error": {"code": exc.code, "message": str(exc).replace(str(path), shown)}}
        step("score")
        cfg = self.gate
        pred = predictive(cfg["method"], models=self.models, x=prep.x[..., None], mc_samples=int(cfg["mc_samples"]),
                          mc_layer=cfg["mc_layer"], seed=int(cfg["seed"]), batch_size=int(cfg["batch_size"]))
        r = {"file": shown, "method": cfg["method"],
             **recording_decision(pred.samples, score=cfg["score"], threshold=cfg["threshold"],
                                  class_names=self.class_names, positive_index=self.positive,
                                  accept_threshold=self.accept_threshold),
             "n_segments": int(prep.x.shape[0]), "duration_s": prep.info["duration_in_s"],
             "sound_s": prep.info["duration_out_s"],
             "segments": [{"start_s": float(s), "label": self.class_names[int(np.argmax(p))],
                           "confidence": float(np.max(p)),
                           "probabilities": {n: float(q) for n, q in zip(self.class_names, p)}}
                          for s, p in zip(prep.starts_s, pred.mean)]}
        if explain_dir is not None:
            from audiolens.explain_recording import explain

            step("explain")
            r["explain"] = explain(Path(path).stem if name is None else Path(shown).stem, prep, self.models[0],
                                   self.class_names.index(r["label"]), pred.mean, self.settings["spectrogram"],
                                   explain_dir)
        step("done")
        return r

    def document(self, results: list[dict]) -> dict:
        """The ``predict --json`` document around per-recording results."""
        return {"results": results, "class_names": self.class_names,
                "gate": {k: self.gate[k] for k in ("method", "score", "threshold")},
                "accept": {"threshold": self.accept_threshold, "source": self.accept_source,
                           "positive": self.class_names[self.positive] if self.positive is not None else None}}

    def card(self) -> dict:
        """The model card: task, classes, training data, test metrics, operating point, abstention."""
        m = _read_json(self.files.eval_metrics) or {}
        test = {k: m[k] for k in ("n", "accuracy", "balanced_accuracy", "f1_macro", "roc_auc") if k in m}
        for k, v in m.items():  # intervals, when the evaluate stage writes them
            if k.endswith(("_ci95", "_ci95_lo", "_ci95_hi")):
                test[k] = v
        if isinstance(m.get("binary"), dict):
            test["binary"] = m["binary"]
        data = {k: self.meta[k] for k in ("n_train", "n_val", "n_test", "class_counts", "n_recordings")
                if k in self.meta}
        return {"task": "voice gate (binary)" if self.positive is not None else f"{len(self.class_names)}-class",
                "class_names": self.class_names,
                "positive": self.class_names[self.positive] if self.positive is not None else None,
                "model": {"file": self.files.model.name, "arch": self.params.model.arch,
                          "members": len(self.models)},
                "training_data": data, "test": test,
                "accept": {"threshold": self.accept_threshold, "source": self.accept_source},
                "abstention": {k: self.gate[k] for k in ("method", "score", "threshold")},
                "input": {"sample_rate": self.params.audio.sample_rate, "segment_s": self.params.segment.length_s,
                          "min_seconds": self.files.min_seconds}}
