"""An online curriculum inside GRPO: each task's difficulty follows the model while it trains.

A GRPO group whose rollouts all get the same reward has zero advantage and teaches nothing. Every task declares a
difficulty ladder (``PretextTask.ladder``: settings from easiest to hardest, the paper's marked), and after every
training step the controller looks, per task, at the groups that were drawn at the task's current rung:

    strict success s = mean strict score of their rollouts (the reward's ``strict`` key)
    s > high  (mostly all-correct: too easy)   ->  one rung up, once it held for ``hysteresis`` steps in a row
    s < low   (mostly all-wrong: too hard)     ->  one rung down, likewise
    low <= s <= high                           ->  stay (and the count of steps in a row restarts)

and never moves a task before ``min_steps`` observed steps at its current rung. Groups drawn at another rung (the
data loader prefetches, so a decision reaches the samples a few batches late) are logged but never decide: every
sample carries the rung it was drawn at (``extra_info.curriculum_rung``), so the controller judges a rung only on
samples of that rung. Moves and their reasons go to the log and to the state's history.

Settings (``data.videossr.curriculum.*`` in the verl config; defaults in ``CurriculumSettings``): ``enable``
(false: the paper's fixed mix), ``low`` 0.3, ``high`` 0.7, ``hysteresis`` 2, ``min_steps`` 2, ``min_groups`` 1
(groups at the current rung a step needs to count), ``start`` (``paper`` or ``easiest``), ``start_from`` (a
difficulty file of ``eval/diagnose.py --sweep``: each task starts at the easiest ladder rung nearest to the settings
the sweep chose for it).

The pieces: ``CurriculumSettings``; ``Controller``, the decision rule alone (pure Python, JSON state, what the unit
tests drive with scripted reward streams); ``group_stats``, the per-task figures of one step; ``Curriculum``, what
the training process shares: the controller, the ladders from the task table and the current rungs in a small
shared-memory tensor that data-loader worker processes read. ``videossr.training.dataset.VideoSSRDataset`` creates it
and draws every sample at its task's current rung; ``videossr.training.curriculum_verl`` feeds it the scored groups
from verl's replay buffer, logs its figures with verl's logger and saves its state with verl's checkpoints
(``curriculum.json`` in ``global_step_N/``; a resumed run loads it before its data loader starts).

This module names no task: the ladders come from the task table (``videossr.tasks``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from videossr.io import write_json_atomic
from videossr.sampling.store import store_context
from videossr.tasks import TASKS, PretextTask, get_task
from videossr.tasks.recipe import draw

logger = logging.getLogger(__name__)

STATE_FORMAT = "videossr.curriculum/1"
STATE_NAME = "curriculum.json"  # in verl's global_step_N checkpoint folder
RUNG_KEY = "curriculum_rung"  # extra_info keys of a sample drawn by the curriculum
LABEL_KEY = "curriculum_label"
METRIC_PREFIX = "curriculum"
STARTS = ("paper", "easiest")


@dataclass(frozen=True)
class CurriculumSettings:
    """The controller's settings (see the module docstring); ValueError naming a bad value."""

    enable: bool = False
    low: float = 0.3
    high: float = 0.7
    hysteresis: int = 2
    min_steps: int = 2
    min_groups: int = 1
    start: str = "paper"
    start_from: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.low, (int, float)) and isinstance(self.high, (int, float))
                and 0.0 <= self.low < self.high <= 1.0):
            raise ValueError(f"curriculum band: need 0 <= low < high <= 1, got low={self.low!r} high={self.high!r}")
        for name in ("hysteresis", "min_steps", "min_groups"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"curriculum {name} must be an integer >= 1, got {value!r}")
        if self.start not in STARTS:
            raise ValueError(f"curriculum start must be one of {STARTS}, got {self.start!r}")

    @classmethod
    def from_config(cls, options: Mapping[str, Any] | None) -> CurriculumSettings:
        """From ``data.videossr.curriculum`` (a mapping; keys it does not know are ignored: verl's own plumbing)."""
        options = dict(options or {})
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in options.items() if k in names}
        if "enable" in kwargs:
            kwargs["enable"] = _as_bool(kwargs["enable"], "enable")
        for k in ("low", "high"):
            if k in kwargs and isinstance(kwargs[k], (int, float)) and not isinstance(kwargs[k], bool):
                kwargs[k] = float(kwargs[k])
        if kwargs.get("start_from") in ("", "null", "None"):
            kwargs["start_from"] = None
        return cls(**kwargs)


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "0", "false", "no"):
        return value.strip().lower() in ("1", "true", "yes")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"curriculum {name} must be true or false, got {value!r}")


