"""`hashhop materialize RECIPE -o OUT`: rebuild full prompts from a recipe, byte for byte."""

from __future__ import annotations

import sys


def register(subparsers):
    p = subparsers.add_parser("materialize", help="rebuild prompts from a --recipe file")
    p.add_argument("recipe")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=run)


def run(args) -> int:
    from hashhop.generator.dataset import materialize

    n = materialize(args.recipe, args.output, workers=args.workers)
    print(f"materialized {n} sample(s) to {args.output}", file=sys.stderr)
    return 0
