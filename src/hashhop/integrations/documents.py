"""What the harness adapters share: HashHop documents built from a seed, sized in the model's
tokens, and scored by hashhop's own scorer.

A *document* is one query as a flat dict (strings and numbers only, so both `datasets.Dataset`
and inspect's `Sample.metadata` hold it): the prompt text, the target, and the sample's recipe,
from which `problem_of` rebuilds the Problem to score a completion exactly (hop credit, failure
kind), never by string comparison alone. Nothing is downloaded: the seed determines every byte.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from hashhop.core.errors import HashhopError, require
from hashhop.evaluate.score import KINDS, score_query
from hashhop.generator.build import AnyProblem, problem_of
from hashhop.generator.sample import Sample
from hashhop.generator.spec import Spec, parse_size
from hashhop.generator.tokenizers import Tokenizer, get_tokenizer
from hashhop.prompt.fit import sized_sample
from hashhop.prompt.template import Template, render

log = logging.getLogger("hashhop.integrations")

# A harness sends one text (its chat template wraps it as one user turn), so the instruction,
# the context and the question are joined into that one text, and sized as such.
TEMPLATE = Template(plain="{system}\n\n{user}")
ANSWER_KINDS = tuple(k for k in KINDS if k not in ("over_length", "error"))  # a harness never gives these
METRICS = ("exact_match", "credit", "hops_correct") + tuple(f"kind_{k}" for k in ANSWER_KINDS)
_HASHHOP_TOKENIZERS = ("chars", "tiktoken:", "hf:")


@dataclass(frozen=True)
class Sizer:
    """How prompt lengths are counted: a hashhop tokenizer, or a counter (a server, an HF tokenizer)."""

    name: str
    tokenizer: Tokenizer | None = None
    count: Callable[[str], int] | None = None

    def counter(self) -> Callable[[str], int]:
        """The counter, else the tokenizer's count."""
        if self.count is not None:
            return self.count
        if self.tokenizer is None:
            raise HashhopError(f"sizer {self.name} has neither a counter nor a tokenizer")
        return self.tokenizer.count


def server_counter(base_url: str, timeout: float = 10.0) -> Callable[[str], int] | None:
    """The token counter of an OpenAI-compatible server that exposes one (llama-cpp-python's
    `/extras/tokenize/count`, llama.cpp's `/tokenize`), or None when it has neither."""
    root = base_url.split("/v1")[0].rstrip("/")

    def post(path: str, body: dict) -> dict:
        req = urllib.request.Request(
            root + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return json.loads(response.read())

    probes = (
        lambda t: int(post("/extras/tokenize/count", {"input": t})["count"]),
        lambda t: len(post("/tokenize", {"content": t})["tokens"]),
    )
    for count in probes:
        try:
            if count("a = b") > 0:
                return count
        except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError):
            continue
    return None


def _hf_counter(name: str) -> Callable[[str], int]:
    transformers = require("transformers", "hf")
    try:
        tok = transformers.AutoTokenizer.from_pretrained(name)
    except Exception as exc:  # offline, unknown repo, no tokenizer files
        raise HashhopError(
            f"cannot load tokenizer {name!r} ({str(exc).splitlines()[0][:120]}): pass a local "
            f"tokenizer.json as tokenizer=hf:PATH, or hashhop_tokenizer=tiktoken:cl100k_base"
        ) from exc
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])


def _named(name: str) -> Sizer:
    if name.startswith(_HASHHOP_TOKENIZERS):
        return Sizer(name, tokenizer=get_tokenizer(name))
    path = os.path.join(name, "tokenizer.json") if os.path.isdir(name) else name
    if os.path.isfile(path) and path.endswith(".json"):
        return Sizer(f"hf:{name}", tokenizer=get_tokenizer(f"hf:{name}"))
    return Sizer(f"transformers:{name}", count=_hf_counter(name))


