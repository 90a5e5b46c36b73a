"""Datasets on disk: JSONL (streamed, any prompt size), Parquet (for Hugging Face `datasets`),
and recipes (everything but the prompt, which `materialize` rebuilds byte for byte).

Every file is written to a temporary name beside the target and renamed into place, so a failed
or interrupted run never leaves a partial output file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from typing import IO, Any

from hashhop.core.errors import DatasetError, require
from hashhop.core.files import atomic_output
from hashhop.core.progress import Bar
from hashhop.generator.build import AnyProblem, build, frozen_sample, problem_of
from hashhop.generator.external import EXTERNAL_KEY, AnySample
from hashhop.generator.foreign import Invalid, read_foreign
from hashhop.generator.layout import Shape
from hashhop.generator.parallel import PartPool
from hashhop.generator.problem import Problem
from hashhop.generator.sample import Sample
from hashhop.generator.sizing import TokenCounter
from hashhop.generator.spec import Spec
from hashhop.generator.tokenizers import Tokenizer, get_tokenizer

# The row of a prompt already streamed into the file while it was counted: (shape, prompt sha256).
WrittenRow = tuple[Shape, str]

REQUIRED_KEYS = ("id", "spec", "index", "shape", "queries", "prompt_sha256")


def _escape(block: bytes) -> bytes:
    # Prompts hold only hash symbols, ' = ', quotes and newlines (alphabets forbid \\ and ").
    return block.replace(b"\n", b"\\n")


def _write_row(
    f: IO[bytes],
    pool: PartPool,
    problem: AnyProblem,
    n_tokens: int,
    with_prompt: bool,
    written: WrittenRow | None = None,
) -> Sample:
    """Write one JSONL row; `written` = (shape, sha) when the prompt of this problem is already
    in the file (streamed while it was counted), so only the metadata is left to write."""
    if written is not None and written[0] == problem.shape:
        sha = written[1]
    elif with_prompt:
        f.write(b'{"prompt":"')
        sha, _ = pool.write(problem, f, _escape)
        f.write(b'",')
    else:
        digest = hashlib.sha256()
        for chunk in problem.chunks():
            digest.update(chunk.encode("ascii"))
        sha = digest.hexdigest()
        f.write(b"{")
    sample = frozen_sample(problem, n_tokens, sha)
    meta = json.dumps(sample.to_dict(with_prompt=False), separators=(",", ":"))
    f.write(meta[1:].encode() + b"\n")
    return sample


def _counting_writer(f: IO[bytes], pool: PartPool, tokenizer: Tokenizer, written: dict[str, Any]) -> TokenCounter:
    """A token counter for the sizing step that writes the prompt while counting it: the row is
    (re)written from its start each time, so the final prompt is rendered once more only when the
    sizing corrected itself after the last count (rare for big prompts)."""
    row_start = f.tell()

    def count(problem: Problem) -> int:
        f.seek(row_start)
        f.truncate()
        f.write(b'{"prompt":"')
        sha, n_tokens = pool.write(problem, f, _escape, tokenizer)
        f.write(b'",')
        written["row"] = (problem.shape, sha)
        written["start"] = row_start
        assert n_tokens is not None  # pool.write counts whenever it is given a tokenizer
        return n_tokens

    return count


def _counter(spec: Spec, pool: PartPool) -> TokenCounter | None:
    if spec.tokenizer != "chars" and pool.workers > 1:
        tokenizer = get_tokenizer(spec.tokenizer)
        return lambda problem: pool.count(problem, tokenizer)
    return None


def write_jsonl(
    spec: Spec, n: int, path: str, recipe: bool = False, workers: int = 1, start: int = 0, progress: bool = True
) -> list[Sample]:
    """Write samples start..start+n-1 of `spec` to a JSONL file (prompts streamed, never held)."""
    out: list[Sample] = []
    with PartPool(workers) as pool, atomic_output(path) as f, Bar(n, "generate", progress) as bar:
        for index in range(start, start + n):
            written: dict[str, Any] = {}
            counter = _counter(spec, pool)
            if spec.tokenizer != "chars" and not recipe:
                counter = _counting_writer(f, pool, get_tokenizer(spec.tokenizer), written)
            problem, n_tokens = build(spec, index, counter)
            if "row" in written and written["row"][0] != problem.shape:  # sizing moved on: drop that row
                f.seek(written["start"])
                f.truncate()
            out.append(_write_row(f, pool, problem, n_tokens, not recipe, written.get("row")))
            bar.update(1)
    return out


def write_parquet(spec: Spec, n: int, path: str, start: int = 0, progress: bool = True) -> list[Sample]:
    """Write samples to Parquet, one row per sample, columns loadable by `datasets`."""
    pa = require("pyarrow", "parquet")
    pq = require("pyarrow.parquet", "parquet")
    rows, samples = [], []
    with Bar(n, "generate", progress) as bar:
        for index in range(start, start + n):
            problem, n_tokens = build(spec, index)
            prompt = problem.prompt()
            sample = frozen_sample(problem, n_tokens, hashlib.sha256(prompt.encode()).hexdigest())
            samples.append(sample)
            rows.append(parquet_row(sample, prompt))
            bar.update(1)
    table = pa.Table.from_pylist(rows)
    with atomic_output(path) as f:
        pq.write_table(table, f)
    return samples


def parquet_row(sample: Sample, prompt: str) -> dict[str, Any]:
    d = sample.to_dict(with_prompt=False)
    return {
        "id": d["id"],
        "prompt": prompt,
        "completion": d["completion"],
        "seed": d["seed"],
        "index": d["index"],
        "hops": sample.spec.hops,
        "cot": sample.spec.cot,
        "size": sample.spec.size,
        "tokenizer": d["tokenizer"],
        "n_tokens": d["n_tokens"],
        "n_chars": d["n_chars"],
        "format": sample.spec.format,
        "version": d["version"],
        "spec": json.dumps(d["spec"]),
        "shape": json.dumps(d["shape"]),
        "queries": json.dumps(d["queries"]),
        "prompt_sha256": d["prompt_sha256"],
        "n_lines": d["n_lines"],
    }


def _from_parquet_row(row: dict[str, Any]) -> dict[str, Any]:
    d = dict(row)
    for key in ("spec", "shape", "queries"):
        d[key] = json.loads(d[key])
    return d


def read_samples(path: str) -> Iterator[AnySample]:
    """Samples of a dataset, streamed; DatasetError names the first bad or invalid line."""
    for item in scan_samples(path):
        if isinstance(item, Invalid):
            raise DatasetError(f"{path}:{item.line}: invalid sample: {item.reason}")
        yield item


def scan_samples(path: str) -> Iterator[AnySample | Invalid]:
    """Each row of a JSONL or Parquet dataset as a sample, or as `Invalid` (a foreign row that cannot
    be scored: see generator/foreign.py); DatasetError names a line that is no sample at all."""
    if not os.path.isfile(path):
        raise DatasetError(f"no dataset at {path}: generate one with `hashhop generate -o {path}`")
    if path.endswith(".parquet"):
        yield from _parquet_samples(path)
        return
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise DatasetError(
                    f"{path}:{number}: not valid JSON (truncated or corrupt): regenerate the file"
                ) from None
            yield _to_sample(d, path, number) if _is_generated(d) else _to_foreign(d, path, number)


def _parquet_samples(path: str) -> Iterator[Sample]:
    pq = require("pyarrow.parquet", "parquet")
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=16):
            for number, row in enumerate(batch.to_pylist(), start=1):
                yield _to_sample(_from_parquet_row(row), path, number)
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path} is not a readable hashhop Parquet dataset ({exc}): regenerate it") from None


def _is_generated(d: object) -> bool:
    """A row of hashhop's generator (else a foreign or external one): a spec, without the external mark."""
    return isinstance(d, dict) and "spec" in d and EXTERNAL_KEY not in d


