"""The zero-variance diagnostic and the difficulty sweep (eval/diagnose.py): the tiny random Qwen3-VL through the HF
backend on recipe rows of the build, seeded rollouts, statistics recomputed from the per-question file, the figure,
the filtered parquet through verl's dataset, resume, foreign data sources, several datasets, and a sweep whose
difficulty file the build accepts."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from videossr.datasets.build import BuildConfig, build, read_difficulty
from videossr.evaluation import EvalSettings
from videossr.evaluation.backends import HFBackend, Sampling, sample_texts
from videossr.evaluation.cli import build_diagnose_parser, main
from videossr.evaluation.diagnose import (
    Diagnostic,
    question_seed,
    question_stats,
    run_diagnostic,
    training_sampling,
)
from videossr.evaluation.inputs import request_from_verl_row
from videossr.io import read_jsonl
from videossr.tasks.recipe import make_row
from support.frames import make_frame_store

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--backend", "hf", "--max-new-tokens", "6", "--max-pixels", "4096", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A frame store and a small build of the paper's mix (recipe rows: the build's default)."""
    base = tmp_path_factory.mktemp("diagnose")
    make_frame_store(base / "frames", num_videos=2, num_frames=48, width=64, height=48)
    build(BuildConfig(output_dir=base / "build", frames_dir=base / "frames", num_samples=6), progress=False)
    return base


def _zero_variance(records):
    rewards = [r["rewards"] for r in records]
    return sum(1 for rs in rewards if len(set(rs)) == 1) / len(rewards)


def _png_panels(path: Path) -> list[str]:
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.text["Description"].removeprefix("panels: ").split(" | ")


# ---------------------------------------------------------------------------------------------------------------
# The tiny model, end to end through the CLI


def test_diagnostic_with_the_tiny_model(data, tiny_qwen3vl, tmp_path, capsys):
    out, filtered = tmp_path / "out", tmp_path / "kept.parquet"
    argv = ["--model", str(tiny_qwen3vl), "--data", str(data / "build" / "train.parquet"), "--output-dir", str(out),
            "--rollouts", "4", "--write-filtered", str(filtered), *SMALL]
    assert main("diagnose", argv) == 0
    printed = capsys.readouterr().out
    assert "zero-var%" in printed and "task counting" in printed and "chance" in printed

    records = read_jsonl(out / "results.jsonl")
    rows = pq.read_table(data / "build" / "train.parquet").to_pylist()
    assert [r["row"] for r in records] == list(range(len(rows))) == list(range(6))
    for r in records:
        assert len(r["raw_output"]) == len(r["rewards"]) == len(r["parsed"]) == 4
        assert r["n_correct"] == sum(x == 1.0 for x in r["rewards"])
        assert r["score"] == pytest.approx(sum(r["rewards"]) / 4)
        assert r["settings"]["rollouts"] == 4 and r["settings"]["temperature"] == 1.0

    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["n"] == 6 and summary["n_errors"] == 0
    assert summary["overall"]["zero_variance"] == pytest.approx(_zero_variance(records))
    tasks = sorted({r["task"] for r in records})
    assert sorted(summary["per_task"]) == tasks == ["counting", "grounding", "jigsaw"]
    for task in tasks:
        mine = [r for r in records if r["task"] == task]
        s = summary["per_task"][task]
        assert s["zero_variance"] == pytest.approx(_zero_variance(mine))
        assert sum(s["correct_histogram"]) == len(mine)
        assert 0 < s["chance"]["smooth"] < 1
    assert sum(v["n"] for v in summary["per_group"].values()) == 6

    assert _png_panels(out / "histogram.png") == tasks  # one panel per task

    kept = pq.read_table(filtered)
    want = [r["row"] for r in records if len(set(r["rewards"])) > 1]
    assert [r["extra_info"]["index"] for r in kept.to_pylist()] == [rows[k]["extra_info"]["index"] for k in want]
    assert kept.schema == pq.read_table(data / "build" / "train.parquet").schema  # metadata (recipe rows) kept

    # A rerun generates nothing and rewrites the same summary; other sampling settings are refused.
    before = (out / "summary.json").read_bytes()
    assert main("diagnose", argv) == 0
    assert "generated 0 questions" in capsys.readouterr().out
    assert (out / "summary.json").read_bytes() == before
    with pytest.raises(ValueError, match="other settings"):
        main("diagnose", [a if a != "4" else "3" for a in argv])
    # Another reward mode re-scores the stored answers without asking the model again.
    assert main("diagnose", [*argv, "--reward-mode", "STRICT"]) == 0
    assert "generated 0 questions" in capsys.readouterr().out
    assert json.loads((out / "summary.json").read_text())["reward_mode"] == "strict"


