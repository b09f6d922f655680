"""The paper's score formulas on hand-computed examples, the data_source table, and compute_score's guarantees."""

from __future__ import annotations

import contextlib
import io
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videossr import metrics
from videossr.data_sources import DATA_SOURCES, known_data_sources, task_of
from videossr.rewards import RESULT_KEYS, TASK_IDS, compute_score, score_answer

# --- metrics: hand-computed ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pred, gt, expected",
    [
        ((1.0, 3.0), (2.0, 4.0), 1 / 3),  # overlap 1 over union 3
        ((2.0, 4.0), (2.0, 4.0), 1.0),
        ((0.0, 10.0), (2.0, 4.0), 0.2),
        ((5.0, 6.0), (2.0, 4.0), 0.0),  # disjoint
        ((4.0, 6.0), (2.0, 4.0), 0.0),  # touching
        ((4.0, 2.0), (2.0, 4.0), 0.0),  # reversed prediction
        ((3.0, 3.0), (2.0, 4.0), 0.0),  # zero length
        ((2.0, 4.0), (4.0, 2.0), 0.0),  # reversed ground truth
        ((float("nan"), 4.0), (2.0, 4.0), 0.0),
        ((2.0, float("inf")), (2.0, 4.0), 0.0),
        ((-1.0, 1.0), (0.0, 2.0), 1 / 3),
    ],
)
def test_temporal_iou(pred, gt, expected):
    assert metrics.temporal_iou(pred, gt) == pytest.approx(expected)


def test_temporal_iou_malformed_inputs_score_zero():
    assert metrics.temporal_iou((1.0,), (0.0, 2.0)) == 0.0
    assert metrics.temporal_iou(None, (0.0, 2.0)) == 0.0
    assert metrics.temporal_iou(("a", "b"), (0.0, 2.0)) == 0.0


@pytest.mark.parametrize(
    "pred, gt, smooth, strict",
    [
        ((3, 1, 4), (3, 1, 4), 1.0, 1.0),
        ((3, 1, 5), (3, 1, 4), (1 + 1 + 0.75) / 3, 2 / 3),
        ((6, 1, 4), (3, 1, 4), (0 + 1 + 1) / 3, 2 / 3),  # |6-3|/3 = 1 -> 0
        ((9, 0, 0), (3, 1, 4), 0.0, 0.0),  # clipped at 0, never negative
        ((2, 2, 2), (4, 4, 4), 0.5, 0.0),
        ((0, 1, 4), (0, 1, 4), 1.0, 1.0),  # gt 0 counted exactly
        ((1, 1, 4), (0, 1, 4), 2 / 3, 2 / 3),  # gt 0 missed
    ],
)
def test_counting(pred, gt, smooth, strict):
    assert metrics.counting_score(pred, gt) == pytest.approx(smooth)
    assert metrics.counting_strict(pred, gt) == pytest.approx(strict)


@pytest.mark.parametrize("n, expected", [(1, 0), (2, 2), (3, 4), (6, 18), (8, 32)])
def test_max_displacement_is_the_largest_over_permutations(n, expected):
    assert metrics.max_displacement(n) == expected
    if n <= 6:
        import itertools

        ident = list(range(1, n + 1))
        worst = max(sum(abs(a - b) for a, b in zip(p, ident)) for p in itertools.permutations(ident))
        assert worst == expected


@pytest.mark.parametrize(
    "pred, gt, smooth",
    [
        ((3, 4, 1, 5, 6, 2), (3, 4, 1, 5, 6, 2), 1.0),
        ((4, 3, 1, 5, 6, 2), (3, 4, 1, 5, 6, 2), 1 - 2 / 18),  # one adjacent swap
        ((6, 5, 4, 3, 2, 1), (1, 2, 3, 4, 5, 6), 0.0),  # full reversal: displacement 18 = E_max
        ((2, 1, 3, 4, 5, 6), (1, 2, 3, 4, 5, 6), 1 - 2 / 18),
        ((1, 2, 3, 4, 5, 6, 7, 8), (8, 7, 6, 5, 4, 3, 2, 1), 0.0),
        ((2, 1, 3, 4, 5, 6, 7, 8), (1, 2, 3, 4, 5, 6, 7, 8), 1 - 2 / 32),
        ((1, 1, 3, 4, 5, 6), (1, 2, 3, 4, 5, 6), 0.0),  # not a permutation
    ],
)
def test_jigsaw(pred, gt, smooth):
    assert metrics.jigsaw_score(pred, gt) == pytest.approx(smooth)
    assert metrics.jigsaw_strict(pred, gt) == (1.0 if tuple(pred) == tuple(gt) else 0.0)


# --- compute_score ------------------------------------------------------------------------------------------------

