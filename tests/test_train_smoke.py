"""`make train-smoke`: ONE real GRPO step of stock verl on a CPU, in smooth and in strict reward mode; and
`make train-smoke CURRICULUM=1`: three steps with the online curriculum, whose rungs must move down.

Slow and heavy (its own ~7 GB environment, installed on first use in a few minutes; then about 2-4 minutes per
step on 2 cores), so it is opt-in: marked ``slow`` and skipped unless asked, with ``VIDEOSSR_SMOKE=1`` or ``-m slow``::

    VIDEOSSR_SMOKE=1 .venv/bin/python -m pytest tests/test_train_smoke.py -q
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from videossr.training.smoke import check_curriculum, check_run, read_metrics

REPO = Path(__file__).resolve().parents[1]
# Settings a caller may have exported that would change what the smoke runs.
_SETTINGS = ("SMOKE", "SMOKE_ROWS", "DRY_RUN", "MODEL_PATH", "DATA_DIR", "TRAIN_FILES", "VAL_FILES", "OUTPUT_DIR", "PYTHON",
             "REWARD_MODE", "EXPERIMENT_NAME", "LOGGER", "N_GPUS_PER_NODE", "NNODES", "ROLLOUT_TP", "CURRICULUM")

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.timeout(3600)]


@pytest.fixture(scope="module")
def smoke_env():
    """The smoke's own environment (.venv-train-smoke), installed by its Makefile target if it is not there yet."""
    out = subprocess.run(["make", "-C", str(REPO), "train-smoke-env"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return REPO / ".venv-train-smoke" / "bin" / "python"


@pytest.mark.parametrize("mode, rows", [("smooth", "recipes"), ("strict", "recipes"), ("smooth", "frames")])
def test_make_train_smoke(smoke_env, tmp_path, mode, rows):
    """Recipe rows (the build's default, made on the fly by videossr.training.dataset inside verl) in both reward modes,
    and rows with frames on disk (a materialised build)."""
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    env.update(REWARD_MODE=mode, SMOKE_ROWS=rows, OUTPUT_DIR=str(tmp_path / "out"), HF_HOME=str(tmp_path / "hf"))
    out = subprocess.run(["make", "-C", str(REPO), "train-smoke"], env=env, capture_output=True, text=True)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-6000:]
    assert "SMOKE STEP OK" in out.stdout, log[-6000:]
    # verl's console line of step 1 (printed by its Ray task runner, so prefixed), and the same verdict when read
    # again from the run's folder
    assert any("step:1 - " in line and "actor/grad_norm:" in line for line in out.stdout.splitlines())
    (run_dir,) = sorted((tmp_path / "out").glob("smoke_*"))
    verdict = check_run(run_dir, reward_mode=mode)
    assert verdict.ok, verdict.failures
    assert (tmp_path / "out" / "model" / "config.json").is_file()
    data = tmp_path / "out" / f"data_{rows}" / "train.parquet"
    assert data.is_file()
    from videossr.tasks.sample import rows_kind

    assert rows_kind(data) == rows
    # verl prints its resolved configuration: recipe rows were loaded with the class that makes their frames
    assert ("'name': 'VideoSSRDataset'" in log) == (rows == "recipes")


def test_make_train_smoke_curriculum(smoke_env, tmp_path):
    """Three GRPO steps with the curriculum on: the tiny model fails (nearly) every question, so rungs move down, and
    the last step's samples come from the lower rungs, as verl's metrics log says they were drawn."""
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    env.update(CURRICULUM="1", OUTPUT_DIR=str(tmp_path / "out"), HF_HOME=str(tmp_path / "hf"))
    out = subprocess.run(["make", "-C", str(REPO), "train-smoke"], env=env, capture_output=True, text=True)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-6000:]
    assert "SMOKE STEP OK" in out.stdout and "CURRICULUM SMOKE OK" in out.stdout, log[-6000:]
    (run_dir,) = sorted((tmp_path / "out").glob("smoke_*"))
    steps = read_metrics(run_dir / "metrics.jsonl")
    assert sorted(steps) == [1, 2, 3]
    verdict = check_curriculum(steps, last_step=3, checkpoint_dir=run_dir / "checkpoints")
    assert verdict.ok, verdict.failures
    assert "'custom_sampler': {'name': 'CurriculumReplayBuffer'" in log  # verl's resolved config: our replay buffer
