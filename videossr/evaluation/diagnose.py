"""Is this data useful for GRPO with this model? The zero-variance diagnostic.

GRPO learns from the differences between the rewards of a question's rollouts: the advantage of a rollout is its
reward minus the group's mean (divided by the group's spread). When all N rollouts of a question get the same reward,
every advantage is zero and the question teaches nothing. This module samples N answers per question from a model,
exactly as the training rollouts are drawn (same temperature / top_p / top_k, verl's defaults unless told
otherwise), scores each with the training reward, and reports how much of a dataset has zero reward variance.

A question is one row of any verl-format parquet: this repository's (recipe rows are made first with
``videossr.tasks.recipe.make_row``, as the trainer's dataset class does; rows with frames are used as they are) or
another dataset's (text-only rows, frame-list or video-file videos). Its reward is
``videossr.rewards.compute_score(data_source, answer, ground_truth, extra_info, mode=...)``: VideoSSR's tasks for
their data sources, verl's own scorers for any other. A rollout is "correct" when its reward is exactly 1.0 (the
histogram's count); for smooth rewards the mean reward is reported as well.

Runs through the evaluation runner (``videossr.evaluation.runner.run_benchmark``: results log with fingerprints,
resume, retry one by one) with the ``Diagnostic`` benchmark. Outputs for one dataset, in ``OUTPUT_DIR``::

    results.jsonl   one line per question: id (the row's position, 6 digits), row, data_source, task, group, answer,
                    settings, fingerprint, raw_output (the N answers), parsed (whether each answer stated one),
                    score (the mean reward), rewards (the N rewards), n_correct (rewards equal to 1.0), error
    summary.json    the statistics below, overall, per task and per group (data_source/difficulty)
    histogram.png   questions by correct answers out of N, one panel per task

For several datasets in one call, each gets ``OUTPUT_DIR/<name>/`` (results.jsonl, summary.json), and
``OUTPUT_DIR/comparison.json`` and ``OUTPUT_DIR/histogram.png`` (one panel per dataset) compare them.

Statistics of a group of questions (``question_stats``): ``zero_variance`` (the share whose N rewards are all equal),
split into ``all_zero``, ``all_one`` and ``all_equal_other`` (all equal at another value, possible with smooth
rewards); ``mean_reward`` and ``std_mean_reward`` (mean and spread of the per-question mean rewards);
``mean_reward_std`` (the mean within-question spread: the scale of GRPO's signal); ``correct_histogram`` (how many
questions have k = 0..N correct rollouts); and ``chance`` (the expected reward of a uniform guesser on the same
questions, ``videossr.evaluation.chance``; None for data sources VideoSSR does not own). Questions whose inputs or generation
failed have no rewards: they are counted under ``n_errors`` and left out of the statistics.

``write_filtered`` keeps the rows with non-zero reward variance (the filter some RLVR recipes apply) in a new parquet
file with the input's schema and metadata.

Usage::

    from videossr.evaluation.diagnose import run_diagnostic, training_sampling
    from videossr.evaluation import EvalSettings, make_backend
    settings = EvalSettings(model=M, backend="vllm", max_new_tokens=2048, rollouts=8, **training_sampling())
    report = run_diagnostic([("train", "data/videossr/train.parquet")], settings, "out/diag",
                            backend_factory=lambda: make_backend("vllm", M, max_videos_per_prompt=8))
    print(report.table)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import statistics
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from videossr.evaluation.backends import Backend, Sampling, sample_texts
from videossr.evaluation.benchmarks import LOAD_ERROR, Benchmark, InputError
from videossr.evaluation.inputs import Request, request_from_verl_row
from videossr.evaluation.runner import RESULTS_NAME, run_benchmark
from videossr.evaluation.settings import EvalSettings
from videossr.io import atomic_path, read_jsonl, write_json_atomic

# Imported here, not in the decoding threads: onthefly imports torch and verl, and importing them in a thread while
# the main thread imports transformers to load the model races inside transformers' lazy imports.
from videossr.tasks.recipe import make_row, read_recipe
from videossr.rewards import compute_score
from videossr.tasks.sample import MADE_KEY
from videossr.tasks import MODES, task_for_source

__all__ = ["CORRECT", "DiagItem", "Diagnostic", "DiagnosticReport", "FIGURE_NAME", "COMPARISON_NAME",
           "dataset_names", "format_comparison", "format_summary", "histogram_figure", "question_seed",
           "question_stats", "run_diagnostic", "training_sampling", "write_filtered"]

logger = logging.getLogger(__name__)

CORRECT = 1.0  # a rollout is correct when its reward equals this
FIGURE_NAME = "histogram.png"
COMPARISON_NAME = "comparison.json"
# verl 0.9.1's rollout defaults (actor_rollout_ref.rollout.*), used when verl is not installed to read them from
VERL_ROLLOUT_DEFAULTS = {"temperature": 1.0, "top_p": 1.0, "top_k": -1}


def training_sampling() -> dict[str, Any]:
    """temperature, top_p and top_k of GRPO's training rollouts: the installed verl's rollout config defaults
    (``verl/trainer/config/rollout/rollout.yaml``; the VideoSSR recipe does not change them), else verl 0.9.1's."""
    try:
        import importlib.resources

        import yaml

        text = (importlib.resources.files("verl.trainer.config") / "rollout" / "rollout.yaml").read_text("utf-8")
        config = yaml.safe_load(text)
        return {"temperature": float(config["temperature"]), "top_p": float(config["top_p"]),
                "top_k": int(config["top_k"])}
    except (ImportError, ModuleNotFoundError, OSError, KeyError, TypeError, ValueError) as e:
        logger.debug("verl's rollout config not readable (%s); using verl 0.9.1's defaults", e)
        return dict(VERL_ROLLOUT_DEFAULTS)


