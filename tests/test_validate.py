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
