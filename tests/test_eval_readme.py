"""Every ``python eval/...`` command in eval/README.md runs as written.

The commands are taken from the README's bash blocks (continuation lines joined) and run in-process as scripts
(``runpy``, so ``eval/*.py`` itself is what runs), from the repository root, with only their placeholders filled in:
``MODEL_DIR`` is the tiny random Qwen3-VL, ``out/...`` goes to a temporary folder, the VIUBench parquet and the
training build (``data/videossr``: its parquet and frame store) are small ones built here, and the HTTP endpoint is a
local stand-in server. Commands that need vLLM (GPUs) or the full
benchmarks (eval/score.py on a full run's answers) have their flags parsed and checked instead.
"""

from __future__ import annotations

import json
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest

from videossr.evaluation.cli import (
    build_diagnose_parser,
    build_score_parser,
    build_suite_parser,
    build_viubench_parser,
    parse_args,
)
from videossr.io import read_jsonl
from support.chat_server import ChatServer, text_reply
from support.readme import bash_commands

REPO = Path(__file__).resolve().parents[1]
README = REPO / "eval" / "README.md"
SCRIPTS = {"eval/vqa.py": "vqa", "eval/vtg.py": "vtg", "eval/viubench.py": "viubench", "eval/diagnose.py": "diagnose",
           "eval/score.py": "score", "eval/suite.py": "suite"}
ENDPOINT = "http://127.0.0.1:8000/v1"
VIUBENCH_PARQUET = "data/viubench/viubench.parquet"
TRAIN_PARQUET = "data/videossr/train.parquet"
FRAME_STORE = "data/videossr/frames_store"


def readme_commands() -> list[tuple[dict[str, str], str, list[str]]]:
    """(environment assignments, script, arguments) of every ``python eval/...`` line of the README's bash blocks."""
    return [(env, words[1], words[2:]) for env, words in bash_commands(README)
            if len(words) >= 2 and words[0] == "python" and words[1].startswith("eval/")]


def test_readme_has_the_commands():
    cmds = readme_commands()
    scripts = [script for _, script, _ in cmds]
    assert set(scripts) == set(SCRIPTS), scripts  # every script is shown, and only real ones
    assert len(cmds) >= 12


@pytest.fixture(scope="module")
def viubench_parquet(tmp_path_factory) -> Path:
    from support.frames import make_frame_store
    from videossr.evaluation.viubench import build_viubench

    base = tmp_path_factory.mktemp("readme_viubench")
    make_frame_store(base / "frames", num_videos=2, num_frames=48, width=64, height=48)
    return build_viubench(base / "frames", base / "bench", per_subtype=1, progress=False).parquet


@pytest.fixture(scope="module")
def training_build(tmp_path_factory) -> Path:
    """A small build of the training mix (recipe rows) with its own frame store, in place of ``make demo``'s."""
    from videossr.datasets.build import BuildConfig, build
    from support.frames import make_frame_store

    base = tmp_path_factory.mktemp("readme_build")
    make_frame_store(base / "videossr" / "frames_store", num_videos=2, num_frames=48, width=64, height=48)
    build(BuildConfig(output_dir=base / "videossr", frames_dir=base / "videossr" / "frames_store", num_samples=8),
          progress=False)
    return base / "videossr"


def _fill(args: list[str], model: Path, out: Path, parquet: Path, url: str, build: Path | None = None) -> list[str]:
    filled = []
    for a in args:
        if a == "MODEL_DIR":
            a = str(model)
        elif a.startswith("out/"):
            a = str(out / a[len("out/"):])
        elif a == VIUBENCH_PARQUET:
            a = str(parquet)
        elif build is not None and a == TRAIN_PARQUET:
            a = str(build / "train.parquet")
        elif build is not None and a == FRAME_STORE:
            a = str(build / "frames_store")
        elif a == ENDPOINT:
            a = url
        filled.append(a)
    return filled


def _run_script(script: str, argv: list[str], monkeypatch) -> int:
    monkeypatch.setattr(sys, "argv", [script, *argv])
    try:
        runpy.run_path(str(REPO / script), run_name="__main__")
    except SystemExit as e:
        return 0 if e.code is None else int(e.code)
    return 0


def test_readme_commands_run_as_written(tiny_qwen3vl, viubench_parquet, training_build, tmp_path, monkeypatch,
                                        capsys):
    monkeypatch.chdir(REPO)
    out = tmp_path / "out"
    ran, checked = [], []
    for env, script, args in readme_commands():
        key = env.get("OPENAI_API_KEY")
        server = ChatServer(text_reply("The answer is (B)."), api_key=key) if key else None
        try:
            argv = _fill(args, tiny_qwen3vl, out, viubench_parquet, server.url if server else ENDPOINT, training_build)
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            backend = argv[argv.index("--backend") + 1] if "--backend" in argv else "vllm"  # the default
            if SCRIPTS[script] == "score":  # answers of a full benchmark run: the flags are checked
                build_score_parser().parse_args(argv)
                checked.append(script)
                continue
            if backend.lower() == "vllm" and "--rescore" not in argv:
                # GPUs and the full benchmark data: check that the flags parse and pass the checks.
                if SCRIPTS[script] == "viubench":
                    build_viubench_parser().parse_args(argv)
                elif SCRIPTS[script] == "suite":
                    build_suite_parser().parse_args(argv)
                elif SCRIPTS[script] == "diagnose":
                    build_diagnose_parser().parse_args(argv)
                else:
                    parse_args(SCRIPTS[script], argv)
                checked.append(script)
                continue
            code = _run_script(script, argv, monkeypatch)
            printed = capsys.readouterr()
            assert code == 0, f"{script} {shlex.join(args)} exited {code}:\n{printed.err[-3000:]}"
            ran.append((script, argv, printed.out))
            if server:
                assert server.answered > 0
        finally:
            if server:
                server.close()
    assert checked.count("eval/diagnose.py") == 3 and checked.count("eval/score.py") == 2
    assert len(checked) == 10 and len(ran) >= 7

    # What they wrote: the demo questions, answered and summarized.
    vqa = json.loads((out / "demo-vqa" / "summary.json").read_text())["metrics"]
    assert vqa["n"] == 4 and vqa["n_errors"] == 0
    vtg = json.loads((out / "demo-vtg" / "summary.json").read_text())["metrics"]
    assert vtg["n"] == 2 and vtg["n_errors"] == 0
    api = json.loads((out / "demo-vqa-api" / "summary.json").read_text())["metrics"]
    assert api["n_correct"] == 3  # the stand-in answers B; three of the four demo questions are B
    assert len(read_jsonl(out / "viubench-cpu" / "results.jsonl")) == 9
    rescore = next(printed for script, argv, printed in ran if "--rescore" in argv)
    assert re.search(r"^Overall", rescore, re.M)
    diag = json.loads((out / "diag-cpu" / "summary.json").read_text())
    assert diag["overall"]["n"] == 6 and diag["rollouts"] == 4 and (out / "diag-cpu" / "histogram.png").is_file()
    from videossr.datasets.build import read_difficulty

    assert read_difficulty(out / "calib-cpu" / "difficulty.json")["counting"]
