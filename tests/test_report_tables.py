"""The report's numbers against the records they come from: accuracy, kind counts, intervals,
effective length, comparisons, depth bins and the CSV files."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict

import pytest
from test_report_runs import runs  # noqa: F401  (the fixture)

from hashhop.evaluate.score import wilson_interval
from hashhop.report import ReportOptions, collect, write_report
from hashhop.report.aggregate import KINDS, depth_of
from hashhop.report.diagnose import pick_failures, wrong_hash
from hashhop.report.html import accuracy_color
from hashhop.report.plots import ACCURACY_COLORS

ALL = ("oracle", "random", "stub", "fading", "partial", "hostile")


@pytest.fixture(scope="module")
def data(runs):  # noqa: F811
    return collect([runs[name][0] for name in ALL])


def _by_cell(records):
    groups = defaultdict(list)
    for r in records:
        groups[(r["cell"]["tokens"], r["cell"]["hops"], r["cell"]["cot"])].append(r)
    return groups


def test_cell_accuracy_and_kind_counts_match_the_records(runs, data):  # noqa: F811
    labels = dict(zip(ALL, data.labels))
    for name in ALL:
        cells = {(c.tokens, c.hops, c.cot): c for c in data.cells if c.series == labels[name]}
        groups = _by_cell(runs[name][1])
        assert set(cells) == set(groups)
        for key, records in groups.items():
            c, kinds = cells[key], Counter(r["kind"] for r in records)
            scored = [r for r in records if r["status"] == "ok"]
            assert (c.n, c.scored, c.correct) == (len(records), len(scored), sum(r["correct"] for r in scored))
            assert {k: c.count(k) for k in KINDS} == {k: kinds.get(k, 0) for k in KINDS}
            # These records predate the strict score: strict counts them by `correct`, and says so.
            assert (c.strict, c.legacy) == (c.correct, c.scored)
            assert c.interval == wilson_interval(c.strict, c.scored)


def test_errors_and_over_length_are_counted_apart_not_as_wrong(data):
    stub = [c for c in data.totals if c.series.startswith("stub")][0]
    assert stub.count("error") == stub.count("over_length") == 12
    assert stub.scored == stub.n - 24 and stub.correct == 12
    assert stub.accuracy == pytest.approx(12 / 72)


def test_oracle_is_always_right_and_random_never(data):
    totals = {t.series: t for t in data.totals}
    assert totals["oracle"].accuracy == 1.0 and totals["oracle"].interval[0] > 0.95
    assert totals["random"].accuracy == 0.0 and totals["random"].count("other_chain") == 96


def test_every_planted_failure_kind_is_counted(data):
    stub = [c for c in data.totals if c.series.startswith("stub")][0]
    # Every kind but cut_off (tests/test_coverage.py plants that one in runs of its own).
    assert all(stub.count(k) > 0 for k in KINDS if k != "cut_off")


def _effective(data, series):
    return {(e.hops, e.cot): e for e in data.effective if e.series == series}


def test_effective_length_is_the_longest_length_that_stays_above_the_threshold(data):
    fading = _effective(data, "fading")
    assert fading[(1, False)].length == 1000 and fading[(1, False)].text == "1K"
    # 2 hops: fails at 1K and recovers at 2K; the recovery does not count.
    assert fading[(2, True)].length == 500 and fading[(2, True)].stopped_at == 1000
    assert all(e.text == "≥ 2K" for e in _effective(data, "oracle").values())
    assert all(e.length is None and e.text == "< 500" for e in _effective(data, "random").values())


def test_threshold_option_moves_the_effective_length(runs):  # noqa: F811
    low = collect([runs["stub"][0]], ReportOptions(threshold=0.15))
    assert all(e.all_pass for e in low.effective)  # 1 of 6 scored queries right in every cell
    high = collect([runs["stub"][0]], ReportOptions(threshold=0.9))
    assert not any(e.all_pass for e in high.effective)


def test_a_length_with_no_scored_query_ends_the_walk(tmp_path, runs):  # noqa: F811
    import json

    records = [dict(r) for r in runs["oracle"][1] if r["cell"]["hops"] == 1 and not r["cell"]["cot"]]
    for r in records:
        if r["cell"]["tokens"] == 1000:
            r.update(status="over_length", kind="over_length", correct=False, credit=0.0)
    (tmp_path / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (e,) = collect([tmp_path]).effective
    assert (e.length, e.stopped_at) == (500, 1000) and "no scored query" in e.reason


def test_compare_flags_only_differences_beyond_the_intervals(data):
    by_other = defaultdict(list)
    for d in data.differences:
        assert d.baseline == "oracle"
        by_other[d.other].append(d)
    assert by_other["random"] and all(d.beyond_intervals and d.delta == -1.0 for d in by_other["random"])
    assert by_other["oracle-partial"] and not any(d.beyond_intervals for d in by_other["oracle-partial"])
    # fading: equal where it is right, beyond the intervals where it drops to 0 of 8
    assert {d.beyond_intervals for d in by_other["fading"]} == {True, False}


def test_depth_is_the_requested_one_or_the_fifth_of_the_context():
    assert depth_of({"cell": {"depth": 0.25}, "query_depth": 0.9}) == 0.25
    assert depth_of({"cell": {"depth": None}, "query_depth": 0.05}) == 0.1
    assert depth_of({"cell": {}, "query_depth": 1.0}) == 0.9


def test_depth_cells_partition_the_records(runs, data):  # noqa: F811
    oracle = [c for c in data.depth_cells if c.series == "oracle"]
    assert sum(c.n for c in oracle) == len(runs["oracle"][1])
    for c in oracle:
        expect = [
            r
            for r in runs["oracle"][1]
            if r["cell"]["tokens"] == c.tokens and r["cell"]["cot"] == c.cot and depth_of(r) == c.depth
        ]
        assert c.n == len(expect)


def test_csv_files_hold_the_numbers_of_the_tables(tmp_path, runs, data):  # noqa: F811
    written = write_report([runs[name][0] for name in ALL], tmp_path / "report.html", figures=False)
    assert {p.name for p in written} >= {
        "report.html",
        "report.md",
        "report.cells.csv",
        "report.effective.csv",
        "report.depth.csv",
        "report.runs.csv",
        "report.compare.csv",
    }
    rows = list(csv.DictReader(open(tmp_path / "report.cells.csv")))
    assert len(rows) == len(data.cells)
    for row, c in zip(rows, data.cells):
        assert (row["series"], int(row["tokens"]), int(row["n"]), int(row["correct"])) == (
            c.series,
            c.tokens,
            c.n,
            c.correct,
        )
        assert [int(row[f"n_{k}"]) for k in KINDS] == list(c.kinds)
    eff = {
        (r["series"], r["hops"], r["mode"]): r["effective_length"]
        for r in csv.DictReader(open(tmp_path / "report.effective.csv"))
    }
    assert eff[("fading", "1", "skip")] == "1K" and eff[("fading", "2", "cot")] == "500"


def test_chain_diagrams_locate_the_wrong_hash(runs, data):  # noqa: F811
    diagrams = {d.kind: d for d in data.diagrams}
    assert {"other_chain", "went_too_far", "stopped_early", "hallucinated", "partial_hash", "no_answer"} <= set(
        diagrams
    )
    assert "another chain" in diagrams["other_chain"].where
    assert "queried chain" in diagrams["went_too_far"].where and "queried chain" in diagrams["stopped_early"].where
    assert "nowhere" in diagrams["hallucinated"].where and diagrams["hallucinated"].answer_line is None
    stub = {(r["sample_id"], r["query_index"]): r for r in runs["stub"][1]}
    for d in data.diagrams:
        assert d.n_lines and len(d.link_lines) == d.hops
        if d.kind in ("other_chain", "went_too_far") and not d.cot:
            assert (
                any(r["answer_position"] == d.answer_line and r["kind"] == d.kind for r in stub.values())
                or d.series == "random"
            )


def test_wrong_hash_is_the_first_wrong_hop_under_chain_of_thought():
    record = {"cell": {"cot": True}, "answer": "AAAA = BBBB = CCCC", "broke_at": 2}
    assert wrong_hash(record) == "BBBB"
    assert wrong_hash({"cell": {"cot": False}, "answer": "CCCC", "broke_at": 1}) == "CCCC"
    assert wrong_hash({"cell": {"cot": True}, "answer": "AAAA", "broke_at": 2}) is None


def test_pick_failures_respects_the_limit(data):
    assert len(pick_failures(data.series, {}, limit=3)) == 3
    assert pick_failures(data.series, {}, limit=0) == []


def _deuteranope_lab(hex_color: str) -> tuple[float, float, float]:
    """CIELAB of a colour as seen with full deuteranopia (Machado et al. 2009, on linear RGB)."""
    rgb = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    m = ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881))
    r, g, b = (min(max(sum(a * x for a, x in zip(row, lin)), 0.0), 1.0) for row in m)
    xyz = (
        (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.9505,
        0.2126 * r + 0.7152 * g + 0.0722 * b,
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.089,
    )
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _delta_e(a: str, b: str) -> float:
    return sum((x - y) ** 2 for x, y in zip(_deuteranope_lab(a), _deuteranope_lab(b))) ** 0.5


def test_accuracy_colours_stay_apart_for_red_green_colour_blindness():
    assert _delta_e("#a50026", "#1a9850") < 20  # the check can fail: RdYlGn's ends nearly merge
    bg = [accuracy_color(p)[0] for p in (0.0, 0.5, 1.0)]
    assert bg[0] == ACCURACY_COLORS[0] and bg[2] == ACCURACY_COLORS[-1]
    assert min(_delta_e(bg[0], bg[2]), _delta_e(bg[0], bg[1]), _delta_e(bg[1], bg[2])) > 30
    assert accuracy_color(0.0)[1] == "#fff" and accuracy_color(0.5)[1] == "#000"


def test_a_recipe_that_no_longer_rebuilds_falls_back_to_the_record(runs):  # noqa: F811
    from hashhop.report.diagnose import diagram
    from hashhop.report.runs import read_run

    run = read_run(runs["random"][0])
    record = run.records[0]
    recipe = dict(run.samples[record["sample_id"]])
    recipe["spec"] = dict(recipe["spec"], seed=recipe["spec"]["seed"] + 1)  # as if the generator had changed
    d = diagram("random", record, recipe)
    assert d.answer_line == record["answer_position"] and "does not rebuild" in d.where
    assert diagram("random", record, run.samples[record["sample_id"]]).where.startswith("is on another chain")


def test_accuracy_is_strict_with_exact_and_lenient_beside_it_and_older_records_are_noted(tmp_path, runs):  # noqa: F811
    import json
    import shutil

    from hashhop.report.markdown import markdown

    folder, records = runs["oracle"]
    shutil.copytree(folder, tmp_path / "new")
    # Half the oracle's exact answers fail the strict reading (say, a preamble); all are lenient.
    fresh = [dict(r, strict=r["correct"] and i % 2 == 0, lenient=r["correct"]) for i, r in enumerate(records)]
    (tmp_path / "new" / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in fresh))
    new = collect([tmp_path / "new"])
    [t] = new.totals
    scored = [r for r in fresh if r["status"] == "ok"]
    assert t.accuracy == sum(r["strict"] for r in scored) / t.scored < t.accuracy_of("exact") == 1.0
    assert t.legacy == 0 and t.interval == wilson_interval(t.strict, t.scored)
    assert all(e.score == "strict" for e in new.effective)
    text = markdown(new)
    assert "accuracy = strict" in text and "before the strict score" not in text
    old = markdown(collect([folder]))  # the fixture's records have no strict field
    assert (
        "accuracy = strict" in old
        and f"Records written before the strict score existed count with their exact score: oracle ({t.scored} of {t.scored})"
        in old
    )
