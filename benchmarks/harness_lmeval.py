"""lm-eval's side of benchmarks/harness.py: its own venv, a task file of the same prompts, and a run of
`local-chat-completions` (aiohttp) against the stub, each in its own process as users run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

LMEVAL_VENV = "/tmp/lmeval-venv"
LMEVAL_PACKAGES = ["lm-eval[api]==0.4.13", "torch==2.13.0+cpu"]  # never a CUDA torch

LMEVAL_DRIVER = r"""
import json, sys, time
from lm_eval import simple_evaluate
from lm_eval.tasks import TaskManager
cfg = json.loads(sys.argv[1])
args = dict(model="stub", base_url=cfg["url"], num_concurrent=cfg["concurrency"], max_retries=1,
            tokenizer_backend=None, tokenized_requests=False)
simple_evaluate(model="local-chat-completions", model_args=args, tasks=["hashhop_bench"],
                task_manager=TaskManager(include_path=cfg["task_dir"]), apply_chat_template=True,
                system_instruction=cfg["system"], limit=cfg["n"], log_samples=False)
"""

TASK_YAML = """task: hashhop_bench
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "{{{{user}}}}"
doc_to_target: "{{{{target}}}}"
generation_kwargs:
  until: ["\\n\\n"]
  max_gen_toks: 64
  do_sample: false
  temperature: 0
metric_list:
  - metric: exact_match
"""


def ensure_lmeval(venv: str) -> str:
    """The venv's python, with lm-eval installed in it (created on first use)."""
    python = os.path.join(venv, "bin", "python")
    if os.path.exists(python) and subprocess.run([python, "-c", "import lm_eval"], capture_output=True).returncode == 0:
        return python
    print(f"installing lm-eval into {venv} (first run only)...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *LMEVAL_PACKAGES], check=True)
    return python


def lmeval_task(items: list[dict], folder: str) -> str:
    data = os.path.join(folder, "data.jsonl")
    with open(data, "w") as f:
        for item in items:
            f.write(json.dumps({"user": item["user"], "target": item["target"]}) + "\n")
    with open(os.path.join(folder, "hashhop_bench.yaml"), "w") as f:
        f.write(TASK_YAML.format(data=data))
    return folder


def run_lmeval(python: str, base_url: str, n: int, concurrency: int, task_dir: str, system: str) -> None:
    cfg = {
        "url": f"{base_url}/v1/chat/completions",
        "concurrency": concurrency,
        "n": n,
        "task_dir": task_dir,
        "system": system,
    }
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([python, "-c", LMEVAL_DRIVER, json.dumps(cfg)], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"lm-eval failed:\n{done.stderr[-3000:]}")
