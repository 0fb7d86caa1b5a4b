"""Evaluation: metrics (segment and recording level, EER, FAR/FRR), dvc plot data and figures."""
from audiolens.evaluation.metrics import (aggregate_recordings, class_report, classification_metrics, eer,
                                          far_frr, roc_auc, roc_points)
from audiolens.evaluation.run import binary_metrics, cv_summary, evaluate_split, predict_probs, prediction_table

__all__ = ["aggregate_recordings", "class_report", "classification_metrics", "eer", "far_frr", "roc_auc",
           "roc_points", "binary_metrics", "cv_summary", "evaluate_split", "predict_probs", "prediction_table"]
