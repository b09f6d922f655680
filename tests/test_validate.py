"""The validator: a good build passes; every kind of broken row is found and named; generation never writes an
answer the reward cannot score (it draws again and counts it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from videossr.datasets.build import BuildConfig, build
from videossr.datasets.build import write_task_dataset
from videossr.datasets.planning import Variant
from videossr.tasks.sample import write_parquet
from videossr.tasks import get_task
from videossr.tasks import grounding
from support.frames import make_frame_store
from videossr.datasets.validate import validate_files, validate_rows

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("validate")
    make_frame_store(root / "store", num_videos=2, num_frames=48, width=64, height=48)
    build(BuildConfig(output_dir=root / "out", frames_dir=root / "store", num_samples=15, seed=3), progress=False)
    return root / "out"


def test_a_fresh_build_is_valid(built):
    report = validate_files([built / "train.parquet"])
    assert report.ok, report.format()
    assert report.rows == 15 and report.frames_checked > 48
    assert set(report.per_source) == {"videossr_grounding", "videossr_counting", "videossr_jigsaw"}


def _rows(built) -> list[dict]:
    return pq.read_table(built / "train.parquet").to_pylist()


def test_each_broken_row_is_found_and_named(built, tmp_path):
    rows = _rows(built)
    by_task = {}
    for i, r in enumerate(rows):
        by_task.setdefault(r["extra_info"]["task"], i)
    g, c, j = by_task["grounding"], by_task["counting"], by_task["jigsaw"]
    rows[g]["reward_model"]["ground_truth"] = "3.0-3.0"  # zero length: no prediction can score 1
    rows[c]["reward_model"]["ground_truth"] = "3,1"
    rows[j]["prompt"][1]["content"] = rows[j]["prompt"][1]["content"].replace("<video>", "", 1)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(Path(rows[0]["videos"][0]["video"][0]).read_bytes()[:300])
    other = next(i for i in range(len(rows)) if i not in (g, c, j))
    rows[other]["videos"][0]["video"][0] = str(empty)
    rows[other]["videos"][0]["video"][1] = str(truncated)
    rows[other]["videos"][0]["video"][2] = str(tmp_path / "gone.jpg")
    report = validate_rows(rows, file="x.parquet")
    assert not report.ok
    text = report.format()
    found = {(p.row, p.kind) for p in report.problems}
    assert (g, "ground_truth") in found and "'3.0-3.0'" in text
    assert (c, "ground_truth") in found and "'3,1'" in text
    assert (j, "shape") in found and "placeholders in the prompt but 6 videos" in text
    assert f"x.parquet row {other}: frames: empty frame {empty}" in text
    assert f"missing frame {tmp_path / 'gone.jpg'}" in text
    assert f"frame {truncated} does not decode" in text


def test_foreign_sources(built):
    rows = _rows(built)[:2]
    for r in rows:
        r["data_source"] = "openai/gsm8k"
        r["reward_model"]["ground_truth"] = "42"
    assert "scores 0.0 under the configured reward" in validate_rows(rows, check_frames=False).format()
    assert validate_rows(rows, check_frames=False, allow_sources=["openai/gsm8k"]).ok
    rows[0]["data_source"] = "made_up"
    assert "neither a VideoSSR task nor one verl's scorers know" in validate_rows(rows, check_frames=False).format()


def test_cli_exit_codes(built, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "pretext_tasks/validate.py", *map(str, args)], cwd=REPO,
                              capture_output=True, text=True, timeout=120)

    ok = run(built / "train.parquet", built / "grounding.parquet")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "all rows valid" in ok.stdout
    rows = _rows(built)
    rows[0]["reward_model"]["ground_truth"] = "nonsense"
    bad = tmp_path / "bad.parquet"
    write_parquet(rows, bad)
    p = run(bad)
    assert p.returncode == 1 and "row 0: ground_truth" in p.stdout and "'nonsense'" in p.stdout
    p = run(tmp_path / "missing.parquet")
    assert p.returncode == 2 and "missing.parquet" in p.stderr


def test_generation_draws_again_instead_of_writing_an_unscorable_answer(tmp_path):
    """At 60 frames per second of model clock a 4-frame segment lasts 0.067 s, and one decimal often makes it
    'x.y-x.y'. With the answerability bound switched off (min_seconds tiny), such draws are discarded and drawn again
    from the next stream; what cannot be made is counted as a failure, never written."""
    duration = 48 / (0.9 * 60)  # sample_fps = 60
    make_frame_store(tmp_path / "store", num_videos=2, num_frames=48, width=32, height=24, duration=duration)
    params = grounding.Params(min_len=4, max_len=4, min_seconds=0.001)
    summary = write_task_dataset("grounding", [Variant("tiny", params)], frames_dir=tmp_path / "store",
                                 output=tmp_path / "out" / "g.parquet", num_samples=30, seed=0, progress=False)
    counts = summary.counts
    assert counts["redraws"] > 0
    rows = pq.read_table(tmp_path / "out" / "g.parquet").to_pylist()
    assert len(rows) + len(counts["failures"]) == 30
    for r in rows:
        get_task("grounding").check_gold(r["reward_model"]["ground_truth"])
    for f in counts["failures"]:
        assert "no scorable answer in 4 draws" in f["error"]
    meta = json.loads((summary.files_dir / "metadata.json").read_text())
    assert meta["counts"]["redraws"] == counts["redraws"]
    # the same seed redraws the same way
    again = write_task_dataset("grounding", [Variant("tiny", params)], frames_dir=tmp_path / "store",
                               output=tmp_path / "out2" / "g.parquet", num_samples=30, seed=0, progress=False)
    assert again.counts["redraws"] == counts["redraws"]
    assert [r["reward_model"]["ground_truth"] for r in pq.read_table(tmp_path / "out2" / "g.parquet").to_pylist()] \
        == [r["reward_model"]["ground_truth"] for r in rows]


# ------------------------------------------------------------------------------------------------ params


def _last_of(rows: list[dict], task: str) -> int:
    """The last row of ``task``: never among the first rows, which a loader's first batch would cover."""
    return max(i for i, r in enumerate(rows) if r["extra_info"]["task"] == task)


