"""`hashhop serve`: the real server on 127.0.0.1, driven over HTTP by hashhop's own openai backend,
lm-eval's `local-chat-completions`, inspect_ai and plain requests. Served answers equal the
in-process `ltm:builtin` on the same prompts; bad input gets an OpenAI-style 4xx and the server
keeps serving; a SIGTERM stops it cleanly."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import _answers, _tail, free_port

from hashhop.evaluate.store import read_records

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("torch")

MAX_CONTEXT = 20_000  # segments: the bad-input tests send more
MAX_BODY_MB = 1


@contextlib.contextmanager
def running_server(tmp_path, *args: str):
    """Base URL of a fresh `hashhop serve` process; stopped (SIGTERM) on exit."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    cmd = [sys.executable, "-m", "hashhop", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _answers(f"{url}/health"):
            assert proc.poll() is None, f"hashhop serve exited with {proc.returncode}:\n{_tail(log)}"
            assert time.monotonic() < deadline, f"hashhop serve did not answer within 120 s:\n{_tail(log)}"
            time.sleep(0.2)
        yield url, proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    args = ("--max-context-tokens", str(MAX_CONTEXT), "--max-body-mb", str(MAX_BODY_MB))
    with running_server(tmp, *args) as (url, _, _):
        yield url


def post(url: str, body, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def in_process():
    from hashhop_train.backend import create

    return create("builtin")


def _context(lines: int = 60, seed: int = 3) -> tuple[str, list[tuple[str, str]]]:
    """A small shuffled context of letter hashes and its links."""
    import random

    rng = random.Random(seed)
    hashes = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(12))
        for _ in range(lines + 1)
    ]
    links = list(zip(hashes, hashes[1:]))
    shuffled = links[:]
    rng.shuffle(shuffled)
    return "\n".join(f"{a} = {b}" for a, b in shuffled), links


def _chat(context: str, start: str, hops: int = 2) -> dict:
    question = f"Starting from {start}, follow the chain {hops} hops. Answer with the final hash only."
    return {"model": "ltm", "messages": [{"role": "system", "content": "Follow the links."},
                                         {"role": "user", "content": f"{context}\n\n{question}"}]}  # fmt: skip


def test_models_and_health_describe_the_served_model(server):
    models = get(f"{server}/v1/models")
    assert [m["id"] for m in models["data"]] == ["ltm"] and models["data"][0]["max_model_len"] == MAX_CONTEXT
    health = get(f"{server}/health")
    assert health["status"] == "ok" and health["cache"]["max_bytes"] > 0


def test_a_chat_answer_equals_the_in_process_model_with_usage_in_segments(server, in_process):
    from hashhop_train.backend import prompt_text
    from hashhop_train.segments import count_segments

    context, links = _context()
    body = _chat(context, links[10][0])
    status, reply = post(f"{server}/v1/chat/completions", body)
    assert status == 200
    text = prompt_text(type("R", (), {"messages": body["messages"], "prompt": ""})())
    want = in_process.answer_text(text).text
    assert reply["choices"][0]["message"]["content"] == want
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert reply["usage"]["prompt_tokens"] == count_segments(text)
    assert reply["usage"]["completion_tokens"] == count_segments(want)


def test_tokenize_lists_the_models_segments_on_both_paths(server):
    for path in ("/tokenize", "/v1/tokenize"):
        status, reply = post(f"{server}{path}", {"content": "abc = XYZ\nq=r"})
        assert status == 200
        assert reply["tokens"] == ["abc", "=", "XYZ", "\n", "q", "=", "r"] and reply["count"] == 7


def test_a_second_question_on_the_same_context_reuses_its_keys(server):
    context, links = _context(lines=400, seed=5)
    before = get(f"{server}/health")["cache"]
    assert post(f"{server}/v1/chat/completions", _chat(context, links[3][0]))[0] == 200
    assert post(f"{server}/v1/chat/completions", _chat(context, links[50][0], hops=1))[0] == 200
    after = get(f"{server}/health")["cache"]
    assert after["misses"] == before["misses"] + 1 and after["reuses"] == before["reuses"] + 1


