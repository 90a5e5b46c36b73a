"""Named hash alphabets and the entropy they give a hash."""

import math

from hashhop.core.errors import SpecError

ALPHABETS: dict[str, str] = {
    "letters": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "hex": "0123456789abcdef",
    "base32": "abcdefghijklmnopqrstuvwxyz234567",
    "digits": "0123456789",
    "dna": "ACGT",
}


def alphabet_chars(name: str) -> str:
    """The symbols of a named alphabet (or `custom:SYMBOLS`)."""
    if name.startswith("custom:"):
        chars = name[len("custom:") :]
        if len(set(chars)) != len(chars) or len(chars) < 2:
            raise SpecError(f"custom alphabet {chars!r} needs at least 2 distinct symbols")
        if any(c.isspace() or c in "='\"\\" for c in chars):
            raise SpecError("custom alphabet may not contain whitespace, '=', quotes or backslashes")
        if any(not 33 <= ord(c) < 127 for c in chars):
            raise SpecError("custom alphabet symbols must be printable ASCII characters")
        return chars
    try:
        return ALPHABETS[name]
    except KeyError:
        known = ", ".join(sorted(ALPHABETS))
        raise SpecError(f"unknown alphabet {name!r}: use one of {known} or custom:SYMBOLS") from None


def entropy_bits(name: str, hash_len: int) -> float:
    """Bits of entropy in one uniformly drawn hash of `hash_len` symbols."""
    return hash_len * math.log2(len(alphabet_chars(name)))
