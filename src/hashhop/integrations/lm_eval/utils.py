"""Hooks the hashhop_* YAML files name: `hashhop_dataset` (lm-eval's `custom_dataset`) and
`process_results`.

lm-eval hands `custom_dataset` the task's metadata merged with `--model_args` and `--metadata`,
so the prompts are sized in the model's own tokens whenever lm-eval knows them (`tokenizer=`,
`pretrained=`, or the server at `base_url`), as RULER's tasks do.
"""

from __future__ import annotations

from hashhop.core.errors import require
from hashhop.integrations.documents import METRICS, make_docs, resolve_sizer, score_doc

_PARAMS = ("tokens", "hops", "cot", "samples", "queries", "seed", "hash_len", "alphabet", "depth")


def hashhop_dataset(**kwargs) -> dict:
    """The `test` split: HashHop documents generated from the seed (nothing is downloaded)."""
    datasets = require("datasets", "lmeval")
    params = {k: kwargs[k] for k in _PARAMS if kwargs.get(k) is not None}
    docs = make_docs(**params, sizer=resolve_sizer(kwargs))
    return {"test": datasets.Dataset.from_list(docs)}


def process_results(doc: dict, results: list[str]) -> dict:
    """hashhop's exact scoring of the one generation: exact match, hop credit, failure kind (one-hot)."""
    score = score_doc(doc, results[0] if results else "")
    return {name: score[name] for name in METRICS}
