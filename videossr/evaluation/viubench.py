"""VIUBench: the pretext-task benchmark of the paper, built from a frame store and scored strictly.

Nine subtypes, 300 questions each (2700 in all), every video 48 frames at up to 512*512 pixels:

    counting_easy          Object Counting, F=3 frames per class, K=3 instances per frame
    counting_hard          Object Counting, F=4, K=4
    grounding_channelswap  Anomaly Grounding, red and blue channels swapped in one segment
    grounding_rotate180    ... the segment turned upside down
    grounding_zoomout      ... the segment shrunk onto a black canvas
    grounding_mirror       ... the segment mirrored left to right
    grounding_shuffle      ... the segment's frames shuffled
    jigsaw_easy            Temporal Jigsaw, 6 clips
    jigsaw_hard            Temporal Jigsaw, 8 clips

Scoring is strict: grounding = IoU of the parsed interval with the true one (averaged: mean IoU); counting = the
fraction of the three classes counted exactly; jigsaw = 1 if the whole order is exact, else 0. A subtype's score is
the mean over its questions; the overall score is the unweighted mean of the nine subtype scores x 100. An answer
that cannot be parsed scores 0, stays in the denominator and is counted; so does a question whose frames cannot be
read or whose generation failed (counted apart as an error). Parsing and the score functions are the ones the
training rewards use (``videossr.tasks.answers``, ``videossr.tasks.metrics``).

Building (``build_viubench``) reuses the build's machinery (``videossr.datasets``: plan, seeded per-sample RNG,
atomic per-sample commits, resume) and the task presets of the task table (``videossr.tasks``). It writes::

    OUT/viubench.parquet   the questions, in subtype order; verl's row format plus a ``subtype`` column (the same
                           keys in every row); ``extra_info.params`` also carries ``"viubench_subtype"``
    OUT/files/             per-question unit files and the new (perturbed / overlaid) frames
    OUT/metadata.json      arguments, counts per subtype, failures

Use a frame store of videos that the training data does not use. The default seed differs from the training
build's default (0), so that even on a shared frame store the questions are not copies of training samples.

Evaluating (``evaluate``) runs this module's ``VIUBench`` benchmark object through the
one evaluation runner (``videossr.evaluation.runner``: results log with fingerprints and resume, batches, retries),
writing ``OUTPUT_DIR/results.jsonl`` (one line per question: id, subtype, gold, raw output, parsed answer, score,
error) and ``OUTPUT_DIR/summary.json``. Scoring goes through ``score_output`` (the task table) only. ``summarize``
turns result records into the per-subtype and overall figures, and works on any results JSONL.

Usage::

    from videossr.evaluation import EvalSettings, make_backend
    from videossr.evaluation.viubench import build_viubench, evaluate, format_summary
    build_viubench("data/frames_heldout", "data/viubench")                        # 2700 questions
    settings = EvalSettings(model="MODEL_DIR", backend="vllm")
    summary = evaluate("data/viubench/viubench.parquet", "out/viubench", settings,
                       backend_factory=lambda: make_backend("vllm", "MODEL_DIR", max_videos_per_prompt=8))
    print(format_summary(summary))
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from videossr.constants import EVAL_MAX_PIXELS, EVAL_MIN_PIXELS
from videossr.datasets.build import check_sample_count
from videossr.evaluation.benchmarks import LOAD_ERROR, Benchmark, InputError
from videossr.evaluation.chance import DEFAULT_DRAWS, Chance, params_chance
from videossr.evaluation.inputs import Request, VideoFrames, frames_from_list
from videossr.evaluation.runner import run_benchmark
from videossr.io import check_output_folder
from videossr.constants import NUM_FRAMES, TRAIN_MIN_PIXELS, VIUBENCH_MAX_PIXELS
from videossr.evaluation.settings import EvalSettings
from videossr.datasets.executors import generate
from videossr.io import params_to_json, read_jsonl, write_json_atomic
from videossr.sampling.store import read_manifest
from videossr.datasets.planning import Variant, plan_task
from videossr.procs import output_lock
from videossr.tasks.sample import ROW_SCHEMA, write_parquet
from videossr.tasks import get_task, task_names
from videossr.datasets.units import count_outcomes, prune

logger = logging.getLogger(__name__)

PER_SUBTYPE = 300
VIUBENCH_FRAMES = NUM_FRAMES
DEFAULT_SEED = 7
PARQUET_NAME = "viubench.parquet"
FILES_DIR = "files"
METADATA_NAME = "metadata.json"
SUBTYPE_KEY = "viubench_subtype"  # the key added to extra_info.params


@dataclass(frozen=True)
class Subtype:
    """One VIUBench subtype: a task and the registry preset that sets its difficulty."""

    name: str  # machine name, e.g. "grounding_zoomout"
    title: str  # as the paper writes it, e.g. "Grounding ZoomOut"
    task: str
    preset: str  # a preset of videossr.tasks.get_task(task)

    def __post_init__(self) -> None:
        get_task(self.task)  # ValueError naming an unknown task
        if not self.name or "/" in self.name:
            raise ValueError(f"subtype name must be non-empty without '/', got {self.name!r}")

    def params(self) -> Any:
        """The task's Params for this subtype (from the registry preset)."""
        return get_task(self.task).preset(self.preset)