def _to_foreign(d: Any, path: str, number: int) -> AnySample | Invalid:
    try:
        return read_foreign(d, path, number)
    except DatasetError:
        raise
    except Exception as exc:  # a malformed external row: report where, not a traceback
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise DatasetError(f"{path}:{number}: malformed external sample ({detail[:300]})") from None


def _to_sample(d: object, path: str, number: int) -> Sample:
    if not isinstance(d, dict) or any(k not in d for k in REQUIRED_KEYS):
        missing = [k for k in REQUIRED_KEYS if not isinstance(d, dict) or k not in d]
        raise DatasetError(
            f"{path}:{number}: not a hashhop sample (missing {', '.join(missing)}): "
            "use a file written by `hashhop generate`"
        )
    try:
        sample = Sample.from_dict(d)
        sample_id = sample.id  # derived from the fields: a malformed field can fail here too
    except Exception as exc:  # any malformed field: report where, not a traceback
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())  # one line, whatever the input held
        raise DatasetError(f"{path}:{number}: malformed hashhop sample ({detail[:300]})") from None
    if sample_id != d["id"]:
        raise DatasetError(f"{path}:{number}: id {d['id']} does not match the sample's content: the file was edited")
    return sample


def _recipe(sample: AnySample, path: str) -> Sample:
    if not isinstance(sample, Sample):
        raise DatasetError(f"{path} holds external samples, which carry their own prompts: use it as it is")
    return sample


def materialize(recipe_path: str, out_path: str, workers: int = 1, progress: bool = True) -> int:
    """Rebuild full prompts from a recipe file, byte for byte; returns the number of samples."""
    samples = [_recipe(s, recipe_path) for s in read_samples(recipe_path)]
    with PartPool(workers) as pool, atomic_output(out_path) as f, Bar(len(samples), "materialize", progress) as bar:
        for sample in samples:
            rebuilt = _write_row(f, pool, problem_of(sample), sample.n_tokens, with_prompt=True)
            if rebuilt.prompt_sha256 != sample.prompt_sha256:
                raise DatasetError(
                    f"sample {sample.id} did not rebuild to the same bytes: "
                    f"hashhop format version {sample.version} differs from this install's"
                )
            bar.update(1)
    return len(samples)
