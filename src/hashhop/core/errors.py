"""Every error hashhop raises, in one tree under HashhopError; each carries a one-line message that names the fix.

The CLI turns a HashhopError into `error: <message>` on stderr and exit code 2. TransientError and
OverLength are signals the runner handles itself (retry; record as over_length): they sit in the same
tree so one `except HashhopError` can name every hashhop error, but handlers that turn errors into
one-line messages let them pass, as they did before they joined the tree.
"""

from __future__ import annotations

from types import ModuleType


class HashhopError(Exception):
    """Base class: a user-facing error with an actionable one-line message."""

    exit_code = 2


# -- generate -----------------------------------------------------------------------------
class SpecError(HashhopError, ValueError):
    """A problem spec that cannot be built (bad hops, queries, sizes, hash space too small)."""


class TokenizerError(HashhopError):
    """An unknown or unavailable tokenizer."""


class DatasetError(HashhopError):
    """A dataset file that is missing, corrupt, or not written by hashhop."""


class CorruptRowError(DatasetError):
    """A foreign dataset row's defect (generator/foreign.py turns it into an `Invalid` verdict with its line)."""


class OutputError(HashhopError):
    """An output path that cannot be written."""


class MissingExtraError(HashhopError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, module: str, extra: str, alternative: str = ""):
        hint = f", {alternative}" if alternative else ""
        super().__init__(f"{module} is not installed: pip install 'hashhop[{extra}]'{hint}")
        self.module = module
        self.extra = extra


# -- prompt -------------------------------------------------------------------------------
class TemplateError(HashhopError):
    """A template file that cannot be read or lacks its placeholders."""


# -- backends -----------------------------------------------------------------------------
class BackendError(HashhopError):
    """Fatal for the run: bad key (401/403), unknown model (404), bad options. Never retried."""


class TransientError(HashhopError):
    """Worth retrying: timeout, connection error, 5xx, malformed response."""


class RateLimited(TransientError):
    """429: retry after `retry_after` seconds (None: back off) and lower concurrency."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class OverLength(HashhopError):
    """The prompt does not fit the model's context window: recorded as over_length, not wrong."""


# The runner's own signals: handlers that print one-line errors re-raise these untouched.
RUNNER_SIGNALS = (TransientError, OverLength)


# -- evaluate -----------------------------------------------------------------------------
class OverLengthStop(HashhopError):
    """A prompt did not fit the model and --on-over-length stop was asked for."""


class PricingError(HashhopError):
    """A pricing file that cannot be read or has no entry for the model."""


class StoreError(HashhopError):
    """A run folder that is locked, unreadable or holds a different run."""


# -- report -------------------------------------------------------------------------------
class BrowserError(HashhopError):
    """No usable Chromium, or it failed to draw the page."""


# -- bench --------------------------------------------------------------------------------
class SuiteError(HashhopError):
    """An unknown suite name."""


class SweepError(HashhopError):
    """A sweep file that cannot be read or holds a bad key or value."""


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency, or raise MissingExtraError with the install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(module, extra) from exc
