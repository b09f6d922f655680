"""AoTBench (Xue et al., 2025, "Seeing the Arrow of Time in Large Multimodal Models"): does a model see which way
time flows? Five question files: sequence direction (ReverseFilm, UCF101), directional caption matching (RTime
text-to-video and video-to-text) and arrow-of-time-sensitive QA.

lmms-eval does not have it. Release (the dataset repository sherryxzh/AoTBench, read by the authors' code at
github.com/zihuixue/seeAoT): JSON question lists ``data_files/input/<subset>.json``, each question with ``qa_idx``,
``video_name`` (relative to the data folder), ``question`` (the whole text sent, options and instruction included)
and ``ans`` (the answer letter). The fields are those the official code reads; no record of the files themselves
could be seen from here.

Data root: the folder the official code calls ``data`` (``--video_path ./data``): ``data_files/input/<subset>.json``
for the five subsets in ``SUBSETS`` (all required) and the videos at each question's ``video_name``.

Protocol (``lmms_eval``, for a benchmark lmms-eval lacks: the official code's prompt and metric; seeAoT
``eval/run_qwen25.py`` and ``eval/read_qa.py`` at 366b5b4): the question text as the whole user text, greedy, at most
1024 new tokens (its ``max_new_tokens``); the answer is right when its first character equals ``ans`` (case
sensitive). The official reader reports one accuracy per subset; it fails on an empty answer, which is wrong here.
Its Qwen2.5-VL run sends no system text of its own (the chat template's default "You are a helpful assistant." is
what that model gets), so the published benchmarks' system prompt is kept. Its 16-frame default is a frame setting
here (``--max-frames``). Headline: the unweighted mean of the five subset accuracies (this project's summary: the
paper reports AoTBench as one figure without saying how the subsets are combined); the accuracy over all questions
and each subset's are beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.published import (
    Doc,
    PublishedBenchmark,
    accuracy_by,
    find_files,
    percent,
    read_rows,
    require,
)
from videossr.evaluation.choice import parse_options
from videossr.evaluation.metrics import score_choice

# The question files the official scripts/eval.sh evaluates, in its order.
SUBSETS = ("ReverseFilm", "UCF101", "Rtime_t2v", "Rtime_v2t", "AoTBench_QA")


def _subset_summary(scored: Sequence[tuple[Doc, float]]) -> dict[str, Any]:
    subsets = accuracy_by(scored, "subset")
    return {"average": sum(v["accuracy"] for v in subsets.values()) / len(subsets) if subsets else 0.0,
            "accuracy": percent(sum(s for _, s in scored), len(scored)), "n": len(scored),
            "breakdown": {"subset": {s: subsets[s] for s in SUBSETS if s in subsets}}}


class AoTBench(PublishedBenchmark):
    name = "aotbench"
    title = "AoTBench"
    kind = "vqa"
    lmms_task = "(none: the official seeAoT evaluation)"
    max_new_tokens = 1024
    headline = "average"

    def read_docs(self) -> list[Doc]:
        docs: list[Doc] = []
        for subset in SUBSETS:
            path = find_files(self.root, (f"data_files/input/{subset}.json", f"**/input/{subset}.json"),
                              f"AoTBench {subset} question file")[0]
            for i, row in enumerate(read_rows(path)):
                require(row, ("qa_idx", "video_name", "question", "ans"), f"{path} row {i}")
                docs.append(Doc(id=f"{subset}/{row['qa_idx']}", row=row, task=subset, doc_id=i,
                                videos=(str(row["video_name"]),), gold=row["ans"], groups={"subset": subset}))
        return docs

    def check_doc(self, doc: Doc) -> None:
        ans = doc.row["ans"]
        if not (isinstance(ans, str) and len(ans) == 1):
            raise ValueError(f"ans must be one character (the official reader compares it with the answer's first "
                             f"character), got {ans!r}")

    def user_text(self, doc: Doc) -> str:
        return str(doc.row["question"])

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        first = output[:1]
        return (first or None), float(first == doc.row["ans"])

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        out = _subset_summary([(d, 0.0 if o is None else self.lmms_item(d, o)[1]) for d, o in pairs])
        out["n_empty"] = sum(1 for _, o in pairs if o == "")
        return out

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        try:
            return score_choice(output, doc.row["ans"], parse_options(str(doc.row["question"])) or None)
        except ValueError:  # a gold letter the question's options do not have: nothing can be right
            return None, 0.0

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        scored = [(d, None if o is None else self.strict_item(d, o)) for d, o in pairs]
        out = _subset_summary([(d, 0.0 if r is None else r[1]) for d, r in scored])
        out["n_unparsable"] = sum(1 for _, r in scored if r is not None and r[0] is None)
        return out
