"""The HTML report and markdown summary assembled from everything the stages wrote under ``reports/``."""
from audiolens.report.build import build_report, revision_info
from audiolens.report.check import check_report

__all__ = ["build_report", "check_report", "revision_info"]
