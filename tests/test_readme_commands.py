"""Every command in README.md and train/README.md still runs as written (eval/README.md: test_eval_readme.py).

Commands are read from the READMEs' bash blocks. Placeholders are filled with small local stand-ins: a user's video
folder with the demo clips, ``/models/...`` and ``MODEL_DIR`` with a tiny random Qwen3-VL, and a mix built at the
paper's 30K size gets ``--num-samples 12`` (a two-clip folder cannot give 30K distinct samples; the build refuses
that, as it should). Commands that need GPUs, a Ray cluster, network installs or the test suite itself are only
checked to name scripts that exist: they are listed in SKIPPED with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from videossr.datasets.build import DIFFICULTY_FORMAT
from support.readme import bash_commands

REPO = Path(__file__).resolve().parents[1]
READMES = (REPO / "README.md", REPO / "train" / "README.md")
SKIPPED = {
    "make": "make targets run the suite, the demo build or the smoke step themselves (CI runs them)",
    "pip": "installs from the network",
    "ray": "needs a Ray cluster",
    "vllm": "needs GPUs (the vLLM backend)",
    "gpu-train": "a real training run needs GPUs",
}


def commands() -> list[tuple[Path, dict[str, str], list[str]]]:
    return [(readme, env, words) for readme in READMES for env, words in bash_commands(readme)]


def why_skipped(env: dict[str, str], words: list[str]) -> str | None:
    if words[0] in ("make", "pip", "ray"):
        return SKIPPED[words[0]]
    if "vllm" in words:
        return SKIPPED["vllm"]
    if words[:2] == ["bash", "train/train.sh"] and env.get("DRY_RUN") != "1" and "--dry-run" not in words:
        return SKIPPED["gpu-train"]
    if words[:2] == ["bash", "train/multinode.sh"]:
        return SKIPPED["ray"]
    return None


def test_every_script_a_readme_names_exists():
    named = [w for _, _, words in commands() for w in words if re.fullmatch(r"[\w/]+\.(py|sh)", w)]
    assert named
    missing = [w for w in named if not (REPO / w.replace("/path/to/videossr/", "")).is_file()]
    assert not missing, missing


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_qwen3vl):
    """A copy of the repository's scripts and demo clips, so README commands write into a scratch tree."""
    root = tmp_path_factory.mktemp("readme") / "repo"
    for name in ("pretext_tasks", "eval", "train", "verl", "data"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("videossr", "frames", "__pycache__"))
    (root / "data" / "my_videos").mkdir(parents=True)
    for clip in ("bigbuckbunny.mp4", "cityCC0.mpg"):
        shutil.copy(REPO / "data" / "demo" / clip, root / "data" / "my_videos" / clip)
    return root


def _fill(words: list[str], root: Path, model: Path) -> list[str]:
    filled = []
    for w in words:
        if w == "/data/my_videos":
            w = str(root / "data" / "my_videos")
        elif w == "MODEL_DIR" or w.startswith("/models/"):
            w = str(model)
        filled.append(w)
    if filled[:2] == ["python", "pretext_tasks/build_dataset.py"] and "--num-samples" not in filled:
        filled += ["--num-samples", "12"]
    if filled[0] == "python":
        filled[0] = sys.executable
    return filled


def test_readme_commands_run_as_written(workdir, tiny_qwen3vl):
    env = {k: v for k, v in os.environ.items() if k not in ("DRY_RUN", "MODEL_PATH", "DATA_DIR", "SMOKE")}
    env.update(PYTHON=sys.executable, PYTHONPATH=str(REPO), HF_HOME=str(workdir / "hf"))
    calib = workdir / "out" / "calib" / "difficulty.json"  # what a sweep writes; the README builds from it
    calib.parent.mkdir(parents=True)
    calib.write_text(json.dumps({"format": DIFFICULTY_FORMAT, "tasks": {"jigsaw": {"variants": [
        {"label": "4clips", "params": {"num_clips": 4}}]}}}))
    ran, skipped = [], []
    for readme, assigned, words in commands():
        if words[:2] == ["make", "demo"]:  # what `make demo` runs (smaller), since later commands build on its output
            demo = [sys.executable, "pretext_tasks/build_dataset.py", "--num-samples", "30", "--quiet"]
            assert subprocess.run(demo, cwd=workdir, env=env, capture_output=True, timeout=600).returncode == 0
            continue
        reason = why_skipped(assigned, words)
        if reason:
            skipped.append((words[:2], reason))
            continue
        run_env = {**env, **{k: str(tiny_qwen3vl) if v.startswith("/models/") else v for k, v in assigned.items()}}
        cmd = _fill(words, workdir, tiny_qwen3vl)
        if cmd[:2] == ["bash", "train/train.sh"]:
            cmd += ["data.filter_overlong_prompts=false"]  # the tiny model's processor is slow on 48-frame videos
        p = subprocess.run(cmd, cwd=workdir, env=run_env, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, f"{readme.name}: {shlex.join(words)}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
        ran.append(words[:2])
    assert ["python", "pretext_tasks/build_dataset.py"] in ran and ["bash", "train/train.sh"] in ran
    assert skipped
