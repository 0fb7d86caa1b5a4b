"""Where each pipeline stage reads and writes: the one home of the stage paths.

Stage scripts import their paths from here; ``dvc.yaml`` repeats them because DVC needs
them, and ``tests/test_dvc_deps.py`` fails when a stage's data ``deps``/``outs`` in
``dvc.yaml`` differ from :data:`STAGES`, or when a stage script uses a path its stage does
not declare. All paths are relative to the project root (where ``dvc.yaml`` is).

The data root and the CSV manifest come from ``params.yaml`` (``dvc.yaml`` interpolates
them), so they are not here.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

# raw and interim data
DEMO_CORPUS = Path("data/raw/demo")
INGEST = Path("data/interim/ingest")
MANIFEST = INGEST / "manifest.csv"
CLASSES = INGEST / "classes.json"
CLEAN = Path("data/interim/clean")
CLEAN_LOG = CLEAN / "clean_log.csv"
SEGMENTS = Path("data/interim/segments")
SEGMENT_TABLE = SEGMENTS / "segments.csv"
AUGMENTED = Path("data/interim/augmented")
AUGMENTED_TABLE = AUGMENTED / "segments.csv"
# model inputs
FEATURES = Path("data/processed/features")
FEATURE_INDEX = FEATURES / "index.csv"
FEATURE_META = FEATURES / "meta.json"
SPLIT = Path("data/processed/split")
SPLIT_TABLE = SPLIT / "split.csv"
# models
MODELS = Path("models")
MODEL = MODELS / "model.keras"
WEIGHTS = MODELS / "weights"
CV_MODELS = MODELS / "cv"
TRAIN_META = MODELS / "train_meta.json"
MODEL_PARAMS = MODELS / "resolved_params.yaml"
ENSEMBLE = MODELS / "ensemble"
OOD_CHECK = MODELS / "ood.npz"
# reports (one folder per stage, plus the HTML report)
REPORTS = Path("reports")
INGEST_REPORT = REPORTS / "ingest"
CLEAN_REPORT = REPORTS / "clean"
SEGMENT_REPORT = REPORTS / "segment"
AUGMENT_REPORT = REPORTS / "augment"
EDA_REPORT = REPORTS / "eda"
TRAIN_REPORT = REPORTS / "train"
EVAL_REPORT = REPORTS / "eval"
BASELINE_REPORT = REPORTS / "baseline"
BASELINE_METRICS = BASELINE_REPORT / "metrics.json"
BASELINE_PREDICTIONS = BASELINE_REPORT / "predictions.csv"
UNCERTAINTY_REPORT = REPORTS / "uncertainty"
ABSTAIN = UNCERTAINTY_REPORT / "abstain.json"
EVAL_THRESHOLD = EVAL_REPORT / "threshold.json"
EVAL_METRICS = EVAL_REPORT / "metrics.json"
OOD_REPORT = REPORTS / "ood"
OOD_METRICS = OOD_REPORT / "metrics.json"
INTERPRET_REPORT = REPORTS / "interpret"
PARAMSPACE_REPORT = REPORTS / "paramspace"
ATTRIBUTION_REPORT = REPORTS / "attribution"
REPORT_HTML = REPORTS / "report.html"
REPORT_ASSETS = REPORTS / "report"
REPORT_SUMMARY = REPORTS / "summary.md"
HEADLINE = REPORTS / "headline.json"


@dataclass(frozen=True)
class StagePaths:
    """The data a stage reads (``deps``) and writes (``outs``), as ``dvc.yaml`` lists them.

    For a ``foreach`` stage, each out is the parent folder of the per-item output
    (``dvc.yaml`` appends ``/${item}``).
    """

    deps: tuple[Path, ...]
    outs: tuple[Path, ...]


STAGES: Mapping[str, StagePaths] = MappingProxyType({
    "demo": StagePaths(deps=(), outs=(DEMO_CORPUS,)),
    "ingest": StagePaths(deps=(), outs=(INGEST, INGEST_REPORT / "skipped.csv", INGEST_REPORT / "duplicates.csv",
                                       INGEST_REPORT / "summary.json")),
    "clean": StagePaths(deps=(MANIFEST,), outs=(CLEAN, CLEAN_REPORT / "skipped.csv", CLEAN_REPORT / "summary.json")),
    "segment": StagePaths(deps=(MANIFEST, CLEAN), outs=(SEGMENTS, SEGMENT_REPORT / "skipped.csv")),
    "augment": StagePaths(deps=(MANIFEST, CLASSES, CLEAN, SEGMENT_TABLE), outs=(AUGMENTED, AUGMENT_REPORT / "skipped.csv")),
    "spectrogram": StagePaths(deps=(CLASSES, SEGMENT_TABLE, AUGMENTED, CLEAN), outs=(FEATURES,)),
    "split": StagePaths(deps=(FEATURE_INDEX, FEATURE_META), outs=(SPLIT,)),
    "eda": StagePaths(deps=(INGEST, CLEAN, SEGMENTS, AUGMENTED, FEATURES), outs=(EDA_REPORT,)),
    "train": StagePaths(deps=(FEATURES, SPLIT),
                        outs=(MODEL, WEIGHTS, CV_MODELS, TRAIN_META, MODEL_PARAMS, TRAIN_REPORT)),
    "baseline": StagePaths(deps=(FEATURES, SPLIT), outs=(BASELINE_REPORT,)),
    "evaluate": StagePaths(deps=(MODEL, TRAIN_META, CV_MODELS, FEATURES, SPLIT, BASELINE_METRICS,
                                 BASELINE_PREDICTIONS),
                           outs=(EVAL_REPORT,)),
    "train_member": StagePaths(deps=(FEATURES, SPLIT), outs=(ENSEMBLE,)),
    "uncertainty": StagePaths(deps=(MODEL, ENSEMBLE, FEATURES, SPLIT), outs=(UNCERTAINTY_REPORT,)),
    "ood": StagePaths(deps=(MODEL, ENSEMBLE, FEATURES, SPLIT, CLEAN, ABSTAIN, EVAL_THRESHOLD),
                      outs=(OOD_CHECK, OOD_REPORT)),
    "attribution": StagePaths(deps=(MODEL, FEATURES, SPLIT, CLEAN), outs=(ATTRIBUTION_REPORT,)),
    "interpret": StagePaths(deps=(MODEL, FEATURES, SPLIT), outs=(INTERPRET_REPORT,)),
    "paramspace": StagePaths(deps=(MODEL, WEIGHTS, FEATURES, SPLIT), outs=(PARAMSPACE_REPORT,)),
    "report": StagePaths(deps=(INGEST_REPORT, CLEAN_REPORT, EDA_REPORT, TRAIN_REPORT, BASELINE_REPORT, EVAL_REPORT,
                               UNCERTAINTY_REPORT, INTERPRET_REPORT, PARAMSPACE_REPORT, ATTRIBUTION_REPORT,
                               OOD_REPORT),
                         outs=(REPORT_HTML, REPORT_ASSETS, REPORT_SUMMARY, HEADLINE)),
})
