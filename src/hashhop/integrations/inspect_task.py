"""The inspect_ai task `hashhop/hashhop` and its scorer `hashhop/hashhop_scorer`.

    inspect eval hashhop/hashhop -T tokens=4K -T hops=2 --model openai-api/llamacpp/smollm2

inspect finds the task through the entry point group `inspect_ai` (`hashhop =
"hashhop.integrations.inspect_task"`); without it, name the file:
`inspect eval .../hashhop/integrations/inspect_task.py@hashhop`. The samples are generated from
the seed (nothing is downloaded), and scored by hashhop's scorer: exact match, hop credit, and
the failure kind of every wrong answer, each reported as a metric.
"""

from __future__ import annotations

from hashhop.core.errors import require
from hashhop.integrations.documents import (
    ANSWER_KINDS,
    METRICS,
    Sizer,
    make_docs,
    max_gen_tokens,
    resolve_sizer,
    score_doc,
)

require("inspect_ai", "inspect")

from inspect_ai import Task, task  # noqa: E402  (after the install hint above)
from inspect_ai.dataset import MemoryDataset, Sample  # noqa: E402
from inspect_ai.model import GenerateConfig  # noqa: E402
from inspect_ai.scorer import Score, Target, accuracy, mean, scorer, stderr  # noqa: E402
from inspect_ai.solver import TaskState, generate  # noqa: E402

_METRICS = {
    "exact_match": [accuracy(), stderr()],
    "credit": [mean(), stderr()],
    "hops_correct": [mean()],
    **{f"kind_{k}": [mean()] for k in ANSWER_KINDS},
}


@scorer(metrics=_METRICS)
def hashhop_scorer():
    """hashhop's exact scoring: exact match, hop credit, hops correct and a one-hot failure kind."""

    async def score(state: TaskState, target: Target) -> Score:
        verdict = score_doc(state.metadata, state.output.completion)
        return Score(
            value={name: verdict[name] for name in METRICS},
            answer=verdict["answer"] or "",
            explanation=verdict["kind"],
            metadata={"kind": verdict["kind"], "broke_at": verdict["broke_at"]},
        )

    return score


def _sizer(tokenizer: str | None, base_url: str | None) -> Sizer:
    """Size in the model's tokens: an explicit tokenizer, else the tokenize endpoint of the server
    at `base_url` or of the model inspect is running (`--model-base-url`, `*_BASE_URL`)."""
    if not tokenizer and not base_url:
        try:
            from inspect_ai.model import get_model

            base_url = getattr(get_model().api, "base_url", None)
        except Exception:  # no active model (a task built outside `inspect eval`)
            base_url = None
    return resolve_sizer({"tokenizer": tokenizer, "base_url": base_url and str(base_url)})


@task
def hashhop(
    tokens: str = "4K",
    hops: int = 2,
    cot: bool = False,
    samples: int = 10,
    seed: int = 0,
    queries: int = 1,
    tokenizer: str | None = None,
    base_url: str | None = None,
) -> Task:
    """HashHop: `samples` contexts of `tokens` tokens (the whole prompt, in the model's tokens when
    known), `queries` questions each, following `hops` links (every hash on the way with `cot`)."""
    docs = make_docs(
        tokens=tokens,
        hops=int(hops),
        cot=cot,
        samples=int(samples),
        queries=int(queries),
        seed=int(seed),
        sizer=_sizer(tokenizer, base_url),
    )
    dataset = MemoryDataset(
        [
            # The prompt is the sample's input; metadata keeps the recipe (small) to rescore exactly.
            Sample(
                id=d["id"], input=d["input"], target=d["target"], metadata={k: v for k, v in d.items() if k != "input"}
            )
            for d in docs
        ],
        name=f"hashhop-{tokens}-{hops}hop{'-cot' if docs and docs[0]['cot'] else ''}",
    )
    return Task(
        dataset=dataset,
        solver=generate(),
        scorer=hashhop_scorer(),
        config=GenerateConfig(temperature=0.0, max_tokens=max_gen_tokens(int(hops), cot)),
        version=1,
    )
