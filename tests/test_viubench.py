"""VIUBench: the subtype table, strict scoring and aggregation, the builder (counts, determinism, resume) and the
evaluator (oracle / wrong / failing backends, resume, the tiny Qwen3-VL through the HF backend), and the CLIs."""

from __future__ import annotations

import hashlib
import json
import re
import runpy
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from videossr.tasks.sample import ROW_SCHEMA
from videossr.evaluation.inputs import request_from_verl_row
from videossr.io import read_jsonl
from videossr.constants import TRAIN_MIN_PIXELS, VIUBENCH_MAX_PIXELS
from support.frames import make_frame_store
from videossr.evaluation.benchmarks import GENERATION_ERROR
from videossr.evaluation.runner import RESULTS_NAME, SUMMARY_NAME
from videossr.evaluation.viubench import (
    SUBTYPE_KEY,
    SUBTYPE_NAMES,
    SUBTYPES,
    EvalSettings,
    build_viubench,
    evaluate,
    format_summary,
    get_subtype,
    question_id,
    read_rows,
    score_answer,
    subtype_of,
    summarize,
)

PER = 2
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    base = tmp_path_factory.mktemp("viubench")
    make_frame_store(base / "frames", num_videos=2, num_frames=48, width=96, height=64)
    summary = build_viubench(base / "frames", base / "bench", per_subtype=PER, progress=False)
    return base, summary


# ---------------------------------------------------------------------------------------------------------------
# The table


def test_subtypes_table():
    assert len(SUBTYPES) == 9 and len(set(SUBTYPE_NAMES)) == 9
    tasks = [s.task for s in SUBTYPES]
    assert tasks.count("counting") == 2 and tasks.count("grounding") == 5 and tasks.count("jigsaw") == 2
    easy, hard = get_subtype("counting_easy").params(), get_subtype("counting_hard").params()
    assert (easy.max_frames_per_class, easy.max_instances) == (3, 3)
    assert (hard.max_frames_per_class, hard.max_instances) == (4, 4)
    assert get_subtype("jigsaw_easy").params().num_clips == 6
    assert get_subtype("jigsaw_hard").params().num_clips == 8
    perturbations = [get_subtype(n).params().perturbations for n in SUBTYPE_NAMES if n.startswith("grounding")]
    assert perturbations == [("ChannelSwap",), ("Rotate180",), ("ZoomOut",), ("Mirror",), ("Shuffle",)]
    with pytest.raises(ValueError, match="grounding_blur"):
        get_subtype("grounding_blur")


# ---------------------------------------------------------------------------------------------------------------
# Scoring


def test_score_answer_strict_values():
    g = "grounding_mirror"
    assert score_answer(g, "3.0-6.0", "3.0-6.0") == ([3.0, 6.0], 1.0)
    assert score_answer(g, "The answer is 4.5-6.0.", "3.0-6.0")[1] == pytest.approx(0.5)
    assert score_answer(g, "7.0-9.0", "3.0-6.0") == ([7.0, 9.0], 0.0)
    assert score_answer(g, "six seconds", "3.0-6.0") == (None, 0.0)
    assert score_answer(g, "3.0-6.0 or 1.0-2.0", "3.0-6.0") == (None, 0.0)  # hedging earns nothing
    c = "counting_hard"
    assert score_answer(c, "3,1,4", "3,1,4") == ([3, 1, 4], 1.0)
    assert score_answer(c, "3, 1, 5", "3,1,4")[1] == pytest.approx(2 / 3)  # strict: exact classes only
    assert score_answer(c, "4,2,5", "3,1,4") == ([4, 2, 5], 0.0)
    assert score_answer(c, "3,1", "3,1,4") == (None, 0.0)
    j = "jigsaw_easy"
    assert score_answer(j, "341562", "341562") == ([3, 4, 1, 5, 6, 2], 1.0)
    assert score_answer(j, "431562", "341562") == ([4, 3, 1, 5, 6, 2], 0.0)  # one swap: strict 0
    assert score_answer(j, "34156", "341562") == (None, 0.0)
    assert score_answer("jigsaw_hard", "8,7,6,5,4,3,2,1", "87654321") == ([8, 7, 6, 5, 4, 3, 2, 1], 1.0)
    for bad_gold, subtype in (("3-", g), ("3,1", c), ("1123", j)):
        with pytest.raises(ValueError, match=re.escape(bad_gold)):
            score_answer(subtype, "x", bad_gold)


