"""Keeping the user's machine out of the report: absolute paths shown as their last part.

Model names (`hf:/home/me/models/x`), error messages and results.json configs can hold paths;
the report shows `…/x` unless the user asks for full paths (`--show-paths`).
"""

from __future__ import annotations

import re

# An absolute POSIX path of two or more parts not inside a URL (http://host/x stays), or C:\... .
_POSIX = re.compile(r"(?<![\w./~])~?(?:/[^\s/'\"<>`|]+){2,}/?")
_WINDOWS = re.compile(r"(?<![\w])[A-Za-z]:\\[^\s'\"<>`|]+")


def _short(match: re.Match) -> str:
    parts = [p for p in re.split(r"[\\/]", match.group(0)) if p]
    return "…/" + (parts[-1] if parts else "")


def redact(text, show_paths: bool = False):
    """`text` with absolute paths cut to their last part (unchanged when show_paths)."""
    if show_paths or not isinstance(text, str):
        return text
    return _WINDOWS.sub(_short, _POSIX.sub(_short, text))
