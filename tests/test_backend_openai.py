"""The openai backend against a real HTTP stub: answers, error mapping, limits, token counting."""

import asyncio
import socket

import pytest
from stub_server import StubServer, count, oracle_answer

from hashhop.backends import get_backend, parse_model, parse_options
from hashhop.backends.base import Request
from hashhop.backends.http import retry_after
from hashhop.core.errors import BackendError, OverLength, RateLimited, TransientError

CONTEXT = "aaaa = bbbb\nbbbb = cccc\ncccc = 'dddd'"
QUESTION = "Start at aaaa and follow 2 link(s). Which hash do you reach? Answer with that hash only."


def request(max_tokens=16):
    return Request(
        sample_id="s",
        query_index=0,
        messages=({"role": "user", "content": CONTEXT + "\n\n" + QUESTION},),
        prompt=CONTEXT + "\n\n" + QUESTION,
        max_tokens=max_tokens,
        start="aaaa",
        hops=2,
    )


def call(server, req=None, **options):
    async def go():
        backend = get_backend("openai:stub", base_url=server.url + "/v1", **{"timeout": 5, **options})
        try:
            return await backend.generate(req or request())
        finally:
            await backend.aclose()

    return asyncio.run(go())


@pytest.fixture
def server():
    with StubServer() as s:
        yield s


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_chat_and_plain_completions_return_text_and_usage(server, api):
    c = call(server, api=api)
    assert c.text == "cccc" == oracle_answer(CONTEXT + "\n\n" + QUESTION)
    assert c.prompt_tokens > 0 and c.completion_tokens == count("cccc") and c.latency_s > 0
    sent = server.generations[-1]
    assert sent["path"] == ("/v1/chat/completions" if api == "chat" else "/v1/completions")
    assert sent["json"]["cache_prompt"] is True and sent["json"]["temperature"] == 0.0
    assert ("messages" in sent["json"]) == (api == "chat")


def test_401_403_and_404_are_fatal_backend_errors(server):
    server.script({"status": 401}, {"status": 403}, {"status": 404})
    for code in ("401", "403"):
        with pytest.raises(BackendError, match=f"refused the key \\({code}"):
            call(server)
    with pytest.raises(BackendError, match="not found.*--model"):
        call(server)


def test_an_unknown_model_is_a_backend_error():
    with StubServer(models=("other",)) as s, pytest.raises(BackendError, match="'stub'.*not found"):
        call(s)


def test_429_carries_retry_after_when_the_server_gives_one(server):
    server.script({"status": 429, "retry_after": "7"}, {"status": 429})
    with pytest.raises(RateLimited) as first:
        call(server)
    assert first.value.retry_after == 7.0
    with pytest.raises(RateLimited) as second:
        call(server)
    assert second.value.retry_after is None


def test_retry_after_accepts_milliseconds_and_http_dates():
    assert retry_after({"retry-after-ms": "1500"}) == 1.5
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after({"retry-after": "soon"}) is None


@pytest.mark.parametrize(
    "action",
    [
        {"status": 500},
        {"status": 502},
        {"status": 503},
        {"reset": True},
        {"truncated": True},
        {"malformed": True},
        {"empty_choices": True},
    ],
    ids=["500", "502", "503", "reset", "truncated", "malformed", "empty_choices"],
)
def test_server_failures_and_broken_bodies_are_transient(server, action):
    server.script(action)
    with pytest.raises(TransientError):
        call(server)
    assert call(server).text == "cccc"  # the next request on a fresh or reused connection works


@pytest.mark.parametrize("chunked", [False, True])
def test_a_gigantic_body_is_cut_at_the_byte_limit(server, chunked):
    server.script({"huge": 3 * 2**20, "chunked": chunked})
    with pytest.raises(TransientError, match="byte limit"):
        call(server, max_response_bytes=2**20)


def test_a_stall_past_the_timeout_is_transient(server):
    server.script({"stall": 2.0})
    with pytest.raises(TransientError, match="timeout"):
        call(server, timeout=0.2)


def test_a_context_length_error_is_over_length():
    with StubServer(context_window=20) as s, pytest.raises(OverLength, match="maximum context length"):
        call(s)


def test_other_400s_are_fatal_not_over_length(server):
    server.script({"status": 400, "message": "temperature must be >= 0"})
    with pytest.raises(BackendError, match="rejected the request"):
        call(server)


@pytest.mark.parametrize("tokenize", ["llama-cpp-python", "llamacpp"])
def test_token_counts_come_from_the_servers_tokenize_endpoint(tokenize):
    with StubServer(tokenize=tokenize) as s:
        backend = get_backend("openai:stub", base_url=s.url + "/v1")
        try:
            assert backend.count_tokens(CONTEXT) == count(CONTEXT)
        finally:
            asyncio.run(backend.aclose())


