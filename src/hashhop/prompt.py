"""The instruction template around a context and a question, and sizing the context in the
tokens of the model under test.

Every query of one context shares the same prefix (system prompt, then the context) and puts its
question at the end, so servers with prefix caching (llama.cpp `cache_prompt`, vLLM) reuse the
context. The template is recorded verbatim in results.json: scores only reproduce with the same
template, system prompt and prefill. `Planner` turns grid cells into sized samples (`Plan`s),
each sized once and stored as a recipe, so a resumed run rebuilds instead of re-sizing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass
from typing import Callable

from .alphabets import alphabet_chars
from .errors import HashhopError, SpecError
from .generate import build, make_sample, problem_of, sample_from_problem
from .problem import Problem
from .sample import Query, Sample
from .spec import Spec

SYSTEM = ("You are given a list of hash pairs written `A = B`, one per line. Each pair links hash A to "
          "hash B; following the links from a hash walks a chain of hashes. Answer in exactly the "
          "requested format, without explanation.")
QUESTION_COT = ("Start at {start} and follow {hops} link(s). Write every hash you reach, in order, "
                "separated by ' = ', and nothing else.")
QUESTION_SKIP = ("Start at {start} and follow {hops} link(s). Which hash do you reach? "
                 "Answer with that hash only.")
SIZING_ROUNDS = 4
TOLERANCE = 0.005  # as the generator: the whole prompt within 0.5% of the requested tokens


class TemplateError(HashhopError):
    """A template file that cannot be read or lacks its placeholders."""


@dataclass(frozen=True)
class Template:
    """System prompt, user message layout, questions and an optional answer prefill."""

    system: str = SYSTEM
    user: str = "{context}\n\n{question}"
    question_cot: str = QUESTION_COT
    question_skip: str = QUESTION_SKIP
    prefill: str = ""  # sent as the start of the assistant turn (chat) or after `Answer:` (plain)
    plain: str = "{system}\n\n{user}\n\nAnswer:"  # plain-completion layout; the prefill follows

    def __post_init__(self):
        if not self.user.startswith("{context}") or "{question}" not in self.user:
            # The context must come first so that queries of one context share a cacheable prefix.
            raise TemplateError("template 'user' must start with {context} and contain {question}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Template":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TemplateError(f"unknown template field(s) {', '.join(unknown)}: use {', '.join(sorted(known))}")
        return cls(**d)

    @classmethod
    def load(cls, path: str) -> "Template":
        try:
            with open(path, encoding="utf-8") as f:
                return cls.from_dict(json.load(f))
        except (OSError, ValueError) as exc:
            raise TemplateError(f"cannot read template {path!r}: {exc}; pass a JSON object of template fields") from exc


DEFAULT_TEMPLATE = Template()


@dataclass(frozen=True)
class Prompt:
    """One query's prompt in both forms: chat messages and a plain-completion string."""

    messages: tuple[dict, ...]
    text: str  # plain-completion form
    question: str

    @property
    def chat_text(self) -> str:
        """The messages' contents as a chat server tokenizes them (role tokens excepted)."""
        return "\n".join(m["content"] for m in self.messages)

    def counted(self, chat: bool) -> str:
        return self.chat_text if chat else self.text


def question(template: Template, start: str, hops: int, cot: bool) -> str:
    fmt = template.question_cot if cot else template.question_skip
    return fmt.format(start=start, hops=hops)


def render(template: Template, context: str, start: str, hops: int, cot: bool) -> Prompt:
    """The prompt of one query: the shared prefix (system + context), the question last."""
    q = question(template, start, hops, cot)
    user = template.user.format(context=context, question=q)
    messages = [{"role": "system", "content": template.system}, {"role": "user", "content": user}]
    if template.prefill:
        messages.append({"role": "assistant", "content": template.prefill})
    text = template.plain.format(system=template.system, user=user)
    if template.prefill:
        text += " " + template.prefill
    return Prompt(tuple(messages), text, q)


def render_query(template: Template, context: str, query: Query) -> Prompt:
    return render(template, context, query.start, query.hops, query.cot)


def context_budget(total: int, count: Callable[[str], int], template: Template, start: str, hops: int,
                   cot: bool, overhead: int = 0, chat: bool = False) -> int:
    """Tokens left for the context so that the WHOLE prompt (template, question, context) is `total`.

    `count` is the model's token counter (or the cell's tokenizer); `chat` counts the messages as
    a chat server sees them; `overhead` adds what the counter cannot see (chat role tokens).
    """
    frame = count(render(template, "", start, hops, cot).counted(chat)) + overhead
    budget = total - frame
    if budget < 1:
        raise SpecError(f"{total} tokens do not even hold the template ({frame} tokens): raise --tokens")
    return budget


def sized_sample(spec: Spec, total: int, index: int, template: Template, tokenizer=None,
                 count: Callable[[str], int] | None = None, overhead: int = 0,
                 chat: bool = False) -> tuple[Sample, int, int]:
    """Sample `index` whose whole prompt measures `total` tokens: (sample, context tokens, frame
    tokens), both measured; the frame is everything around the context (template, question).

    With a named tokenizer (`chars`, `tiktoken:..`, `hf:..`) the generator sizes the context exactly.
    With only a counter (a server's tokenize endpoint) the context is sized in characters, measured
    with the counter, and rescaled a few times: the final count is measured, never estimated.
    """
    probe = _probe_start(spec)
    budget = context_budget(total, count or tokenizer.count, template, probe, spec.hops, spec.cot, overhead, chat)
    if count is None:
        sample = make_sample(spec.replace(size=budget, tokenizer=tokenizer.name), index, with_prompt=True)
        return sample, sample.n_tokens, total - budget
    sample, n_tokens = _fit_by_counter(spec, budget, index, count)
    return sample, n_tokens, total - budget


