"""Packaging: the wheel and sdist build, the wheel installs into a clean venv with only the core
dependencies and runs `hashhop generate` and `hashhop eval --model oracle`; every extra's module
imports with only its own extra present, and a missing extra names its `pip install` line. The
light extras (openai, anthropic, tiktoken, report, yaml, ray) are each installed alone into a fresh venv from
the package index and run the command they are for."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# extra -> (module to import, the top-level packages that extra provides)
EXTRAS = {
    "openai": ("hashhop.backends.openai", ["aiohttp"]),
    "anthropic": ("hashhop.backends.anthropic", ["aiohttp"]),
    "hf": ("hashhop.backends.hf", ["transformers", "torch"]),
    "llamacpp": ("hashhop.backends.llamacpp", ["llama_cpp"]),
    "report": ("hashhop.report", ["matplotlib"]),
    "train": ("hashhop_train", ["torch", "safetensors"]),
    "ray": ("hashhop.bench.executors.ray", ["ray"]),
    "lmeval": ("hashhop.integrations.lm_eval.utils", ["lm_eval", "datasets"]),
    "inspect": ("hashhop.integrations.inspect_task", ["inspect_ai"]),
}
ALL_DEPS = sorted(
    {dep for _, deps in EXTRAS.values() for dep in deps}
    | {"pandas", "pyarrow", "tiktoken", "tokenizers", "sklearn", "openai"}
)

# A meta path finder that makes chosen top-level packages unimportable: the process then looks
# like an install without those extras, whatever the dev venv holds.
# None in sys.modules makes `import X` fail with ModuleNotFoundError and `importlib.util.find_spec(X)`
# return None, as if X were not installed: the process then looks like an install without those
# extras, whatever the dev venv holds.
_BLOCKER = textwrap.dedent("""
    import sys
    for name in sys.argv[1].split(","):
        if name:
            sys.modules[name] = None
    sys.argv = sys.argv[1:]
