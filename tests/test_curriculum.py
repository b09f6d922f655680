"""The curriculum's controller on scripted reward streams: up, down, holding inside the band, hysteresis, no move
before the minimum steps, groups of other rungs never deciding, and a resumed controller deciding exactly as an
uninterrupted one. Plus the per-step figures on hand-computed groups, the settings, the start rungs, the state's
file in a checkpoint folder, and the groups read back from verl's trajectory records."""

from __future__ import annotations

import json
import math
import random

import pytest

from videossr.datasets.build import DIFFICULTY_FORMAT
from videossr.tasks import TASKS, get_task
from videossr.training import curriculum
from videossr.training.curriculum import (STATE_NAME, Controller, Curriculum, CurriculumSettings, Group, group_stats,
                                          loader_lags, start_rungs)
from videossr.training.curriculum_verl import groups_from_records

LADDER = {"a": ("r0", "r1", "r2", "r3"), "b": ("s0", "s1", "s2")}


def _controller(start=None, **settings):
    settings = {"low": 0.2, "high": 0.8, **settings}
    return Controller(LADDER, start or {"a": 2, "b": 1}, CurriculumSettings(enable=True, **settings))


def _groups(task: str, rung: int, successes, n: int = 4) -> list[Group]:
    """One group per success rate: ``round(rate * n)`` rollouts correct (reward = strict = 1), the rest wrong."""
    out = []
    for rate in successes:
        k = round(rate * n)
        scores = tuple([1.0] * k + [0.0] * (n - k))
        out.append(Group(task, rung, scores, scores))
    return out


def _run(ctrl: Controller, task: str, rates, first_step: int = 1) -> list[int]:
    """Feed one step per rate (two groups at that success rate, drawn at the current rung); the rung after each."""
    rungs = []
    for i, rate in enumerate(rates):
        ctrl.observe(first_step + i, _groups(task, ctrl.rung[task], [rate, rate]))
        rungs.append(ctrl.rung[task])
    return rungs


def test_group_stats_hand_computed():
    groups = [Group("a", 0, (1.0, 1.0), (1.0, 1.0)),          # all correct, zero variance
              Group("a", 0, (0.5, 0.0), (0.0, 0.0)),          # informative reward, strict all wrong
              Group("a", 0, (0.25, 0.25), (0.0, 1.0))]        # zero variance reward, strict mixed
    s = group_stats(groups)
    assert s["groups"] == 3
    assert s["zero_variance"] == pytest.approx(2 / 3)
    assert s["all_correct"] == pytest.approx(1 / 3) and s["all_wrong"] == pytest.approx(1 / 3)
    assert s["mean_reward"] == pytest.approx((1 + 1 + 0.5 + 0 + 0.25 + 0.25) / 6)
    assert s["strict_success"] == pytest.approx(3 / 6)
    assert math.isnan(group_stats([])["mean_reward"])


def test_moves_up_when_mostly_all_correct():
    ctrl = _controller(hysteresis=2, min_steps=3)
    assert _run(ctrl, "a", [1.0] * 4) == [2, 2, 3, 3]  # moves after the 3rd step (min_steps), then holds 3 more
    (move,) = ctrl.moves
    assert move["from"] == "r2" and move["to"] == "r3" and move["direction"] == "up" and move["step"] == 3
    assert "> high 0.8" in move["reason"]
    assert _run(ctrl, "a", [1.0] * 5, first_step=5) == [3] * 5  # the top rung: nowhere to go
    assert ctrl.rung["b"] == 1  # a task without groups never moves


def test_moves_down_when_mostly_all_wrong():
    ctrl = _controller(hysteresis=2, min_steps=2)
    assert _run(ctrl, "a", [0.0] * 6) == [2, 1, 1, 0, 0, 0]
    assert [m["to"] for m in ctrl.moves] == ["r1", "r0"] and all("< low 0.2" in m["reason"] for m in ctrl.moves)


