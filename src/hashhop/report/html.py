"""The self-contained HTML page: styles and images inline, no script, no network.

Everything that comes from records is escaped, and a Content-Security-Policy allows no script
and no remote resource at all, so even a missed escape could not run a model's `<script>`.
"""

from __future__ import annotations

import base64

from hashhop import __version__
from hashhop.generator.spec import format_size
from hashhop.report.chainview import esc
from hashhop.report.plots import ACCURACY_COLORS
from hashhop.report.tables import mode

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d1d1f;margin:0;background:#f6f7f9}
main{max-width:1240px;margin:0 auto;padding:24px 32px 64px;background:#fff}
h1{font-size:28px;margin:0 0 4px}h2{font-size:21px;margin:36px 0 8px;border-bottom:2px solid #e4e6ea;padding-bottom:4px}
.sub{color:#555;margin:0 0 16px}
table{border-collapse:collapse;margin:8px 0 4px;font-size:14px}
th,td{padding:5px 10px;border-bottom:1px solid #e4e6ea;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
table.headline td,table.headline th{font-size:16px;padding:8px 14px}
table.headline td.eff{font-weight:700;text-align:center}
.banner{background:#fff4d6;border-left:5px solid #E69F00;padding:8px 14px;margin:10px 0}
.badge{display:inline-block;padding:0 8px;border-radius:9px;font-size:12px;font-weight:600}
.partial{background:#E69F00;color:#000}.complete{background:#d8efe6;color:#00584f}
figure{margin:16px 0 24px}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;font-size:14px;margin-top:4px;max-width:900px}
.note{color:#555;font-size:13px}
.diagram{border:1px solid #e4e6ea;border-radius:6px;padding:10px 14px;margin:12px 0}
.dhead{font-weight:600;margin-bottom:6px}
.chain{display:flex;flex-wrap:wrap;align-items:center;gap:4px}
code{font:13px ui-monospace,"DejaVu Sans Mono",monospace}
code.hash{padding:2px 6px;border-radius:4px;border:1px solid #bbb}
code.start{background:#eef}code.reached{background:#d8efe6}code.missed{background:#fde0dd;border-color:#c43c39}
.arrow{color:#888;font-weight:700}.arrow.ok{color:#1b9e8a}.arrow.broke{color:#c43c39;font-size:18px}
.kind{display:inline-block;padding:0 8px;border-radius:4px;background:#333;color:#fff;font-size:12px}
svg.ctx{width:620px;max-width:100%;height:40px;display:block}
svg.ctx .ctxbg{fill:#eceff3}svg.ctx .link{fill:#1b9e8a}svg.ctx .wrong{fill:#c43c39}svg.ctx text{font-size:10px;fill:#555}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f7f9;padding:8px;max-height:220px;overflow:auto}
tr.beyond td{background:#fff4d6;font-weight:600}
details{margin:6px 0}summary{cursor:pointer;color:#0072B2}
"""


def _hex(c: str) -> tuple[int, ...]:
    return tuple(int(c[i : i + 2], 16) for i in (1, 3, 5))


def accuracy_color(p: float) -> tuple[str, str]:
    """(background, text colour) for an accuracy, on the figures' colour map."""
    stops = ACCURACY_COLORS
    x = min(max(p, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(x), len(stops) - 2)
    a, b = _hex(stops[i]), _hex(stops[i + 1])
    rgb = [round(u + (v - u) * (x - i)) for u, v in zip(a, b)]
    light = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255
    return "#{:02x}{:02x}{:02x}".format(*rgb), ("#000" if light > 0.45 else "#fff")


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        # scientific notation reads badly in a table: 1,013 not 1.01e+03
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return str(v)


def table(rows: list[dict], columns: list[str] | None = None, row_class=None) -> str:
    """An escaped HTML table; numbers right-aligned."""
    if not rows:
        return '<p class="note">(none)</p>'
    columns = columns or list(rows[0])
    head = "".join(f"<th>{esc(c.replace('_', ' '))}</th>" for c in columns)
    body = []
    for r in rows:
        cls = f' class="{row_class(r)}"' if row_class and row_class(r) else ""
        tds = "".join(
            f'<td class="num">{esc(_fmt(r.get(c)))}</td>'
            if isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool)
            else f"<td>{esc(_fmt(r.get(c)))}</td>"
            for c in columns
        )
        body.append(f"<tr{cls}>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>'


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def headline(data) -> str:
    """Effective length per series (rows) and hops x mode (columns), with overall accuracy (strict, the
    headline; exact and lenient beside it)."""
    combos = sorted({(e.hops, e.cot) for e in data.effective}, key=lambda k: (k[0] or 0, str(k[1])))
    by_key = {(e.series, e.hops, e.cot): e for e in data.effective}
    accuracy = {t.series: t for t in data.totals}
    partial = {s.label for s, _ in data.series if s.partial}
    head = "".join(f"<th>{h} hop{'s' * (h != 1)}, {mode(c)}</th>" for h, c in combos)
    rows = []
    for label in data.labels:
        tds = []
        for h, c in combos:
            e = by_key.get((label, h, c))
            if e is None:
                tds.append('<td class="eff">–</td>')
                continue
            # shade by how far up the tested lengths it got: all -> green, none -> red
            passed = len(e.lengths) if e.all_pass else (0 if e.length is None else e.lengths.index(e.length) + 1)
            bg, fg = accuracy_color(passed / max(len(e.lengths), 1))
            why = f"stopped by {e.reason}" if e.reason else "passes at every tested length"
            tds.append(f'<td class="eff" style="background:{bg};color:{fg}" title="{esc(why)}">{esc(e.text)}</td>')
        t = accuracy[label]
        acc = "–" if t.accuracy is None else f"{t.accuracy:.1%} ({t.interval[0]:.0%}–{t.interval[1]:.0%})"
        others = "".join(f'<td class="num">{_pct(t.accuracy_of(k))}</td>' for k in ("exact", "lenient"))
        badge = ' <span class="badge partial">partial</span>' if label in partial else ""
        rows.append(
            f'<tr><th>{esc(label)}{badge}</th>{"".join(tds)}<td class="num">{esc(acc)}</td>{others}<td class="num">{t.scored}</td></tr>'
        )
    return (
        f'<table class="headline"><thead><tr><th>model</th>{head}<th>overall accuracy, strict (95% CI)</th>'
        "<th>exact</th><th>lenient</th><th>scored</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def run_list(data) -> str:
    items = []
    for run in data.runs:
        badge = (
            '<span class="badge partial">partial</span>'
            if run.partial
            else '<span class="badge complete">complete</span>'
        )
        models = ", ".join(s.label for s, _ in data.series if s.run == run.name)
        items.append(f"<li><code>{esc(run.name)}</code> {badge} {len(run.records)} records · {esc(models)}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def partial_banners(data) -> str:
    return "".join(
        f'<div class="banner"><strong>Partial run <code>{esc(r.name)}</code></strong>: still running or interrupted. '
        f"This report shows the {len(r.records)} records written so far"
        f"{f' ({r.torn_lines} torn line skipped)' if r.torn_lines else ''}; rerun the report when it finishes.</div>"
        for r in data.partial_runs
    )


def page(data, sections: list[tuple[str, str]]) -> str:
    """The whole document from (heading, inner HTML) sections."""
    opt = data.options
    body = "".join(f'<section><h2 id="s{i}">{esc(h)}</h2>{inner}</section>' for i, (h, inner) in enumerate(sections))
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(opt.title)}</title>'
        f"<style>{CSS}</style></head><body><main><h1>{esc(opt.title)}</h1>"
        f'<p class="sub">{len(data.runs)} run{"s" * (len(data.runs) != 1)}, {sum(t.n for t in data.totals)} queries · '
        f"made by hashhop {esc(__version__)}</p>{partial_banners(data)}{run_list(data)}{body}</main></body></html>"
    )


def lengths_text(cells) -> str:
    return ", ".join(format_size(t) for t in sorted({c.tokens for c in cells}))
