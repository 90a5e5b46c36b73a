"""The hf backend on a tiny randomly-initialised GPT-2 built and saved in a temp dir (no downloads)."""

from __future__ import annotations

import asyncio
import threading

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from hashhop.backends import hf  # noqa: E402
from hashhop.backends.base import Request  # noqa: E402
from hashhop.core.errors import BackendError, OverLength  # noqa: E402

WINDOW = 128
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _tokenizer(chat_template: str | None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    corpus = ["abcdefghijklmnopqrstuvwxyz = ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789"] * 20 + ["Start at A and follow"]
    tok.train_from_iterator(corpus, trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>", unk_token="<|endoftext|>"
    )
    fast.chat_template = chat_template
    return fast


def _save_model(path, chat_template, window=WINDOW):
    tokenizer = _tokenizer(chat_template)
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer), n_positions=window, n_embd=32, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0
    )
    transformers.GPT2LMHeadModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return _save_model(tmp_path_factory.mktemp("tiny-gpt2-chat"), CHAT_TEMPLATE)


@pytest.fixture(scope="module")
def plain_model_dir(tmp_path_factory):
    return _save_model(tmp_path_factory.mktemp("tiny-gpt2-plain"), None)


@pytest.fixture(scope="module")
def backend(model_dir):
    return hf.create(model_dir, threads=1)


def _request(user="abc = DEF\nDEF = ghi\n\nStart at abc", max_tokens=8, stop=()):
    return Request(
        sample_id="s",
        query_index=0,
        max_tokens=max_tokens,
        stop=stop,
        prompt=f"Q: {user}\nA:",
        messages=({"role": "system", "content": "Follow"}, {"role": "user", "content": user}),
    )


def _greedy_reference(model_dir, ids, n):
    """Argmax decoding by hand, independent of generate()."""
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir).eval()
    ids = list(ids)
    with torch.inference_mode():
        for _ in range(n):
            logits = model(torch.tensor([ids])).logits[0, -1]
            ids.append(int(logits.argmax()))
    return ids[-n:]


def test_context_window_comes_from_the_config(backend):
    assert backend.context_window == WINDOW


def test_count_tokens_is_the_models_tokenizer_without_special_tokens(backend, model_dir):
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    text = "abcdef = GHIJKL\nmnop = QRST\n"
    assert backend.count_tokens(text) == len(raw.encode(text, add_special_tokens=False).ids)


def test_the_chat_template_is_applied_to_the_messages(backend):
    request = _request()
    rendered = backend.tokenizer.decode(backend.prompt_ids(request))
    assert rendered == (
        "<|im_start|>system\nFollow<|im_end|>\n<|im_start|>user\n"
        + request.messages[1]["content"]
        + "<|im_end|>\n<|im_start|>assistant\n"
    )
    completion = asyncio.run(backend.generate(request))
    assert completion.prompt_tokens == len(backend.prompt_ids(request))


def test_decoding_is_greedy(backend, model_dir):
    request = _request(max_tokens=6)
    completion = asyncio.run(backend.generate(request))
    expected = _greedy_reference(model_dir, backend.prompt_ids(request), completion.completion_tokens)
    assert completion.text == backend.tokenizer.decode(expected, skip_special_tokens=True)
    assert completion.completion_tokens >= 1


def test_a_model_without_template_gets_the_plain_prompt(plain_model_dir):
    backend = hf.create(plain_model_dir)
    request = _request()
    assert backend.chat is False
    assert backend.tokenizer.decode(backend.prompt_ids(request)) == request.prompt


def test_asking_for_chat_without_a_template_names_the_fix(plain_model_dir):
    with pytest.raises(BackendError, match="chat=false"):
        hf.create(plain_model_dir, chat=True)


def test_a_prompt_over_the_window_is_over_length(backend):
    with pytest.raises(OverLength, match=str(WINDOW)):
        asyncio.run(backend.generate(_request(user="abc = DEF\n" * 60)))


