"""`hashhop verify FILE`: check every sample of a dataset independently."""

from __future__ import annotations

import sys


def register(subparsers):
    p = subparsers.add_parser(
        "verify",
        help="check every sample of a dataset",
        description="Chains resolve in exactly `hops`, no duplicate hash, sizes as stated.",
    )
    p.add_argument("file")
    p.set_defaults(func=run)


def run(args) -> int:
    from hashhop.generate.dataset import read_samples
    from hashhop.generate.verify import verify_sample

    bad = total = 0
    for sample in read_samples(args.file):
        total += 1
        verdict = verify_sample(sample)
        if not verdict.ok:
            bad += 1
            print(f"FAIL {verdict.sample_id}: {'; '.join(verdict.problems)}")
    print(f"{total - bad}/{total} samples ok", file=sys.stderr)
    return 1 if bad else 0