SUBTYPES: tuple[Subtype, ...] = (
    Subtype("counting_easy", "Counting Easy", "counting", "easy"),
    Subtype("counting_hard", "Counting Hard", "counting", "hard"),
    Subtype("grounding_channelswap", "Grounding ChannelSwap", "grounding", "ChannelSwap"),
    Subtype("grounding_rotate180", "Grounding Rotate180", "grounding", "Rotate180"),
    Subtype("grounding_zoomout", "Grounding ZoomOut", "grounding", "ZoomOut"),
    Subtype("grounding_mirror", "Grounding Mirror", "grounding", "Mirror"),
    Subtype("grounding_shuffle", "Grounding Shuffle", "grounding", "Shuffle"),
    Subtype("jigsaw_easy", "Jigsaw Easy", "jigsaw", "easy"),
    Subtype("jigsaw_hard", "Jigsaw Hard", "jigsaw", "hard"),
)
SUBTYPE_NAMES: tuple[str, ...] = tuple(s.name for s in SUBTYPES)
_BY_NAME: dict[str, Subtype] = {s.name: s for s in SUBTYPES}


def get_subtype(name: str) -> Subtype:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown VIUBench subtype {name!r}; expected one of {SUBTYPE_NAMES}") from None


def subtype_title(name: str) -> str:
    """How a subtype is printed: the paper's title for the nine, the name itself for any other."""
    return _BY_NAME[name].title if name in _BY_NAME else name


# ----------------------------------------------------------------------------------------------------------------
# Building

# The parquet schema: the build's row schema (videossr.tasks.sample) plus the subtype column.
PARQUET_SCHEMA = ROW_SCHEMA.append(pa.field("subtype", pa.string()))


def _with_subtype(row: Mapping[str, Any], subtype: str) -> dict:
    """A copy of a verl row that names its subtype (column + extra_info.params)."""
    out = dict(row)
    extra = dict(row["extra_info"])
    params = json.loads(extra["params"])
    params[SUBTYPE_KEY] = subtype
    extra["params"] = json.dumps(params, sort_keys=True)
    out["extra_info"] = extra
    out["subtype"] = subtype
    return out


def subtype_of(row: Mapping[str, Any]) -> str:
    """The subtype of a VIUBench row (its column, else its params JSON); raises ValueError if it has none."""
    name = row.get("subtype")
    if not name:
        try:
            name = json.loads(row["extra_info"]["params"]).get(SUBTYPE_KEY)
        except (KeyError, TypeError, json.JSONDecodeError):
            name = None
    if not name:
        raise ValueError(f"row {row.get('extra_info', {}).get('index')!r} has no VIUBench subtype")
    return str(name)