def question_seed(seed: int, item_id: str) -> int:
    """The sampling seed of one question: derived from the run's seed and the question's id only, so a question's
    rollouts do not depend on its batch or on which questions ran before it."""
    digest = hashlib.sha256(f"{int(seed)}/{item_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


# ----------------------------------------------------------------------------------------------------------------
# The benchmark object


@dataclass(frozen=True)
class DiagItem:
    """One question: a parquet row, its position and how it is grouped."""

    id: str
    position: int
    row: Mapping[str, Any]
    data_source: str
    task: str  # a VideoSSR task name, or the data_source for other data
    group: str  # data_source/difficulty

    @property
    def gold(self) -> Any:
        return (self.row.get("reward_model") or {}).get("ground_truth")


def _audit(row: Mapping[str, Any]) -> dict[str, Any] | None:
    try:
        return json.loads((row.get("extra_info") or {})["params"])
    except (KeyError, TypeError, ValueError):
        return None


def _item(position: int, row: Mapping[str, Any]) -> DiagItem:
    data_source = str(row.get("data_source"))
    task = task_for_source(data_source)
    difficulty = "-"
    extra = row.get("extra_info") if isinstance(row.get("extra_info"), Mapping) else {}
    if task is not None:
        audit = _audit(row)
        try:
            difficulty = task.difficulty(audit) if audit is not None else "-"
        except (KeyError, TypeError, ValueError):
            difficulty = "-"
    else:
        for key in ("difficulty", "level"):
            if extra.get(key) not in (None, ""):
                difficulty = str(extra[key])
                break
    return DiagItem(id=f"{position:06d}", position=position, row=row, data_source=data_source,
                    task=task.name if task is not None else data_source, group=f"{data_source}/{difficulty}")


class Diagnostic(Benchmark):
    """The rows of one parquet, each asked ``rollouts`` times (see the module docstring)."""

    name = "diagnose"
    setting_keys = ("model", "backend", "max_new_tokens", "max_pixels", "rollouts", "temperature", "top_p", "top_k",
                    "seed")
    load_error_kind = LOAD_ERROR

    def __init__(self, data: str | os.PathLike | None = None, *, reward_mode: str = "smooth") -> None:
        if reward_mode not in MODES:
            raise ValueError(f"reward mode must be one of {MODES}, got {reward_mode!r}")
        self.data = None if data is None else Path(data)
        self.reward_mode = reward_mode
        self._items: dict[str, DiagItem] = {}

    def load_items(self, path: str | os.PathLike | None = None) -> list[DiagItem]:
        if path is not None:
            self.data = Path(path)
        if self.data is None:
            raise ValueError("the diagnostic needs a parquet file")
        if not self.data.is_file():
            raise FileNotFoundError(f"no parquet file at {self.data}")
        try:
            rows = pq.read_table(self.data).to_pylist()
        except Exception as e:  # noqa: BLE001 - whatever pyarrow raises on a file it cannot read
            raise ValueError(f"cannot read {self.data} as parquet: {type(e).__name__}: {e}") from None
        for k, row in enumerate(rows):
            missing = [c for c in ("data_source", "prompt", "reward_model") if c not in row]
            if missing:
                raise ValueError(f"{self.data}: row {k} lacks verl's column(s) {missing}")
        items = [_item(k, row) for k, row in enumerate(rows)]
        self._items = {it.id: it for it in items}
        return items

    def check_gold(self, item: DiagItem) -> None:
        task = task_for_source(item.data_source)
        if task is None:
            return  # verl's scorers define their own ground truths
        try:
            task.parse_gold(item.gold)
        except ValueError as e:
            raise ValueError(f"{self.data}: row {item.position}: {e}") from None

    def _pixel_override(self, settings: EvalSettings) -> int | None:
        return settings.max_pixels

    def asked(self, item: DiagItem, settings: EvalSettings) -> dict[str, Any]:
        extra = item.row.get("extra_info") if isinstance(item.row.get("extra_info"), Mapping) else {}
        return {
            "prompt": json.loads(json.dumps(item.row.get("prompt"), default=str)),
            "videos": json.loads(json.dumps(item.row.get("videos"), default=str)),
            "sample": {"data_source": item.data_source, "params": extra.get("params"), "recipe": extra.get("recipe")},
        }

    def sources(self, item: DiagItem, settings: EvalSettings) -> tuple[Hashable, ...]:
        return (item.id,)

    def load_source(self, source: Hashable, settings: EvalSettings) -> Request:
        """The whole request of a question (its made row's messages and videos), built in a decoding thread."""
        row = dict(self._items[str(source)].row)
        if read_recipe(row) is not None:
            row = make_row(row)  # the sample's frames, made as the trainer's dataset class makes them
        cap = self._pixel_override(settings)
        if cap is not None and row.get("videos"):
            videos = []
            for v in row["videos"]:
                v = dict(v) if isinstance(v, Mapping) else {"video": v}
                v["max_pixels"] = cap
                v["min_pixels"] = min(int(v.get("min_pixels") or cap), cap)
                videos.append(v)
            row["videos"] = videos
        try:
            return request_from_verl_row(row)
        except (KeyError, TypeError) as e:
            raise InputError(LOAD_ERROR, f"malformed row: {type(e).__name__}: {e}") from None

    def request(self, item: DiagItem, videos: Sequence[Any], settings: EvalSettings) -> Request:
        (req,) = videos
        return req

    def generate(self, backend: Backend, items: Sequence[DiagItem], requests: Sequence[Request],
                 settings: EvalSettings) -> list[list[str]]:
        sampling = Sampling(n=settings.rollouts, temperature=settings.temperature, top_p=settings.top_p,
                            top_k=settings.top_k)
        return sample_texts(backend, requests, sampling, [question_seed(settings.seed, it.id) for it in items])

    def rewards(self, item: DiagItem, outputs: Sequence[str]) -> list[dict[str, float]]:
        """The training reward's result of each answer (``compute_score``; VideoSSR's or verl's scorer)."""
        extra = dict(item.row.get("extra_info") or {}) if isinstance(item.row.get("extra_info"), Mapping) else {}
        if extra.get("recipe"):
            extra[MADE_KEY] = True  # its frames were made (load_source), as the trainer's dataset marks them
        return [compute_score(item.data_source, str(o), item.gold, extra, mode=self.reward_mode) for o in outputs]

    def score(self, item: DiagItem, output: Any) -> tuple[Any, float]:
        results = self.rewards(item, _outputs(output))
        if not results:
            return [], 0.0
        return [bool(r["format_ok"]) for r in results], sum(float(r["score"]) for r in results) / len(results)

    def details(self, item: DiagItem, output: Any) -> dict[str, Any]:
        if output is None:
            return {"rewards": None, "n_correct": None}
        rewards = [float(r["score"]) for r in self.rewards(item, _outputs(output))]
        return {"rewards": rewards, "n_correct": sum(1 for r in rewards if r == CORRECT)}

    def labels(self, item: DiagItem) -> dict[str, Any]:
        gold = item.gold
        return {"row": item.position, "data_source": item.data_source, "task": item.task, "group": item.group,
                "answer": gold if isinstance(gold, (str, int, float)) or gold is None else str(gold)}

    def summarize(self, records: Sequence[Mapping[str, Any]], settings: EvalSettings) -> dict[str, Any]:
        settings_json = self.settings_json(settings)
        rows = {i: it.row for i, it in self._items.items()}
        return summarize(records, settings_json, reward_mode=self.reward_mode, rows=rows,
                         data=None if self.data is None else str(self.data.resolve()))

    def format(self, summary: Mapping[str, Any]) -> str:
        return format_summary(summary)


def _outputs(output: Any) -> list[str]:
    if isinstance(output, str):  # a line written by a greedy benchmark: one answer
        return [output]
    return [str(o) for o in output]


# ----------------------------------------------------------------------------------------------------------------
# Statistics


def question_stats(reward_lists: Sequence[Sequence[float]], rollouts: int) -> dict[str, Any]:
    """The statistics of a group of questions from their reward lists (see the module docstring)."""
    n = len(reward_lists)
    hist = [0] * (rollouts + 1)
    all_zero = all_one = other = 0
    means, spreads = [], []
    for rewards in reward_lists:
        rewards = [float(r) for r in rewards]
        correct = sum(1 for r in rewards if r == CORRECT)
        if correct < len(hist):
            hist[correct] += 1
        if all(r == rewards[0] for r in rewards):
            if rewards[0] == 0.0:
                all_zero += 1
            elif rewards[0] == CORRECT:
                all_one += 1
            else:
                other += 1
        means.append(sum(rewards) / len(rewards))
        spreads.append(statistics.pstdev(rewards) if len(rewards) > 1 else 0.0)

    def share(k: int) -> float | None:
        return k / n if n else None

    return {
        "n": n,
        "zero_variance": share(all_zero + all_one + other),
        "all_zero": share(all_zero),
        "all_one": share(all_one),
        "all_equal_other": share(other),
        "mean_reward": sum(means) / n if n else None,
        "std_mean_reward": statistics.pstdev(means) if n else None,
        "mean_reward_std": sum(spreads) / n if n else None,
        "mean_correct": sum(k * c for k, c in enumerate(hist)) / n if n else None,
        "correct_histogram": hist,
    }


def summarize(records: Sequence[Mapping[str, Any]], settings: Mapping[str, Any], *, reward_mode: str,
              rows: Mapping[str, Mapping[str, Any]] | None = None, data: str | None = None) -> dict[str, Any]:
    """summary.json of a diagnostic's result lines; ``rows`` (by id) give the chance levels."""
    rollouts = int(settings["rollouts"])
    ok = [r for r in records if not r.get("error") and r.get("rewards") is not None]
    from videossr.evaluation.chance import each_row_chance, mean_chance

    rows = rows or {}
    chances = each_row_chance({r["id"]: rows[r["id"]] for r in ok if r["id"] in rows},
                              seed=int(settings.get("seed", 0)))

    def stats(subset: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        out = question_stats([r["rewards"] for r in subset], rollouts)
        c = mean_chance(chances.get(r["id"]) for r in subset)
        out["chance"] = None if c is None else c.to_json()
        return out

    per_task: dict[str, list] = {}
    per_group: dict[str, list] = {}
    for r in ok:
        per_task.setdefault(str(r["task"]), []).append(r)
        per_group.setdefault(str(r["group"]), []).append(r)
    errors: dict[str, int] = {}
    for r in records:
        if r.get("error"):
            kind = r.get("error_kind") or "error"
            errors[kind] = errors.get(kind, 0) + 1
    return {
        "diagnostic": "zero-variance",
        "data": data,
        "settings": dict(settings),
        "reward_mode": reward_mode,
        "correct": f"reward == {CORRECT}",
        "rollouts": rollouts,
        "n_questions": len(records),
        "n_errors": sum(errors.values()),
        "errors_by_kind": dict(sorted(errors.items())),
        "overall": stats(ok),
        "per_task": {k: stats(v) for k, v in sorted(per_task.items())},
        "per_group": {k: stats(v) for k, v in sorted(per_group.items())},
    }


# ----------------------------------------------------------------------------------------------------------------
# Tables


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


_HEADER = ("", "n", "zero-var%", "all-0%", "all-1%", "mean", "spread", "chance")


def _stats_row(label: str, s: Mapping[str, Any], mode: str) -> tuple[str, ...]:
    chance = s.get("chance")
    return (label, str(s["n"]), _pct(s["zero_variance"]), _pct(s["all_zero"]), _pct(s["all_one"]),
            _num(s["mean_reward"]), _num(s["std_mean_reward"]), _num(chance[mode] if chance else None))


def _render(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))) for r in rows]


