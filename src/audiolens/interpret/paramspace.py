"""Parameter space: how far each layer moves during training, and whether resetting it matters.

Terms
-----
- *parameters* of a layer: the weights it created trainable (kernels, biases, BN gamma/beta);
- *statistics*: the other weights, i.e. data estimates not learned by gradient
  (BatchNormalization ``moving_mean`` / ``moving_variance``, ``Normalization`` mean/variance).
  They are tracked separately in the drift table and never reset, except BatchNormalization's,
  which the reset study treats explicitly (``bn_stats``):

  ``keep``      the trained statistics stay in place whatever is reset;
  ``reset``     resetting a BatchNormalization layer also resets its statistics (to the
                initial snapshot, or to its initializers for a fresh random reset);
  ``recompute`` after every reset (and for the reference) all statistics are re-estimated
                on a sample of training spectrograms (:func:`recompute_bn_stats`), so a
                reset is judged with statistics that match the network it produces.

Layers are found by walking the model (nested backbones included), never by arch name.

*Critical* is judged against the sampling error of the accuracy drop: the trained and the
reset model are scored on the same test segments, so the drop ``(b - c) / n`` depends
only on the ``m = b + c`` discordant segments (``b``: right before, wrong after; ``c``: the
reverse). Conditional on ``m``, ``b ~ Binomial(m, π)``; the exact (Clopper-Pearson) 95 %
interval of ``π`` gives the drop's interval ``((2 π_lo - 1) m / n, (2 π_hi - 1) m / n)``
(:func:`drop_interval`, the interval of the exact McNemar test). A layer is ``critical``
when the whole interval lies above ``critical_drop``, ``robust`` when it lies at or below,
and ``inconclusive`` when it straddles it (too few test segments to tell).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from audiolens.interpret.common import as_batch

__all__ = ["weight_layers", "split_weights", "epoch_weight_files", "snapshot",
           "weight_history", "drift_table", "restored_epoch", "fresh_weights", "bn_layers", "recompute_bn_stats",
           "spread", "evaluate", "drop_interval", "drop_status", "reset_robustness"]

_STOCHASTIC = (keras.layers.Dropout, keras.layers.GaussianNoise, keras.layers.GaussianDropout,
               keras.layers.AlphaDropout)
_EPOCH_RE = re.compile(r"epoch_(\d+)\.weights\.h5$")


def _walk(model: keras.Model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _walk(layer)
        else:
            yield layer


def split_weights(layer: keras.layers.Layer) -> tuple[list, list]:
    """``(parameters, statistics)`` variables of a layer.

    Parameters are the variables created trainable (also when the layer is frozen later);
    statistics are the others (BN moving mean/variance, ``Normalization`` mean/variance).
    """
    created_trainable = {id(v) for v in getattr(layer, "_trainable_variables", layer.trainable_weights)}
    params = [v for v in layer.weights if id(v) in created_trainable]
    stats = [v for v in layer.weights if id(v) not in created_trainable]
    return params, stats


def weight_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every (possibly nested) layer holding parameters, in model order."""
    return [layer for layer in _walk(model) if split_weights(layer)[0]]