@dataclass(frozen=True)
class BuildSummary:
    parquet: Path
    counts: dict[str, int]  # questions per subtype
    failures: list[dict]
    seconds: float


def build_viubench(
    frames_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    per_subtype: int = PER_SUBTYPE,
    subtypes: Sequence[str | Subtype] = SUBTYPE_NAMES,
    seed: int = DEFAULT_SEED,
    workers: int = 1,
    executor: str = "local",
    min_pixels: int = TRAIN_MIN_PIXELS,
    max_pixels: int = VIUBENCH_MAX_PIXELS,
    progress: bool = True,
) -> BuildSummary:
    """Build VIUBench from the frame store ``frames_dir`` into ``output_dir`` (see the module docstring).

    Resumable: a rerun with the same arguments keeps every committed question and makes only the missing ones.
    Same frame store, arguments and seed give the same questions and byte-identical frames and parquet.
    """
    if isinstance(per_subtype, bool) or not isinstance(per_subtype, int) or per_subtype < 1:
        raise ValueError(f"per_subtype must be an int >= 1, got {per_subtype!r}")
    chosen = [s if isinstance(s, Subtype) else get_subtype(s) for s in subtypes]
    if not chosen or len({s.name for s in chosen}) != len(chosen):
        raise ValueError(f"subtypes must be a non-empty list without repeats, got {list(subtypes)!r}")
    # the paper's nine in the paper's order, then any others in the order given
    chosen.sort(key=lambda s: SUBTYPE_NAMES.index(s.name) if s.name in _BY_NAME else len(SUBTYPE_NAMES))
    started = time.perf_counter()
    frames_dir = Path(frames_dir).resolve()
    out = Path(output_dir).resolve()
    check_output_folder(out, {"frame store": frames_dir})
    records = read_manifest(frames_dir)
    if not records:
        raise ValueError(f"the frame store {frames_dir} has no videos")
    off = sorted({r.num_frames for r in records} - {VIUBENCH_FRAMES})
    if off:
        logger.warning("VIUBench expects %d frames per video; the frame store also has %s", VIUBENCH_FRAMES, off)

    units = []
    row_index = 0
    for task in task_names():  # one plan per task; its subtypes are the plan's variants, in exactly equal numbers
        mine = [s for s in chosen if s.task == task]
        if not mine:
            continue
        variants = [Variant(s.name, s.params()) for s in mine]
        check_sample_count(task, per_subtype * len(mine), len(records))
        planned = plan_task(
            task,
            variants,
            count=per_subtype * len(mine),
            videos=records,
            seed=seed,
            first_row_index=row_index,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            materialize=True,  # a benchmark's frames are on disk, for any model runner
        )
        units.extend(planned)
        row_index += len(planned)

    root = out / FILES_DIR
    with output_lock(out, what="VIUBench build") as lock:
        prune(root, units)
        outcomes = generate(units, root, frames_dir, workers=workers, executor=executor, progress=progress, lock=lock)
        order = {s.name: k for k, s in enumerate(chosen)}
        ok = sorted((o for o in outcomes if o.ok), key=lambda o: (order[o.unit.variant], o.unit.row_index))
        rows = [_with_subtype(o.row, o.unit.variant) for o in ok]
        parquet = out / PARQUET_NAME
        write_parquet(rows, parquet, schema=PARQUET_SCHEMA)

        counts = {s.name: 0 for s in chosen}
        for o in ok:
            counts[o.unit.variant] += 1
        failures = count_outcomes(outcomes)["failures"]
        for name, n in counts.items():
            if n < per_subtype:
                logger.warning("%s: %d of %d questions (the rest failed; see %s)", name, n, per_subtype, METADATA_NAME)
        metadata = {
            "benchmark": "VIUBench",
            "frames_dir": str(frames_dir),
            "num_videos": len(records),
            "per_subtype": per_subtype,
            "seed": seed,
            "min_pixels": min_pixels,
            "max_pixels": max_pixels,
            "subtypes": [
                {"name": s.name, "title": s.title, "task": s.task, "preset": s.preset, "params": params_to_json(s.params())}
                for s in chosen
            ],
            "counts": counts,
            "failures": failures,
        }
        write_json_atomic(out / METADATA_NAME, metadata)
        elapsed = time.perf_counter() - started
        logger.info("VIUBench: %d questions -> %s (%d failed) in %.1f s", len(rows), parquet, len(failures), elapsed)
        return BuildSummary(parquet=parquet, counts=counts, failures=failures, seconds=elapsed)


