"""Evaluation of video models: video QA, temporal grounding and VIUBench through one runner, with vLLM / HF / HTTP
backends.

Public API:

* ``EvalSettings`` (settings): what changes a model's answers, one class for every benchmark
* ``VideoQA``, ``TemporalGrounding`` (benchmarks; VIUBench is ``videossr.evaluation.viubench.VIUBench``): items, prompt, gold, score, summary, table
* ``run_benchmark`` (runner): results log with fingerprints and resume, batches, retries, summary; ``run_eval`` is
  its shorthand for video QA / grounding items, ``videossr.evaluation.viubench.evaluate`` for VIUBench
* ``Request``, ``VideoFrames``, ``frames_from_list``, ``load_eval_video``, ``request_from_verl_row`` (inputs)
* ``make_backend``, ``generate_texts``, ``sample_texts``, ``Sampling``, ``HFBackend``, ``VLLMBackend``,
  ``OpenAIBackend`` (backends: greedy answers, or N seeded rollouts per request)
* ``extract_choice``, ``parse_options`` (answer letters; intervals come from ``videossr.tasks.answers.parse_interval``)
* ``load_items``, ``resolve_video``, ``EvalItem`` (benchmark items on video files)

The zero-variance diagnostic and the difficulty sweep live in ``videossr.evaluation.diagnose`` and
``videossr.evaluation.sweep`` (imported on their own: they load torch and verl). The command lines (``eval/vqa.py``,
``eval/vtg.py``, ``eval/viubench.py``, ``eval/diagnose.py``) are ``videossr.evaluation.cli``.

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
    Sampling,
    VLLMBackend,
    generate_texts,
    make_backend,
    sample_texts,
)
from videossr.evaluation.benchmarks import (
    BENCHMARKS,
    INPUT_ERROR_KINDS,
    Benchmark,
    InputError,
    TemporalGrounding,
    VideoQA,
    build_request,
    format_table,
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
from videossr.evaluation.runner import ModelLoadError, run_benchmark, run_eval
from videossr.evaluation.settings import EvalSettings

__all__ = [
    "BACKENDS",
    "BENCHMARKS",
    "INPUT_ERROR_KINDS",
    "Backend",
    "Benchmark",
    "EvalItem",
    "EvalSettings",
    "HFBackend",
    "InputError",
    "ModelLoadError",
    "OpenAIBackend",
    "Request",
    "Sampling",
    "TemporalGrounding",
    "UnsafeVideoId",
    "VLLMBackend",
    "VideoFrames",
    "VideoQA",
    "build_request",
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
    "run_benchmark",
    "run_eval",
    "sample_texts",
]
