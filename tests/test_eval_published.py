"""Published benchmarks end to end on CPU: eval/vqa.py and eval/vtg.py ``--benchmark NAME --data-root DIR`` with the
tiny random Qwen3-VL on tiny clips, what each result line records, both protocols in the summary, eval/score.py on
the run's own results, on plain id/output lines and on lmms-eval --log_samples lines, and the errors a user meets."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import published as fx
from support.media import make_clip
from videossr.evaluation import cli
from videossr.evaluation.benchmarks.published import SYSTEM_PROMPT, MissingData
from videossr.evaluation.benchmarks.registry import get_benchmark
from videossr.io import read_jsonl

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--max-frames", "4", "--max-pixels", str(64 * 64), "--min-pixels", str(32 * 32), "--backend", "hf"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clip") / "c.mp4", seconds=2, fps=8, size=(64, 48))


def _videomme_root(tmp_path, clip, n_videos=2):
    from support.lmms import task_utils

    root = fx.write_root("videomme", tmp_path / "videomme_root", task_utils("videomme"))
    (root / "data").mkdir()
    for i in range(n_videos):
        shutil.copy(clip, root / "data" / f"vid{i:03d}.mp4")
    return root


def test_vqa_benchmark_run_records_prompts_and_both_protocols(tiny_qwen3vl, clip, tmp_path, capsys):
    root = _videomme_root(tmp_path, clip)
    out = tmp_path / "out"
    argv = ["--benchmark", "Video-MME", "--data-root", str(root), "--model", str(tiny_qwen3vl),
            "--output-dir", str(out), "--limit", "7", *SMALL]
    assert cli.main("vqa", argv) == 1  # the 7th question's video (vid002) is not there
    printed = capsys.readouterr().out
    assert "protocol" in printed and "lmms_eval | strict" in printed
    lines = read_jsonl(out / "results.jsonl")
    assert len(lines) == 7
    bench = get_benchmark("videomme")(root)
    docs = {d.id: d for d in bench.load_items()}
    for rec in lines[:6]:
        assert rec["system_prompt"] == SYSTEM_PROMPT
        assert rec["prompt"] == bench.user_text(docs[rec["id"]])
        assert rec["prompt"].startswith("Question: ") and rec["prompt"].endswith("Answer with the option letter only.")
        assert isinstance(rec["raw_output"], str) and rec["error"] is None
        assert rec["settings"]["max_new_tokens"] == 16  # Video-MME's limit in lmms-eval
        assert set(rec["scores"]) == {"lmms_eval", "strict"}
        assert rec["score"] == rec["scores"]["lmms_eval"]["score"]
    assert lines[6]["error_kind"] == "missing_video" and "data/vid002.mp4" in lines[6]["error"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["protocol"] == "lmms_eval" and summary["benchmark"] == "videomme"
    assert set(summary["scores"]) == {"lmms_eval", "strict"}
    assert summary["headline"] == {"metric": "accuracy", "value": summary["scores"]["lmms_eval"]["accuracy"]}
    assert set(summary["scores"]["lmms_eval"]["breakdown"]) == {"duration", "domain", "sub_category", "task_type"}

    # eval/score.py on the run's own results gives the run's scores (the error line has no output: not scored)
    scored = tmp_path / "scored"
    assert cli.main("score", ["--benchmark", "videomme", "--data-root", str(root), "--outputs",
                              str(out / "results.jsonl"), "--output-dir", str(scored)]) == 1  # 18 have no output
    again = json.loads((scored / "summary.json").read_text())
    ok = [r for r in lines if r["error"] is None]
    assert again["n"] == len(ok) == 6 and again["outputs"]["n_missing"] == 24 - 6
    expect = 100 * sum(r["scores"]["lmms_eval"]["score"] for r in ok) / len(ok)
    assert again["scores"]["lmms_eval"]["accuracy"] == pytest.approx(expect)

    # the same answers as an lmms-eval --log_samples file (doc_id = index in the split) score the same
    samples = tmp_path / "2026_samples_videomme.jsonl"
    samples.write_text("".join(json.dumps({"doc_id": r["doc_id"], "resps": [[r["raw_output"]]],
                                           "filtered_resps": [r["raw_output"]]}) + "\n" for r in ok))
    assert cli.main("score", ["--benchmark", "videomme", "--data-root", str(root), "--outputs", str(samples),
                              "--output-dir", str(tmp_path / "scored2"), "--protocol", "strict"]) == 1
    third = json.loads((tmp_path / "scored2" / "summary.json").read_text())
    assert third["protocol"] == "strict" and third["scores"] == again["scores"]


def test_score_reports_unknown_and_missing_ids(tmp_path, capsys):
    root = fx.write_root("lvbench", tmp_path / "lv")
    outputs = tmp_path / "answers.jsonl"
    outputs.write_text("".join(json.dumps({"id": str(1000 + i), "output": "B"}) + "\n" for i in range(20))
                       + json.dumps({"id": "nope-1", "output": "A"}) + "\n")
    code = subprocess.run([sys.executable, "eval/score.py", "--benchmark", "LVBENCH", "--data-root", str(root),
                           "--outputs", str(outputs), "--output-dir", str(tmp_path / "o")], cwd=REPO,
                          capture_output=True, text=True)
    assert code.returncode == 1, code.stderr
    assert "1 outputs name no question of LVBench: nope-1" in code.stdout
    assert "4 questions of LVBench have no output (not scored): 1020, 1021, 1022, 1023" in code.stdout
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    rows = [d for d in get_benchmark("lvbench")(root).load_items()][:20]
    expect = 100 * sum(d.row["answer"] == "B" for d in rows) / 20
    assert summary["scores"]["lmms_eval"]["accuracy"] == pytest.approx(expect)
    assert summary["scores"]["strict"]["accuracy"] == pytest.approx(expect)  # a bare letter reads alike


def test_vtg_benchmark_run(tiny_qwen3vl, clip, tmp_path, capsys):
    root = fx.write_root("charades", tmp_path / "charades")
    (root / "Charades_v1_480").mkdir()
    shutil.copy(clip, root / "Charades_v1_480" / "V0000.mp4")
    out = tmp_path / "out"
    argv = ["--benchmark", "charades", "--data-root", str(root), "--model", str(tiny_qwen3vl), "--output-dir",
            str(out), "--limit", "1", "--protocol", "strict", *SMALL]
    assert cli.main("vtg", argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["protocol"] == "strict" and summary["headline"]["metric"] == "miou"
    assert summary["settings"]["max_new_tokens"] == 50
    assert summary["incomplete"]["n_results"] == 1
    (rec,) = read_jsonl(out / "results.jsonl")
    assert rec["prompt"].endswith("person opens the door. Please return its start time and end time.")


def test_usage_errors(tmp_path, capsys):
    root = fx.write_root("charades", tmp_path / "charades")
    base = ["--model", "m", "--output-dir", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as e:  # a grounding benchmark is not one of vqa.py's
        cli.main("vqa", ["--benchmark", "charades", "--data-root", str(root), *base])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        cli.main("vqa", ["--benchmark", "videomme", *base])  # no --data-root
    with pytest.raises(SystemExit):
        cli.main("vqa", ["--benchmark", "videomme", "--data-root", str(root), "--data", "x.json", *base])
    capsys.readouterr()
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingData, match=r"no Video-MME annotation file under .*empty: looked for "
                                          r"'videomme/test-\*\.parquet', '\*\*/test-\*\.parquet'"):
        get_benchmark("videomme")(tmp_path / "empty").load_items()
    with pytest.raises(ValueError, match=r"test-00000-of-00001.parquet row 0: no field 'videoID'"):
        get_benchmark("videomme")(root).load_items()  # another benchmark's file where Video-MME's should be
    with pytest.raises(MissingData, match="not a folder"):
        get_benchmark("lvbench")(tmp_path / "absent")
    with pytest.raises(ValueError, match="unknown benchmark 'nope'; choose from mvbench"):
        get_benchmark("nope")


def test_bad_published_row_is_named(tmp_path):
    root = fx.write_root("mvbench", tmp_path / "mv")
    rows = json.loads((root / "json" / "moving_count.json").read_text())
    rows[1]["answer"] = "not a candidate"
    (root / "json" / "moving_count.json").write_text(json.dumps(rows))
    bench = get_benchmark("mvbench")(root)
    docs = bench.load_items()
    with pytest.raises(ValueError, match=r"MVBench question moving_count_1: the answer 'not a candidate' is none"):
        for d in docs:
            bench.check_gold(d)
    del rows[2]["question"]
    (root / "json" / "moving_count.json").write_text(json.dumps(rows))
    with pytest.raises(ValueError, match=r"moving_count.json row 2: no field 'question'"):
        bench.load_items()


def test_longvideobench_guess_is_seeded(tmp_path):
    root = fx.write_root("longvideobench", tmp_path / "lvb")
    bench = get_benchmark("longvideobench")(root)
    docs = bench.load_items()
    pairs = [(d, "I cannot tell from the video.") for d in docs]
    first, second = bench.lmms_summary(pairs), bench.lmms_summary(pairs)
    assert first == second and first["guesses"] == len(docs)
    assert bench.strict_summary(pairs)["accuracy"] == 0.0  # strict never guesses


_UTILS = {"videomme": "videomme", "videott": "video-tt"}


@pytest.mark.parametrize("name", sorted(__import__("videossr.evaluation.benchmarks.registry",
                                                   fromlist=["PUBLISHED"]).PUBLISHED))
def test_every_benchmark_scores_and_prints(name, tmp_path, monkeypatch):
    """Each registered benchmark: its fixture root loads, eval/score.py's path scores varied answers under both
    protocols, and the table prints with the headline marked."""
    from support.lmms import task_utils
    from videossr.evaluation.scoring import score_outputs

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    root = fx.write_root(name, tmp_path / name, task_utils(_UTILS[name]) if name in _UTILS else None)
    bench = get_benchmark(name)(root)
    docs = bench.load_items()
    for d in docs:
        bench.check_gold(d)
        system, user = bench.prompt(d)
        assert system == SYSTEM_PROMPT and user
    answers = fx.choice_outputs(random.Random(0), "ABCD", 40) + fx.interval_outputs(random.Random(0), 40)
    outputs = {d.id: answers[i % len(answers)] for i, d in enumerate(docs)}
    summary = score_outputs(bench, outputs, tmp_path / "out")
    assert summary["n"] == len(docs) and summary["outputs"]["n_missing"] == 0
    for protocol in ("lmms_eval", "strict"):
        value = summary["scores"][protocol][bench.headline]
        assert 0.0 <= value <= 100.0
    table = bench.format(summary)
    assert f"{bench.headline} *" in table and "lmms_eval | strict" in table
    lines = read_jsonl(tmp_path / "out" / "results.jsonl")
    assert len(lines) == len(docs) and all(r["prompt"] and r["system_prompt"] == SYSTEM_PROMPT for r in lines)
    json.dumps(summary)  # JSON all the way down


def test_score_reads_lmms_eval_samples_per_subtask(tmp_path):
    """MVBench's --log_samples come as one file per subtask; the task is read from the file name."""
    root = fx.write_root("mvbench", tmp_path / "mv")
    bench = get_benchmark("mvbench")(root)
    docs = bench.load_items()
    files = []
    for sub in ("action_antonym", "moving_count"):
        path = tmp_path / f"20261203_samples_mvbench_{sub}.jsonl"
        mine = [d for d in docs if d.groups["subtask"] == sub]
        path.write_text("".join(json.dumps({"doc_id": d.doc_id, "resps": [[f"({bench.gold_letter(d)})"]],
                                            "filtered_resps": [f"({bench.gold_letter(d)})"]}) + "\n"
                                for d in mine))
        files.append(str(path))
    out = tmp_path / "o"
    assert cli.main("score", ["--benchmark", "MVBench", "--data-root", str(root), "--outputs", *files,
                              "--output-dir", str(out)]) == 1
    summary = json.loads((out / "summary.json").read_text())
    subs = summary["scores"]["lmms_eval"]["breakdown"]["subtask"]
    assert set(subs) == {"action_antonym", "moving_count"}
    assert all(v["accuracy"] == 100.0 and v["n"] == 3 for v in subs.values())
    assert summary["outputs"]["n_missing"] == 60 - 6 and summary["outputs"]["n_unknown"] == 0
