"""eval/suite.py: chosen benchmarks run with the tiny Qwen3-VL, then the table (markdown, JSON, PNG) in the paper's
layout with its figures beside, absent benchmarks listed as skipped, and a rerun that generates nothing."""

from __future__ import annotations

import json
import shutil

from support import published as fx
from support.lmms import task_utils
from support.media import make_clip
from videossr.evaluation import cli


def test_suite_table(tiny_qwen3vl, tmp_path, capsys):
    clip = make_clip(tmp_path / "c.mp4", seconds=2, fps=8, size=(64, 48))
    bench = tmp_path / "bench"
    root = fx.write_root("videomme", bench / "videomme", task_utils("videomme"))
    (root / "data").mkdir()
    shutil.copy(clip, root / "data" / "vid000.mp4")
    root = fx.write_root("charades", bench / "charades")
    (root / "Charades_v1_480").mkdir()
    shutil.copy(clip, root / "Charades_v1_480" / "V0000.mp4")
    out = tmp_path / "out"
    argv = ["--model", str(tiny_qwen3vl), "--data-root", str(bench), "--output-dir", str(out), "--backend", "hf",
            "--benchmarks", "Video-MME", "charades", "lvbench", "--frames", "4", "--limit", "1",
            "--max-pixels", str(64 * 64), "--min-pixels", str(32 * 32)]
    assert cli.main("suite", argv) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "suite.json").read_text())
    assert set(report["results"]) == {"videomme", "charades"}
    assert report["skipped"] == {"lvbench": f"{bench / 'lvbench'} is absent"}
    assert report["results"]["videomme"]["4"]["headline"]["metric"] == "accuracy"
    assert report["results"]["charades"]["4"]["headline"]["metric"] == "miou"
    assert report["average"]["4"]["n_in_average"] == 2
    table = (out / "suite.md").read_text()
    assert "| Long video | Video-MME | accuracy |" in table and "32f: 64.1 -> 65.2" in table
    assert "| Long video | LVBench | - | skipped: folder absent |" in table
    assert "| General QA | AoTBench | - | not chosen |" in table and "not run by this project yet" not in table
    assert "| General QA | MVBench | - | not chosen |" in table
    assert "Skipped (folder absent): LVBench" in table and table in printed
    assert (out / "suite.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "videomme-4f" / "results.jsonl").is_file()
    # a rerun: every run resumes with nothing left, the same numbers
    assert cli.main("suite", argv) == 0
    assert json.loads((out / "suite.json").read_text())["results"] == report["results"]
