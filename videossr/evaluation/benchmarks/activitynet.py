"""ActivityNet Captions (Krishna et al., 2017) as released, used for temporal grounding: every sentence of a video's
paragraph is a query, to be found in the video.

lmms-eval has this benchmark only as TimeLens' re-annotation (``activitynet_timelens``, kept apart). The release
(cs.stanford.edu/people/ranjaykrishna/densevid) is ``val_1.json`` / ``val_2.json``: ``{video_id: {"duration": s,
"timestamps": [[start, end], ...] in seconds, "sentences": [...]}}``. Its authors published no grounding scorer;
the grounding protocol comes from later work, which this follows: ``val_2.json`` is the test split (2D-TAN renames
val_1 to val and val_2 to test; VTimeLLM's evaluation reads val_2), a query whose start is not before its end is
left out and its interval is clipped to [0, duration] (2D-TAN's loader; one that clipping empties is left out
too), and the metrics are R1@0.3/0.5/0.7 and mIoU
in percent over every query (VTimeLLM's ``grounding_metrics``, 2D-TAN's evaluation).

Data root: ``val_2.json`` (anywhere under it) and the videos as ``<video_id>.mp4`` (``.mkv``, ``.webm``: VTimeLLM's
lookup) in the folder or under ``videos/``; the ids keep their ``v_`` prefix.

Protocol (``lmms_eval``; no official grounding code exists): lmms-eval's TimeLens ActivityNet prompt, answer length
(50) and reading of the answer (the first pair of times, a reversed pair not swapped), scored by the common metric
above against the query's one interval. Headline: mIoU (the paper's grounding figure). ``strict``: the project's
interval reader, the same metric.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from videossr.evaluation.benchmarks.charades import IntervalGrounding, grounding_metrics
from videossr.evaluation.benchmarks.lmms import interval_iou, timelens_times
from videossr.evaluation.benchmarks.published import Doc, find_files
from videossr.evaluation.benchmarks.timelens import POST_PROMPT, PRE_PROMPT

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def pair(value: Any, where: str) -> tuple[float, float]:
    """A [start, end] pair of finite numbers; ValueError naming ``where`` otherwise."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{where}: expected [start, end], got {value!r}")
    return _number(value[0], where), _number(value[1], where)


def read_paragraphs(path: Path) -> dict[str, Mapping[str, Any]]:
    """A release file: an object of videos, each with ``timestamps`` and ``sentences`` lists of the same length."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object {{video: {{timestamps, sentences, ...}}}}, got a "
                         f"{type(data).__name__}")
    for vid, anno in data.items():
        if not isinstance(anno, dict) or "timestamps" not in anno or "sentences" not in anno:
            raise ValueError(f"{path}: video {vid!r} has no 'timestamps' and 'sentences'")
        if len(anno["timestamps"]) != len(anno["sentences"]):
            raise ValueError(f"{path}: video {vid!r} has {len(anno['timestamps'])} timestamps and "
                             f"{len(anno['sentences'])} sentences")
    return data


def clipped(start: float, end: float, duration: float) -> tuple[float, float] | None:
    """2D-TAN's gold interval: kept only when start < end, then clipped to [0, duration] (None: left out; also
    when clipping empties it, which 2D-TAN would keep as a reversed interval)."""
    if not start < end:
        return None
    lo, hi = max(start, 0.0), min(end, duration)
    return (lo, hi) if lo < hi else None


class CaptionGrounding(IntervalGrounding):
    """A paragraph release read as grounding queries, asked with lmms-eval's TimeLens prompt and scored by the common
    protocol (R1@0.3/0.5/0.7, mIoU over every query). A subclass gives ``files`` and ``queries``."""

    kind = "vtg"
    max_new_tokens = 50
    headline = "miou"
    files: tuple[str, ...]
    what: str

    def queries(self, vid: str, anno: Mapping[str, Any], where: str) -> list[tuple[int, str, float, float]]:
        """(sentence index, sentence, start s, end s) of the video's queries that count."""
        raise NotImplementedError  # pragma: no cover

    def video_candidates(self, vid: str) -> tuple[str, ...]:
        raise NotImplementedError  # pragma: no cover

    def read_docs(self) -> list[Doc]:
        docs: list[Doc] = []
        path = find_files(self.root, self.files, self.what)[0]
        n_sentences = 0
        for vid, anno in read_paragraphs(path).items():
            n_sentences += len(anno["sentences"])
            for k, sentence, start, end in self.queries(vid, anno, f"{path} video {vid!r}"):
                docs.append(Doc(id=f"{vid}#{k}", row={"video": vid, "sentence": sentence, "sentence_index": k},
                                task=self.name, doc_id=len(docs), videos=self.video_candidates(vid),
                                gold=[start, end]))
        if n_sentences > len(docs):
            logger.info("%s: %d of %d sentences left out (start not before end)", self.title,
                        n_sentences - len(docs), n_sentences)
        return docs

    @staticmethod
    def gold(doc: Doc) -> tuple[float, float]:
        return float(doc.gold[0]), float(doc.gold[1])

    def user_text(self, doc: Doc) -> str:
        return f"{PRE_PROMPT}{doc.row['sentence']}{POST_PROMPT}"

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        spans = timelens_times(output)
        if not spans:
            return None, 0.0
        return list(spans[0]), interval_iou(self.gold(doc), spans[0])

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        scored = [(None, 0.0) if o is None else self.lmms_item(d, o) for d, o in pairs]
        out = grounding_metrics([s for _, s in scored])
        out["n_unread"] = sum(1 for (_, o), (p, _) in zip(pairs, scored) if o is not None and p is None)
        return out


class ActivityNetCaptions(CaptionGrounding):
    name = "activitynet"
    title = "ActivityNet Captions"
    lmms_task = "(none: the common grounding protocol on the release's val_2)"
    files = ("val_2.json", "**/val_2.json")
    what = "ActivityNet Captions val_2.json"

    def queries(self, vid: str, anno: Mapping[str, Any], where: str) -> list[tuple[int, str, float, float]]:
        duration = _number(anno.get("duration"), f"{where} duration")
        out = []
        for k, (ts, sentence) in enumerate(zip(anno["timestamps"], anno["sentences"])):
            start, end = pair(ts, f"{where} timestamps[{k}]")
            iv = clipped(start, end, duration)
            if iv is not None:
                out.append((k, str(sentence), *iv))
        return out

    def video_candidates(self, vid: str) -> tuple[str, ...]:
        return tuple(f"{folder}{vid}{ext}" for folder in ("", "videos/") for ext in VIDEO_EXTENSIONS)