def test_holds_inside_the_band():
    ctrl = _controller(hysteresis=1, min_steps=1)
    assert _run(ctrl, "a", [0.25, 0.5, 0.75, 0.5, 0.25, 0.75] * 5) == [2] * 30
    assert ctrl.moves == []
    # the band's edges are inside it: 0.2 and 0.8 exactly hold (groups of 5 rollouts make them exact)
    for rate in (0.2, 0.8):
        ctrl.observe(ctrl.last_step + 1, _groups("a", 2, [rate], n=5))
    assert ctrl.moves == []


def test_hysteresis_one_step_beyond_the_band_does_not_move():
    ctrl = _controller(hysteresis=3, min_steps=1)
    # beyond the band on alternate sides, or beyond it twice then back inside: the run of steps restarts
    assert _run(ctrl, "a", [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.5, 1.0, 1.0, 0.0]) == [2] * 10
    assert _run(ctrl, "a", [1.0, 1.0, 1.0], first_step=11) == [2, 2, 3]  # three in a row: up
    assert ctrl.streak["a"] == 0 and ctrl.steps_at_rung["a"] == 0


def test_no_move_before_the_minimum_steps():
    ctrl = _controller(hysteresis=1, min_steps=5)
    assert _run(ctrl, "a", [0.0] * 5) == [2, 2, 2, 2, 1]
    assert _run(ctrl, "a", [1.0] * 5, first_step=6) == [1, 1, 1, 1, 2]  # the count restarts at the new rung


def test_groups_of_other_rungs_do_not_decide():
    """Prefetched samples drawn before a move carry their old rung: logged, never deciding."""
    ctrl = _controller(hysteresis=1, min_steps=1)
    for step in range(1, 6):
        metrics, moves = ctrl.observe(step, _groups("a", 3, [1.0, 1.0]) + _groups("a", 0, [0.0]))
        assert moves == [] and metrics["curriculum/a/groups_at_rung"] == 0
        assert metrics["curriculum/a/sample_rung"] == pytest.approx(2.0)  # (3 + 3 + 0) / 3
        assert metrics["curriculum/a/strict_success"] == pytest.approx(2 / 3)
    assert ctrl.rung["a"] == 2 and ctrl.steps_at_rung["a"] == 0
    # min_groups: one group at the rung is not enough when two are asked for
    ctrl = _controller(hysteresis=1, min_steps=1, min_groups=2)
    ctrl.observe(1, _groups("a", 2, [0.0]))
    assert ctrl.rung["a"] == 2
    ctrl.observe(2, _groups("a", 2, [0.0, 0.0]))
    assert ctrl.rung["a"] == 1


def test_metrics_per_task_each_step():
    ctrl = _controller(hysteresis=1, min_steps=1)
    metrics, _ = ctrl.observe(1, _groups("a", 2, [0.0, 0.5]) + _groups("b", 1, [1.0]))
    assert metrics["curriculum/a/rung"] == 2 and metrics["curriculum/a/move"] == 0  # 0.25 is inside the band
    assert metrics["curriculum/a/zero_variance"] == 0.5 and metrics["curriculum/a/mean_reward"] == 0.25
    assert metrics["curriculum/a/strict_success"] == 0.25 and metrics["curriculum/a/groups"] == 2
    assert metrics["curriculum/b/rung"] == 2 and metrics["curriculum/b/move"] == 1  # up, after the decision
    assert metrics["curriculum/b/sample_rung"] == 1 and metrics["curriculum/b/zero_variance"] == 1.0
    metrics, _ = ctrl.observe(2, [])
    assert metrics == {"curriculum/a/rung": 2.0, "curriculum/a/move": 0.0, "curriculum/b/rung": 2.0,
                       "curriculum/b/move": 0.0}
    ctrl.observe(2, [])  # the async trainers sample several batches per step
    with pytest.raises(ValueError, match="steps never go back"):
        ctrl.observe(1, [])


def _policy_stream(seed: int, steps: int):
    """A scripted stochastic policy: success probability by rung, rising with steps; groups at the current rung."""
    rng = random.Random(seed)

    def groups(ctrl: Controller, step: int) -> list[Group]:
        out = []
        for task, labels in ctrl.ladders.items():
            r = ctrl.rung[task]
            p = min(1.0, max(0.0, 0.3 + 0.01 * step - 0.25 * (r - 1)))
            for _ in range(3):
                rewards = tuple(float(rng.random() < p) for _ in range(4))
                out.append(Group(task, r, rewards, rewards))
        return out

    return groups


