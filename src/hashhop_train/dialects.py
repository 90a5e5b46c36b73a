"""HashHop dialects: how a context writes its lines and how a prompt asks its question.

The model is trained on a mix of them and evaluated on each (benchmarks/model.py). A dialect is
pure text: the generator's context with its ` = ` rewritten (a line form), inside a prompt built
by a `hashhop.prompt.template.Template` (a phrasing), or Magic's completion layout.

`HELD_OUT_FORM` and `HELD_OUT_PHRASING` are never trained on: they measure generalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

from hashhop.prompt.template import MAGIC_TEMPLATE, Template

# Line forms: what stands between a key and its value. Hashes never hold spaces or these marks.
LINE_FORMS: dict[str, str] = {
    "spaced": " = ",  # the generator's own `A = B`
    "tight": "=",
    "colon": ": ",
    "arrow": " -> ",
    "tab": "\t",
}
HELD_OUT_FORM = ("maps", " => ")  # never trained on

_SYSTEM_SHORT = "Each line below links one hash to the next. Follow the links."

PHRASINGS: dict[str, Template] = {
    "default": Template(),
    "which": Template(
        system=_SYSTEM_SHORT,
        question_cot="Which hashes come after {start}, {hops} step(s) along the chain? List each one in order.",
        question_skip="Which hash is {hops} step(s) after {start}? Give only the final hash.",
    ),
    "task": Template(
        system=_SYSTEM_SHORT,
        question_cot="Task: from {start}, hop {hops} time(s), writing every hash on the way.",
        question_skip="Task: from {start}, hop {hops} time(s) and write just the hash you end at.",
    ),
    "query": Template(
        question_cot="Query: {start}\nHops: {hops}\nShow every step.",
        question_skip="Query: {start}\nHops: {hops}\nAnswer with the last hash only.",
    ),
    "magic": MAGIC_TEMPLATE,  # Magic's own completion layout: the context, the header, `{start} = '`
}
HELD_OUT_PHRASING = Template(
    question_cot="Begin with {start}. Walk {hops} link(s) and print each hash you visit.",
    question_skip="Begin with {start}. Walk {hops} link(s); print only where you stop.",
)


def restyle(context: str, form: str) -> str:
    """The generator's ` = ` context in another line form (`form` names LINE_FORMS or is a separator)."""
    sep = LINE_FORMS.get(form, form)
    return context if sep == " = " else context.replace(" = ", sep)


@dataclass(frozen=True)
class Dialect:
    """One way of writing a HashHop prompt: line form, phrasing, and chat or plain text."""

    form: str = "spaced"
    phrasing: str = "default"
    chat: bool = True  # the messages' contents joined by newlines, else the plain-completion text

    def prompt(self, context: str, start: str, hops: int, cot: bool, template: Template | None = None) -> str:
        """The text the model reads for one query."""
        from hashhop.prompt.template import render

        rendered = render(template or PHRASINGS[self.phrasing], restyle(context, self.form), start, hops, cot)
        return rendered.chat_text if self.chat else rendered.text

    def closes_quote(self) -> bool:
        """Magic's layout opens a quote the answer must close (a training label)."""
        return self.phrasing == "magic"
