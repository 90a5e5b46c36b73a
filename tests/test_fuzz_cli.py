"""Fuzzing the command line: any argv gives a result, a usage error, or one `error:` line and exit 2.

`hashhop.cli.main` is called in-process with argument lists drawn from the real flags and from
hostile values (empty, negative, NUL bytes, `..` paths, huge numbers, files of the wrong kind).
The contract checked: no exception escapes except argparse's SystemExit (usage errors, exit 2;
--help, exit 0), a HashhopError prints exactly one `error: ...` line, and nothing is ever written
outside the scratch folder the arguments point into.
"""

import contextlib
import io
import json
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashhop.cli import main

# benchmarks/fuzz.py sets HASHHOP_FUZZ_EXAMPLES for a long, randomized run; CI runs the fixed examples.
EXAMPLES = int(os.environ.get("HASHHOP_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    derandomize=not EXAMPLES,
    max_examples=EXAMPLES or 150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

WORK = os.path.join(tempfile.gettempdir(), f"hashhop-fuzz-cli-{os.getpid()}")  # made by the workspace fixture


PATHS = {
    name: os.path.join(WORK, file)
    for name, file in (
        ("data", "data.jsonl"),
        ("recipe", "recipe.jsonl"),
        ("run", "run"),
        ("garbage", "garbage.jsonl"),
        ("template", "template.json"),
    )
}


@pytest.fixture(scope="module", autouse=True)
def workspace():
    """Real files of every kind the CLI reads, plus a wrong one of each, in WORK (removed after)."""
    os.makedirs(WORK, exist_ok=True)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["generate", "--tokens", "300", "--hops", "1", "--hash-len", "8", "-o", PATHS["data"]]) == 0
        assert main(["generate", "--tokens", "300", "--hops", "1", "--recipe", "-o", PATHS["recipe"]]) == 0
        assert main(["eval", "--model", "oracle", "--tokens", "600", "--queries", "2", "-o", PATHS["run"]]) == 0
    with open(PATHS["garbage"], "wb") as f:
        f.write(b"\x00\xff{not json\n" + json.dumps({"id": 1}).encode() + b"\n")
    with open(PATHS["template"], "w") as f:
        json.dump({"user": "no context placeholder", "bogus": 1}, f)
    yield
    shutil.rmtree(WORK, ignore_errors=True)


FILES = [
    *PATHS.values(),
    WORK,
    os.path.join(WORK, "missing.jsonl"),
    os.path.join(WORK, "out", "deep", "x.jsonl"),
    os.path.join(WORK, "a\x00b"),
    os.path.join(WORK, "new.jsonl"),
    os.path.join(WORK, "new.parquet"),
    os.path.join(WORK, "newrun"),
    os.path.join(WORK, "report.html"),
    "/dev/null",
    "",
    os.path.join(WORK, "garbage.jsonl", "below"),
]
VALUES = [
    "",
    "0",
    "-1",
    "1",
    "2",
    "3",
    "abc",
    "1K",
    "600",
    "1e3",
    "nan",
    "inf",
    "-inf",
    "0.5",
    "1,,2",
    ",",
    "1,x",
    "99999999999999999999",
    "\x00",
    "..",
    "../../etc",
    "custom:=",
    "custom:ab",
    "hex",
    "tiktoken:nope",
    "hf:/nonexistent",
    "chars",
    "magic",
    "plain",
    "a=b",
    "=x",
    "api=nope",
    "http=ftp",
    "key",
    "🙂",
]
MODELS = [
    "oracle",
    "random",
    "",
    ":",
    "nope:x",
    "openai:",
    "openai:../../etc",
    "oracle:x",
    "random:seed",
    "openai:m",
    "anthropic:m",
    "hf:/nonexistent",
]

# subcommand -> (flags taking a value, boolean flags, positional kinds)
COMMANDS = {
    "generate": (
        [
            "--tokens",
            "--chars",
            "--tokenizer",
            "--hops",
            "--queries",
            "--hash-len",
            "--alphabet",
            "--seed",
            "--format",
            "--hop-mix",
            "--query-hops",
            "--depth",
            "--depth-window",
            "--distractors",
            "--samples",
            "--start",
            "-o",
        ],
        ["--cot", "--mid-chain", "--no-filler", "--recipe"],
        [],
    ),
    "verify": ([], [], ["file"]),
    "materialize": (["-o"], [], ["file"]),
    "eval": (
        [
            "--model",
            "-M",
            "--base-url",
            "--tokens",
            "--hops",
            "--samples",
            "--queries",
            "--seed",
            "--depth",
            "--hash-len",
            "--alphabet",
            "--format",
            "--tokenizer",
            "--template",
            "--dataset",
            "--concurrency",
            "--timeout",
            "--retries",
            "--backoff",
            "--max-tokens",
            "--on-over-length",
            "--max-cost",
            "--price-in",
            "--price-out",
            "--pricing",
            "-o",
        ],
        ["--cot", "--dry-run"],
        [],
    ),
    "score": ([], ["--dry"], ["file"]),
    "report": (["-o", "--threshold", "--diagrams", "--title"], ["--anchors", "--show-paths"], ["file", "file"]),
    "bench": (
        [
            "--suite",
            "--sweep",
            "-M",
            "--base-url",
            "--concurrency",
            "--price-in",
            "--price-out",
            "--tokenizer",
            "--threshold",
            "-o",
        ],
        ["--list-suites"],
        [],
    ),
}
SUITES = ["quick", "quick@2", "quick@99", "nope", "", "standard@0"]
FILE_FLAGS = {"-o", "--dataset", "--template", "--pricing", "--sweep"}


@st.composite
def argvs(draw):
    command = draw(st.sampled_from(sorted(COMMANDS)))
    valued, booleans, positionals = COMMANDS[command]
    argv = [command]
    for _kind in positionals:
        argv.append(draw(st.sampled_from(FILES)))
    flags = draw(st.lists(st.sampled_from(valued + booleans), max_size=6)) if valued + booleans else []
    for flag in flags:
        argv.append(flag)
        if flag in booleans:
            continue
        if flag in FILE_FLAGS:
            argv.append(draw(st.sampled_from(FILES)))
        elif flag == "--suite":
            argv.append(draw(st.sampled_from(SUITES)))
        elif flag == "--model":
            argv.append(draw(st.sampled_from(MODELS)))
        elif flag == "--base-url":
            argv.append(draw(st.sampled_from(["http://127.0.0.1:9/v1", "", "not a url", "file:///etc/passwd"])))
        else:
            argv.append(draw(st.sampled_from(VALUES) | st.text(max_size=6)))
    if command == "eval" and "--model" not in argv:
        argv += ["--model", draw(st.sampled_from(MODELS))]
    if command == "eval" and "-o" not in argv:
        argv += ["-o", os.path.join(WORK, "evalrun")]
    if command == "generate" and "-o" not in argv:
        argv += ["-o", os.path.join(WORK, "gen.jsonl")]
    if command == "bench":  # a dry run (nothing is called), with a model that needs no weights
        argv += ["--model", draw(st.sampled_from(MODELS)), "--dry-run"]
        if "--suite" not in argv and "--sweep" not in argv:
            argv += ["--suite", "quick"]
    if command == "report":
        argv.append("--no-figures")  # matplotlib is exercised by the report's own tests; keep this fast
    return argv


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage error (2) or --help (0)
            code = exc.code if isinstance(exc.code, int) else 2
            assert code in (0, 2), argv
            return code, ""
    return code, err.getvalue()


@FUZZ
@given(argvs())
def test_any_argv_ends_in_a_result_or_one_error_line(monkeypatch, argv):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.chdir(WORK)  # a relative or empty path lands in the scratch folder
    code, err = _run(argv)
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err
    if code == 2 and err:
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, (argv, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "--model", "oracle", "--tokens", "600", "-o", os.path.join(WORK, "a\x00b")],
        ["eval", "--model", "oracle", "--dataset", os.path.join(WORK, "a\x00b"), "-o", os.path.join(WORK, "r")],
        ["generate", "--tokens", "300", "-o", os.path.join(WORK, "a\x00b.jsonl")],
        ["verify", os.path.join(WORK, "a\x00b")],
        ["score", os.path.join(WORK, "a\x00b")],
        [
            "eval",
            "--model",
            "oracle",
            "--tokens",
            "600",
            "--template",
            os.path.join(WORK, "missing.json"),
            "-o",
            os.path.join(WORK, "r2"),
        ],
    ],
)
def test_a_path_with_a_nul_byte_or_missing_file_is_one_error_line(argv):
    code, err = _run(argv)
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1, err
