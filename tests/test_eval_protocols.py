"""The two protocols on hand-written answers: lmms-eval's quirks as the README lists them, and the strict readers.

The agreement with lmms-eval's own code on hundreds of outputs is tests/test_eval_lmms_agreement.py; these cases
pin down what each quirk does, so a reader of eval/README.md can check its claims here.
"""

from __future__ import annotations

import random

import pytest

from videossr.evaluation.benchmarks.lmms import (
    NO_ANSWER,
    charades_times,
    interval_iou,
    longvideobench_letter,
    mcq_letter,
    mmmu_open_correct,
    mmmu_open_preds,
    mvbench_answer,
    prefixed_letter,
    timelens_times,
    vcrbench_order,
)
from videossr.evaluation.benchmarks.tempcompass import _strict_caption
from videossr.evaluation.choice import strict_yes_no
from videossr.evaluation.benchmarks.vcrbench import strict_order
from videossr.evaluation.benchmarks.videommmu import option_lines, strict_open


@pytest.mark.parametrize("text,letter", [
    ("B", "B"), ("(C) a dog", "C"), ("The answer is D.", "D"), ("a", ""), ("Based on the video", "B"),
    ("A or B", "A"), ("I think B", "B"), ("", ""), ("xyz", ""),
])
def test_mcq_letter(text, letter):
    assert mcq_letter(text, "ABCD") == letter


def test_mvbench_reading():
    assert mvbench_answer("(B) the door") == "B"
    assert mvbench_answer("a dog") == "A"  # the article reads as option A
    assert mvbench_answer("C. a cup") == "C"
    assert mvbench_answer("None of these") == "none of these"  # no letter: the lowered text, never equal to one


def test_charades_reading():
    assert charades_times("The event happens in 5.0 - 10.0 seconds.") == [[5.0, 10.0]]
    assert charades_times("from 5 to 10") == [[5.0, 10.0]]  # "to" becomes "-"
    assert charades_times("10 - 5") == [[5.0, 10.0]]  # reversed: swapped
    assert charades_times("1.0-2.0 and 3.0-4.0") == [[1.0, 2.0]]  # the first of several
    assert charades_times("00:05 - 00:10") == [[5.0, 10.0]]
    assert charades_times("no idea") == []
    assert interval_iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert interval_iou((0, 1), (2, 3)) == 0.0


def test_timelens_reading_keeps_reversed_pairs():
    assert timelens_times("10 - 5") == [(10.0, 5.0)]
    assert interval_iou((10.0, 5.0), (2.0, 12.0)) == 0.0
    assert timelens_times("at 1:30 until 2:00") == [(90.0, 120.0)]
    assert timelens_times("the event: 3 4 5") == [(3.0, 4.0)]


def test_longvideobench_guess_and_videott_none():
    rng = random.Random(0)
    assert longvideobench_letter("The answer is C", "ABCD", rng) == ("C", False)
    letter, guessed = longvideobench_letter("i cannot tell", "ABC", random.Random("x"))
    assert guessed and letter == random.Random("x").choice(["A", "B", "C"])
    assert prefixed_letter("i cannot tell") == ""  # Video-TT: nothing guessed
    assert prefixed_letter("Based on it, A") == "B"  # the first capital A-E anywhere


