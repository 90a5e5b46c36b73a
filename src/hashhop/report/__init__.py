"""Reports of stored runs: aggregates, effective context length, figures, HTML/Markdown/CSV.

`write_report(run_dirs, "report.html")` is the entry point; `hashhop report` wraps it. Everything but
`plots` is pure Python; `plots` needs matplotlib (`pip install 'hashhop[report]'`).
"""

from hashhop.report.build import write_report
from hashhop.report.collect import ReportOptions, collect

__all__ = ["ReportOptions", "collect", "write_report"]
