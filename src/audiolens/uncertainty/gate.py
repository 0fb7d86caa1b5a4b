"""Uncertainty-aware prediction with abstention, for the voice gate / predict CLI.

The uncertainty stage writes ``reports/uncertainty/abstain.json`` (method, score,
threshold, MC settings, ensemble members, and the validation coverage/accuracy it
gives). :func:`load_gate` rebuilds the same predictor from it::

    gate = load_gate("reports/uncertainty/abstain.json", models_dir="models")
    out = gate.predict(x)          # x: (n, F, T, 1) dB
    out["accepted"]                # False = abstain ("not sure")
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from audiolens.errors import ConfigError
from audiolens.io import read_json_object
from audiolens.models.predict import predict
from audiolens.uncertainty.decompose import Predictive, summarise
from audiolens.uncertainty.ensemble import ensemble_samples
from audiolens.uncertainty.members import member_paths
from audiolens.uncertainty.mc_dropout import MCDropout
from audiolens.uncertainty.selective import accept_mask

__all__ = ["METHODS", "SCORES", "predictive", "Gate", "load_gate", "check_gate_config"]

METHODS = ("single", "mc_dropout", "ensemble")
SCORES = ("max_prob", "entropy", "mutual_info", "std")
GATE_KEYS = ("method", "score", "threshold", "members", "mc_samples", "mc_layer", "seed", "batch_size")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_gate_config(cfg: dict, source: str) -> dict:
    """Validate abstention settings (``abstain.json``'s keys, after overrides); return ``cfg``.

    Parameters
    ----------
    cfg : dict
        ``method``, ``score``, ``threshold``, ``members``, ``mc_samples``, ``mc_layer``,
        ``seed``, ``batch_size``.
    source : str
        Where the settings came from (named in errors).

    Raises
    ------
    ConfigError
        One line naming ``source``, the key and what is allowed.
    """
    missing = [k for k in GATE_KEYS if k not in cfg]
    if missing:
        raise ConfigError(f"{source}: missing key(s) {missing}")
    bad = []
    if cfg["method"] not in METHODS:
        bad.append(f"method {cfg['method']!r} is unknown (known: {', '.join(METHODS)})")
    if cfg["score"] not in SCORES:
        bad.append(f"score {cfg['score']!r} is unknown (known: {', '.join(SCORES)})")
    t = cfg["threshold"]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not np.isfinite(t) or t < 0:
        bad.append(f"threshold must be a finite number >= 0, got {t!r}")
    elif cfg["score"] == "max_prob" and t > 1:
        bad.append(f"threshold of score max_prob must lie in [0, 1], got {t!r}")
    m = cfg["members"]
    if not isinstance(m, list) or not m or not all(_is_int(i) and i >= 0 for i in m):
        bad.append(f"members must be a non-empty list of ids >= 0, got {m!r}")
    for key in ("mc_samples", "batch_size"):
        if not (_is_int(cfg[key]) and cfg[key] >= 1):
            bad.append(f"{key} must be an integer >= 1, got {cfg[key]!r}")
    if not _is_int(cfg["seed"]):
        bad.append(f"seed must be an integer, got {cfg['seed']!r}")
    if cfg["mc_layer"] is not None and not isinstance(cfg["mc_layer"], str):
        bad.append(f"mc_layer must be a layer name or null, got {cfg['mc_layer']!r}")
    if bad:
        raise ConfigError(f"{source}: " + "; ".join(bad))
    return cfg


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
    if not path.exists():
        raise ConfigError(f"abstention settings not found: {path} (run the uncertainty stage)")
    cfg = check_gate_config(read_json_object(path, "abstention settings"), str(path))
    ids = cfg["members"] if cfg["method"] == "ensemble" else [0]
    return Gate(config=cfg, models=[load_model(p) for p in member_paths(models_dir, ids)])
