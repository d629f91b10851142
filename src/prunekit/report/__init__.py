"""Run reports: a markdown summary and a self-contained HTML page with embedded figures."""

from prunekit.report.write import compare_runs, write_report

__all__ = ["compare_runs", "write_report"]
