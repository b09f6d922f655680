"""VideoMMMU (Hu et al., 2025): lecture videos with questions at three levels (perception, comprehension,
adaptation); multiple-choice and open questions.

Data root: the folder lmms-eval's ``video_mmmu`` tasks read (its ``video_mmmu`` cache folder): the dataset repository
lmms-eval/VideoMMMU's test annotations of the configs ``Perception``, ``Comprehension`` and ``Adaptation``
(``<Config>/test-*.parquet``: id as ``<split>_<Subject>_<n>``, question, options, answer, question_type) and the
videos as ``<Discipline>/<id>.mp4``, the discipline folder (Art, Science, Humanities, Engineering, Medicine,
Business) given by the subject as ``videommmu_doc_to_visual`` maps it.

Protocol source: lmms-eval 0.7.3 ``tasks/videommmu`` (the ``default`` kwargs' prompts per level, max_new_tokens
1024, ``videommmu_process_results``: ``extract_mcq_answer`` over the option letters for multiple-choice questions
("No Answer Found." when none), MMMU's open-answer reader otherwise; ``videommmu_aggregate_results``: accuracy over
the answers, an empty answer to an open question left out of the count). Accuracy per level, their question-weighted
overall (the headline), and per subject.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.lmms import (
    NO_ANSWER,
    mcq_letter,
    mmmu_normalize,
    mmmu_open_correct,
    mmmu_open_preds,
)
from videossr.evaluation.benchmarks.published import (
    Doc,
    PublishedBenchmark,
    percent,
    published_rows,
)
from videossr.evaluation.metrics import score_choice

LEVELS = {"Perception": "video_mmmu_perception", "Comprehension": "video_mmmu_comprehension",
          "Adaptation": "video_mmmu_adaptation"}
PRE_PROMPT = "You should watch and learn the video content. Then apply what you learned to "
PERCEPTION_POST = "\nPlease ignore the Quiz question in last frame of the video."
MCQ_PROMPT = ("answer the following multi-choice question. The image for this question is at the end of the "
              "video.\n")
OPEN_PROMPT = ("answer the following open-ended question. The image for this question is at the end of the "
               "video.\n")
DISCIPLINES = {
    "Art": ("Art", "Art_Theory", "Design", "Music"),
    "Science": ("Biology", "Chemistry", "Geography", "Math", "Physics"),
    "Humanities": ("History", "Literature", "Sociology", "Psychology"),
    "Engineering": ("Agriculture", "Architecture_and_Engineering", "Computer_Science", "Electronics",
                    "Energy_and_Power", "Materials", "Mechanical_Engineering"),
    "Medicine": ("Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine", "Pharmacy",
                 "Public_Health"),
    "Business": ("Accounting", "Economics", "Finance", "Manage", "Marketing"),
}
_DISCIPLINE = {subject: folder for folder, subjects in DISCIPLINES.items() for subject in subjects}
_ANSWER_LABEL = re.compile(r"(?:final answer|answer)\s*(?:is)?\s*[:：]?\s*(.+)", re.IGNORECASE)


def _subject(qid: str) -> str | None:
    parts = str(qid).split("_")
    m = re.fullmatch(rf"{re.escape(parts[0])}_(.+?)_\d+", str(qid))
    return m.group(1) if m else None


def option_lines(options: Sequence[str]) -> str:
    """The options as lmms-eval writes them: kept as they are when each already starts with its "A." letter."""
    letters = [chr(ord("A") + i) for i in range(len(options))]
    if all(str(o).startswith(f"{letter}.") for o, letter in zip(options, letters)):
        return "\n".join(str(o) for o in options)
    return "\n".join(f"{letter}. {o}" for letter, o in zip(letters, options))


def strict_open(output: str, gold: str) -> tuple[Any, float]:
    """The project's reading of an open answer: the text after the last "answer:" label (else the whole answer);
    a numeric gold needs exactly one number there, equal to 2 places; a text gold needs the same text (case, spaces
    and end punctuation aside). Nothing else counts."""
    labelled = [m.group(1) for m in _ANSWER_LABEL.finditer(output)]
    region = (labelled[-1] if labelled else output).strip().strip(".").strip()
    target = mmmu_normalize(gold)
    if isinstance(target[0], float):
        values = {round(float(x.replace(",", "")), 2) for x in re.findall(r"-?\d[\d,]*(?:\.\d+)?", region)}
        if len(values) != 1:
            return None, 0.0
        value = values.pop()
        return value, float(value == target[0])
    said = " ".join(region.lower().split())
    return said or None, float(bool(said) and said == " ".join(str(gold).lower().split()).strip("."))


class VideoMMMU(PublishedBenchmark):
    name = "videommmu"
    title = "VideoMMMU"
    kind = "vqa"
    lmms_task = "video_mmmu"
    max_new_tokens = 1024
    headline = "accuracy"

    def read_docs(self) -> list[Doc]:
        docs = []
        for level, task in LEVELS.items():
            patterns = (f"{level}/test-*.parquet", f"**/{level}/test-*.parquet", f"**/{level}*.parquet",
                        f"**/{level}*.json")
            for i, row, _ in published_rows(self.root, patterns, f"VideoMMMU {level} annotation file",
                                            ("id", "question", "answer")):
                subject = _subject(row["id"])
                folder = _DISCIPLINE.get(subject or "", "")
                docs.append(Doc(id=f"{level}/{row['id']}", row=row, task=task, doc_id=i,
                                videos=(f"{folder}/{row['id']}.mp4",), gold=row["answer"],
                                groups={"level": level, "subject": subject}))
        return docs

    def check_doc(self, doc: Doc) -> None:
        if doc.groups["subject"] not in _DISCIPLINE:
            raise ValueError(f"id {doc.row['id']!r} does not name a VideoMMMU subject (<split>_<Subject>_<n>)")

    def is_mcq(self, doc: Doc) -> bool:
        return doc.row.get("question_type", "None") == "multiple-choice"

    def user_text(self, doc: Doc) -> str:
        question, options = str(doc.row["question"]), list(doc.row.get("options") or [])
        if doc.groups["level"] != "Adaptation":
            return f"{question}\n{option_lines(options)}{PERCEPTION_POST}"
        if self.is_mcq(doc):
            return f"{PRE_PROMPT}{MCQ_PROMPT}{question}\n{option_lines(options)}"
        return f"{PRE_PROMPT}{OPEN_PROMPT}{question}"

    def _read(self, doc: Doc, output: str) -> Any:
        if self.is_mcq(doc):
            letters = [chr(ord("A") + i) for i in range(len(doc.row.get("options") or []))]
            return mcq_letter(output, letters) or "No Answer Found."
        return mmmu_open_preds(output)

    def _right(self, doc: Doc, parsed: Any) -> float:
        kind = doc.row.get("question_type", "None")
        if kind in ("multiple-choice", "perception"):
            return float(parsed == doc.row["answer"])
        return float(mmmu_open_correct(str(doc.row["answer"]), parsed))

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        parsed = self._read(doc, output)
        return parsed, (0.0 if parsed == NO_ANSWER else self._right(doc, parsed))

    def _summary(self, scored: Sequence[tuple[Doc, float]]) -> dict[str, Any]:
        by_level: dict[str, list[float]] = defaultdict(list)
        by_subject: dict[str, list[float]] = defaultdict(list)
        for d, s in scored:
            by_level[d.groups["level"]].append(s)
            by_subject[str(d.groups["subject"])].append(s)
        return {"accuracy": percent(sum(s for _, s in scored), len(scored)), "n": len(scored),
                "breakdown": {"level": {k: {"accuracy": percent(sum(v), len(v)), "n": len(v)}
                                        for k, v in by_level.items()},
                              "subject": {k: {"accuracy": percent(sum(v), len(v)), "n": len(v)}
                                          for k, v in sorted(by_subject.items())}}}

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        scored, left_out = [], 0
        for d, o in pairs:
            if o is None:
                scored.append((d, 0.0))
                continue
            parsed, s = self.lmms_item(d, o)
            if parsed == NO_ANSWER:
                left_out += 1  # lmms-eval drops empty answers to open questions before it counts
                continue
            scored.append((d, s))
        out = self._summary(scored)
        out["n_left_out"] = left_out
        return out

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        if self.is_mcq(doc):
            options = {chr(ord("A") + i): re.sub(r"^[A-Z]\.\s*", "", str(o))
                       for i, o in enumerate(doc.row.get("options") or [])}
            try:
                return score_choice(output, doc.row["answer"], options or None)
            except ValueError:
                return None, 0.0
        return strict_open(output, str(doc.row["answer"]))

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        items = [(d, None if o is None else self.strict_item(d, o)) for d, o in pairs]
        out = self._summary([(d, 0.0 if r is None else r[1]) for d, r in items])
        out["n_unparsable"] = sum(1 for _, r in items if r is not None and r[0] is None)
        return out
