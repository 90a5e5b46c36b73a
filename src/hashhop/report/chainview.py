"""HTML for chain diagrams: the true chain as boxes, the hop where the answer left it, the model's
hash and where it sits, and a bar of the context marking the chain's links and the wrong hash.

Every string from a record is untrusted (model output) and goes through `esc`.
"""

from __future__ import annotations

from html import escape

from hashhop.generator.spec import format_size
from hashhop.report.aggregate import KIND_LABELS

MAX_COMPLETION = 600  # characters of the raw completion shown under a diagram


def esc(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def _short(h: str, keep: int = 20) -> str:
    return h if len(h) <= keep else h[: keep - 1] + "…"


def _chain(d) -> str:
    """Boxes H0 -> H1 -> ...; the arrow into the hop where the answer left the chain is marked."""
    parts = []
    for i, h in enumerate(d.path):
        if i:
            broke = d.broke_at == i
            arrow_class = "arrow broke" if broke else ("arrow ok" if d.broke_at is None or i < d.broke_at else "arrow")
            parts.append(f'<span class="{arrow_class}" title="hop {i}">{"✗" if broke else "→"}<sub>{i}</sub></span>')
        box = "hash start" if i == 0 else ("hash reached" if d.broke_at is None or i < d.broke_at else "hash missed")
        parts.append(f'<code class="{box}" title="{esc(h)}">{esc(_short(h))}</code>')
    return '<div class="chain">' + "".join(parts) + "</div>"


def _context_bar(d) -> str:
    """An SVG strip of the context (top of the prompt on the left): chain links and the wrong hash."""
    if not d.n_lines:
        return ""
    width, n = 600, max(d.n_lines - 1, 1)
    ticks = [
        f'<rect x="{p / n * width - 1.5:.1f}" y="4" width="3" height="16" class="link"><title>true link at line {p}</title></rect>'
        for p in d.link_lines
    ]
    if d.answer_line is not None:
        x = d.answer_line / n * width
        ticks.append(
            f'<path d="M{x:.1f} 0 L{x - 5:.1f} -7 L{x + 5:.1f} -7 Z" transform="translate(0 8)" class="wrong">'
            f"<title>answer hash at line {d.answer_line}</title></path>"
            f'<rect x="{x - 1.5:.1f}" y="4" width="3" height="16" class="wrong"></rect>'
        )
    return (
        f'<svg class="ctx" viewBox="-8 -2 {width + 16} 36" role="img" aria-label="where the chain and the answer sit in the context">'
        f'<rect x="0" y="4" width="{width}" height="16" class="ctxbg"></rect>{"".join(ticks)}'
        f'<text x="0" y="32">line 0 (top)</text><text x="{width}" y="32" text-anchor="end">line {d.n_lines - 1}</text></svg>'
    )


def diagram_html(d) -> str:
    mode = "chain of thought" if d.cot else "skip steps"
    left = f"left the chain at hop {d.broke_at}" if d.broke_at else "did not leave the chain"
    if d.wrong is not None:
        answer = f'answered <code class="hash missed" title="{esc(d.wrong)}">{esc(_short(d.wrong))}</code>, which {esc(d.where)}'
    else:
        answer = esc(d.where)
    completion = d.completion if len(d.completion) <= MAX_COMPLETION else d.completion[:MAX_COMPLETION] + " …"
    return (
        f'<div class="diagram"><div class="dhead"><span class="kind k-{esc(d.kind)}">{esc(KIND_LABELS.get(d.kind, d.kind))}</span> '
        f"{esc(d.series)} · {esc(format_size(d.tokens))} tokens · {d.hops} hop{'s' * (d.hops != 1)} · {mode} "
        f'<span class="note">({esc(d.sample_id)}, query {d.query_index})</span></div>'
        f"{_chain(d)}<p>The answer {esc(left)}: {answer}.</p>{_context_bar(d)}"
        f"<details><summary>raw completion (untrusted model output)</summary><pre>{esc(completion)}</pre></details></div>"
    )


def diagrams_html(diagrams) -> str:
    if not diagrams:
        return "<p>No failed query with an answer to draw.</p>"
    return "".join(diagram_html(d) for d in diagrams)
