"""LongVideoBench (Wu et al., 2024), validation split, video only: 1,337 questions on videos up to an hour.

Data root: the folder lmms-eval's ``longvideobench_val_v`` task reads (its ``datasets/longvideobench`` cache folder,
the dataset repository longvideobench/LongVideoBench with ``videos.tar`` unpacked): ``validation-*.parquet``
(video_path, question, option0..option4 with "N/A" for absent ones, correct_choice as an index, duration_group,
question_category, id) and the videos as ``videos/<video_path>``.

Protocol source: lmms-eval 0.7.3 ``tasks/longvideobench`` (``longvideobench_doc_to_text``, post_prompt "Answer with
the option's letter from the given choices directly.\\n", max_new_tokens 32, ``parse_multi_choice_response`` and
``longvideobench_aggregate_results``). When no letter A-E is found lmms-eval picks a random option with Python's
unseeded ``random``; here the pick comes from a generator seeded by the question id, so a rerun gives the same number
(``guesses`` counts them). lmms-eval returns the accuracy as a fraction; it is in percent here, as everywhere.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.lmms import longvideobench_letter
from videossr.evaluation.benchmarks.published import (
    Doc,
    PublishedBenchmark,
    accuracy_by,
    percent,
    published_rows,
    strict_accuracy,
)
from videossr.evaluation.metrics import score_choice

GROUPS = ("duration_group", "question_category")
POST_PROMPT = "Answer with the option's letter from the given choices directly.\n"
GUESS_SEED = "longvideobench"


def guess_rng(doc_id: str) -> random.Random:
    """The generator of a question's random pick: seeded by its id, the same on every run."""
    return random.Random(f"{GUESS_SEED}:{doc_id}")


class LongVideoBench(PublishedBenchmark):
    name = "longvideobench"
    title = "LongVideoBench"
    kind = "vqa"
    lmms_task = "longvideobench_val_v"
    max_new_tokens = 32
    headline = "accuracy"

    def read_docs(self) -> list[Doc]:
        docs = []
        for i, row, _ in published_rows(self.root, ("validation-*.parquet", "**/validation-*.parquet"),
                                        "LongVideoBench validation annotation file",
                                        ("id", "video_path", "question", "correct_choice", *GROUPS)):
            docs.append(Doc(id=str(row["id"]), row=row, task=self.lmms_task, doc_id=i,
                            videos=(f"videos/{row['video_path']}",), gold=row["correct_choice"],
                            groups={k: row[k] for k in GROUPS}))
        return docs

    @staticmethod
    def choices(doc: Doc) -> list[str]:
        """The letters lmms-eval scores against: options up to the first "N/A"."""
        out = []
        for i in range(5):
            if doc.row.get(f"option{i}") == "N/A":
                break
            out.append(chr(ord("A") + i))
        return out

    def gold_letter(self, doc: Doc) -> str:
        return chr(ord("A") + int(doc.row["correct_choice"]))

    def check_doc(self, doc: Doc) -> None:
        c = doc.row["correct_choice"]
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < len(self.choices(doc)):
            raise ValueError(f"correct_choice {c!r} is not the index of an option")

    def user_text(self, doc: Doc) -> str:
        cands = [doc.row.get(f"option{i}") for i in range(5)]
        cands = [c for c in cands if c != "N/A"]
        lines = "\n".join(f"{chr(ord('A') + i)}. {c}" for i, c in enumerate(cands))
        return f"{doc.row['question']}\n{lines}\n{POST_PROMPT}"

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        letter, _ = longvideobench_letter(output, self.choices(doc), guess_rng(doc.id))
        return letter, float(letter == self.gold_letter(doc))

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        scored, guesses = [], 0
        for d, o in pairs:
            if o is None:
                scored.append((d, 0.0))
                continue
            letter, guessed = longvideobench_letter(o, self.choices(d), guess_rng(d.id))
            guesses += guessed
            scored.append((d, float(letter == self.gold_letter(d))))
        return {"accuracy": percent(sum(s for _, s in scored), len(scored)), "n": len(scored), "guesses": guesses,
                "breakdown": {k: accuracy_by(scored, k) for k in GROUPS}}

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        options = {chr(ord("A") + i): str(doc.row[f"option{i}"]) for i in range(len(self.choices(doc)))}
        return score_choice(output, self.gold_letter(doc), options)

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        return strict_accuracy(pairs, self.strict_item, GROUPS)
