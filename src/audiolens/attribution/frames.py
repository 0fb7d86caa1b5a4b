"""Per-example frames of the attribution stage: spectral fidelity with its random-mask
control, deletion / insertion curves, and fidelity after the audio round trip.

Every spectral measurement replaces removed bins by the same ``fill`` (``(n, F, T)`` dB,
:func:`audiolens.attribution.masks.fill_state`) for every explainer and for the random
control, and the audio round trip resynthesises from the same fill (only the listenable WAVs
remove to the floor).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from audiolens.attribution.curves import (curve_auc, deletion_insertion, fractions, random_control,
                                         random_curves)
from audiolens.attribution.explainers import probabilities
from audiolens.attribution.fidelity import METRICS, fidelity_metrics, spectral_fidelity
from audiolens.attribution.masks import make_masks, parse_mask_kind
from audiolens.attribution.reconstruct import roundtrip_probs
from audiolens.features import SpectrogramConfig

__all__ = ["fidelity_frame", "curves_frame", "roundtrip_frame"]


def _rows(metrics: dict[str, np.ndarray], **keys) -> pd.DataFrame:
    df = pd.DataFrame({k: np.asarray(v) for k, v in metrics.items()})
    for k, v in reversed(list(keys.items())):
        df.insert(0, k, v)
    return df


def _k_mask(shape: tuple[int, int, int], k: float) -> np.ndarray:
    """Masks ``(n, F, T)`` with ``ceil(k % of F·T)`` ones (where does not matter: the control shuffles)."""
    n, f, t = shape
    m = np.zeros((n, f * t), np.float32)
    m[:, :int(np.ceil(f * t * k / 100.0))] = 1.0
    return m.reshape(shape)


def fidelity_frame(model, x: np.ndarray, c: np.ndarray, ids: Sequence[str], maps: dict[str, np.ndarray],
                   masks: Sequence[str], *, floor_db: float | None, probs: np.ndarray,
                   fill: np.ndarray | None = None, draws: int = 10, seed: int = 0) -> pd.DataFrame:
    """Per-example spectral fidelity for every explainer × mask kind (``domain = "spectral"``).

    Each row also carries ``rand_<metric>``, the random-mask control at the same ``k``
    (:func:`audiolens.attribution.curves.random_control`, ``draws`` seeded draws), and for
    every plain ``top<k>`` mask an ``explainer = "random"`` row is added (the control all
    explainers share at that ``k``). SPS / COMP are computed on the raw maps. Removed bins
    take ``fill`` ``(n, F, T)`` dB (None: the floor).
    """
    predict = probabilities(model)
    cache: dict = {}
    ctl = dict(probs=probs, floor_db=floor_db, fill=fill, draws=draws, seed=seed, cache=cache)
    frames = []
    for name, a in maps.items():
        for kind in masks:
            m = make_masks(a, kind, seed=seed)
            met = spectral_fidelity(predict, x, m, c, floor_db=floor_db, probs=probs, maps=a, fill=fill)
            met.update({f"rand_{k}": v for k, v in random_control(predict, x, m, c, **ctl).items()})
            frames.append(_rows(met, domain="spectral", explainer=name, mask=kind, segment_id=list(ids)))
    for kind in masks:
        family, pos, k = parse_mask_kind(kind)
        if family == "top" and not pos:
            m = _k_mask(x.shape, k)
            ctrl = random_control(predict, x, m, c, **ctl)
            met = {**ctrl, "mask_mean": m.mean(axis=(1, 2)), **{f"rand_{k}": v for k, v in ctrl.items()}}
            frames.append(_rows(met, domain="spectral", explainer="random", mask=kind, segment_id=list(ids)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["domain", *METRICS])


def curves_frame(model, x: np.ndarray, c: np.ndarray, ids: Sequence[str], maps: dict[str, np.ndarray], *,
                 steps: int, floor_db: float | None, fill: np.ndarray | None = None, draws: int = 10,
                 seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deletion / insertion curves of every explainer and of random orders (``explainer = "random"``).

    Removed bins take ``fill`` ``(n, F, T)`` dB (None: the floor), the same for all.

    Returns
    -------
    per_example : DataFrame
        ``explainer, segment_id, deletion_auc, insertion_auc, deletion_gain, insertion_gain``
        (gain: ``random - deletion`` and ``insertion - random``, positive = better than chance).
    curves : DataFrame
        ``explainer, k, deletion, insertion``: the mean curves over examples.
    """
    predict = probabilities(model)
    ks = fractions(steps)
    r_del, r_ins = random_curves(predict, x, c, ks, floor_db=floor_db, fill=fill, draws=draws, seed=seed)
    r_dauc, r_iauc = curve_auc(r_del, ks), curve_auc(r_ins, ks)
    rows, curves = [], []
    for name, (d, i) in {**{n: deletion_insertion(predict, x, a, c, ks, floor_db=floor_db, fill=fill,
                                                                 seed=seed)
                            for n, a in maps.items()}, "random": (r_del, r_ins)}.items():
        dauc, iauc = curve_auc(d, ks), curve_auc(i, ks)
        rows.append(pd.DataFrame({"explainer": name, "segment_id": list(ids), "deletion_auc": dauc,
                                  "insertion_auc": iauc, "deletion_gain": r_dauc - dauc,
                                  "insertion_gain": iauc - r_iauc}))
        curves.append(pd.DataFrame({"explainer": name, "k": ks, "deletion": d.mean(axis=0),
                                    "insertion": i.mean(axis=0)}))
    return pd.concat(rows, ignore_index=True), pd.concat(curves, ignore_index=True)


def roundtrip_frame(model, x: np.ndarray, c: np.ndarray, ids: Sequence[str], maps: dict[str, np.ndarray],
                    masks: Sequence[str], *, config: SpectrogramConfig, ref_amplitude: np.ndarray,
                    audio: list[np.ndarray], floor_db: float | None, seed: int = 0,
                    fill: np.ndarray | None = None) -> pd.DataFrame:
    """Per-example fidelity after the audio round trip (``domain = "audio"``).

    ``p_c(X)`` is the model on the unmasked round trip, so the metrics measure the mask
    and not the resynthesis. Removed bins take ``fill`` ``(n, F, T)`` dB (the spectral
    metrics' fill) before resynthesis; None: the floor.
    """
    predict = probabilities(model)
    kw = dict(config=config, ref_amplitude=ref_amplitude, source_audio=audio, floor_db=floor_db)
    p = roundtrip_probs(predict, x, np.ones_like(x), complement=False, **kw)[0]
    frames = []
    for name, a in maps.items():
        for kind in masks:
            m = make_masks(a, kind, seed=seed)
            p_in, p_out = roundtrip_probs(predict, x, m, fill=fill, **kw)
            met = fidelity_metrics(p, p_in, p_out, c, m, a)
            frames.append(_rows(met, domain="audio", explainer=name, mask=kind, segment_id=list(ids)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
