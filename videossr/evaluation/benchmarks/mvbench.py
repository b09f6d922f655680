"""MVBench (Li et al., 2024): 20 subtasks of 200 multiple-choice questions on short videos.

Data root: the folder lmms-eval's ``mvbench`` tasks read (its ``mvbench_video`` cache folder), holding the annotation
files of the dataset repository OpenGVLab/MVBench (``json/<subtask>.json``: video, question, candidates, answer as
the text of the right candidate) and the videos under each subtask's source folder (``star/Charades_segment/``,
``clevrer/video_validation/``, ...; ``SOURCE_FOLDERS``), as lmms-eval's ``mvbench_doc_to_visual`` looks for them.

Protocol source: lmms-eval 0.7.3 ``tasks/mvbench`` (``mvbench_doc_to_text``, post_prompt "Only give the best
option.\\n", max_new_tokens 16, ``mcq_acc`` and ``mvbench_aggregate_results``). lmms-eval reports one accuracy per
subtask, each over the answers that are not empty (an empty output leaves the denominator); the headline here is the
unweighted mean of the subtask accuracies, as MVBench's leaderboard averages them.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.lmms import mvbench_answer
from videossr.evaluation.benchmarks.published import (
    Doc,
    PublishedBenchmark,
    find_files,
    percent,
    read_rows,
    require,
    strict_accuracy,
)
from videossr.evaluation.metrics import score_choice

# Subtask -> the folder its videos are in, relative to the data root (lmms-eval's DATA_LIST), in the group's order.
SOURCE_FOLDERS = {
    "action_sequence": "star/Charades_segment",
    "moving_count": "clevrer/video_validation",
    "action_prediction": "star/Charades_segment",
    "episodic_reasoning": "tvqa/video_fps3_hq_segment",
    "action_antonym": "ssv2_video_mp4",
    "action_count": "perception/videos",
    "scene_transition": "scene_qa/video",
    "object_shuffle": "perception/videos",
    "object_existence": "clevrer/video_validation",
    "fine_grained_pose": "nturgbd_convert",
    "unexpected_action": "FunQA_test/test",
    "moving_direction": "clevrer/video_validation",
    "state_change": "perception/videos",
    "object_interaction": "star/Charades_segment",
    "character_order": "perception/videos",
    "action_localization": "sta/sta_video_segment",
    "counterfactual_inference": "clevrer/video_validation",
    "fine_grained_action": "Moments_in_Time_Raw/videos",
    "moving_attribute": "clevrer/video_validation",
    "egocentric_navigation": "vlnqa",
}
POST_PROMPT = "Only give the best option.\n"


class MVBench(PublishedBenchmark):
    name = "mvbench"
    title = "MVBench"
    kind = "vqa"
    lmms_task = "mvbench"
    max_new_tokens = 16
    headline = "average"

    def read_docs(self) -> list[Doc]:
        docs: list[Doc] = []
        for sub, folder in SOURCE_FOLDERS.items():
            path = find_files(self.root, (f"json/{sub}.json", f"**/{sub}.json"), f"MVBench {sub} annotation file")[0]
            for i, row in enumerate(read_rows(path)):
                require(row, ("video", "question", "candidates", "answer"), f"{path} row {i}")
                docs.append(Doc(id=f"{sub}_{i}", row=row, task=f"mvbench_{sub}", doc_id=i,
                                videos=(f"{folder}/{row['video']}",), gold=row["answer"], groups={"subtask": sub}))
        return docs

    @staticmethod
    def gold_letter(doc: Doc) -> str | None:
        """The letter of the first candidate equal to the answer text (None if none is)."""
        for i, cand in enumerate(doc.row["candidates"]):
            if cand == doc.row["answer"]:
                return string.ascii_uppercase[i]
        return None

    def check_doc(self, doc: Doc) -> None:
        if self.gold_letter(doc) is None:
            raise ValueError(f"the answer {doc.row['answer']!r} is none of the candidates {doc.row['candidates']!r}")

    def user_text(self, doc: Doc) -> str:
        lines = "".join(f"({string.ascii_uppercase[i]}) {c}\n" for i, c in enumerate(doc.row["candidates"]))
        return f"Question:{doc.row['question']}\nOption:\n{lines}{POST_PROMPT}"

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        read = mvbench_answer(output)
        return read, float(read == mvbench_answer(self.gold_letter(doc) or ""))

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        per: dict[str, list[float]] = {}
        answered: dict[str, int] = {}
        n: dict[str, int] = {}
        for doc, out in pairs:
            sub = doc.groups["subtask"]
            n[sub] = n.get(sub, 0) + 1
            per.setdefault(sub, [])
            if out == "":
                continue  # lmms-eval: an empty answer is not counted at all
            answered[sub] = answered.get(sub, 0) + 1
            per[sub].append(0.0 if out is None else self.lmms_item(doc, out)[1])
        subs = {s: {"accuracy": percent(sum(v), len(v)), "n": n[s], "n_answered": len(v)}
                for s, v in per.items()}
        return {"average": sum(v["accuracy"] for v in subs.values()) / len(subs) if subs else 0.0,
                "accuracy": percent(sum(sum(v) for v in per.values()), sum(answered.values())),
                "n_empty": sum(n.values()) - sum(answered.values()),
                "breakdown": {"subtask": subs}}

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        options = {string.ascii_uppercase[i]: c for i, c in enumerate(doc.row["candidates"])}
        return score_choice(output, self.gold_letter(doc), options)

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        out = strict_accuracy(pairs, self.strict_item, ("subtask",))
        subs = out["breakdown"]["subtask"]
        out["average"] = sum(v["accuracy"] for v in subs.values()) / len(subs) if subs else 0.0
        return out
