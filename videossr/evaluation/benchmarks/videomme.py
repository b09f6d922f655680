"""Video-MME (Fu et al., 2024) without subtitles: 2,700 four-option questions on 900 videos of three lengths.

Data root: the folder lmms-eval's ``videomme`` task reads (its ``videomme`` cache folder): the dataset repository
lmms-eval/Video-MME's annotation file ``videomme/test-00000-of-00001.parquet`` (videoID, question_id, duration,
domain, sub_category, task_type, question, options as "A. text", answer as a letter) and the videos as
``data/<videoID>.mp4`` (``.MP4`` or ``.mkv`` also found, as lmms-eval's ``videomme_doc_to_visual`` does).

Protocol source: lmms-eval 0.7.3 ``tasks/videomme/videomme.yaml`` (task ``videomme``): for ``--model qwen3_vl`` its
kwargs select ``videomme_doc_to_text_qwen3vl`` with pre_prompt "Question: " and post_prompt "Answer with the option
letter only."; max_new_tokens 16; ``extract_mcq_answer`` over A-D; ``videomme_aggregate_results`` counts a question
right when the read letter equals the answer exactly (case counts there, not in its per-item score). Breakdowns by
duration, domain, sub_category and task_type, as Video-MME reports them.
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
from videossr.evaluation.choice import options_from_list
from videossr.evaluation.metrics import score_choice

GROUPS = ("duration", "domain", "sub_category", "task_type")
LETTERS = ("A", "B", "C", "D")


class VideoMME(PublishedBenchmark):
    name = "videomme"
    title = "Video-MME"
    kind = "vqa"
    lmms_task = "videomme"
    max_new_tokens = 16
    headline = "accuracy"

    def read_docs(self) -> list[Doc]:
        docs = []
        for i, row, _ in published_rows(self.root, ("videomme/test-*.parquet", "**/test-*.parquet"),
                                        "Video-MME annotation file",
                                        ("videoID", "question_id", "question", "options", "answer", *GROUPS)):
            vid = str(row["videoID"])
            docs.append(Doc(id=str(row["question_id"]), row=row, task=self.lmms_task, doc_id=i,
                            videos=(f"data/{vid}.mp4", f"data/{vid}.MP4", f"data/{vid}.mkv"),
                            gold=row["answer"], groups={k: row[k] for k in GROUPS}))
        return docs

    def options(self, doc: Doc) -> dict[str, str]:
        return options_from_list([str(o) for o in doc.row["options"]])

    def check_doc(self, doc: Doc) -> None:
        if doc.row["answer"] not in self.options(doc):
            raise ValueError(f"the answer {doc.row['answer']!r} is not one of the option letters")

    def user_text(self, doc: Doc) -> str:
        options = "\n".join(str(o) for o in doc.row["options"])
        return f"Question: {doc.row['question']}\nOptions:\n{options}\nAnswer with the option letter only."

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        letter = mcq_letter(output, LETTERS)
        return letter, float(letter == doc.row["answer"])

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        scored = [(d, 0.0 if o is None else self.lmms_item(d, o)[1]) for d, o in pairs]
        return {"accuracy": percent(sum(s for _, s in scored), len(scored)), "n": len(scored),
                "breakdown": {k: accuracy_by(scored, k) for k in GROUPS}}

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        return score_choice(output, doc.row["answer"], self.options(doc))

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        return strict_accuracy(pairs, self.strict_item, GROUPS)
