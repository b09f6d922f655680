"""CVBench (Zhu et al., 2025, "CVBench: Evaluating Cross-Video Synergies for Complex Multimodal Understanding and
Reasoning"): 1,000 questions, each about two to four videos at once, in 15 task types.

Not lmms-eval 0.7.3's ``cv_bench`` (an unrelated image benchmark). Release: the dataset repository Dongyh35/CVBench
(``data/test-*.parquet``, split test: id, task_type, video_1..video_4 (paths relative to the video folder, the unused
ones null), question, options (``"A. text"`` lines, or ``"Yes."`` / ``"No."``), answer (a letter, or ``Yes`` / ``No``)),
the same rows as ``CVBench.json`` in the authors' repository (github.com/Hokhim2/CVBench), and the videos.

Data root: the annotation file (``data/test-*.parquet``, else ``CVBench.json``) and the videos at each ``video_k``
relative to the folder (as the authors' lmms-eval task reads them from its cache folder) or under ``CVBench/``.

Protocol (``lmms_eval``, a benchmark lmms-eval 0.7.3 lacks: the official code's prompt and metric): the authors'
lmms-eval task ``mvr`` (github.com/Hokhim2/CVBench ``lmms-eval/lmms_eval/tasks/mvr``, at f8dc8f7): the videos in
order, then ``mvr_doc_to_text`` with the yaml's ``default`` kwargs (an instruction for yes/no or multiple choice,
the question, the option lines, then the yaml's ``post_prompt1`` / ``post_prompt2``), 16 new tokens, and
``extract_characters_regex`` + ``mvr_process_results`` + ``mvr_aggregate_results``: a few answer phrases removed,
the first A-D letter or "yes" / "no" in any case (nothing when the answer is longer than ten words and has none of
the capitals A-E, N, O, S, Y), upper-cased and compared with the upper-cased gold; accuracy over all questions in
percent, and per task type. A question counts as yes/no only when every option, stripped of full stops, is "yes"
or "no": seven published questions have ``"Yes. "`` options (a trailing space) and are asked as multiple choice,
as the authors' code asks them. The system prompt is the one lmms-eval's Qwen3-VL class sends.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Any

from videossr.evaluation.benchmarks.published import (
    Doc,
    PublishedBenchmark,
    published_rows,
    strict_accuracy,
)
from videossr.evaluation.choice import options_from_list, strict_yes_no
from videossr.evaluation.metrics import score_choice
from videossr.evaluation.settings import EvalSettings

VIDEO_FIELDS = ("video_1", "video_2", "video_3", "video_4")
YES_NO_INSTRUCTION = ("Select the best answer to the following yes-no question based on the listed all videos. "
                      "Respond with only the word (Yes or No) of the correct option.")
CHOICE_INSTRUCTION = ("Select the best answer to the following multiple-choice based on the listed all videos. "
                      "Respond with only the letter (A, B, C, or D) of the correct option.")
POST_PROMPT_CHOICE = "Answer with the option's letter (A, B, C, or D) from the given choices directly."
POST_PROMPT_YES_NO = "Answer with the option's word (YES or NO) from the given choices directly."
_PHRASES = ("The best answer is", "The correct answer is", "The answer is", "The answer", "The best option is",
            "The correct option is", "Best answer:", "Best option:")
_ANSWER = re.compile(r"(?i)([ABCD]|YES|NO)")
_ANY_ANSWER_CHAR = re.compile(r"[ABCDYESNO]")


def mvr_answer(response: str) -> str:
    """The authors' ``extract_characters_regex`` then ``.strip().upper()``: "A".."D", "YES", "NO" or ""."""
    s = response.strip()
    for phrase in _PHRASES:
        s = s.replace(phrase, "")
    if len(s.split()) > 10 and not _ANY_ANSWER_CHAR.search(s):
        return ""
    m = _ANSWER.search(s)
    return "" if m is None else m.group(0).strip().upper()


def is_yes_no(options: Sequence[str]) -> bool:
    """The authors' test: every option, stripped of full stops at its ends, is "yes" or "no" in any case."""
    return all(str(o).strip(".").lower() in ("yes", "no") for o in options)


class CVBench(PublishedBenchmark):
    name = "cvbench"
    title = "CVBench"
    kind = "vqa"
    lmms_task = "(none: the authors' lmms-eval task mvr)"
    max_new_tokens = 16
    headline = "accuracy"
    max_videos_per_prompt = len(VIDEO_FIELDS)

    def read_docs(self) -> list[Doc]:
        docs = []
        patterns = ("data/test-*.parquet", "**/test-*.parquet", "CVBench.json", "**/CVBench.json")
        for i, row, where in published_rows(self.root, patterns, "CVBench annotation file",
                                            ("id", "task_type", *VIDEO_FIELDS, "question", "options", "answer")):
            videos = tuple(str(row[k]) for k in VIDEO_FIELDS if row[k] is not None)
            if not videos:
                raise ValueError(f"{where}: no video (video_1..video_4 are all null)")
            docs.append(Doc(id=str(row["id"]), row=row, task="mvr", doc_id=i, videos=videos, gold=row["answer"],
                            groups={"task_type": row["task_type"]}))
        return docs

    def check_doc(self, doc: Doc) -> None:
        gold = str(doc.row["answer"]).strip().upper()
        if gold not in ("A", "B", "C", "D", "YES", "NO"):
            raise ValueError(f"answer must be A-D, Yes or No, got {doc.row['answer']!r}")
        options = doc.row["options"]
        if not isinstance(options, (list, tuple)) or not options:
            raise ValueError(f"options must be a non-empty list, got {options!r}")

    def sources(self, item: Doc, settings: EvalSettings) -> tuple[Hashable, ...]:
        return tuple(self.video_path(item, (rel, f"CVBench/{rel}")) for rel in item.videos)

    def user_text(self, doc: Doc) -> str:
        options = "\n".join(str(o) for o in doc.row["options"])
        if is_yes_no(doc.row["options"]):
            instruction, post = YES_NO_INSTRUCTION, POST_PROMPT_YES_NO
        else:
            instruction, post = CHOICE_INSTRUCTION, POST_PROMPT_CHOICE
        return f"{instruction}\n{doc.row['question']}\n{options}\n{post}"

    def labels(self, item: Doc) -> dict[str, Any]:
        return {**super().labels(item), "videos": list(item.videos)}

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        read = mvr_answer(output)
        return (read or None), float(read == str(doc.row["answer"]).strip().upper())

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        out = strict_accuracy(pairs, self.lmms_item, ("task_type",))
        out["n_unread"] = out.pop("n_unparsable")
        return out

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        gold = str(doc.row["answer"]).strip()
        if gold.lower() in ("yes", "no"):
            said = strict_yes_no(output)
            return said, float(said == gold.lower())
        options = options_from_list([str(o) for o in doc.row["options"]])
        if gold.upper() not in options:  # options not one per line (one published question): letters only
            options = None
        return score_choice(output, gold.upper(), options)

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        return strict_accuracy(pairs, self.strict_item, ("task_type",))
