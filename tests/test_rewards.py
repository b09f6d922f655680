"""The paper's score formulas on hand-computed examples, the data_source table, and compute_score's guarantees."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videossr.tasks import metrics
from videossr.rewards import RESULT_KEYS, compute_score
from videossr.tasks import TASKS, known_data_sources, task_for_source

@pytest.fixture(autouse=True)
def _fresh_report_log():
    """Broken rows are logged once per process; start every test with none reported yet."""
    import videossr.rewards

    videossr.rewards._REPORTED.clear()
    yield


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


def _digits(s: str) -> tuple[int, ...]:
    return tuple(int(c) for c in s)


# The paper's Eq. 7: E = sum over clip labels k of |position of k in the prediction - position of k in the truth|,
# R = 1 - E / floor(n^2 / 2). Each E below was worked out by hand, label by label (0-based positions).
@pytest.mark.parametrize(
    "gt, pred, E",
    [
        # n = 6, E_max = 18
        ("341562", "341562", 0),
        # the issue's example: 6 and 2 swap places (label 6: 4 -> 5, label 2: 5 -> 4)
        ("341562", "341526", 2),
        # first two swapped (label 3: 0 -> 1, label 4: 1 -> 0)
        ("341562", "431562", 2),
        ("213456", "123456", 2),
        # full reversal: labels move 5, 3, 1, 1, 3, 5
        ("123456", "654321", 18),
        # rotated by three: every label moves 3 (the digit-wise difference would give 10, score 0.444)
        ("341562", "562341", 18),
        # labels 1..6 move 0, 4, 3, 3, 2, 4 (digit-wise difference: 12, score 0.333)
        ("341562", "621345", 16),
        # labels 3 and 1 trade places two apart: 2 + 2
        ("341562", "143562", 4),
        # n = 8, E_max = 32
        ("71836254", "71836245", 2),
        # full reversal: 7 + 5 + 3 + 1 + 1 + 3 + 5 + 7
        ("12345678", "87654321", 32),
        # label 7 moves from the front to position 2, labels 1 and 8 move up one (digit-wise difference: 14)
        ("71836254", "18736254", 4),
    ],
)
def test_jigsaw_displacement_hand_cases(gt, pred, E):
    n = len(gt)
    assert metrics.jigsaw_displacement(_digits(pred), _digits(gt)) == E
    assert metrics.jigsaw_score(_digits(pred), _digits(gt)) == pytest.approx(1 - E / (n * n // 2))
    assert metrics.jigsaw_strict(_digits(pred), _digits(gt)) == (1.0 if pred == gt else 0.0)


def test_jigsaw_issue_example_scores_0889():
    assert metrics.jigsaw_score(_digits("341526"), _digits("341562")) == pytest.approx(0.8888888888888888)


_perms = st.integers(2, 9).flatmap(lambda n: st.tuples(st.permutations(range(1, n + 1)), st.permutations(range(1, n + 1))))


@settings(max_examples=300, deadline=None)
@given(_perms)
def test_jigsaw_score_is_the_displacement_of_each_label(pair):
    pred, gt = tuple(pair[0]), tuple(pair[1])
    n = len(gt)
    pred_s, gt_s = "".join(map(str, pred)), "".join(map(str, gt))
    displacement = sum(abs(pred_s.index(str(k)) - gt_s.index(str(k))) for k in range(1, n + 1))
    assert metrics.jigsaw_score(pred, gt) == pytest.approx(1 - displacement / (n * n // 2))
    assert 0.0 <= metrics.jigsaw_score(pred, gt) <= 1.0


@settings(max_examples=300, deadline=None)
@given(_perms, st.data())
def test_jigsaw_neighbour_swap_costs_exactly_two_over_emax(pair, data):
    gt = list(pair[1])
    n = len(gt)
    i = data.draw(st.integers(0, n - 2))
    pred = gt[:]
    pred[i], pred[i + 1] = pred[i + 1], pred[i]
    assert metrics.jigsaw_score(tuple(pred), tuple(gt)) == pytest.approx(1 - 2 / (n * n // 2))


@pytest.mark.parametrize(
    "pred, gt",
    [((1, 1, 3, 4, 5, 6), (1, 2, 3, 4, 5, 6)), ((1, 2, 3), (1, 2, 3, 4)), ((0, 1, 2), (1, 2, 3))],
)
def test_jigsaw_non_permutation_scores_zero(pred, gt):
    assert metrics.jigsaw_score(pred, gt) == 0.0


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
        task = task_for_source(source)
        r = compute_score(source, gt_of_task[task.name], gt_of_task[task.name])
        assert r == {"score": 1.0, "format_ok": 1.0, "strict": 1.0, "task_id": float(task.task_id), "gold_ok": 1.0}
    assert {t.data_source for t in TASKS.values()} <= set(known_data_sources())
    assert {t.task_id for t in TASKS.values()} == {0, 1, 2}


def test_fallback_to_verl_default_has_same_keys():
    r = compute_score(data_source="openai/gsm8k", solution_str="so #### 42", ground_truth="42")
    assert r == {"score": 1.0, "format_ok": 1.0, "strict": 1.0, "task_id": -1.0, "gold_ok": 1.0}
    r = compute_score(data_source="openai/gsm8k", solution_str="no number", ground_truth="42")
    assert set(r) == set(RESULT_KEYS) and r["score"] == 0.0 and r["format_ok"] == 0.0


@pytest.mark.parametrize("source", ["not_a_source", None, 3, ""])
def test_unknown_source_scores_zero_flagged_and_logged_once(source, caplog):
    """Inside training the reward never raises: a data_source nobody knows is a broken row, scored 0."""
    caplog.set_level("WARNING", logger="videossr.rewards")
    for _ in range(3):
        r = compute_score(data_source=source, solution_str="1", ground_truth="1")
        assert r == {"score": 0.0, "format_ok": 0.0, "strict": 0.0, "task_id": -1.0, "gold_ok": 0.0}
    assert len([m for m in caplog.messages if repr(source) in m]) == 1  # once per distinct value


@pytest.mark.parametrize("source", ["VIDEOSSR_JIGSAW", " videossr_jigsaw", "videossr_jigsaw ", "Shuffled", "\tjigsaw\n"])
def test_data_source_names_are_normalised(source):
    r = compute_score(data_source=source, solution_str="341526", ground_truth="341562")
    assert r["task_id"] == 2.0 and r["gold_ok"] == 1.0 and r["score"] == pytest.approx(1 - 2 / 18)


@pytest.mark.parametrize(
    "source, gt", [("videossr_grounding", "4.0-2.0"), ("videossr_grounding", "a-b"), ("videossr_counting", "3,1"),
                   ("videossr_jigsaw", "341561"), ("videossr_jigsaw", ""), ("videossr_grounding", None),
                   ("videossr_grounding", [3.0, 6.0])]
)
def test_bad_ground_truth_scores_zero_is_flagged_and_logged_naming_it(source, gt, caplog):
    caplog.set_level("WARNING", logger="videossr.rewards")
    r = compute_score(data_source=source, solution_str="1", ground_truth=gt)
    assert r["score"] == 0.0 and r["gold_ok"] == 0.0 and r["strict"] == 0.0
    assert r["task_id"] == float(task_for_source(source).task_id)
    assert any(repr(gt) in m for m in caplog.messages) or any(str(gt) in m for m in caplog.messages)
    # the strictness lives in the parser the validator uses
    with pytest.raises(ValueError):
        task_for_source(source).score_text("1", gt)


def test_bad_mode_raises():
    with pytest.raises(ValueError, match="'fuzzy'"):
        compute_score("videossr_jigsaw", "123456", "123456", mode="fuzzy")


def test_ground_truth_spacing_is_tolerated():
    assert compute_score("counting", "3,1,4", "3, 1, 4")["score"] == 1.0
    assert compute_score("grounding", "3.0-5.0", "3.0 - 5.0")["score"] == 1.0


def test_score_text_is_what_evaluation_uses():
    assert TASKS["counting"].score_text("3,1,5", "3,1,4", mode="strict").value == pytest.approx(2 / 3)
    assert TASKS["jigsaw"].score_text("341562", "341562").value == 1.0


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


# --- whatever verl hands it: odd extra_info, solution_str and ground_truth types -----------------------------------

_RIGHT = {"score": 1 - 2 / 18, "format_ok": 1.0, "strict": 0.0, "task_id": 2.0, "gold_ok": 1.0}  # 341526 vs 341562
_BROKEN = {"score": 0.0, "format_ok": 0.0, "strict": 0.0, "task_id": 2.0, "gold_ok": 0.0}


@pytest.mark.parametrize(
    "extra_info",
    [
        None,
        pd.NA,
        float("nan"),
        np.float32("nan"),
        np.array([1, 2, 3]),
        np.array([]),
        np.array({"index": 3}, dtype=object),
        "index=3",
        [{"index": 3}],
        {"index": np.int64(3), "split": np.array(["train", "val"]), "tags": pd.NA, "score": np.float64("nan")},
        {"index": pd.NA, "recipe": None, "made": pd.NA},
        {"recipe": pd.NA, "made": pd.NA},
        {"recipe": float("nan"), "made": np.bool_(False)},
        {"recipe": np.array([]), "made": None},
        {"recipe": '{"task": "jigsaw"}', "made": np.bool_(True)},
        {"recipe": np.array(['{"task": "jigsaw"}']), "made": np.array([True])},
        {"recipe": '{"task": "jigsaw"}', "made": True, "params": np.array([1.5, 2.5])},
    ],
    ids=repr,
)
def test_odd_extra_info_is_scored_as_a_plain_row(extra_info):
    for mode in ("smooth", "strict"):
        r = compute_score("videossr_jigsaw", "341526", "341562", extra_info=extra_info, mode=mode)
        assert r == pytest.approx({**_RIGHT, "score": _RIGHT["score"] if mode == "smooth" else 0.0})
        assert list(r) == list(RESULT_KEYS)


@pytest.mark.parametrize(
    "made",
    [None, False, np.bool_(False), pd.NA, float("nan"), np.array([]), 0, np.int64(0), ""],
    ids=repr,
)
def test_a_recipe_row_whose_frames_were_never_made_is_flagged_whatever_its_flag_holds(made, caplog):
    caplog.set_level("WARNING", logger="videossr.rewards")
    for recipe in ('{"task": "jigsaw"}', np.array(['{"task": "jigsaw"}'], dtype=object)):
        extra_info = {"recipe": recipe, "made": made, "index": 7}
        assert compute_score("videossr_jigsaw", "341562", "341562", extra_info=extra_info) == _BROKEN
    assert any("recipe row" in m and "7" in m for m in caplog.messages)


@pytest.mark.parametrize(
    "solution_str, expected",
    [
        (np.str_("341526"), _RIGHT),
        (b"341526", _RIGHT),
        (bytearray(b"<answer>341526</answer>"), _RIGHT),
        (b"\xff\xfe341526", _RIGHT),  # undecodable bytes are replaced, the answer still reads
        (None, {**_RIGHT, "score": 0.0, "format_ok": 0.0}),
        (341526, {**_RIGHT, "score": 0.0, "format_ok": 0.0}),  # not text: states nothing
        (np.array(["341526"]), {**_RIGHT, "score": 0.0, "format_ok": 0.0}),
        (pd.NA, {**_RIGHT, "score": 0.0, "format_ok": 0.0}),
        (float("nan"), {**_RIGHT, "score": 0.0, "format_ok": 0.0}),
    ],
    ids=repr,
)
def test_solution_str_of_any_type(solution_str, expected):
    assert compute_score("videossr_jigsaw", solution_str, "341562", extra_info={"index": 0}) == pytest.approx(expected)


@pytest.mark.parametrize(
    "ground_truth",
    [np.array(["341562"]), np.array([3, 4, 1, 5, 6, 2]), ["341562"], [3, 4, 1, 5, 6, 2], pd.NA, float("nan"),
     np.float64("nan"), b"341562", {"answer": "341562"}, np.array([])],
    ids=repr,
)
def test_ground_truth_that_is_not_a_string_is_a_broken_row(ground_truth, caplog):
    caplog.set_level("WARNING", logger="videossr.rewards")
    for mode in ("smooth", "strict"):
        assert compute_score("videossr_jigsaw", "341562", ground_truth, mode=mode) == _BROKEN
    assert len([m for m in caplog.messages if "jigsaw ground truth" in m]) == 1


def test_numpy_strings_as_source_and_ground_truth_are_read_as_text():
    r = compute_score(np.str_("shuffled"), np.str_("341526"), np.str_("341562"), extra_info=pd.NA)
    assert r == pytest.approx(_RIGHT)


@pytest.mark.parametrize("source", [pd.NA, float("nan"), np.array(["videossr_jigsaw"]), b"videossr_jigsaw", None])
def test_odd_data_source_is_a_broken_row(source):
    r = compute_score(source, "341562", "341562", extra_info=pd.NA)
    assert r == {"score": 0.0, "format_ok": 0.0, "strict": 0.0, "task_id": -1.0, "gold_ok": 0.0}


def test_a_huge_ground_truth_is_logged_cut_short(caplog):
    caplog.set_level("WARNING", logger="videossr.rewards")
    compute_score("videossr_counting", "1,1,1", "9" * 100_000)
    assert caplog.messages and all(len(m) < 1000 for m in caplog.messages)


# --- long answers: read in one pass (their timing is in benchmarks/bench_rewards.py) -------------------------------


@pytest.mark.parametrize(
    "source, gold, tail, expected",
    [("videossr_jigsaw", "341562", "341562", 1.0), ("videossr_counting", "3,1,4", "3,1,5", (2 + 0.75) / 3),
     ("videossr_grounding", "2.0-4.0", "1.0-3.0", 1 / 3)],
)
def test_many_unclosed_answer_tags_read_what_follows_the_last(source, gold, tail, expected):
    text = "<answer>" * 18725 + tail  # 150 KB: the issue's case
    assert compute_score(source, text, gold)["score"] == pytest.approx(expected)
    closed = "<answer>x</answer>" * 5000 + f"<answer>{tail}</answer>" + "</answer>" * 5000
    assert compute_score(source, closed, gold)["score"] == pytest.approx(expected)