def _rec(subtype, score, parsed=(1,), error=None, rid=None):
    return {"id": rid or f"{subtype}_{score}", "subtype": subtype, "score": score,
            "parsed": None if parsed is None else list(parsed), "error": error}


def test_summarize_overall_is_unweighted_mean_of_nine():
    records = []
    scores = {}
    for k, name in enumerate(SUBTYPE_NAMES):
        scores[name] = [k / 10, 0.0] if k % 2 else [k / 10] * 3  # different sizes: the overall must not weight them
        records += [_rec(name, s, rid=f"{name}_{i}") for i, s in enumerate(scores[name])]
    records.append(_rec("counting_easy", 0.0, parsed=None, rid="u1"))  # unparsable: 0, counted
    records.append(_rec("jigsaw_hard", 0.0, parsed=None, error="GenerationError: x", rid="e1"))  # error: 0, counted
    scores["counting_easy"].append(0.0)
    scores["jigsaw_hard"].append(0.0)
    expected = [sum(v) / len(v) for v in scores.values()]
    assert expected[-1] == pytest.approx(0.6)
    s = summarize(records)
    assert s["n"] == len(records) and s["n_unparsable"] == 1 and s["n_errors"] == 1
    assert [v["score"] for v in s["per_subtype"].values()] == pytest.approx(expected)
    assert s["overall"] == pytest.approx(100 * sum(expected) / 9)
    assert s["per_subtype"]["jigsaw_hard"]["n_errors"] == 1 and s["per_subtype"]["jigsaw_hard"]["n_unparsable"] == 0
    assert s["missing_subtypes"] == []
    assert "Overall" in format_summary(s) and "Jigsaw Hard" in format_summary(s)


def test_summarize_partial_and_invalid():
    s = summarize([_rec("counting_easy", 1.0), _rec("jigsaw_easy", 0.0)])
    assert s["overall"] is None
    assert s["overall_present"] == pytest.approx(50.0)
    assert len(s["missing_subtypes"]) == 7
    assert "missing" in format_summary(s)
    with pytest.raises(ValueError, match="1.5"):
        summarize([_rec("counting_easy", 1.5)])
    # a subtype outside the paper's nine (e.g. a new task's) is reported under its own name, outside the overall
    s = summarize([_rec("counting_medium", 1.0), _rec("counting_easy", 0.5)])
    assert s["per_subtype"]["counting_medium"]["title"] == "counting_medium"
    assert s["overall"] is None and s["overall_present"] == pytest.approx(75.0)
    assert "counting_medium" not in s["missing_subtypes"]


# ---------------------------------------------------------------------------------------------------------------
# Building


