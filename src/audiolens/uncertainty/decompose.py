"""Predictive-uncertainty decomposition of sampled class probabilities.

A *sample stack* is an array ``(S, n, C)``: ``S`` stochastic predictions (MC-dropout passes
or ensemble members) of ``n`` examples over ``C`` classes. Its mean is the prediction;
the spread is the uncertainty:

- predictive entropy ``H[E_s p_s]`` (total uncertainty),
- expected entropy ``E_s H[p_s]`` (aleatoric part),
- mutual information ``H[E_s p_s] - E_s H[p_s]`` (epistemic part, >= 0; 0 when all
  samples agree).

Entropies are in nats.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EPS", "Predictive", "entropy", "summarise"]

EPS = 1e-12


def entropy(p: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Shannon entropy (nats) of probability vectors along ``axis`` (``0 log 0 = 0``)."""
    p = np.asarray(p, dtype=np.float64)
    return -np.sum(np.where(p > 0, p * np.log(np.maximum(p, EPS)), 0.0), axis=axis)


@dataclass(frozen=True)
class Predictive:
    """Mean prediction and uncertainty of one method on ``n`` examples.

    Attributes
    ----------
    samples : ndarray (S, n, C)
        The stochastic predictions (S = 1 for a deterministic model).
    mean : ndarray (n, C)
        Mean probabilities (the prediction).
    std : ndarray (n, C)
        Per-class standard deviation across samples (population std, 0 for S = 1).
    predictive_entropy, expected_entropy, mutual_info : ndarray (n,)
        Entropy decomposition (nats).
    """

    samples: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    predictive_entropy: np.ndarray
    expected_entropy: np.ndarray
    mutual_info: np.ndarray

    @property
    def n_samples(self) -> int:
        """Number of stochastic samples S."""
        return int(self.samples.shape[0])

    @property
    def predicted(self) -> np.ndarray:
        """Predicted class index per example, ``(n,)``."""
        return np.argmax(self.mean, axis=1)

    @property
    def max_prob(self) -> np.ndarray:
        """Probability of the predicted class, ``(n,)``."""
        return np.max(self.mean, axis=1)

    @property
    def predicted_std(self) -> np.ndarray:
        """Std across samples of the predicted class's probability, ``(n,)``."""
        return self.std[np.arange(self.std.shape[0]), self.predicted]

    def scores(self) -> dict[str, np.ndarray]:
        """Uncertainty scores, each ``(n,)``, **higher = less certain**.

        ``max_prob`` is returned as ``1 - max prob``; ``std`` is :attr:`predicted_std`.
        For a single deterministic sample ``mutual_info`` and ``std`` are omitted (always 0).
        """
        out = {"max_prob": 1.0 - self.max_prob, "entropy": self.predictive_entropy}
        if self.n_samples > 1:
            out["mutual_info"] = self.mutual_info
            out["std"] = self.predicted_std
        return out

    def head(self, s: int) -> "Predictive":
        """The same summary using only the first ``s`` samples."""
        if not 1 <= s <= self.n_samples:
            raise ValueError(f"s must be in 1..{self.n_samples}, got {s}")
        return summarise(self.samples[:s])


def summarise(samples: np.ndarray) -> Predictive:
    """Summarise a sample stack.

    Parameters
    ----------
    samples : array (S, n, C) or (n, C)
        Class probabilities; a 2-D array is one deterministic sample.

    Returns
    -------
    Predictive
    """
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim == 2:
        s = s[None]
    if s.ndim != 3 or s.shape[0] < 1:
        raise ValueError(f"samples must have shape (S, n, C), got {np.shape(samples)}")
    if not np.all(np.isfinite(s)):
        raise ValueError("samples contain NaN or inf probabilities")
    mean = s.mean(axis=0)
    h_pred = entropy(mean)
    h_exp = entropy(s).mean(axis=0)
    # Jensen: H[mean] >= mean H; clip tiny negative round-off.
    mi = np.maximum(h_pred - h_exp, 0.0)
    return Predictive(samples=s.astype(np.float32), mean=mean, std=s.std(axis=0),
                      predictive_entropy=h_pred, expected_entropy=h_exp, mutual_info=mi)
