"""The binary gate's operating point: a fixed threshold, or one picked on the validation split.

A binary task accepts a segment (or recording) when P(positive) >= threshold. With
``threshold="auto"`` the threshold is picked on validation scores, never on the test set:

- ``target_far=None``: at the equal error rate (:func:`eer_threshold`): where FAR = FRR; when
  a whole range of thresholds gives FAR = FRR (always so on separable scores, where both are 0)
  its middle, not an edge that the test set's first unlucky score falls across;
- ``target_far=f``: the lowest validation score threshold whose FAR does not exceed ``f``
  (so the FRR is as small as that FAR allows).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audiolens.errors import ParameterError
from audiolens.evaluation.metrics import eer, far_frr

__all__ = ["OperatingPointSettings", "eer_threshold", "threshold_at_far", "pick_threshold", "DEFAULT_THRESHOLD"]

# used only when "auto" cannot pick (no validation split holding both classes): P >= 0.5, i.e. argmax
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True, kw_only=True)
class OperatingPointSettings:
    """How the binary accept threshold is chosen.

    Attributes
    ----------
    threshold : float or "auto"
        A fixed threshold on P(positive) in (0, 1), or ``"auto"``: picked on validation.
    target_far : float or None
        With ``"auto"``: the false acceptance rate to operate at, in (0, 1); None: the EER point.
    """

    threshold: float | str
    target_far: float | None


def eer_threshold(scores, is_positive) -> tuple[float, float]:
    """The equal error rate and the threshold at it (accept when ``score >= threshold``).

    FAR and FRR only change at score values, so FAR = FRR either holds on a range of
    thresholds, of which the middle is returned, or nowhere exactly, and the threshold is
    :func:`~audiolens.evaluation.metrics.eer`'s interpolated crossing.

    Returns
    -------
    eer : float
    threshold : float
    """
    scores = np.asarray(scores, dtype=float)
    pos = np.asarray(is_positive, dtype=bool)
    e, t = eer(scores, pos)
    u = np.unique(scores)  # threshold u[i] stands for every t in (u[i-1], u[i]]
    far = np.array([(scores[~pos] >= x).mean() for x in u])
    frr = np.array([(scores[pos] < x).mean() for x in u])
    equal = np.flatnonzero(far == frr)
    if len(equal) == 0 or equal[0] == 0:
        return e, t
    lo, hi = u[equal[0] - 1], u[equal[-1]]  # FAR = FRR for every t in (lo, hi]
    return float(far[equal[0]]), float((lo + hi) / 2)


def threshold_at_far(scores, is_positive, target_far: float) -> float:
    """The lowest threshold (a score value) whose FAR (accepted negatives / negatives) is <= ``target_far``.

    Accept means ``score >= threshold``. When even the highest negative score must be
    rejected, the threshold lies just above it.
    """
    if not 0.0 < target_far < 1.0:
        raise ParameterError(f"target_far must be in (0, 1), got {target_far}")
    scores = np.asarray(scores, dtype=float)
    pos = np.asarray(is_positive, dtype=bool)
    if pos.all() or not pos.any():
        raise ParameterError("a FAR needs both positive and negative scores")
    neg = scores[~pos]
    for t in np.unique(scores):  # ascending: the first that qualifies is the lowest
        if (neg >= t).mean() <= target_far:
            return float(t)
    return float(np.nextafter(neg.max(), np.inf))


def pick_threshold(settings: OperatingPointSettings, val_scores=None, val_is_positive=None) -> dict:
    """The operating threshold and how it was chosen.

    Parameters
    ----------
    settings : OperatingPointSettings
    val_scores : (n,) float, optional
        Validation P(positive) (segments); needed for ``"auto"``.
    val_is_positive : (n,) bool, optional

    Returns
    -------
    dict
        ``threshold``, ``method`` (``fixed`` | ``eer`` | ``target_far`` | ``default``),
        ``chosen_on`` (``validation`` or None), ``target_far``, ``description`` (one
        sentence), and when validation scores were usable ``val_far``, ``val_frr``,
        ``val_eer``, ``n_val``.
    """
    have_val = (val_scores is not None and len(val_scores) > 0
                and 0 < int(np.sum(val_is_positive)) < len(val_scores))
    out: dict = {"target_far": settings.target_far}
    if settings.threshold != "auto":
        t = float(settings.threshold)
        out.update(threshold=t, method="fixed", chosen_on=None,
                   description=f"fixed threshold {t:g} (evaluate.threshold)")
    elif not have_val:
        out.update(threshold=DEFAULT_THRESHOLD, method="default", chosen_on=None,
                   description=f"threshold {DEFAULT_THRESHOLD:g}: no validation split with both classes "
                               f"to pick one on")
    elif settings.target_far is None:
        e, t = eer_threshold(val_scores, val_is_positive)
        out.update(threshold=float(t), method="eer", chosen_on="validation",
                   description=f"threshold {t:.4g} at the validation EER ({100 * e:.1f} %)")
    else:
        t = threshold_at_far(val_scores, val_is_positive, settings.target_far)
        out.update(threshold=t, method="target_far", chosen_on="validation",
                   description=f"threshold {t:.4g}: the lowest with validation FAR <= "
                               f"{100 * settings.target_far:g} %")
    if have_val:
        pos = np.asarray(val_is_positive, dtype=bool)
        out["val_far"], out["val_frr"] = far_frr(val_scores, pos, out["threshold"])
        out["val_eer"] = eer(val_scores, pos)[0]
        out["n_val"] = int(len(val_scores))
    return out