def test_resume_equals_uninterrupted():
    steps, cut = 60, 23
    whole = _controller(hysteresis=2, min_steps=3)
    stream = _policy_stream(7, steps)
    log_whole = [whole.observe(s, stream(whole, s)) for s in range(1, steps + 1)]

    first = _controller(hysteresis=2, min_steps=3)
    stream = _policy_stream(7, steps)
    log = [first.observe(s, stream(first, s)) for s in range(1, cut + 1)]
    saved = json.loads(json.dumps(first.state_dict()))  # what the checkpoint holds: plain JSON
    resumed = _controller(hysteresis=2, min_steps=3, start=None)
    resumed.load_state_dict(saved)
    log += [resumed.observe(s, stream(resumed, s)) for s in range(cut + 1, steps + 1)]

    assert log == log_whole
    assert resumed.state_dict() == whole.state_dict()
    assert len(whole.moves) >= 2  # the stream made the controller move, so the comparison means something


def test_state_that_does_not_fit_is_refused():
    ctrl = _controller()
    state = ctrl.state_dict()
    with pytest.raises(ValueError, match="not a curriculum state"):
        ctrl.load_state_dict({**state, "format": "other"})
    with pytest.raises(ValueError, match="rung 'r9' of task 'a' is not on its ladder"):
        ctrl.load_state_dict({**state, "rungs": {"a": "r9", "b": "s0"}})


@pytest.mark.parametrize("bad, match", [
    (dict(low=0.8, high=0.2), "low < high"),
    (dict(high=1.5), "low < high"),
    (dict(hysteresis=0), "hysteresis"),
    (dict(min_steps=1.5), "min_steps"),
    (dict(start="middle"), "start"),
])
def test_settings_are_validated(bad, match):
    with pytest.raises(ValueError, match=match):
        CurriculumSettings(**bad)


def test_settings_from_config_defaults_and_overrides():
    assert CurriculumSettings.from_config(None) == CurriculumSettings()
    s = CurriculumSettings.from_config({"enable": "true", "low": 0, "min_steps": 1, "checkpoint_dir": "x",
                                        "start_from": None})
    assert s.enable is True and s.low == 0.0 and s.min_steps == 1 and s.start_from is None
    with pytest.raises(ValueError, match="enable"):
        CurriculumSettings.from_config({"enable": "maybe"})


# ----------------------------------------------------------------------------------------------------------------
# The task table's ladders, start rungs, the shared object


def test_every_task_declares_a_ladder_with_the_paper_rung_marked():
    for task in TASKS.values():
        ladder = task.ladder
        assert len({r.label for r in ladder}) == len(ladder) >= 2
        assert ladder[task.paper_rung()].params == task.default_params  # the paper's setting is a rung
        assert all(isinstance(r.params, task.Params) for r in ladder)


def test_start_rungs(tmp_path):
    tasks = list(TASKS.values())
    assert start_rungs(CurriculumSettings(), tasks) == {t.name: t.paper_rung() for t in tasks}
    assert start_rungs(CurriculumSettings(start="easiest"), tasks) == {t.name: 0 for t in tasks}
    grounding, counting = get_task("grounding"), get_task("counting")
    difficulty = {"format": DIFFICULTY_FORMAT, "tasks": {
        "counting": {"variants": [{"label": "F1K1", "params": {"max_frames_per_class": 1, "max_instances": 1}}]},
        # what the sweep writes for grounding: one variant per perturbation kind; long segments -> the long rungs
        "grounding": {"variants": [
            {"label": "Mirror_len16-24", "params": {"perturbations": ["Mirror"], "min_len": 16, "max_len": 24}},
            {"label": "ZoomOut_len8-16", "params": {"perturbations": ["ZoomOut"], "min_len": 8, "max_len": 16}}]}}}
    path = tmp_path / "difficulty.json"
    path.write_text(json.dumps(difficulty))
    start = start_rungs(CurriculumSettings(start_from=str(path)), tasks)
    assert start["counting"] == 0
    assert grounding.ladder[start["grounding"]].label == "len16-24_obvious"  # the easiest of the nearest
    assert start["jigsaw"] == get_task("jigsaw").paper_rung()  # not in the file: the paper's
    assert counting.nearest_rung(counting.params(max_frames_per_class=4, max_instances=4)) == 3