def resolve_sizer(options: dict) -> Sizer:
    """The model's own tokenizer, from what the harness knows about the model, most specific first:
    `hashhop_tokenizer`, `tokenizer`/`pretrained` (an HF name or a local tokenizer.json), the
    server at `base_url` (its tokenize endpoint), tiktoken's encoding of an OpenAI `model`; else
    tiktoken cl100k_base (or characters), with a warning."""
    if options.get("hashhop_tokenizer"):
        return _named(str(options["hashhop_tokenizer"]))
    name = options.get("tokenizer") or options.get("pretrained")
    if isinstance(name, str) and name:
        return _named(name)
    if options.get("base_url"):
        count = server_counter(str(options["base_url"]))
        if count is not None:
            return Sizer(f"server:{str(options['base_url']).split('/v1')[0]}", count=count)
    known = _openai_encoding(options.get("model"))
    for fallback in ((f"tiktoken:{known}",) if known else ()) + ("tiktoken:cl100k_base", "chars"):
        try:
            sizer = Sizer(fallback, tokenizer=get_tokenizer(fallback))
        except HashhopError:
            continue
        if fallback == f"tiktoken:{known}":
            return sizer  # an OpenAI model: its own encoding
        # Say it loudly: lengths in another tokenizer than the model's are only approximate.
        log.warning(
            "hashhop: no tokenizer of the model known; prompt lengths counted in %s "
            "(pass tokenizer=... or hashhop_tokenizer=...)",
            fallback,
        )
        return sizer
    raise HashhopError("no tokenizer available: pip install 'hashhop[tiktoken]'")  # chars never fails


def _openai_encoding(model) -> str | None:
    """tiktoken's encoding of an OpenAI model name (`gpt-4o-mini` -> o200k_base), if it knows it."""
    if not isinstance(model, str) or not model:
        return None
    try:
        from tiktoken.model import encoding_name_for_model  # the name only: loading it may download

        return encoding_name_for_model(model)
    except (ImportError, KeyError):
        return None


def make_docs(
    tokens: str | int = "4K",
    hops: int = 2,
    cot: bool = False,
    samples: int = 10,
    queries: int = 1,
    seed: int = 0,
    hash_len: int = 16,
    alphabet: str = "letters",
    depth: float | None = None,
    sizer: Sizer | None = None,
) -> list[dict]:
    """One document per query: `samples` contexts of `tokens` whole-prompt tokens, `queries` each."""
    total = parse_size(tokens)
    sizer = sizer or Sizer("chars", tokenizer=get_tokenizer("chars"))
    spec = Spec(
        size=total,
        hops=int(hops),
        queries=int(queries),
        hash_len=int(hash_len),
        alphabet=alphabet,
        cot=_bool(cot),
        seed=int(seed),
        depth=None if depth is None else float(depth),
    )
    count = sizer.counter()  # the final text is measured, never estimated
    docs = []
    for index in range(int(samples)):
        sample, _, _ = sized_sample(spec, total, index, TEMPLATE, sizer.tokenizer, sizer.count)
        docs += _sample_docs(sample, total, spec.seed, sizer.name, count)
    return docs


def _sample_docs(sample: Sample, total: int, seed: int, tokenizer: str, count: Callable[[str], int]) -> list[dict]:
    """The documents of one sized sample, one per query, each carrying the sample's recipe."""
    recipe = json.dumps(sample.to_dict(with_prompt=False), separators=(",", ":"))
    docs = []
    for q in sample.queries:
        text = render(TEMPLATE, sample.prompt or "", q.start, q.hops, q.cot).text
        docs.append(
            {
                "id": f"{sample.id}/{q.index}",
                "sample_id": sample.id,
                "query_index": q.index,
                "input": text,
                "target": q.target,
                "start": q.start,
                "hops": q.hops,
                "cot": q.cot,
                "tokens": total,
                "n_tokens": count(text),
                "tokenizer": tokenizer,
                "depth": round(q.depth, 6),
                "seed": seed,
                "recipe": recipe,
            }
        )
    return docs


def _bool(value) -> bool:
    """`cot=true` arrives as a string from command lines (`-T cot=true`, `--metadata`)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@lru_cache(maxsize=64)
def _problem(recipe: str) -> tuple[Sample, AnyProblem]:
    # Every query of a context shares one recipe: rebuild its Problem once.
    sample = Sample.from_dict(json.loads(recipe))
    return sample, problem_of(sample)


def score_doc(doc: dict, completion: str) -> dict:
    """hashhop's verdict on `completion` for `doc`: the numeric METRICS plus `kind` and `answer`."""
    sample, problem = _problem(doc["recipe"])
    score = score_query(problem, sample.queries[int(doc["query_index"])], completion or "")
    out: dict[str, float | str | int | None] = {
        "exact_match": float(score.correct),
        "credit": float(score.credit),
        "hops_correct": float(score.hops_correct),
    }
    out.update({f"kind_{k}": float(score.kind == k) for k in ANSWER_KINDS})
    out.update({"kind": score.kind, "answer": score.answer, "broke_at": score.broke_at})
    return out


def max_gen_tokens(hops: int, cot: bool, hash_len: int = 16) -> int:
    """Room for the answer: one hash (skip) or every hash on the way (cot), plus some slack."""
    per_hash = hash_len + 4  # a BPE rarely spends more than a token per symbol of a random hash
    return per_hash * (int(hops) if _bool(cot) else 1) + 32
