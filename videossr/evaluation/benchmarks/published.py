"""Published benchmarks read from the files their users have, asked and scored under two protocols.

A ``PublishedBenchmark`` is one benchmark of the paper (MVBench, Video-MME, Charades-STA, ...; one module each in
this package, found by name in ``registry``). It is built on ``--data-root``: the benchmark's folder as its users
already have it (for a benchmark lmms-eval has, the folder lmms-eval's ``doc_to_visual`` reads videos from, holding
the annotation files of the dataset repository lmms-eval loads; eval/README.md gives the layout of each).

What a model is asked is lmms-eval 0.7.3's, as a ``--model qwen3_vl`` run gets it: the system prompt of its
Qwen3-VL model class (``SYSTEM_PROMPT``), the video, then the user text of the task's ``doc_to_text`` with the
task's ``lmms_eval_specific_kwargs`` for ``qwen3_vl`` (or ``default``), and the task's ``max_new_tokens``.

Every answer is scored under both protocols; ``protocol`` picks the one a run reports first (``score`` and the
headline), the other is always beside it:

* ``lmms_eval``: lmms-eval's ``process_results`` and aggregation, quirks included (``lmms.py``);
* ``strict``: the project's own readers (``videossr.evaluation.choice`` / ``videossr.tasks.answers``): an answer that
  cannot be read, or names two options, is wrong; nothing is guessed.

A subclass gives ``read_docs`` (the published rows, each with its id, lmms-eval task and index there, and video),
``user_text``, ``lmms_item`` + ``lmms_summary`` and ``strict_item`` + ``strict_summary``.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from videossr.constants import EVAL_MAX_PIXELS, EVAL_MIN_PIXELS, VIDEO_PLACEHOLDER
from videossr.evaluation.benchmarks import (
    DECODE_ERROR,
    MISSING_VIDEO,
    UNSAFE_ID,
    Benchmark,
    InputError,
)
from videossr.evaluation.inputs import Request, VideoFrames, load_eval_video
from videossr.evaluation.items import UnsafeVideoId, check_video_id
from videossr.evaluation.settings import EvalSettings

__all__ = ["PROTOCOLS", "SYSTEM_PROMPT", "Doc", "PublishedBenchmark", "MissingData", "read_rows", "find_files",
           "percent", "accuracy_by"]

PROTOCOLS = ("lmms_eval", "strict")
# lmms-eval's Qwen3-VL model class (lmms_eval/models/simple/qwen3_vl.py, system_prompt) sends this first.
SYSTEM_PROMPT = "You are a helpful assistant."


class MissingData(FileNotFoundError):
    """A benchmark file that is not where the benchmark's users keep it (the message names what and where)."""


@dataclass(frozen=True)
class Doc:
    """One published question: its row as published, where lmms-eval has it, and its video (relative paths)."""

    id: str  # the benchmark's own question id (unique)
    row: Mapping[str, Any]  # the published fields, as read
    task: str  # the lmms-eval task it belongs to (its --log_samples file is <date>_samples_<task>.jsonl)
    doc_id: int  # its index in that task's split (lmms-eval's doc_id)
    videos: tuple[str, ...]  # candidate paths of its video under the data root, the first that exists is used
    gold: Any = None  # the gold answer, as the benchmark states it
    groups: Mapping[str, Any] = field(default_factory=dict)  # breakdown fields (duration, domain, subtask, ...)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a published annotation file: parquet, a JSON list (or an object of lists) or JSONL."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if suffix == ".jsonl":
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not a JSON line ({e.msg})") from None
    else:
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{path}: expected a list of objects")
    return rows


def find_files(root: Path, patterns: Sequence[str], what: str) -> list[Path]:
    """The files under ``root`` matching the first of ``patterns`` that matches any (sorted); MissingData else."""
    for pattern in patterns:
        hits = sorted(p for p in root.glob(pattern) if p.is_file())
        if hits:
            return hits
    raise MissingData(f"no {what} under {root}: looked for {', '.join(repr(p) for p in patterns)}")


def require(row: Mapping[str, Any], keys: Iterable[str], where: str) -> None:
    """ValueError naming the row and the missing fields."""
    missing = [k for k in keys if k not in row]
    if missing:
        raise ValueError(f"{where}: no field {', '.join(repr(k) for k in missing)} (has {sorted(row)})")


def published_rows(root: Path, patterns: Sequence[str], what: str,
                   keys: Iterable[str]) -> Iterator[tuple[int, dict[str, Any], str]]:
    """(index, row, where) of every row of the files ``find_files`` finds, in order: the index counted across the
    files (lmms-eval's doc_id), ``where`` naming the file and row. ValueError for a row missing a field of ``keys``."""
    keys = tuple(keys)
    i = 0
    for path in find_files(root, patterns, what):
        for row in read_rows(path):
            where = f"{path} row {i}"
            require(row, keys, where)
            yield i, row, where
            i += 1


def percent(n: float, d: float) -> float:
    return 100.0 * n / d if d else 0.0


