"""Answer extraction: each accepted wrapper, each rejected malformed answer, and never raising on any string."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videossr.tasks.answers import parse_counts, parse_interval, parse_order


@pytest.mark.parametrize(
    "text, expected",
    [
        ("14.5-26.2", (14.5, 26.2)),
        ("12.5 - 20", (12.5, 20.0)),
        ("from 12.5s to 20s", (12.5, 20.0)),
        ("12.5 to 20 seconds", (12.5, 20.0)),
        ("From 12.5 seconds to 20 seconds.", (12.5, 20.0)),
        ("<answer>3.0-4.5</answer>", (3.0, 4.5)),
        ("<answer> 3.0 - 4.5 </answer>", (3.0, 4.5)),
        ("<answer>3.0-4.5", (3.0, 4.5)),  # cut before the closing tag
        ("The answer is 3.0-4.5.", (3.0, 4.5)),
        ("Answer: 3.0-4.5", (3.0, 4.5)),
        ("[3.0, 4.5]", (3.0, 4.5)),
        ("(3.0, 4.5)", (3.0, 4.5)),
        ("１４．５－２６．２", (14.5, 26.2)),  # full-width digits, point and dash
        ("14.5\u201326.2", (14.5, 26.2)),  # en dash
        ("14.5\u201426.2", (14.5, 26.2)),  # em dash
        ("14.5\u221226.2", (14.5, 26.2)),  # minus sign
        ("14.5~26.2", (14.5, 26.2)),
        ("  \n14.5-26.2\n ", (14.5, 26.2)),
        ("between 3 and 4.5 seconds", (3.0, 4.5)),
        ("start: 3.0, end: 4.5", (3.0, 4.5)),
        ('{"start_time": 3.0, "end_time": 4.5}', (3.0, 4.5)),
        ("0:14-0:26.5", (14.0, 26.5)),
        ("1:02:03-1:02:05", (3723.0, 3725.0)),
        ("4.5-3.0", (4.5, 3.0)),  # reversed: returned as written, the scorer gives 0
        ("The video lasts 0-30 s. The answer is 3.0-4.5", (3.0, 4.5)),  # the lead-in selects the answer
        ("3.0-4.5 and again 3.0 - 4.5 seconds", (3.0, 4.5)),  # the same interval twice is not ambiguous
    ],
)
def test_parse_interval_accepts(text, expected):
    assert parse_interval(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "nan",
        "inf-inf",
        "nan-nan",
        "14.5",
        "-1.0-2.0",  # signed
        "1.0--2.0",
        "3.0-4.5.6",
        "1-2 or 3-4",  # two different intervals: ambiguous
        "1234567890-1234567891",  # more than 9 integer digits
        "no idea",
        "3,1,4",
        "<answer></answer>",
        "<answer>I do not know</answer> maybe 1.0-2.0",  # a tagged answer is final
    ],
)
def test_parse_interval_rejects(text):
    assert parse_interval(text) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("3,1,4", (3, 1, 4)),
        ("3, 1, 4", (3, 1, 4)),
        ("The answer is 3,1,4.", (3, 1, 4)),
        ("<answer> 3,1,4 </answer>", (3, 1, 4)),
        ("３，１，４", (3, 1, 4)),
        ("**3,1,4**", (3, 1, 4)),
        ("`3,1,4`", (3, 1, 4)),
        ("I count 3,1,4 shapes", (3, 1, 4)),
        ("0,12,16", (0, 12, 16)),
    ],
)
def test_parse_counts_accepts(text, expected):
    assert parse_counts(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "3,1", "3,1,4,5", "3.5,1,4", "-3,1,4", "3;1;4", "3,1,4 or 4,1,3", "1234567890,1,1", "three,one,four"],
)
def test_parse_counts_rejects(text):
    assert parse_counts(text) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("341562", (3, 4, 1, 5, 6, 2)),
        ("3,4,1,5,6,2", (3, 4, 1, 5, 6, 2)),
        ("3, 4, 1, 5, 6, 2", (3, 4, 1, 5, 6, 2)),
        ("3 4 1 5 6 2", (3, 4, 1, 5, 6, 2)),
        ("The answer is 341562.", (3, 4, 1, 5, 6, 2)),
        ("<answer>341562</answer>", (3, 4, 1, 5, 6, 2)),
        ("３４１５６２", (3, 4, 1, 5, 6, 2)),
        ("Play clip 3 first: 341562", (3, 4, 1, 5, 6, 2)),
    ],
)
def test_parse_order_accepts(text, expected):
    assert parse_order(text, 6) == expected


@pytest.mark.parametrize(
    "text",
    [
        "34156",  # wrong digit count
        "3415627",
        "341561",  # repeated digit
        "341572",  # digit out of range
        "041562",  # zero
        "341562 or 123456",  # ambiguous
        "34 1562",  # inconsistent separators
        "3,4 1,5,6,2",
        "3, 4,1, 5,6, 2",
        "",
    ],
)
def test_parse_order_rejects(text):
    assert parse_order(text, 6) is None


def test_parse_order_hard_size():
    assert parse_order("71836254", 8) == (7, 1, 8, 3, 6, 2, 5, 4)
    assert parse_order("341562", 8) is None


@pytest.mark.parametrize("n", [0, 10, -1, True, 6.0])
def test_parse_order_rejects_bad_n(n):
    with pytest.raises(ValueError, match="n must be"):
        parse_order("341562", n)


@pytest.mark.parametrize("value", [None, b"1-2", 3, ["1-2"]])
def test_non_strings_parse_as_none(value):
    assert parse_interval(value) is None
    assert parse_counts(value) is None
    assert parse_order(value, 6) is None


def test_huge_and_binaryish_inputs():
    huge_digits = "9" * 200_000
    assert parse_interval(huge_digits) is None
    assert parse_counts(huge_digits) is None
    assert parse_order(huge_digits, 6) is None
    junk = "\x00\ud800\uffff" * 10_000 + "<answer>1.0-2.0</answer>"
    assert parse_interval(junk) == (1.0, 2.0)
    spaces = "1" + " " * 100_000 + "-"
    assert parse_interval(spaces) is None


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parsers_never_raise(text):
    iv = parse_interval(text)
    assert iv is None or (len(iv) == 2 and all(x >= 0 for x in iv))
    c = parse_counts(text)
    assert c is None or (len(c) == 3 and all(isinstance(x, int) and x >= 0 for x in c))
    o = parse_order(text, 6)
    assert o is None or sorted(o) == [1, 2, 3, 4, 5, 6]


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=0, max_value=10_000, places=1),
    st.decimals(min_value=0, max_value=10_000, places=1),
    st.sampled_from(["{}-{}", "{} - {}", "from {}s to {}s", "<answer>{}-{}</answer>", "The answer is {}-{}."]),
)
def test_interval_round_trip(a, b, template):
    assert parse_interval(template.format(a, b)) == (float(a), float(b))


@settings(max_examples=200, deadline=None)
@given(st.permutations(list(range(1, 9))), st.sampled_from(["{}", "<answer>{}</answer>", "The answer is {}."]))
def test_order_round_trip(perm, template):
    assert parse_order(template.format("".join(map(str, perm))), 8) == tuple(perm)


# --- labelled counts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "circles: 3, squares: 1, triangles: 4",
        "3 circles, 1 square and 4 triangles",
        "Circles=3; Squares=1; Triangles=4",
        "triangles: 4, circles: 3, squares: 1",
        "The answer is 3 circles, 1 square and 4 triangles.",
        "<answer>Circles: 3, Squares: 1, Triangles: 4</answer>",
        "circles 3 squares 1 triangles 4",
        "3 circles 1 squares 4 triangles",
        "3,1,4 (3 circles, 1 square, 4 triangles)",
        "There are 4 triangles, 3 circles and 1 square.",
        "circles are 3, squares is 1, triangles = 4",
        "circles: 3, squares: 1, triangles: 4, circles: 3",  # a class named twice with the same number
        "circles: 3, squares: 1, triangles: 4, circles: 03",
    ],
)
def test_labelled_counts(text):
    assert parse_counts(text) == (3, 1, 4)


@pytest.mark.parametrize(
    "text",
    [
        "3 circles, 2 circles, 1 square, 4 triangles",  # a class given two numbers
        "circles: 3, squares: 1, triangles: 4, circles: 2",
        "3 circles and 1 square",  # a class left out
        "3,1,4 (2 circles, 1 square, 4 triangles)",  # the labels contradict the triple
        "circles: 3, squares: 1.5, triangles: 4",
        "circles: -3, squares: 1, triangles: 4",
    ],
)
def test_ambiguous_labelled_counts_are_refused(text):
    assert parse_counts(text) is None


# --- long runaway answers: read in one pass (their timing is in benchmarks/bench_rewards.py) ----------------------


def test_many_unclosed_tags_read_what_follows_the_last():
    text = "<answer>" * 18725 + "341562"  # 150 KB of opening tags, never closed
    assert parse_order(text, 6) == (3, 4, 1, 5, 6, 2)
    assert parse_counts("<answer>" * 18725 + "3,1,4") == (3, 1, 4)
    assert parse_interval("<ANSWER>" * 18725 + "1.0-2.5") == (1.0, 2.5)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<answer>1-2</answer><answer>3,1,4</answer>", (3, 1, 4)),  # the last block
        ("<answer>3,1,4</answer> then <answer>9,9", (3, 1, 4)),  # a complete block beats a later unclosed tag
        ("<answer><answer>3,1,4</answer>", (3, 1, 4)),  # a tag inside a block is text
        ("</answer>3,1,4<answer>", None),  # nothing after the last opening tag
        ("</answer>" * 20000 + "<answer>3,1,4</answer>" + "</answer>" * 20000, (3, 1, 4)),
    ],
)
def test_answer_blocks(text, expected):
    assert parse_counts(text) == expected


@pytest.mark.parametrize(
    "text, n, expected",
    [
        ("order: 3 4 1 5 6 2; done", 6, (3, 4, 1, 5, 6, 2)),
        ("1.5 3 4 1 5 6 2", 6, (3, 4, 1, 5, 6, 2)),  # the 5 of a decimal starts no order
        ("at 2.5: 3 1 2", 3, (3, 1, 2)),
        ("clip 2,3 1 2", 3, None),  # one run of four digits
        ("1, " * 100_000 + ",", 6, None),  # 300 KB of a separated run that ends in a comma
        ("1 " * 100_000 + "x", 6, None),
        ("9" * 1_000_000, 6, None),
    ],
)
def test_order_candidates(text, n, expected):
    assert parse_order(text, n) == expected
