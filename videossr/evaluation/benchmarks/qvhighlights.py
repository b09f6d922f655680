"""QVHighlights (Lei et al., 2021) as released: moment retrieval on its validation split, several windows per query.

lmms-eval does not run this release (only TimeLens' re-annotation, ``qvhighlights_timelens``). Release format
(github.com/jayleicn/moment_detr, data/README.md): JSON lines with qid, query, duration, vid
(``<youtube_id>_<start>_<end>``) and relevant_windows (a list of [start, end] seconds); the test split has no windows,
so the validation split is what can be scored here.

Data root: ``highlight_val_release.jsonl`` (anywhere under it) and the videos as ``videos/<vid>.mp4`` (or
``<vid>.mp4`` in the folder).

Protocol (``lmms_eval``, for a benchmark lmms-eval lacks: the official code's metric, with lmms-eval's prompt for
this data): the user text of lmms-eval's TimeLens QVHighlights task, its answer length (50) and its reading of the
answer (the first pair of times); scored as the official ``standalone_eval/eval.py`` scores moment retrieval,
``compute_mr_r1``: the predicted window against the ground-truth window it overlaps most, R1@0.5 and R1@0.7 (the
release's headline: R1@0.5) in percent; R1@0.3 and the mean of that best IoU (mIoU) beside them. The official
mAP needs ranked, scored windows, which a one-answer model does not give; it is not computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.lmms import interval_iou, timelens_times
from videossr.evaluation.benchmarks.published import Doc, PublishedBenchmark, percent, published_rows
from videossr.evaluation.benchmarks.timelens import POST_PROMPT, PRE_PROMPT
from videossr.tasks.answers import parse_interval

THRESHOLDS = (0.3, 0.5, 0.7)


def best_iou(pred: Sequence[float], windows: Sequence[Sequence[float]]) -> float:
    """The IoU of ``pred`` with the window it overlaps most (0 for a reversed or empty prediction)."""
    if not pred[1] > pred[0]:
        return 0.0
    return max((interval_iou((float(w[0]), float(w[1])), pred) for w in windows), default=0.0)


def moment_metrics(ious: Sequence[float]) -> dict[str, Any]:
    n = len(ious)
    out: dict[str, Any] = {f"r1@{t}": percent(sum(1 for v in ious if v >= t), n) for t in THRESHOLDS}
    out["miou"] = percent(sum(ious), n)
    out["n"] = n
    return out


class QVHighlights(PublishedBenchmark):
    name = "qvhighlights"
    title = "QVHighlights"
    kind = "vtg"
    lmms_task = "(none: the official moment_detr evaluation)"
    max_new_tokens = 50
    headline = "r1@0.5"

    def read_docs(self) -> list[Doc]:
        docs = []
        for i, row, _ in published_rows(self.root,
                                        ("highlight_val_release.jsonl", "**/highlight_val_release.jsonl"),
                                        "QVHighlights validation annotation file",
                                        ("qid", "query", "vid", "relevant_windows")):
            vid = str(row["vid"])
            docs.append(Doc(id=str(row["qid"]), row=row, task="qvhighlights", doc_id=i,
                            videos=(f"videos/{vid}.mp4", f"{vid}.mp4"), gold=row["relevant_windows"]))
        return docs

    def check_doc(self, doc: Doc) -> None:
        w = doc.row["relevant_windows"]
        ok = isinstance(w, list) and w and all(isinstance(x, list) and len(x) == 2 and all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in x) and x[1] > x[0] for x in w)
        if not ok:
            raise ValueError(f"relevant_windows must be [start, end] windows with end > start, got {w!r}")

    def user_text(self, doc: Doc) -> str:
        return f"{PRE_PROMPT}{doc.row['query']}{POST_PROMPT}"

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        spans = timelens_times(output)
        if not spans:
            return None, 0.0
        return list(spans[0]), best_iou(spans[0], doc.row["relevant_windows"])

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        return moment_metrics([0.0 if o is None else self.lmms_item(d, o)[1] for d, o in pairs])

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        iv = parse_interval(output)
        if iv is None:
            return None, 0.0
        return [float(iv[0]), float(iv[1])], best_iou(iv, doc.row["relevant_windows"])

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        scored = [(None, 0.0) if o is None else self.strict_item(d, o) for d, o in pairs]
        out = moment_metrics([s for _, s in scored])
        out["n_unparsed"] = sum(1 for p, _ in scored if p is None)
        return out
