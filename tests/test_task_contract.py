"""The task contract: every task answers the same questions through one object, training and VIUBench score alike,
and a new task is one module plus one table line (here a toy task registered by the test alone)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videossr.evaluation import viubench
from videossr.datasets.build import write_task_dataset
from videossr.constants import VIDEO_PLACEHOLDER
from videossr.sampling.store import TaskContext, VideoRecord, frame_path
from videossr.datasets.planning import Variant
from videossr.datasets.preview import render_parquet
from videossr.rewards import compute_score
from videossr.tasks.sample import Clip
from videossr.tasks import TASKS, PretextTask, get_task, register, task_for_source
from videossr.tasks import unregister
from videossr.tasks.base import Draft
from support.frames import make_frame_store
from videossr.datasets.validate import validate_files

# --- training and VIUBench score through the same task --------------------------------------------------------

# answers a model might give: well-formed, near misses, wrappers, junk
_answer_texts = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"\d{1,2}\.\d-\d{1,2}\.\d", fullmatch=True),
    st.from_regex(r"\d{1,2},\d{1,2},\d{1,2}", fullmatch=True),
    st.from_regex(r"[1-8]{6,8}", fullmatch=True),
    st.sampled_from(["The answer is 3.0-4.5.", "<answer>3,1,4</answer>", "341562", "3 4 1 5 6 2", "[3.0, 6.0]"]),
)
# ground truths: valid ones of every task, and broken ones
_golds = st.one_of(
    st.from_regex(r"\d{1,2}\.\d-\d{1,2}\.\d", fullmatch=True),
    st.from_regex(r"\d,\d,\d", fullmatch=True),
    st.permutations("123456").map("".join),
    st.permutations("12345678").map("".join),
    st.sampled_from(["[3.0, 6.0]", "1.0-2.0-3.0", "4.0-2.0", "3,1", "341561", "", " 3,1,4 ", "12.5 - 20.0"]),
    st.text(max_size=12),
)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(sorted(TASKS)), _answer_texts, _golds)
def test_training_reward_in_strict_mode_is_the_viubench_score(task_name, output, gold):
    task = TASKS[task_name]
    try:
        task.parse_gold(gold)
        valid = True
    except ValueError:
        valid = False
    reward = compute_score(task.data_source, output, gold, mode="strict")
    assert (reward["gold_ok"] == 1.0) == valid  # both sides agree on which golds are valid
    if valid:
        parsed, score = viubench.score_output(task_name, output, gold)
        assert reward["score"] == score
        assert (reward["format_ok"] == 1.0) == (parsed is not None)
    else:
        with pytest.raises(ValueError):
            viubench.score_output(task_name, output, gold)


@pytest.mark.parametrize("gold", ["[3.0, 6.0]", "1.0-2.0-3.0", "3.0-3.0"])
def test_the_issue_example_is_invalid_on_both_sides(gold):
    assert compute_score("videossr_grounding", "3.0-6.0", gold)["gold_ok"] == 0.0
    with pytest.raises(ValueError, match=repr(gold).replace("[", r"\[")):
        viubench.score_answer("grounding_mirror", "3.0-6.0", gold)


def test_every_task_fulfils_the_contract():
    ids = [t.task_id for t in TASKS.values()]
    assert len(set(ids)) == len(ids)
    for name, task in TASKS.items():
        assert task.name == name and task_for_source(task.data_source) is task
        for alias in task.aliases:
            assert task_for_source(alias) is task and task_for_source(alias.upper() + " ") is task
        assert task.default_preset in task.presets
        for preset in task.presets.values():
            assert isinstance(preset, task.Params)
            assert task.params_from_json(json.loads(json.dumps(dataclasses.asdict(preset)))) == preset


# --- a fourth task, registered by this test alone -------------------------------------------------------------


@dataclass(frozen=True)
class ReverseParams:
    length: int = 8  # frames in the segment that may be played backwards

    def __post_init__(self) -> None:
        if self.length < 2:
            raise ValueError(f"length must be >= 2, got {self.length!r}")


class ReverseTask(PretextTask):
    """Toy task: is one segment of this video played backwards? Answer yes or no."""

    name = "reverse"
    data_source = "videossr_reverse"
    task_id = 17
    Params = ReverseParams
    default_preset = "default"

    @property
    def presets(self) -> Mapping[str, ReverseParams]:
        return MappingProxyType({"default": ReverseParams()})

    def draw(self, video: VideoRecord, rng: np.random.Generator, params: ReverseParams, ctx: TaskContext) -> Draft:
        if video.num_frames < params.length:
            raise ValueError(f"{video.video_id!r} has fewer than {params.length} frames")
        start = int(rng.integers(0, video.num_frames - params.length + 1))
        backwards = bool(rng.integers(2))
        question = f"{VIDEO_PLACEHOLDER}\nIs any part of this video played backwards? Answer yes or no."
        audit = {"start": start, "length": params.length, "backwards": backwards}
        return Draft(video.video_id, question, self.format_answer(backwards), audit)

    def clips(self, video: VideoRecord, ctx: TaskContext, audit: Mapping[str, Any]) -> tuple[Clip, ...]:
        order = list(range(video.num_frames))
        start, length = audit["start"], audit["length"]
        if audit["backwards"]:
            order[start:start + length] = order[start:start + length][::-1]
        return (Clip(tuple(frame_path(ctx, video, i) for i in order), video.sample_fps),)

    def format_answer(self, truth: bool) -> str:
        return "yes" if truth else "no"

    def _parse_gold(self, gold: str) -> bool:
        if gold.strip() not in ("yes", "no"):
            raise ValueError(f"reverse ground truth must be 'yes' or 'no', got {gold!r}")
        return gold.strip() == "yes"

    def parse_answer(self, text: str, truth: Any) -> bool | None:
        words = {w.strip(".,!\"'").lower() for w in text.split()}
        found = words & {"yes", "no"}
        return None if len(found) != 1 else "yes" in found

    def score(self, pred: bool, truth: bool, mode: str) -> float:
        return 1.0 if pred == truth else 0.0


@pytest.fixture
def reverse_task():
    task = register(ReverseTask())
    yield task
    unregister(task.name)


def test_a_new_task_is_one_module_and_one_table_line(reverse_task, tmp_path):
    assert get_task("REVERSE") is reverse_task and task_for_source("videossr_reverse") is reverse_task
    make_frame_store(tmp_path / "store", num_videos=2, num_frames=16, width=32, height=24)

    # build: the generic planner, unit files, parquet
    summary = write_task_dataset("reverse", [Variant("default", reverse_task.preset("default"))],
                                 frames_dir=tmp_path / "store", output=tmp_path / "out" / "reverse.parquet",
                                 num_samples=6, seed=1, progress=False)
    assert summary.counts["samples"] == 6 and summary.counts["failures"] == []
    rows = pq.read_table(tmp_path / "out" / "reverse.parquet").to_pylist()
    assert {r["data_source"] for r in rows} == {"videossr_reverse"}
    assert {r["reward_model"]["ground_truth"] for r in rows} <= {"yes", "no"}

    # validation before training, and the training reward through verl's entry point
    report = validate_files([tmp_path / "out" / "reverse.parquet"])
    assert report.ok, report.format()
    for r in rows:
        gold = r["reward_model"]["ground_truth"]
        other = "no" if gold == "yes" else "yes"
        assert compute_score("videossr_reverse", f"{gold}.", gold)["score"] == 1.0
        assert compute_score("videossr_reverse", other, gold) == {
            "score": 0.0, "format_ok": 1.0, "strict": 0.0, "task_id": 17.0, "gold_ok": 1.0}

    # VIUBench: a subtype of the new task is built, scored and summarised like the paper's nine
    bench = viubench.build_viubench(tmp_path / "store", tmp_path / "bench", per_subtype=3, progress=False,
                                    subtypes=[viubench.Subtype("reverse", "Reverse", "reverse", "default")])
    brows = viubench.read_rows(bench.parquet)
    assert [r["subtype"] for r in brows] == ["reverse"] * 3
    records = []
    for i, r in enumerate(brows):
        gold = r["reward_model"]["ground_truth"]
        parsed, score = viubench.score_output(r["extra_info"]["task"], gold if i else "maybe", gold)
        records.append({"id": str(i), "subtype": r["subtype"], "score": score, "parsed": parsed, "error": None})
    s = viubench.summarize(records)
    assert s["per_subtype"]["reverse"]["score"] == pytest.approx(2 / 3)
    assert s["per_subtype"]["reverse"]["n_unparsable"] == 1

    # and it can be looked at
    sheet = render_parquet(tmp_path / "out" / "reverse.parquet", tmp_path / "sheet.png", num_rows=2)
    assert len(sheet.boxes) == 32


def test_registering_a_clash_is_refused(reverse_task):
    with pytest.raises(ValueError, match="already registered"):
        register(ReverseTask())

    class Impostor(ReverseTask):
        name = "impostor"
        task_id = 18
        data_source = "VIDEOSSR_JIGSAW"

    with pytest.raises(ValueError, match="already belong to another task"):
        register(Impostor())
