"""TACoS (Regneri et al., 2013): sentences to ground in cooking videos (MPII Cooking Composite), test split.

lmms-eval does not have it, and TACoS' authors published no grounding scorer. The grounding release in common use is
the split of 2D-TAN (github.com/microsoft/2D-TAN, ``data/TACoS/test.json``; the same file in the loaders of the
methods built on it): ``{"<video>.avi": {"num_frames": n, "fps": f, "timestamps": [[start, end], ...] in frames,
"sentences": [...]}}``. As 2D-TAN's loader reads it: a query whose start frame is not before its end is left out,
times are frames / fps, clipped to [0, num_frames / fps] (one that clipping empties is left out too); every kept
sentence is a query.

Data root: ``test.json`` (anywhere under it) and the videos under their keys (``s13-d21.avi``), in ``videos/`` or the
folder itself (or the same name ending in ``.mp4``).

Protocol (``lmms_eval``; no official grounding code exists): as ActivityNet Captions here (``activitynet.py``):
lmms-eval's TimeLens grounding prompt, answer length (50) and reading (the first pair of times, not swapped),
scored by the common metric, R1@0.3/0.5/0.7 and mIoU in percent over every query (2D-TAN's evaluation, VTimeLLM's
``grounding_metrics``). Headline: mIoU.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from videossr.evaluation.benchmarks.activitynet import (
    CaptionGrounding,
    _number,
    clipped,
    pair,
)


class TACoS(CaptionGrounding):
    name = "tacos"
    title = "TACoS"
    lmms_task = "(none: the common grounding protocol on 2D-TAN's test split)"
    files = ("test.json", "**/test.json")
    what = "TACoS test.json (2D-TAN's split)"

    def queries(self, vid: str, anno: Mapping[str, Any], where: str) -> list[tuple[int, str, float, float]]:
        fps = _number(anno.get("fps"), f"{where} fps")
        frames = _number(anno.get("num_frames"), f"{where} num_frames")
        if fps <= 0:
            raise ValueError(f"{where}: fps must be positive, got {fps!r}")
        out = []
        for k, (ts, sentence) in enumerate(zip(anno["timestamps"], anno["sentences"])):
            start, end = pair(ts, f"{where} timestamps[{k}]")
            iv = clipped(start / fps, end / fps, frames / fps)
            if iv is not None:
                out.append((k, str(sentence), *iv))
        return out

    def video_candidates(self, vid: str) -> tuple[str, ...]:
        stem = posixpath.splitext(vid)[0]
        return tuple(dict.fromkeys((f"videos/{vid}", vid, f"videos/{stem}.mp4", f"{stem}.mp4")))
