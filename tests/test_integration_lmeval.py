"""lm-evaluation-harness tasks `hashhop_*`: discovered through `--include_path`, documents built
by hashhop from a seed and sized in the model's tokens, scored by hashhop's own scorer."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

from hashhop.generator.tokenizers import get_tokenizer
from hashhop.integrations.documents import METRICS, score_doc
from hashhop.integrations.lm_eval import INCLUDE_PATH

pytest.importorskip("lm_eval")
utils = pytest.importorskip("hashhop.integrations.lm_eval.utils")


def test_tasks_are_discovered_from_the_include_path():
    from lm_eval.tasks import TaskManager

    names = set(TaskManager(include_path=INCLUDE_PATH).all_tasks)
    assert {"hashhop_2hop_1k", "hashhop_1hop_128k", "hashhop_cot_3hop_16k"} <= names


def test_documents_are_sized_in_the_named_tokenizer_and_reproducible():
    docs = utils.hashhop_dataset(tokens="1K", hops=2, samples=2, seed=4, hashhop_tokenizer="tiktoken:cl100k_base")[
        "test"
    ]
    tok = get_tokenizer("tiktoken:cl100k_base")
    assert docs.num_rows == 2
    for doc in docs:
        assert doc["tokenizer"] == "tiktoken:cl100k_base"
        assert doc["n_tokens"] == tok.count(doc["input"])
        assert abs(doc["n_tokens"] - 1000) <= 5  # the whole prompt, template included
    again = utils.hashhop_dataset(tokens="1K", hops=2, samples=2, seed=4, hashhop_tokenizer="tiktoken:cl100k_base")
    assert again["test"]["input"] == docs["input"]


def test_model_args_tokenizer_sizes_the_prompt(tmp_path):
    # lm-eval passes --model_args to the task: a tokenizer there sizes the prompts
    docs = utils.hashhop_dataset(tokens=800, hops=1, samples=1, tokenizer="chars")["test"]
    assert docs[0]["tokenizer"] == "chars" and docs[0]["n_tokens"] == len(docs[0]["input"])
    assert abs(docs[0]["n_tokens"] - 800) <= 36  # within one `KEY = VALUE` line of the request


def test_process_results_scores_exact_match_credit_and_failure_kinds():
    doc = utils.hashhop_dataset(tokens="1K", hops=3, cot=True, samples=1, hashhop_tokenizer="chars")["test"][0]
    chain = doc["target"].split(" = ")
    right = utils.process_results(doc, [doc["target"]])
    assert set(right) == set(METRICS)
    assert right["exact_match"] == 1.0 and right["credit"] == 1.0 and right["kind_correct"] == 1.0
    early = utils.process_results(doc, [" = ".join(chain[:2])])
    assert early["exact_match"] == 0.0 and early["kind_stopped_early"] == 1.0
    assert early["credit"] == pytest.approx(2 / 3) and early["hops_correct"] == 2.0
    assert utils.process_results(doc, ["no idea"])["kind_no_answer"] == 1.0


@pytest.mark.slow
@pytest.mark.server
def test_lm_eval_cli_runs_a_hashhop_task_against_llama_server(llama_server, tmp_path):
    out = tmp_path / "out"
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "lm_eval"),
        "--model",
        "local-chat-completions",
        "--model_args",
        f"model=smollm2,base_url={llama_server}/v1/chat/completions",
        "--tasks",
        "hashhop_1hop_1k",
        "--include_path",
        INCLUDE_PATH,
        "--apply_chat_template",
        "--metadata",
        json.dumps({"samples": 1}),
        "--output_path",
        str(out),
        "--log_samples",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.load(open(glob.glob(str(out / "*" / "results_*.json"))[0]))
    metrics = results["results"]["hashhop_1hop_1k"]
    assert {f"{m},none" for m in METRICS} <= set(metrics)
    assert (
        sum(
            metrics[f"kind_{k},none"]
            for k in (
                "correct",
                "stopped_early",
                "went_too_far",
                "other_chain",
                "hallucinated",
                "partial_hash",
                "no_answer",
            )
        )
        == 1.0
    )
    logged = [json.loads(line) for line in open(glob.glob(str(out / "*" / "samples_hashhop_1hop_1k_*.jsonl"))[0])]
    assert len(logged) == 1
    doc = logged[0]["doc"]
    assert doc["tokenizer"] == f"server:{llama_server}"  # sized by the model's own tokenizer
    assert abs(doc["n_tokens"] - 1000) <= 20
    rescored = score_doc(doc, logged[0]["resps"][0][0])
    assert all(logged[0][m] == rescored[m] for m in METRICS)
