"""Charades-STA (Gao et al., 2017): 3,720 sentences to ground in Charades videos, test split.

Data root: the folder lmms-eval's ``temporal_grounding_charades`` task reads (its ``charades_sta`` cache folder):
the dataset repository lmms-eval/charades_sta's test annotation (parquet: video, caption, timestamp as a pair of
float16 seconds) and the videos as ``Charades_v1_480/<video>``.

Protocol source: lmms-eval 0.7.3 ``tasks/charades_sta`` (``temporal_grounding_doc_to_text``: pre_prompt + caption
+ ". " + post_prompt, the pre_prompt's spelling "seonds" included; max_new_tokens 50; ``extract_time``, ``iou`` and
``_temporal_grounding_compute_metrics``): results are collected in a dict keyed ``video>>>caption>>>timestamp``, so
questions with the same key count once (the later answer), then R@0.3/0.5/0.7 and mIoU in percent over the keys.
The paper reports mIoU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.lmms import charades_times, interval_iou
from videossr.evaluation.benchmarks.published import Doc, PublishedBenchmark, published_rows
from videossr.evaluation.metrics import score_interval

PRE_PROMPT = (
    "Please find the visual event described by a sentence in the video, determining its starting and ending times. "
    "The format should be: 'The event happens in the start time - end time'. For example, The event 'person turn a "
    "light on' happens in the 24.3 - 30.4 seonds. Now I will give you the textual sentence: "
)
POST_PROMPT = "Please return its start time and end time."
THRESHOLDS = (0.3, 0.5, 0.7)


def grounding_metrics(ious: Sequence[float]) -> dict[str, Any]:
    """R@0.3/0.5/0.7 and mIoU in percent over ``ious``."""
    n = len(ious)
    out: dict[str, Any] = {f"r@{t}": (100.0 * sum(1 for v in ious if v >= t) / n if n else 0.0) for t in THRESHOLDS}
    out["miou"] = 100.0 * sum(ious) / n if n else 0.0
    out["n"] = n
    return out


class IntervalGrounding(PublishedBenchmark):
    """A grounding benchmark whose gold is one interval: scored strictly by the project's own interval reader
    (``metrics.score_interval``: unparsable or reversed = 0), summarised as R@0.3/0.5/0.7 and mIoU."""

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        return score_interval(output, self.gold(doc))

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        scored = [(None, 0.0) if o is None else self.strict_item(d, o) for d, o in pairs]
        out = grounding_metrics([s for _, s in scored])
        out["n_unparsed"] = sum(1 for p, _ in scored if p is None)
        return out


class CharadesSTA(IntervalGrounding):
    name = "charades"
    title = "Charades-STA"
    kind = "vtg"
    lmms_task = "temporal_grounding_charades"
    max_new_tokens = 50
    headline = "miou"

    def read_docs(self) -> list[Doc]:
        docs = []
        for i, row, _ in published_rows(self.root, ("**/test-*.parquet", "**/test*.json", "**/test*.jsonl"),
                                        "Charades-STA test annotation file", ("video", "caption", "timestamp")):
            docs.append(Doc(id=str(i), row=row, task=self.lmms_task, doc_id=i,
                            videos=(f"Charades_v1_480/{row['video']}",), gold=list(row["timestamp"])))
        return docs

    @staticmethod
    def gold(doc: Doc) -> tuple[float, float]:
        return float(doc.row["timestamp"][0]), float(doc.row["timestamp"][1])

    def check_doc(self, doc: Doc) -> None:
        ts = doc.row["timestamp"]
        if not (isinstance(ts, (list, tuple)) and len(ts) == 2 and all(
                isinstance(x, (int, float)) and math.isfinite(x) for x in ts)):
            raise ValueError(f"timestamp must be a pair of seconds, got {ts!r}")

    def user_text(self, doc: Doc) -> str:
        return f"{PRE_PROMPT}{doc.row['caption']}. {POST_PROMPT}"

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        try:
            times = charades_times(output)
        except (ValueError, IndexError):  # lmms-eval counts an answer its reader trips on as IoU 0
            return None, 0.0
        if len(times) != 1:
            return None, 0.0
        return times[0], interval_iou(self.gold(doc), times[0])

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        latest: dict[str, tuple[Doc, str | None]] = {}
        for doc, out in pairs:  # one entry per video>>>caption>>>timestamp key, the later answer kept
            latest[f"{doc.row['video']}>>>{doc.row['caption']}>>>{list(doc.row['timestamp'])}"] = (doc, out)
        ious = [0.0 if out is None else self.lmms_item(doc, out)[1] for doc, out in latest.values()]
        out = grounding_metrics(ious)
        out["n_unparsed"] = sum(1 for doc, o in latest.values() if o is None or self.lmms_item(doc, o)[0] is None)
        out["n_collapsed"] = len(pairs) - len(latest)
        return out
