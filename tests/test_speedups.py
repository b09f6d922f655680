"""The reward's C path (videossr/_speedups.c): built where it can be, and exactly the pure-Python path's results.

``compute_score`` asks the C code first; it scores bare and tagged answers of the built-in tasks and hands everything
else to Python (the ground truth it read included). Here every case is scored both ways: with the C path, and with it
switched off (``videossr.rewards._fast_score = None``, what an install without a C compiler runs).
"""

from __future__ import annotations

import os
import shutil
import sysconfig

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import videossr.rewards as rewards
from videossr.rewards import RESULT_KEYS, compute_score
from videossr.tasks.sample import MADE_KEY
from videossr.tasks import FAST_SOURCES, TASKS, register, task_for_source, unregister
from videossr.tasks.jigsaw import JigsawTask

FAST = rewards._fast_score


def _can_build() -> bool:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = os.path.join(sysconfig.get_paths()["include"], "Python.h")
    return shutil.which(compiler) is not None and os.path.exists(headers)


needs_c = pytest.mark.skipif(FAST is None, reason="videossr._speedups is not built: the reward runs its Python path")


def test_the_c_path_is_built_where_a_compiler_is():
    if not _can_build():
        pytest.skip("no C compiler or no Python headers here: the install leaves the reward on its Python path")
    assert FAST is not None, "a C compiler and Python.h are here, but videossr._speedups was not built: reinstall"


def _python(*args, **kwargs) -> dict:
    saved, rewards._fast_score = rewards._fast_score, None
    try:
        return compute_score(*args, **kwargs)
    finally:
        rewards._fast_score = saved


def _fast(source, answer, gold, extra_info=None, mode="smooth"):
    """What the C function itself returns: a result dict, the ground truth it read, or None."""
    return FAST(FAST_SOURCES, source, answer, gold, extra_info, mode, MADE_KEY)


def _same(source, answer, gold, extra_info=None, mode="smooth") -> dict:
    got = compute_score(source, answer, gold, extra_info, mode=mode)
    want = _python(source, answer, gold, extra_info, mode=mode)
    assert got == want and list(got) == list(want) == list(RESULT_KEYS), (source, answer, gold, got, want)
    assert [type(v) for v in got.values()] == [type(v) for v in want.values()] == [float] * len(RESULT_KEYS)
    return got


# --- hand-computed values, scored by the C code itself -----------------------------------------------------------


@needs_c
@pytest.mark.parametrize(
    "source, answer, gold, smooth, strict",
    [
        # IoU: overlap 8 over union 10, whatever the wrapping
        ("videossr_grounding", "12.0-20.0", "10.0-20.0", 0.8, 0.8),
        ("videossr_grounding", "<answer> 12 - 20. </answer>", "10.0-20.0", 0.8, 0.8),
        ("videossr_grounding", "\t10.0-15.0\n", "12.5-20.0", 2.5 / 10, 2.5 / 10),
        ("videossr_grounding", "20.0-12.0", "10.0-20.0", 0.0, 0.0),  # reversed: parsed, IoU 0
        ("videossr_grounding", "12.5-12.5", "10.0-20.0", 0.0, 0.0),  # zero length
        # counts: mean over classes of max(0, 1 - |p - g| / g); strict: the share of exact classes
        ("videossr_counting", "3,2,4", "3,1,4", (1 + 0 + 1) / 3, 2 / 3),
        ("videossr_counting", "4, 1, 2", "3,1,4", ((1 - 1 / 3) + 1 + (1 - 2 / 4)) / 3, 1 / 3),
        ("videossr_counting", "'3,1,4'.", "3,1,4", 1.0, 1.0),
        ("videossr_counting", "<answer>[5,0,0]</answer>", "0,1,2", 0.0, 0.0),  # g = 0 and p != g gives 0
        ("counting", "0,0,0", "0,0,0", 1.0, 1.0),
        # jigsaw: 1 - E / floor(n^2 / 2), E the total displacement; strict only for the exact order
        ("videossr_jigsaw", "341526", "341562", 1 - 2 / 18, 0.0),
        ("shuffled", "3 4 1 5 2 6", "341562", 1 - 2 / 18, 0.0),
        ("jigsaw", "<answer>3, 4, 1, 5, 6, 2</answer>", "341562", 1.0, 1.0),
        ("videossr_jigsaw", "12345678", "87654321", 1 - 32 / 32, 0.0),
        ("videossr_jigsaw", "1", "1", 1.0, 1.0),
    ],
)
def test_c_path_scores_hand_cases(source, answer, gold, smooth, strict):
    for mode, value in (("smooth", smooth), ("strict", strict)):
        direct = _fast(source, answer, gold, mode=mode)
        assert type(direct) is dict, "the C path did not score this answer itself"
        assert direct == pytest.approx({"score": value, "format_ok": 1.0, "strict": strict,
                                        "task_id": float(task_for_source(source).task_id), "gold_ok": 1.0}, abs=1e-12)
        assert _same(source, answer, gold, mode=mode) == direct


