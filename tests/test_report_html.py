"""`hashhop report` end to end: files written, escaping, privacy, partial runs, published anchors."""

from __future__ import annotations

import csv
import re

import pytest
from test_report_runs import SECRET_PATH, runs  # noqa: F401  (the fixture)

from hashhop.cli import main

ALL = ("oracle", "random", "stub", "fading", "partial", "hostile")


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):  # noqa: F811
    """One full report with figures and anchors (drawn once: figures take seconds)."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    code = main(["report", *[str(runs[n][0]) for n in ALL], "-o", str(out), "--anchors", "--diagrams", "20"])
    assert code == 0
    return out, out.read_text(encoding="utf-8")


def test_report_writes_one_self_contained_page_with_md_and_csvs(report):
    out, page = report
    for name in (
        "report.md",
        "report.cells.csv",
        "report.effective.csv",
        "report.depth.csv",
        "report.runs.csv",
        "report.compare.csv",
    ):
        assert (out.parent / name).stat().st_size > 0
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # no remote resource and no script at all: every image is inline
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, re.I)
    assert "<link" not in page.lower() and "<script" not in page.lower()
    images = re.findall(r"<img [^>]*>", page)
    assert len(images) >= 2 * len(ALL) + 4
    assert all(img.startswith('<img src="data:image/png;base64,') for img in images)


def test_every_figure_has_a_caption(report):
    _, page = report
    figures = re.findall(r"<figure>.*?</figure>", page, re.S)
    assert figures and all(re.search(r"<figcaption>[^<]{40,}</figcaption>", f) for f in figures)


def test_model_output_is_escaped_and_cannot_run(report):
    _, page = report
    assert "&lt;script&gt;document.title=&#x27;PWNED&#x27;" in page
    assert "&lt;img src=x onerror=" in page
    assert "<img src=x" not in page and "<b>hostile</b>" not in page and "&lt;b&gt;hostile&lt;/b&gt; $x^$" in page
    assert not re.search(r"<[a-z]+[^>]*\son\w+\s*=", page, re.I)  # no event-handler attribute on any tag


def test_no_path_of_the_machine_leaks_unless_asked(report, runs, tmp_path):  # noqa: F811
    out, page = report
    texts = [page] + [p.read_text() for p in out.parent.iterdir() if p.suffix in (".md", ".csv")]
    root = str(runs["oracle"][0].parent)
    for text in texts:
        assert SECRET_PATH not in text and "/home/alice" not in text and root not in text
    assert "stub:…/stub.gguf" in page
    shown = tmp_path / "shown.html"
    assert main(["report", str(runs["stub"][0]), "-o", str(shown), "--show-paths", "--no-figures"]) == 0
    assert SECRET_PATH in shown.read_text()


def test_a_partial_run_is_reported_and_marked_partial(report):
    out, page = report
    assert "Partial run <code>partial</code>" in page and "1 torn line skipped" in page
    assert "Partial run `partial`" in (out.parent / "report.md").read_text()
    status = {r["run"]: r["status"] for r in csv.DictReader(open(out.parent / "report.runs.csv"))}
    assert status == {
        "oracle": "complete",
        "random": "complete",
        "stub": "complete",
        "fading": "complete",
        "partial": "partial",
        "hostile": "complete",
    }


def test_published_figures_are_shown_only_when_asked_and_marked(report, runs, tmp_path):  # noqa: F811
    _, page = report
    assert "Published figures (not measured here)" in page and "Gemini 1.5 Flash (exp-0827)" in page
    assert "NOT measured by this report" in page
    plain = tmp_path / "plain.html"
    assert main(["report", str(runs["oracle"][0]), "-o", str(plain), "--no-figures"]) == 0
    assert "Gemini" not in plain.read_text()


def test_headline_table_shows_effective_lengths(report):
    _, page = report
    table = re.search(r'<table class="headline">.*?</table>', page, re.S).group(0)
    fading = re.search(r"<tr><th>fading</th>(.*?)</tr>", table, re.S).group(1)
    assert re.findall(r'class="eff"[^>]*>([^<]*)<', fading) == ["1K", "1K", "500", "500"]
    oracle = re.search(r"<tr><th>oracle</th>(.*?)</tr>", table, re.S).group(1)
    assert re.findall(r'class="eff"[^>]*>([^<]*)<', oracle) == ["≥ 2K"] * 4


def test_comparison_highlights_differences_beyond_the_intervals(report):
    _, page = report
    section = page.split("Compared with oracle", 1)[1].split("</table>", 1)[0]
    rows = [
        (cls, re.findall(r"<td[^>]*>([^<]*)</td>", tds))
        for cls, tds in re.findall(r"<tr( class=\"beyond\")?>(.*?)</tr>", section, re.S)
    ]
    rows = [(bool(cls), tds[4]) for cls, tds in rows if tds]  # columns: tokens hops mode baseline other ...
    assert {other for _, other in rows} == {
        "random",
        "stub:…/stub.gguf",
        "fading",
        "oracle-partial",
        "&lt;b&gt;hostile&lt;/b&gt; $x^$",
    }
    flagged = {other for beyond, other in rows if beyond}
    assert "random" in flagged and "fading" in flagged and "oracle-partial" not in flagged


def test_a_missing_run_folder_is_a_one_line_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope"), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no records.jsonl" in err and err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_a_bad_threshold_is_a_one_line_error(tmp_path, runs, capsys):  # noqa: F811
    assert main(["report", str(runs["oracle"][0]), "-o", str(tmp_path / "r.html"), "--threshold", "ninety"]) == 2
    assert "bad --threshold" in capsys.readouterr().err


def test_threshold_accepts_percent(tmp_path, runs):  # noqa: F811
    out = tmp_path / "r.html"
    assert main(["report", str(runs["stub"][0]), "-o", str(out), "--threshold", "15%", "--no-figures"]) == 0
    assert "accuracy ≥ 15%" in out.read_text()


def _tree(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_reporting_never_touches_the_run_folders(runs, tmp_path):  # noqa: F811
    before = {n: _tree(runs[n][0]) for n in ("stub", "partial")}
    assert (
        main(["report", str(runs["stub"][0]), str(runs["partial"][0]), "-o", str(tmp_path / "r.html"), "--no-figures"])
        == 0
    )
    assert {n: _tree(runs[n][0]) for n in before} == before


def test_without_matplotlib_the_error_names_the_extra_and_nothing_is_written(runs, tmp_path, monkeypatch, capsys):  # noqa: F811
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    out = tmp_path / "r.html"
    assert main(["report", str(runs["oracle"][0]), "-o", str(out)]) == 2
    assert "pip install 'hashhop[report]'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert main(["report", str(runs["oracle"][0]), "-o", str(out), "--no-figures"]) == 0


def test_importing_the_report_package_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, hashhop.report, hashhop.cli.report; print('matplotlib' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_a_run_with_no_records_yet_or_only_errors_still_renders(runs, tmp_path):  # noqa: F811
    import json

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "records.jsonl").write_text("")
    out = tmp_path / "r.html"
    assert main(["report", str(empty), "-o", str(out)]) == 0
    assert "No records yet" in out.read_text() and "Partial run <code>empty</code>" in out.read_text()
    failed = tmp_path / "failed"
    failed.mkdir()
    rows = [dict(r, status="error", kind="error", correct=False, error="HTTP 503") for r in runs["oracle"][1][:8]]
    (failed / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["report", str(failed), "-o", str(out)]) == 0
    page = out.read_text()
    assert "n error" in page and re.search(r'class="eff"[^>]*>&lt; 500<', page)


def test_log_axes_are_labelled_in_sizes_not_mathtext(runs):  # noqa: F811
    """Mathtext is off (model names may hold `$`), so every log axis must get explicit labels."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from hashhop.report import collect, plots
    from hashhop.report.collect import ReportOptions

    data = collect([runs["oracle"][0]], ReportOptions(anchors=True))
    captured = []
    real = plots._png

    def keep(fig):
        captured.extend(t.get_text() for ax in fig.axes for t in ax.get_xticklabels())
        return real(fig)

    plots._png = keep
    try:
        plots.anchors_figure(data.cells, data.labels, data.anchors)
        plots.curves(data.cells, data.labels, data.anchors)
        plots.usage(data.length_cells, data.labels)
    finally:
        plots._png = real
    assert captured and not any("$" in t or "mathdefault" in t for t in captured)
    assert "1K" in captured