""")


def _run_blocked(blocked: list[str], code: str) -> subprocess.CompletedProcess:
    script = _BLOCKER + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script, ",".join(blocked)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def _installed(deps: list[str]) -> bool:
    return any(importlib.util.find_spec(d) is not None for d in deps)


def _needed_by(deps: list[str]) -> set[str]:
    """Top-level modules that importing the extra's own packages loads (their dependencies)."""
    code = (
        "import importlib, importlib.util, sys\n"
        f"for d in {deps!r}:\n"
        "    if importlib.util.find_spec(d): importlib.import_module(d)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(proc.stdout.split())


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_each_extra_module_imports_with_only_its_own_extra(extra):
    module, deps = EXTRAS[extra]
    if not _installed(deps):
        pytest.skip(f"the {extra} extra is not installed in this venv")
    # Everything of the other extras is blocked, except what this extra's packages pull in themselves.
    others = sorted(set(ALL_DEPS) - set(deps) - _needed_by(deps))
    proc = _run_blocked(others, f"import importlib; importlib.import_module({module!r})")
    assert proc.returncode == 0, f"blocked {others}:\n" + proc.stderr[-2000:]


@pytest.mark.parametrize("extra", ["lmeval", "inspect"])
def test_a_missing_integration_extra_names_its_pip_install_line(extra):
    module, deps = EXTRAS[extra]
    proc = _run_blocked(
        deps,
        f"""
        import importlib
        from hashhop.core.errors import MissingExtraError
        try:
            m = importlib.import_module({module!r})
            if hasattr(m, "hashhop_dataset"):
                m.hashhop_dataset(tokens="1K", hops=1, samples=1)
        except MissingExtraError as exc:
            print(exc)
    """,
    )
    assert f"pip install 'hashhop[{extra}]'" in proc.stdout, proc.stdout + proc.stderr[-2000:]


def test_core_package_imports_without_any_extra():
    proc = _run_blocked(
        ALL_DEPS,
        """
        import hashhop, hashhop.cli, hashhop.generator.card, hashhop.integrations, hashhop.integrations.documents
        import hashhop.integrations.lm_eval
        print(hashhop.__version__)
    """,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_py_typed_is_declared_and_present():
    assert (ROOT / "src/hashhop/py.typed").is_file()


# -- building and installing ------------------------------------------------------------------
def _copy_source(dest: Path) -> Path:
    """The project as an sdist sees it (no venv, no build outputs): builds never touch the tree."""
    ignore = shutil.ignore_patterns(
        ".venv", "__pycache__", "*.egg-info", "build", "dist", "runs", ".git*", ".pytest_cache", ".hypothesis"
    )
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def _sh(cmd: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("build")
    tmp = tmp_path_factory.mktemp("pkg")
    src = _copy_source(tmp / "src")
    # --no-isolation: build with this venv's setuptools, so the build needs no download; -x: setuptools
    # builds wheels itself (>= 70.1), so the `wheel` package named in build-system.requires is not needed.
    _sh(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "-x",
            "--sdist",
            "--wheel",
            "--outdir",
            str(tmp / "dist"),
            str(src),
        ],
        cwd=tmp,
        timeout=300,
    )
    return tmp


@pytest.mark.slow
def test_wheel_and_sdist_build_and_ship_typing_and_task_files(built):
    [wheel] = list((built / "dist").glob("hashhop-*.whl"))
    [sdist] = list((built / "dist").glob("hashhop-*.tar.gz"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (
        "hashhop/py.typed",
        "hashhop/generator/card.py",
        "hashhop/cli/export.py",
        "hashhop/integrations/inspect_task.py",
        "hashhop/integrations/lm_eval/utils.py",
        "hashhop/integrations/lm_eval/_default_template_yaml",
        "hashhop/integrations/lm_eval/hashhop_2hop_1k.yaml",
    ):
        assert path in names, f"{path} is missing from {wheel.name}"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[inspect_ai]" in text and "hashhop = hashhop.integrations.inspect_task" in text
    assert sdist.stat().st_size > 0


@pytest.mark.slow
def test_wheel_installs_in_a_clean_venv_and_runs_generate_and_oracle_eval(built):
    venv, wheels = built / "venv", built / "wheels"
    _sh([sys.executable, "-m", "venv", str(venv)], cwd=built, timeout=180)  # clean: no system site-packages
    pip, py = str(venv / "bin" / "pip"), str(venv / "bin" / "python")
    # The core dependencies, fetched from PyPI (or pip's cache) as wheels; then install offline.
    _sh(
        [
            pip,
            "download",
            f"numpy=={metadata.version('numpy')}",
            f"orjson=={metadata.version('orjson')}",
            f"tqdm=={metadata.version('tqdm')}",
            "--only-binary=:all:",
            "-d",
            str(wheels),
            "-q",
        ],
        cwd=built,
        timeout=300,
    )
    _sh(
        [
            pip,
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(wheels),
            "--find-links",
            str(built / "dist"),
            "hashhop",
        ],
        cwd=built,
        timeout=300,
    )
    hashhop = str(venv / "bin" / "hashhop")
    assert _sh([hashhop, "--version"], cwd=built).stdout.strip() == f"hashhop {metadata.version('hashhop')}"
    _sh([hashhop, "generate", "--tokens", "2K", "-o", "x.jsonl"], cwd=built)
    assert (built / "x.jsonl").stat().st_size > 2000
    # Without tiktoken, a model that cannot count is sized in characters only when asked to: the
    # default (cl100k) says how to get it, or how to go without it.
    eval_args = [hashhop, "eval", "--model", "oracle", "--tokens", "1K", "--hops", "1", "--samples", "1", "-o", "run"]
    refused = subprocess.run(eval_args, cwd=built, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "pass --tokenizer chars" in refused.stderr
    _sh([*eval_args, "--tokenizer", "chars"], cwd=built, timeout=300)
    assert (built / "run" / "results.json").is_file()
    frozen = _sh([pip, "freeze"], cwd=built).stdout.lower()
    assert "numpy" in frozen and "orjson" in frozen and "tqdm" in frozen
    assert "torch" not in frozen and "httpx" not in frozen and "aiohttp" not in frozen
    # A missing extra is a one-line hint, not a traceback.
    proc = subprocess.run(
        [hashhop, "generate", "--tokens", "1K", "--tokenizer", "tiktoken:cl100k_base", "-o", "y.jsonl"],
        cwd=built,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "pip install 'hashhop[tiktoken]'" in proc.stderr
    proc = subprocess.run(
        [py, "-c", "import hashhop.integrations.inspect_task"], cwd=built, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0 and "pip install 'hashhop[inspect]'" in proc.stderr


# -- each light extra, installed alone into its own fresh venv -----------------------------------
def _venv_with(built: Path, extra: str) -> Path:
    """A fresh venv (no system site-packages) holding the built wheel with `extra` only, resolved
    from the package index as users install it."""
    venv = built / f"venv-{extra}"
    _sh([sys.executable, "-m", "venv", str(venv)], cwd=built, timeout=180)
    _sh(
        [str(venv / "bin" / "pip"), "install", "-q", "--find-links", str(built / "dist"), f"hashhop[{extra}]"],
        cwd=built,
        timeout=600,
    )
    return venv / "bin" / "hashhop"


def _frozen(hashhop: Path) -> str:
    return _sh([str(hashhop.parent / "pip"), "freeze"], cwd=hashhop.parent).stdout.lower()


@pytest.mark.slow
def test_the_openai_extra_alone_evaluates_against_a_server(built):
    from stub_server import StubServer

    hashhop = _venv_with(built, "openai")
    frozen = _frozen(hashhop)
    assert "aiohttp" in frozen and "httptools" not in frozen and "httpx" not in frozen and "torch" not in frozen
    with StubServer() as server:
        _sh(
            [
                str(hashhop),
                "eval",
                "--model",
                "openai:stub",
                "--base-url",
                server.url + "/v1",
                "--tokens",
                "1K",
                "--samples",
                "2",
                "-o",
                "run-openai",
            ],
            cwd=built,
            timeout=300,
        )
    results = json.loads((built / "run-openai" / "results.json").read_text())
    assert results["metrics"]["overall"]["accuracy"] == 1.0  # the stub answers every query correctly


@pytest.mark.slow
def test_the_tiktoken_extra_alone_sizes_prompts_in_cl100k(built):
    hashhop = _venv_with(built, "tiktoken")
    _sh(
        [str(hashhop), "generate", "--tokens", "2K", "--tokenizer", "tiktoken:cl100k_base", "-o", "t.jsonl"],
        cwd=built,
        timeout=300,
    )
    row = json.loads((built / "t.jsonl").read_text().splitlines()[0])
    assert row["tokenizer"] == "tiktoken:cl100k_base" and row["n_tokens"] == 2000
    assert row["n_chars"] > 2600  # random letters run about 1.5 characters per cl100k token, not 1


@pytest.mark.slow
def test_the_report_and_yaml_extras_alone_draw_a_bench_report(built):
    hashhop = _venv_with(built, "report,yaml")
    (built / "s.yaml").write_text("name: s\ngrid:\n  lengths: [1K, 2K]\n  hops: [1]\n  tokenizer: chars\n")
    out = _sh(
        [str(hashhop), "bench", "--model", "oracle", "--sweep", "s.yaml", "-o", "bench-run"], cwd=built, timeout=300
    )
    assert "note:" not in out.stderr  # figures were drawn: matplotlib came with the extra
    html = (built / "bench-run" / "report.html").read_text()
    assert "<svg" in html or "<img" in html


@pytest.mark.slow
def test_the_ray_extra_alone_runs_a_bench_on_a_local_cluster(built):
    hashhop = _venv_with(built, "ray")
    (built / "r.toml").write_text('name = "r"\n[grid]\nlengths = ["1K"]\nhops = [1, 2]\ntokenizer = "chars"\n')
    _sh(
        [
            str(hashhop),
            "bench",
            "--model",
            "oracle",
            "--sweep",
            "r.toml",
            "--executor",
            "ray",
            "--workers",
            "2",
            "--no-figures",
            "-o",
            "ray-run",
        ],
        cwd=built,
        timeout=600,
    )
    results = json.loads((built / "ray-run" / "oracle" / "results.json").read_text())
    assert results["config"]["executor"] == "ray" and results["partial"] is False


@pytest.mark.slow
def test_the_anthropic_extra_alone_evaluates_against_a_messages_server(built):
    from anthropic_stub import running_stub

    hashhop = _venv_with(built, "anthropic")
    frozen = _frozen(hashhop)
    assert "aiohttp" in frozen and "httpx" not in frozen  # the one transport, aiohttp, and no second client
    env = {**os.environ, "HH_PACKAGING_KEY": "sk-ant-packaging-test"}
    with running_stub() as server:
        proc = subprocess.run(
            [
                str(hashhop),
                "eval",
                "--model",
                "anthropic:claude-stub",
                "--base-url",
                f"http://127.0.0.1:{server.server_port}",
                "-M",
                "api_key_env=HH_PACKAGING_KEY",
                "--tokens",
                "1K",
                "--hops",
                "2",
                "--samples",
                "2",
                "-o",
                "run-anthropic",
            ],
            cwd=built,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((built / "run-anthropic" / "results.json").read_text())
    # The stub answers "The answer is X.": right (exact), though not in the requested format (strict).
    overall = results["metrics"]["overall"]
    assert overall["accuracy_exact"] == 1.0 and results["tokenizer"] == "model:anthropic:claude-stub"
