"""Stage report: everything under reports/ -> reports/report.html (+ summary.md, headline.json)."""
import json
from pathlib import Path

import pandas as pd

from audiolens.config.settings import to_settings
from audiolens.errors import DataError
from audiolens.io import atomic_write_csv, atomic_write_json
from audiolens.paths import EVAL_REPORT, HEADLINE, REPORT_ASSETS, REPORT_HTML, REPORTS, UNCERTAINTY_REPORT
from audiolens.report import build_report, check_report, headline
from audiolens.report.first_screen import FirstScreenSettings
from audiolens.runtime import stage_main, start_stage, timed


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


@stage_main
def main() -> None:
    params, log = start_stage("report")
    # the only top-level DVC metrics file: what `dvc exp show` / `dvc metrics diff` lead with
    preds = UNCERTAINTY_REPORT / "predictions_test.csv"
    atomic_write_json(HEADLINE, headline(
        read_json(EVAL_REPORT / "metrics.json"), read_json(UNCERTAINTY_REPORT / "metrics.json"),
        len(pd.read_csv(preds, usecols=[0])) if preds.is_file() else None))
    with timed(log, "report"):
        res = build_report(reports_dir=REPORTS, title=params.report.title, project_root=".",
                           params_path="params.yaml",
                           first_screen_settings=to_settings(params.report, FirstScreenSettings))
    atomic_write_csv(REPORT_ASSETS / "skipped.csv",
                     pd.DataFrame(res["problems"], columns=["path", "reason", "detail"]))
    for p in res["problems"]:
        log.warning("left out of the report: %s (%s)", p["path"], p["reason"])
    problems, _ = check_report(REPORT_HTML)
    if problems:
        raise DataError("report.html has broken references:\n  " + "\n  ".join(problems[:20]))
    for w in res["warnings"]:
        log.info("first screen: %s", w)
    log.info("report: %d sections (%s), %d figures, %d audio, %d tables; report.html %.2f MB, "
             "compressed audio %.2f MB", len(res["sections"]), ", ".join(res["sections"]), res["images"],
             res["audio"], res["tables"], res["html_bytes"] / 1e6, res["audio_bytes"] / 1e6)


if __name__ == "__main__":
    main()
