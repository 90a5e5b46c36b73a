"""The parser's fast path for plain answers (`HASH`, `START = H1 = H2`) against the full parser.

`extract_answer` reads the commonest completions directly and gives every other text to
`extract_answer_full`. Scores must not depend on which route a text took, so these tests check,
over many texts built to sit on and around the fast path's edges, that the fast path only ever
returns what the full parser returns.
"""

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashhop.evaluate.parse import _plain_answer, extract_answer, extract_answer_full
from hashhop.generator.alphabets import alphabet_chars

DIFF = settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Named alphabets, an alphanumeric custom one (fast path) and ones with punctuation (full parser).
ALPHABETS = ["letters", "hex", "base32", "digits", "dna", "custom:abc123", "custom:ab-:!", "custom:xyz!"]
# Link text, markers, wrappers and whitespace (str.strip and the regexes must agree on all of it).
PIECES = [
    " = ",
    " = ",
    " = ",
    "=",
    " =  ",
    " -> ",
    ", ",
    "\n",
    " ",
    "  ",
    "\t",
    "\u3000",
    "\x1c",
    "\r\n",
    "'",
    '"',
    "**",
    "`",
    ".",
    ":",
    "The answer is ",
    "answer: ",
    "Answer = ",
    "result is ",
    "final hash: ",
    "then ",
    " is ",
    "probably",
    "Whatever",
]
WORDISH = [
    "answer",
    "answers",
    "result",
    "output",
    "outputs",
    "then",
    "final",
    "last",
    "target",
    "Abcdefghijklmnop",
    "abcdefghijklmnop",
    "Whatever",
    "probably",
    "ANSWERIS",
]


def _both(text, start, hops, cot, hash_len, alphabet, known):
    fast = _plain_answer(text, start, hash_len, alphabet, known)
    full = extract_answer_full(text, start, hops, cot, hash_len, alphabet, known=known)
    return fast, full


@st.composite
def plain_cases(draw):
    """Texts that are mostly hashes joined by " = ", with the odd piece that should send them
    (or not) to the full parser: words, markers, partials, other separators, padding."""
    alphabet = draw(st.sampled_from(ALPHABETS))
    chars = alphabet_chars(alphabet)
    hash_len = draw(st.integers(1, 16))
    hashes = draw(st.lists(st.text(alphabet=chars, min_size=hash_len, max_size=hash_len), min_size=1, max_size=4))
    shaped = [w[:hash_len] for w in WORDISH + ["Abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx"]]
    words = [w for w in shaped if set(w) <= set(chars)]  # many of them hash-shaped: maybe mere words
    start = draw(st.sampled_from(hashes + words))
    token = st.one_of(
        st.sampled_from(hashes),
        st.sampled_from(hashes),
        st.sampled_from(words or hashes),
        st.text(alphabet=chars, min_size=max(1, hash_len - 2), max_size=hash_len + 2),
    )
    tokens = draw(st.lists(token, min_size=1, max_size=5))
    seps = draw(st.lists(st.sampled_from([" = "] * 6 + PIECES), min_size=len(tokens), max_size=len(tokens)))
    body = "".join(t + s for t, s in zip(tokens, seps))[: -len(seps[-1]) or None]
    pad = st.sampled_from(["", "", " ", "\n", "\t ", "\u3000", "\x1c", " \r\n"])
    text = draw(pad) + body + draw(pad)
    pool = hashes + words + [start]
    known_set = draw(st.none() | st.sets(st.sampled_from(pool), max_size=len(pool)))
    known = None if known_set is None else known_set.__contains__
    return text, start, draw(st.integers(1, 4)), draw(st.booleans()), hash_len, alphabet, known