def test_rollouts_are_seeded_and_independent_of_the_batch(data, tiny_qwen3vl):
    rows = [make_row(r) for r in pq.read_table(data / "build" / "train.parquet").to_pylist()[:2]]
    reqs = []
    for r in rows:
        for v in r["videos"]:
            v["max_pixels"], v["min_pixels"] = 4096, 1024
        reqs.append(request_from_verl_row(r))
    hf = HFBackend(tiny_qwen3vl, max_new_tokens=6, device="cpu", dtype="float32")
    sampling = Sampling(n=3, temperature=1.0)
    a = sample_texts(hf, reqs, sampling, [11, 12])
    assert len(a) == 2 and all(len(t) == 3 for t in a)
    assert sample_texts(hf, reqs[1:], sampling, [12]) == a[1:]  # the same request and seed, alone
    assert sample_texts(hf, reqs[:1], sampling, [99]) != a[:1]  # another seed, other rollouts
    greedy = sample_texts(hf, reqs[:1], Sampling(n=2, temperature=0.0), [5])
    assert greedy == [hf.generate(reqs[:1]) * 2]  # temperature 0: n copies of the greedy answer
    assert question_seed(0, "000001") == question_seed(0, "000001") != question_seed(1, "000001")


# ---------------------------------------------------------------------------------------------------------------
# Statistics and the filter, with a backend that answers from a table


class _Scripted:
    """Answers k rollouts of row i right (its gold) and the rest wrong, with k = i mod (n + 1)."""

    name = "scripted"

    def __init__(self, golds_by_text):
        self.golds_by_text = golds_by_text
        self.calls = 0

    def sample(self, requests, sampling, seeds):
        self.calls += 1
        out = []
        for req in requests:
            text = next(m["content"] for m in req.messages if m["role"] == "user")
            i, gold = self.golds_by_text[text]
            k = i % (sampling.n + 1)
            out.append([gold] * k + ["no idea"] * (sampling.n - k))
        return out

    def close(self):
        pass


def _with_unique_questions(src: Path, dst: Path) -> list[dict]:
    """A parquet of the rows of ``src`` made into rows with frames (materialised), questions numbered."""
    rows = []
    for i, r in enumerate(pq.read_table(src).to_pylist()):
        r = make_row(r)
        r["prompt"] = [dict(m, content=f"[{i}] {m['content']}") if m["role"] == "user" else m for m in r["prompt"]]
        extra = {k: r["extra_info"][k] for k in ("index", "split", "task", "video_id", "params")}
        rows.append({**r, "extra_info": extra})
    from videossr.tasks.sample import write_parquet

    write_parquet(rows, dst)
    return rows


