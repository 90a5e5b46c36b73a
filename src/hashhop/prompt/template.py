"""The instruction template around a context and a question, and the prompt it renders.

Every query of one context shares the same prefix (system prompt, then the context) and puts its
question at the end, so servers with prefix caching (llama.cpp `cache_prompt`, vLLM) reuse the
context. The template is recorded verbatim in results.json: scores only reproduce with the same
template, system prompt and prefill.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hashhop.core.errors import SpecError, TemplateError
from hashhop.generator.sample import Query

SYSTEM = (
    "You are given a list of hash pairs written `A = B`, one per line. Each pair links hash A to "
    "hash B; following the links from a hash walks a chain of hashes. Answer in exactly the "
    "requested format, without explanation."
)
QUESTION_COT = (
    "Start at {start} and follow {hops} link(s). Write every hash you reach, in order, "
    "separated by ' = ', and nothing else."
)
QUESTION_SKIP = "Start at {start} and follow {hops} link(s). Which hash do you reach? Answer with that hash only."
# The niah tasks (generator/niah.py): RULER's wording, the key in place of {start}.
SYSTEM_NIAH = (
    "You are given a long text. Some special magic numbers are hidden in it. Answer in exactly the "
    "requested format, without explanation."
)
QUESTION_NIAH = "What is the special magic number for {start} mentioned in the text? Answer with the number only."
_NIAH_FIELDS = ("system_niah", "question_niah")


@dataclass(frozen=True)
class Template:
    """System prompt, user message layout, questions and an optional answer prefill."""

    system: str = SYSTEM
    user: str = "{context}\n\n{question}"
    question_cot: str = QUESTION_COT
    question_skip: str = QUESTION_SKIP
    prefill: str = ""  # sent as the start of the assistant turn (chat) or after `Answer:` (plain)
    plain: str = "{system}\n\n{user}\n\nAnswer:"  # plain-completion layout; the prefill follows
    system_niah: str = SYSTEM_NIAH
    question_niah: str = QUESTION_NIAH

    def __post_init__(self) -> None:
        if not self.user.startswith("{context}") or "{question}" not in self.user:
            # The context must come first so that queries of one context share a cacheable prefix.
            raise TemplateError("template 'user' must start with {context} and contain {question}")

    def to_dict(self, niah: bool = False) -> dict[str, Any]:
        """Every field; the niah fields only for a run with niah cells (`niah`) or when changed, so the
        record of a HashHop run keeps its bytes."""
        d = dataclasses.asdict(self)
        for name in _NIAH_FIELDS:
            if not niah and d[name] == getattr(DEFAULT_TEMPLATE, name):
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Template:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TemplateError(f"unknown template field(s) {', '.join(unknown)}: use {', '.join(sorted(known))}")
        return cls(**d)

    @classmethod
    def load(cls, path: str) -> Template:
        """A named template (`magic`: Magic's completion layout) or a JSON file of template fields."""
        if path in NAMED_TEMPLATES:
            return NAMED_TEMPLATES[path]
        try:
            with open(path, encoding="utf-8") as f:
                return cls.from_dict(json.load(f))
        except (OSError, ValueError) as exc:
            raise TemplateError(f"cannot read template {path!r}: {exc}; pass a JSON object of template fields") from exc


DEFAULT_TEMPLATE = Template()
# Magic's own completion layout: the context, then the header and the open first answer line, which
# the model continues (`H3'`). As a chat request the same text is the user message.
MAGIC_TEMPLATE = Template(
    system="",
    question_cot="COMPLETION:\nHops={hops}\n\nCoT=True\n\n{start} = '",
    question_skip="COMPLETION:\nHops={hops}\n\nCoT=False\n\n{start} = '",
    plain="{user}",
)
NAMED_TEMPLATES = {"default": DEFAULT_TEMPLATE, "magic": MAGIC_TEMPLATE}


@dataclass(frozen=True)
class Prompt:
    """One query's prompt in both forms: chat messages and a plain-completion string."""

    messages: tuple[dict[str, str], ...]  # ({"role": ..., "content": ...}, ...)
    text: str  # plain-completion form
    question: str

    @property
    def chat_text(self) -> str:
        """The messages' contents as a chat server tokenizes them (role tokens excepted)."""
        return "\n".join(m["content"] for m in self.messages)

    def counted(self, chat: bool) -> str:
        return self.chat_text if chat else self.text


def question(template: Template, start: str, hops: int, cot: bool, task: str = "hashhop") -> str:
    if task != "hashhop":
        return template.question_niah.format(start=start)
    fmt = template.question_cot if cot else template.question_skip
    return fmt.format(start=start, hops=hops)


def render(template: Template, context: str, start: str, hops: int, cot: bool, task: str = "hashhop") -> Prompt:
    """The prompt of one query: the shared prefix (system + context), the question last."""
    q = question(template, start, hops, cot, task)
    system = template.system if task == "hashhop" else template.system_niah
    user = template.user.format(context=context, question=q)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    if template.prefill:
        messages.append({"role": "assistant", "content": template.prefill})
    text = template.plain.format(system=system, user=user)
    if template.prefill:
        text += " " + template.prefill
    return Prompt(tuple(messages), text, q)


def render_query(template: Template, context: str, query: Query, task: str = "hashhop") -> Prompt:
    return render(template, context, query.start, query.hops, query.cot, task)


def context_budget(
    total: int,
    count: Callable[[str], int],
    template: Template,
    start: str,
    hops: int,
    cot: bool,
    overhead: int = 0,
    chat: bool = False,
    task: str = "hashhop",
) -> int:
    """Tokens left for the context so that the WHOLE prompt (template, question, context) is `total`.

    `count` is the model's token counter (or the cell's tokenizer); `chat` counts the messages as
    a chat server sees them; `overhead` adds what the counter cannot see (chat role tokens).
    """
    frame = count(render(template, "", start, hops, cot, task).counted(chat)) + overhead
    budget = total - frame
    if budget < 1:
        raise SpecError(f"{total} tokens do not even hold the template ({frame} tokens): raise --tokens")
    return budget
