"""`hashhop verify FILE`: check every sample of a dataset independently (hashhop's or another tool's)."""

from __future__ import annotations

import sys


def register(subparsers):
    p = subparsers.add_parser(
        "verify",
        help="check every sample of a dataset",
        description="Chains resolve in exactly `hops`, no duplicate hash, sizes as stated. Reads hashhop's "
        "datasets, Magic's reference JSONL and {prompt, answer} / {prompt, start, hops, answer} JSONL; "
        "an invalid sample is listed with its line number and reason.",
    )
    p.add_argument("file")
    p.set_defaults(func=run)


def run(args) -> int:
    from hashhop.generator.dataset import scan_samples
    from hashhop.generator.foreign import Invalid
    from hashhop.generator.verify import verify_sample

    bad = total = 0
    for item in scan_samples(args.file):
        total += 1
        if isinstance(item, Invalid):
            bad += 1
            print(f"INVALID {args.file}:{item.line}: {item.reason}")
            continue
        verdict = verify_sample(item)
        if not verdict.ok:
            bad += 1
            print(f"FAIL {verdict.sample_id}: {'; '.join(verdict.problems)}")
    print(f"{total - bad}/{total} samples ok", file=sys.stderr)
    return 1 if bad else 0
