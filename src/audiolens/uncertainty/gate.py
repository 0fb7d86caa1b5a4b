"""Uncertainty-aware prediction with abstention, for the voice gate / predict CLI.

The uncertainty stage writes ``reports/uncertainty/abstain.json`` (method, score,
threshold, MC settings, ensemble members, and the validation coverage/accuracy it
gives). :func:`load_gate` rebuilds the same predictor from it::

    gate = load_gate("reports/uncertainty/abstain.json", models_dir="models")
    out = gate.predict(x)          # x: (n, F, T, 1) dB
    out["accepted"]                # False = abstain ("not sure")
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from audiolens.models.predict import predict
from audiolens.uncertainty.decompose import Predictive, summarise
from audiolens.uncertainty.ensemble import ensemble_samples
from audiolens.uncertainty.members import member_paths
from audiolens.uncertainty.mc_dropout import MCDropout
from audiolens.uncertainty.selective import accept_mask

__all__ = ["METHODS", "predictive", "Gate", "load_gate"]

METHODS = ("single", "mc_dropout", "ensemble")


def predictive(method: str, *, models: Sequence, x: np.ndarray, mc_samples: int,
               mc_layer: str | None, seed: int, batch_size: int,
               mc: MCDropout | None = None) -> Predictive:
    """Prediction + uncertainty of one method.

    Parameters
    ----------
    method : {"single", "mc_dropout", "ensemble"}
    models : sequence of keras.Model
        ``single`` / ``mc_dropout`` use ``models[0]``; ``ensemble`` uses all.
    x : array (n, F, T, 1)
    mc_samples : int
        MC-dropout passes T.
    mc_layer : str or None
        First dropout layer sampled (None: the first one); ignored when ``mc`` is given.
    seed : int
        Seed of the dropout masks; ignored when ``mc`` is given.
    batch_size : int
        Inference chunk size.
    mc : MCDropout, optional
        A prepared splitter of ``models[0]`` (reused across calls).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (allowed: {', '.join(METHODS)})")
    if not models:
        raise ValueError("no model given")
    if method == "single":
        return summarise(predict(models[0], x, batch_size=batch_size))
    if method == "mc_dropout":
        mc = mc or MCDropout(models[0], start=mc_layer, seed=seed)
        return mc.predict(x, samples=mc_samples, batch_size=batch_size)
    return summarise(ensemble_samples(models, x, batch_size=batch_size))


@dataclass
class Gate:
    """A predictor that abstains when its uncertainty score is past the threshold."""

    config: dict
    models: list

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Returns ``probs`` (n, C), ``predicted`` (n,), ``score`` (n,), ``accepted`` (n,) bool.

        ``score`` is in the user-facing convention of ``abstain.json``'s ``score``
        (max probability for ``max_prob``, otherwise the uncertainty value).
        """
        c = self.config
        pred = predictive(c["method"], models=self.models, x=x, mc_samples=int(c["mc_samples"]),
                          mc_layer=c["mc_layer"], seed=int(c["seed"]), batch_size=int(c["batch_size"]))
        scores = pred.scores()
        raw = pred.max_prob if c["score"] == "max_prob" else scores[c["score"]]
        return {"probs": pred.mean, "predicted": pred.predicted, "score": np.asarray(raw),
                "accepted": accept_mask(c["score"], scores, c["threshold"])}


def load_gate(abstain_json: str | Path, *, models_dir: str | Path = "models") -> Gate:
    """Build a :class:`Gate` from ``abstain.json`` and the models it names."""
    from audiolens.models.registry import load_model

    path = Path(abstain_json)
    if not path.is_file():
        raise FileNotFoundError(f"abstention settings not found: {path} (run the uncertainty stage)")
    cfg = json.loads(path.read_text())
    missing = {"method", "score", "threshold", "members", "mc_samples", "mc_layer", "seed", "batch_size"} - set(cfg)
    if missing:
        raise ValueError(f"{path}: missing keys {sorted(missing)}")
    ids = cfg["members"] if cfg["method"] == "ensemble" else [0]
    return Gate(config=cfg, models=[load_model(p) for p in member_paths(models_dir, ids)])
