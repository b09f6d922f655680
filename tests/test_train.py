"""train/train.sh: the CPU dry run passes on a good setup and fails, with verl's message, on a bad one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from videossr.training.launch import DryRunError, dry_run
from videossr.tasks.sample import Clip, Sample, to_verl_row
from support.frames import make_frame_store

REPO = Path(__file__).resolve().parents[1]
TRAIN_SH = REPO / "train" / "train.sh"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A tiny VideoSSR training parquet: one row per task and video, short videos of a synthetic frame store.

    Each row's question, answer and params are a real draw of its task (the validator re-derives them); its videos
    are the source frames of the sample's layout, which is all a dry run needs to measure prompts.
    """
    from videossr.sampling.store import store_context
    from videossr.tasks import counting, get_task, grounding, jigsaw
    from videossr.tasks.recipe import draw

    root = tmp_path_factory.mktemp("videossr_data")
    make_frame_store(root / "frames", num_videos=2, num_frames=8, width=64, height=48)
    ctx, videos = store_context((root / "frames").resolve())
    params = {
        "grounding": grounding.Params(perturbations=("ChannelSwap",), min_len=4, max_len=4),
        "counting": counting.Params(max_frames_per_class=1, max_instances=1, min_gap=0),
        "jigsaw": jigsaw.Params(num_clips=2),
    }
    rows = []
    for video in videos.values():
        for name, p in params.items():
            task = get_task(name)
            draft, _ = draw(name, p, 0, len(rows), video, ctx)
            layout = task.layout(video, ctx, draft.params)
            sample = Sample(name, task.data_source, video.video_id, draft.question, draft.answer,
                            tuple(Clip(clip, video.sample_fps) for clip in layout), draft.params)
            rows.append(to_verl_row(sample, layout, index=len(rows)))
    out = root / "videossr"
    out.mkdir()
    pd.DataFrame(rows).to_parquet(out / "train.parquet")
    return out


