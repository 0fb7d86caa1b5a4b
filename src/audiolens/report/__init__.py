"""The HTML report and markdown summary assembled from everything the stages wrote under ``reports/``."""
from audiolens.report.build import build_report, revision_info
from audiolens.report.check import check_report
from audiolens.report.headline import HEADLINE_KEYS, headline

__all__ = ["HEADLINE_KEYS", "build_report", "check_report", "headline", "revision_info"]
