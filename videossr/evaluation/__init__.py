"""Evaluation of video models: video QA (accuracy) and temporal grounding (mIoU, R@IoU), with vLLM / HF / HTTP backends.

Public API:

* ``Request``, ``VideoFrames``, ``frames_from_list``, ``load_eval_video``, ``request_from_verl_row`` (inputs)
* ``make_backend``, ``generate_texts``, ``HFBackend``, ``VLLMBackend``, ``OpenAIBackend`` (backends)
* ``extract_choice``, ``parse_options`` (answer letters; intervals come from ``videossr.answers.parse_interval``)
* ``load_items``, ``resolve_video``, ``EvalItem`` (benchmark items), ``EvalSettings``, ``run_eval`` (the runner)

Generic use by another evaluator (frame lists + chat messages -> texts)::

    from videossr.evaluation import Request, frames_from_list, make_backend, generate_texts
    backend = make_backend("hf", model_dir, max_new_tokens=16)
    video = frames_from_list(frame_paths, sample_fps=2.0, max_pixels=512 * 512)
    texts = generate_texts(backend, [Request(({"role": "user", "content": "<video>How many circles?"},), (video,))])
"""

from __future__ import annotations

from videossr.evaluation.backends import (
    BACKENDS,
    Backend,
    HFBackend,
    OpenAIBackend,
    VLLMBackend,
    generate_texts,
    make_backend,
)
from videossr.evaluation.choice import extract_choice, parse_options
from videossr.evaluation.inputs import (
    Request,
    VideoFrames,
    frames_from_list,
    load_eval_video,
    request_from_verl_row,
    resized_size,
)
from videossr.evaluation.items import EvalItem, UnsafeVideoId, load_items, resolve_video
from videossr.evaluation.runner import EvalSettings, format_table, run_eval

__all__ = [
    "BACKENDS",
    "Backend",
    "EvalItem",
    "EvalSettings",
    "HFBackend",
    "OpenAIBackend",
    "Request",
    "UnsafeVideoId",
    "VLLMBackend",
    "VideoFrames",
    "extract_choice",
    "format_table",
    "frames_from_list",
    "generate_texts",
    "load_eval_video",
    "load_items",
    "make_backend",
    "parse_options",
    "request_from_verl_row",
    "resized_size",
    "resolve_video",
    "run_eval",
]
