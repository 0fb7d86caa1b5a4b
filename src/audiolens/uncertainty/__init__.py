"""Predictive uncertainty: MC dropout, deep ensembles, calibration and selective prediction.

Modules: :mod:`.mc_dropout` (always-on dropout on the stochastic tail), :mod:`.ensemble`
and :mod:`.members` (deep ensemble), :mod:`.decompose` (entropy / mutual information),
:mod:`.metrics` (NLL, Brier, ECE/MCE, AUROC/AUPRC, risk–coverage, AURC),
:mod:`.selective` (abstention), :mod:`.compare` / :mod:`.figures` / :mod:`.stage`
(the stage's analysis, :func:`.stage.run`) and :mod:`.gate` (abstaining predictor for the predict CLI).
"""