def test_curriculum_shares_rungs_and_saves_and_resumes_like_verl(tmp_path):
    settings = CurriculumSettings(enable=True, hysteresis=1, min_steps=1)
    cur = Curriculum(settings)
    counting = get_task("counting")
    r0, params = cur.draw_params("counting")
    assert r0 == counting.paper_rung() and params == counting.default_params
    cur.observe(1, _groups("counting", r0, [0.0, 0.0]))
    assert cur.rung("counting") == r0 - 1 and cur.draw_params("counting")[1] == counting.ladder[r0 - 1].params
    assert cur.rung_of("counting", counting.ladder[0].params) == 0 and cur.rung_of("counting", "x") == -1

    # verl's layout: checkpoints/global_step_N/ and latest_checkpointed_iteration.txt (resume_mode auto)
    ckpt = tmp_path / "checkpoints"
    cur.save(ckpt / "global_step_1")
    (ckpt / "latest_checkpointed_iteration.txt").write_text("1")
    again = Curriculum(settings)
    assert again.resume({"resume_mode": "disable", "checkpoint_dir": str(ckpt)}) is None
    assert again.rung("counting") == r0
    assert again.resume({"resume_mode": "auto", "checkpoint_dir": str(ckpt)}) == ckpt / "global_step_1" / STATE_NAME
    assert again.rung("counting") == r0 - 1 and again.controller.last_step == 1
    third = Curriculum(settings)
    assert third.resume({"resume_mode": "resume_path", "resume_from_path": str(ckpt / "global_step_1")}) is not None
    assert third.controller.state_dict() == cur.controller.state_dict()
    # a checkpoint of a run without the curriculum: start as configured, with a warning
    (ckpt / "global_step_2").mkdir()
    (ckpt / "latest_checkpointed_iteration.txt").write_text("2")
    assert Curriculum(settings).resume({"resume_mode": "auto", "checkpoint_dir": str(ckpt)}) is None


def test_loader_lags_hand_computed():
    # whole-step loader batches: P = 2W batches requested ahead, so the step 2W + 1 on is the first at a new rung
    assert loader_lags(4, None, 0) == [1] * 4
    assert loader_lags(4, None, 1) == [3] * 4
    assert loader_lags(4, None, 4) == [9] * 4
    # 8 prompts in 4 batches of 2 (k = 4), 1 worker (P = 2): batches 0 and 1 of a step were made while the step
    # before took its batches 2 and 3 (lag 1 + ceil((2 - j) / 4) = 2); batches 2 and 3 are made in their own step
    assert loader_lags(8, 2, 1) == [2, 2, 2, 2, 1, 1, 1, 1]
    # one prompt per batch, 4 workers (P = 8) of 64 prompts: the first 8 are one step late
    assert loader_lags(64, 1, 4) == [2] * 8 + [1] * 56
    # 4 workers, batches of 8 (k = 8 = P): a whole step late
    assert loader_lags(64, 8, 4) == [2] * 64
    with pytest.raises(ValueError, match="must divide"):
        loader_lags(64, 24, 4)


class _Rungs:
    """Items carrying the rung their task was at when a loader worker made them."""

    def __init__(self, cur: Curriculum, task: str) -> None:
        self.cur, self.task = cur, task

    def __len__(self) -> int:
        return 400

    def __getitem__(self, i: int) -> int:
        return self.cur.rung(self.task)


