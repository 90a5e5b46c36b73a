"""The llamacpp backend: SmolLM2-135M-Instruct (GGUF) in-process through llama-cpp-python."""

from __future__ import annotations

import asyncio
import threading

import pytest

from hashhop.backends import llamacpp
from hashhop.backends.base import Request
from hashhop.core.errors import BackendError, OverLength

N_CTX = 512


@pytest.fixture(scope="module")
def backend(smollm2_gguf):
    b = llamacpp.create(smollm2_gguf, n_ctx=N_CTX, n_threads=1)
    yield b
    asyncio.run(b.aclose())


def _request(user="abc = DEF\nDEF = ghi\n\nStart at abc and follow 2 links.", max_tokens=12, stop=()):
    return Request(
        sample_id="s",
        query_index=0,
        max_tokens=max_tokens,
        stop=stop,
        prompt=f"Follow the links.\n\n{user}\n\nAnswer:",
        messages=({"role": "system", "content": "Follow the links."}, {"role": "user", "content": user}),
    )


def _chat_text(backend, messages) -> str:
    """The model's chat template from the GGUF metadata, rendered independently of llama_cpp."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    template = backend.llm.metadata["tokenizer.chat_template"]
    return (
        ImmutableSandboxedEnvironment()
        .from_string(template)
        .render(messages=list(messages), add_generation_prompt=True)
    )


def test_context_window_is_n_ctx(backend):
    assert backend.context_window == N_CTX


def test_count_tokens_uses_the_models_tokenizer(backend):
    text = "abcdefghijklmnop = QRSTUVWXYZabcdef\n"
    ids = backend.llm.tokenize(text.encode(), add_bos=False)
    assert backend.count_tokens(text) == len(ids)
    assert backend.llm.detokenize(ids).decode() == text  # the ids really are this text


def test_chat_requests_go_through_the_models_chat_template(backend):
    request = _request()
    completion = asyncio.run(backend.generate(request))
    rendered = _chat_text(backend, request.messages)
    assert rendered.startswith("<|im_start|>system\nFollow the links.<|im_end|>")
    assert completion.prompt_tokens == len(backend.llm.tokenize(rendered.encode(), add_bos=False, special=True))
    assert 1 <= completion.completion_tokens <= 12


def test_decoding_is_greedy_and_repeatable(backend):
    first = asyncio.run(backend.generate(_request()))
    second = asyncio.run(backend.generate(_request()))
    assert first.text == second.text and first.text.strip()


def test_plain_completions_send_the_prompt_text(smollm2_gguf):
    b = llamacpp.create(smollm2_gguf, n_ctx=N_CTX, n_threads=1, chat=False)
    request = _request()
    completion = asyncio.run(b.generate(request))
    assert completion.prompt_tokens == b.count_tokens(request.prompt)
    asyncio.run(b.aclose())


def test_stop_sequences_end_the_answer(backend):
    full = asyncio.run(backend.generate(_request(max_tokens=16))).text
    assert len(full) >= 4
    stop = full[2:4]
    cut = asyncio.run(backend.generate(_request(max_tokens=16, stop=(stop,))))
    assert cut.text == full[: full.find(stop)]
    assert cut.finish_reason == "stop"


def test_a_prompt_over_n_ctx_is_over_length(backend):
    with pytest.raises(OverLength, match=str(N_CTX)):
        asyncio.run(backend.generate(_request(user="abcdefgh = ijklmnop\n" * 80)))


def test_concurrent_calls_run_one_at_a_time_off_the_event_loop(backend):
    original, state = backend.llm.create_chat_completion, {"active": 0, "max": 0, "loop_ran": 0}
    loop_tick = threading.Event()

    def guarded(*args, **kwargs):
        state["active"] += 1
        state["max"] = max(state["max"], state["active"])
        state["loop_ran"] += loop_tick.wait(timeout=5)  # only the event loop sets it: we are elsewhere
        try:
            return original(*args, **kwargs)
        finally:
            state["active"] -= 1

    async def main():
        async def ticker():
            while True:
                await asyncio.sleep(0.005)
                loop_tick.set()

        tick = asyncio.create_task(ticker())
        results = await asyncio.gather(*(backend.generate(_request(max_tokens=3)) for _ in range(4)))
        tick.cancel()
        return results

    backend.llm.create_chat_completion = guarded
    try:
        results = asyncio.run(main())
    finally:
        backend.llm.create_chat_completion = original
    assert len({r.text for r in results}) == 1  # same request, same greedy answer, no interference
    assert (state["loop_ran"], state["max"]) == (4, 1)


def test_a_missing_file_names_the_fix(tmp_path):
    with pytest.raises(BackendError, match="llamacpp:path/to/file.gguf"):
        llamacpp.create(str(tmp_path / "nope.gguf"))


def test_a_file_that_is_not_gguf_is_a_backend_error(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all")
    with pytest.raises(BackendError, match="GGUF"):
        llamacpp.create(str(bad))


def test_unknown_options_are_rejected(smollm2_gguf):
    with pytest.raises(BackendError, match="known are"):
        llamacpp.create(smollm2_gguf, ctx=5)


def test_chat_overhead_makes_the_planned_count_exact(backend):
    request = _request(user="abcdefgh = ijklmnop\nijklmnop = qrstuvwx\n\nStart at abcdefgh.")
    planned = backend.count_tokens("\n".join(m["content"] for m in request.messages)) + backend.chat_overhead
    assert backend.chat_overhead > 0
    assert asyncio.run(backend.generate(request)).prompt_tokens == planned
