"""LVBench (Wang et al., 2024): multiple-choice questions on videos of about an hour and more.

Data root: the folder lmms-eval's ``lvbench`` task reads (its ``lvbench`` cache folder): the dataset repository
lmms-eval/LVBench's annotation file (parquet/JSON rows with video_path, question, answer as a letter, optionally
options and question_type) and the videos at ``<video_path>`` relative to the folder, as ``lvbench_doc_to_visual``
joins them.

Protocol source: lmms-eval 0.7.3 ``tasks/lvbench`` (``lvbench_doc_to_text`` with post_prompt "\\nAnswer the question
with the option letter" (no full stop: the yaml's default replaces the code's), max_new_tokens 16,
``extract_mcq_answer`` over A-D compared with the answer exactly, the mean over questions). Breakdown by
question_type where the rows have it (a question of several types counts in each).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.lmms import mcq_letter
from videossr.evaluation.benchmarks.published import (
    Doc,
    PublishedBenchmark,
    percent,
    published_rows,
)
from videossr.evaluation.choice import parse_options
from videossr.evaluation.metrics import score_choice

LETTERS = ("A", "B", "C", "D")
POST_PROMPT = "\nAnswer the question with the option letter"


def _types(doc: Doc) -> list[str]:
    t = doc.row.get("question_type")
    if t is None:
        return []
    return [str(x) for x in t] if isinstance(t, (list, tuple)) else [str(t)]


def _summary(scored: Sequence[tuple[Doc, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"accuracy": percent(sum(s for _, s in scored), len(scored)), "n": len(scored)}
    groups: dict[str, list[float]] = defaultdict(list)
    for d, s in scored:
        for t in _types(d):
            groups[t].append(s)
    if groups:
        out["breakdown"] = {"question_type": {g: {"accuracy": percent(sum(v), len(v)), "n": len(v)}
                                              for g, v in sorted(groups.items())}}
    return out


class LVBench(PublishedBenchmark):
    name = "lvbench"
    title = "LVBench"
    kind = "vqa"
    lmms_task = "lvbench"
    max_new_tokens = 16
    headline = "accuracy"

    def read_docs(self) -> list[Doc]:
        docs = []
        for i, row, _ in published_rows(self.root, ("**/train-*.parquet", "**/*.parquet", "**/*.jsonl"),
                                        "LVBench annotation file", ("video_path", "question", "answer")):
            qid = row.get("uid", row.get("id", i))
            docs.append(Doc(id=str(qid), row=row, task=self.lmms_task, doc_id=i, videos=(str(row["video_path"]),),
                            gold=row["answer"], groups={"question_type": row.get("question_type")}))
        return docs

    def options(self, doc: Doc) -> dict[str, str]:
        opts = doc.row.get("options") or []
        if opts:
            return {chr(ord("A") + i): str(o) for i, o in enumerate(opts)}
        return parse_options(str(doc.row["question"]))

    def user_text(self, doc: Doc) -> str:
        question = str(doc.row["question"])
        opts = doc.row.get("options") or []
        if opts:
            question += "\n" + "\n".join(f"({chr(ord('A') + i)}) {o}" for i, o in enumerate(opts))
        return question + POST_PROMPT

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        letter = mcq_letter(output, LETTERS)
        return letter, float(letter == doc.row["answer"])

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        return _summary([(d, 0.0 if o is None else self.lmms_item(d, o)[1]) for d, o in pairs])

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        options = self.options(doc)
        try:
            return score_choice(output, doc.row["answer"], options or None)
        except ValueError:  # a gold answer outside the options: nothing can be right
            return None, 0.0

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        scored = [(d, None if o is None else self.strict_item(d, o)) for d, o in pairs]
        out = _summary([(d, 0.0 if r is None else r[1]) for d, r in scored])
        out["n_unparsable"] = sum(1 for _, r in scored if r is not None and r[0] is None)
        return out