@DIFF
@given(plain_cases())
def test_the_fast_path_only_ever_returns_what_the_full_parser_returns(case):
    fast, full = _both(*case)
    if fast is not None:
        assert fast == full
    assert extract_answer(case[0], *case[1:6], known=case[6]) == full


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    st.text(),
    st.text(max_size=20),
    st.integers(1, 24),
    st.sampled_from(ALPHABETS),
    st.booleans(),
    st.sets(st.text(alphabet=string.ascii_letters, min_size=1, max_size=24), max_size=4) | st.none(),
)
def test_any_text_gives_the_full_parsers_answer(text, start, hash_len, alphabet, cot, known_set):
    known = None if known_set is None else known_set.__contains__
    fast, full = _both(text, start, 2, cot, hash_len, alphabet, known)
    assert fast is None or fast == full


S, H1, H2, H3 = "hHGIFJLylmJrLPAa", "vKUQGEybEXyMGtUI", "UbkMHgVxFvzVcgkg", "kdGlbFkWNyLLUMPm"
KNOWN = {S, H1, H2, H3}.__contains__

PLAIN = [  # (text, answer, chain): all taken by the fast path
    (H3, H3, (H3,)),
    (f"  {H3}\n", H3, (H3,)),
    (f"{S} = {H3}", H3, (H3,)),
    (f"{S} = {H1} = {H2} = {H3}", H3, (H1, H2, H3)),
    (f"{H1} = {H2} = {H3}", H3, (H1, H2, H3)),  # a chain-of-thought target, without the start
    (f"{S} = {H1} = {H1} = {H2}", H2, (H1, H2)),  # repeated links collapse
    (f"{H1} = {S} = {H2}", H2, (H2,)),  # an echo of the start inside: what follows it
    (f"{S} = {S}", S, (S,)),
    (S, None, ()),  # a lone echo answers nothing
    ("abcdefghijklmnop", None, ()),  # a made-up placeholder cased like a word: no answer
]


@pytest.mark.parametrize("text,answer,chain", PLAIN)
@pytest.mark.parametrize("cot", [False, True])
def test_plain_answers_take_the_fast_path(text, answer, chain, cot):
    fast, full = _both(text, S, 3, cot, 16, "letters", KNOWN)
    assert fast is not None and fast == full
    assert (fast.answer, fast.chain) == (answer, chain)


@pytest.mark.parametrize(
    "text,hash_len,alphabet",
    [
        (f"The answer is {H3}", 16, "letters"),  # chatter
        (f"{S} = '{H3}'", 16, "letters"),  # magic quotes
        (f"{S} -> {H3}", 16, "letters"),  # another link
        (f"{S}={H3}", 16, "letters"),
        (f"{S} = {H3[:10]}", 16, "letters"),  # a partial hash
        (f"{S[:8]} = Whatever", 8, "letters"),  # a word inside a chain changes the groups
        (f"Whatever = {H1[:8]}", 8, "letters"),
        ("answer = abcdef", 6, "letters"),  # a marker made of hash symbols
        ("ab-:!a = b-:!ab", 6, "custom:ab-:!"),  # punctuation symbols: link text or markers
    ],
)
def test_other_texts_go_to_the_full_parser(text, hash_len, alphabet):
    assert _plain_answer(text, S[:hash_len], hash_len, alphabet, {S[:hash_len], H1[:hash_len]}.__contains__) is None


def test_a_marker_spelled_by_known_hashes_is_left_to_the_full_parser():
    # With 6-letter hashes `answer` can be a real hash, and `answer = X` then reads as a marker.
    known = {"answer", "qwerty", "zxcvbn"}.__contains__
    text = "answer = qwerty = zxcvbn"
    assert _plain_answer(text, "answer", 6, "letters", known) is None
    for cot in (False, True):
        assert extract_answer(text, "answer", 2, cot, 6, "letters", known=known) == extract_answer_full(
            text, "answer", 2, cot, 6, "letters", known=known
        )


def test_a_bad_alphabet_raises_the_same_error_either_way():
    from hashhop.core.errors import SpecError

    for parse in (extract_answer, extract_answer_full):
        with pytest.raises(SpecError):
            parse("aaaa", "aaaa", 1, False, 4, "custom:aa")
