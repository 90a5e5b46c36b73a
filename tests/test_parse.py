"""Answer extraction from free text: many answer styles, and properties over arbitrary text."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashhop.evaluate.parse import Parsed, extract_answer

S, H2, H3, H4 = "hHGIFJLylmJrLPAa", "vKUQGEybEXyMGtUI", "UbkMHgVxFvzVcgkg", "kdGlbFkWNyLLUMPm"
OTHER = "cSUCceOJZVvLmNAD"


def parse(text, cot=False, hops=3, hash_len=16, alphabet="letters", start=S):
    return extract_answer(text, start, hops, cot, hash_len, alphabet)


SKIP_STYLES = [
    ("bare hash", H4),
    ("trailing newline", H4 + "\n"),
    ("the answer is", f"The answer is {H4}."),
    ("answer colon", f"Answer: {H4}"),
    ("markdown bold", f"**{H4}**"),
    ("bold final answer", f"**Final answer:** {H4}"),
    ("single quotes", f"'{H4}'"),
    ("double quotes", f'The hash is "{H4}".'),
    ("backticks", f"`{H4}`"),
    ("code fence", f"```\n{H4}\n```"),
    ("code fence with language", f"```text\n{S} = {H4}\n```"),
    ("query echo", f"{S} = {H4}"),
    ("magic style", f"{S} = '{H4}'"),
    ("echo with arrow", f"{S} -> {H4}"),
    ("echo with unicode arrow", f"{S} → {H4}"),
    ("start repeated first", f"{S}\n{H4}"),
    ("trailing punctuation", f"{H4}!!"),
    ("chatter before and after", f"Sure! Let me look. I found {H4}. Hope this helps."),
    ("json", '{"answer": "' + H4 + '"}'),
    (
        "answer first then explanation",
        f"{H4}\n\nExplanation: {S} maps to {H2}, which maps to {H3}, which maps to {H4}.",
    ),
    ("shown work then marker", f"{S} = {H2}, {H2} = {H3}, {H3} = {OTHER}. So the answer is {H4}."),
    ("shown work, no marker", f"Following the chain: {S} = {H2} = {H3} = {H4}"),
    ("possessive", f"{S}'s value is {H4}."),
    ("the value of", f"The value of {S} is {H4}"),
    ("leads to", f"Starting from {S}, it leads to {H4}."),
    ("answer before the marker word", f"{H4} is the answer."),
    ("last link only", f"{H3} = {H4}"),
    ("marker then a denial of the start", f"The answer is not {S}, it's {H4}"),
    ("question echoed first", f"You asked what {S} leads to after 3 hops. It is {H4}."),
    ("magic completion block", f"COMPLETION:\nHops=3\n\nCoT=False\n\n{S} = '{H4}'\n{OTHER} = '{H2}'\n"),
    ("magic block, other query first", f"{OTHER} = '{H2}'\n{S} = '{H4}'\n"),
]


@pytest.mark.parametrize("name,text", SKIP_STYLES, ids=[s[0] for s in SKIP_STYLES])
def test_skip_steps_answer_is_found_in_every_style(name, text):
    assert parse(text).answer == H4


COT_STYLES = [
    ("magic style", f"{S} = '{H2} = {H3} = {H4}'"),
    ("plain equals", f"{S} = {H2} = {H3} = {H4}"),
    ("without the start", f"{H2} = {H3} = {H4}"),
    ("arrows", f"{S} -> {H2} -> {H3} -> {H4}"),
    ("unicode arrows", f"{S} → {H2} → {H3} → {H4}"),
    ("one link per line", f"{S} = {H2}\n{H2} = {H3}\n{H3} = {H4}"),
    ("links in a sentence", f"{S} = {H2}, then {H2} = {H3}, then {H3} = {H4}."),
    ("numbered steps", f"Step 1: {S} = {H2}\nStep 2: {H2} = {H3}\nStep 3: {H3} = {H4}"),
    ("code fence", f"```\n{S} = {H2} = {H3} = {H4}\n```"),
    ("chatter around", f"Let me follow the chain.\n{S} = {H2} = {H3} = {H4}\nThat is all."),
    ("walk then final answer", f"{S} -> {H2} -> {H3} -> {H4}. Final answer: {H4}"),
    ("final answer holds the walk", f"Thinking... The answer is {S} = '{H2} = {H3} = {H4}'"),
    ("bold", f"**{S} = {H2} = {H3} = {H4}**"),
    ("bullet list", f"- {H2}\n- {H3}\n- {H4}"),
    ("numbered list", f"1. {H2}\n2. {H3}\n3. {H4}"),
    ("comma list", f"{H2}, {H3}, {H4}"),
    ("magic completion block", f"COMPLETION:\nHops=3\n\nCoT=True\n\n{S} = '{H2} = {H3} = {H4}'\n{OTHER} = '{H2}'\n"),
]


@pytest.mark.parametrize("name,text", COT_STYLES, ids=[s[0] for s in COT_STYLES])
def test_chain_of_thought_chain_is_found_in_every_style(name, text):
    parsed = parse(text, cot=True)
    assert parsed.chain == (H2, H3, H4)
    assert parsed.answer == H4


def test_no_hash_gives_no_answer():
    parsed = parse("I could not find the chain, sorry.")
    assert parsed == Parsed(None, (), "I could not find the chain, sorry.", None, "none")


def test_an_echo_of_the_start_alone_is_no_answer():
    assert parse(f"{S} = ?").answer is None


def test_a_truncated_hash_after_the_start_is_kept_as_partial():
    parsed = parse(f"{S} = {H4[:10]}")
    assert (parsed.answer, parsed.partial) == (None, H4[:10])


def test_a_truncated_last_hop_is_kept_as_partial_after_the_chain():
    parsed = parse(f"{S} = {H2} = {H3} = {H4[:9]}", cot=True)
    assert parsed.chain == (H2, H3) and parsed.partial == H4[:9]


def test_an_overlong_run_after_the_marker_is_kept_as_partial():
    parsed = parse(f"The answer is {H4}xyz")
    assert (parsed.answer, parsed.partial) == (None, H4 + "xyz")


def test_a_short_word_after_the_marker_is_not_a_partial_hash():
    assert parse("The answer is unknown").partial is None


def test_a_walk_past_the_target_is_not_cut_at_hops():
    parsed = parse(f"{S} = {H2} = {H3} = {H4} = {OTHER}", cot=True)
    assert parsed.chain == (H2, H3, H4, OTHER) and parsed.answer == OTHER


def test_the_chain_is_in_the_order_written():
    assert parse(f"{S} = {H3} = {H2}", cot=True).chain == (H3, H2)


@pytest.mark.parametrize(
    "alphabet,hash_len,start,target",
    [
        ("hex", 8, "0a1b2c3d", "deadbeef"),
        ("digits", 6, "123456", "654321"),
        ("dna", 12, "ACGTACGTACGT", "TTTTGGGGCCCC"),
        ("custom:xyz", 5, "xyzzy", "zzxyx"),
    ],
)
def test_other_alphabets(alphabet, hash_len, start, target):
    text = f"The answer: {start} = '{target}'."
    assert parse(text, alphabet=alphabet, hash_len=hash_len, start=start).answer == target


def test_a_hash_length_digit_string_in_chatter_does_not_beat_the_marker():
    text = "In 2024 I checked 123456 and 999999. The answer is 654321."
    assert parse(text, alphabet="digits", hash_len=6, start="111111").answer == "654321"


# -- properties ---------------------------------------------------------------------------


def _hash_runs(text, n=16):
    return [m for m in re.findall(r"[a-zA-Z]+", text) if len(m) == n]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(), st.booleans(), st.integers(1, 8))
def test_the_parser_never_raises(text, cot, hops):
    parsed = parse(text, cot=cot, hops=hops)
    assert parsed.raw == text
    assert parsed.answer is None or parsed.answer in text
    assert parsed.answer == (parsed.chain[-1] if parsed.chain else None)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    st.text(alphabet=st.characters(codec="utf-8")),
    st.sampled_from(["hex", "digits", "dna", "base32"]),
    st.integers(1, 20),
)
def test_the_parser_never_raises_for_any_alphabet(text, alphabet, hash_len):
    parsed = extract_answer(text, "x" * hash_len, 2, False, hash_len, alphabet)
    assert parsed.answer is None or len(parsed.answer) == hash_len


chatter = st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=80).filter(
    lambda t: not _hash_runs(t) and "\n" not in t[-1:]
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(chatter, chatter, st.sampled_from(["{}", "**{}**", "'{}'", "`{}`", "The answer is {}.", "{S} = {}"]))
def test_the_target_embedded_in_chatter_is_found(before, after, wrap):
    text = f"{before}\n{wrap.format(H4, S=S)}\n{after}"
    assert parse(text).answer == H4


@settings(max_examples=200, deadline=None, derandomize=True)
@given(chatter, chatter)
def test_the_chain_embedded_in_chatter_is_found(before, after):
    text = f"{before}\n{S} = '{H2} = {H3} = {H4}'\n{after}"
    assert parse(text, cot=True).chain == (H2, H3, H4)


def test_words_of_the_hash_length_are_taken_as_hashes_only_if_the_context_holds_them():
    text, start, answer = "The answer is kdGlbFkW, probably.", "hHGIFJLy", "kdGlbFkW"
    assert parse(text, hash_len=8, start=start).answer == "probably"  # without the context: ambiguous
    known = {start, answer, "Whatever"}.__contains__
    assert extract_answer(text, start, 1, False, 8, "letters", known=known).answer == answer
    assert extract_answer("Whatever", start, 1, False, 8, "letters", known=known).answer == "Whatever"