def _settings_line(summary: Mapping[str, Any]) -> str:
    s = summary["settings"]
    return (f"model {s['model']} ({s['backend']}); {s['rollouts']} rollouts at temperature {s['temperature']:g}, "
            f"top_p {s['top_p']:g}, top_k {'off' if s['top_k'] <= 0 else s['top_k']}, seed {s['seed']}; "
            f"reward {summary['reward_mode']}; correct = {summary['correct']}")


_FOOTER = ("zero-var: share of questions whose rollouts all got the same reward (GRPO learns nothing from them); "
           "mean/spread: mean and standard deviation of the per-question mean reward; chance: expected reward of "
           "a uniform guesser (videossr.evaluation.chance)")


def format_summary(summary: Mapping[str, Any]) -> str:
    """The table the CLI prints for one dataset: overall, per task, per data_source/difficulty."""
    mode = summary["reward_mode"]
    rows = [_HEADER, _stats_row("all", summary["overall"], mode)]
    rows += [_stats_row(f"task {t}", s, mode) for t, s in summary["per_task"].items()]
    rows += [_stats_row(f"  {g}", s, mode) for g, s in summary["per_group"].items()]
    lines = [_settings_line(summary), *_render(rows)]
    if summary["n_errors"]:
        lines.append(f"{summary['n_errors']} questions ended with an error and are left out: "
                     + ", ".join(f"{k} {n}" for k, n in summary["errors_by_kind"].items()))
    lines.append(_FOOTER)
    return "\n".join(lines)


