"""End to end against a real llama.cpp server (SmolLM2-135M-Instruct) and the same model in-process.

What is tested is that the whole path works and is scored right, not the model's score: records are
complete, every stored score equals a fresh rescoring of the stored completion, the context was
sized in the model's own tokens through the server's tokenize endpoint, and the prompt tokens the
server reported are recorded, match what was sent, and land close to the requested size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from hashhop.backends import get_backend
from hashhop.backends.base import Request
from hashhop.evaluate.score import score_query
from hashhop.evaluate.store import read_records, read_results, read_samples
from hashhop.generator.build import problem_of
from hashhop.generator.sample import Sample
from hashhop.prompt.template import DEFAULT_TEMPLATE, render_query

pytestmark = [pytest.mark.slow, pytest.mark.server]

# The server's prompt count vs the planned one: the context count is exact, but the frame is planned
# with a stand-in for the question's start hash (a random hash splits into 31-37 tokens here).
PLAN_SLACK_TOKENS, PLAN_TOLERANCE = 6, 0.01
# The planned prompt vs --tokens: at 256 tokens one context line (~12 tokens) is already ~5%.
SIZE_TOLERANCE = 0.10
SCORE_FIELDS = ("kind", "correct", "credit", "hops_correct", "broke_at", "answer", "answer_position")


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def server_count(base_url: str, text: str) -> int:
    """The server's own token count (llama-cpp-python: POST /extras/tokenize/count)."""
    return _post(f"{base_url}/extras/tokenize/count", {"input": text})["count"]


def hashhop(*args: str) -> subprocess.CompletedProcess:
    """`hashhop ...` as a user runs it, in a fresh process."""
    return subprocess.run([sys.executable, "-m", "hashhop", *args], capture_output=True, text=True, timeout=600)


def eval_args(model: str, run_dir, *extra: str) -> list[str]:
    return [
        "eval",
        "--model",
        model,
        "--max-tokens",
        "24",
        "--concurrency",
        "1",
        "--no-progress",
        "-o",
        str(run_dir),
        *extra,
    ]


def load_run(run_dir):
    samples = {e["sample_id"]: Sample.from_dict(e["sample"]) for e in read_samples(str(run_dir))}
    entries = {e["sample_id"]: e for e in read_samples(str(run_dir))}
    return read_records(str(run_dir)), samples, entries, read_results(str(run_dir))


def check_prompt_tokens(records, entries):
    """The server-reported prompt tokens are recorded and close to the plan, and the plan to --tokens."""
    for r in records:
        planned = entries[r.sample_id]["prompt_tokens"]
        slack = max(PLAN_SLACK_TOKENS, PLAN_TOLERANCE * planned)
        assert abs(r.prompt_tokens - planned) <= slack, (r.prompt_tokens, planned)
        assert abs(planned - r.cell["tokens"]) <= SIZE_TOLERANCE * r.cell["tokens"], (planned, r.cell["tokens"])


def check_records_complete_and_scored(run_dir, expected: int):
    """Every query recorded once, ok, and scored exactly as a rescoring of its completion."""
    records, samples, _, results = load_run(run_dir)
    assert len(records) == expected
    assert len({r.key for r in records}) == expected
    for r in records:
        assert r.status == "ok", r.error
        assert r.completion_tokens and r.latency_s > 0 and r.attempts == 1
        sample = samples[r.sample_id]
        query = sample.queries[r.query_index]
        assert (r.start, r.target, r.path) == (query.start, query.target, list(query.path))
        fresh = score_query(
            problem_of(sample), query, r.completion, prefill=DEFAULT_TEMPLATE.prefill, finish_reason=r.finish_reason
        ).to_dict()
        assert {k: getattr(r, k) for k in SCORE_FIELDS} == {k: fresh[k] for k in SCORE_FIELDS}
        assert r.correct == (r.kind == "correct")
        assert not r.correct or r.answer == r.target
    overall = results["metrics"]["overall"]
    assert json.dumps(overall)  # results.json holds the summary of exactly these records
    assert not results["partial"]
    return records, samples, results


