"""Fuzzing the answer parser: `extract_answer` never raises, on any text a model could send.

Scoring reruns the parser on every stored completion, so one exception would make a whole run
unscorable. Hypothesis is derandomized (the same examples on every CI run); the long run is
benchmarks/fuzz.py.
"""

import os
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashhop.evaluate.parse import Parsed, extract_answer
from hashhop.generator.alphabets import ALPHABETS, alphabet_chars

# benchmarks/fuzz.py sets HASHHOP_FUZZ_EXAMPLES for a long, randomized run; CI runs the fixed examples.
EXAMPLES = int(os.environ.get("HASHHOP_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    derandomize=not EXAMPLES,
    max_examples=EXAMPLES or 300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ALPHABET_NAMES = st.sampled_from(sorted(ALPHABETS) + ["custom:01", "custom:xyz!"])
# What models actually wrap answers in, mixed with random noise.
PIECES = [
    " = ",
    " -> ",
    "→",
    "\n",
    "```",
    "**",
    '"',
    "'",
    "The answer is ",
    "Answer:",
    "answer: ",
    "Final hash: ",
    ", then ",
    " is ",
    "<script>",
    "\x00",
    "\u202e",
    "🙂",
    "\r\n",
    "\t",
    "{",
    "}",
    "[",
    "]",
    "A = B",
    "...",
]


def _hashes(alphabet: str, hash_len: int):
    return st.text(alphabet=alphabet_chars(alphabet), min_size=hash_len, max_size=hash_len)


@st.composite
def model_outputs(draw):
    """A (text, start, hops, cot, hash_len, alphabet) that looks like a model's answer, or noise."""
    alphabet = draw(ALPHABET_NAMES)
    hash_len = draw(st.integers(1, 24))
    hashes = draw(st.lists(_hashes(alphabet, hash_len), min_size=1, max_size=6))
    noise = st.one_of(
        st.sampled_from(PIECES),
        st.text(max_size=12),
        st.sampled_from(hashes),
        st.text(alphabet=alphabet_chars(alphabet), max_size=2 * hash_len + 2),
    )
    text = "".join(draw(st.lists(noise, max_size=30)))
    return text, hashes[0], draw(st.integers(0, 8)), draw(st.booleans()), hash_len, alphabet


def _check(parsed: Parsed, text: str, hash_len: int):
    assert isinstance(parsed, Parsed)
    if parsed.answer is not None:
        assert len(parsed.answer) == hash_len and parsed.answer in text
        assert parsed.chain and parsed.chain[-1] == parsed.answer
    else:
        assert parsed.chain == ()
    assert all(len(h) == hash_len and h in text for h in parsed.chain)
    if parsed.partial is not None:
        assert parsed.partial in text and len(parsed.partial) != hash_len


@FUZZ
@given(model_outputs())
def test_model_like_outputs_never_raise_and_only_name_hashes_present_in_the_text(case):
    text, start, hops, cot, hash_len, alphabet = case
    _check(extract_answer(text, start, hops, cot, hash_len, alphabet), text, hash_len)


@FUZZ
@given(st.text(), st.text(max_size=20), st.integers(-5, 100), st.booleans(), st.integers(1, 64), ALPHABET_NAMES)
def test_arbitrary_unicode_never_raises(text, start, hops, cot, hash_len, alphabet):
    _check(extract_answer(text, start, hops, cot, hash_len, alphabet), text, hash_len)


@FUZZ
@given(st.one_of(st.none(), st.binary(), st.integers(), st.lists(st.text()), st.dictionaries(st.text(), st.text())))
def test_a_completion_that_is_not_a_string_parses_to_no_answer(value):
    # A server can send `"content": null` or a list of parts; stored records then hold that value.
    parsed = extract_answer(value, "abcd", 1, False, 4, "letters")
    assert parsed.answer is None and parsed.chain == () and parsed.raw == ""


@FUZZ
@given(model_outputs(), st.sets(st.text(alphabet=string.ascii_letters, min_size=1, max_size=24), max_size=5))
def test_a_known_hash_callback_never_changes_the_contract(case, known):
    text, start, hops, cot, hash_len, alphabet = case
    parsed = extract_answer(text, start, hops, cot, hash_len, alphabet, known=known.__contains__)
    _check(parsed, text, hash_len)


def test_the_parser_is_deterministic_and_finds_the_answer_in_hostile_wrapping():
    text = "<script>alert(1)</script>\n```\nThe answer is: **QWERTYUI**\n```\x00"
    first = extract_answer(text, "ASDFGHJK", 1, False, 8, "letters")
    assert first == extract_answer(text, "ASDFGHJK", 1, False, 8, "letters")
    assert first.answer == "QWERTYUI"


def test_a_huge_completion_parses_in_one_pass():
    # A runaway model can write a megabyte (the backend's byte limit); a quadratic parser would hang here.
    text = ("zz = " * 200_000) + "the answer is ABCDEFGH"
    assert extract_answer(text, "QQQQQQQQ", 1, False, 8, "letters").answer == "ABCDEFGH"
