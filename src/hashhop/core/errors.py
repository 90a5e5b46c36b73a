"""Typed errors of hashhop: each carries a one-line message that names the fix.

The CLI turns any HashhopError into `error: <message>` on stderr and exit code 2.
"""


class HashhopError(Exception):
    """Base class: a user-facing error with an actionable one-line message."""

    exit_code = 2


class SpecError(HashhopError, ValueError):
    """A problem spec that cannot be built (bad hops, queries, sizes, hash space too small)."""


class TokenizerError(HashhopError):
    """An unknown or unavailable tokenizer."""


class DatasetError(HashhopError):
    """A dataset file that is missing, corrupt, or not written by hashhop."""


class OutputError(HashhopError):
    """An output path that cannot be written."""


class MissingExtraError(HashhopError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, module: str, extra: str):
        super().__init__(f"{module} is not installed: pip install 'hashhop[{extra}]'")
        self.module = module
        self.extra = extra


def require(module: str, extra: str):
    """Import an optional dependency, or raise MissingExtraError with the install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, extra) from exc