def format_comparison(named: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """One table for several datasets: each dataset's overall row and its per-task rows."""
    rows = [("dataset",) + _HEADER[1:]]
    for name, summary in named:
        mode = summary["reward_mode"]
        rows.append(_stats_row(name, summary["overall"], mode))
        rows += [_stats_row(f"  {t}", s, mode) for t, s in summary["per_task"].items()]
    return "\n".join([_settings_line(named[0][1]), *_render(rows), _FOOTER])


# ----------------------------------------------------------------------------------------------------------------
# The figure


def histogram_figure(panels: Sequence[tuple[str, Sequence[int], float | None]], path: str | os.PathLike, *,
                     title: str = "") -> Path:
    """A PNG with one bar chart per panel: the share of questions with k = 0..N correct rollouts (reward 1.0).

    ``panels`` are (title, correct_histogram, zero-variance share or None). Bars at 0 and N (every rollout wrong,
    every rollout right: no GRPO signal with 0/1 rewards) are red. Rendered headless (Agg) with fixed size, fonts and metadata, so the
    same numbers give the same bytes. Written atomically.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    if not panels:
        raise ValueError("a histogram figure needs at least one panel")
    cols = min(3, len(panels))
    nrows = math.ceil(len(panels) / cols)
    with matplotlib.rc_context({"font.family": "DejaVu Sans", "font.size": 9, "svg.hashsalt": "videossr",
                                "path.simplify": False}):
        fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.2 * nrows), squeeze=False)
        try:
            for ax in axes.flat[len(panels):]:
                ax.set_visible(False)
            for ax, (name, hist, zero_var) in zip(axes.flat, panels):
                n = sum(hist)
                shares = [100.0 * c / n if n else 0.0 for c in hist]
                ks = list(range(len(hist)))
                colours = ["#c0392b" if k in (0, len(hist) - 1) else "#2e86c1" for k in ks]
                ax.bar(ks, shares, color=colours, width=0.8)
                ax.set_xticks(ks)
                ax.set_xlim(-0.6, len(hist) - 0.4)
                ax.set_ylim(0, 100)
                ax.set_xlabel(f"correct rollouts out of {len(hist) - 1}")
                ax.set_ylabel("% of questions")
                note = "" if zero_var is None else f"\nzero reward variance: {100 * zero_var:.1f}%"
                ax.set_title(f"{name} (n={n}){note}", fontsize=9)
            if title:
                fig.suptitle(title, fontsize=10)
            fig.tight_layout()
            path = Path(path)
            with atomic_path(path) as tmp:
                # no software version in the file (same bytes across matplotlib versions' metadata); the panels
                # are named in it, so a reader (or a test) can tell what the figure shows without looking
                metadata = {"Software": None, "Title": title or "correct rollouts per question",
                            "Description": "panels: " + " | ".join(name for name, _, _ in panels)}
                fig.savefig(tmp, format="png", dpi=100, metadata=metadata)
        finally:
            plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------------------------
# The filter


def write_filtered(data: str | os.PathLike, records: Sequence[Mapping[str, Any]], output: str | os.PathLike) -> int:
    """Write the rows of ``data`` whose rollouts' rewards are not all equal to ``output`` (a parquet file with the
    input's schema and metadata, rows in file order); returns how many. Rows without results are left out."""
    data, output = Path(data), Path(output)
    if output.suffix != ".parquet":
        raise ValueError(f"the filtered output must be a .parquet file, got {output}")
    if output.resolve() == data.resolve():
        raise ValueError(f"the filtered output {output} would overwrite its input")
    keep = sorted(int(r["row"]) for r in records
                  if not r.get("error") and r.get("rewards") and len(set(map(float, r["rewards"]))) > 1)
    table = pq.read_table(data)
    kept = table.take(keep) if keep else table.slice(0, 0)
    with atomic_path(output) as tmp:
        pq.write_table(kept, tmp)
    logger.info("%d of %d rows have non-zero reward variance -> %s", len(keep), len(records), output)
    return len(keep)


# ----------------------------------------------------------------------------------------------------------------
# Running it over one or several datasets


@dataclass(frozen=True)
class DiagnosticReport:
    """What ``run_diagnostic`` did: per dataset its summary (with run counters under "run") and output folder."""

    summaries: dict[str, dict[str, Any]]
    folders: dict[str, Path]
    figure: Path
    table: str
    n_errors: int
    filtered: int | None = None


class _SharedBackend:
    """One backend for several runs: built on first use, closed once at the end (the runner closes what it builds)."""

    def __init__(self, factory: Callable[[], Backend]) -> None:
        self._factory = factory
        self._backend: Backend | None = None

    def get(self) -> _SharedBackend:
        if self._backend is None:
            self._backend = self._factory()
        return self

    @property
    def name(self) -> str:
        assert self._backend is not None
        return self._backend.name

    def generate(self, requests):
        assert self._backend is not None
        return self._backend.generate(requests)

    def sample(self, requests, sampling, seeds):
        assert self._backend is not None
        return self._backend.sample(requests, sampling, seeds)

    def close(self) -> None:
        """Kept open for the next dataset; ``shutdown`` closes it."""

    def shutdown(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def dataset_names(paths: Sequence[str | os.PathLike]) -> list[str]:
    """A short, unique, folder-safe name per parquet: its file stem, with -2, -3 ... for repeats."""
    names: list[str] = []
    for p in paths:
        stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(p).stem) or "data"
        name, k = stem, 2
        while name in names:
            name, k = f"{stem}-{k}", k + 1
        names.append(name)
    return names


def run_diagnostic(
    datasets: Sequence[tuple[str, str | os.PathLike]],
    settings: EvalSettings,
    output_dir: str | os.PathLike,
    *,
    backend_factory: Callable[[], Backend],
    reward_mode: str = "smooth",
    limit: int | None = None,
    write_filtered_to: str | os.PathLike | None = None,
    figure_title: str | None = None,
    subfolders: bool | None = None,
    **runner_kwargs: Any,
) -> DiagnosticReport:
    """The diagnostic over one or several (name, parquet) datasets with one backend (see the module docstring).

    ``limit`` runs only the first N rows of each dataset (the summaries still cover every result on disk).
    ``subfolders`` puts each dataset's results in ``OUTPUT_DIR/<name>/`` (default: only when there are several).
    ``runner_kwargs`` go to ``run_benchmark`` (``batch_size``, ``retry_errors``, ``overwrite``, ``decode_workers``,
    ``progress``). Raises ValueError for bad arguments or refused stored results, before anything is generated.
    """
    if not datasets:
        raise ValueError("give at least one dataset")
    names = [n for n, _ in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must be unique, got {names}")
    if write_filtered_to is not None and len(datasets) != 1:
        raise ValueError(f"--write-filtered takes one dataset, got {len(datasets)}")
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if settings.rollouts < 2:
        logger.warning("with %d rollout per question every question has zero variance", settings.rollouts)
    out = Path(output_dir)
    single = len(datasets) == 1
    nested = (not single) if subfolders is None else bool(subfolders)
    benches: list[tuple[str, Diagnostic, list[DiagItem], Path]] = []
    for name, path in datasets:  # read and check every dataset before any model is loaded
        bench = Diagnostic(path, reward_mode=reward_mode)
        items = bench.load_items()
        for it in items:
            bench.check_gold(it)
        benches.append((name, bench, items, out / name if nested else out))
    shared = _SharedBackend(backend_factory)
    summaries: dict[str, dict[str, Any]] = {}
    folders: dict[str, Path] = {}
    records_of: dict[str, list[dict]] = {}
    try:
        for name, bench, items, folder in benches:
            run_only = None if limit is None else [it.id for it in items[:limit]]
            logger.info("diagnostic of %s (%d rows) -> %s", name, len(items), folder)
            summaries[name] = run_benchmark(bench, items, settings, folder, backend_factory=shared.get,
                                            run_only=run_only, **runner_kwargs)
            folders[name] = folder
            records_of[name] = read_jsonl(folder / RESULTS_NAME)
    finally:
        shared.shutdown()

    rollouts = settings.rollouts
    if single:
        (name, summary), = summaries.items()
        panels = [(task, s["correct_histogram"], s["zero_variance"]) for task, s in summary["per_task"].items()]
        table = format_summary(summary)
    else:
        panels = [(name, s["overall"]["correct_histogram"], s["overall"]["zero_variance"])
                  for name, s in summaries.items()]
        comparison = {"datasets": {name: {k: v for k, v in s.items() if k != "run"} for name, s in summaries.items()},
                      "folders": {name: str(f) for name, f in folders.items()}}
        write_json_atomic(out / COMPARISON_NAME, comparison)
        table = format_comparison(list(summaries.items()))
    if not panels:
        panels = [("no results", [0] * (rollouts + 1), None)]
    title = figure_title if figure_title is not None else (
        f"{settings.model.rstrip('/').split('/')[-1]}: correct rollouts (reward = 1.0) per question, "
        f"{rollouts} rollouts at temperature {settings.temperature:g}")
    figure = histogram_figure(panels, out / FIGURE_NAME, title=title)
    filtered = None
    if write_filtered_to is not None:
        (name, bench, _, _), = benches
        filtered = write_filtered(bench.data, records_of[name], write_filtered_to)
    n_errors = sum(s["n_errors"] for s in summaries.values())
    return DiagnosticReport(summaries=summaries, folders=folders, figure=figure, table=table, n_errors=n_errors,
                            filtered=filtered)