CASES = [
    # data_source, answer, ground truth, smooth, strict, format_ok
    ("videossr_grounding", "The answer is 3.0-4.5.", "3.0-5.0", 0.75, 0.75, 1.0),
    ("grounding", "<answer>4.0-2.0</answer>", "2.0-4.0", 0.0, 0.0, 1.0),
    ("videossr_grounding", "I cannot tell.", "2.0-4.0", 0.0, 0.0, 0.0),
    ("videossr_counting", "3, 1, 5", "3,1,4", (2 + 0.75) / 3, 2 / 3, 1.0),
    ("counting", "3,1", "3,1,4", 0.0, 0.0, 0.0),
    ("videossr_jigsaw", "431562", "341562", 1 - 2 / 18, 0.0, 1.0),
    ("jigsaw", "341562", "341562", 1.0, 1.0, 1.0),
    ("shuffled", "341562", "341562", 1.0, 1.0, 1.0),  # the reference generator's name for jigsaw
    ("shuffled", "341566", "341562", 0.0, 0.0, 0.0),  # repeated digit
    ("videossr_jigsaw", "71836254", "71836254", 1.0, 1.0, 1.0),  # hard: 8 clips
]


@pytest.mark.parametrize("source, answer, gt, smooth, strict, ok", CASES)
def test_compute_score_table(source, answer, gt, smooth, strict, ok):
    r = compute_score(data_source=source, solution_str=answer, ground_truth=gt, extra_info={"index": 0})
    assert set(r) == set(RESULT_KEYS)
    assert r["score"] == pytest.approx(smooth)
    assert r["strict"] == pytest.approx(strict)
    assert r["format_ok"] == ok
    s = compute_score(data_source=source, solution_str=answer, ground_truth=gt, mode="strict")
    assert s["score"] == pytest.approx(strict)


def test_every_known_source_is_scored():
    gt_of_task = {"grounding": "1.0-2.0", "counting": "1,1,1", "jigsaw": "123456"}
    for source in known_data_sources():
        task = task_of(source)
        r = compute_score(source, gt_of_task[task], gt_of_task[task])
        assert r == {"score": 1.0, "format_ok": 1.0, "strict": 1.0, "task_id": float(TASK_IDS[task])}
    assert set(DATA_SOURCES.values()) <= set(known_data_sources())


def test_fallback_to_verl_default_has_same_keys():
    r = compute_score(data_source="openai/gsm8k", solution_str="so #### 42", ground_truth="42")
    assert r == {"score": 1.0, "format_ok": 1.0, "strict": 1.0, "task_id": -1.0}
    r = compute_score(data_source="openai/gsm8k", solution_str="no number", ground_truth="42")
    assert set(r) == set(RESULT_KEYS) and r["score"] == 0.0 and r["format_ok"] == 0.0


def test_unknown_source_raises_verls_error():
    with pytest.raises(NotImplementedError, match="not_a_source"):
        compute_score(data_source="not_a_source", solution_str="1", ground_truth="1")


@pytest.mark.parametrize(
    "source, gt", [("videossr_grounding", "4.0-2.0"), ("videossr_grounding", "a-b"), ("videossr_counting", "3,1"),
                   ("videossr_jigsaw", "341561"), ("videossr_jigsaw", "")]
)
def test_bad_ground_truth_raises_naming_it(source, gt):
    with pytest.raises(ValueError, match=repr(gt).replace("(", r"\(")):
        compute_score(data_source=source, solution_str="1", ground_truth=gt)


def test_bad_mode_raises():
    with pytest.raises(ValueError, match="'fuzzy'"):
        compute_score("videossr_jigsaw", "123456", "123456", mode="fuzzy")


def test_ground_truth_spacing_is_tolerated():
    assert compute_score("counting", "3,1,4", "3, 1, 4")["score"] == 1.0
    assert compute_score("grounding", "3.0-5.0", "3.0 - 5.0")["score"] == 1.0


def test_score_answer_is_what_evaluation_uses():
    assert score_answer("counting", "3,1,5", "3,1,4", mode="strict").value == pytest.approx(2 / 3)
    assert score_answer("jigsaw", "341562", "341562").value == 1.0


GT = {"videossr_grounding": "12.5-20.0", "videossr_counting": "3,1,4", "videossr_jigsaw": "341562",
      "shuffled": "71836254"}


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(sorted(GT)),
    st.one_of(
        st.text(),
        st.binary().map(lambda b: b.decode("latin-1")),
        st.sampled_from(["nan", "inf", "-inf", "nan-nan", "inf-1e999", "1e999,1,1", "\x00" * 50, "9" * 5000]),
    ),
    st.sampled_from(["smooth", "strict"]),
)
def test_compute_score_total_and_bounded(source, text, mode):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        r = compute_score(data_source=source, solution_str=text, ground_truth=GT[source], mode=mode)
    assert set(r) == set(RESULT_KEYS)
    assert all(isinstance(v, float) and math.isfinite(v) for v in r.values())
    assert 0.0 <= r["score"] <= 1.0 and 0.0 <= r["strict"] <= 1.0
    assert r["format_ok"] in (0.0, 1.0)
    if r["format_ok"] == 0.0:
        assert r["score"] == 0.0
    assert out.getvalue() == "" and err.getvalue() == ""


def test_huge_answer_is_scored():
    text = "blah " * 200_000 + "<answer>12.5-20.0</answer>"
    assert compute_score("videossr_grounding", text, "12.5-20.0")["score"] == 1.0
