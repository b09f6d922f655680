"""QVHighlights and ActivityNet Captions as TimeLens re-annotated them: the grounding splits lmms-eval 0.7.3 has.

lmms-eval has these two benchmarks only as splits of the TimeLens dataset (kcz358/timelens, tasks
``timelens_qvhighlights`` and ``timelens_activitynet``); the original releases (QVHighlights' several windows per
query, ActivityNet Captions' paragraphs) are other benchmarks, not read here.

Data root: the folder lmms-eval's timelens tasks read (its ``timelens`` cache folder): the split's annotation file of
the dataset repository (``<split>*.parquet`` / JSON: video_path, query, span as a list of [start, end] windows) and
the videos at ``<video_path>`` relative to the folder.

Protocol source: lmms-eval 0.7.3 ``tasks/timelens`` (pre_prompt "Please find the visual event described by the
sentence '", the query, post_prompt "', determining its starting and ending times. The format should be: 'The event
happens in <start time> - <end time> seconds'."; max_new_tokens 50; ``extract_time``, ``iou`` and
``_timelens_compute_metrics``): the first pair read is scored against the first window, a reversed pair is not
swapped (it overlaps nothing), results are keyed ``video_path>>>query>>>span`` (repeated keys count once, the later
answer), R@0.3/0.5/0.7 and mIoU in percent; the headline is mIoU.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.charades import IntervalGrounding, grounding_metrics
from videossr.evaluation.benchmarks.lmms import interval_iou, timelens_times
from videossr.evaluation.benchmarks.published import Doc, published_rows

PRE_PROMPT = "Please find the visual event described by the sentence '"
POST_PROMPT = ("', determining its starting and ending times. The format should be: 'The event happens in "
               "<start time> - <end time> seconds'.")


class _TimeLens(IntervalGrounding):
    kind = "vtg"
    max_new_tokens = 50
    headline = "miou"
    split: str

    def read_docs(self) -> list[Doc]:
        docs = []
        patterns = (f"**/{self.split}-*.parquet", f"**/{self.split}*.parquet", f"**/{self.split}*.json",
                    f"**/{self.split}*.jsonl")
        for i, row, _ in published_rows(self.root, patterns, f"TimeLens {self.split} annotation file",
                                        ("video_path", "query", "span")):
            docs.append(Doc(id=str(row.get("id", i)), row=row, task=self.lmms_task, doc_id=i,
                            videos=(str(row["video_path"]),), gold=row["span"]))
        return docs

    @staticmethod
    def gold(doc: Doc) -> tuple[float, float]:
        first = doc.row["span"][0]
        return float(first[0]), float(first[1])

    def check_doc(self, doc: Doc) -> None:
        span = doc.row["span"]
        ok = isinstance(span, (list, tuple)) and span and all(
            isinstance(w, (list, tuple)) and len(w) == 2 and all(
                isinstance(x, (int, float)) and math.isfinite(x) for x in w) for w in span)
        if not ok:
            raise ValueError(f"span must be a list of [start, end] windows, got {span!r}")

    def user_text(self, doc: Doc) -> str:
        return f"{PRE_PROMPT}{doc.row['query']}{POST_PROMPT}"

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        spans = timelens_times(output)
        if not spans:
            return None, 0.0
        return list(spans[0]), interval_iou(spans[0], self.gold(doc))

    def _key(self, doc: Doc) -> str:
        return f"{doc.row['video_path']}>>>{doc.row['query']}>>>{doc.row['span']}"

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        latest: dict[str, tuple[Doc, str | None]] = {}
        for doc, out in pairs:
            latest[self._key(doc)] = (doc, out)
        ious, dropped = [], 0
        for key, (doc, out) in latest.items():
            try:  # lmms-eval reads the gold window back from the key as JSON; a key it cannot read is left out
                json.loads(key.rsplit(">>>", 1)[-1])
            except ValueError:
                dropped += 1
                continue
            ious.append(0.0 if out is None else self.lmms_item(doc, out)[1])
        out = grounding_metrics(ious)
        out["n_collapsed"] = len(pairs) - len(latest)
        out["n_dropped"] = dropped
        return out


class QVHighlightsTimeLens(_TimeLens):
    name = "qvhighlights_timelens"
    title = "QVHighlights (TimeLens)"
    lmms_task = "timelens_qvhighlights"
    split = "qvhighlights"


class ActivityNetTimeLens(_TimeLens):
    name = "activitynet_timelens"
    title = "ActivityNet Captions (TimeLens)"
    lmms_task = "timelens_activitynet"
    split = "activitynet"
