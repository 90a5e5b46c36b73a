"""`hashhop generate`: write a dataset (JSONL, Parquet or recipe)."""

from __future__ import annotations

import argparse
import sys

from hashhop.core.errors import SpecError
from hashhop.generator.spec import DEFAULT_ORDER, ORDERS, TASKS, Spec, format_size, parse_size


def add_spec_arguments(p: argparse.ArgumentParser):
    """The spec options shared by every command that generates problems."""
    p.add_argument("--tokens", default="4K", help="size of the context, e.g. 4K, 1M, 100M (in --tokenizer units)")
    p.add_argument("--chars", default=None, help="size in characters (same as --tokens N --tokenizer chars)")
    p.add_argument("--tokenizer", default="chars", help="chars, tiktoken:cl100k_base or hf:PATH (default chars)")
    p.add_argument("--hops", type=int, default=None, help="links per chain (default 2; 1 for the niah tasks)")
    p.add_argument("--queries", type=int, default=1)
    p.add_argument("--hash-len", type=int, default=16)
    p.add_argument("--alphabet", default="letters", help="letters, hex, base32, digits, dna or custom:SYMBOLS")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cot", action="store_true", help="chain of thought: targets hold every hash on the way")
    p.add_argument("--format", default="plain", choices=["plain", "magic"])
    p.add_argument("--hop-mix", default="", help="mixed hop counts, e.g. 1,2,4 (chains cycle through them)")
    p.add_argument("--query-hops", type=int, default=None, help="hops asked per query (default: whole chain)")
    p.add_argument("--mid-chain", action="store_true", help="start queries at a random link")
    p.add_argument("--depth", type=float, default=None, help="place the queried chains around this fraction")
    p.add_argument("--depth-window", type=float, default=0.05)
    p.add_argument("--distractors", type=int, default=0, help="decoys per queried hash sharing a long prefix/suffix")
    p.add_argument("--no-filler", action="store_true", help="whole chains only (size within one chain)")
    p.add_argument("--task", default="hashhop", choices=TASKS, help="hashhop, or a needle in a haystack (niah*)")
    p.add_argument(
        "--order",
        default=DEFAULT_ORDER,
        choices=ORDERS,
        help="links of each chain: shuffled (the benchmark), forward (in chain order) or backward (reversed)",
    )


def spec_from_args(args, size: str | None = None) -> Spec:
    tokenizer = "chars" if args.chars else args.tokenizer
    try:
        hop_mix = tuple(int(h) for h in args.hop_mix.split(",") if h.strip()) if args.hop_mix else ()
    except ValueError:
        raise SpecError(f"bad --hop-mix {args.hop_mix!r}: use hop counts separated by commas, e.g. 1,2,4") from None
    return Spec(
        size=parse_size(size or args.chars or args.tokens),
        hops=args.hops if args.hops is not None else (2 if args.task == "hashhop" else 1),
        queries=args.queries,
        hash_len=args.hash_len,
        alphabet=args.alphabet,
        cot=args.cot,
        format=args.format,
        tokenizer=tokenizer,
        seed=args.seed,
        hop_mix=hop_mix,
        query_hops=args.query_hops,
        mid_chain=args.mid_chain,
        depth=args.depth,
        depth_window=args.depth_window,
        distractors=args.distractors,
        filler=not args.no_filler,
        task=args.task,
        order=args.order,
    )


def register(subparsers):
    p = subparsers.add_parser(
        "generate",
        help="generate a HashHop dataset",
        description="Generate HashHop samples to JSONL (streamed) or Parquet.",
    )
    add_spec_arguments(p)
    p.add_argument("--samples", type=int, default=1)
    p.add_argument("--start", type=int, default=0, help="index of the first sample")
    p.add_argument("--workers", type=int, default=1, help="processes rendering/counting each prompt")
    p.add_argument("--recipe", action="store_true", help="store everything but the prompt (see materialize)")
    p.add_argument("-o", "--output", required=True, help="out.jsonl or out.parquet")
    p.add_argument("--card", action="store_true", help="also write a dataset card (README.md) next to the output")
    p.set_defaults(func=run)


def run(args) -> int:
    from hashhop.generator.dataset import write_jsonl, write_parquet

    spec = spec_from_args(args)
    if args.samples < 1:
        raise SpecError(f"--samples must be at least 1 (got {args.samples})")
    if args.output.endswith(".parquet"):
        if args.recipe:
            raise SpecError("--recipe writes JSONL: use an output ending in .jsonl")
        samples = write_parquet(spec, args.samples, args.output, start=args.start)
    else:
        samples = write_jsonl(
            spec, args.samples, args.output, recipe=args.recipe, workers=args.workers, start=args.start
        )
    from hashhop.generator.alphabets import entropy_bits

    if args.card:
        import os

        from hashhop.generator.card import write_card

        fmt = "parquet" if args.output.endswith(".parquet") else "jsonl"
        write_card(os.path.dirname(os.path.abspath(args.output)) or ".", samples, {fmt: os.path.basename(args.output)})

    sizes = ", ".join(str(s.n_tokens) for s in samples[:8]) + (" ..." if len(samples) > 8 else "")
    what = f"{entropy_bits(spec.alphabet, spec.hash_len):.1f} bits per hash" if spec.task == "hashhop" else spec.task
    print(
        f"wrote {len(samples)} sample(s) of {format_size(spec.size)} {spec.tokenizer} "
        f"(measured: {sizes}; {what}) to {args.output}",
        file=sys.stderr,
    )
    return 0
