"""`hashhop export --hub-ready DIR`: a folder ready to upload to the Hugging Face Hub.

    DIR/README.md            dataset card (YAML metadata: spec, seed, license; how to load)
    DIR/data/test.parquet    one row per sample (`datasets.load_dataset("parquet", ...)`)
    DIR/data/test.jsonl      the same samples in hashhop's JSONL (`hashhop eval --dataset`, `load_dataset("json")`)

From a spec (the `generate` options) or from an existing dataset (`--dataset FILE`, JSONL,
Parquet or a recipe, whose prompts are rebuilt). Every file is written to a temporary name and
renamed into place; an existing non-empty DIR is never overwritten without `--force`.
"""

from __future__ import annotations

import os

from hashhop.cli.generate import add_spec_arguments, spec_from_args
from hashhop.core.errors import DatasetError, OutputError, SpecError, require

PARQUET, JSONL, README = "data/test.parquet", "data/test.jsonl", "README.md"
BATCH = 16  # samples per Parquet row group: bounds memory to a few prompts at a time


def register(subparsers) -> None:
    """Add `hashhop export` to the command line."""
    p = subparsers.add_parser(
        "export",
        help="write a Hub-ready dataset folder (Parquet + JSONL + card)",
        description="Write a folder ready to upload to the Hugging Face Hub.",
    )
    p.add_argument("--hub-ready", required=True, metavar="DIR", help="folder to write")
    p.add_argument("--dataset", help="export this hashhop dataset file instead of generating from a spec")
    add_spec_arguments(p)
    p.add_argument("--samples", type=int, default=1)
    p.add_argument("--license", default="mit", help="license id for the card (default mit)")
    p.add_argument("--force", action="store_true", help="write into a non-empty DIR (replacing our files)")
    p.set_defaults(func=run)


def _check_dir(path: str, force: bool) -> None:
    from hashhop.generator.card import check_card_path

    if os.path.isdir(path) and os.listdir(path) and not force:
        raise OutputError(f"{path} is not empty: pass --force to replace its dataset files, or choose another folder")
    check_card_path(path)  # before any file is written
    try:
        os.makedirs(os.path.join(path, "data"), exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {path}: {exc.strerror}; choose another folder") from None


def _samples_jsonl(args, path: str):
    """Write the JSONL and return its samples (with prompts: read back from the file as written)."""
    from hashhop.core.files import atomic_output
    from hashhop.generator.build import problem_of
    from hashhop.generator.dataset import read_samples, write_jsonl

    if args.dataset:
        with atomic_output(path) as f:
            for sample in read_samples(args.dataset):
                # A recipe holds no prompt: rebuild it; the row is the full sample either way.
                prompt = sample.prompt if sample.prompt is not None else problem_of(sample).prompt()
                _write_jsonl_row(f, sample, prompt)
    else:
        if args.samples < 1:
            raise SpecError(f"--samples must be at least 1 (got {args.samples})")
        write_jsonl(spec_from_args(args), args.samples, path, progress=False)
    return read_samples(path)


def _write_jsonl_row(f, sample, prompt: str) -> None:
    import json

    d = sample.to_dict(with_prompt=False)
    f.write(json.dumps({"prompt": prompt, **d}, separators=(",", ":")).encode() + b"\n")


def _write_parquet(samples, path: str) -> list:
    """Parquet in row groups of BATCH samples (never every prompt in memory); returns the samples."""
    pa = require("pyarrow", "parquet")
    pq = require("pyarrow.parquet", "parquet")
    from hashhop.core.files import atomic_output
    from hashhop.generator.dataset import parquet_row

    kept, rows, writer = [], [], None
    with atomic_output(path) as f:
        for sample in samples:
            rows.append(parquet_row(sample, sample.prompt))
            kept.append(_strip(sample))
            if len(rows) == BATCH:
                writer = _flush(pa, pq, f, writer, rows)
        if rows or writer is None:
            writer = _flush(pa, pq, f, writer, rows)
        writer.close()
    return kept


def _strip(sample):
    """The sample without its prompt (the card needs only sizes and the spec)."""
    import dataclasses

    return dataclasses.replace(sample, prompt=None)


def _flush(pa, pq, f, writer, rows: list):
    table = pa.Table.from_pylist(rows)
    if writer is None:
        writer = pq.ParquetWriter(f, table.schema)
    writer.write_table(table)
    rows.clear()
    return writer


def run(args) -> int:
    """Write DIR/data/test.parquet, DIR/data/test.jsonl and DIR/README.md (the card)."""
    from hashhop.generator.card import write_card

    out = args.hub_ready
    _check_dir(out, args.force)
    samples = _write_parquet(_samples_jsonl(args, os.path.join(out, JSONL)), os.path.join(out, PARQUET))
    if not samples:
        raise DatasetError(f"{args.dataset} holds no samples: generate one with `hashhop generate`")
    write_card(out, samples, {"parquet": PARQUET, "jsonl": JSONL}, license=args.license, source=args.dataset)
    print(
        f"wrote {out}: {len(samples)} samples ({PARQUET}, {JSONL}, {README}); upload with "
        f"`huggingface-cli upload OWNER/NAME {out} --repo-type dataset`"
    )
    return 0
