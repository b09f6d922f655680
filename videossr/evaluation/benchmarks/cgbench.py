"""CG-Bench (Chen et al., 2024), the mini set lmms-eval runs: multiple-choice questions (up to 14 options) on long
videos.

Data root: the folder lmms-eval's ``cgbench`` task reads (its ``cg_videos_720p`` cache folder; the dataset
CG-Bench/CG-Bench is gated): the cg-bench-mini annotation (``cg-bench-mini/*.parquet`` or a file with "mini" in
its name, parquet or JSON: qid, video_uid, question, choices, right_answer, duration, domain, sub_category) and the
videos as ``<video_uid>.mp4`` in the folder, its ``cg_videos_720p/`` or its ``videos/`` (the places lmms-eval's
media resolver tries).

Protocol source: lmms-eval 0.7.3 ``tasks/cgbench`` (``cgbench_doc_to_text``: an instruction, the question, "A. ..."
option lines and post_prompt "\\nAnswer with the option letter only."; max_new_tokens 16; ``extract_mcq_answer``
over 14 letters against the upper-cased right_answer; accuracy over all questions). Breakdown by domain and
sub_category.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.lmms import mcq_letter
from videossr.evaluation.benchmarks.published import (
    Doc,
    PublishedBenchmark,
    accuracy_by,
    percent,
    published_rows,
    strict_accuracy,
)
from videossr.evaluation.metrics import score_choice

LETTERS = tuple(chr(65 + i) for i in range(14))
INSTRUCTION = "Select the best answer to the following multiple-choice question based on the video."
POST_PROMPT = "\nAnswer with the option letter only."
GROUPS = ("domain", "sub_category")


class CGBench(PublishedBenchmark):
    name = "cgbench"
    title = "CG-Bench"
    kind = "vqa"
    lmms_task = "cgbench"
    max_new_tokens = 16
    headline = "accuracy"

    def read_docs(self) -> list[Doc]:
        docs = []
        patterns = ("**/cg-bench-mini/*.parquet", "**/cg-bench-mini*.parquet", "**/cg-bench-mini*.json",
                    "**/*mini*.parquet", "**/*mini*.json", "**/*mini*.jsonl")
        for i, row, _ in published_rows(self.root, patterns, "CG-Bench mini annotation file",
                                        ("qid", "video_uid", "question", "choices", "right_answer", *GROUPS)):
            name = f"{row['video_uid']}.mp4"
            docs.append(Doc(id=str(row["qid"]), row=row, task=self.lmms_task, doc_id=i,
                            videos=(name, f"cg_videos_720p/{name}", f"videos/{name}"), gold=row["right_answer"],
                            groups={k: row[k] for k in GROUPS}))
        return docs

    def options(self, doc: Doc) -> dict[str, str]:
        return {chr(65 + i): str(c) for i, c in enumerate(doc.row["choices"])}

    def check_doc(self, doc: Doc) -> None:
        if str(doc.row["right_answer"]).strip().upper() not in self.options(doc):
            raise ValueError(f"right_answer {doc.row['right_answer']!r} is not one of the option letters")

    def user_text(self, doc: Doc) -> str:
        lines = "\n".join(f"{k}. {v}" for k, v in self.options(doc).items())
        return f"{INSTRUCTION}\n{doc.row['question']}\n{lines}{POST_PROMPT}"

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        letter = mcq_letter(output or "", LETTERS)
        return letter, float(letter == str(doc.row["right_answer"]).strip().upper())

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        scored = [(d, 0.0 if o is None else self.lmms_item(d, o)[1]) for d, o in pairs]
        return {"accuracy": percent(sum(s for _, s in scored), len(scored)), "n": len(scored),
                "breakdown": {k: accuracy_by(scored, k) for k in GROUPS}}

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        return score_choice(output, str(doc.row["right_answer"]).strip().upper(), self.options(doc))

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        return strict_accuracy(pairs, self.strict_item, GROUPS)