@pytest.mark.parametrize("workers, gen_batch", [(0, None), (1, None), (1, 2), (2, 1)])
def test_loader_lags_bound_the_real_loader(workers, gen_batch):
    """torchdata's StatefulDataLoader as verl's v1 trainer builds it: a step takes its loader batches at its start and
    the decision comes after the step. Every prompt is at the new rung no later than ``loader_lags`` says."""
    import time

    from torchdata.stateful_dataloader import StatefulDataLoader

    train_batch, decide_after = 8, 2
    cur = Curriculum(CurriculumSettings(enable=True, hysteresis=1, min_steps=1))
    old = cur.rung("counting")
    gen = gen_batch or train_batch
    loader = iter(StatefulDataLoader(_Rungs(cur, "counting"), batch_size=gen, num_workers=workers))
    lags = loader_lags(train_batch, gen_batch, workers)
    for step in range(1, decide_after + max(lags) + 1):
        rungs = [r for _ in range(train_batch // gen) for r in next(loader).tolist()]
        if step == decide_after:
            cur.observe(step, [Group("counting", old, (0.0,), (0.0,))])  # all wrong: one rung down
        elif step > decide_after:
            late = step - decide_after
            assert all(r == old - 1 for r, lag in zip(rungs, lags) if lag <= late), (step, rungs, lags)
            if workers == 0:
                assert all(r == old - 1 for r in rungs)  # made when taken: exactly the bound
        time.sleep(0.05 if workers else 0)


def test_one_curriculum_per_process():
    curriculum.deactivate()
    try:
        first, second = Curriculum(CurriculumSettings(enable=True)), Curriculum(CurriculumSettings(enable=True))
        assert curriculum.activate(first) and not curriculum.activate(second)
        assert curriculum.active() is first
    finally:
        curriculum.deactivate()


def test_groups_from_trajectory_records():
    records = [
        {"uid": "u1", "score": 1.0, "strict": 1.0, "data_source": "videossr_counting",
         "extra_info": {"task": "counting", curriculum.RUNG_KEY: 1}},
        {"uid": "u2", "score": 0.5, "strict": None, "data_source": "shuffled", "extra_info": {}},
        {"uid": "u1", "score": 0.25, "strict": 0.0, "data_source": "videossr_counting",
         "extra_info": {"task": "counting", curriculum.RUNG_KEY: 1}},
        {"uid": "u3", "score": 1.0, "strict": 1.0, "data_source": "openai/gsm8k", "extra_info": {}},
        {"uid": "u2", "score": 0.5, "strict": 0.0, "data_source": "shuffled", "extra_info": {}},
    ]
    assert groups_from_records(records) == [
        Group("counting", 1, (1.0, 0.25), (1.0, 0.0)),
        Group("jigsaw", -1, (0.5, 0.5), (0.0, 0.0)),  # a reference alias; no rung tag; a missing strict is 0
    ]


def test_smoke_verdict_reads_the_rungs_from_the_logged_metrics(tmp_path):
    """The curriculum smoke's check, on metrics shaped as verl logged them for a real 3-step CPU run."""
    from videossr.training.smoke import check_curriculum

    def step(**tasks):
        out = {}
        for task, (rung, sample_rung, move) in tasks.items():
            out[f"curriculum/{task}/rung"] = rung
            out[f"curriculum/{task}/move"] = move
            if sample_rung is not None:
                out[f"curriculum/{task}/sample_rung"] = sample_rung
        return out

    good = {1: step(g=(1.0, 2.0, -1.0), c=(2.0, None, 0.0), j=(1.0, 2.0, -1.0)),
            2: step(g=(1.0, 1.0, 0.0), c=(1.0, 2.0, -1.0), j=(1.0, None, 0.0)),
            3: step(g=(1.0, 1.0, 0.0), c=(1.0, None, 0.0), j=(0.0, 1.0, -1.0))}
    assert check_curriculum(good, last_step=3).ok
    # the last step's jigsaw samples still at the old rung: the decision did not reach them
    stale = {**good, 3: step(g=(1.0, 1.0, 0.0), c=(1.0, None, 0.0), j=(1.0, 2.0, 0.0))}
    assert any("j's samples come from its lower rung" in f for f in check_curriculum(stale, last_step=3).failures)
    up = {**good, 2: step(g=(2.0, 1.0, 1.0), c=(1.0, 2.0, -1.0), j=(1.0, None, 0.0))}
    assert any("no task moves up" in f for f in check_curriculum(up, last_step=3).failures)
    missing = {1: good[1], 3: good[3]}
    assert any("every step 1..3" in f for f in check_curriculum(missing, last_step=3).failures)
    verdict = check_curriculum(good, last_step=3, checkpoint_dir=tmp_path)
    assert any("carries the curriculum's state" in f for f in verdict.failures)