def read_rows(parquet: str | os.PathLike) -> list[dict]:
    """The rows of a VIUBench parquet file, as dicts."""
    return pq.read_table(parquet).to_pylist()


# ----------------------------------------------------------------------------------------------------------------
# Scoring


def score_output(task: str, output: str, gold: str) -> tuple[Any, float]:
    """(parsed answer or None, strict score in [0, 1]) of one model output for a question of ``task``.

    The task's own ``score_text`` in strict mode: exactly what the training reward computes with
    ``REWARD_MODE=strict``. Raises ValueError if ``gold`` is not a valid answer of the task (a broken benchmark).
    """
    score = get_task(task).score_text(output, gold, "strict")
    parsed = list(score.parsed) if isinstance(score.parsed, tuple) else score.parsed
    return parsed, score.value


def score_answer(subtype: str, output: str, gold: str) -> tuple[Any, float]:
    """``score_output`` for a question of one of the nine subtypes."""
    return score_output(get_subtype(subtype).task, output, gold)


def summarize(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-subtype and overall figures from result records (``subtype``, ``score``, ``parsed``, ``error``).

    A subtype's ``score`` is the mean of its question scores (errors and unparsable answers count as 0).
    ``overall`` is the unweighted mean of the nine subtype scores x 100, or None unless all nine are present;
    ``overall_present`` is the same mean over the subtypes that are present (for partial runs).
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        name = str(r["subtype"])
        score = float(r["score"])
        if not 0.0 <= score <= 1.0 or math.isnan(score):
            raise ValueError(f"record {r.get('id')!r}: score {score!r} is outside [0, 1]")
        groups.setdefault(name, []).append(r)
    per_subtype: dict[str, dict[str, Any]] = {}
    for name in [*SUBTYPE_NAMES, *sorted(set(groups) - set(SUBTYPE_NAMES))]:
        rs = groups.get(name)
        if not rs:
            continue
        errors = sum(1 for r in rs if r.get("error"))
        unparsable = sum(1 for r in rs if not r.get("error") and r.get("parsed") is None)
        per_subtype[name] = {
            "title": subtype_title(name),
            "n": len(rs),
            "score": sum(float(r["score"]) for r in rs) / len(rs),
            "n_unparsable": unparsable,
            "n_errors": errors,
        }
    means = [v["score"] for k, v in per_subtype.items() if k in _BY_NAME]
    present = [v["score"] for v in per_subtype.values()]
    missing = [name for name in SUBTYPE_NAMES if name not in per_subtype]
    return {
        "n": sum(v["n"] for v in per_subtype.values()),
        "n_unparsable": sum(v["n_unparsable"] for v in per_subtype.values()),
        "n_errors": sum(v["n_errors"] for v in per_subtype.values()),
        "per_subtype": per_subtype,
        "missing_subtypes": missing,
        "overall": 100.0 * sum(means) / len(means) if means and not missing else None,
        "overall_present": 100.0 * sum(present) / len(present) if present else None,
    }


def summarize_results_file(path: str | os.PathLike) -> dict[str, Any]:
    """``summarize`` over a results JSONL file."""
    return summarize(read_jsonl(path))


@functools.lru_cache(maxsize=32)
def subtype_chance(name: str, *, draws: int = DEFAULT_DRAWS, seed: int = 0) -> Chance:
    """Chance level of a VIUBench subtype (its preset on 48-frame videos); computed once per process."""
    subtype = get_subtype(name)
    return params_chance(subtype.task, subtype.params(), draws=draws, seed=seed)


def chance_column(names: Sequence[str]) -> dict[str, float | None]:
    """The strict chance level (x 100) of each subtype named, None for a subtype that is not one of the nine.

    Computed by ``subtype_chance`` (a seeded simulation of a uniform guesser scored by the task's
    own scorer), once per process; not part of summary.json.
    """
    return {n: 100 * subtype_chance(n).strict if n in _BY_NAME else None for n in names}


def format_summary(summary: Mapping[str, Any]) -> str:
    """A plain-text table: one line per subtype (score x 100, the chance level of a uniform guesser, questions,
    unparsable, errors) and the overall."""
    chance = chance_column(list(summary["per_subtype"]))

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    lines = [f"{'subtype':<24}{'score':>8}{'chance':>8}{'n':>6}{'unparsable':>12}{'errors':>8}"]
    for name, v in summary["per_subtype"].items():
        lines.append(f"{v['title']:<24}{100 * v['score']:>8.1f}{shown(chance[name]):>8}{v['n']:>6}"
                     f"{v['n_unparsable']:>12}{v['n_errors']:>8}")
    overall = summary["overall"]
    tail = f"{summary['n']:>6}{summary['n_unparsable']:>12}{summary['n_errors']:>8}"
    if overall is not None:
        all_chance = [chance[n] for n in SUBTYPE_NAMES]
        lines.append(f"{'Overall':<24}{overall:>8.1f}{shown(sum(all_chance) / len(all_chance)):>8}{tail}")
    else:
        present = summary["overall_present"]
        known = [c for c in chance.values() if c is not None]
        lines.append(
            f"{'Overall (partial)':<24}{shown(present):>8}{shown(sum(known) / len(known) if known else None):>8}"
            f"{tail}   missing: {', '.join(summary['missing_subtypes'])}"
        )
    lines.append("chance: expected strict score of a uniform guesser over the answer space (videossr.evaluation.chance)")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# The benchmark object the runner drives


@dataclass(frozen=True)
class Question:
    """One VIUBench question: its id (``subtype_index``), subtype, task and verl row."""

    id: str
    subtype: str
    task: str
    row: Mapping[str, Any]

    @property
    def gold(self) -> str:
        return self.row["reward_model"]["ground_truth"]


class VIUBench(Benchmark):
    """VIUBench rows: the row's own prompt and frame lists, scored strictly per task."""

    name = "viubench"
    setting_keys = ("model", "backend", "max_new_tokens", "max_pixels")
    load_error_kind = LOAD_ERROR

    def __init__(self, data: str | os.PathLike | None = None) -> None:
        self.data = None if data is None else Path(data)

    def load_items(self, path: str | os.PathLike | None = None) -> list[Question]:
        """The questions of a VIUBench parquet (default: the one this benchmark was made with), in file order."""
        if path is not None:
            self.data = Path(path)
        if self.data is None:
            raise ValueError("VIUBench needs its parquet file")
        questions = [
            Question(question_id(r), subtype_of(r), str(r["extra_info"]["task"]), r)
            for r in read_rows(self.data)
        ]
        if len({q.id for q in questions}) != len(questions):
            raise ValueError(f"{self.data}: question ids repeat (extra_info.index must be unique)")
        return questions

    def check_gold(self, item: Question) -> None:
        try:
            score_output(item.task, item.gold, item.gold)
        except ValueError as e:
            raise ValueError(f"question {item.id}: {e}") from None

    def _videos(self, item: Question, settings: EvalSettings) -> tuple[tuple[tuple[str, ...], float, int, int], ...]:
        """Each video of the row as (frame paths, sample fps, min_pixels, max_pixels), the override applied."""
        out = []
        for v in item.row["videos"]:
            lo = int(v.get("min_pixels") or EVAL_MIN_PIXELS)
            hi = int(v.get("max_pixels") or EVAL_MAX_PIXELS)
            if settings.max_pixels is not None:
                hi, lo = settings.max_pixels, min(lo, settings.max_pixels)
            out.append((tuple(str(p) for p in v["video"]), float(v["sample_fps"]), lo, hi))
        return tuple(out)

    def asked(self, item: Question, settings: EvalSettings) -> dict[str, Any]:
        extra = item.row["extra_info"]
        return {
            "prompt": [{"role": str(m["role"]), "content": str(m["content"])} for m in item.row["prompt"]],
            "videos": [list(v) for v in self._videos(item, settings)],
            "sample": {"task": item.task, "video_id": extra.get("video_id"), "params": extra.get("params")},
        }

    def sources(self, item: Question, settings: EvalSettings) -> tuple[Hashable, ...]:
        try:
            return self._videos(item, settings)
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(LOAD_ERROR, f"malformed row: {type(e).__name__}: {e}") from None

    def load_source(self, source: Hashable, settings: EvalSettings) -> VideoFrames:
        paths, fps, lo, hi = source  # type: ignore[misc]
        return frames_from_list(list(paths), fps, min_pixels=lo, max_pixels=hi)

    def request(self, item: Question, videos: Sequence[VideoFrames], settings: EvalSettings) -> Request:
        messages = tuple({"role": str(m["role"]), "content": str(m["content"])} for m in item.row["prompt"])
        return Request(messages, tuple(videos))

    def score(self, item: Question, output: str) -> tuple[Any, float]:
        return score_output(item.task, output, item.gold)

    def labels(self, item: Question) -> dict[str, Any]:
        return {"subtype": item.subtype, "video_id": item.row["extra_info"]["video_id"], "answer": item.gold}

    def summarize(self, records: Sequence[Mapping[str, Any]], settings: EvalSettings) -> dict[str, Any]:
        summary = summarize(records)
        summary["settings"] = self.settings_json(settings)
        summary["data"] = None if self.data is None else str(self.data.resolve())
        return summary

    def format(self, summary: Mapping[str, Any]) -> str:
        return format_summary(summary)


def select_per_subtype(questions: Sequence[Question], limit: int) -> list[Question]:
    """The first ``limit`` questions of each subtype, in file order."""
    seen: dict[str, int] = {}
    kept = []
    for q in questions:
        seen[q.subtype] = seen.get(q.subtype, 0) + 1
        if seen[q.subtype] <= limit:
            kept.append(q)
    return kept


# ----------------------------------------------------------------------------------------------------------------
# Evaluating


def question_id(row: Mapping[str, Any]) -> str:
    """A question's id: ``<subtype>_<extra_info.index, 5 digits>``."""
    return f"{subtype_of(row)}_{int(row['extra_info']['index']):05d}"


def evaluate(
    parquet: str | os.PathLike,
    output_dir: str | os.PathLike,
    settings: EvalSettings,
    *,
    limit_per_subtype: int | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Answer the questions of a VIUBench parquet and score them strictly: ``videossr.evaluation.run_benchmark`` with
    the ``VIUBench`` benchmark. ``limit_per_subtype`` runs only the first N questions of each subtype; the other
    keyword arguments (``backend`` or ``backend_factory``, ``batch_size``, ``retry_errors``, ``overwrite``, ...) are
    the runner's. Returns the summary (``summarize`` plus settings and data) with run counters under ``"run"``.
    """
    bench = VIUBench(parquet)
    questions = bench.load_items()
    run_only = None if limit_per_subtype is None else [q.id for q in select_per_subtype(questions, limit_per_subtype)]
    return run_benchmark(bench, questions, settings, output_dir, run_only=run_only, **kwargs)