def test_a_local_server_without_a_tokenize_endpoint_counts_nothing():
    with StubServer(tokenize=None) as s:
        backend = get_backend("openai:stub", base_url=s.url + "/v1")
        assert backend.count_tokens(CONTEXT) is None
        asyncio.run(backend.aclose())


def test_openai_models_are_counted_with_tiktoken(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unused")
    backend = get_backend("openai:gpt-4-turbo", tokenize="auto")
    backend._counter = backend._tiktoken_counter()  # no network: skip the endpoint probe
    assert backend.count_tokens("hello world") == 2
    asyncio.run(backend.aclose())


def test_the_key_is_read_from_the_named_variable_and_never_exposed(monkeypatch):
    monkeypatch.setenv("MY_SECRET_KEY", "sk-very-secret")
    with StubServer(require_key="sk-very-secret") as s:
        c = call(s, api_key_env="MY_SECRET_KEY")
        assert c.text == "cccc"
        backend = get_backend("openai:stub", base_url=s.url + "/v1", api_key_env="MY_SECRET_KEY")
        assert "sk-very-secret" not in repr(backend.options()) + backend.name
        asyncio.run(backend.aclose())
        monkeypatch.setenv("MY_SECRET_KEY", "sk-wrong")
        with pytest.raises(BackendError, match="refused the key"):
            call(s, api_key_env="MY_SECRET_KEY")


def test_a_missing_key_variable_names_the_fix(monkeypatch):
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with pytest.raises(BackendError, match="export NOPE_KEY"):
        get_backend("openai:stub", base_url="http://127.0.0.1:9/v1", api_key_env="NOPE_KEY")


def test_check_reports_an_unreachable_server_in_one_line():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connection refused

        async def go():
            backend = get_backend("openai:stub", base_url=f"http://127.0.0.1:{port}/v1")
            try:
                await backend.check()
            finally:
                await backend.aclose()

        with pytest.raises(BackendError, match="cannot reach .*--base-url") as exc:
            asyncio.run(go())
    assert "\n" not in str(exc.value)


def test_check_learns_the_context_window_from_props():
    with StubServer(context_window=4096, props=True) as s:

        async def go():
            backend = get_backend("openai:stub", base_url=s.url + "/v1")
            await backend.check()
            await backend.aclose()
            return backend.context_window

        assert asyncio.run(go()) == 4096


def test_check_measures_the_chat_templates_token_overhead():
    with StubServer() as s:  # the stub adds 4 tokens per message and 3 for the reply

        async def go():
            backend = get_backend("openai:stub", base_url=s.url + "/v1")
            await backend.check()
            await backend.aclose()
            return backend.chat_overhead

        assert asyncio.run(go()) == 11


def test_unknown_options_and_bad_api_are_rejected():
    with pytest.raises(BackendError, match="unknown option"):
        get_backend("openai:stub", base_url="http://127.0.0.1:9/v1", temprature=1)
    with pytest.raises(BackendError, match="api=chat"):
        get_backend("openai:stub", base_url="http://127.0.0.1:9/v1", api="embeddings")
    with pytest.raises(BackendError, match="unknown option.*http"):  # the transport is no longer a choice
        get_backend("openai:stub", base_url="http://127.0.0.1:9/v1", http="httpx")


def test_model_names_and_options_parse_like_lm_eval_and_inspect():
    assert parse_model("openai:org/model:v1") == ("openai", "org/model:v1")
    assert parse_model("oracle") == ("oracle", "")
    assert parse_options(["a=1", "b=0.5,c=true", "d=text", "e-f=none"]) == {
        "a": 1,
        "b": 0.5,
        "c": True,
        "d": "text",
        "e_f": None,
    }
    with pytest.raises(BackendError, match="-M key=value"):
        parse_options(["novalue"])


def test_unknown_backends_list_the_known_ones():
    with pytest.raises(BackendError, match="unknown backend 'nosuch'.*oracle"):
        get_backend("nosuch:x")


def test_third_party_backends_load_through_the_entry_point_group(monkeypatch):
    import hashhop.backends as registry

    class Mine(registry.Backend):
        def __init__(self, model, **options):
            self.name, self.made_with = f"mine:{model}", options

        async def generate(self, request):
            raise NotImplementedError

    class EP:
        name = "mine"

        def load(self):
            import types

            return types.SimpleNamespace(create=Mine)

    monkeypatch.setattr(registry, "_entry_points", lambda: {"mine": EP()})
    backend = get_backend("mine:big", x=1)
    assert isinstance(backend, Mine) and backend.name == "mine:big" and backend.made_with == {"x": 1}
    assert "mine" in registry.available_backends()
