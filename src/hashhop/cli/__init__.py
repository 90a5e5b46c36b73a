"""The `hashhop` command line: one module per subcommand, wired together here.

Each subcommand module exposes `register(subparsers)`, which adds its parser and sets
`func(args) -> int`. Any HashhopError becomes a one-line `error: ...` and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import HashhopError

SUBCOMMANDS = ("generate", "verify", "materialize", "evaluate", "score", "report", "bench", "train", "export")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="hashhop", description="The HashHop long-context benchmark.")
    parser.add_argument("--version", action="version", version=f"hashhop {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # subcommand not built yet
            raise
        module.register(subparsers)
    return parser




def _refuse_nul_bytes(args):
    """No path or name can hold a NUL byte: say so once, instead of failing deep inside open()."""
    for name, value in vars(args).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, str) and "\0" in v for v in values):
            raise HashhopError(f"--{name.replace('_', '-')} holds a NUL byte: pass a plain path or name")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        _refuse_nul_bytes(args)
        return int(args.func(args) or 0)
    except HashhopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