def _edit_params(row: dict, **changes) -> None:
    params = json.loads(row["extra_info"]["params"])
    for key, value in changes.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value(params) if callable(value) else value
    row["extra_info"]["params"] = json.dumps(params)


def _problems(rows: list[dict], file: str = "t.parquet") -> list[str]:
    return [str(p) for p in validate_rows(rows, file=file, check_frames=False).problems]


@pytest.mark.parametrize("materialized", [False, True], ids=["recipes", "frames"])
def test_damaged_params_of_each_kind_are_named_with_file_row_and_field(built, tmp_path_factory, materialized):
    if materialized:
        root = tmp_path_factory.mktemp("frames")
        build(BuildConfig(output_dir=root / "out", frames_dir=built.parent / "store", num_samples=15, seed=3,
                          materialize=True), progress=False)
        path = root / "out" / "train.parquet"
    else:
        path = built / "train.parquet"
    clean = pq.read_table(path).to_pylist()
    assert _problems(clean) == []
    g, c, j = (_last_of(clean, t) for t in ("grounding", "counting", "jigsaw"))
    assert min(g, c, j) >= 2
    fps = json.loads(clean[g]["extra_info"]["params"])["fps"]
    cases = [
        # (row, edit, what the message says)
        (g, lambda r: r["extra_info"].__setitem__("params", "{not json"), "extra_info.params: not JSON"),
        (g, lambda r: _edit_params(r, perturbation=None), "extra_info.params.perturbation: must be one of"),
        (g, lambda r: _edit_params(r, start=lambda p: p["num_frames"] + 3, end=lambda p: p["num_frames"] + 3 + p["length"]),
         "extra_info.params.start: must be an integer in [0, "),
        # moved by a few frames: valid JSON, in range, the frames would move but the stored answer would not
        (g, lambda r: _edit_params(r, start=lambda p: p["start"] + 3 if p["end"] + 3 <= p["num_frames"]
                                   else p["start"] - 3,
                                   end=lambda p: p["start"] + p["length"]),
         "reward_model.ground_truth: "),
        (g, lambda r: _edit_params(r, end=lambda p: p["end"] + 1), "extra_info.params.end: "),
        (g, lambda r: _edit_params(r, fps=fps * 2), "reward_model.ground_truth: " if materialized
         else "extra_info.params.fps: "),
        (g, lambda r: _edit_params(r, perturbation="Slow", perturbation_params={"source": [0]}),
         "extra_info.params.perturbation_params: source of Slow must list"),
        (g, lambda r: _edit_params(r, perturbation="Swap", perturbation_params={"other_video_id": "nowhere"}),
         "extra_info.params.perturbation_params: other_video_id 'nowhere' of Swap is not in the frame store"
         if not materialized else "prompt: the user turn is not the question its params give"),
        (c, lambda r: _edit_params(r, counts={"circle": 9, "square": 9, "triangle": 9}), "extra_info.params.counts: "),
        (c, lambda r: _edit_params(r, frames=lambda p: [{**p["frames"][0], "frame": 999}] + p["frames"][1:]),
         "extra_info.params.frames[0].frame: must be an integer in [0, 47]"),
        (c, lambda r: _edit_params(r, frames=lambda p: [{**p["frames"][0], "shapes": [{"center": [1, 2]}]}]
                                   + p["frames"][1:]),
         "extra_info.params.frames[0].shapes[0].size: must be a number > 0"),
        (j, lambda r: _edit_params(r, order=[0, 0, 1, 2, 3, 4]), "extra_info.params.order: must be a permutation"),
        (j, lambda r: _edit_params(r, order=lambda p: p["order"][1:] + p["order"][:1]), "reward_model.ground_truth: "),
        (j, lambda r: r["extra_info"].__setitem__("task", "counting"), "extra_info.task: 'counting' is not the task"),
    ]
    if not materialized:
        cases += [
            (j, lambda r: _edit_params(r, frames_per_clip=7), "extra_info.params.frames_per_clip: 6 clips of 7 frames"),
            (g, lambda r: r["extra_info"].__setitem__("video_id", "elsewhere"),
             "extra_info.video_id: 'elsewhere' is not in the frame store"),
            (j, lambda r: r["videos"].reverse(), "videos[0].video[0]: "),
            (g, lambda r: r["videos"][0].__setitem__("sample_fps", fps + 1), "videos[0].sample_fps: "),
            (c, lambda r: r["extra_info"].__setitem__("recipe", r["extra_info"]["recipe"].replace('"seed": 3', '"seed": -3')),
             "extra_info.recipe.seed: must be an integer >= 0"),
            (c, lambda r: r["extra_info"].__setitem__("recipe", r["extra_info"]["recipe"].replace(
                '"frames_root": "', '"frames_root": "/nonexistent')),
             "extra_info.recipe.frames_root: no readable frame store at /nonexistent"),
        ]
    for row, edit, message in cases:
        rows = json.loads(json.dumps(clean))
        edit(rows[row])
        found = _problems(rows)
        assert found and all(f.startswith(f"t.parquet row {row}: params: ") for f in found), (message, found)
        assert any(message in f for f in found), (message, found)


def test_a_moved_segment_is_refused_through_the_cli(built, tmp_path):
    rows = _rows(built)
    g = _last_of(rows, "grounding")
    _edit_params(rows[g], start=lambda p: p["start"] + 2 if p["end"] + 2 <= p["num_frames"] else p["start"] - 2,
                 end=lambda p: p["start"] + p["length"])
    bad = tmp_path / "moved.parquet"
    write_parquet(rows, bad)
    p = subprocess.run([sys.executable, "pretext_tasks/validate.py", str(bad)], cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 1
    assert f"{bad} row {g}: params: reward_model.ground_truth: " in p.stdout
    assert "is not the answer its params give" in p.stdout