def accuracy_by(pairs: Sequence[tuple[Doc, float]], key: str) -> dict[str, dict[str, Any]]:
    """{group: {"accuracy": percent, "n": count}} of 0/1 scores grouped by ``doc.groups[key]``."""
    groups: dict[str, list[float]] = defaultdict(list)
    for doc, score in pairs:
        groups[str(doc.groups.get(key))].append(score)
    return {g: {"accuracy": percent(sum(v), len(v)), "n": len(v)} for g, v in sorted(groups.items())}


class PublishedBenchmark(Benchmark):
    """One published benchmark on its data root (see the module docstring)."""

    kind: ClassVar[str]  # "vqa" (eval/vqa.py) or "vtg" (eval/vtg.py)
    title: ClassVar[str]  # the paper's name for it
    lmms_task: ClassVar[str]  # the lmms-eval task (or group) that runs it
    max_new_tokens: ClassVar[int]  # the task's generation_kwargs.max_new_tokens
    headline: ClassVar[str]  # the key of the headline metric in both protocols' summaries
    max_videos_per_prompt: ClassVar[int] = 1  # videos in one question (CVBench: up to 4)
    setting_keys = ("task", "model", "backend", "fps", "max_frames", "min_pixels", "max_pixels", "max_new_tokens")
    load_error_kind = DECODE_ERROR

    def __init__(self, data_root: str | os.PathLike, *, protocol: str = "lmms_eval", decoder: str = "auto") -> None:
        self.root = Path(data_root)
        if not self.root.is_dir():
            raise MissingData(f"{self.title}: the data root {str(data_root)!r} is not a folder")
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}; choose from {list(PROTOCOLS)}")
        self.protocol = protocol
        self.decoder = decoder
        self.by_id: dict[str, Doc] = {}

    # -- what a subclass gives -------------------------------------------------------------------------------

    def read_docs(self) -> list[Doc]:  # pragma: no cover - every benchmark has one
        raise NotImplementedError

    def user_text(self, doc: Doc) -> str:  # pragma: no cover
        raise NotImplementedError

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:  # pragma: no cover
        """lmms-eval's reading of one output and its per-item score (what its result line would show)."""
        raise NotImplementedError

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:  # pragma: no cover
        """lmms-eval's aggregation over (doc, output) pairs; output None for an item that got none (an error)."""
        raise NotImplementedError

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:  # pragma: no cover
        raise NotImplementedError

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def check_doc(self, doc: Doc) -> None:
        """ValueError naming the question if its gold answer cannot be scored."""

    # -- the Benchmark interface -----------------------------------------------------------------------------

    def resolve(self, settings: EvalSettings) -> EvalSettings:
        settings = super().resolve(settings)
        return settings.replace(
            min_pixels=EVAL_MIN_PIXELS if settings.min_pixels is None else settings.min_pixels,
            max_pixels=EVAL_MAX_PIXELS if settings.max_pixels is None else settings.max_pixels,
        )

    def load_items(self, path: str | os.PathLike | None = None) -> list[Doc]:
        """The benchmark's questions from its data root (``path`` is not used: the data root says where)."""
        docs = self.read_docs()
        by_id: dict[str, Doc] = {}
        for doc in docs:
            if doc.id in by_id:
                raise ValueError(f"{self.title}: question id {doc.id!r} appears twice under {self.root}")
            by_id[doc.id] = doc
        self.by_id = by_id
        return docs

    def check_gold(self, item: Doc) -> None:
        try:
            self.check_doc(item)
        except ValueError as e:
            raise ValueError(f"{self.title} question {item.id}: {e}") from None

    def prompt(self, doc: Doc) -> tuple[str, str]:
        """(system text, user text) as lmms-eval sends them; the video goes before the user text."""
        return SYSTEM_PROMPT, self.user_text(doc)

    def asked(self, item: Doc, settings: EvalSettings) -> dict[str, Any]:
        return {"video": list(item.videos), "prompt": list(self.prompt(item))}

    def video_path(self, doc: Doc, candidates: Sequence[str] | None = None) -> Path:
        """The first of ``candidates`` (default: the doc's video paths) that exists under the data root;
        InputError naming them otherwise."""
        root = self.root.resolve()
        candidates = doc.videos if candidates is None else candidates
        for rel in candidates:
            try:
                check_video_id(rel)
            except UnsafeVideoId as e:
                raise InputError(UNSAFE_ID, str(e)) from None
            path = root / rel
            if path.is_file():
                real = path.resolve()
                if not real.is_relative_to(root):
                    raise InputError(UNSAFE_ID, f"video {rel!r} resolves outside {root} (symlink to {real})")
                return real
        tried = " or ".join(str(root / rel) for rel in candidates)
        raise InputError(MISSING_VIDEO, f"{self.title} question {doc.id}: no video file at {tried}")

    def sources(self, item: Doc, settings: EvalSettings) -> tuple[Hashable, ...]:
        return (self.video_path(item),)

    def load_source(self, source: Path, settings: EvalSettings) -> VideoFrames:
        return load_eval_video(source, fps=settings.fps, max_frames=settings.max_frames,
                               min_pixels=settings.min_pixels, max_pixels=settings.max_pixels, backend=self.decoder)

    def request(self, item: Doc, videos: Sequence[VideoFrames], settings: EvalSettings) -> Request:
        system, user = self.prompt(item)
        return Request(({"role": "system", "content": system},
                        {"role": "user", "content": VIDEO_PLACEHOLDER * len(videos) + user}), tuple(videos))

    def score(self, item: Doc, output: str) -> tuple[Any, float]:
        read = self.lmms_item if self.protocol == "lmms_eval" else self.strict_item
        return read(item, output)

    def labels(self, item: Doc) -> dict[str, Any]:
        system, user = self.prompt(item)
        return {"benchmark": self.name, "lmms_task": item.task, "doc_id": item.doc_id, "video": item.videos[0],
                "answer": item.gold, **{k: v for k, v in item.groups.items()}, "system_prompt": system,
                "prompt": user}

    def details(self, item: Doc, output: Any) -> dict[str, Any]:
        if output is None:
            return {"scores": {p: {"parsed": None, "score": 0.0} for p in PROTOCOLS}}
        out = {}
        for p, read in (("lmms_eval", self.lmms_item), ("strict", self.strict_item)):
            parsed, score = read(item, output)
            out[p] = {"parsed": parsed, "score": float(score)}
        return {"scores": out}

    def pairs(self, records: Sequence[Mapping[str, Any]]) -> list[tuple[Doc, str | None]]:
        """(doc, output or None) of result lines, in the benchmark's question order."""
        outputs = {str(r["id"]): (None if r.get("error") else r.get("raw_output")) for r in records}
        return [(d, outputs[i]) for i, d in self.by_id.items() if i in outputs]

    def summarize(self, records: Sequence[Mapping[str, Any]], settings: EvalSettings | None) -> dict[str, Any]:
        pairs = self.pairs(records)
        lmms, strict = self.lmms_summary(pairs), self.strict_summary(pairs)
        errors = Counter(r.get("error_kind") or "error" for r in records if r.get("error"))
        chosen = lmms if self.protocol == "lmms_eval" else strict
        return {
            "benchmark": self.name,
            "title": self.title,
            "lmms_task": self.lmms_task,
            "protocol": self.protocol,
            "headline": {"metric": self.headline, "value": chosen[self.headline]},
            "scores": {"lmms_eval": lmms, "strict": strict},
            "n": len(pairs),
            "n_errors": sum(errors.values()),
            "errors_by_kind": dict(sorted(errors.items())),
            "settings": None if settings is None else self.settings_json(settings),
        }

    def format(self, summary: Mapping[str, Any]) -> str:
        rows: list[tuple[str, str]] = [("benchmark", f"{summary['title']} (lmms-eval task {summary['lmms_task']})"),
                                       ("protocol", summary["protocol"])]
        s = summary.get("settings")
        if s:
            rows += [("model", s["model"]), ("backend", s["backend"]),
                     ("frames", f"fps {s['fps']:g}, at most {s['max_frames']}"),
                     ("max new tokens", str(s["max_new_tokens"]))]
        rows.append(("items", f"{summary['n']} ({summary['n_errors']} errors)"))
        lm, st = summary["scores"]["lmms_eval"], summary["scores"]["strict"]
        metrics = [k for k, v in lm.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        rows.append(("metric", "lmms_eval | strict"))
        for k in metrics:
            other = st.get(k)
            right = f"{other:.2f}" if isinstance(other, (int, float)) else "-"
            rows.append((f"{k}{' *' if k == self.headline else ''}", f"{lm[k]:.2f} | {right}"))
        for name, groups in (lm.get("breakdown") or {}).items():
            strict_groups = (st.get("breakdown") or {}).get(name, {})
            for g, v in groups.items():
                sv = strict_groups.get(g, {})
                value = next(iter(x for k, x in v.items() if k != "n"))
                svalue = next(iter(x for k, x in sv.items() if k != "n"), None)
                right = f"{svalue:.2f}" if svalue is not None else "-"
                rows.append((f"  [{name}] {g}", f"{value:.2f} | {right}  (n={v['n']})"))
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def strict_accuracy(pairs: Sequence[tuple[Doc, str | None]], item: Callable[[Doc, str], tuple[Any, float]],
                    group_keys: Sequence[str] = ()) -> dict[str, Any]:
    """Accuracy in percent with every question in the denominator (errors and unreadable answers wrong)."""
    scored = [(d, 0.0 if o is None else float(item(d, o)[1])) for d, o in pairs]
    out: dict[str, Any] = {"accuracy": percent(sum(s for _, s in scored), len(scored)), "n": len(scored),
                           "n_unparsable": sum(1 for d, o in pairs if o is not None and item(d, o)[0] is None)}
    if group_keys:
        out["breakdown"] = {k: accuracy_by(scored, k) for k in group_keys}
    return out
