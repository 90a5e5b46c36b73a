"""`hashhop train`: train the long-context model of `hashhop_train` (extra `train`).

`hashhop train --config FILE [--key=value ...] [--out DIR]` writes model.safetensors,
config.json and train_log.jsonl to DIR. Overrides name a config field: `--train.steps=100`,
`--model.dim=64`, or a bare unambiguous name (`--steps=100` is not one: stages set steps).

A command plugin: pyproject.toml declares `register` in the entry point group `hashhop.commands`,
so the hashhop CLI finds it without importing hashhop_train itself. This module imports no torch:
the command is listed even without the extra, and running it names the extra to install.
"""

from __future__ import annotations

from hashhop.core.errors import require


def _handler(args) -> int:
    require("torch", "train")
    require("safetensors", "train")
    from hashhop_train.config import load
    from hashhop_train.train import train

    run = load(args.config, args.overrides)
    out = args.out or "runs/train"
    train(run, out)
    print(f"wrote {out}/model.safetensors, {out}/config.json and {out}/train_log.jsonl")
    return 0


def register(subparsers):
    """Add `train` to the hashhop CLI (the entry point of group hashhop.commands)."""
    parser = subparsers.add_parser(
        "train",
        help="train the long-context HashHop model (needs hashhop[train])",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument("--config", help="TOML file with [model] and [train] tables (default: built-in defaults)")
    parser.add_argument("--out", help="output directory (default runs/train)")
    parser.set_defaults(func=_handler, overrides=[])
    plain = parser.parse_known_args

    def parse_known_args(arg_strings=None, namespace=None):
        # `--key=value` overrides are not argparse options: collect them instead of failing.
        ns, rest = plain(arg_strings, namespace)
        ns.overrides = list(getattr(ns, "overrides", [])) + [a for a in rest if a.startswith("--") and "=" in a]
        return ns, [a for a in rest if not (a.startswith("--") and "=" in a)]

    parser.parse_known_args = parse_known_args
    return parser
