"""The CPU smoke step's own pieces: its inputs (tiny model, demo rows), its install fix-up and its verdict.

``make train-smoke`` / ``SMOKE=1 bash train/train.sh`` run ONE real GRPO step of stock verl on a CPU (see
train/README.md, "CPU smoke step"). train.sh does the running; this module does what is around it:

``prepare``
    builds what the step needs and was not given: a tiny Qwen3-VL with a text head size vLLM supports and an
    answer chain (``SMOKE_ANSWER_CHAIN``: its answers sometimes parse, so rewards and GRPO advantages are not all
    zero) (``--model-dir``), and a small VideoSSR training mix from the demo clips (``--data-dir``). A directory
    that already exists is reused as it is; nothing is ever deleted.
``check``
    reads what verl itself wrote for the run (the metrics of its ``file`` logger, its dumps of the training and
    validation responses, Hydra's composed config) and asserts that the step really happened: step 1 was logged;
    the VideoSSR reward ran through verl's reward loop on every training response (batch x n rewards in [0, 1]
    that average to ``critic/score/mean``) and its extra keys (``format_ok``, ``strict``, ``task_id``) reached
    verl's metrics (verl 0.9's trainer logs them with the validation pass that follows the step); scores,
    rewards, advantages, the policy loss and ``actor/grad_norm`` are finite, the gradient non-zero; the rollout's
    log-probs agree with the actor's recomputed ones (the actor -> rollout weight sync happened). Prints the
    step's key figures; exit status 1 with the failed checks otherwise.

``check --curriculum`` (the curriculum's smoke, ``CURRICULUM=1``: three steps)
    also reads the curriculum's figures from verl's metrics log (``check_curriculum``): the tiny model fails
    (nearly) everything, so rungs move down, never up, and the last step's samples come from the lower rungs (as
    they were tagged when drawn); the last step's checkpoint carries the curriculum's state.

Usage::

    python -m videossr.training.smoke prepare [--model-dir DIR] [--data-dir DIR] [--video-dir data/demo] [--num-samples 8]
    python -m videossr.training.smoke check --run-dir OUTPUT_DIR/smoke_<time> [--reward-mode smooth]
        [--curriculum --steps 3 --checkpoint-dir OUTPUT_DIR/smoke_<time>/checkpoints]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videossr.rewards import RESULT_KEYS

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VIDEO_DIR = REPO_ROOT / "data" / "demo"
DEFAULT_NUM_SAMPLES = 8
MODEL_TEXT_HEAD_DIM = 64  # vLLM's CPU attention kernels support 64, not the tests' 16

# What the smoke's tiny model answers (videossr.training.tiny_model's answer_chain: after the prompt's last token
# "\n", one token after the other, "<|im_end|>" ending the answer), so that some answers parse and rewards differ
# within a GRPO group: half the time the clip order "123456" (a valid 6-clip jigsaw answer, partly right on most
# rows: smooth credit, strict only when exact), a tenth of the time the unparsable "23456", and four tenths of the
# time an interval " a- b" with a in 0..3 and b in 4..9 seconds (a valid grounding answer; its IoU decides).
# Counting answers never parse.
_END = "<|im_end|>"
SMOKE_ANSWER_CHAIN: dict[str, dict[str, float]] = {
    "\n": {"1": 0.5, "2": 0.1, " 0": 0.1, " 1": 0.1, " 2": 0.1, " 3": 0.1},
    **{str(d): {str(d + 1): 1.0} for d in range(1, 6)},
    "6": {_END: 1.0},
    **{f" {a}": {"-": 1.0} for a in range(4)},
    "-": {f" {b}": 1 / 6 for b in range(4, 10)},
    **{f" {b}": {_END: 1.0} for b in range(4, 10)},
}

# Rollout vs actor agreement on the step's responses. vLLM starts from dummy weights (verl's default
# rollout.load_format), whose answers would be near uniform (log-ppl about log(526) = 6.27 for the tiny vocabulary).
# Once the actor -> rollout sync happened both sides run the same fp32 weights and only kernel rounding separates
# them (measured with the answer-chain model: log-ppl 0.4024 vs 0.4026, per-token probability correlation 0.999999;
# with a plain random model, itself near uniform, 6.261 vs 6.258 and 0.98, where only the correlation tells).
MAX_LOG_PPL_ABS_DIFF = 0.05
MIN_PROBS_CORR = 0.9

# The step's figures printed by ``check``, in order (present ones only).
KEY_METRICS = (
    "training/global_step",
    "critic/score/mean",
    "critic/rewards/mean",
    "critic/advantages/mean",
    "critic/advantages/max",
    "critic/advantages/min",
    "actor/pg_loss",
    "actor/entropy",
    "actor/grad_norm",
    "actor/kl_loss",
    "training/rollout_actor_probs_pearson_corr",
    "training/rollout_probs_diff_mean",
    "rollout_corr/rollout_log_ppl",
    "rollout_corr/training_log_ppl",
    "rollout_corr/log_ppl_abs_diff",
    "response_length/mean",
    "prompt_length/mean",
    "timing_s/gen",
    "timing_s/update_actor",
    "timing_s/step",
)


# ---------------------------------------------------------------------------------------------------------------
# prepare


def prepare_model(model_dir: str | Path) -> Path:
    """The tiny Qwen3-VL at ``model_dir``: built there if the directory does not exist, else reused."""
    from videossr.training.tiny_model import build_tiny_qwen3vl

    model_dir = Path(model_dir)
    if model_dir.exists():
        if not (model_dir / "config.json").is_file():
            raise FileNotFoundError(f"{model_dir} exists but has no config.json: not a model directory")
        logger.info("reusing the model in %s", model_dir)
        return model_dir
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    return build_tiny_qwen3vl(model_dir, text_head_dim=MODEL_TEXT_HEAD_DIM, answer_chain=SMOKE_ANSWER_CHAIN)


def prepare_data(data_dir: str | Path, video_dir: str | Path = DEFAULT_VIDEO_DIR,
                 num_samples: int = DEFAULT_NUM_SAMPLES, seed: int = 0, materialize: bool = False) -> Path:
    """A small VideoSSR training mix at ``data_dir``/train.parquet, built from ``video_dir`` unless it exists.

    Recipe rows by default (the build's default: the trainer makes their pixels through videossr.training.dataset), or
    rows with frames on disk with ``materialize``.
    """
    from videossr.datasets.build import BuildConfig, build

    data_dir, video_dir = Path(data_dir), Path(video_dir)
    train = data_dir / "train.parquet"
    if train.is_file():
        logger.info("reusing the rows in %s", train)
        return train
    if not video_dir.is_dir():
        raise FileNotFoundError(f"video directory not found: {video_dir}")
    if num_samples < 2:
        raise ValueError(f"num_samples must be >= 2 (one GRPO batch of 2 prompts), got {num_samples!r}")
    config = BuildConfig(output_dir=data_dir, video_dirs=(video_dir,), num_samples=num_samples, seed=seed, workers=1,
                         materialize=materialize)
    build(config, progress=False)
    if not train.is_file():
        raise RuntimeError(f"the dataset build finished without writing {train}")
    return train


# ---------------------------------------------------------------------------------------------------------------
# check


@dataclass(frozen=True)
class Verdict:
    """What ``check`` found: the step's metrics, the failed checks (empty when the step passed) and the passed ones."""

    step: int
    metrics: Mapping[str, Any]
    failures: tuple[str, ...]
    passed: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.failures


def read_metrics(path: str | Path) -> dict[int, dict[str, Any]]:
    """{step: metrics} from verl's ``file`` logger output (JSON lines ``{"step": N, "data": {...}}``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no metrics file {path}: did verl run with trainer.logger including 'file'?")
    steps: dict[int, dict[str, Any]] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            step, data = int(record["step"]), dict(record["data"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a verl metrics line ({exc}): {line[:200]!r}") from exc
        steps.setdefault(step, {}).update(data)
    return steps


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file (verl's rollout / validation dumps); [] if the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _reward_metrics(metrics: Mapping[str, Any], key: str) -> list[str]:
    """Metric names that carry the reward function's extra key ``key`` (``val-aux/<source>/<key>/mean@1``, ...)."""
    return sorted(m for m in metrics if key in m.split("/"))


def check_step(
    metrics: Mapping[str, Any],
    *,
    step: int = 1,
    reward_mode: str = "smooth",
    rollouts: Sequence[Mapping[str, Any]] | None = None,
    expected_responses: int | None = None,
    validation: Sequence[Mapping[str, Any]] | None = None,
    rollout_load_format: str | None = None,
    max_log_ppl_abs_diff: float = MAX_LOG_PPL_ABS_DIFF,
    min_probs_corr: float = MIN_PROBS_CORR,
) -> Verdict:
    """Judge one step from verl's own outputs (see the module docstring); reports bad values, never raises on them.

    ``metrics`` is the step's line of verl's metrics log; ``rollouts`` the step's training responses as verl dumped
    them (``trainer.rollout_data_dir``), ``expected_responses`` how many there must be (batch x rollout.n);
    ``validation`` the responses of the validation pass after the step (``trainer.validation_data_dir``);
    ``rollout_load_format`` the composed ``actor_rollout_ref.rollout.load_format``.
    """
    if reward_mode not in ("smooth", "strict"):
        raise ValueError(f"reward_mode must be smooth or strict, got {reward_mode!r}")
    failures: list[str] = []
    passed: list[str] = []

    def expect(ok: bool, what: str) -> None:
        (passed if ok else failures).append(what)

    expect(metrics.get("training/global_step") == step,
           f"training/global_step is {step} (got {metrics.get('training/global_step')!r})")

    for key in ("critic/score/mean", "critic/rewards/mean", "critic/advantages/mean", "critic/advantages/max",
                "critic/advantages/min", "actor/pg_loss", "actor/grad_norm"):
        expect(_finite(metrics.get(key)), f"{key} is finite (got {metrics.get(key)!r})")
    score = metrics.get("critic/score/mean")
    expect(_finite(score) and 0.0 <= score <= 1.0, f"critic/score/mean is within [0, 1] (got {score!r})")
    grad = metrics.get("actor/grad_norm")
    expect(_finite(grad) and grad > 0.0, f"actor/grad_norm > 0: the update is not a no-op (got {grad!r})")

    # the reward function ran through verl's reward loop on every training response
    if rollouts is not None:
        scores = [r.get("score") for r in rollouts]
        count_ok = expected_responses is None or len(scores) == expected_responses
        expect(bool(scores) and count_ok,
               f"verl dumped {expected_responses if expected_responses is not None else 'the'} training responses "
               f"of step {step} (got {len(scores)})")
        bad = [s for s in scores if not (_finite(s) and 0.0 <= s <= 1.0)]
        expect(bool(scores) and not bad, f"every training response has a reward in [0, 1] (bad: {bad[:5]})")
        if scores and not bad and _finite(score):
            mean = sum(scores) / len(scores)
            expect(abs(mean - score) < 1e-6,
                   f"the dumped rewards average to critic/score/mean (got {mean!r} vs {score!r})")

    # ... and its extra keys came through verl's reward loop into verl's metrics (validation pass after the step)
    for key in RESULT_KEYS[1:]:
        names = _reward_metrics(metrics, key)
        expect(bool(names) and all(_finite(metrics[n]) for n in names),
               f"reward extra key {key!r} logged with finite values (metrics: {names or 'none'})")
    format_ok = {n: metrics[n] for n in _reward_metrics(metrics, "format_ok") if "/mean@" in n}
    expect(all(_finite(v) and 0.0 <= v <= 1.0 for v in format_ok.values()),
           f"format_ok means within [0, 1] (got {format_ok})")
    if validation is not None:
        missing = [r.get("uid") for r in validation if any(k not in r for k in RESULT_KEYS)]
        expect(bool(validation) and not missing,
               f"every validation response carries {RESULT_KEYS} (responses: {len(validation)}, "
               f"without them: {missing[:5]})")
        if reward_mode == "strict":
            off = [r.get("uid") for r in validation
                   if _finite(r.get("score")) and _finite(r.get("strict")) and abs(r["score"] - r["strict"]) > 1e-9]
            expect(bool(validation) and not off, f"strict mode: every score equals its strict score (off: {off[:5]})")

    # the rollout's log-probs agree with the actor's: the weight sync happened. vLLM starts from dummy (random)
    # weights (verl's default rollout.load_format), so only the actor -> rollout sync can make them agree.
    if rollout_load_format is not None:
        expect(rollout_load_format == "dummy",
               f"the rollout started from dummy weights (actor_rollout_ref.rollout.load_format={rollout_load_format!r})")
    diff = metrics.get("rollout_corr/log_ppl_abs_diff")
    expect(_finite(diff) and diff <= max_log_ppl_abs_diff,
           f"rollout_corr/log_ppl_abs_diff <= {max_log_ppl_abs_diff}: |rollout log-ppl - actor log-ppl| "
           f"(got {diff!r})")
    corr = metrics.get("training/rollout_actor_probs_pearson_corr")
    expect(_finite(corr) and corr >= min_probs_corr,
           f"training/rollout_actor_probs_pearson_corr >= {min_probs_corr}: per-token probabilities of the rollout "
           f"and the actor agree (got {corr!r})")
    return Verdict(step=step, metrics=dict(metrics), failures=tuple(failures), passed=tuple(passed))


def read_composed_config(config_yaml: str | Path) -> tuple[int, str | None]:
    """(training responses per step = batch x rollout.n, rollout load_format) of a composed verl config (Hydra's
    ``.hydra/config.yaml``)."""
    import yaml

    cfg = yaml.safe_load(Path(config_yaml).read_text())
    try:
        rollout = cfg["actor_rollout_ref"]["rollout"]
        return int(cfg["data"]["train_batch_size"]) * int(rollout["n"]), rollout.get("load_format")
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{config_yaml}: no data.train_batch_size / actor_rollout_ref.rollout.n ({exc})") from exc


def check_run(run_dir: str | Path, *, step: int = 1, reward_mode: str = "smooth") -> Verdict:
    """``check_step`` on a smoke run's folder: ``metrics.jsonl``, ``rollouts/``, ``validation/``, ``hydra/``."""
    run_dir = Path(run_dir)
    steps = read_metrics(run_dir / "metrics.jsonl")
    if step not in steps:
        return Verdict(step=step, metrics={}, failures=(f"step {step} is not in verl's metrics (steps: {sorted(steps)})",))
    config = run_dir / "hydra" / ".hydra" / "config.yaml"
    responses, load_format = read_composed_config(config) if config.is_file() else (None, None)
    return check_step(
        steps[step],
        step=step,
        reward_mode=reward_mode,
        rollouts=read_jsonl(run_dir / "rollouts" / f"{step}.jsonl"),
        expected_responses=responses,
        validation=read_jsonl(run_dir / "validation" / f"{step}.jsonl"),
        rollout_load_format=load_format,
    )


def check_curriculum(steps: Mapping[int, Mapping[str, Any]], *, last_step: int,
                     checkpoint_dir: str | Path | None = None) -> Verdict:
    """The curriculum's smoke (``CURRICULUM=1``): judged from its figures in verl's metrics log alone.

    Every step logs each task's rung; the tiny model fails (nearly) everything, so no task moves up and at least one
    moves down; every task of the last step that moved down before it has its last-step samples drawn at its lower
    rung (``sample_rung``, the mean rung of the step's samples as they were tagged when drawn, equals the rung the
    earlier steps left it on, below where its first samples were drawn); with ``checkpoint_dir``, the checkpoint of
    the last step carries the state (``curriculum.json``) on the same rungs.
    """
    failures: list[str] = []
    passed: list[str] = []

    def expect(ok: bool, what: str) -> None:
        (passed if ok else failures).append(what)

    def tasks(metrics: Mapping[str, Any], key: str) -> dict[str, float]:
        return {k.split("/")[1]: v for k, v in metrics.items()
                if k.startswith("curriculum/") and k.count("/") == 2 and k.endswith(f"/{key}")}

    missing = [s for s in range(1, last_step + 1) if not tasks(steps.get(s, {}), "rung")]
    expect(not missing, f"every step 1..{last_step} logs the curriculum's rungs (missing: {missing})")
    first_rung: dict[str, float] = {}
    rung_after: dict[int, dict[str, float]] = {}
    moves: list[tuple[int, str, float]] = []
    for s in range(1, last_step + 1):
        m = steps.get(s, {})
        for task, r in tasks(m, "sample_rung").items():
            first_rung.setdefault(task, r)
        rung_after[s] = tasks(m, "rung")
        moves += [(s, task, v) for task, v in tasks(m, "move").items() if v]
    expect(not any(v > 0 for _, _, v in moves), f"no task moves up (moves: {moves})")
    expect(any(v < 0 for s, _, v in moves if s < last_step),
           f"a task moves down before step {last_step} (moves: {moves})")
    last = tasks(steps.get(last_step, {}), "sample_rung")
    lowered = {task: r for task, r in last.items()
               if any(t == task and v < 0 and s < last_step for s, t, v in moves)}
    expect(bool(lowered), f"step {last_step} has samples of a task that moved down before it (sample rungs: {last})")
    for task, r in lowered.items():
        expected = rung_after.get(last_step - 1, {}).get(task)
        expect(r == expected and r < first_rung[task],
               f"step {last_step}: {task}'s samples come from its lower rung {expected} (drawn at {r}; its first "
               f"samples at {first_rung[task]})")
    if checkpoint_dir is not None:
        path = Path(checkpoint_dir) / f"global_step_{last_step}" / "curriculum.json"
        state = json.loads(path.read_text()) if path.is_file() else None
        expect(state is not None and state.get("last_step") == last_step,
               f"the checkpoint of step {last_step} carries the curriculum's state ({path})")
    summary = {f"curriculum/{t}/sample_rung@{last_step}": r for t, r in last.items()}
    summary.update({f"curriculum/{t}/rung@{last_step}": r for t, r in rung_after.get(last_step, {}).items()})
    return Verdict(step=last_step, metrics=summary, failures=tuple(failures), passed=tuple(passed))


def format_verdict(verdict: Verdict) -> str:
    m = verdict.metrics
    shown = [k for k in KEY_METRICS if k in m]
    shown += [k for k in sorted(m) if any(key in k.split("/") for key in RESULT_KEYS[1:]) and k not in shown]
    shown += [k for k in sorted(m) if k.startswith("curriculum/") and k not in shown]
    width = max((len(k) for k in shown), default=0)
    lines = [f"VideoSSR CPU smoke step {verdict.step}: verl's metrics"]
    lines += [f"  {k:<{width}} = {m[k]!r}" for k in shown]
    lines += [f"  ok   {p}" for p in verdict.passed]
    if m.get("critic/advantages/max") == 0 and m.get("critic/advantages/min") == 0:
        lines.append("  note every GRPO group got equal rewards (advantages 0): only the entropy term moved the weights")
    lines += [f"  FAIL {f}" for f in verdict.failures]
    lines.append("SMOKE STEP OK" if verdict.ok else f"SMOKE STEP FAILED ({len(verdict.failures)} checks)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="build the tiny model and/or the demo rows (reused when present)")
    p.add_argument("--model-dir", type=Path, help="tiny Qwen3-VL directory (built if absent)")
    p.add_argument("--data-dir", type=Path, help="dataset directory; train.parquet built if absent")
    p.add_argument("--video-dir", type=Path, default=DEFAULT_VIDEO_DIR, help="default: data/demo")
    p.add_argument("--num-samples", type=int, default=DEFAULT_NUM_SAMPLES)
    p.add_argument("--rows", choices=("recipes", "frames"), default="recipes",
                   help="recipe rows made on the fly by the trainer (default) or rows with frames on disk")
    c = sub.add_parser("check", help="assert the step from verl's own outputs of the run")
    c.add_argument("--run-dir", type=Path, required=True,
                   help="the run's folder: metrics.jsonl, rollouts/, validation/, hydra/ (train.sh: OUTPUT_DIR/smoke_<time>)")
    c.add_argument("--reward-mode", choices=("smooth", "strict"), default="smooth")
    c.add_argument("--step", type=int, default=1)
    c.add_argument("--curriculum", action="store_true",
                   help="also check the curriculum's run (CURRICULUM=1): rungs move down, the last step's samples "
                        "come from the lower rungs")
    c.add_argument("--steps", type=int, default=1, help="steps the run made (the curriculum's smoke: 3)")
    c.add_argument("--checkpoint-dir", type=Path, default=None,
                   help="verl's checkpoint folder (trainer.default_local_dir): with --curriculum, its last step's "
                        "curriculum.json is checked too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    if args.command == "prepare":
        if args.model_dir is None and args.data_dir is None:
            parser.error("prepare: give --model-dir and/or --data-dir")
        if args.model_dir is not None:
            print(f"model: {prepare_model(args.model_dir)}")
        if args.data_dir is not None:
            rows = prepare_data(args.data_dir, args.video_dir, args.num_samples, materialize=args.rows == "frames")
            print(f"rows: {rows}")
        return 0
    if args.command == "check":
        verdict = check_run(args.run_dir, step=args.step, reward_mode=args.reward_mode)
        print(format_verdict(verdict))
        if args.curriculum:
            steps = read_metrics(Path(args.run_dir) / "metrics.jsonl")
            more = check_curriculum(steps, last_step=args.steps, checkpoint_dir=args.checkpoint_dir)
            print(format_verdict(more).replace("SMOKE STEP", "CURRICULUM SMOKE").replace(
                "VideoSSR CPU smoke step", "VideoSSR curriculum, smoke step"))
            verdict = Verdict(verdict.step, verdict.metrics, verdict.failures + more.failures, verdict.passed)
        return 0 if verdict.ok else 1
    raise AssertionError(args.command)  # argparse allows only the commands above


if __name__ == "__main__":
    raise SystemExit(main())