@needs_c
@pytest.mark.parametrize(
    "source, answer, gold",
    [
        ("videossr_grounding", "I cannot tell.", "10.0-20.0"),  # no digit at all
        ("videossr_counting", "", "3,1,4"),
        ("videossr_jigsaw", "341556", "341562"),  # the order's form, not a permutation
        ("videossr_jigsaw", "3,4 1,5,6,2", "341562"),  # separators that differ
        ("videossr_jigsaw", "3415620", "341562"),  # a 0, and one digit too many
    ],
)
def test_c_path_scores_unusable_answers_zero(source, answer, gold):
    direct = _fast(source, answer, gold)
    assert type(direct) is dict and direct["score"] == direct["format_ok"] == direct["strict"] == 0.0
    assert direct["gold_ok"] == 1.0 and _same(source, answer, gold) == direct


@needs_c
@pytest.mark.parametrize(
    "source, answer, gold",
    [
        ("videossr_grounding", "The anomaly is from 12 to 20 seconds.", "10.0-20.0"),
        ("videossr_counting", "3 circles, 1 square and 4 triangles", "3,1,4"),
        ("videossr_jigsaw", "The correct order is 3,4,1,5,6,2.", "341562"),
        ("videossr_jigsaw", "\uff13\uff14\uff11\uff15\uff16\uff12", "341562"),  # full-width digits: not ASCII
        ("videossr_counting", None, "3,1,4"),  # not a string at all
    ],
)
def test_answers_for_the_general_parser_come_back_with_the_ground_truth_read(source, answer, gold):
    truth = _fast(source, answer, gold)
    task = task_for_source(source)
    assert truth == task.parse_gold(gold) and [type(x) for x in truth] == [type(x) for x in task.parse_gold(gold)]
    _same(source, answer, gold)


@needs_c
@pytest.mark.parametrize(
    "source, answer, gold, extra_info, mode",
    [
        ("VideoSSR_Grounding", "12.0-20.0", "10.0-20.0", None, "smooth"),  # found by case-folding, in Python
        ("videossr_grounding", "12.0-20.0", " 10.0-20.0", None, "smooth"),  # a ground truth not in canonical form
        ("videossr_grounding", "12.0-20.0", "20.0-10.0", None, "smooth"),  # a broken ground truth
        ("videossr_counting", "3,1,4", "3 ,1,4", None, "smooth"),
        ("videossr_jigsaw", "341562", "3 4 1 5 6 2", None, "smooth"),
        ("videossr_jigsaw", "341562", "341562", {"recipe": "{}"}, "smooth"),  # a recipe row never made
        ("videossr_jigsaw", "341562", "341562", {"recipe": "{}", MADE_KEY: False}, "smooth"),
        ("gsm8k", "#### 4", "4", None, "smooth"),  # a data source of verl's
        (["not", "hashable"], "1", "1", None, "smooth"),
        ("videossr_counting", "3,1,4", ["3", "1", "4"], None, "smooth"),
    ],
)
def test_everything_else_is_left_to_python(source, answer, gold, extra_info, mode):
    assert _fast(source, answer, gold, extra_info, mode) is None
    _same(source, answer, gold, extra_info, mode)


