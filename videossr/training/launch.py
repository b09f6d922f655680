"""Dry run of the GRPO launch: prove on a CPU that verl accepts the configuration before GPU hours are spent.

``train/train.sh`` builds one list of Hydra overrides and hands it either to ``python -m verl.trainer.main_ppo``
(a real run) or, with ``DRY_RUN=1`` / ``--dry-run``, to this module, which does with the installed verl what the
real run does first, and stops before anything needs a GPU:

1. composes the full configuration (verl's ``ppo_trainer`` + the recipe YAML + the overrides) with Hydra's compose
   API, so a renamed or unknown key fails with Hydra's/verl's own message;
2. runs verl's ``validate_config`` for the configured GPU and node counts (batch sizes that do not divide fail here);
3. loads the reward function through verl's own loader (``reward.custom_reward_function``) and checks that it is
   wired (the verl 0.9 key, not the ignored top-level one);
4. builds the tokenizer and processor from the model path as the trainer does (``HFModelConfig``), loads the first
   training rows through verl's dataset class (``create_rl_dataset``: ``RLHFDataset``, or
   ``videossr.training.dataset.VideoSSRDataset`` for recipe rows, which must then be configured) and verl's data loader with
   its worker processes (``data.dataloader_num_workers``), expands each prompt with the processor as the rollout
   does, and reports prompt lengths and video tokens;
5. scores each loaded row's own ground truth with the loaded reward function (must be 1.0 for VideoSSR rows);
6. validates EVERY row of the training and validation files (``videossr.datasets.validate``): row shape, every
   row's params (the task re-derives the row's question and ground truth from them, and they fit the video; a
   recipe row's recipe, store and source frames), every frame file present and decodable, every ground truth parsed
   by the reward's own parser and scoring 1.0 against itself in both modes (other data sources: a true answer the
   configured reward scores above 0), and reports how long it took. Inside training the reward never raises on a
   bad row, it scores 0; this is where such rows are refused;
7. with the curriculum on (``data.videossr.curriculum.enable``), checks every task's difficulty ladder on the frame
   stores of the training rows: every rung draws a sample (on every video the rows use that can take it; the
   others are noted) whose true answer the configured reward scores 1.0 (``videossr.training.curriculum.check_ladders``);
8. checks values verl accepts but that cannot train (a learning rate <= 0, lengths or epochs that are not positive
   integers, a rollout tensor-parallel size that does not divide the GPUs of a node, an unknown logger), naming
   the key and the value;
9. prints the resolved key settings. Exit status 0 on success; 1 with the message on any misconfiguration.

Usage (normally through train/train.sh)::

    python -m videossr.training.launch --config-path verl --config-name videossr_grpo [--rows N] key=value ...
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videossr.tasks import task_for_source

logger = logging.getLogger(__name__)

# The settings the dry run prints, in order: (label, dotted config key).
KEY_SETTINGS = (
    ("model", "actor_rollout_ref.model.path"),
    ("train_files", "data.train_files"),
    ("val_files", "data.val_files"),
    ("nnodes", "trainer.nnodes"),
    ("n_gpus_per_node", "trainer.n_gpus_per_node"),
    ("adv_estimator", "algorithm.adv_estimator"),
    ("actor.strategy", "actor_rollout_ref.actor.strategy"),
    ("rollout.name", "actor_rollout_ref.rollout.name"),
    ("rollout.n", "actor_rollout_ref.rollout.n"),
    ("rollout.tensor_model_parallel_size", "actor_rollout_ref.rollout.tensor_model_parallel_size"),
    ("rollout.engine_kwargs.vllm", "actor_rollout_ref.rollout.engine_kwargs.vllm"),
    ("lr", "actor_rollout_ref.actor.optim.lr"),
    ("train_batch_size", "data.train_batch_size"),
    ("ppo_mini_batch_size", "actor_rollout_ref.actor.ppo_mini_batch_size"),
    ("ppo_micro_batch_size_per_gpu", "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu"),
    ("use_kl_loss", "actor_rollout_ref.actor.use_kl_loss"),
    ("kl_loss_coef", "actor_rollout_ref.actor.kl_loss_coef"),
    ("use_kl_in_reward", "algorithm.use_kl_in_reward"),
    ("entropy_coeff", "actor_rollout_ref.actor.entropy_coeff"),
    ("max_prompt_length", "data.max_prompt_length"),
    ("max_response_length", "data.max_response_length"),
    ("image_patch_size", "data.image_patch_size"),
    ("dataset class", "data.custom_cls.name"),
    ("dataloader_num_workers", "data.dataloader_num_workers"),
    ("fresh_each_epoch", "data.videossr.fresh_each_epoch"),
    ("curriculum", "data.videossr.curriculum.enable"),
    ("total_epochs", "trainer.total_epochs"),
    ("reward.path", "reward.custom_reward_function.path"),
    ("reward.name", "reward.custom_reward_function.name"),
    ("reward.reward_kwargs", "reward.custom_reward_function.reward_kwargs"),
    ("reward_manager", "reward.reward_manager.name"),
    ("project_name", "trainer.project_name"),
    ("experiment_name", "trainer.experiment_name"),
    ("logger", "trainer.logger"),
    ("default_local_dir", "trainer.default_local_dir"),
)


class DryRunError(RuntimeError):
    """A misconfiguration the dry run found itself (verl's own errors propagate with their own types)."""


@dataclass(frozen=True)
class RowReport:
    """What one training row becomes once verl's dataset and the processor have expanded it."""

    index: int
    data_source: str
    num_videos: int
    prompt_tokens: int
    video_tokens: int
    video_grid_thw: tuple[tuple[int, int, int], ...]
    reward_of_ground_truth: float


@dataclass(frozen=True)
class DryRunReport:
    settings: dict[str, Any]
    rows: tuple[RowReport, ...]
    dataset_rows: int  # rows verl's dataset kept of the ones requested (overlong prompts are filtered out)
    use_reference_policy: bool
    use_critic: bool
    rows_validated: int = 0  # every row of the train/val files, by videossr.datasets.validate
    frames_validated: int = 0
    validation_seconds: float = 0.0  # how long validating every row took
    notes: tuple[str, ...] = field(default_factory=tuple)


def compose_config(config_dir: str | os.PathLike, config_name: str, overrides: Sequence[str]):
    """The full verl configuration, composed as ``main_ppo`` composes it (Hydra errors propagate)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    config_dir = Path(config_dir).resolve()
    if not (config_dir / f"{config_name}.yaml").is_file():
        raise DryRunError(f"no config {config_name}.yaml in {config_dir}")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        return compose(config_name=config_name, overrides=list(overrides))


def _select(cfg, key: str) -> Any:
    from omegaconf import OmegaConf

    value = OmegaConf.select(cfg, key, throw_on_missing=False)
    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _as_list(files: Any) -> list[str]:
    if files is None:
        return []
    if isinstance(files, str):
        return [files]
    return [str(f) for f in files]


def _check_paths(cfg) -> None:
    model_path = cfg.actor_rollout_ref.model.path
    if not model_path or not Path(os.path.expanduser(str(model_path))).is_dir():
        raise DryRunError(f"actor_rollout_ref.model.path: model directory not found: {model_path!r}")
    for key in ("data.train_files", "data.val_files"):
        files = _as_list(_select(cfg, key))
        if not files:
            raise DryRunError(f"{key} is empty")
        for f in files:
            if not Path(os.path.expanduser(f)).is_file():
                raise DryRunError(f"{key}: data file not found: {f!r}")


def _check_reward_wiring(cfg, reward_fn) -> None:
    legacy = _select(cfg, "custom_reward_function.path")
    if legacy:
        raise DryRunError(
            f"custom_reward_function.path={legacy!r} is the pre-0.9 key, which verl 0.9's main_ppo ignores; "
            "use reward.custom_reward_function.path"
        )
    if reward_fn is None:
        raise DryRunError(
            "reward.custom_reward_function.path is not set: verl would score with default_compute_score, "
            "which does not know the VideoSSR data sources"
        )


def _positive(cfg, key: str, *, integer: bool, allow_none: bool = False) -> None:
    value = _select(cfg, key)
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if integer:
        ok = ok and isinstance(value, int)
    if not ok:
        what = "a positive integer" if integer else "a positive number"
        raise DryRunError(f"{key} must be {what}, got {value!r}")


def _check_values(cfg) -> None:
    """Values verl composes without complaint but that cannot train (see the module docstring, step 7)."""
    _positive(cfg, "actor_rollout_ref.actor.optim.lr", integer=False)
    for key in ("data.max_prompt_length", "data.max_response_length", "data.train_batch_size",
                "trainer.total_epochs", "trainer.n_gpus_per_node", "trainer.nnodes", "actor_rollout_ref.rollout.n",
                "actor_rollout_ref.actor.ppo_mini_batch_size",
                "actor_rollout_ref.rollout.tensor_model_parallel_size"):
        _positive(cfg, key, integer=True)
    _positive(cfg, "trainer.total_training_steps", integer=True, allow_none=True)
    for key in ("actor_rollout_ref.actor.kl_loss_coef", "actor_rollout_ref.actor.entropy_coeff"):
        value = _select(cfg, key)
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                and value >= 0):
            raise DryRunError(f"{key} must be a number >= 0, got {value!r}")
    gpus = _select(cfg, "trainer.n_gpus_per_node")
    tp = _select(cfg, "actor_rollout_ref.rollout.tensor_model_parallel_size")
    if gpus % tp != 0:
        raise DryRunError(
            f"actor_rollout_ref.rollout.tensor_model_parallel_size={tp} does not divide "
            f"trainer.n_gpus_per_node={gpus}: a vLLM tensor-parallel group must fit in one node"
        )
    util = _select(cfg, "actor_rollout_ref.rollout.gpu_memory_utilization")
    if not (isinstance(util, (int, float)) and 0 < util <= 1):
        raise DryRunError(f"actor_rollout_ref.rollout.gpu_memory_utilization must be in (0, 1], got {util!r}")
    from verl.utils.tracking import Tracking

    loggers = _select(cfg, "trainer.logger")
    loggers = [loggers] if isinstance(loggers, str) else list(loggers or [])
    unknown = [name for name in loggers if name not in Tracking.supported_backend]
    if unknown:
        raise DryRunError(
            f"trainer.logger: unknown logger(s) {unknown}; verl knows {sorted(Tracking.supported_backend)}"
        )


def _check_dataset_class(cfg) -> None:
    """Recipe rows need the dataset class that makes their frames; verl's plain one would show unedited videos."""
    from verl.utils.dataset.rl_dataset import get_dataset_class

    from videossr.training.dataset import VideoSSRDataset
    from videossr.tasks.sample import RECIPE_ROWS, rows_kind

    files = list(dict.fromkeys(_as_list(_select(cfg, "data.train_files")) + _as_list(_select(cfg, "data.val_files"))))
    recipes = [f for f in files if rows_kind(os.path.expanduser(f)) == RECIPE_ROWS]
    cls = get_dataset_class(cfg.data)
    if recipes and not issubclass(cls, VideoSSRDataset):
        raise DryRunError(
            f"{recipes[0]} holds recipe rows, but the dataset class is {cls.__module__}.{cls.__name__}: set "
            "data.custom_cls.path=pkg://videossr.training.dataset data.custom_cls.name=VideoSSRDataset "
            "(train/train.sh does it when it sees such files)"
        )


def _validate_data(cfg, reward_fn, workers: int) -> tuple[int, int, float]:
    """Every row of the training and validation files (``videossr.datasets.validate``); (rows, frame files) checked
    and the seconds it took."""
    import time

    from videossr.datasets.validate import validate_files

    started = time.perf_counter()
    files = list(dict.fromkeys(_as_list(_select(cfg, "data.train_files")) + _as_list(_select(cfg, "data.val_files"))))
    allow = [s for s in os.environ.get("DRY_RUN_ALLOW_SOURCES", "").split(",") if s.strip()]
    report = validate_files([os.path.expanduser(f) for f in files], reward_fn=reward_fn, allow_sources=allow,
                            workers=workers)
    if not report.ok:
        raise DryRunError(f"the data cannot train as it is:\n{report.format()}")
    return report.rows, report.frames_checked, time.perf_counter() - started


def _check_ladders(cfg, reward_fn) -> list[str]:
    """With the curriculum on: every rung of every task's ladder draws, on every video the training rows use, a
    sample whose true answer the configured reward scores 1.0 (``videossr.training.curriculum.check_ladders``)."""
    from videossr.training.curriculum import CurriculumSettings, check_ladders

    options = _select(cfg, "data.videossr.curriculum")
    if options is None or not CurriculumSettings.from_config(
            {"enable": options.get("enable", False)}).enable:
        return []
    import pyarrow.parquet as pq

    rows = []
    for f in _as_list(_select(cfg, "data.train_files")):
        rows += pq.read_table(os.path.expanduser(f), columns=["extra_info"]).to_pylist()

    def score(data_source: str, answer: str, truth: str) -> float:
        result = reward_fn(data_source=data_source, solution_str=answer, ground_truth=truth, extra_info={})
        return float(result["score"] if isinstance(result, dict) else result)

    try:
        checked, notes = check_ladders(rows, score)
    except ValueError as e:
        raise DryRunError(f"curriculum: {e}") from None
    return ([f"curriculum ladders: every rung drew samples whose true answers score 1.0 "
             f"({', '.join(f'{t} {n}' for t, n in checked.items())} draws)"] + [f"curriculum: {n}" for n in notes]
            + [_decision_lag(cfg)])


def _decision_lag(cfg) -> str:
    """How late the curriculum's decisions reach the samples with this loader (``loader_lags``)."""
    from videossr.training.curriculum import loader_lags

    train_batch = int(_select(cfg, "data.train_batch_size"))
    workers = int(_select(cfg, "data.dataloader_num_workers") or 0)
    sync = str(_select(cfg, "trainer.v1.trainer_mode") or "sync") == "sync"
    gen_batch = _select(cfg, "data.gen_batch_size") if sync else 1  # the async modes fetch one prompt at a time
    try:
        lags = loader_lags(train_batch, int(gen_batch) if gen_batch else None, workers)
    except ValueError as e:
        raise DryRunError(f"curriculum: {e}") from None
    late = max(lags)
    first = sum(lag == 1 for lag in lags)
    text = (f"curriculum decision lag: a decision after step s reaches {first} of step s+1's {train_batch} prompts"
            + (f", all of step s+{late}'s" if first < train_batch else "")
            + f" (data.gen_batch_size={gen_batch}, {workers} loader worker(s), prefetch 2)")
    if late > 2:
        text += "; data.gen_batch_size=1 would make it at most 2 steps"
    return text


def _expand_row(dataset, processor, row: dict, data_config) -> tuple[int, int, tuple, int]:
    """(prompt tokens, video tokens, video grids, number of videos) of one row, expanded as the rollout does."""
    from verl.utils.tokenizer import build_multimodal_processor_inputs

    messages = row["raw_prompt"]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    images, videos, audios = dataset._process_multi_modal_info(messages, data_config.image_patch_size, data_config)
    inputs = build_multimodal_processor_inputs(
        processor,
        text=[text],
        images=images,
        videos=videos,
        audio=audios,
        mm_processor_kwargs=dict(data_config.get("mm_processor_kwargs") or {}),
    )
    ids = inputs["input_ids"][0]
    video_token_id = processor.tokenizer.convert_tokens_to_ids(getattr(processor, "video_token", "<|video_pad|>"))
    video_tokens = int((ids == video_token_id).sum())
    grids = inputs.get("video_grid_thw")
    grid = tuple(tuple(int(x) for x in g) for g in grids.tolist()) if grids is not None else ()
    return int(ids.shape[-1]), video_tokens, grid, len(videos or [])


def dry_run(
    config_dir: str | os.PathLike,
    config_name: str,
    overrides: Sequence[str],
    *,
    num_rows: int = 2,
    workers: int = 8,
) -> DryRunReport:
    """Compose, validate, load the reward and the first ``num_rows`` rows; raise on any misconfiguration."""
    from omegaconf import open_dict

    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.trainer.ppo.utils import create_rl_dataset, need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config
    from verl.utils.device import auto_set_device

    if num_rows < 1:
        raise ValueError(f"num_rows must be >= 1, got {num_rows!r}")
    cfg = compose_config(config_dir, config_name, overrides)
    auto_set_device(cfg)
    use_ref, use_critic = need_reference_policy(cfg), need_critic(cfg)
    validate_config(config=cfg, use_reference_policy=use_ref, use_critic=use_critic)

    _check_values(cfg)

    reward_fn = get_custom_reward_fn(cfg)
    _check_reward_wiring(cfg, reward_fn)
    _check_paths(cfg)
    rows_checked, frames_checked, validation_seconds = _validate_data(cfg, reward_fn, workers)
    ladder_notes = _check_ladders(cfg, reward_fn)

    model_config = omega_conf_to_dataclass(cfg.actor_rollout_ref.model)
    tokenizer, processor = model_config.tokenizer, model_config.processor
    if processor is None:
        raise DryRunError(f"{cfg.actor_rollout_ref.model.path}: no multimodal processor; VideoSSR needs a VL model")

    _check_dataset_class(cfg)
    data_config = cfg.data.copy()
    with open_dict(data_config):
        data_config.shuffle = False  # the first rows, not a random pick
        # verl's length filter in this process: a forked pool after torch has started its threads can hang
        data_config.filter_overlong_prompts_workers = None
    dataset = create_rl_dataset(
        cfg.data.train_files, data_config, tokenizer, processor, is_train=True, max_samples=num_rows
    )
    notes = list(ladder_notes)
    if len(dataset) == 0:
        raise DryRunError(
            f"none of the first {num_rows} training rows survived verl's dataset (all longer than "
            f"data.max_prompt_length={cfg.data.max_prompt_length} tokens, or unreadable)"
        )
    if len(dataset) < num_rows:
        notes.append(f"verl's dataset kept {len(dataset)} of {num_rows} rows (overlong or unreadable prompts dropped)")

    # Through verl's data loader, with its worker processes, exactly as the trainer loads items (recipe rows are
    # made here, in the workers).
    from torchdata.stateful_dataloader import StatefulDataLoader
    from verl.utils.dataset.rl_dataset import collate_fn

    workers = int(cfg.data.get("dataloader_num_workers", 0) or 0)
    loader = StatefulDataLoader(dataset, batch_size=len(dataset), num_workers=workers, collate_fn=collate_fn,
                                shuffle=False)
    batch = next(iter(loader))
    keys = ("raw_prompt", "reward_model", "data_source", "extra_info")
    loaded = [{k: batch[k][i] for k in keys} for i in range(len(dataset))]

    reports = []
    for i, row in enumerate(loaded):
        prompt_tokens, video_tokens, grid, num_videos = _expand_row(dataset, processor, row, cfg.data)
        gt = row["reward_model"]["ground_truth"]
        result = reward_fn(
            data_source=row["data_source"], solution_str=str(gt), ground_truth=gt, extra_info=row.get("extra_info")
        )
        score = float(result["score"] if isinstance(result, dict) else result)
        if task_for_source(row["data_source"]) is not None and score != 1.0:
            raise DryRunError(f"row {i}: the reward of its own ground truth {gt!r} is {score}, not 1.0")
        if prompt_tokens > cfg.data.max_prompt_length:
            raise DryRunError(f"row {i}: {prompt_tokens} prompt tokens > data.max_prompt_length")
        reports.append(
            RowReport(
                index=i,
                data_source=str(row["data_source"]),
                num_videos=num_videos,
                prompt_tokens=prompt_tokens,
                video_tokens=video_tokens,
                video_grid_thw=grid,
                reward_of_ground_truth=score,
            )
        )
    settings = {label: _select(cfg, key) for label, key in KEY_SETTINGS}
    return DryRunReport(
        settings=settings,
        rows=tuple(reports),
        dataset_rows=len(dataset),
        use_reference_policy=use_ref,
        use_critic=use_critic,
        rows_validated=rows_checked,
        frames_validated=frames_checked,
        validation_seconds=validation_seconds,
        notes=tuple(notes),
    )


def format_report(report: DryRunReport) -> str:
    lines = ["VideoSSR GRPO dry run: configuration composed and validated by verl", "key settings:"]
    width = max(len(k) for k in report.settings)
    lines += [f"  {k:<{width}} = {v}" for k, v in report.settings.items()]
    lines.append(f"  {'reference policy':<{width}} = {report.use_reference_policy}")
    lines.append(f"  {'critic':<{width}} = {report.use_critic}")
    lines.append(
        f"rows validated (shape, params, frames, ground truth): {report.rows_validated} "
        f"({report.frames_validated} distinct frame files decoded) in {report.validation_seconds:.1f} s"
    )
    lines.append(f"training rows loaded through verl's RLHFDataset: {report.dataset_rows}")
    for r in report.rows:
        lines.append(
            f"  row {r.index}: data_source={r.data_source} videos={r.num_videos} prompt_tokens={r.prompt_tokens} "
            f"video_tokens={r.video_tokens} video_grid_thw={list(r.video_grid_thw)} "
            f"reward(ground truth)={r.reward_of_ground_truth:g}"
        )
    lines += [f"note: {n}" for n in report.notes]
    lines.append("DRY RUN OK")
    return "\n".join(lines)


def _error_message(exc: BaseException) -> str:
    parts = []
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n  caused by ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-path", required=True, help="directory of the recipe YAML (e.g. verl)")
    parser.add_argument("--config-name", required=True, help="recipe YAML name without .yaml")
    parser.add_argument("--rows", type=int, default=int(os.environ.get("DRY_RUN_ROWS", "2")),
                        help="training rows to load through verl's dataset (default 2, env DRY_RUN_ROWS)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("DRY_RUN_WORKERS", min(8, os.cpu_count() or 1))),
                        help="threads that decode frame files while validating (env DRY_RUN_WORKERS)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, exactly as main_ppo takes them")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = dry_run(args.config_path, args.config_name, args.overrides, num_rows=args.rows, workers=args.workers)
    except Exception as exc:  # a CLI boundary: report verl's/Hydra's message and fail
        if os.environ.get("DRY_RUN_TRACEBACK"):
            traceback.print_exc()
        print(f"DRY RUN FAILED: {_error_message(exc)}", file=sys.stderr)
        return 1
    print(format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
