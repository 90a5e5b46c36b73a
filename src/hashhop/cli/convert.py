"""`hashhop convert IN -o OUT --to magic|hashhop`: a dataset in Magic's reference layout or hashhop's form."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "convert",
        help="rewrite a dataset in Magic's reference layout or in hashhop's JSONL form",
        description="Reads what `hashhop eval --dataset` reads (hashhop's datasets, Magic's reference JSONL, "
        "{prompt, answer} / {prompt, start, hops, answer} JSONL); refuses a file with invalid samples.",
    )
    p.add_argument("file", help="the dataset to convert")
    p.add_argument("-o", "--output", required=True, help="the JSONL file to write (replaced atomically)")
    p.add_argument("--to", required=True, choices=("magic", "hashhop"), help="the layout to write")
    p.set_defaults(func=run)


def run(args) -> int:
    from hashhop.generator.convert import convert

    n = convert(args.file, args.output, args.to)
    print(f"wrote {n} sample(s) to {args.output} ({args.to} layout)", file=sys.stderr)
    return 0
