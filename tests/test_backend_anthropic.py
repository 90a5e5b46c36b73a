"""The anthropic backend against a stub Messages API server run by this module on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket

import pytest

pytest.importorskip("aiohttp")

from anthropic_stub import FRAMING, error_body, message_body, running_stub

from hashhop.backends import anthropic as anth
from hashhop.backends.base import Request
from hashhop.core.errors import BackendError, OverLength, RateLimited, TransientError

KEY = "sk-ant-test-SECRET-0123456789"


@pytest.fixture
def stub():
    with running_stub() as server:
        yield server


@pytest.fixture
def backend_for(stub, monkeypatch):
    monkeypatch.setenv("HH_TEST_ANTHROPIC_KEY", KEY)
    made = []

    def make(**options):
        b = anth.create(
            "claude-stub",
            base_url=f"http://127.0.0.1:{stub.server_port}",
            api_key_env="HH_TEST_ANTHROPIC_KEY",
            **options,
        )
        made.append(b)
        return b

    yield make
    for b in made:
        asyncio.run(b.aclose())


def _request(context="A = B\nB = C", question="What is 2 hops from A?", stop=("\n\n",)):
    user = f"Context:\n{context}\n\n{question}"
    return Request(
        sample_id="s",
        query_index=0,
        max_tokens=32,
        stop=stop,
        context=context,
        prompt=user,
        messages=({"role": "system", "content": "Follow the chain."}, {"role": "user", "content": user}),
    )


def _generate(backend, request=None):
    return asyncio.run(backend.generate(request or _request()))


def test_answer_text_usage_and_finish_reason_come_from_the_response(stub, backend_for):
    stub.script.append((200, {}, message_body("The answer is C", input_tokens=5, cache_read=90, cache_write=10)))
    c = _generate(backend_for())
    assert (c.text, c.completion_tokens, c.finish_reason) == ("The answer is C", 3, "end_turn")
    assert c.prompt_tokens == 105  # fresh + cache read + cache write: the whole prompt
    assert (c.cached_tokens, c.cache_write_tokens) == (90, 10)


def test_request_carries_key_version_system_and_greedy_settings(stub, backend_for):
    _generate(backend_for())
    seen = stub.seen[-1]
    assert seen["headers"]["x-api-key"] == KEY
    assert seen["headers"]["anthropic-version"] == anth.API_VERSION
    body = seen["body"]
    assert body["system"] == "Follow the chain."
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("claude-stub", 32, 0.0)
    assert "stop_sequences" not in body  # whitespace-only stops are rejected by the API: dropped


def test_context_prefix_is_marked_cacheable_and_the_text_is_unchanged(stub, backend_for):
    request = _request(stop=("END",))
    _generate(backend_for(), request)
    blocks = stub.seen[-1]["body"]["messages"][0]["content"]
    assert blocks[0]["cache_control"] == {"type": "ephemeral"}
    assert blocks[0]["text"].endswith(request.context)
    assert "".join(b["text"] for b in blocks) == request.messages[1]["content"]
    assert stub.seen[-1]["body"]["stop_sequences"] == ["END"]


def test_caching_can_be_turned_off(stub, backend_for):
    _generate(backend_for(cache_prompt="false"))
    assert isinstance(stub.seen[-1]["body"]["messages"][0]["content"], str)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_is_fatal_and_never_printed(stub, backend_for, status):
    stub.script.append((status, {}, error_body("authentication_error", f"invalid x-api-key {KEY}")))
    with pytest.raises(BackendError, match="api_key_env") as info:
        _generate(backend_for())
    assert KEY not in str(info.value)


def test_unknown_model_is_fatal(stub, backend_for):
    stub.script.append((404, {}, error_body("not_found_error", "model: claude-nope")))
    with pytest.raises(BackendError, match="not found"):
        _generate(backend_for())


def test_429_carries_retry_after(stub, backend_for):
    stub.script.append((429, {"retry-after": "7"}, error_body("rate_limit_error", "slow down")))
    with pytest.raises(RateLimited) as info:
        _generate(backend_for())
    assert info.value.retry_after == 7.0


def test_429_without_retry_after_leaves_the_wait_to_the_runner(stub, backend_for):
    stub.script.append((429, {}, error_body("rate_limit_error", "slow down")))
    with pytest.raises(RateLimited) as info:
        _generate(backend_for())
    assert info.value.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 529])
def test_overload_and_server_errors_are_transient(stub, backend_for, status):
    stub.script.append((status, {}, error_body("overloaded_error", "Overloaded")))
    with pytest.raises(TransientError) as info:
        _generate(backend_for())
    assert not isinstance(info.value, RateLimited)


def test_prompt_too_long_is_over_length_not_an_error(stub, backend_for):
    stub.script.append(
        (400, {}, error_body("invalid_request_error", "prompt is too long: 250123 tokens > 200000 maximum"))
    )
    with pytest.raises(OverLength, match="250123"):
        _generate(backend_for())


def test_other_bad_requests_are_fatal(stub, backend_for):
    stub.script.append((400, {}, error_body("invalid_request_error", "max_tokens: must be positive")))
    with pytest.raises(BackendError, match="max_tokens"):
        _generate(backend_for())


@pytest.mark.parametrize("payload", [b"{not json", {"type": "message", "usage": {}}, {"content": "text"}])
def test_malformed_responses_are_transient(stub, backend_for, payload):
    stub.script.append((200, {}, payload))
    with pytest.raises(TransientError, match="malformed"):
        _generate(backend_for())


def test_a_stalled_server_times_out_as_transient(stub, backend_for):
    stub.script.append((200, {}, "stall"))
    with pytest.raises(TransientError, match="timeout"):
        _generate(backend_for(timeout="0.3"))


def test_unreachable_server_is_transient(monkeypatch):
    monkeypatch.setenv("HH_TEST_ANTHROPIC_KEY", KEY)
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = anth.create("claude-stub", base_url=f"http://127.0.0.1:{port}", api_key_env="HH_TEST_ANTHROPIC_KEY")
    with pytest.raises(TransientError, match="cannot reach"):
        _generate(backend)
    asyncio.run(backend.aclose())


def test_count_tokens_uses_the_endpoint_without_the_message_framing(stub, backend_for):
    backend = backend_for()
    assert backend.count_tokens("A = B\n") == len("A = B\n")
    assert stub.seen[-1]["path"] == "/v1/messages/count_tokens"


def test_count_tokens_is_none_when_the_endpoint_is_missing(stub, backend_for):
    stub.count_tokens = False
    assert backend_for().count_tokens("A = B") is None


def test_missing_key_variable_names_the_variable_and_the_option(monkeypatch):
    monkeypatch.delenv("HH_TEST_NO_SUCH_KEY", raising=False)
    with pytest.raises(BackendError, match="HH_TEST_NO_SUCH_KEY.*api_key_env"):
        anth.create("claude-stub", api_key_env="HH_TEST_NO_SUCH_KEY")


def test_unknown_option_is_rejected_with_the_known_ones(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with pytest.raises(BackendError, match="known are"):
        anth.create("claude-stub", temprature="0")


def test_context_window_defaults_and_can_be_set(backend_for):
    assert backend_for().context_window == anth.DEFAULT_CONTEXT_WINDOW
    assert backend_for(context_window="1000").context_window == 1000


def test_chat_overhead_is_the_measured_message_framing(backend_for):
    backend = backend_for()
    assert backend.chat is True
    assert backend.chat_overhead == FRAMING


def test_options_name_the_key_variable_but_never_hold_the_key(backend_for):
    options = backend_for().options()
    assert options["api_key_env"] == "HH_TEST_ANTHROPIC_KEY"
    assert KEY not in repr(options)


def test_hashhop_eval_through_the_messages_api_records_usage_and_never_the_key(stub, monkeypatch, tmp_path, capsys):
    from hashhop.cli import main
    from hashhop.evaluate.store import read_records, read_samples

    monkeypatch.setenv("HH_TEST_ANTHROPIC_KEY", KEY)
    run = tmp_path / "run"
    code = main(
        [
            "eval",
            "--model",
            "anthropic:claude-stub",
            "--base-url",
            f"http://127.0.0.1:{stub.server_port}",
            "-M",
            "api_key_env=HH_TEST_ANTHROPIC_KEY",
            "--tokens",
            "1500",
            "--hops",
            "1,2",
            "--queries",
            "2",
            "--no-progress",
            "-o",
            str(run),
        ]
    )
    assert code == 0, capsys.readouterr().err
    records = read_records(str(run))
    assert len(records) == 4
    assert all(r.status == "ok" and r.correct for r in records)  # the stub follows chains perfectly
    assert all(r.completion_tokens == len(r.completion) for r in records)  # usage from the API
    planned = {e["sample_id"]: e["prompt_tokens"] for e in read_samples(str(run))}
    assert all(r.prompt_tokens == planned[r.sample_id] for r in records)  # sized in the API's own count
    for path in run.iterdir():
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path.name


def test_preflight_passes_for_a_known_model(stub, backend_for):
    asyncio.run(backend_for().check())
    assert stub.seen[-1]["path"] == "/v1/models/claude-stub"


def test_preflight_names_an_unknown_model(stub, monkeypatch):
    monkeypatch.setenv("HH_TEST_ANTHROPIC_KEY", KEY)
    backend = anth.create(
        "claude-nope", base_url=f"http://127.0.0.1:{stub.server_port}", api_key_env="HH_TEST_ANTHROPIC_KEY"
    )
    with pytest.raises(BackendError, match="claude-nope"):
        asyncio.run(backend.check())


def test_preflight_stops_on_a_refused_key(stub, backend_for):
    stub.get_status = 401
    with pytest.raises(BackendError, match="refused the key"):
        asyncio.run(backend_for().check())


def test_preflight_names_an_unreachable_server(monkeypatch):
    monkeypatch.setenv("HH_TEST_ANTHROPIC_KEY", KEY)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = anth.create("claude-stub", base_url=f"http://127.0.0.1:{port}", api_key_env="HH_TEST_ANTHROPIC_KEY")
    with pytest.raises(BackendError, match="cannot reach"):
        asyncio.run(backend.check())


def test_cli_turns_a_refused_key_into_one_error_line(stub, monkeypatch, tmp_path, capsys):
    from hashhop.cli import main

    monkeypatch.setenv("HH_TEST_ANTHROPIC_KEY", KEY)
    stub.get_status = 401
    code = main(
        [
            "eval",
            "--model",
            "anthropic:claude-stub",
            "--base-url",
            f"http://127.0.0.1:{stub.server_port}",
            "-M",
            "api_key_env=HH_TEST_ANTHROPIC_KEY",
            "--tokens",
            "1500",
            "--no-progress",
            "-o",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error:") and len(err.splitlines()) == 1 and KEY not in err
    assert [s["path"] for s in stub.seen] == ["/v1/models/claude-stub"]  # no retry storm, nothing sent