def _probe_start(spec: Spec) -> str:
    """A stand-in for the question's start hash: random symbols of the sample's alphabet and length,
    since a random hash splits into many more tokens than, say, `aaaa...` would."""
    import random

    rng = random.Random(spec.hash_len)
    return "".join(rng.choice(alphabet_chars(spec.alphabet)) for _ in range(spec.hash_len))


def _fit_by_counter(spec: Spec, budget: int, index: int, count: Callable[[str], int]) -> tuple[Sample, int]:
    chars = max(budget * 3, 1)  # a first guess; calibrated below from the measured ratio
    best = None
    for _ in range(SIZING_ROUNDS):
        problem, _n_chars = build(spec.replace(size=int(chars), tokenizer="chars"), index)
        sample = sample_from_problem(problem, problem.n_chars, with_prompt=True)
        measured = count(sample.prompt)
        if best is None or abs(measured - budget) < abs(best[1] - budget):
            best = (sample, measured)
        if abs(measured - budget) <= max(budget * TOLERANCE, 1):
            break
        chars = chars * budget / max(measured, 1)
    return best


def cell_key(cell: dict) -> str:
    """A stable string for a grid cell (its coordinates, sorted)."""
    return json.dumps(cell, sort_keys=True, separators=(",", ":"))


@dataclass
class Plan:
    """One sample ready to query: its cell, problem, context and measured sizes."""

    cell: dict
    sample: Sample
    problem: Problem
    context: str
    n_tokens: int  # context size in the cell's tokenizer
    prompt_tokens: int | None = None  # expected whole-prompt tokens in the model's own tokens
    queries: tuple[Query, ...] = ()  # those still to run


# -- planning: grid cells -> sized samples (stored once as recipes, resumed from them) --------
def make_cell(tokens: int, hops: int, cot: bool, depth: float | None, seed: int, tokenizer: str,
              hash_len: int = 16, alphabet: str = "letters", fmt: str = "plain") -> dict:
    """Grid coordinates of docs/records.md."""
    return {"tokens": tokens, "tokenizer": tokenizer, "hops": hops, "cot": cot, "depth": depth, "seed": seed,
            "hash_len": hash_len, "alphabet": alphabet, "format": fmt}


class Planner:
    """Sized samples for grid cells, sized once: later runs rebuild them from the stored recipe.

    `store` is the run store (duck-typed, so this stage does not import a later one): its
    `samples` {(cell_key, index): entry}, `done` keys and `add_sample(...)`.

    `count` is the model's own token counter (a server's tokenize endpoint), else `tokenizer`
    (a hashhop tokenizer) sizes the prompt; `overhead` adds the chat template's unseen tokens.
    """

    def __init__(self, store, template: Template, queries: int, tokenizer=None, count=None,
                 overhead: int = 0, chat: bool = False):
        self.store, self.template, self.queries = store, template, queries
        self.tokenizer, self.count, self.overhead, self.chat = tokenizer, count, overhead, chat

    def spec(self, cell: dict) -> Spec:
        return Spec(size=cell["tokens"], hops=cell["hops"], queries=self.queries, hash_len=cell["hash_len"],
                    alphabet=cell["alphabet"], cot=cell["cot"], format=cell["format"], seed=cell["seed"],
                    depth=cell["depth"], filler=cell.get("filler", True))

    def plan(self, cell: dict, index: int) -> Plan | None:
        """The sample `index` of `cell` with the queries still to run, or None when all are recorded."""
        entry = self.store.samples.get((cell_key(cell), index))
        if entry is None:
            sample, n_tokens, frame = sized_sample(self.spec(cell), cell["tokens"], index, self.template,
                                                   self.tokenizer, self.count, self.overhead, self.chat)
            entry = self.store.add_sample(cell, index, sample, n_tokens, n_tokens + frame)
            return self._plan(entry, sample, sample.prompt)
        sample = Sample.from_dict(entry["sample"])
        return self._plan(entry, sample, None)

    def _plan(self, entry: dict, sample: Sample, context: str | None) -> Plan | None:
        todo = tuple(q for q in sample.queries if (sample.id, q.index) not in self.store.done)
        if not todo:
            return None
        problem = problem_of(sample)
        context = context if context is not None else problem.prompt()
        return Plan(cell=entry["cell"], sample=sample, problem=problem, context=context,
                    n_tokens=entry["n_tokens"], prompt_tokens=entry.get("prompt_tokens"), queries=todo)

    def plan_sample(self, sample: Sample, index: int) -> Plan | None:
        """A sample given as is (a dataset): its cell is its spec; it is stored once as a recipe."""
        spec = sample.spec
        cell = make_cell(spec.size, spec.hops, spec.cot, spec.depth, spec.seed, spec.tokenizer, spec.hash_len,
                         spec.alphabet, spec.format)
        entry = self.store.samples.get((cell_key(cell), index)) or self.store.add_sample(
            cell, index, sample, sample.n_tokens)
        return self._plan(entry, sample, sample.prompt)

    async def plans(self, cells: list[dict], samples: int):
        """Plans in grid order; sizing runs in a thread so requests keep flowing meanwhile."""
        for cell in cells:
            for index in range(samples):
                plan = await asyncio.to_thread(self.plan, cell, index)
                if plan is not None:
                    yield plan