def test_generation_never_runs_past_the_window(backend):
    request = _request(user="ab = CD\n" * 12, max_tokens=200)
    room = WINDOW - len(backend.prompt_ids(request))
    assert 0 < room < 200
    completion = asyncio.run(backend.generate(request))
    assert completion.completion_tokens <= room
    assert completion.extra["max_tokens_capped"] is True


def test_stop_sequences_cut_the_answer(backend):
    full = asyncio.run(backend.generate(_request(max_tokens=12))).text
    assert len(full) >= 4, "the tiny model produced too little text to test stops"
    stop = full[2:4]
    cut = asyncio.run(backend.generate(_request(max_tokens=12, stop=(stop,))))
    assert cut.text == full[: full.find(stop)]
    assert cut.finish_reason == "stop"


def test_generation_runs_off_the_event_loop_one_call_at_a_time(model_dir):
    backend = hf.create(model_dir)
    original, state = backend.model.generate, {"active": 0, "max": 0, "loop_ran": 0}
    loop_tick = threading.Event()

    def slow_generate(*args, **kwargs):
        state["active"] += 1
        state["max"] = max(state["max"], state["active"])
        # Blocks until the event loop has run the ticker: only possible if we are on another thread.
        state["loop_ran"] += loop_tick.wait(timeout=5)
        try:
            return original(*args, **kwargs)
        finally:
            state["active"] -= 1

    backend.model.generate = slow_generate

    async def main():
        async def ticker():
            while True:
                await asyncio.sleep(0.005)
                loop_tick.set()

        tick = asyncio.create_task(ticker())
        await asyncio.gather(*(backend.generate(_request(max_tokens=2)) for _ in range(3)))
        tick.cancel()

    asyncio.run(main())
    assert state["loop_ran"] == 3
    assert state["max"] == 1


def test_a_missing_model_names_the_fix(tmp_path):
    with pytest.raises(BackendError, match="local folder"):
        hf.create(str(tmp_path / "nope"), local_files_only=True)


def test_unknown_options_are_rejected(model_dir):
    with pytest.raises(BackendError, match="known are"):
        hf.create(model_dir, n_ctx=5)


def test_chat_overhead_makes_the_planned_count_exact(backend):
    request = _request(user="abcdef = GHIJKL\nGHIJKL = mnopqr\n\nStart at abcdef")
    planned = backend.count_tokens("\n".join(m["content"] for m in request.messages)) + backend.chat_overhead
    assert backend.chat_overhead > 0
    assert asyncio.run(backend.generate(request)).prompt_tokens == planned


def test_hashhop_eval_runs_a_local_model_sized_in_its_own_tokens(tmp_path, capsys):
    from hashhop.cli import main
    from hashhop.evaluate.store import read_records, read_results, read_samples
    from hashhop.generator.build import problem_of
    from hashhop.generator.sample import Sample

    model_dir = _save_model(tmp_path / "model", CHAT_TEMPLATE, window=2048)
    run = tmp_path / "run"
    code = main(
        [
            "eval",
            "--model",
            f"hf:{model_dir}",
            "--tokens",
            "600",
            "--hops",
            "1,2",
            "--queries",
            "2",
            "--max-tokens",
            "6",
            "--no-progress",
            "-o",
            str(run),
        ]
    )
    assert code == 0, capsys.readouterr().err
    records = read_records(str(run))
    assert len(records) == 4 and all(r.status == "ok" and r.completion_tokens for r in records)
    assert read_results(str(run))["tokenizer"] == f"model:hf:{model_dir}"
    counter = hf.create(model_dir)
    for entry in read_samples(str(run)):
        context = problem_of(Sample.from_dict(entry["sample"])).prompt()
        assert counter.count_tokens(context) == entry["n_tokens"]  # sized in the model's own tokens
    for r in records:  # what the model read: the planned prompt, within the question's start hash
        planned = {e["sample_id"]: e["prompt_tokens"] for e in read_samples(str(run))}[r.sample_id]
        assert abs(r.prompt_tokens - planned) <= 6 and abs(r.prompt_tokens - 600) <= 60


def test_dtype_option_sets_the_weights_dtype(model_dir):
    assert hf.create(model_dir, dtype="bfloat16").model.dtype == torch.bfloat16
