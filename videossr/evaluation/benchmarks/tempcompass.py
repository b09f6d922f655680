"""TempCompass (Liu et al., 2024): temporal questions in three forms lmms-eval scores by rule: multiple choice,
yes/no and caption matching (its fourth, captioning, is judged by an LLM only and is not run here).

Data root: the folder lmms-eval's ``tempcompass`` tasks read (its ``tempcompass`` cache folder): the dataset
repository lmms-eval/TempCompass's test annotations of the configs ``multi-choice``, ``yes_no`` and
``caption_matching`` (``<config>/test-*.parquet``: video_id, question with its options, answer, dim) and the videos
as ``videos/<video_id>.mp4``.

Protocol source: lmms-eval 0.7.3 ``tasks/tempcompass`` (question + the form's post_prompt from the ``default``
kwargs, max_new_tokens from lmms-eval's default (none set by the task; ``MAX_NEW_TOKENS``), the rules of
``tempcompass_process_results_*``, ``tempcompass_aggregate_rating``). Where its rules cannot read an answer,
lmms-eval asks an OpenAI model (gpt-3.5-turbo-1106, with an API key); that judge is not reproduced: such answers
score 0 here and are counted as ``n_judge_needed``, so the lmms_eval score is a lower bound whenever that count is
above 0. Accuracy per form, their mean (the headline), and per dimension (speed, direction, action, order,
attribute change).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.published import (
    Doc,
    PublishedBenchmark,
    percent,
    published_rows,
)
from videossr.evaluation.choice import extract_choice, parse_options, strict_yes_no

FORMS = {"multi-choice": "\nPlease directly give the best option:", "yes_no": "\nPlease answer yes or no:",
         "caption_matching": "\nPlease directly give the best option:"}
TASKS = {"multi-choice": "tempcompass_multi_choice", "yes_no": "tempcompass_yes_no",
         "caption_matching": "tempcompass_caption_matching"}
# lmms-eval's Qwen3-VL class generates at most 128 new tokens when a task sets no limit (DEFAULT_GEN_KWARGS)
MAX_NEW_TOKENS = 128
_CAPTION_LINE = re.compile(r"^(?:(?:Sentence|Caption|Option)\s+)?(\S+?):\s+(.*)$")


def _rule_multi_choice(pred: str, answer: str) -> float | None:
    if pred == answer:
        return 1.0
    if pred in ("A", "B", "C", "D"):
        return float(pred == answer[0])
    for sep in (".", ")"):
        if any(pred.startswith(f"{x}{sep}") for x in "ABCD"):
            return float(pred.split(sep)[0] == answer[0])
    return None


def _rule_yes_no(pred: str, answer: str) -> float | None:
    low = pred.lower()
    said = "yes" if low.startswith("yes") else "no" if low.startswith("no") else None
    return None if said is None else float(said == answer)


def _rule_caption_matching(pred: str, question: str, answer: str) -> float | None:
    lines = question.split("\n")[1:]
    sents = [line.split(": ")[1] for line in lines]
    heads = [line.split(": ")[0] for line in lines]
    ids = heads + [h.replace("Sentence ", "").replace("Option ", "").replace("Caption ", "") for h in heads]
    chosen = None
    for line in lines:
        if line == pred:
            chosen = line
    for sent in sents:
        if sent == pred or (") " in pred and sent == pred.split(") ")[1]):
            chosen = sent
    for ident in ids:
        if ident == pred or ident == pred.replace(".", ""):
            chosen = ident
    if chosen is None:
        return None
    return float(chosen == answer or chosen == answer.split(":")[0] or chosen == answer.split(": ")[1]
                 or chosen == answer.split(": ")[0].split()[1])


def _strict_caption(output: str, question: str) -> str | None:
    """The option id ("A", "1") that ``output`` names or quotes, alone; None otherwise."""
    options = {}
    for line in question.split("\n")[1:]:
        m = _CAPTION_LINE.match(line.strip())
        if m:
            options[m.group(1)] = m.group(2)
    if options and all(len(k) == 1 and k.isalpha() and k.isupper() for k in options):
        return extract_choice(output, options)
    text = output.strip().strip(".").lower()
    named = {k for k, v in options.items()
             if re.search(rf"(?:^|\b(?:sentence|caption|option)\s+){re.escape(k.lower())}\b", text)
             or v.strip().strip(".").lower() == text}
    return named.pop() if len(named) == 1 else None


class TempCompass(PublishedBenchmark):
    name = "tempcompass"
    title = "TempCompass"
    kind = "vqa"
    lmms_task = "tempcompass"
    max_new_tokens = MAX_NEW_TOKENS
    headline = "average"

    def read_docs(self) -> list[Doc]:
        docs = []
        for form, task in TASKS.items():
            patterns = (f"{form}/test-*.parquet", f"**/{form}/test-*.parquet", f"**/{form}*.json",
                        f"**/{form}*.parquet")
            for i, row, _ in published_rows(self.root, patterns, f"TempCompass {form} annotation file",
                                            ("video_id", "question", "answer", "dim")):
                docs.append(Doc(id=f"{form}_{i}", row=row, task=task, doc_id=i,
                                videos=(f"videos/{row['video_id']}.mp4",), gold=row["answer"],
                                groups={"form": form, "dim": row["dim"]}))
        return docs

    def user_text(self, doc: Doc) -> str:
        return f"{doc.row['question']}{FORMS[doc.groups['form']]}"

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        form, answer = doc.groups["form"], str(doc.row["answer"])
        try:
            if form == "multi-choice":
                rating = _rule_multi_choice(output, answer)
            elif form == "yes_no":
                rating = _rule_yes_no(output, answer)
            else:
                rating = _rule_caption_matching(output, str(doc.row["question"]), answer)
        except IndexError:  # a question or answer line without ": " (lmms-eval stops there)
            rating = None
        return ("judge" if rating is None else output), (rating or 0.0)

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        form, answer, question = doc.groups["form"], str(doc.row["answer"]), str(doc.row["question"])
        if form == "multi-choice":
            options = parse_options(question) or None
            letter = extract_choice(output, options)
            return letter, float(letter is not None and letter == answer[:1])
        if form == "yes_no":
            said = strict_yes_no(output)
            return said, float(said == answer)
        chosen = _strict_caption(output, question)
        gold = answer.split(": ")[0].split()[-1] if ": " in answer else answer
        return chosen, float(chosen is not None and chosen == gold)

    def _summary(self, scored: Sequence[tuple[Doc, float]]) -> dict[str, Any]:
        by_form: dict[str, list[float]] = defaultdict(list)
        by_dim: dict[str, list[float]] = defaultdict(list)
        for d, s in scored:
            by_form[d.groups["form"]].append(s)
            by_dim[str(d.groups["dim"])].append(s)
        forms = {f: {"accuracy": percent(sum(v), len(v)), "n": len(v)} for f, v in by_form.items()}
        return {"average": sum(v["accuracy"] for v in forms.values()) / len(forms) if forms else 0.0,
                "accuracy": percent(sum(s for _, s in scored), len(scored)), "n": len(scored),
                "breakdown": {"form": forms,
                              "dim": {k: {"accuracy": percent(sum(v), len(v)), "n": len(v)}
                                      for k, v in sorted(by_dim.items())}}}

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        items = [(d, None if o is None else self.lmms_item(d, o)) for d, o in pairs]
        out = self._summary([(d, 0.0 if r is None else r[1]) for d, r in items])
        out["n_judge_needed"] = sum(1 for _, r in items if r is not None and r[0] == "judge")
        return out

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        items = [(d, None if o is None else self.strict_item(d, o)) for d, o in pairs]
        out = self._summary([(d, 0.0 if r is None else r[1]) for d, r in items])
        out["n_unparsable"] = sum(1 for _, r in items if r is not None and r[0] is None)
        return out
