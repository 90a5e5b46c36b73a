"""The long fuzz run (outside the test suite) and the 1 GB streaming check; figures for docs/reliability.md.

    python benchmarks/fuzz.py                      # everything, defaults below
    python benchmarks/fuzz.py --examples 5000      # hypothesis examples per fuzz test (randomized)
    python benchmarks/fuzz.py --atheris-seconds 120
    python benchmarks/fuzz.py --stream-gb 1 --skip-hypothesis --skip-atheris

Three parts:
1. hypothesis: the suite's fuzz tests (tests/test_fuzz_*.py) with HASHHOP_FUZZ_EXAMPLES=N, which
   also turns derandomization off, so every run tries new inputs; examples are counted from
   hypothesis' own statistics.
2. atheris (coverage-guided, if `pip install atheris` works): the answer parser, the dataset
   reader and the sweep parser, each fed raw bytes for S seconds in its own process. Any exception
   other than a HashhopError is a crash; libFuzzer's run count is the number of inputs.
3. streaming: a JSONL file of --stream-gb GB is read with `read_samples`; peak memory growth is
   compared with reading the whole file at once (the baseline), in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ_TESTS = [
    "tests/test_fuzz_parse.py",
    "tests/test_fuzz_dataset.py",
    "tests/test_fuzz_sweep.py",
    "tests/test_fuzz_cli.py",
]
MB = 2**20


# -- 1. hypothesis ---------------------------------------------------------------------------------
def run_hypothesis(examples: int, cli_examples: int) -> list[dict]:
    rows = []
    for test in FUZZ_TESTS:
        n = cli_examples if test.endswith("cli.py") else examples
        env = {**os.environ, "HASHHOP_FUZZ_EXAMPLES": str(n)}
        t0 = time.monotonic()
        # --runxfail: a known bug kept as a strict xfail in the suite counts here as what it is, a failure.
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--runxfail",
                test,
                "--hypothesis-show-statistics",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        tried = sum(int(x) for x in re.findall(r"(\d+) passing", r.stdout))
        failing = sum(int(x) for x in re.findall(r"(\d+) failing", r.stdout))
        failed_tests = re.findall(r"^FAILED (\S+)", r.stdout, re.M)
        rows.append(
            {
                "target": test,
                "engine": "hypothesis",
                "inputs": tried + failing,
                "failures": len(failed_tests),
                "seconds": round(time.monotonic() - t0, 1),
                "detail": failed_tests,
            }
        )
    return rows


# -- 2. atheris --------------------------------------------------------------------------------
def _atheris_target(name: str):
    """The TestOneInput for `name`; a HashhopError is the expected answer to bad input."""
    import atheris

    with atheris.instrument_imports():
        from hashhop.bench.sweep import load_sweep
        from hashhop.core.errors import HashhopError
        from hashhop.evaluate.parse import extract_answer
        from hashhop.generator.dataset import read_samples
    alphabets = ["letters", "hex", "base32", "digits", "dna"]
    scratch = tempfile.mkdtemp(prefix="hashhop-atheris-")

    def parse(data: bytes):
        fdp = atheris.FuzzedDataProvider(data)
        hash_len = fdp.ConsumeIntInRange(1, 32)
        alphabet = alphabets[fdp.ConsumeIntInRange(0, len(alphabets) - 1)]
        cot = fdp.ConsumeBool()
        start = fdp.ConsumeUnicodeNoSurrogates(hash_len)
        text = fdp.ConsumeUnicodeNoSurrogates(4096)
        p = extract_answer(text, start, fdp.ConsumeIntInRange(0, 8), cot, hash_len, alphabet)
        if p.answer is not None and (len(p.answer) != hash_len or p.answer not in text):
            raise AssertionError(f"answer {p.answer!r} is not a hash of the text")

    def _file(suffix: str, data: bytes) -> str:
        path = os.path.join(scratch, "input" + suffix)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def dataset(data: bytes):
        try:
            for _ in read_samples(_file(".jsonl", data)):
                pass
        except HashhopError:
            pass

    def sweep(data: bytes):
        try:
            load_sweep(_file(".toml", data))
        except HashhopError:
            pass

    return {"parse": parse, "dataset": dataset, "sweep": sweep}[name]


def atheris_child(name: str, seconds: int) -> None:
    import atheris

    target = _atheris_target(name)
    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}", "-rss_limit_mb=4096", "-print_final_stats=1"], target)
    atheris.Fuzz()


def run_atheris(seconds: int) -> list[dict]:
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed (pip install atheris): skipping the coverage-guided part", file=sys.stderr)
        return []
    rows = []
    for name in ("parse", "dataset", "sweep"):
        t0 = time.monotonic()
        r = subprocess.run(
            [sys.executable, __file__, "--atheris-child", name, "--atheris-seconds", str(seconds)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        runs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", r.stderr) or re.findall(
            r"Done (\d+) runs", r.stderr
        )
        crashed = r.returncode != 0
        rows.append(
            {
                "target": f"{name} (atheris)",
                "engine": "atheris",
                "inputs": int(runs[-1]) if runs else 0,
                "failures": int(crashed),
                "seconds": round(time.monotonic() - t0, 1),
                "detail": r.stderr[-2000:] if crashed else "",
            }
        )
    return rows


# -- 3. streaming ----------------------------------------------------------------------------
PEAK = """
import sys