def bn_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every (possibly nested) BatchNormalization layer, in model order."""
    return [layer for layer in _walk(model) if isinstance(layer, keras.layers.BatchNormalization)]


def snapshot(model: keras.Model) -> dict[str, np.ndarray]:
    """All weights as ``{variable.path: array}`` copies."""
    return {v.path: np.array(v) for v in model.weights}


def _restore(model: keras.Model, snap: dict[str, np.ndarray]) -> None:
    for v in model.weights:
        v.assign(snap[v.path])


def epoch_weight_files(weights_dir: str | Path) -> list[tuple[int, Path]]:
    """``[(0, initial.weights.h5), (1, epoch_001.weights.h5), ...]`` sorted by epoch.

    Raises
    ------
    FileNotFoundError
        When ``initial.weights.h5`` is missing (drift is measured from it).
    """
    weights_dir = Path(weights_dir)
    initial = weights_dir / "initial.weights.h5"
    if not initial.is_file():
        raise FileNotFoundError(f"{initial} is missing: train with save_epochs to get the "
                                f"initial and per-epoch weights")
    found = [(int(m.group(1)), p) for p in weights_dir.iterdir() if (m := _EPOCH_RE.search(p.name))]
    return [(0, initial)] + sorted(found)


def weight_history(model: keras.Model, files: list[tuple[int, Path]]) -> dict[int, dict[str, np.ndarray]]:
    """Load each weights file into ``model`` and snapshot it; the model's weights are restored.

    Returns ``{epoch: {variable.path: array}}``.
    """
    current = snapshot(model)
    out = {}
    try:
        for epoch, path in files:
            try:
                with warnings.catch_warnings():  # optimizer slots differ between epochs: irrelevant
                    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                    model.load_weights(path)
            except Exception as exc:  # h5 mismatch / unreadable
                raise ValueError(f"{path}: cannot load into model {model.name!r}: {exc}") from None
            out[int(epoch)] = snapshot(model)
    finally:
        _restore(model, current)
    return out


def _norm(arrays: list[np.ndarray]) -> float:
    return float(np.sqrt(sum(float((np.asarray(a, np.float64) ** 2).sum()) for a in arrays)))


def drift_table(model: keras.Model, history: dict[int, dict[str, np.ndarray]]) -> pd.DataFrame:
    """Per layer and epoch: ``‖W_e − W_0‖`` and ``‖W_e − W_0‖ / ‖W_0‖`` (W_0: epoch 0).

    Columns ``layer, kind, epoch, n_params, norm, change, relative_change, stats_change``
    (``stats_change``: relative change of the layer's statistics, e.g. BN moving mean/variance;
    NaN for layers without any).
    ``relative_change`` is NaN when ``‖W_0‖ = 0``.
    """
    if 0 not in history:
        raise ValueError("weight history needs epoch 0 (the initial weights)")
    w0 = history[0]
    rows = []
    for layer in weight_layers(model):
        params, stats = split_weights(layer)
        p_paths, s_paths = [v.path for v in params], [v.path for v in stats]
        n0, s0 = _norm([w0[p] for p in p_paths]), _norm([w0[p] for p in s_paths])
        for epoch in sorted(history):
            we = history[epoch]
            change = _norm([we[p] - w0[p] for p in p_paths])
            s_change = _norm([we[p] - w0[p] for p in s_paths]) / s0 if s_paths and s0 > 0 else np.nan
            rows.append({"layer": layer.name, "kind": type(layer).__name__, "epoch": epoch,
                         "n_params": int(sum(np.size(w0[p]) for p in p_paths)),
                         "norm": _norm([we[p] for p in p_paths]), "change": change,
                         "relative_change": change / n0 if n0 > 0 else np.nan,
                         "stats_change": s_change})
    return pd.DataFrame(rows)


def restored_epoch(history: dict[int, dict[str, np.ndarray]], restored: dict[str, np.ndarray]) -> int | None:
    """The epoch whose saved weights equal ``restored`` (e.g. the early-stopping best), or None."""
    for epoch in sorted(history, reverse=True):
        we = history[epoch]
        if set(we) == set(restored) and all(np.array_equal(we[k], restored[k]) for k in we):
            return int(epoch)
    return None


def fresh_weights(layer: keras.layers.Layer, *, seed: int, variables: list | None = None
                  ) -> dict[str, np.ndarray]:
    """New random values for the weights of ``layer`` (default all) from its own initializers.

    Each variable ``name`` uses the layer's ``<name>_initializer`` (``depthwise_kernel`` and
    a DepthwiseConv2D ``kernel`` -> ``depthwise_initializer``), re-seeded with ``seed`` so the result is reproducible and
    independent of the initializer's stored seed.

    Raises
    ------
    ValueError
        When a variable has no matching initializer attribute.
    """
    out = {}
    for i, v in enumerate(layer.weights if variables is None else variables):
        init = None
        candidates = [f"{v.name}_initializer", f"{v.name.replace('_kernel', '')}_initializer"]
        if v.name == "kernel":  # DepthwiseConv2D names its kernel "kernel"
            candidates.append("depthwise_initializer")
        for attr in candidates:
            init = getattr(layer, attr, None)
            if init is not None:
                break
        if init is None:
            raise ValueError(f"layer {layer.name!r}: no initializer found for weight {v.name!r}")
        cfg = keras.initializers.serialize(keras.initializers.get(init))
        if isinstance(cfg.get("config"), dict) and "seed" in cfg["config"]:
            cfg["config"]["seed"] = int(seed) * 1000 + i
        fresh = keras.initializers.deserialize(cfg)
        out[v.path] = np.asarray(fresh(tuple(v.shape), dtype=v.dtype), dtype=np.float32)
    return out


def recompute_bn_stats(model: keras.Model, x: np.ndarray) -> None:
    """Re-estimate every BatchNormalization's moving mean/variance on ``x`` (nested included).

    One forward pass in training mode with ``momentum = 0`` and every stochastic layer
    (dropout family, Gaussian noise) switched off: each BN normalises with, and stores, the
    exact mean and (biased) variance of its input over ``x``, computed with the already
    re-estimated earlier layers. All layer settings are restored afterwards.

    Parameters
    ----------
    x : ndarray, shape (n, F, T) or (n, F, T, 1)
        dB spectrograms (one batch: keep ``n`` moderate).
    """
    bns = bn_layers(model)
    if not bns:
        return
    xb = as_batch(model, x)
    noisy = [(layer, attr, getattr(layer, attr)) for layer in _walk(model)
             for attr in ("rate", "stddev")
             if isinstance(layer, _STOCHASTIC) and isinstance(getattr(layer, attr, None), (int, float))]
    saved = [(bn, bn.momentum, bn.trainable) for bn in bns]
    try:
        for bn in bns:
            bn.momentum, bn.trainable = 0.0, True
        for layer, attr, _ in noisy:
            setattr(layer, attr, 0.0)
        model(xb, training=True)
    finally:
        for bn, momentum, trainable in saved:
            bn.momentum, bn.trainable = momentum, trainable
        for layer, attr, value in noisy:
            setattr(layer, attr, value)


def spread(items: list, k: int | None) -> list:
    """At most ``k`` of ``items`` evenly spaced, first and last included (all when ``k`` is None)."""
    if k is None or len(items) <= k:
        return list(items)
    if k < 2:
        return list(items[-1:])
    return [items[i] for i in np.unique(np.linspace(0, len(items) - 1, k).round().astype(int))]


def _scores(predict, x: np.ndarray, y: np.ndarray, batch_size: int) -> tuple[np.ndarray, float]:
    """Per-example correctness ``(n,)`` bool and the mean cross-entropy loss."""
    probs = np.concatenate([np.asarray(predict(x[s:s + batch_size]), np.float64)
                            for s in range(0, len(x), batch_size)])
    p_true = np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0)
    return probs.argmax(axis=1) == y, float(-np.log(p_true).mean())


def evaluate(predict, x: np.ndarray, y: np.ndarray, *, batch_size: int = 64) -> tuple[float, float]:
    """``(accuracy, mean cross-entropy loss)`` of a probs-returning callable on ``(x, y)``."""
    correct, loss = _scores(predict, x, y, batch_size)
    return float(correct.mean()), loss


def drop_interval(correct_ref: np.ndarray, correct_new: np.ndarray, *, level: float = 0.95
                  ) -> tuple[float, float]:
    """Exact interval of the paired accuracy drop ``mean(correct_ref) - mean(correct_new)``.

    Clopper-Pearson interval of the share of "right before, wrong after" among the
    discordant examples, scaled to the drop (module docstring). ``(0, 0)`` when no
    prediction changed correctness.

    Parameters
    ----------
    correct_ref, correct_new : ndarray of bool, shape (n,)
        Per-example correctness of the reference and of the modified model (same examples).
    level : float
        Confidence level.
    """
    from scipy.stats import beta

    a, b_ = np.asarray(correct_ref, bool), np.asarray(correct_new, bool)
    if a.shape != b_.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"correctness vectors must be equal-length 1-D, got {a.shape} and {b_.shape}")
    n, b, c = a.size, int((a & ~b_).sum()), int((~a & b_).sum())
    m = b + c
    if m == 0:
        return 0.0, 0.0
    alpha = 1.0 - level
    lo = beta.ppf(alpha / 2, b, m - b + 1) if b > 0 else 0.0
    hi = beta.ppf(1 - alpha / 2, b + 1, m - b) if b < m else 1.0
    return float((2 * lo - 1) * m / n), float((2 * hi - 1) * m / n)


def drop_status(lo: float, hi: float, critical_drop: float) -> str:
    """``critical`` (interval above ``critical_drop``), ``robust`` (at or below) or ``inconclusive``."""
    if lo > critical_drop:
        return "critical"
    return "robust" if hi <= critical_drop else "inconclusive"


def reset_robustness(model: keras.Model, x: np.ndarray, y: np.ndarray, *,
                     initial: dict[str, np.ndarray], seed: int = 0,
                     bn_stats: Literal["keep", "reset", "recompute"],
                     x_stats: np.ndarray | None = None, critical_drop: float,
                     max_layers: int | None = None, batch_size: int = 64,
                     progress=None) -> tuple[pd.DataFrame, dict]:
    """Reset one layer at a time to its initial weights, and separately to fresh random ones.

    Parameters
    ----------
    model : keras.Model
        The trained model (its weights are restored on return).
    x, y : ndarray, shapes (n, F, T[, 1]) dB and (n,) int
        Test spectrograms and labels.
    initial : dict
        ``{variable.path: array}`` of the initial weights (see :func:`weight_history`).
    bn_stats : {"keep", "reset", "recompute"}
        BatchNormalization statistics handling (module docstring).
    x_stats : ndarray, optional
        Training spectrograms for ``recompute``.
    critical_drop : float
        A reset whose accuracy drop's 95 % interval (:func:`drop_interval`) lies above this
        marks the layer critical; at or below, robust; straddling it, inconclusive.
    max_layers : int, optional
        Study at most this many layers, evenly spread over the model (first and last
        included); all when ``None``.
    progress : callable, optional
        Wraps the layer iterable (e.g. ``tqdm``).

    Returns
    -------
    table : DataFrame
        One row per layer: ``layer, kind, n_params`` and per mode (``initial``, ``random``)
        ``acc_<mode>, loss_<mode>, drop_<mode>, drop_<mode>_lo, drop_<mode>_hi, status_<mode>``
        (status ``robust`` / ``inconclusive`` / ``critical``; ``n/a: <reason>`` with NaN
        numbers when a layer has no initializer to draw fresh weights from).
    reference : dict
        ``accuracy``, ``loss`` of the unmodified model (after the same BN treatment).
    """
    if bn_stats not in ("keep", "reset", "recompute"):
        raise ValueError(f"bn_stats must be keep, reset or recompute, got {bn_stats!r}")
    if bn_stats == "recompute" and bn_layers(model) and x_stats is None:
        raise ValueError("bn_stats='recompute' needs x_stats (training spectrograms)")
    xb, y = as_batch(model, x), np.asarray(y, dtype=np.int64)
    predict = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
    trained = snapshot(model)
    bns = bn_layers(model)
    recompute = bn_stats == "recompute" and bool(bns)

    def measure() -> tuple[np.ndarray, float]:
        if recompute:
            recompute_bn_stats(model, x_stats)
        return _scores(predict, xb, y, batch_size)

    rows = []
    try:
        ref_correct, ref_loss = measure()
        ref_acc = float(ref_correct.mean())
        _restore(model, trained)
        layers = spread(weight_layers(model), max_layers)
        for li, layer in enumerate(progress(layers) if progress else layers):
            params, stats = split_weights(layer)
            row = {"layer": layer.name, "kind": type(layer).__name__,
                   "n_params": int(sum(np.size(v) for v in params))}
            for mode in ("initial", "random"):
                targets = params + (stats if bn_stats == "reset" and layer in bns else [])
                try:
                    new = ({v.path: initial[v.path] for v in targets} if mode == "initial"
                           else fresh_weights(layer, seed=seed + li, variables=targets))
                except ValueError as exc:  # no initializer to draw fresh weights from
                    row.update({f"acc_{mode}": np.nan, f"loss_{mode}": np.nan, f"drop_{mode}": np.nan,
                                f"drop_{mode}_lo": np.nan, f"drop_{mode}_hi": np.nan,
                                f"status_{mode}": f"n/a: {exc}"})
                    continue
                for v in targets:
                    v.assign(new[v.path])
                correct, loss = measure()
                _restore(model, trained)
                lo, hi = drop_interval(ref_correct, correct)
                row[f"acc_{mode}"], row[f"loss_{mode}"] = float(correct.mean()), loss
                row[f"drop_{mode}"] = ref_acc - float(correct.mean())
                row[f"drop_{mode}_lo"], row[f"drop_{mode}_hi"] = lo, hi
                row[f"status_{mode}"] = drop_status(lo, hi, critical_drop)
            rows.append(row)
    finally:
        _restore(model, trained)
    return pd.DataFrame(rows), {"accuracy": ref_acc, "loss": ref_loss, "bn_stats": bn_stats,
                                "critical_drop": critical_drop, "n_test": int(len(y))}