@needs_c
def test_mode_checks_and_made_rows():
    assert _fast("videossr_jigsaw", "341562", "341562", mode="fuzzy") is None
    with pytest.raises(ValueError, match="'fuzzy'"):
        compute_score("videossr_jigsaw", "341562", "341562", mode="fuzzy")
    made = {"recipe": "{}", MADE_KEY: True, "index": 3}
    assert _fast("videossr_jigsaw", "341562", "341562", made)["score"] == 1.0
    assert _same("videossr_jigsaw", "341562", "341562", made)["gold_ok"] == 1.0
    assert _same("videossr_jigsaw", "341562", "341562", {"recipe": "{}"})["gold_ok"] == 0.0


@needs_c
def test_every_result_is_a_fresh_dict():
    first = compute_score("videossr_jigsaw", "341562", "341562")
    first["score"] = -1.0
    assert compute_score("videossr_jigsaw", "341562", "341562")["score"] == 1.0


def test_only_the_built_in_task_classes_take_the_c_path():
    assert set(FAST_SOURCES) == {"videossr_grounding", "grounding", "videossr_counting", "counting",
                                 "videossr_jigsaw", "jigsaw", "shuffled"}

    class Reversed(JigsawTask):  # a subclass may parse or score otherwise: Python scores it
        name, data_source, aliases, task_id = "jigsaw_reversed", "jigsaw_reversed", (), 90

    register(Reversed())
    try:
        assert "jigsaw_reversed" in TASKS and "jigsaw_reversed" not in FAST_SOURCES
    finally:
        unregister("jigsaw_reversed")
    jigsaw = TASKS["jigsaw"]
    unregister("jigsaw")
    try:
        assert not {"videossr_jigsaw", "jigsaw", "shuffled"} & set(FAST_SOURCES)
    finally:
        register(jigsaw)
    assert FAST_SOURCES["shuffled"] == (2, 2.0)


# --- property: both paths agree on anything built from the answers' own pieces ------------------------------------

_PIECES = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "12", "3.5", "10.25", "0.0", ",", ", ", " ", "-", " - ",
           ".", ":", "<answer>", "</answer>", "<", ">", "'", "[", "]", "(", ")", "\t", "\n", "\r", "\x1c", "*",
           "circles", "square", " to ", "answer is ", "1:05", "\u2013", "\uff13", "1234567890"]
_GOLDS = {
    "videossr_grounding": ["14.5-26.2", "3-4", "0.0-1.0", "1.5 - 2.25", "123456789.123456789-999999999.9"],
    "videossr_counting": ["3,1,4", "0,0,0", "3, 1, 4", "10,0,16", "999999999,1,2"],
    "videossr_jigsaw": ["341562", "1", "21", "71836245", "123456789"],
}


@needs_c
@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(sorted(_GOLDS)), st.data(), st.lists(st.sampled_from(_PIECES), max_size=10),
       st.sampled_from(["smooth", "strict"]))
def test_c_and_python_paths_agree(source, data, pieces, mode):
    gold = data.draw(st.sampled_from(_GOLDS[source]))
    _same(source, "".join(pieces), gold, mode=mode)
    # the gold itself, and the gold with one piece put in somewhere
    where = data.draw(st.integers(0, len(gold)))
    _same(source, gold, gold, mode=mode)
    _same(source, gold[:where] + (pieces[0] if pieces else "") + gold[where:], gold, mode=mode)


@needs_c
def test_the_c_path_strips_the_characters_answers_py_gives_it():
    """The C code has no character set of its own: videossr.rewards hands it answers.WRAP_CHARS and STRIP_CHARS."""
    from videossr import _speedups
    from videossr.tasks.answers import STRIP_CHARS, WRAP_CHARS

    assert _fast("videossr_counting", "#3,1,4#", "3,1,4") == (3, 1, 4)  # '#' is no wrapper: Python reads it
    try:
        _speedups.configure(WRAP_CHARS + "#", STRIP_CHARS)
        assert _fast("videossr_counting", "#3,1,4#", "3,1,4")["score"] == 1.0
        with pytest.raises(TypeError):
            _speedups.configure("\u00a0", STRIP_CHARS)
        assert _fast("videossr_counting", "3,1,4", "3,1,4") is None  # a failed configure leaves it unconfigured
    finally:
        _speedups.configure(WRAP_CHARS, STRIP_CHARS)
    assert _fast("videossr_counting", "#3,1,4#", "3,1,4") == (3, 1, 4)
    assert _fast("videossr_grounding", "\x1c 2.5-4.0 \x0b", "2.5-4.0")["score"] == 1.0
