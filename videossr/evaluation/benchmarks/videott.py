"""Video-TT (Zhang et al., 2025): multiple-choice questions on videos that test "thinking" beyond perception.

Data root: the folder lmms-eval's ``videott_single_mc`` task reads (its ``video-tt`` cache folder): the test
annotation of the dataset repository lmms-eval/video-tt (parquet: video_id, question, question_prompt (the options),
answer as a letter, capability) and the videos as ``Benchmark-AllVideos-LQ/<video_id>.mp4`` (``.MP4`` or ``.mkv``
also found, as ``videott_doc_to_visual`` does).

Protocol source: lmms-eval 0.7.3 ``tasks/video-tt/videott_single_mc.yaml`` (``videott_doc_to_text`` with the empty
pre_prompt and post_prompt of its ``default`` kwargs, so the text starts and ends with a newline; max_new_tokens 16;
``extract_characters_regex``: the first capital A-E after a few answer phrases are removed, nothing guessed;
``videott_aggregate_results``: correct over all questions). Breakdown by capability.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.lmms import prefixed_letter
from videossr.evaluation.benchmarks.published import (
    Doc,
    PublishedBenchmark,
    accuracy_by,
    percent,
    published_rows,
    strict_accuracy,
)
from videossr.evaluation.choice import parse_options
from videossr.evaluation.metrics import score_choice


class VideoTT(PublishedBenchmark):
    name = "videott"
    title = "Video-TT"
    kind = "vqa"
    lmms_task = "videott_single_mc"
    max_new_tokens = 16
    headline = "accuracy"

    def read_docs(self) -> list[Doc]:
        docs = []
        for i, row, _ in published_rows(self.root, ("**/test-*.parquet", "**/test*.json", "**/test*.jsonl"),
                                        "Video-TT test annotation file",
                                        ("video_id", "question", "question_prompt", "answer", "capability")):
            vid = str(row["video_id"])
            base = f"Benchmark-AllVideos-LQ/{vid}"
            docs.append(Doc(id=str(row.get("qid", i)), row=row, task=self.lmms_task, doc_id=i,
                            videos=(f"{base}.mp4", f"{base}.MP4", f"{base}.mkv"), gold=row["answer"],
                            groups={"capability": row["capability"]}))
        return docs

    def user_text(self, doc: Doc) -> str:
        return f"\n{doc.row['question']}\n{doc.row['question_prompt']}\n"

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        letter = prefixed_letter(output)
        return letter, float(letter == doc.row["answer"])

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        scored = [(d, 0.0 if o is None else self.lmms_item(d, o)[1]) for d, o in pairs]
        return {"accuracy": percent(sum(s for _, s in scored), len(scored)), "n": len(scored),
                "breakdown": {"capability": accuracy_by(scored, "capability")}}

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        try:
            return score_choice(output, doc.row["answer"], parse_options(str(doc.row["question_prompt"])) or None)
        except ValueError:
            return None, 0.0

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        return strict_accuracy(pairs, self.strict_item, ("capability",))
