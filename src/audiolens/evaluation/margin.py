"""The CNN against the best baseline: margins (dvc metrics) and one plain sentence for the report.

A margin is CNN minus baseline, in accuracy units (0.05 = 5 points), on the same test
segments and recordings; positive means the CNN is better. With a paired bootstrap
(:func:`audiolens.evaluation.intervals.paired_margin`) each margin has a 95 % interval, and
a margin whose interval spans 0 is called "not distinguishable".
"""
from __future__ import annotations

__all__ = ["MARGIN_KEYS", "baseline_margin", "margin_sentence"]

# (margin key, where the figure is in an evaluate / baseline metrics.json)
MARGIN_KEYS = (("accuracy", ("accuracy",)),
               ("balanced_accuracy", ("balanced_accuracy",)),
               ("recording_accuracy", ("recording", "mean_prob", "accuracy")),
               ("recording_balanced_accuracy", ("recording", "mean_prob", "balanced_accuracy")))


def _get(d: dict, path: tuple[str, ...]):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def baseline_margin(cnn: dict, baseline: dict, paired: dict | None = None) -> dict:
    """CNN minus best baseline for accuracy and balanced accuracy, segment and recording level.

    Parameters
    ----------
    cnn : dict
        The evaluate metrics (``accuracy``, ``balanced_accuracy``, ``recording.mean_prob``,
        optional ``cv``).
    baseline : dict
        The baseline stage's metrics (same layout, plus ``best``).
    paired : dict, optional
        :func:`~audiolens.evaluation.intervals.paired_margin` (``{key: {diff, lo, hi,
        distinguishable}}``).

    Returns
    -------
    dict
        ``baseline`` (name of the best baseline), the four margins, ``baseline_<key>``
        (the baseline's own figures), ``cnn_beats_baseline`` (1 when no margin is negative and
        one is positive, else 0: a number so that ``dvc metrics diff`` shows it) and, when both have
        cross-validation results, ``cv``: ``<key>_mean`` margins of the fold means and
        per-fold ``folds``. With ``paired``: ``ci95`` (``{key: {"lo", "hi"}}``) and
        ``distinguishable`` (``{key: 1 when the interval excludes 0, else 0}``).
    """
    out: dict = {"baseline": baseline.get("best")}
    margins = []
    for key, path in MARGIN_KEYS:
        a, b = _get(cnn, path), _get(baseline, path)
        out[key] = None if a is None or b is None else float(a - b)
        out[f"baseline_{key}"] = b
        if out[key] is not None:
            margins.append(out[key])
    out["cnn_beats_baseline"] = int(bool(margins) and min(margins) >= 0 and max(margins) > 0)
    with_ci = {k: v for k, v in (paired or {}).items() if v.get("lo") is not None and out.get(k) is not None}
    if with_ci:
        out["ci95"] = {k: {"lo": v["lo"], "hi": v["hi"]} for k, v in with_ci.items()}
        out["distinguishable"] = {k: int(v["distinguishable"]) for k, v in with_ci.items()}
    cv_a, cv_b = cnn.get("cv"), baseline.get("cv")
    if cv_a and cv_b and cv_a.get("k") == cv_b.get("k"):
        cv = {}
        for key, _ in MARGIN_KEYS:
            a, b = cv_a.get(f"{key}_mean"), cv_b.get(f"{key}_mean")
            cv[f"{key}_mean"] = None if a is None or b is None else float(a - b)
        cv["folds"] = [{"fold": fb.get("fold", str(i)),
                        **{key: (None if fa.get(key) is None or fb.get(key) is None
                                 else float(fa[key] - fb[key])) for key, _ in MARGIN_KEYS}}
                       for i, (fa, fb) in enumerate(zip(cv_a["folds"], cv_b["folds"]))]
        out["cv"] = cv
    return out


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def _pts(v) -> str:
    return "n/a" if v is None else f"{100 * v:+.1f} points"


def _ci(margin: dict, key: str) -> str:
    ci = (margin.get("ci95") or {}).get(key)
    if ci is None:
        return ""
    verdict = "" if (margin.get("distinguishable") or {}).get(key) else ": not distinguishable"
    return f" (95 % interval {100 * ci['lo']:+.1f} to {100 * ci['hi']:+.1f}{verdict})"


def margin_sentence(cnn: dict, margin: dict) -> str:
    """One plain line: both numbers and the margin (with its paired 95 % interval when known); says so
    when the CNN does not beat the baseline, and when a margin is not distinguishable from 0."""
    base = {key: margin.get(f"baseline_{key}") for key, _ in MARGIN_KEYS}
    line = (f"CNN test accuracy {_pct(cnn.get('accuracy'))} (balanced {_pct(cnn.get('balanced_accuracy'))}, "
            f"recordings {_pct(_get(cnn, MARGIN_KEYS[2][1]))}) vs best baseline ({margin.get('baseline')}) "
            f"{_pct(base['accuracy'])} (balanced {_pct(base['balanced_accuracy'])}, recordings "
            f"{_pct(base['recording_accuracy'])}): margin {_pts(margin.get('accuracy'))}{_ci(margin, 'accuracy')} "
            f"on segments, {_pts(margin.get('recording_accuracy'))}{_ci(margin, 'recording_accuracy')} "
            f"on recordings.")
    if "cv" in margin:
        line += (f" Cross-validation ({len(margin['cv']['folds'])} folds): mean margin "
                 f"{_pts(margin['cv'].get('accuracy_mean'))} on segments.")
    known = [margin.get(key) for key, _ in MARGIN_KEYS if margin.get(key) is not None]
    if not known:
        return line + " No margin could be computed."
    def named(test) -> str:
        return ", ".join(key.replace("_", " ") for key, _ in MARGIN_KEYS
                         if margin.get(key) is not None and test(margin[key]))

    dist = margin.get("distinguishable")
    if margin.get("cnn_beats_baseline"):
        ties = named(lambda v: v == 0)
        if dist is not None and not any(dist.values()):
            return line + (" The CNN is ahead of the baseline, but not distinguishably: every margin's "
                           "95 % interval spans 0 (more test recordings would be needed to tell them apart).")
        return line + " The CNN beats the baseline" + (f" (a tie on {ties})." if ties else ".")
    if max(known) == 0 and min(known) == 0:
        return line + (" The CNN does NOT beat the baseline: they tie, a classifier on per-band statistics "
                       "does as well.")
    line += (f" The CNN does NOT beat the baseline: it is worse on {named(lambda v: v < 0)} than a "
             f"classifier on per-band statistics.")
    if dist is not None and not any(dist.values()):
        line += " The differences are not distinguishable (every 95 % interval spans 0)."
    return line
