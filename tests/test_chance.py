"""Chance levels: the uniform guesser of each task, its simulated expected score against the closed forms, and the
chance column of VIUBench's table (computed, not written into summary.json)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from videossr.evaluation.chance import each_row_chance, params_chance, rows_chance, synthetic_videos
from videossr.evaluation.viubench import subtype_chance
from videossr.sampling.store import TaskContext
from videossr.tasks import get_task
from videossr.evaluation.viubench import SUBTYPE_NAMES, format_summary, summarize


@pytest.mark.parametrize("task_name, preset", [("counting", "easy"), ("counting", "hard"), ("jigsaw", "easy"),
                                               ("jigsaw", "hard"), ("grounding", "ZoomOut"), ("grounding", "train")])
def test_guesses_are_answers_of_the_task(task_name, preset):
    task = get_task(task_name)
    videos = synthetic_videos()
    ctx = TaskContext(frames_root=".", pool=videos)
    rng = np.random.default_rng(0)
    for _ in range(50):
        draft = task.draw(videos[0], rng, task.preset(preset), ctx)
        guess = task.guess(rng, draft.params)
        assert task.score_text(guess, draft.answer).format_ok, guess  # a guess always states an answer
        if task_name != "grounding":
            task.parse_gold(guess)  # counting / jigsaw guesses lie inside the answer space itself


def test_counting_guesses_cover_one_to_f_times_k():
    task = get_task("counting")
    rng = np.random.default_rng(1)
    seen = {int(c) for _ in range(2000) for c in task.guess(rng, {"max_frames_per_class": 4, "max_instances": 4}).split(",")}
    assert seen == set(range(1, 17))


def test_simulated_chance_matches_the_closed_forms():
    easy, hard = subtype_chance("counting_easy"), subtype_chance("counting_hard")
    # 3 classes x 16000 pairs: the standard error of 1/(F*K) is below 0.15 points
    assert easy.strict == pytest.approx(1 / 9, abs=0.006)  # the paper's 11.1
    assert hard.strict == pytest.approx(1 / 16, abs=0.005)  # the paper's 6.3
    assert subtype_chance("jigsaw_easy").strict == pytest.approx(1 / math.factorial(6), abs=0.001)
    assert subtype_chance("jigsaw_hard").strict < 0.001
    for name in SUBTYPE_NAMES:
        c = subtype_chance(name)
        assert 0 <= c.strict <= c.smooth <= 1 and c.n == 16000
        if name.startswith("grounding"):
            assert c.smooth == c.strict and 0.1 < c.smooth < 0.35  # IoU in both modes
    # a setting where guessing cannot miss
    one = params_chance("counting", get_task("counting").params(max_frames_per_class=1, max_instances=1), draws=50)
    assert one.smooth == one.strict == 1.0


def test_chance_is_seeded():
    params = get_task("jigsaw").preset("easy")
    assert params_chance("jigsaw", params, draws=200) == params_chance("jigsaw", params, draws=200)
    assert params_chance("jigsaw", params, draws=200) != params_chance("jigsaw", params, draws=200, seed=1)


def test_row_chance_from_rows():
    row = {"data_source": "videossr_counting", "reward_model": {"ground_truth": "2,1,3"},
           "extra_info": {"params": json.dumps({"max_frames_per_class": 3, "max_instances": 3})}}
    c = rows_chance([row], budget=9000)
    assert c.strict == pytest.approx(1 / 9, abs=0.01) and c.n == 9000
    foreign = {"data_source": "openai/gsm8k", "reward_model": {"ground_truth": "42"}, "extra_info": {}}
    assert rows_chance([foreign]) is None
    chances = each_row_chance({"a": row, "b": foreign})
    assert chances["b"] is None and chances["a"] == each_row_chance({"a": row, "c": row})["a"]  # per-row streams


def test_viubench_table_prints_a_chance_column_outside_the_summary():
    records = [{"id": f"{n}_{k}", "subtype": n, "score": 0.5, "parsed": [1], "error": None}
               for n in SUBTYPE_NAMES for k in range(2)]
    summary = summarize(records)
    assert "chance" not in json.dumps(summary)  # the pinned summary.json is unchanged
    table = format_summary(summary)
    header, *lines = table.splitlines()
    assert header.split()[:3] == ["subtype", "score", "chance"]
    by_title = {line[:24].strip(): line[24:].split() for line in lines}
    assert by_title["Counting Easy"][1] == f"{100 * subtype_chance('counting_easy').strict:.1f}"
    assert by_title["Counting Hard"][1] == f"{100 * subtype_chance('counting_hard').strict:.1f}"
    assert by_title["Jigsaw Hard"][1] == "0.0"
    assert by_title["Overall"][0] == "50.0"
    partial = format_summary(summarize(records[:2]))
    assert "Overall (partial)" in partial and "missing" in partial
