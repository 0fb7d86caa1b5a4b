"""Stage report: everything under reports/ -> reports/report.html (+ reports/summary.md)."""
import pandas as pd

from audiolens.errors import DataError
from audiolens.io import atomic_write_csv
from audiolens.paths import REPORT_ASSETS, REPORT_HTML, REPORTS
from audiolens.report import build_report, check_report
from audiolens.runtime import stage_main, start_stage, timed


@stage_main
def main() -> None:
    params, log = start_stage("report")
    with timed(log, "report"):
        res = build_report(reports_dir=REPORTS, title=params.report.title, project_root=".",
                           params_path="params.yaml")
    atomic_write_csv(REPORT_ASSETS / "skipped.csv",
                     pd.DataFrame(res["problems"], columns=["path", "reason", "detail"]))
    for p in res["problems"]:
        log.warning("left out of the report: %s (%s)", p["path"], p["reason"])
    problems, _ = check_report(REPORT_HTML)
    if problems:
        raise DataError("report.html has broken references:\n  " + "\n  ".join(problems[:20]))
    log.info("report: %d sections (%s), %d figures, %d audio, %d tables, %.1f MB",
             len(res["sections"]), ", ".join(res["sections"]), res["images"], res["audio"],
             res["tables"], res["html_bytes"] / 1e6)


if __name__ == "__main__":
    main()