def test_statistics_filter_and_verls_dataset(data, tiny_qwen3vl, tmp_path):
    parquet = tmp_path / "rows.parquet"
    rows = _with_unique_questions(data / "build" / "train.parquet", parquet)
    golds = {}
    for i, r in enumerate(rows):
        text = next(m["content"] for m in r["prompt"] if m["role"] == "user")
        golds[text] = (i, r["reward_model"]["ground_truth"])
    n = 4
    settings = EvalSettings(model="scripted", backend="scripted", rollouts=n, temperature=1.0, max_pixels=4096)
    report = run_diagnostic([("rows", parquet)], settings, tmp_path / "out", reward_mode="strict",
                            backend_factory=lambda: _Scripted(golds), write_filtered_to=tmp_path / "kept.parquet",
                            progress=False)
    summary = report.summaries["rows"]
    ks = [i % (n + 1) for i in range(len(rows))]  # 0, 1, 2, 3, 4, 0
    assert summary["overall"]["correct_histogram"] == [ks.count(k) for k in range(n + 1)]
    assert summary["overall"]["all_zero"] == pytest.approx(ks.count(0) / len(rows))
    assert summary["overall"]["all_one"] == pytest.approx(ks.count(n) / len(rows))
    assert summary["overall"]["mean_reward"] == pytest.approx(np.mean([k / n for k in ks]))
    assert summary["overall"]["std_mean_reward"] == pytest.approx(np.std([k / n for k in ks]))
    assert report.filtered == sum(1 for k in ks if 0 < k < n)

    from omegaconf import OmegaConf
    from transformers import AutoProcessor
    from verl.utils.dataset.rl_dataset import RLHFDataset

    processor = AutoProcessor.from_pretrained(tiny_qwen3vl)
    config = OmegaConf.create({"max_prompt_length": 100000, "filter_overlong_prompts": False, "image_patch_size": 16,
                               "cache_dir": str(tmp_path / "cache")})
    dataset = RLHFDataset(str(tmp_path / "kept.parquet"), processor.tokenizer, config, processor)
    assert len(dataset) == report.filtered
    kept_index = sorted(int(dataset[k]["extra_info"]["index"]) for k in range(len(dataset)))
    assert kept_index == sorted(r["extra_info"]["index"] for r, k in zip(rows, ks) if 0 < k < n)


def test_question_stats_smooth_ties():
    s = question_stats([[0.5, 0.5], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], 2)
    assert (s["zero_variance"], s["all_zero"], s["all_one"], s["all_equal_other"]) == (0.75, 0.25, 0.25, 0.25)
    assert s["correct_histogram"] == [2, 1, 1] and s["mean_reward_std"] == pytest.approx(0.125)


def test_foreign_data_source_goes_to_verls_scorer(tmp_path):
    parquet = tmp_path / "gsm8k.parquet"
    rows = [{"data_source": "openai/gsm8k", "prompt": [{"role": "user", "content": f"What is {k} + 40? ####"}],
             "ability": "math", "reward_model": {"style": "rule", "ground_truth": str(40 + k)},
             "extra_info": {"index": k, "level": "easy"}} for k in range(3)]
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    golds = {r["prompt"][0]["content"]: (k + 1, f"#### {r['reward_model']['ground_truth']}")
             for k, r in enumerate(rows)}
    settings = EvalSettings(model="scripted", backend="scripted", rollouts=3, temperature=1.0)
    report = run_diagnostic([("gsm8k", parquet)], settings, tmp_path / "out",
                            backend_factory=lambda: _Scripted(golds), progress=False)
    summary = report.summaries["gsm8k"]
    assert list(summary["per_task"]) == ["openai/gsm8k"] and list(summary["per_group"]) == ["openai/gsm8k/easy"]
    assert summary["overall"]["correct_histogram"] == [0, 1, 1, 1]  # verl's gsm8k scorer: "#### 41" is right
    assert summary["overall"]["chance"] is None  # no uniform guesser for a data source VideoSSR does not own
    assert "gsm8k" in report.table


def test_several_datasets_one_table_one_figure(data, tmp_path):
    a = tmp_path / "a" / "rows.parquet"
    b = tmp_path / "b" / "rows.parquet"
    a.parent.mkdir(), b.parent.mkdir()
    rows = _with_unique_questions(data / "build" / "train.parquet", a)
    _with_unique_questions(data / "build" / "jigsaw.parquet", b)
    golds = {}
    for path in (a, b):
        for i, r in enumerate(pq.read_table(path).to_pylist()):
            golds[next(m["content"] for m in r["prompt"] if m["role"] == "user")] = (i, r["reward_model"]["ground_truth"])
    settings = EvalSettings(model="scripted", backend="scripted", rollouts=2, temperature=1.0, max_pixels=4096)
    backend = _Scripted(golds)
    report = run_diagnostic([("mix", a), ("jigsaw", b)], settings, tmp_path / "out", backend_factory=lambda: backend,
                            progress=False)
    assert _png_panels(tmp_path / "out" / "histogram.png") == ["mix", "jigsaw"]  # one panel per dataset
    comparison = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert sorted(comparison["datasets"]) == ["jigsaw", "mix"]
    assert comparison["datasets"]["mix"]["overall"]["n"] == len(rows)
    assert (tmp_path / "out" / "mix" / "results.jsonl").is_file() and (tmp_path / "out" / "jigsaw" / "summary.json").is_file()
    assert report.table.splitlines()[1].startswith("dataset") and "\njigsaw " in report.table