def test_max_tokens_and_stop_end_the_answer_as_the_api_says(server):
    context, links = _context(seed=7)
    body = _chat(context, links[5][0], hops=3) | {"max_tokens": 1}
    body["messages"][-1]["content"] = body["messages"][-1]["content"].replace(
        "final hash only", "every hash on the way"
    )
    full = post(f"{server}/v1/chat/completions", {k: v for k, v in body.items() if k != "max_tokens"})[1]
    text = full["choices"][0]["message"]["content"]
    cut = post(f"{server}/v1/chat/completions", body)[1]["choices"][0]
    if len(text.split()) > 1:
        assert cut == {**cut, "finish_reason": "length", "message": {"role": "assistant", "content": text.split()[0]}}
    stopped = post(f"{server}/v1/chat/completions", {**body, "max_tokens": 50, "stop": [" "]})[1]["choices"][0]
    assert stopped["message"]["content"] == text.split(" ")[0] and stopped["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("raw", "body", "status", "code"),
    [
        (b"{not json", None, 400, "invalid_json"),
        (b'{"messages": [{"content": "\xff"}]}', None, 400, "invalid_body"),
        (b"[1, 2]", None, 400, "invalid_json"),
        (None, {"model": "ltm"}, 400, "invalid_messages"),
        (None, {"messages": [{"role": "user", "content": 3}]}, 400, "invalid_messages"),
        (None, {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}, 404, "model_not_found"),
        (None, {"messages": [{"role": "user", "content": "a " * (MAX_CONTEXT + 1)}]}, 400, "context_length_exceeded"),
        (None, {"messages": [{"role": "user", "content": "x" * (MAX_BODY_MB << 20)}]}, 413, "body_too_large"),
        (None, {"messages": [{"role": "user", "content": "hi"}], "n": 3}, 400, "invalid_n"),
        (None, {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, 400, "invalid_max_tokens"),
    ],
)
def test_bad_input_gets_an_openai_error_and_the_server_keeps_serving(server, raw, body, status, code):
    got, reply = post(f"{server}/v1/chat/completions", body, raw=raw)
    assert got == status and reply["error"]["code"] == code and reply["error"]["message"]
    assert reply["error"]["type"] == "invalid_request_error"
    context, links = _context()
    assert post(f"{server}/v1/chat/completions", _chat(context, links[1][0]))[0] == 200


def test_a_hash_longer_than_the_model_reads_is_refused_with_the_reason(server):
    long_hash = "q" * 40
    prompt = f"{long_hash} = {'r' * 40}\n\nStarting from {long_hash}, follow the chain 1 hop."
    status, reply = post(f"{server}/v1/completions", {"prompt": prompt})
    assert status == 400 and reply["error"]["code"] == "context_length_exceeded"
    assert "characters" in reply["error"]["message"]


def test_concurrent_requests_queue_and_all_get_the_same_answer(server):
    context, links = _context(seed=11)
    body = _chat(context, links[20][0])
    replies: list = []
    threads = [
        threading.Thread(target=lambda: replies.append(post(f"{server}/v1/chat/completions", body))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s for s, _ in replies] == [200] * 6
    assert len({r["choices"][0]["message"]["content"] for _, r in replies}) == 1


def test_streamed_chat_sends_the_answer_then_done(server):
    context, links = _context()
    body = _chat(context, links[2][0]) | {"stream": True}
    plain = post(f"{server}/v1/chat/completions", {k: v for k, v in body.items() if k != "stream"})[1]
    request = urllib.request.Request(f"{server}/v1/chat/completions", data=json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=300) as response:
        events = [line[6:] for line in response.read().decode().splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        == plain["choices"][0]["message"]["content"]
    )


def test_sigterm_stops_the_server_cleanly(tmp_path):
    with running_server(tmp_path) as (url, proc, log):
        proc.send_signal(signal.SIGTERM)
        # uvicorn finishes shutting down, then re-raises the signal it caught (exit by SIGTERM, as expected)
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM), _tail(log)
        assert "stopped cleanly" in _tail(log)


def test_bad_command_line_values_fail_with_one_line(tmp_path):
    for args in (["--port", "0"], ["openai:gpt-4"], ["--max-body-mb", "0"]):
        done = subprocess.run(
            [sys.executable, "-m", "hashhop", "serve", *args], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 2 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr


def _eval(model: str, out, *extra: str) -> list:
    cmd = [sys.executable, "-m", "hashhop", "eval", "--model", model, "--tokens", "2K", "--hops", "2", "--samples", "2",
           "--queries", "3", "--tokenizer", "tiktoken:cl100k_base", "--no-progress", "-o", str(out), *extra]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return sorted((r.sample_id, r.query_index, r.completion, r.correct) for r in read_records(str(out)))


@pytest.mark.slow
@pytest.mark.parametrize("extra", [(), ("--cot",), ("--template", "magic", "--format", "magic")])
def test_hashhop_eval_through_the_server_equals_the_in_process_model(server, tmp_path, extra):
    served_extra = ("-M", "api=completions") if "magic" in extra else ()
    served = _eval("openai:ltm", tmp_path / "served", "--base-url", f"{server}/v1", *served_extra, *extra)
    local = _eval("ltm:builtin", tmp_path / "local", *extra)
    assert served == local and len(served) == 6


@pytest.mark.slow
def test_lm_eval_local_chat_completions_scores_the_served_model(server, tmp_path, in_process):
    pytest.importorskip("lm_eval")
    from hashhop.integrations.lm_eval import INCLUDE_PATH

    out = tmp_path / "out"
    cmd = [os.path.join(os.path.dirname(sys.executable), "lm_eval"), "--model", "local-chat-completions",
           "--model_args", f"model=ltm,base_url={server}/v1/chat/completions", "--tasks", "hashhop_2hop_1k",
           "--include_path", INCLUDE_PATH, "--apply_chat_template", "--metadata", json.dumps({"samples": 2}),
           "--output_path", str(out), "--log_samples"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    logged = [json.loads(line) for line in open(glob.glob(str(out / "*" / "samples_hashhop_2hop_1k_*.jsonl"))[0])]
    assert len(logged) == 2
    for entry in logged:
        assert entry["doc"]["tokenizer"] == f"server:{server}"  # sized in the model's own segments
        sent = entry["arguments"]["gen_args_0"]["arg_0"][0]  # the chat messages lm-eval sent, as JSON text
        messages = json.loads(sent)
        text = "\n".join(m["content"] for m in messages)
        assert entry["resps"][0][0] == in_process.answer_text(text).text


@pytest.mark.slow
def test_inspect_ai_evaluates_the_served_model(server, tmp_path, in_process):
    pytest.importorskip("inspect_ai")
    pytest.importorskip("openai")
    from inspect_ai.log import read_eval_log

    env = {**os.environ, "HASHHOP_BASE_URL": f"{server}/v1", "HASHHOP_API_KEY": "none"}
    cmd = [os.path.join(os.path.dirname(sys.executable), "inspect"), "eval", "hashhop/hashhop", "-T", "tokens=1K",
           "-T", "hops=2", "-T", "samples=2", "--model", "openai-api/hashhop/ltm", "--log-dir", str(tmp_path / "logs"),
           "--display", "none"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    [path] = list((tmp_path / "logs").glob("*.eval"))
    log = read_eval_log(str(path))
    assert log.status == "success" and len(log.samples) == 2
    for sample in log.samples:
        sent = [m for m in sample.messages if m.role != "assistant"]
        text = "\n".join(m.text for m in sent)
        assert sample.output.completion == in_process.answer_text(text).text
