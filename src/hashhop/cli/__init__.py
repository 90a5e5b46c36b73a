"""The `hashhop` command line: one module per subcommand, wired together here.

Each subcommand module exposes `register(subparsers)`, which adds its parser and sets
`func(args) -> int`. Any HashhopError becomes a one-line `error: ...` and exit code 2.
Commands that live outside hashhop (`train`, in hashhop_train) are plugins: a `register` declared
in the entry point group `hashhop.commands`; the core never imports them by name.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata

from hashhop.core.errors import RUNNER_SIGNALS, HashhopError, MissingExtraError

SUBCOMMANDS = (
    "generate",
    "verify",
    "convert",
    "materialize",
    "evaluate",
    "score",
    "report",
    "bench",
    "train",
    "serve",
    "export",
)
# Commands shipped as plugins (entry point group COMMAND_GROUP): name -> the extra that brings them.
PLUGINS = {"train": "train", "serve": "serve"}
COMMAND_GROUP = "hashhop.commands"


def build_parser() -> argparse.ArgumentParser:
    from hashhop import __version__

    parser = argparse.ArgumentParser(prog="hashhop", description="The HashHop long-context benchmark.")
    parser.add_argument("--version", action="version", version=f"hashhop {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    plugins = command_entry_points()
    for name in SUBCOMMANDS:
        if name in PLUGINS:
            _register_plugin(subparsers, name, plugins.get(name))
        else:
            importlib.import_module(f".{name}", __name__).register(subparsers)
    for name in sorted(set(plugins) - set(SUBCOMMANDS)):  # third-party commands, after hashhop's own
        _register_plugin(subparsers, name, plugins[name])
    return parser


def command_entry_points() -> dict[str, metadata.EntryPoint]:
    """The installed command plugins by name (the `hashhop.commands` entry points)."""
    return {ep.name: ep for ep in metadata.entry_points(group=COMMAND_GROUP)}


def _register_plugin(subparsers, name: str, entry_point: metadata.EntryPoint | None) -> None:
    """Let a plugin add its command; a plugin that is absent or broken still gets a command that says why."""
    try:
        register = entry_point.load() if entry_point is not None else None
    except ImportError as exc:
        _placeholder(subparsers, name, HashhopError(f"command {name!r} cannot be imported ({exc}): reinstall hashhop"))
        return
    if register is None:
        extra = PLUGINS.get(name, name)
        _placeholder(subparsers, name, MissingExtraError(f"the {name} command", extra))
        return
    register(subparsers)


def _placeholder(subparsers, name: str, error: HashhopError) -> None:
    """A command that takes any arguments and fails with `error` (one line, exit 2)."""

    def fail(args):
        raise error

    parser = subparsers.add_parser(name, help=f"not available: {error}", add_help=False)
    parser.set_defaults(func=fail)
    plain = parser.parse_known_args

    def parse_known_args(arg_strings=None, namespace=None):
        return plain([], namespace)[0], []  # whatever the arguments, the command fails before using them

    parser.parse_known_args = parse_known_args


def _refuse_nul_bytes(args):
    """No path or name can hold a NUL byte: say so once, instead of failing deep inside open()."""
    for name, value in vars(args).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, str) and "\0" in v for v in values):
            raise HashhopError(f"--{name.replace('_', '-')} holds a NUL byte: pass a plain path or name")


def _os_error(exc: OSError) -> str:
    """One line for a file system refusal (full disk, permissions, a folder where a file should be)."""
    path = exc.filename2 if exc.filename2 is not None else exc.filename
    where = f"{path}: " if path is not None else ""
    return f"{where}{exc.strerror or exc}: check the path, its permissions and the free space"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        _refuse_nul_bytes(args)
        if getattr(args, "output", None) == "":
            raise HashhopError("-o is empty: give a file or folder name")
        return int(args.func(args) or 0)
    except RUNNER_SIGNALS:  # the runner's to handle; one that escapes is a bug, shown whole
        raise
    except HashhopError as exc:
        # One line whatever the message echoes (a field name or value from a file can hold newlines).
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # never a traceback for what the OS refused
        print(f"error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
