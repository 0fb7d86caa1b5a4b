"""Evaluation of a trained model on held-out data.

Import the submodules directly (nothing is imported here, so each stage loads only what it uses):

- :mod:`~audiolens.evaluation.metrics`: segment and recording level metrics, EER, FAR/FRR, ROC;
- :mod:`~audiolens.evaluation.scoring`: probabilities -> every figure of a split or a CV fold
  (TensorFlow-free: the baseline stage reports exactly what ``evaluate`` reports);
- :mod:`~audiolens.evaluation.operating_point`: the binary threshold, fixed or picked on validation
  (EER or target FAR);
- :mod:`~audiolens.evaluation.margin`: the CNN's margin over the best baseline and its sentence;
- :mod:`~audiolens.evaluation.figures`: confusion matrix, ROC, confidence strip, galleries;
- :mod:`~audiolens.evaluation.noise`: robustness to noise mixed into the audio at set SNRs
  (accuracy, calibration and attribution fidelity per noise × SNR; run by the attribution stage);
- :mod:`~audiolens.evaluation.stage`: the evaluate stage (:func:`~audiolens.evaluation.stage.run`
  on one split, :func:`~audiolens.evaluation.stage.cv_summary` over cross-validation folds).
"""