def test_figure_bytes_are_deterministic(tmp_path):
    from videossr.evaluation.diagnose import histogram_figure

    panels = [("counting", [3, 1, 0, 2], 0.5), ("jigsaw", [6, 0, 0, 0], 1.0)]
    histogram_figure(panels, tmp_path / "a.png", title="t")
    histogram_figure(panels, tmp_path / "b.png", title="t")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert _png_panels(tmp_path / "a.png") == ["counting", "jigsaw"]


# ---------------------------------------------------------------------------------------------------------------
# Defaults and bad usage


def test_defaults_are_the_training_rollouts():
    import importlib.resources

    import yaml

    rollout = yaml.safe_load((importlib.resources.files("verl.trainer.config") / "rollout" / "rollout.yaml").read_text())
    assert training_sampling() == {"temperature": float(rollout["temperature"]), "top_p": float(rollout["top_p"]),
                                   "top_k": int(rollout["top_k"])} == {"temperature": 1.0, "top_p": 1.0, "top_k": -1}
    args = build_diagnose_parser().parse_args(["--model", "m", "--data", "x.parquet", "--output-dir", "o"])
    assert (args.rollouts, args.temperature, args.top_p, args.top_k, args.max_new_tokens) == (8, 1.0, 1.0, -1, 2048)
    assert args.reward_mode == "smooth"


@pytest.mark.parametrize("extra, message", [
    (["--top-p", "0"], "--top-p"),
    (["--rollouts", "0"], "--rollouts"),
    (["--temperature", "-1"], "--temperature"),
    (["--reward-mode", "fuzzy"], "--reward-mode"),
    (["--sweep", "counting"], "not both"),
])
def test_bad_usage_exits_2(extra, message, tmp_path, capsys):
    argv = ["--model", "m", "--data", str(tmp_path / "x.parquet"), "--output-dir", str(tmp_path / "o"), *extra]
    with pytest.raises(SystemExit) as e:
        main("diagnose", argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_unknown_sweep_task_and_missing_file(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as e:
        main("diagnose", ["--model", "m", "--sweep", "painting", "--frames-dir", str(tmp_path), "--output-dir", "o"])
    assert e.value.code == 2 and "painting" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["diagnose.py", "--model", "m", "--data", str(tmp_path / "none.parquet"),
                                      "--output-dir", str(tmp_path / "o"), "--backend", "hf"])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(REPO / "eval" / "diagnose.py"), run_name="__main__")
    assert e.value.code == 2 and "none.parquet" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written


# ---------------------------------------------------------------------------------------------------------------
# The sweep


