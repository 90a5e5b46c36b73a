"""inspect_ai task `hashhop/hashhop`: -T options, hashhop's scorer reporting exact match, hop
credit and failure kinds, found by `inspect eval hashhop/hashhop` through the `inspect_ai` entry point."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hashhop.integrations.documents import METRICS, score_doc

pytest.importorskip("inspect_ai")
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log

from hashhop.integrations.inspect_task import hashhop


def _mock(texts: list[str]):
    """mockllm answering `texts` in turn. Usage is given so that mockllm does not count tokens
    with tiktoken's o200k_base, which it would download (the tests run offline)."""
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    outputs = []
    for text in texts:
        out = ModelOutput.from_content("mockllm/model", text)
        out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        outputs.append(out)
    return get_model("mockllm/model", custom_outputs=outputs)


def _scores(log) -> dict:
    return {s.name: s.metrics for s in log.results.scores}


def test_task_builds_samples_from_the_options():
    task = hashhop(tokens="1K", hops=3, cot=True, samples=2, seed=9, tokenizer="chars")
    samples = list(task.dataset)
    assert len(samples) == 2
    for s in samples:
        assert s.metadata["hops"] == 3 and s.metadata["cot"] is True and s.metadata["seed"] == 9
        assert len(s.target.split(" = ")) == 3
        assert abs(s.metadata["n_tokens"] - 1000) <= 36 and s.metadata["tokenizer"] == "chars"
    assert task.config.max_tokens >= 3 * 16


def test_command_line_strings_are_accepted():
    # `-T cot=false -T hops=2` arrive as strings from some front ends
    task = hashhop(tokens="1K", hops="2", cot="false", samples="1", seed="1", tokenizer="chars")
    sample = list(task.dataset)[0]
    assert sample.metadata["cot"] is False and sample.metadata["hops"] == 2


def test_scorer_reports_every_metric_with_a_mock_model(tmp_path):
    task = hashhop(tokens="1K", hops=2, samples=2, tokenizer="chars")
    [log] = inspect_eval(task, model=_mock(["I cannot tell."] * 2), log_dir=str(tmp_path), display="none")
    assert log.status == "success"
    scores = _scores(log)
    assert set(scores) == set(METRICS)
    assert scores["exact_match"]["accuracy"].value == 0.0
    assert scores["kind_no_answer"]["mean"].value == 1.0
    sample = log.samples[0]
    assert sample.scores["hashhop_scorer"].explanation == "no_answer"


def test_scorer_gives_full_credit_to_the_right_answer(tmp_path):
    task = hashhop(tokens="1K", hops=2, cot=True, samples=1, tokenizer="chars")
    target = list(task.dataset)[0].target
    [log] = inspect_eval(task, model=_mock([target]), log_dir=str(tmp_path), display="none")
    scores = _scores(log)
    assert scores["exact_match"]["accuracy"].value == 1.0 and scores["credit"]["mean"].value == 1.0


def _entry_point_dir(tmp_path) -> str:
    """What `pip install hashhop` adds once pyproject declares the entry point: a dist-info whose
    entry_points.txt names the task module under the group `inspect_ai`."""
    info = tmp_path / "ep" / "hashhop_inspect_ep-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hashhop-inspect-ep\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[inspect_ai]\nhashhop = hashhop.integrations.inspect_task\n")
    return str(tmp_path / "ep")


@pytest.mark.slow
@pytest.mark.server
def test_inspect_eval_cli_runs_hashhop_against_llama_server(llama_server, tmp_path):
    pytest.importorskip("openai")  # inspect's openai-api provider needs it
    env = {
        **os.environ,
        "PYTHONPATH": _entry_point_dir(tmp_path),
        "LLAMACPP_BASE_URL": f"{llama_server}/v1",
        "LLAMACPP_API_KEY": "none",
    }
    inspect = os.path.join(os.path.dirname(sys.executable), "inspect")
    cmd = [
        inspect,
        "eval",
        "hashhop/hashhop",
        "-T",
        "tokens=1K",
        "-T",
        "hops=1",
        "-T",
        "samples=1",
        "--model",
        "openai-api/llamacpp/smollm2",
        "--log-dir",
        str(tmp_path / "logs"),
        "--display",
        "none",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    [path] = list((tmp_path / "logs").glob("*.eval"))
    log = read_eval_log(str(path))
    assert log.status == "success" and log.eval.task == "hashhop/hashhop"
    assert set(_scores(log)) == set(METRICS)
    [sample] = log.samples
    assert sample.metadata["tokenizer"] == f"server:{llama_server}"  # sized in the model's own tokens
    verdict = score_doc(sample.metadata, sample.output.completion)
    assert sample.scores["hashhop_scorer"].value == {m: verdict[m] for m in METRICS}