def rss(field):
    with open("/proc/self/status") as f:
        return next(int(x.split()[1]) for x in f if x.startswith(field + ":")) * 1024


from hashhop.generator.dataset import read_samples
base = rss("VmRSS")
if sys.argv[2] == "whole":
    data = open(sys.argv[1], "rb").read()
else:
    n = sum(1 for _ in read_samples(sys.argv[1]))
print(base, rss("VmHWM"))
"""


def run_stream(gigabytes: float) -> dict:
    from hashhop.generator.build import make_sample
    from hashhop.generator.spec import Spec

    line = json.dumps(make_sample(Spec(size=MB, hops=2, queries=2, seed=5), 0).to_dict()).encode() + b"\n"
    with tempfile.TemporaryDirectory(prefix="hashhop-stream-") as tmp:
        path = os.path.join(tmp, "big.jsonl")
        n = int(gigabytes * 2**30) // len(line)
        with open(path, "wb") as f:
            for _ in range(n):
                f.write(line)
        out = {"file_mb": round(os.path.getsize(path) / MB), "samples": n}
        for mode in ("whole", "stream"):
            t0 = time.monotonic()
            r = subprocess.run([sys.executable, "-c", PEAK, path, mode], capture_output=True, text=True, check=True)
            base, peak = map(int, r.stdout.split())
            out[mode] = {"peak_growth_mb": round((peak - base) / MB, 1), "seconds": round(time.monotonic() - t0, 1)}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=3000, help="hypothesis examples per fuzz test (default 3000)")
    p.add_argument("--cli-examples", type=int, default=600, help="examples for the CLI fuzz test (slower; 600)")
    p.add_argument("--atheris-seconds", type=int, default=60, help="seconds per atheris target (default 60)")
    p.add_argument("--stream-gb", type=float, default=1.0, help="size of the streamed dataset (default 1 GB; 0: skip)")
    p.add_argument("--skip-hypothesis", action="store_true")
    p.add_argument("--skip-atheris", action="store_true")
    p.add_argument("--atheris-child", help=argparse.SUPPRESS)
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args()
    if args.atheris_child:
        atheris_child(args.atheris_child, args.atheris_seconds)
        return 0
    rows = [] if args.skip_hypothesis else run_hypothesis(args.examples, args.cli_examples)
    rows += [] if args.skip_atheris else run_atheris(args.atheris_seconds)
    print("| target | engine | inputs | failures | seconds |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['target']} | {r['engine']} | {r['inputs']:,} | {r['failures']} | {r['seconds']} |")
        for line in r["detail"] if isinstance(r["detail"], list) else [r["detail"]]:
            if line:
                print(f"    {line}")
    stream = run_stream(args.stream_gb) if args.stream_gb > 0 else None
    if stream:
        print(
            f"\nstreaming {stream['file_mb']} MB ({stream['samples']} samples): read_samples peak growth "
            f"{stream['stream']['peak_growth_mb']} MB in {stream['stream']['seconds']} s; whole-file read "
            f"(baseline) {stream['whole']['peak_growth_mb']} MB in {stream['whole']['seconds']} s"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"fuzz": rows, "stream": stream, "date": time.strftime("%Y-%m-%d")}, f, indent=2)
    return 1 if any(r["failures"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