def test_build_counts_and_row_format(bench):
    _, summary = bench
    assert summary.counts == {name: PER for name in SUBTYPE_NAMES} and summary.failures == []
    table = pq.read_table(summary.parquet)
    assert table.schema.names == ROW_SCHEMA.names + ["subtype"]
    rows = read_rows(summary.parquet)
    assert [subtype_of(r) for r in rows] == [n for n in SUBTYPE_NAMES for _ in range(PER)]  # subtype order
    assert len({r["extra_info"]["index"] for r in rows}) == len(rows) == 9 * PER
    assert len({question_id(r) for r in rows}) == len(rows)
    for row in rows:
        sub = get_subtype(row["subtype"])
        params = json.loads(row["extra_info"]["params"])
        assert params[SUBTYPE_KEY] == sub.name and row["extra_info"]["task"] == sub.task
        gold = row["reward_model"]["ground_truth"]
        for v in row["videos"]:
            assert (v["min_pixels"], v["max_pixels"]) == (TRAIN_MIN_PIXELS, VIUBENCH_MAX_PIXELS)
            assert all(Path(p).is_file() for p in v["video"])
        if sub.task == "grounding":
            assert re.fullmatch(r"\d+\.\d-\d+\.\d", gold)
            assert params["perturbation"] == sub.preset
            assert len(row["videos"]) == 1 and len(row["videos"][0]["video"]) == 48
        elif sub.task == "counting":
            counts = [int(x) for x in gold.split(",")]
            k = 3 if sub.preset == "easy" else 4
            assert len(counts) == 3 and all(1 <= c <= k * k for c in counts)
        else:
            n = 6 if sub.preset == "easy" else 8
            assert sorted(gold) == [str(d) for d in range(1, n + 1)]
            assert len(row["videos"]) == n and all(len(v["video"]) == 48 // n for v in row["videos"])
        assert score_answer(sub.name, gold, gold)[1] == 1.0  # the gold answer scores full marks


def _normalised_rows(summary):
    root = str(summary.parquet.parent)
    return json.loads(json.dumps(read_rows(summary.parquet)).replace(root, "ROOT"))


def _frame_digests(bench_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(bench_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((bench_dir / "files" / "frames").rglob("*.jpg"))
    }


def test_build_is_deterministic_and_resumes(bench, tmp_path):
    base, summary = bench
    again = build_viubench(base / "frames", tmp_path / "again", per_subtype=PER, progress=False)
    assert _normalised_rows(again) == _normalised_rows(summary)
    assert _frame_digests(tmp_path / "again") == _frame_digests(summary.parquet.parent)
    other = build_viubench(base / "frames", tmp_path / "other", per_subtype=PER, seed=8, progress=False,
                           subtypes=["jigsaw_easy", "counting_easy"])
    assert other.counts == {"counting_easy": PER, "jigsaw_easy": PER}
    # Resume: a rerun keeps every committed question (unit files untouched) and rewrites the same parquet bytes.
    units = sorted((tmp_path / "again" / "files" / "units").rglob("*.json"))
    stamps = [p.stat().st_mtime_ns for p in units]
    before = again.parquet.read_bytes()
    rerun = build_viubench(base / "frames", tmp_path / "again", per_subtype=PER, progress=False)
    assert [p.stat().st_mtime_ns for p in units] == stamps
    assert rerun.parquet.read_bytes() == before
    with pytest.raises(ValueError, match="per_subtype"):
        build_viubench(base / "frames", tmp_path / "bad", per_subtype=0)
    with pytest.raises(ValueError, match="is inside the frame store"):
        build_viubench(base / "frames", base / "frames" / "out", per_subtype=1)


# ---------------------------------------------------------------------------------------------------------------
# Evaluating


def _video_key(videos) -> str:
    h = hashlib.sha256()
    for v in videos:
        for f in v.frames:
            h.update(f.tobytes())
    return h.hexdigest()


class AnswerBackend:
    """A stand-in for the model: answers each request from a table keyed by its pixels (or with a fixed text)."""

    name = "table"

    def __init__(self, table=None, fixed=None, fail_multi_video=False):
        self.table, self.fixed, self.fail_multi_video = table, fixed, fail_multi_video
        self.calls = 0

    def generate(self, requests):
        self.calls += 1
        if self.fail_multi_video and any(len(r.videos) > 1 for r in requests):
            raise RuntimeError("cannot take several videos")
        return [self.fixed if self.table is None else self.table[_video_key(r.videos)] for r in requests]

    def close(self):
        pass


def test_evaluate_oracle_wrong_failing_and_resume(bench, tmp_path):
    _, summary = bench
    rows = read_rows(summary.parquet)
    oracle = {_video_key(request_from_verl_row(r).videos): f"Answer: {r['reward_model']['ground_truth']}" for r in rows}
    assert len(oracle) == len(rows)
    settings = EvalSettings(model="oracle", backend="table")
    s = evaluate(summary.parquet, tmp_path / "oracle", settings, backend=AnswerBackend(oracle), batch_size=4)
    assert s["overall"] == pytest.approx(100.0) and s["n"] == 9 * PER and s["n_unparsable"] == 0
    assert all(v["score"] == pytest.approx(1.0) and v["n"] == PER for v in s["per_subtype"].values())
    results = read_jsonl(tmp_path / "oracle" / RESULTS_NAME)
    assert len(results) == 9 * PER and all(r["score"] == 1.0 for r in results)
    on_disk = json.loads((tmp_path / "oracle" / SUMMARY_NAME).read_text())
    assert on_disk["overall"] == pytest.approx(100.0) and on_disk["settings"] == {
        "model": "oracle", "backend": "table", "max_new_tokens": 32, "max_pixels": None}

    # Resume: nothing left to do, so the factory is never called; other settings are refused.
    def no_model():
        raise AssertionError("a finished run must not build a backend")

    again = evaluate(summary.parquet, tmp_path / "oracle", settings, backend_factory=no_model)
    assert again["run"]["generated"] == 0 and again["overall"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="other settings"):
        evaluate(summary.parquet, tmp_path / "oracle", EvalSettings(model="other", backend="table"),
                 backend_factory=no_model)

    wrong = evaluate(summary.parquet, tmp_path / "wrong", EvalSettings(model="w", backend="table"),
                     backend=AnswerBackend(fixed="I cannot tell."))
    assert wrong["overall"] == 0.0 and wrong["n_unparsable"] == 9 * PER and wrong["n_errors"] == 0

    # A backend that fails on multi-video prompts: jigsaw questions are errors scoring 0; the rest are answered.
    failing = AnswerBackend(oracle, fail_multi_video=True)
    f = evaluate(summary.parquet, tmp_path / "fail", EvalSettings(model="f", backend="table"), backend=failing,
                 batch_size=3, limit_per_subtype=1)
    assert f["n"] == 9 and f["n_errors"] == 2
    assert f["per_subtype"]["jigsaw_easy"]["score"] == 0.0 and f["per_subtype"]["jigsaw_hard"]["n_errors"] == 1
    assert f["per_subtype"]["counting_hard"]["score"] == 1.0
    assert f["overall"] == pytest.approx(100 * 7 / 9)
    kinds = {r["error_kind"] for r in read_jsonl(tmp_path / "fail" / RESULTS_NAME) if r["error"]}
    assert kinds == {GENERATION_ERROR}


def test_evaluate_tiny_qwen3vl_hf_backend(bench, tiny_qwen3vl, tmp_path):
    from videossr.evaluation import make_backend

    _, summary = bench
    settings = EvalSettings(model=str(tiny_qwen3vl), backend="hf", max_new_tokens=6, max_pixels=128 * 128)
    s = evaluate(summary.parquet, tmp_path / "tiny", settings, limit_per_subtype=1, batch_size=3,
                 backend_factory=lambda: make_backend("hf", str(tiny_qwen3vl), max_new_tokens=6, batch_size=3))
    results = read_jsonl(tmp_path / "tiny" / RESULTS_NAME)
    assert len(results) == 9 and s["run"]["generated"] == 9 and s["n_errors"] == 0
    assert sorted(r["subtype"] for r in results) == sorted(SUBTYPE_NAMES)
    assert all(isinstance(r["raw_output"], str) and 0.0 <= r["score"] <= 1.0 for r in results)
    # A random model's text: whatever it wrote is scored exactly as the shared parser and metric say.
    for r in results:
        assert score_answer(r["subtype"], r["raw_output"], r["answer"]) == (r["parsed"], r["score"])
    assert s["n_unparsable"] == sum(r["parsed"] is None for r in results)
    assert s["overall"] == pytest.approx(100 * sum(r["score"] for r in results) / 9)


# ---------------------------------------------------------------------------------------------------------------
# The CLIs


def _run_cli(path: str, argv: list[str], monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [path, *argv])
    try:
        runpy.run_path(str(REPO / path), run_name="__main__")
    except SystemExit as e:
        assert e.code in (0, None)


def test_clis(bench, tmp_path, monkeypatch, capsys):
    base, _ = bench
    _run_cli("pretext_tasks/build_viubench.py", ["--frames-dir", str(base / "frames"), "--output-dir",
             str(tmp_path / "b"), "--per-subtype", "1", "--subtypes", "counting_easy,jigsaw_hard", "--workers", "1",
             "--quiet"], monkeypatch)
    out = capsys.readouterr().out
    assert "wrote 2 questions" in out and "Jigsaw Hard" in out
    rows = read_rows(tmp_path / "b" / "viubench.parquet")
    assert [r["subtype"] for r in rows] == ["counting_easy", "jigsaw_hard"]

    results = tmp_path / "r"
    results.mkdir()
    lines = [_rec("counting_easy", 1.0, rid="a"), _rec("jigsaw_hard", 0.0, parsed=None, rid="b")]
    (results / RESULTS_NAME).write_text("".join(json.dumps(x) + "\n" for x in lines))
    _run_cli("eval/viubench.py", ["--rescore", "--output-dir", str(results)], monkeypatch)
    out = capsys.readouterr().out
    assert re.search(r"Counting Easy\s+100\.0\s+1[01]\.\d\s+1\s+0\s+0", out)  # score, chance, n, unparsable, errors
    assert re.search(r"Overall \(partial\)\s+50\.0", out)
