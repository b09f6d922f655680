"""Score answers made anywhere against a published benchmark: no model, the same summary.json as a run.

``read_outputs(bench, paths)`` reads answer files into {question id: output text}. Three line shapes are read, one
per line, so files can be mixed:

* ``{"id": ..., "output": "..."}``: the benchmark's own question ids (as results.jsonl writes them);
* a results.jsonl line of ``eval/vqa.py`` / ``eval/vtg.py`` (``id`` and ``raw_output``; a line that ended with an
  error has no output and is skipped);
* a line of an lmms-eval ``--log_samples`` file (``<date>_samples_<task>.jsonl``: ``doc_id`` and ``resps`` /
  ``filtered_resps``); the task is read from the file name (MVBench's 20 subtasks each have a file) and the doc_id
  is the question's index in that task's split.

``score_outputs`` writes OUTPUT_DIR/results.jsonl (one line per scored question, as a run writes it, without run
settings) and OUTPUT_DIR/summary.json (the benchmark's summary under both protocols, plus ``outputs``: files read,
and the ids that matched no question or questions that got no output, counted and the first few named).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from videossr.evaluation.benchmarks.published import PublishedBenchmark
from videossr.io import write_json_atomic, write_jsonl_atomic

__all__ = ["read_outputs", "score_outputs", "SHOWN"]

SHOWN = 10  # ids named in a report
_SAMPLES_FILE = re.compile(r"_samples_(.+)\.jsonl$")


def _lmms_output(rec: dict[str, Any], where: str) -> str:
    for key in ("filtered_resps", "resps"):
        value = rec.get(key)
        while isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, str):
            return value
    raise ValueError(f"{where}: an lmms-eval sample line without a text response (resps / filtered_resps)")


def read_outputs(bench: PublishedBenchmark, paths: Sequence[str | os.PathLike]) -> tuple[dict[str, str], list[str]]:
    """({question id: output}, [ids or (task, doc_id)s of lines that match no question]). Later lines win."""
    by_task_index = {(d.task, d.doc_id): d.id for d in bench.by_id.values()}
    outputs: dict[str, str] = {}
    unknown: list[str] = []
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise FileNotFoundError(f"no outputs file {path}")
        m = _SAMPLES_FILE.search(path.name)
        file_task = m.group(1) if m else None
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: not a JSON line ({e.msg})") from None
            if not isinstance(rec, dict):
                raise ValueError(f"{where}: not a JSON object")
            if "doc_id" in rec and ("resps" in rec or "filtered_resps" in rec):
                task = rec.get("task") or file_task or bench.lmms_task
                qid = by_task_index.get((task, int(rec["doc_id"])))
                if qid is None:
                    unknown.append(f"{task}#{rec['doc_id']}")
                    continue
                outputs[qid] = _lmms_output(rec, where)
                continue
            if "id" not in rec:
                raise ValueError(f"{where}: a line needs 'id' and 'output' (or is an lmms-eval sample line)")
            qid = str(rec["id"])
            text = rec["output"] if "output" in rec else rec.get("raw_output")
            if "output" not in rec and "raw_output" not in rec:
                raise ValueError(f"{where}: no 'output' for id {qid!r}")
            if text is None:
                continue  # a result line that ended with an error
            if not isinstance(text, str):
                raise ValueError(f"{where}: the output of id {qid!r} is not a string")
            if qid not in bench.by_id:
                unknown.append(qid)
                continue
            outputs[qid] = text
    return outputs, unknown


def score_outputs(bench: PublishedBenchmark, outputs: dict[str, str], output_dir: str | os.PathLike, *,
                  unknown: Sequence[str] = (), sources: Sequence[str] = ()) -> dict[str, Any]:
    """Write results.jsonl and summary.json for ``outputs`` (question id -> text); returns the summary."""
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"the output {out} exists and is not a folder")
    records = []
    for qid, doc in bench.by_id.items():
        if qid not in outputs:
            continue
        text = outputs[qid]
        parsed, score = bench.score(doc, text)
        records.append({"id": qid, **bench.labels(doc), "raw_output": text, "parsed": parsed, "score": float(score),
                        **bench.details(doc, text), "error": None, "error_kind": None})
    missing = [qid for qid in bench.by_id if qid not in outputs]
    summary = bench.summarize(records, None)
    summary["outputs"] = {
        "files": [str(s) for s in sources],
        "n_scored": len(records),
        "n_unknown": len(unknown), "unknown": list(unknown[:SHOWN]),
        "n_missing": len(missing), "missing": missing[:SHOWN],
    }
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(out / "results.jsonl", records)
    write_json_atomic(out / "summary.json", summary)
    return summary
