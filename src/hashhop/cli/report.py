"""`hashhop report`: one self-contained HTML page (plus report.md and CSVs) from stored runs."""

from __future__ import annotations

import sys

from hashhop.core.errors import HashhopError


def _threshold(text: str) -> float:
    """`0.9`, `90` or `90%` -> 0.9."""
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise HashhopError(f"bad --threshold {text!r}: use a fraction or a percent, e.g. 0.9 or 90%") from None
    value = value / 100 if value > 1 or text.strip().endswith("%") else value
    if not 0 < value <= 1:
        raise HashhopError(f"bad --threshold {text!r}: it must lie in (0, 100%]")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="HTML/Markdown/CSV report of one or more runs",
        description="Render runs (folders written by `hashhop eval`) into one self-contained "
        "HTML page, a Markdown file and CSVs. Partial runs are shown as partial.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders, e.g. runs/A runs/B (the first is the baseline)")
    p.add_argument(
        "-o",
        "--output",
        default="report.html",
        help="HTML file to write (default report.html); report.md and report.*.csv go beside it",
    )
    p.add_argument("--threshold", default="0.9", help="effective context length threshold (default 0.9 = 90%%)")
    p.add_argument("--anchors", action="store_true", help="add the published HashHop figures (marked as published)")
    p.add_argument("--show-paths", action="store_true", help="keep absolute paths of this machine in the report")
    p.add_argument("--diagrams", type=int, default=6, help="failed queries drawn as chain diagrams (default 6)")
    p.add_argument("--title", default="HashHop report")
    p.add_argument("--no-figures", action="store_true", help="tables only (no matplotlib needed)")
    p.add_argument("--screenshot", metavar="PNG", help="also save a PNG of the page drawn by headless chromium")
    p.add_argument("--screenshot-size", default="1400x2000", metavar="WxH", help="window for --screenshot")
    p.set_defaults(func=main)


def main(args) -> int:
    from hashhop.report import ReportOptions, write_report

    options = ReportOptions(
        threshold=_threshold(args.threshold),
        anchors=args.anchors,
        show_paths=args.show_paths,
        diagrams=max(0, args.diagrams),
        title=args.title,
    )
    written = write_report(args.runs, args.output, options, figures=not args.no_figures)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    if args.screenshot:
        from hashhop.report.browser import screenshot

        try:
            width, height = (int(v) for v in args.screenshot_size.lower().split("x"))
        except ValueError:
            raise HashhopError(f"bad --screenshot-size {args.screenshot_size!r}: use WxH, e.g. 1400x2000") from None
        print(f"wrote {screenshot(written[0], args.screenshot, width, height)}", file=sys.stderr)
    return 0