class Group(NamedTuple):
    """One scored GRPO group: its task, the rung its sample was drawn at (-1: not drawn by the curriculum), and the
    reward and strict score of each rollout."""

    task: str
    rung: int
    rewards: tuple[float, ...]
    strict: tuple[float, ...]


def group_stats(groups: Sequence[Group]) -> dict[str, float]:
    """The figures of some groups: ``groups``, ``zero_variance`` (share whose rewards are all equal),
    ``all_correct`` / ``all_wrong`` (share whose strict scores are all 1 / all 0), ``mean_reward`` and
    ``strict_success`` (means over every rollout). NaN means where there are no groups."""
    rewards = [r for g in groups for r in g.rewards]
    strict = [s for g in groups for s in g.strict]
    n = len(groups)
    return {
        "groups": float(n),
        "zero_variance": sum(max(g.rewards) == min(g.rewards) for g in groups) / n if n else math.nan,
        "all_correct": sum(min(g.strict) >= 1.0 for g in groups) / n if n else math.nan,
        "all_wrong": sum(max(g.strict) <= 0.0 for g in groups) / n if n else math.nan,
        "mean_reward": sum(rewards) / len(rewards) if rewards else math.nan,
        "strict_success": sum(strict) / len(strict) if strict else math.nan,
    }


# ----------------------------------------------------------------------------------------------------------------
# The decision rule


