"""VCRBench (Sarkar et al., 2025): 365 procedural videos whose clips were shuffled; the answer is the clip order.

Data root: the folder lmms-eval's ``vcrbench`` task reads (its ``vcrbench`` cache folder, the dataset repository
pritamqu/VCRBench): the test annotation (parquet / JSON: qid, video_file, goal, ground_truth as the 0-based clip
order) and the videos at ``<video_file>`` or ``videos/<video_file>`` (lmms-eval's media resolver also tries the file
name alone, in both places).

Protocol source: lmms-eval 0.7.3 ``tasks/vcrbench`` (the official VCRBench prompt with the goal, max_new_tokens 512,
``extract_predicted_order`` and the three aggregations): ``accuracy`` (the whole order right, the paper's figure),
``step_accuracy`` (clip positions right; an order of the wrong length scores 0 at every position) and
``weighted_accuracy`` (the mean over goals of their accuracy). Breakdown by number of clips and by goal.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.lmms import vcrbench_order
from videossr.evaluation.benchmarks.published import Doc, PublishedBenchmark, percent, published_rows
from videossr.tasks.answers import parse_order

PROMPT = (
    "The given video consists of multiple short clips, each showing a different segment needed to complete the task: "
    "{goal}. \nThese clips are randomly shuffled, and your job is to arrange them in the correct order to complete "
    "the task: {goal}. \nThe clip numbers are mentioned at the beginning of each clip as Clip 1, Clip 2, and so on.\n"
    "In order to solve this task, first, you should identify the activity that is performed in each clip, and then "
    "use your reasoning and common sense to arrange these clips to successfully complete the task.\n\n"
    "The final output should be in this format:\n\nCorrect order: <mention the Clip numbers separated by a comma>\n"
)
_LABEL = re.compile(r"correct order(?:\s+is)?\s*[:：]?", re.IGNORECASE)


def strict_order(text: str, n: int) -> list[int] | None:
    """The order a "Correct order: ..." line states (all such lines agreeing), else a bare order; None otherwise.

    The integers after the label on its line must be exactly an order of 1..n ("Clip 3, Clip 1" reads as 3, 1).
    Without a label, the whole answer must be an order (``videossr.tasks.answers.parse_order``, up to 9 clips).
    """
    found = set()
    for line in text.replace("*", "").splitlines():
        m = _LABEL.search(line)
        if m:
            nums = [int(x) for x in re.findall(r"\d+", line[m.end():])]
            found.add(tuple(nums) if len(nums) == n and set(nums) == set(range(1, n + 1)) else None)
    if found:
        return list(found.pop()) if len(found) == 1 and None not in found else None
    if n <= 9:
        order = parse_order(text, n)
        return None if order is None else list(order)
    return None


class VCRBench(PublishedBenchmark):
    name = "vcrbench"
    title = "VCRBench"
    kind = "vqa"
    lmms_task = "vcrbench"
    max_new_tokens = 512
    headline = "accuracy"

    def read_docs(self) -> list[Doc]:
        docs = []
        for i, row, _ in published_rows(self.root, ("**/test-*.parquet", "**/*.parquet", "**/*.json", "**/*.jsonl"),
                                        "VCRBench annotation file", ("qid", "video_file", "goal", "ground_truth")):
            rel = str(row["video_file"])
            base = posixpath.basename(rel)
            videos = tuple(dict.fromkeys((rel, base, f"videos/{rel}", f"videos/{base}")))
            docs.append(Doc(id=str(row["qid"]), row=row, task=self.lmms_task, doc_id=i, videos=videos,
                            gold=self.target(row), groups={"goal": row["goal"],
                                                           "n_clips": len(row["ground_truth"])}))
        return docs

    @staticmethod
    def target(row: dict[str, Any]) -> list[int]:
        return [int(step) + 1 for step in row["ground_truth"]]

    def check_doc(self, doc: Doc) -> None:
        t = self.target(doc.row)
        if sorted(t) != list(range(1, len(t) + 1)):
            raise ValueError(f"ground_truth {doc.row['ground_truth']!r} is not an order of 0..n-1")

    def user_text(self, doc: Doc) -> str:
        return PROMPT.format(goal=doc.row["goal"])

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        order = vcrbench_order(output, len(doc.gold))
        return (None if not any(order) else order), float(order == doc.gold)

    @staticmethod
    def _summary(scored: Sequence[tuple[Doc, list[int] | None]]) -> dict[str, Any]:
        exact = [(d, float(o == d.gold)) for d, o in scored]
        steps = [int(o is not None and len(o) == len(d.gold) and a == b)
                 for d, o in scored for a, b in zip(d.gold, o or [0] * len(d.gold))]
        by_goal: dict[str, list[float]] = defaultdict(list)
        by_n: dict[str, list[float]] = defaultdict(list)
        for d, s in exact:
            by_goal[str(d.groups["goal"])].append(s)
            by_n[str(d.groups["n_clips"])].append(s)
        goals = {g: {"accuracy": percent(sum(v), len(v)), "n": len(v)} for g, v in sorted(by_goal.items())}
        return {
            "accuracy": percent(sum(s for _, s in exact), len(exact)),
            "step_accuracy": percent(sum(steps), len(steps)),
            "weighted_accuracy": sum(g["accuracy"] for g in goals.values()) / len(goals) if goals else 0.0,
            "n": len(exact),
            "breakdown": {"n_clips": {k: {"accuracy": percent(sum(v), len(v)), "n": len(v)}
                                      for k, v in sorted(by_n.items(), key=lambda kv: int(kv[0]))},
                          "goal": goals},
        }

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        return self._summary([(d, None if o is None else vcrbench_order(o, len(d.gold))) for d, o in pairs])

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        order = strict_order(output, len(doc.gold))
        return order, float(order == doc.gold)

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        scored = [(d, None if o is None else strict_order(o, len(d.gold))) for d, o in pairs]
        out = self._summary(scored)
        out["n_unparsable"] = sum(1 for (d, o), (_, s) in zip(pairs, scored) if o is not None and s is None)
        return out