def test_openai_chat_grid_end_to_end_sized_in_the_servers_tokens(llama_server, tmp_path):
    run = tmp_path / "chat"
    done = hashhop(
        *eval_args(
            "openai:smollm2",
            run,
            "--base-url",
            f"{llama_server}/v1",
            "--tokens",
            "256,512",
            "--hops",
            "1,2",
            "--queries",
            "2",
        )
    )
    assert done.returncode == 0, done.stderr
    records, samples, results = check_records_complete_and_scored(run, expected=8)
    _, _, entries, _ = load_run(run)
    assert results["tokenizer"] == "model:openai:smollm2"
    for sample_id, sample in samples.items():  # the context was measured by the server's tokenizer
        assert server_count(llama_server, problem_of(sample).prompt()) == entries[sample_id]["n_tokens"]
    probe = _post(
        f"{llama_server}/v1/chat/completions",
        {"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}], "max_tokens": 1},
    )
    frame = probe["usage"]["prompt_tokens"] - server_count(llama_server, "x\ny")
    for r in records:
        prompt = render_query(
            DEFAULT_TEMPLATE, problem_of(samples[r.sample_id]).prompt(), samples[r.sample_id].queries[r.query_index]
        )
        # The server read exactly the messages sent, chat template included: nothing was truncated.
        assert r.prompt_tokens == server_count(llama_server, "\n".join(m["content"] for m in prompt.messages)) + frame
    check_prompt_tokens(records, entries)
    assert results["token_check"]["compared"] == 8
    assert "tokens" in done.stdout and "all" in done.stdout  # the summary table was printed


def test_openai_completions_api_end_to_end(llama_server, tmp_path):
    run = tmp_path / "completions"
    done = hashhop(
        *eval_args(
            "openai:smollm2",
            run,
            "--base-url",
            f"{llama_server}/v1",
            "-M",
            "api=completions",
            "--tokens",
            "256",
            "--hops",
            "1,2",
            "--queries",
            "2",
        )
    )
    assert done.returncode == 0, done.stderr
    records, samples, _ = check_records_complete_and_scored(run, expected=4)
    for r in records:
        prompt = render_query(
            DEFAULT_TEMPLATE, problem_of(samples[r.sample_id]).prompt(), samples[r.sample_id].queries[r.query_index]
        )
        assert r.prompt_tokens == server_count(llama_server, prompt.text)  # plain text: exactly what was sent
    check_prompt_tokens(records, load_run(run)[2])


def test_resuming_a_finished_run_sends_nothing_and_changes_nothing(llama_server, tmp_path):
    run = tmp_path / "resume"
    args = eval_args("openai:smollm2", run, "--base-url", f"{llama_server}/v1", "--tokens", "256", "--hops", "1")
    assert hashhop(*args).returncode == 0
    before = (run / "records.jsonl").read_bytes()
    again = hashhop(*args)
    assert again.returncode == 0, again.stderr
    assert (run / "records.jsonl").read_bytes() == before


def test_a_prompt_over_the_servers_window_is_recorded_over_length(llama_server, tmp_path):
    run = tmp_path / "over"
    done = hashhop(
        *eval_args("openai:smollm2", run, "--base-url", f"{llama_server}/v1", "--tokens", "5K", "--hops", "1")
    )
    assert done.returncode == 0, done.stderr
    (record,) = read_records(str(run))
    assert (record.status, record.kind, record.correct) == ("over_length", "over_length", False)
    assert "4096" in record.error


def test_over_length_can_stop_the_run_with_a_one_line_error(llama_server, tmp_path):
    done = hashhop(
        *eval_args(
            "openai:smollm2",
            tmp_path / "stop",
            "--base-url",
            f"{llama_server}/v1",
            "--tokens",
            "5K",
            "--hops",
            "1",
            "--on-over-length",
            "stop",
        )
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error:") and len(done.stderr.strip().splitlines()) == 1


def test_openai_backend_counts_with_the_servers_tokenizer(llama_server):
    import asyncio

    backend = get_backend("openai:smollm2", base_url=f"{llama_server}/v1")
    text = "abcdefghijklmnop = QRSTUVWXYZabcdef\n" * 3
    assert backend.count_tokens(text) == server_count(llama_server, text)
    request = Request(
        sample_id="s", query_index=0, messages=({"role": "user", "content": "Say OK."},), prompt="Say OK.", max_tokens=4
    )

    async def ask():
        try:
            return await backend.generate(request)
        finally:
            await backend.aclose()

    completion = asyncio.run(ask())
    assert completion.prompt_tokens and completion.completion_tokens


def test_the_same_model_in_process_through_llamacpp(smollm2_gguf, tmp_path):
    run = tmp_path / "inproc"
    done = hashhop(
        *eval_args(
            f"llamacpp:{smollm2_gguf}",
            run,
            "-M",
            "n_ctx=1024",
            "-M",
            "n_threads=1",
            "--tokens",
            "256",
            "--hops",
            "1,2",
            "--queries",
            "2",
        )
    )
    assert done.returncode == 0, done.stderr
    records, samples, results = check_records_complete_and_scored(run, expected=4)
    assert results["tokenizer"] == f"model:llamacpp:{smollm2_gguf}"
    assert results["config"]["options"]["n_ctx"] == 1024
    check_prompt_tokens(records, load_run(run)[2])


def test_the_gguf_fixture_points_at_the_smollm2_file(smollm2_gguf):
    assert os.path.basename(smollm2_gguf) == "SmolLM2-135M-Instruct.Q4_1.gguf"
    with open(smollm2_gguf, "rb") as f:
        assert f.read(4) == b"GGUF"
