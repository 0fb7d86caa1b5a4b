"""Out-of-distribution rejection for the voice gate (``audiolens predict``).

Import the submodules directly (nothing is imported here):

- :mod:`~audiolens.ood.detector`: k-NN / Mahalanobis embedding distance, threshold, AUROC;
- :mod:`~audiolens.ood.signals`: the generated non-speech set and the speech-presence test;
- :mod:`~audiolens.ood.check`: ``models/ood.npz`` and the check ``predict`` applies;
- :mod:`~audiolens.ood.stage`: the ``ood`` stage (fit, thresholds, whole-gate false accepts).
"""