def test_vcrbench_orders():
    assert vcrbench_order("Correct order: 3, 1, 2", 3) == [3, 1, 2]
    assert vcrbench_order("Clip 2, Clip 3, Clip 1", 3) == [2, 3, 1]
    assert vcrbench_order("3, 1", 3) == [0, 0, 0]
    assert vcrbench_order("<think>1, 2, 3</think>Correct order: 2, 1, 3", 3) == [2, 1, 3]
    assert strict_order("Correct order: Clip 3, Clip 1, Clip 2", 3) == [3, 1, 2]
    assert strict_order("Correct order: 3, 1, 2\nCorrect order: 1, 2, 3", 3) is None  # two different answers
    assert strict_order("312", 3) == [3, 1, 2]
    assert strict_order("Correct order: 10, 1, 2, 3, 4, 5, 6, 7, 8, 9", 10) == [10, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert strict_order("maybe 1 then 2", 3) is None


def test_videommmu_open_answers():
    assert mmmu_open_preds("") == NO_ANSWER
    assert mmmu_open_correct("12.5", mmmu_open_preds("So the result is 12.50"))
    assert mmmu_open_correct("photosynthesis", mmmu_open_preds("It is photosynthesis."))
    # the tail after the last "is " wins, also inside a word: "photosynthes|is in plants" leaves "in plants"
    assert mmmu_open_preds("It is photosynthesis in plants") == ["in plants"]
    assert not mmmu_open_correct("x", mmmu_open_preds("the box"))  # a one-letter gold matches only as a word
    assert mmmu_open_correct("3", mmmu_open_preds("The answer is 7, or 3"))  # any number read counts
    assert strict_open("The answer is 7, or 3", "3") == (None, 0.0)  # two numbers: not read
    assert strict_open("Final answer: 1,200", "1200") == (1200.0, 1.0)
    assert strict_open("Photosynthesis.", "photosynthesis") == ("photosynthesis", 1.0)
    assert option_lines(["A. x", "B. y"]) == "A. x\nB. y" and option_lines(["x", "y"]) == "A. x\nB. y"


def test_tempcompass_strict():
    q = "Which caption matches?\nCaption A: he sits, then jumps\nCaption B: he jumps, then sits"
    assert _strict_caption("Caption B", q) == "B"
    assert _strict_caption("he sits, then jumps", q) == "A"
    assert _strict_caption("A or B", q) is None
    q1 = "Which sentence?\nOption 1: left then right\nOption 2: right then left"
    assert _strict_caption("Option 2.", q1) == "2" and _strict_caption("right then left", q1) == "2"
    assert strict_yes_no("No, it goes right.") == "no" and strict_yes_no("yes and no") is None


def test_qvhighlights_release_scored_as_the_official_code(tmp_path):
    """moment_detr's compute_mr_r1 on hand-computed cases: the prediction against the window it overlaps most."""
    import json

    from videossr.evaluation.benchmarks.registry import get_benchmark

    rows = [
        {"qid": 1, "query": "a man waves", "duration": 150, "vid": "abc_0.0_150.0",
         "relevant_windows": [[0, 10], [20, 40]]},
        {"qid": 2, "query": "dogs run", "duration": 150, "vid": "def_30.0_180.0", "relevant_windows": [[100, 110]]},
        {"qid": 3, "query": "a cat", "duration": 150, "vid": "ghi_0.0_150.0", "relevant_windows": [[50, 60]]},
    ]
    (tmp_path / "highlight_val_release.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    bench = get_benchmark("QVHighlights")(tmp_path)
    docs = bench.load_items()
    assert [d.videos[0] for d in docs] == ["videos/abc_0.0_150.0.mp4", "videos/def_30.0_180.0.mp4",
                                           "videos/ghi_0.0_150.0.mp4"]
    answers = ["The event happens in 22 - 40 seconds.", "100 - 105", "no idea"]
    # qid 1: best window [20, 40], IoU 18/20 = 0.9; qid 2: 5/10 = 0.5; qid 3: unread, 0
    assert [bench.lmms_item(d, a)[1] for d, a in zip(docs, answers)] == pytest.approx([0.9, 0.5, 0.0])
    summary = bench.lmms_summary(list(zip(docs, answers)))
    assert summary["r1@0.5"] == pytest.approx(200 / 3) and summary["r1@0.7"] == pytest.approx(100 / 3)
    assert summary["miou"] == pytest.approx(140 / 3)
    assert bench.user_text(docs[0]).startswith("Please find the visual event described by the sentence 'a man waves'")
