"""Vinoground (Zhang et al., 2024): 500 pairs of videos and captions that differ only in temporal order, scored in
pairs.

Data root: the folder lmms-eval's ``vinoground`` task reads (its ``vinoground`` cache folder, the dataset repository
HanSolo9682/Vinoground): the rows of its ``lmmseval`` split (a file with "lmmseval" in its name: index as
``<pair>_<pos|neg>_<text|video>``, major, minor), ``vinoground_videos/vinoground_textscore.json`` and
``vinoground_videos_concated/vinoground_videoscore.json`` (idx, video_name, question, GT), and the videos at each
entry's ``video_name`` relative to the folder.

Protocol source: lmms-eval 0.7.3 ``tasks/vinoground`` (the entry's question + "\\nPlease only output one English
character.", max_new_tokens 16, ``vinoground_process_results`` and ``vinoground_aggregate_results``): an answer is
right when its first character equals the GT letter in any case; a pair's text score needs both its text questions
right, its video score both video questions, its group score all four; each is averaged over all 500 pairs (a pair
not run counts 0). lmms-eval's aggregation fails on an empty answer (it reads its first character); here that answer
is wrong. The headline is the group score (Vinoground's own); text, video and group are all in summary.json, with
the categories (all, major and minor) as the breakdown.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from videossr.evaluation.benchmarks.published import (
    Doc,
    MissingData,
    PublishedBenchmark,
    published_rows,
)
from videossr.evaluation.choice import parse_options
from videossr.evaluation.metrics import score_choice

N_PAIRS = 500  # lmms-eval averages over this many pairs whatever was run
SUFFIX = "\nPlease only output one English character."
SCORE_FILES = {"text": "vinoground_videos/vinoground_textscore.json",
               "video": "vinoground_videos_concated/vinoground_videoscore.json"}


def _split_index(index: str) -> tuple[str, str]:
    parts = str(index).split("_")
    return "_".join(parts[:2]), parts[2] if len(parts) > 2 else ""


class Vinoground(PublishedBenchmark):
    name = "vinoground"
    title = "Vinoground"
    kind = "vqa"
    lmms_task = "vinoground"
    max_new_tokens = 16
    headline = "group"

    def read_docs(self) -> list[Doc]:
        entries: dict[str, dict[str, dict]] = {}
        for kind, rel in SCORE_FILES.items():
            path = self.root / rel
            if not path.is_file():
                raise MissingData(f"no Vinoground {kind}-score file at {path}")
            entries[kind] = {str(e["idx"]): e for e in json.loads(path.read_text(encoding="utf-8"))}
        docs = []
        for i, row, where in published_rows(self.root,
                                            ("**/*lmmseval*.parquet", "**/*lmmseval*.json", "**/*lmmseval*.jsonl"),
                                            "Vinoground lmmseval-split file", ("index", "major", "minor")):
            idx, kind = _split_index(row["index"])
            entry = entries.get(kind, {}).get(idx)
            if entry is None:
                raise ValueError(f"{where}: index {row['index']!r} has no entry {idx!r} in the {kind or '?'}"
                                 f"-score file")
            cats = ["all", row["major"]] + (str(row["minor"]).split(";") if row["minor"] is not None else [])
            docs.append(Doc(id=str(row["index"]), row={**row, "entry": entry}, task=self.lmms_task, doc_id=i,
                            videos=(str(entry["video_name"]),), gold=entry["GT"],
                            groups={"pair": idx, "kind": kind, "categories": cats}))
        return docs

    def user_text(self, doc: Doc) -> str:
        return doc.row["entry"]["question"] + SUFFIX

    def lmms_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        first = output[:1]
        return first, float(first.lower() == str(doc.gold).lower())

    def strict_item(self, doc: Doc, output: str) -> tuple[Any, float]:
        try:
            return score_choice(output, doc.gold, parse_options(doc.row["entry"]["question"]) or None)
        except ValueError:
            return None, 0.0

    def _pairs_summary(self, scored: Sequence[tuple[Doc, float]]) -> dict[str, Any]:
        cols: dict[int, dict[str, float]] = defaultdict(dict)
        cats: dict[int, list[str]] = {}
        for doc, s in scored:
            pair = int(doc.groups["pair"].split("_")[0])
            side = doc.groups["pair"].split("_")[1]
            cols[pair][f"{doc.groups['kind']}_{side}"] = s
            cats.setdefault(pair, doc.groups["categories"])

        def ok(pair: int, kind: str) -> bool:
            c = cols.get(pair, {})
            return bool(c.get(f"{kind}_pos")) and bool(c.get(f"{kind}_neg"))

        text = {p: ok(p, "text") for p in range(N_PAIRS)}
        video = {p: ok(p, "video") for p in range(N_PAIRS)}
        by_cat: dict[str, list[int]] = defaultdict(list)
        for p, cs in cats.items():
            for c in cs:
                by_cat[c].append(p)
        breakdown = {c: {"text": 100.0 * sum(text[p] for p in ps) / len(ps),
                         "video": 100.0 * sum(video[p] for p in ps) / len(ps),
                         "group": 100.0 * sum(text[p] and video[p] for p in ps) / len(ps), "n": len(ps)}
                     for c, ps in sorted(by_cat.items()) if ps}
        return {"text": 100.0 * sum(text.values()) / N_PAIRS, "video": 100.0 * sum(video.values()) / N_PAIRS,
                "group": 100.0 * sum(text[p] and video[p] for p in range(N_PAIRS)) / N_PAIRS,
                "n": len(scored), "n_pairs": len(cols), "breakdown": {"category": breakdown}}

    def lmms_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        return self._pairs_summary([(d, 0.0 if o is None else self.lmms_item(d, o)[1]) for d, o in pairs])

    def strict_summary(self, pairs: Sequence[tuple[Doc, str | None]]) -> dict[str, Any]:
        scored = [(d, None if o is None else self.strict_item(d, o)) for d, o in pairs]
        out = self._pairs_summary([(d, 0.0 if r is None else r[1]) for d, r in scored])
        out["n_unparsable"] = sum(1 for _, r in scored if r is not None and r[0] is None)
        return out