def test_sweep_writes_a_difficulty_file_that_changes_the_build(data, tiny_qwen3vl, tmp_path, capsys):
    out = tmp_path / "calib"
    argv = ["--model", str(tiny_qwen3vl), "--sweep", "counting", "--counting-grid", "1x1,2x2", "--frames-dir",
            str(data / "frames"), "--probe-size", "2", "--rollouts", "2", "--output-dir", str(out), *SMALL]
    assert main("diagnose", argv) == 0
    printed = capsys.readouterr().out
    assert "F1K1" in printed and "F2K2" in printed and "difficulty file" in printed
    for label in ("F1K1", "F2K2"):  # each probe set built at its setting and diagnosed
        probe = pq.read_table(out / "probes" / "counting" / label / "probe.parquet").to_pylist()
        assert len(probe) == 2
        f, k = int(label[1]), int(label[3])
        assert all(json.loads(r["extra_info"]["params"])["max_frames_per_class"] == f for r in probe)
        assert all(json.loads(r["extra_info"]["params"])["max_instances"] == k for r in probe)
        assert len(read_jsonl(out / "sweep" / "counting" / label / "results.jsonl")) == 2
    assert _png_panels(out / "sweep" / "counting" / "histogram.png") == ["F1K1", "F2K2"]

    difficulty = read_difficulty(out / "difficulty.json")  # what the build reads
    ((label, params, weight),) = difficulty["counting"]
    notes = json.loads((out / "difficulty.json").read_text())
    assert notes["model"] == str(tiny_qwen3vl) and notes["target"] == 0.5
    assert [m["label"] for m in notes["measured"]["counting"]] == ["F1K1", "F2K2"]
    assert [m["label"] for m in notes["measured"]["counting"] if m["chosen"]] == [label]

    # The build takes it (the library and the command line) and its counting samples change their parameters.
    built = build(BuildConfig(output_dir=tmp_path / "b", frames_dir=data / "frames", num_samples=10,
                              difficulty=difficulty), progress=False)
    rows = pq.read_table(built.files["counting"]).to_pylist()
    assert rows
    for r in rows:
        p = json.loads(r["extra_info"]["params"])
        assert (p["max_frames_per_class"], p["max_instances"]) == (params["max_frames_per_class"],
                                                                  params["max_instances"]) != (3, 3)
    run = subprocess.run([sys.executable, str(REPO / "pretext_tasks" / "build_dataset.py"), "--frames-dir",
                          str(data / "frames"), "--output-dir", str(tmp_path / "c"), "--num-samples", "10",
                          "--difficulty-from", str(out / "difficulty.json"), "--quiet"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    meta = json.loads((tmp_path / "c" / "metadata.json").read_text())
    assert [v["label"] for v in meta["mix"]["counting"]["variants"]] == [label]

    # A rerun resumes: nothing generated, the same file.
    before = (out / "difficulty.json").read_bytes()
    assert main("diagnose", argv) == 0
    assert (out / "difficulty.json").read_bytes() == before


def test_sweep_grid_flags():
    from videossr.evaluation.cli import _sweep_grids

    parser = build_diagnose_parser()
    args = parser.parse_args(["--model", "m", "--sweep", "all", "--frames-dir", "f", "--output-dir", "o",
                              "--jigsaw-grid", "4,8", "--grounding-lengths", "4-8", "--grounding-perturbations",
                              "mirror,zoomout"])
    grids = _sweep_grids(parser, args)
    assert [s.label for s in grids["jigsaw"]] == ["4clips", "8clips"]
    assert [s.label for s in grids["grounding"]] == ["Mirror_len4-8", "ZoomOut_len4-8"]
    assert [s.family for s in grids["grounding"]] == ["Mirror", "ZoomOut"]
    assert [s.label for s in grids["counting"]] == ["F1K1", "F2K2", "F3K3", "F4K4"]


def test_diagnostic_benchmark_checks_golds(tmp_path):
    parquet = tmp_path / "bad.parquet"
    row = {"data_source": "videossr_counting", "prompt": [{"role": "user", "content": "count"}],
           "reward_model": {"style": "rule", "ground_truth": "three"}, "extra_info": {"index": 0}}
    pq.write_table(pa.Table.from_pylist([row]), parquet)
    bench = Diagnostic(parquet)
    (item,) = bench.load_items()
    with pytest.raises(ValueError, match="row 0"):
        bench.check_gold(item)


# ---------------------------------------------------------------------------------------------------------------
# The OpenAI-compatible backend's sampling, against a local stand-in server


@pytest.mark.parametrize("honours_n", [True, False])
def test_openai_sampling_asks_for_n(honours_n):
    from videossr.evaluation.backends import OpenAIBackend
    from videossr.evaluation.inputs import Request
    from support.chat_server import ChatServer

    def answer(body):
        n = body.get("n", 1) if honours_n else 1
        return {"choices": [{"index": k, "message": {"content": f"s{body.get('seed')}c{k}"}} for k in reversed(range(n))]}

    with ChatServer(answer) as server:
        backend = OpenAIBackend("m", base_url=server.url, concurrency=2)
        req = Request(({"role": "user", "content": "hi"},))
        out = sample_texts(backend, [req, req], Sampling(n=3, temperature=0.8, top_p=0.9, top_k=5), [10, 20])
    bodies = server.bodies
    if honours_n:
        assert out == [["s10c0", "s10c1", "s10c2"], ["s20c0", "s20c1", "s20c2"]]  # in the server's index order
        assert len(bodies) == 2
    else:  # the rest asked one at a time, each with the next seed
        assert out == [["s10c0", "s11c0", "s12c0"], ["s20c0", "s21c0", "s22c0"]]
    assert all(b["temperature"] == 0.8 and b["top_p"] == 0.9 and b["top_k"] == 5 for b in bodies)
