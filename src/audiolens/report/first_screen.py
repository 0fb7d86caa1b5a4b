"""The report's first screen: the answer before the details.

Everything here is read from the stage outputs under ``reports/`` and degrades gracefully:
a missing file or key leaves its line out (or shows ``–``), never an error.

- task: binary gate or k classes (``eval/metrics.json`` ``binary``, ``eval/threshold.json``,
  ``uncertainty/abstain.json`` class names, ``eval/class_report.json``, ``ingest/summary.json``);
- data: recordings, speakers, hours, segments per split, what was skipped and why
  (``ingest``/``clean``/``eda`` summaries, every ``<stage>/skipped.csv``);
- headline metrics of the CNN with n and 95 % interval beside the best baseline's and the
  difference (``eval/metrics.json`` incl. ``baseline_margin``, ``baseline/metrics.json``,
  ``uncertainty/metrics.json`` for ECE); intervals in any shape :mod:`audiolens.report.values` reads;
- the gate's operating point (threshold, test FAR/FRR, abstention coverage) and calibration
  (ECE of single model, MC dropout, ensemble);
- plain-language warnings: small n, the CNN not beating the baseline, an outlier ensemble
  member, the OOD check's rates (``ood/metrics.json``), files skipped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from audiolens.report.values import Value, fmt_value, lookup, number

__all__ = ["FirstScreenSettings", "first_screen"]

# (label, path in eval/baseline metrics, key of baseline_margin, shown as percent)
METRIC_ROWS = (
    ("accuracy", "accuracy", "accuracy", True),
    ("balanced accuracy", "balanced_accuracy", "balanced_accuracy", True),
    ("macro F1", "f1_macro", "f1_macro", True),
    ("EER (equal error rate)", "binary.eer", "eer", True),
    ("accuracy per recording", "recording.mean_prob.accuracy", "recording_accuracy", True),
)
METHODS = (("single", "single model"), ("mc_dropout", "MC dropout"), ("ensemble", "deep ensemble"))
ECE_KEYS = (("ece", "ECE"), ("ece_debiased", "ECE debiased"), ("ece_adaptive", "ECE adaptive"))


@dataclass(frozen=True)
class FirstScreenSettings:
    """When the first screen warns about a small test set.

    Attributes
    ----------
    warn_min_segments : int
        Fewer test segments than this: "small n" warning.
    warn_min_recordings : int
        Fewer test recordings than this: "small n" warning.
    """

    warn_min_segments: int
    warn_min_recordings: int


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _pct(v: Any) -> str:
    v = number(v)
    return "–" if v is None else f"{100 * v:.1f} %"


def _recording_n(ev: dict) -> float | None:
    """Test recordings scored at recording level (``recording.mean_prob.n``)."""
    rec = ev.get("recording") if isinstance(ev.get("recording"), dict) else {}
    return number((rec.get("mean_prob") or {}).get("n") if isinstance(rec.get("mean_prob"), dict) else None)


def _task(ev: dict, thr: dict, abstain: dict, class_report: dict, ingest: dict) -> str | None:
    names = abstain.get("class_names") or [k for k, v in class_report.items() if isinstance(v, dict)
                                            and k not in ("macro avg", "weighted avg")]
    names = names or list((ingest.get("per_class") or {}))
    positive = (ev.get("binary") or {}).get("positive_class") or thr.get("positive_class")
    if positive is not None or (len(names) == 2 and (ev.get("binary") or thr)):
        other = [n for n in names if n != positive]
        return (f"Binary voice gate: accept “{positive or names[1]}”"
                + (f", reject “{other[0]}”" if other else "") + ".")
    if names:
        return f"{len(names)}-class classification: {', '.join(map(str, names))}."
    k = number(ingest.get("classes"))
    return f"{int(k)}-class classification." if k else None


def _skipped(reports_dir: Path) -> tuple[int, str]:
    """Total files skipped by all stages and one line: which stage, how many, why."""
    parts, total = [], 0
    for f in sorted(reports_dir.glob("*/skipped.csv")):
        if f.parent.name == "report":
            continue
        try:
            df = pd.read_csv(f, keep_default_na=False)
        except (OSError, ValueError, pd.errors.ParserError):
            continue
        if df.empty:
            continue
        total += len(df)
        reasons = df["reason"].astype(str).value_counts() if "reason" in df.columns else pd.Series(dtype=int)
        why = ", ".join(f"{r} ×{c}" for r, c in reasons.items())
        parts.append(f"{f.parent.name} {len(df)}" + (f" ({why})" if why else ""))
    return total, ("; ".join(parts) if parts else "nothing skipped")


def _data(reports_dir: Path, ev: dict, abstain: dict) -> tuple[list[tuple[str, str]], int]:
    ingest, clean, eda = (_json(reports_dir / p / "summary.json") for p in ("ingest", "clean", "eda"))
    rows: list[tuple[str, str]] = []
    rec = number(ingest.get("recordings", eda.get("recordings")))
    if rec is not None:
        extra = [f"{int(v)} {k}" for k in ("speakers",) if (v := number(ingest.get(k))) is not None]
        hours = number(clean.get("hours_out"))
        if hours is not None:
            extra.append(f"{hours * 60:.1f} min after cleaning")
        per_class = ingest.get("per_class") or {}
        if per_class:
            extra.append(", ".join(f"{k} {v}" for k, v in per_class.items()))
        rows.append(("recordings", f"{int(rec)}" + (f" ({'; '.join(extra)})" if extra else "")))
    seg = []
    if number(eda.get("segments")) is not None:
        seg.append(f"{int(eda['segments'])} in all")
    n_test = lookup(ev, "accuracy").n
    n_rec_test = lookup(ev, "accuracy").n_recordings or _recording_n(ev)
    if n_test is not None:
        seg.append(f"test {n_test}" + (f" from {int(n_rec_test)} recordings" if n_rec_test else ""))
    n_val = number((ev.get("operating_point") or {}).get("n_val")) or number((abstain.get("val") or {}).get("n"))
    if n_val is not None:
        seg.append(f"validation {int(n_val)}")
    if number(eda.get("augmented_segments")):
        seg.append(f"{int(eda['augmented_segments'])} augmented copies for training")
    if seg:
        rows.append(("segments", ", ".join(seg)))
    n_skipped, why = _skipped(reports_dir)
    rows.append(("skipped", why))
    return rows, n_skipped


def _metric_table(ev: dict, base: dict, unc: dict, head: dict) -> dict[str, Any]:
    margin = ev.get("baseline_margin") or {}
    base_name = base.get("best") or margin.get("baseline")
    rows = []
    for label, path, mkey, pct in METRIC_ROWS:
        cnn = lookup(ev, path)
        if cnn.value is None:
            continue
        b = lookup(base, path)
        if b.value is None and number(margin.get(f"baseline_{mkey}")) is not None:
            b = Value(number(margin.get(f"baseline_{mkey}")))
        d = lookup(margin, mkey)
        if d.value is None and b.value is not None:
            d = Value(cnn.value - b.value)
        verdict = ""
        if d.value is not None:
            lower_is_better = mkey == "eer"
            if d.has_ci:
                verdict = "not distinguishable" if d.spans_zero else (
                    "CNN better" if (d.value > 0) != lower_is_better else "CNN worse")
            elif d.value != 0:
                verdict = "CNN better" if (d.value > 0) != lower_is_better else "CNN worse"
            else:
                verdict = "tie"
        n_text = f"{cnn.n} rec." if path.startswith("recording.") and cnn.n else _n_text(cnn)
        rows.append({"metric": label, "n": n_text, "cnn": fmt_value(cnn, percent=pct),
                     "baseline": fmt_value(b, percent=pct) if b.value is not None else "–",
                     "diff": (fmt_value(d, percent=pct, signed=True) if d.value is not None else ""),
                     "verdict": verdict, "has_ci": cnn.has_ci})
    ece = lookup(unc, "single.ece")
    if ece.value is not None and ece.n is None and number(head.get("ece_n")) is not None:
        ece = Value(ece.value, ece.lo, ece.hi, n=int(head["ece_n"]), n_recordings=ece.n_recordings)
    if ece.value is not None:
        rows.append({"metric": "ECE (calibration error)", "n": _n_text(ece), "cnn": fmt_value(ece, percent=False),
                     "baseline": "–", "diff": "", "verdict": "", "has_ci": ece.has_ci})
    return {"rows": rows, "baseline": base_name, "any_ci": any(r["has_ci"] for r in rows)}


def _n_text(v: Value) -> str:
    if v.n is None:
        return ""
    return f"{v.n}" + (f" / {v.n_recordings} rec." if v.n_recordings else "")


def _gate(ev: dict, thr: dict, abstain: dict, unc: dict) -> list[tuple[str, str]]:
    op = thr or ev.get("operating_point") or {}
    rows = []
    t = number(op.get("threshold", (ev.get("binary") or {}).get("threshold")))
    if t is not None:
        how = op.get("description") or (f"{op.get('method')} on {op.get('chosen_on')}" if op.get("method") else "")
        rows.append(("accept threshold", f"P(accept) ≥ {t:.3f}" + (f" — {how}" if how else "")))
    far, frr = lookup(ev, "binary.far"), lookup(ev, "binary.frr")
    if far.value is not None or frr.value is not None:
        rows.append(("test FAR / FRR", f"{fmt_value(far, percent=True)} / {fmt_value(frr, percent=True)}"
                                       + (f" (n = {far.n})" if far.n else "")))
    test = abstain.get("test") or {}
    cov = number(test.get("coverage", (unc.get("abstain") or {}).get("test_coverage")))
    if cov is not None:
        acc = number(test.get("selective_accuracy", (unc.get("abstain") or {}).get("test_accuracy")))
        rule = (f"{abstain.get('method')}, {abstain.get('score')} ≥ {abstain.get('threshold')}"
                if abstain.get("method") else "")
        rows.append(("abstention", f"answers {_pct(cov)} of test segments"
                                   + (f", {_pct(acc)} correct on those" if acc is not None else "")
                                   + (f" ({rule})" if rule else "")))
    return rows


def _calibration(unc: dict) -> list[dict[str, str]]:
    out = []
    for key, label in METHODS:
        if not isinstance(unc.get(key), dict):
            continue
        row = {"method": label}
        for k, name in ECE_KEYS + (("nll", "NLL"),):
            v = lookup(unc, f"{key}.{k}")
            if v.value is not None:
                row[name] = fmt_value(v, percent=False)
        out.append(row)
    return out


def _outliers(reports_dir: Path, unc: dict) -> list[str]:
    members = unc.get("members") if isinstance(unc.get("members"), dict) else {}
    found = [str(m) for m in members.get("outliers") or []]
    if not found and number(members.get("n_outliers")):
        found = ["?"] * int(members["n_outliers"])
    detail = (_json(reports_dir / "uncertainty" / "comparison.json").get("members") or {}).get("outliers") or []
    texts = []
    for o in detail if isinstance(detail, list) and detail else []:
        if isinstance(o, dict) and "member" in o:
            texts.append(f"ensemble member {o['member']} is an outlier (validation NLL {number(o.get('nll')) or 0:.3f} "
                         f"vs the members' median {number(o.get('median')) or 0:.3f}); the ensemble's figures "
                         f"include it")
    if not texts and found:
        texts.append(f"ensemble member(s) {', '.join(found)} flagged as outliers by the uncertainty stage")
    return texts


def _ood(ood: dict) -> list[tuple[str, str]]:
    out = []
    passed = number(ood.get("val_pass_rate"))
    if passed is not None:
        out.append(("note" if passed >= 0.9 else "warn",
                    f"OOD check: {_pct(1 - passed)} of genuine validation recordings are refused as "
                    f"out-of-distribution (n = {ood.get('n_val', '?')})."))
    for key, n_key, what in (("generated_false_accept_rate", "n_generated", "generated non-speech"),
                             ("unseen_false_accept_rate", "n_unseen", "unseen speakers")):
        rate = number(ood.get(key))
        if rate is not None:
            out.append(("warn" if rate > 0 else "note",
                        f"The whole gate accepts {_pct(rate)} of {what} (n = {ood.get(n_key, '?')})."))
    return out


def _warnings(ev: dict, unc: dict, ood: dict, outliers: list[str], n_skipped: int,
              settings: FirstScreenSettings | None, has_baseline: bool) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    acc = lookup(ev, "accuracy")
    n_rec = acc.n_recordings or _recording_n(ev)
    if settings is not None and acc.n is not None and (
            acc.n < settings.warn_min_segments or (n_rec is not None and n_rec < settings.warn_min_recordings)):
        out.append(("warn", f"Small test set: {acc.n} segments" + (f" from {int(n_rec)} recordings" if n_rec else "")
                    + f" (fewer than {settings.warn_min_segments} segments or {settings.warn_min_recordings} "
                      "recordings): intervals are wide and a difference of a few points is a handful of examples."))
    margin = ev.get("baseline_margin") or {}
    d = lookup(margin, "accuracy")
    if d.value is not None:
        if d.has_ci and d.spans_zero:
            out.append(("warn", f"The CNN is not distinguishable from the baseline ({margin.get('baseline', 'best')}): "
                                f"the accuracy margin {fmt_value(d, percent=True, signed=True)} spans 0."))
        elif d.value <= 0 or margin.get("cnn_beats_baseline") == 0:
            how = "ties with" if d.value == 0 else ("is worse than" if d.value < 0 else "does not beat")
            out.append(("warn", f"The CNN {how} the baseline ({margin.get('baseline', 'best')}), a classifier on "
                                f"per-band statistics: accuracy margin {fmt_value(d, percent=True, signed=True)}."))
    elif ev and not has_baseline:
        out.append(("note", "No baseline ran: nothing to say whether the CNN beats a simple classifier."))
    out += [("warn", t[0].upper() + t[1:] + ".") for t in outliers]
    out += _ood(ood)
    if n_skipped:
        out.append(("warn", f"{n_skipped} file(s) were skipped by the pipeline (see Data)."))
    return out


def first_screen(reports_dir: str | Path, settings: FirstScreenSettings | None = None) -> dict[str, Any]:
    """What the first screen shows, read from ``reports_dir``.

    Parameters
    ----------
    reports_dir : path
        The ``reports/`` folder.
    settings : FirstScreenSettings, optional
        Small-n thresholds (None: no small-n warning).

    Returns
    -------
    dict
        ``task`` (str or None), ``data`` (``[(label, text)]``), ``metrics`` (``rows``: dicts with
        ``metric, n, cnn, baseline, diff, verdict``; ``baseline``: its name; ``any_ci``), ``gate``
        (``[(label, text)]``), ``calibration`` (``[{method, ECE, ...}]``) with its
        ``calibration_columns`` and ``calibration_n``, ``warnings``
        (``[(level, text)]``, level ``warn`` or ``note``) and ``empty`` (True when no stage
        wrote anything this screen reads).
    """
    r = Path(reports_dir)
    ev, base, unc = (_json(r / f) for f in ("eval/metrics.json", "baseline/metrics.json", "uncertainty/metrics.json"))
    thr, abstain, ood = (_json(r / f) for f in ("eval/threshold.json", "uncertainty/abstain.json", "ood/metrics.json"))
    head = _json(r / "headline.json")
    data, n_skipped = _data(r, ev, abstain)
    outliers = _outliers(r, unc)
    cal = _calibration(unc)
    cal_n = lookup(unc, "single.ece").n or number(head.get("ece_n"))
    return {
        "task": _task(ev, thr, abstain, _json(r / "eval/class_report.json"), _json(r / "ingest/summary.json")),
        "data": data,
        "metrics": _metric_table(ev, base, unc, head),
        "gate": _gate(ev, thr, abstain, unc),
        "calibration": cal,
        "calibration_columns": [name for _, name in ECE_KEYS + (("nll", "NLL"),) if any(name in row for row in cal)],
        "calibration_n": int(cal_n) if cal_n else None,
        "warnings": _warnings(ev, unc, ood, outliers, n_skipped, settings, bool(base)),
        "empty": not (ev or base or unc or ood),
    }
