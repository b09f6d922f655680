"""Values several modules share, defined once.

Pixel budgets (the paper): training feeds 48 frames at up to 256*256 pixels (at least 128*128); VIUBench and the
evaluations use up to 512*512. JPEG settings: every frame VideoSSR writes (sampled or made by a task) uses the same
fixed settings, so equal pixels give equal bytes and a new frame does not stand out from the stored ones by its
compression. ``VIDEO_PLACEHOLDER`` marks each video in a prompt, as verl's dataset expects.
"""

from __future__ import annotations

import os

VIDEO_PLACEHOLDER = "<video>"

TRAIN_MIN_PIXELS = 128 * 128
TRAIN_MAX_PIXELS = 256 * 256
EVAL_MIN_PIXELS = 128 * 128
EVAL_MAX_PIXELS = 512 * 512
VIUBENCH_MAX_PIXELS = EVAL_MAX_PIXELS

NUM_FRAMES = 48  # frames sampled per video

JPEG_QUALITY = 90
JPEG_OPTIONS = {"quality": JPEG_QUALITY, "optimize": False, "progressive": False, "subsampling": "4:2:0"}

# Containers the sampler and the evaluation look for (extensions, lower case; matched case-insensitively).
VIDEO_EXTENSIONS = (
    ".mp4", ".m4v", ".mov", ".qt", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".mpe", ".m1v", ".m2v", ".vob",
    ".ts", ".mts", ".m2ts", ".flv", ".f4v", ".wmv", ".asf", ".3gp", ".3g2", ".ogv", ".mxf", ".divx", ".dv",
    ".y4m", ".rm", ".rmvb",
)

MAX_DEFAULT_WORKERS = 8


def default_workers() -> int:
    """Worker processes when none are asked for: the CPU count, at most 8."""
    return max(1, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))