class Controller:
    """Per task: the current rung, the signed count of steps in a row beyond the band (+ too easy, - too hard), and
    the observed steps at the current rung. ``observe`` is the whole rule; the state is plain JSON.

    ``ladders``: task -> its rung labels, easiest first; ``start``: task -> its first rung's index.
    """

    def __init__(self, ladders: Mapping[str, Sequence[str]], start: Mapping[str, int],
                 settings: CurriculumSettings = CurriculumSettings()) -> None:
        self.ladders = {t: tuple(labels) for t, labels in ladders.items()}
        self.settings = settings
        for t, labels in self.ladders.items():
            if not labels:
                raise ValueError(f"task {t!r} has an empty ladder")
        missing = set(self.ladders) - set(start)
        if missing:
            raise ValueError(f"no start rung for task(s) {sorted(missing)}")
        self.rung = {}
        for t in self.ladders:
            r = start[t]
            if not 0 <= r < len(self.ladders[t]):
                raise ValueError(f"start rung {r} of task {t!r} is outside its ladder of {len(self.ladders[t])}")
            self.rung[t] = int(r)
        self.streak = dict.fromkeys(self.ladders, 0)
        self.steps_at_rung = dict.fromkeys(self.ladders, 0)
        self.moves: list[dict[str, Any]] = []
        self.last_step = 0

    def observe(self, step: int, groups: Sequence[Group]) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """Take one training step's scored groups; return the step's metrics and the moves it made.

        ``step`` is verl's global step; the async trainers sample several batches per step (``parameter_sync_step``),
        each observed on its own under the same step number.

        Metrics per task (``curriculum/<task>/...``): ``rung`` (after this step's decision), ``sample_rung`` (mean
        rung the step's samples were drawn at), ``groups``, ``groups_at_rung``, ``zero_variance``, ``mean_reward``,
        ``strict_success`` (all groups of the task this step), ``rung_strict_success`` (the groups at the rung that
        decided), ``move`` (+1, -1 or 0).
        """
        if step < self.last_step:
            raise ValueError(f"step {step} observed after step {self.last_step}: steps never go back")
        self.last_step = int(step)
        s = self.settings
        metrics: dict[str, float] = {}
        moves = []
        for task, labels in self.ladders.items():
            mine = [g for g in groups if g.task == task]
            at_rung = [g for g in mine if g.rung == self.rung[task]]
            stats = group_stats(mine)
            decided = group_stats(at_rung)
            move = 0
            if len(at_rung) >= s.min_groups:
                self.steps_at_rung[task] += 1
                success = decided["strict_success"]
                signal = 1 if success > s.high else -1 if success < s.low else 0
                if signal == 0:
                    self.streak[task] = 0
                elif self.streak[task] * signal > 0:
                    self.streak[task] += signal
                else:
                    self.streak[task] = signal
                if abs(self.streak[task]) >= s.hysteresis and self.steps_at_rung[task] >= s.min_steps:
                    target = self.rung[task] + signal
                    if 0 <= target < len(labels):
                        edge = f"> high {s.high:g}" if signal > 0 else f"< low {s.low:g}"
                        reason = (f"strict success {success:.3f} {edge} for {abs(self.streak[task])} step(s) in a row, "
                                  f"{self.steps_at_rung[task]} step(s) at {labels[self.rung[task]]}")
                        record = {"step": int(step), "task": task, "from": labels[self.rung[task]],
                                  "to": labels[target], "direction": "up" if signal > 0 else "down",
                                  "reason": reason}
                        logger.info("curriculum: %s %s -> %s after step %d: %s", task, record["from"], record["to"],
                                    step, reason)
                        self.moves.append(record)
                        moves.append(record)
                        self.rung[task] = target
                        self.streak[task] = 0
                        self.steps_at_rung[task] = 0
                        move = signal
            prefix = f"{METRIC_PREFIX}/{task}"
            metrics[f"{prefix}/rung"] = float(self.rung[task])
            if mine:
                metrics[f"{prefix}/sample_rung"] = sum(g.rung for g in mine) / len(mine)
                for key in ("groups", "zero_variance", "mean_reward", "strict_success"):
                    metrics[f"{prefix}/{key}"] = stats[key]
                metrics[f"{prefix}/groups_at_rung"] = float(len(at_rung))
                if at_rung:
                    metrics[f"{prefix}/rung_strict_success"] = decided["strict_success"]
            metrics[f"{prefix}/move"] = float(move)
        return metrics, moves

    def labels(self) -> dict[str, str]:
        """task -> the label of its current rung."""
        return {t: self.ladders[t][r] for t, r in self.rung.items()}

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "rungs": self.labels(),
            "streak": dict(self.streak),
            "steps_at_rung": dict(self.steps_at_rung),
            "last_step": self.last_step,
            "moves": [dict(m) for m in self.moves],
            "settings": dataclasses.asdict(self.settings),
        }

    def load_state_dict(self, state: Mapping[str, Any], source: str = "curriculum state") -> None:
        """Continue from a saved state (the settings in force stay those given now). ValueError naming ``source``
        and the problem when the state does not fit these ladders."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"{source}: not a curriculum state (format {state.get('format')!r}, "
                             f"expected {STATE_FORMAT!r})")
        try:
            for task, label in state["rungs"].items():
                if task not in self.ladders:
                    logger.warning("%s: task %r is not in this run's table; its rung is ignored", source, task)
                    continue
                if label not in self.ladders[task]:
                    raise ValueError(f"rung {label!r} of task {task!r} is not on its ladder {self.ladders[task]}")
                self.rung[task] = self.ladders[task].index(label)
                self.streak[task] = int(state["streak"][task])
                self.steps_at_rung[task] = int(state["steps_at_rung"][task])
            self.last_step = int(state["last_step"])
            self.moves = [dict(m) for m in state.get("moves", [])]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{source}: {type(e).__name__}: {e}") from None


# ----------------------------------------------------------------------------------------------------------------
# The decision lag of verl's data loader


def loader_lags(train_batch: int, gen_batch: int | None, workers: int, prefetch: int = 2) -> list[int]:
    """For each prompt of a training step, in order: after which earlier step's decision its sample was drawn
    (1: the previous step's, the least possible), in the steady state of verl's v1 trainer.

    The model: each step takes ``train_batch / gen_batch`` loader batches of ``gen_batch`` prompts (verl's
    ``data.gen_batch_size``, default the whole step) at its start; torchdata's ``StatefulDataLoader`` with ``workers``
    processes keeps ``prefetch * workers`` batches requested ahead, and a worker makes a batch (draws its samples at
    the rungs of that moment) as soon as it is requested. So batch j of a step (0-based, k per step, P requested
    ahead) was made while the step ``ceil((P - j) / k)`` before was taking its batches, and carries the decisions
    up to the step before that: lag ``1 + max(0, ceil((P - j) / k))``. An upper bound: workers slower than the
    trainer make some batches later, under newer decisions. ``benchmarks/bench_curriculum.py`` checks it against
    the real loader.
    """
    gen = gen_batch or train_batch
    if gen < 1 or train_batch % gen:
        raise ValueError(f"gen_batch_size {gen} must divide train_batch_size {train_batch}")
    k, ahead = train_batch // gen, prefetch * workers
    return [1 + max(0, -((j - ahead) // k)) for j in range(k) for _ in range(gen)]


# ----------------------------------------------------------------------------------------------------------------
# Start rungs


def start_rungs(settings: CurriculumSettings, tasks: Sequence[PretextTask]) -> dict[str, int]:
    """Each task's first rung: the paper's, the easiest, or from a sweep's difficulty file (``start_from``): the
    easiest of the ladder rungs nearest to the variants the sweep chose for the task (tasks it does not set start
    at ``start``)."""
    start = {t.name: (t.paper_rung() if settings.start == "paper" else 0) for t in tasks}
    if settings.start_from:
        from videossr.datasets.build import read_difficulty

        for name, variants in read_difficulty(settings.start_from).items():
            if name in start:
                task = get_task(name)
                start[name] = min(task.nearest_rung(task.params_from_json(params)) for _, params, _ in variants)
    return start


# ----------------------------------------------------------------------------------------------------------------
# What the training process shares


class Curriculum:
    """The controller, the ladders of the task table and the current rungs, shared with data-loader workers.

    The rungs live in a shared-memory int64 tensor (one entry per task, in the table's order): worker processes
    forked or spawned with the dataset read the same memory, so a move made in the trainer reaches every worker's
    next sample without a message.
    """

    def __init__(self, settings: CurriculumSettings, tasks: Sequence[PretextTask] | None = None) -> None:
        import torch

        self.settings = settings
        self.tasks = tuple(TASKS.values()) if tasks is None else tuple(tasks)
        self.ladders = {t.name: t.ladder for t in self.tasks}
        for t in self.tasks:
            t.paper_rung()  # exactly one paper rung, or ValueError naming the task
        self.controller = Controller({n: [r.label for r in ladder] for n, ladder in self.ladders.items()},
                                     start_rungs(settings, self.tasks), settings)
        self._index = {t.name: i for i, t in enumerate(self.tasks)}
        self._rungs = torch.zeros(len(self.tasks), dtype=torch.int64).share_memory_()
        self._publish()
        logger.info("curriculum on: start rungs %s", self.controller.labels())

    def _publish(self) -> None:
        for name, i in self._index.items():
            self._rungs[i] = self.controller.rung[name]

    def rung(self, task: str) -> int:
        """The current rung of ``task`` (read from shared memory: valid in data-loader workers too)."""
        return int(self._rungs[self._index[task]])

    def draw_params(self, task: str) -> tuple[int, Any]:
        """(rung, Params) to draw the next sample of ``task`` at."""
        r = self.rung(task)
        return r, self.ladders[task][r].params

    def rung_of(self, task: str, params: Any) -> int:
        """The rung whose Params equal ``params`` exactly, or -1 (a sample not drawn at a rung)."""
        for i, rung in enumerate(self.ladders.get(task, ())):
            if rung.params == params:
                return i
        return -1

    def observe(self, step: int, groups: Sequence[Group]) -> dict[str, float]:
        """One step's scored groups -> the controller's decision (published to the workers) and its metrics."""
        metrics, _ = self.controller.observe(step, groups)
        self._publish()
        return metrics

    # --- checkpoints ---------------------------------------------------------------------------------------------

    def save(self, checkpoint_dir: str | os.PathLike) -> Path:
        """Write the state into a checkpoint folder (``global_step_N/curriculum.json``, atomically)."""
        path = Path(checkpoint_dir) / STATE_NAME
        write_json_atomic(path, self.controller.state_dict())
        return path

    def load(self, path: str | os.PathLike) -> None:
        path = Path(path)
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"cannot read the curriculum state {path}: {e}") from None
        self.controller.load_state_dict(state, source=str(path))
        self._publish()
        logger.info("curriculum resumed from %s: rungs %s after step %d", path, self.controller.labels(),
                    self.controller.last_step)

    def resume(self, options: Mapping[str, Any]) -> Path | None:
        """Load the state of the checkpoint verl resumes from, found as verl finds it (``resume_mode`` auto: the
        folder named by ``checkpoint_dir/latest_checkpointed_iteration.txt``; ``resume_path``: ``resume_from_path``;
        ``disable``: none). The recipe YAML points these keys at verl's own ``trainer.*`` settings."""
        mode = str(options.get("resume_mode") or "disable")
        folder: Path | None = None
        if mode == "auto" and options.get("checkpoint_dir"):
            tracker = Path(str(options["checkpoint_dir"])) / "latest_checkpointed_iteration.txt"
            if tracker.is_file():
                folder = tracker.parent / f"global_step_{tracker.read_text().strip()}"
        elif mode == "resume_path" and options.get("resume_from_path"):
            folder = Path(str(options["resume_from_path"]))
        if folder is None:
            return None
        path = folder / STATE_NAME
        if not path.is_file():
            logger.warning("curriculum: resuming from %s, which has no %s (a run without the curriculum?): "
                           "starting at %s", folder, STATE_NAME, self.controller.labels())
            return None
        self.load(path)
        return path


# ----------------------------------------------------------------------------------------------------------------
# The dry run's check of the ladders


def check_ladders(rows: Iterable[Mapping[str, Any]], score: Callable[[str, str, str], float],
                  tasks: Sequence[PretextTask] | None = None) -> tuple[dict[str, int], list[str]]:
    """Prove every rung of every ladder on the frame stores the training rows use, before anything starts.

    ``rows``: recipe rows (at least their ``extra_info``); ``score(data_source, answer, ground_truth)``: the reward
    the run will use. For each task and frame store, every rung is drawn on every video the task's rows use and its
    sample made with pixels on the first video that takes it; every drawn answer must score 1.0 against itself.
    A video may be unable to take a rung (too few frames or seconds for its segments, a clip count that does not
    divide its frames): its rows then fall back to the row as built at that rung (``VideoSSRDataset``), which is
    noted. Returns ({task: samples checked}, notes); ValueError listing every rung that no video of a store takes
    and every answer that does not score 1.0.
    """
    wanted = {t.name: t for t in (TASKS.values() if tasks is None else tasks)}
    videos_of: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        extra = row.get("extra_info") or {}
        raw = extra.get("recipe")
        if not raw or extra.get("task") not in wanted:
            continue
        root = (json.loads(raw) if isinstance(raw, str) else dict(raw))["frames_root"]
        videos_of.setdefault((extra["task"], root), set()).add(str(extra["video_id"]))
    checked: dict[str, int] = {}
    problems, notes = [], []
    for (name, root), video_ids in sorted(videos_of.items()):
        task = wanted[name]
        ctx, videos = store_context(root)
        for rung in task.ladder:
            rendered, unable = False, []
            for k, video_id in enumerate(sorted(video_ids)):
                where = f"{name} rung {rung.label} on video {video_id!r} ({root})"
                try:
                    video = videos[video_id]
                    draft, _ = draw(name, rung.params, 0, k, video, ctx, epoch=1, label=where)
                except (ValueError, KeyError) as e:
                    unable.append(f"{video_id}: {e}")
                    continue
                if not rendered:
                    task.render(draft, video, ctx)
                    rendered = True
                value = score(task.data_source, draft.answer, draft.answer)
                if value != 1.0:
                    problems.append(f"{where}: the true answer {draft.answer!r} scores {value}, not 1.0")
                checked[name] = checked.get(name, 0) + 1
            if not rendered:
                problems.append(f"{name} rung {rung.label}: no video of {root} takes it ({unable[0]})")
            elif unable:
                notes.append(f"{name} rung {rung.label}: {len(unable)} of {len(video_ids)} videos cannot take it "
                             f"(their rows stay as built there), e.g. {unable[0]}")
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ValueError(f"{len(problems)} ladder problem(s) on these frames:\n  {shown}{more}")
    return checked, notes


# The training process's curriculum: the dataset that draws the samples registers it, the replay buffer and the
# checkpoint callback (same process, loaded through verl's pkg:// hooks) find it here.
_ACTIVE: Curriculum | None = None


def activate(curriculum: Curriculum) -> bool:
    """Make ``curriculum`` the process's; False (and nothing changes) if one is active already (the first dataset,
    verl's training set, claims it; the validation set then draws as built)."""
    global _ACTIVE
    if _ACTIVE is not None:
        return False
    _ACTIVE = curriculum
    return True


def active() -> Curriculum | None:
    return _ACTIVE


def deactivate() -> None:
    global _ACTIVE
    _ACTIVE = None