def _run(env_extra: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DRY_RUN", "SMOKE", "MODEL_PATH", "DATA_DIR",
                                                            "TRAIN_FILES", "VAL_FILES", "OUTPUT_DIR")}
    env.update(PYTHON=sys.executable, **env_extra)
    return subprocess.run(["bash", str(TRAIN_SH), *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def env(tmp_path, tiny_qwen3vl, data_dir):
    return {
        "MODEL_PATH": str(tiny_qwen3vl),
        "DATA_DIR": str(data_dir),
        "OUTPUT_DIR": str(tmp_path / "out"),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_DATASETS_CACHE": str(tmp_path / "hf" / "datasets"),
    }


def _settings(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        if line.startswith("  ") and " = " in line:
            k, v = line.strip().split(" = ", 1)
            out[k.strip()] = v.strip()
    return out


def test_dry_run_ok(env, tmp_path):
    p = _run({**env, "N_GPUS_PER_NODE": "4", "REWARD_MODE": "strict", "DRY_RUN_ROWS": "3"}, "--dry-run")
    assert p.returncode == 0, p.stderr + p.stdout
    assert "DRY RUN OK" in p.stdout
    s = _settings(p.stdout)
    assert s["lr"] == "1e-06"
    assert s["train_batch_size"] == "64" and s["ppo_mini_batch_size"] == "64"
    assert s["rollout.n"] == "8" and s["rollout.name"] == "vllm"
    assert s["actor.strategy"] == "fsdp2"
    assert s["use_kl_loss"] == "True" and s["kl_loss_coef"] == "0.001" and s["use_kl_in_reward"] == "False"
    assert s["entropy_coeff"] == "0"
    assert s["max_prompt_length"] == "8192" and s["max_response_length"] == "2048"
    assert s["image_patch_size"] == "16" and s["total_epochs"] == "1"
    assert s["n_gpus_per_node"] == "4" and s["nnodes"] == "1"
    assert s["reward.path"] == "pkg://videossr.rewards" and s["reward.name"] == "compute_score"
    assert s["reward.reward_kwargs"] == "{'mode': 'strict'}"
    assert s["rollout.engine_kwargs.vllm"] == "{'mm_processor_cache_gb': 0}"
    assert s["default_local_dir"] == str(tmp_path / "out" / "checkpoints")
    assert "reward(ground truth)=1" in p.stdout
    assert "data_source=videossr_grounding videos=1" in p.stdout
    assert "data_source=videossr_jigsaw videos=2" in p.stdout
    assert "training rows loaded through verl's RLHFDataset: 3" in p.stdout
    logs = list((tmp_path / "out" / "logs").glob("dry_run_*.log"))
    assert len(logs) == 1 and "DRY RUN OK" in logs[0].read_text()


def test_old_key_fails_with_verls_message(env):
    p = _run({**env, "DRY_RUN": "1"}, "actor_rollout_ref.rollout.disable_mm_preprocessor_cache=True")
    assert p.returncode != 0
    assert "Key 'disable_mm_preprocessor_cache' is not in struct" in p.stderr + p.stdout


def test_batch_not_divisible_by_gpus_fails_with_verls_message(tiny_qwen3vl, data_dir):
    """verl's validate_config, through the dry run (in-process here; the script path is exercised above)."""
    files = str(data_dir / "train.parquet")
    overrides = [f"actor_rollout_ref.model.path={tiny_qwen3vl}", f"data.train_files={files}",
                 f"data.val_files={files}", "trainer.n_gpus_per_node=3"]
    with pytest.raises(AssertionError, match=r"real_train_batch_size \(512\) must be divisible by minimal possible "
                                             r"batch size \(3\)"):
        dry_run(REPO / "verl", "videossr_grpo", overrides)
    overrides[-1] = "data.train_batch_size=32"  # smaller than the PPO mini-batch of 64
    with pytest.raises(ValueError, match=r"train_batch_size \(32\) must be >= actor.ppo_mini_batch_size \(64\)"):
        dry_run(REPO / "verl", "videossr_grpo", overrides)


def test_real_run_command_composes_with_main_ppo(env):
    """The same overrides, given to verl's own Hydra app (--cfg job prints the config and exits)."""
    p = _run(env, "--cfg", "job")
    assert p.returncode == 0, p.stderr
    assert "mm_processor_cache_gb: 0" in p.stdout
    assert "path: pkg://videossr.rewards" in p.stdout
    assert "strategy: fsdp2" in p.stdout
    assert "image_patch_size: 16" in p.stdout


def test_gpu_run_carries_no_cpu_smoke_setting(env):
    p = _run(env, "--cfg", "job")
    assert p.returncode == 0, p.stderr
    assert "num_gpus:" not in p.stdout  # no fake Ray GPU
    assert "n_gpus_per_node: 8" in p.stdout and "tensor_model_parallel_size: 2" in p.stdout
    assert "entropy_coeff: 0\n" in p.stdout and "rollout_data_dir: null" in p.stdout


def test_smoke_appends_the_cpu_overrides_to_the_same_list(env, tmp_path):
    """SMOKE=1: train.sh's own override list plus the CPU overrides, composed by main_ppo's Hydra app."""
    p = _run({**env, "SMOKE": "1", "REWARD_MODE": "strict"}, "--cfg", "job")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    # from the shared list
    assert "mm_processor_cache_gb: 0" in out and "mode: strict" in out and "path: pkg://videossr.rewards" in out
    assert f"path: {env['MODEL_PATH']}" in out
    # the smoke's settings and CPU overrides
    assert "n_gpus_per_node: 1" in out and "tensor_model_parallel_size: 1" in out and "num_gpus: 1" in out
    assert "train_batch_size: 2" in out and "total_training_steps: 1" in out and "entropy_coeff: 0.01" in out
    assert "attn_implementation: sdpa" in out and "enforce_eager: true" in out
    assert f"rollout_data_dir: {tmp_path / 'out'}/smoke_" in out
    # --cfg only prints: no model or data was built (both were given), no check ran
    assert "SMOKE STEP" not in out and not (tmp_path / "out" / "model").exists()


def test_smoke_errors_are_clear_and_early(env, tmp_path):
    p = _run({**env, "SMOKE": "1", "DRY_RUN": "1"})
    assert p.returncode != 0 and "DRY_RUN=1 and SMOKE=1 exclude each other" in p.stderr
    p = _run({**env, "SMOKE": "1", "REWARD_MODE": "fuzzy", "MODEL_PATH": "", "DATA_DIR": ""})
    assert p.returncode != 0 and "REWARD_MODE must be smooth or strict, got 'fuzzy'" in p.stderr
    assert not (tmp_path / "out").exists()  # nothing built before the settings were checked


def test_missing_model_is_a_clear_error(env, tmp_path):
    p = _run({**env, "DRY_RUN": "1", "MODEL_PATH": str(tmp_path / "nope")})
    assert p.returncode != 0
    assert f"model directory not found: MODEL_PATH={tmp_path / 'nope'}" in p.stderr


def test_missing_data_is_a_clear_error(env, tmp_path):
    p = _run({**env, "DRY_RUN": "1", "DATA_DIR": str(tmp_path / "empty")})
    assert p.returncode != 0
    assert f"TRAIN_FILES: data file not found: {tmp_path / 'empty' / 'train.parquet'}" in p.stderr


def test_bad_reward_mode_is_a_clear_error(env):
    p = _run({**env, "DRY_RUN": "1", "REWARD_MODE": "fuzzy"})
    assert p.returncode != 0 and "REWARD_MODE must be smooth or strict" in p.stderr


def test_legacy_reward_key_is_rejected(tiny_qwen3vl, data_dir):
    files = str(data_dir / "train.parquet")
    base = [f"actor_rollout_ref.model.path={tiny_qwen3vl}", f"data.train_files={files}", f"data.val_files={files}"]
    with pytest.raises(DryRunError, match="pre-0.9 key"):
        dry_run(REPO / "verl", "videossr_grpo", base + ["custom_reward_function.path=pkg://videossr.rewards"])
    with pytest.raises(DryRunError, match="reward.custom_reward_function.path is not set"):
        dry_run(REPO / "verl", "videossr_grpo", base + ["reward.custom_reward_function.path=null"])


def test_multinode_needs_a_ray_address(env):
    full_env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    full_env.update(env)
    p = subprocess.run(["bash", str(REPO / "train" / "multinode.sh")], env=full_env, capture_output=True, text=True)
    assert p.returncode != 0
    assert "RAY_ADDRESS is not set" in p.stderr


# --- the dry run refuses what would train on nothing, or not at all (each message names the value) ---------------


def _base(tiny_qwen3vl, files: str) -> list[str]:
    return [f"actor_rollout_ref.model.path={tiny_qwen3vl}", f"data.train_files={files}", f"data.val_files={files}",
            "trainer.n_gpus_per_node=4"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("actor_rollout_ref.actor.optim.lr=-5", r"actor_rollout_ref.actor.optim.lr must be a positive number, got -5"),
        ("data.max_response_length=-1", r"data.max_response_length must be a positive integer, got -1"),
        ("trainer.total_epochs=abc", r"trainer.total_epochs must be a positive integer, got 'abc'"),
        ("actor_rollout_ref.rollout.tensor_model_parallel_size=3",
         r"tensor_model_parallel_size=3 does not divide trainer.n_gpus_per_node=4"),
        ("trainer.logger=[console,wandbb]", r"unknown logger\(s\) \['wandbb'\]"),
    ],
)
def test_nonsense_values_fail_naming_the_value(tiny_qwen3vl, data_dir, override, message):
    with pytest.raises(DryRunError, match=message):
        dry_run(REPO / "verl", "videossr_grpo", _base(tiny_qwen3vl, str(data_dir / "train.parquet")) + [override])


def test_rows_with_missing_frames_fail(tiny_qwen3vl, data_dir, tmp_path):
    rows = pd.read_parquet(data_dir / "train.parquet").to_dict("records")
    gone = rows[1]["videos"][0]["video"][3]
    bad = tmp_path / "train.parquet"
    rows[1]["videos"][0]["video"] = [*rows[1]["videos"][0]["video"][:3], str(tmp_path / "nowhere.jpg"),
                                     *rows[1]["videos"][0]["video"][4:]]
    pd.DataFrame(rows).to_parquet(bad)
    assert Path(gone).exists()
    with pytest.raises(DryRunError, match=r"row 1: frames: missing frame .*nowhere\.jpg"):
        dry_run(REPO / "verl", "videossr_grpo", _base(tiny_qwen3vl, str(bad)))


def test_malformed_ground_truth_fails(tiny_qwen3vl, data_dir, tmp_path):
    rows = pd.read_parquet(data_dir / "train.parquet").to_dict("records")
    rows[0]["reward_model"] = {"style": "rule", "ground_truth": "0.4-0.4"}
    bad = tmp_path / "train.parquet"
    pd.DataFrame(rows).to_parquet(bad)
    with pytest.raises(DryRunError, match=r"row 0: ground_truth: .*'0.4-0.4'"):
        dry_run(REPO / "verl", "videossr_grpo", _base(tiny_qwen3vl, str(bad)))


def test_damaged_params_in_a_row_past_the_loaded_ones_fail(tiny_qwen3vl, data_dir, tmp_path):
    """The dry run loads 2 rows through verl; the last row's params are checked all the same: a grounding segment
    moved by a frame (valid JSON, inside the video) no longer gives the stored answer."""
    import json

    rows = pd.read_parquet(data_dir / "train.parquet").to_dict("records")
    last = max(i for i, r in enumerate(rows) if r["extra_info"]["task"] == "grounding")
    assert last >= 2
    params = json.loads(rows[last]["extra_info"]["params"])
    params["start"] += 1 if params["end"] < params["num_frames"] else -1
    params["end"] = params["start"] + params["length"]
    rows[last]["extra_info"] = {**rows[last]["extra_info"], "params": json.dumps(params)}
    bad = tmp_path / "train.parquet"
    pd.DataFrame(rows).to_parquet(bad)
    with pytest.raises(DryRunError, match=rf"train.parquet row {last}: params: reward_model.ground_truth: .* is not "
                                          r"the answer its params give"):
        dry_run(REPO / "verl", "videossr_grpo", _base(tiny_qwen3vl, str(bad)), num_rows=2)


def test_a_math_parquet_whose_true_answers_score_zero_fails(tiny_qwen3vl, data_dir, tmp_path):
    rows = pd.read_parquet(data_dir / "train.parquet").to_dict("records")
    for r in rows:
        r["data_source"] = "openai/gsm8k"
        r["reward_model"] = {"style": "rule", "ground_truth": "42"}
    math_file = tmp_path / "math.parquet"
    pd.DataFrame(rows).to_parquet(math_file)
    with pytest.raises(DryRunError, match=r"true answer '42' of data_source 'openai/gsm8k' scores 0"):
        dry_run(REPO / "verl", "videossr_grpo", _base(tiny_qwen3vl, str(math_file)))


# --- recipe rows (the build's default): the launcher picks the dataset class that makes them --------------------


@pytest.fixture(scope="module")
def recipe_dir(tmp_path_factory):
    from videossr.datasets.build import BuildConfig, build

    root = tmp_path_factory.mktemp("recipes")
    make_frame_store(root / "store", num_videos=2, num_frames=48, width=64, height=48, duration=12.0)
    build(BuildConfig(output_dir=root / "out", frames_dir=root / "store", num_samples=6, seed=2), progress=False)
    return root / "out"


def test_dry_run_on_recipe_rows_uses_the_onthefly_class_and_worker_processes(env, recipe_dir):
    p = _run({**env, "DATA_DIR": str(recipe_dir), "N_GPUS_PER_NODE": "4", "DRY_RUN_ROWS": "3"}, "--dry-run",
             "data.dataloader_num_workers=2", "data.filter_overlong_prompts=false")
    assert p.returncode == 0, p.stderr + p.stdout
    s = _settings(p.stdout)
    assert s["dataset class"] == "VideoSSRDataset" and s["dataloader_num_workers"] == "2"
    assert "training rows loaded through verl's RLHFDataset: 3" in p.stdout
    assert "reward(ground truth)=1" in p.stdout
    p = _run({**env, "DATA_DIR": str(recipe_dir), "N_GPUS_PER_NODE": "4", "FRESH_EACH_EPOCH": "1"}, "--cfg", "job")
    assert p.returncode == 0, p.stderr
    assert "name: VideoSSRDataset" in p.stdout and "fresh_each_epoch: true" in p.stdout


def test_recipe_rows_without_their_class_are_refused(tiny_qwen3vl, recipe_dir):
    files = str(recipe_dir / "train.parquet")
    with pytest.raises(DryRunError, match=r"holds recipe rows, but the dataset class is .*RLHFDataset"):
        dry_run(REPO / "verl", "videossr_grpo", _base(tiny_qwen3vl, files))


def test_a_rewritten_recipe_parquet_still_gets_its_class(env, recipe_dir, tmp_path):
    """pandas drops the schema metadata; the kind is read from the rows, so train.sh still picks VideoSSRDataset and
    the dry run passes (it used to fail with the reward's "its frames were never made")."""
    data = tmp_path / "data"
    data.mkdir()
    pd.read_parquet(recipe_dir / "train.parquet").to_parquet(data / "train.parquet")
    p = _run({**env, "DATA_DIR": str(data), "N_GPUS_PER_NODE": "4"}, "--dry-run",
             "data.filter_overlong_prompts=false")
    assert p.returncode == 0, p.stderr + p.stdout
    assert _settings(p.stdout)["dataset class"] == "VideoSSRDataset"
