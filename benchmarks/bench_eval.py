"""Throughput of the evaluation backends on a tiny random Qwen3-VL (items/s; prints figures, asserts nothing).

Usage (from the repository root):
    .venv/bin/python benchmarks/bench_eval.py [--items 24] [--frames 8] [--max-pixels 16384] [--batch-sizes 1,4,8] [--repeats 3]

On CPU it measures the HF backend at batch size 1 against larger batches, both for generation alone (frames decoded
beforehand) and end to end (``run_eval``: lookup, decode, prompt, generate, score, write). With a CUDA GPU and vllm
installed it also runs the vLLM backend on the same items (a tiny model with text head_dim 64).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import tempfile
import time
from pathlib import Path

from videossr.evaluation.backends import HFBackend, VLLMBackend
from videossr.evaluation.inputs import load_eval_video
from videossr.evaluation.items import load_items
from videossr.evaluation.benchmarks import build_request
from videossr.evaluation.runner import EvalSettings, run_eval
from videossr.training.tiny_model import build_tiny_qwen3vl

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def _items_file(path: Path, n: int) -> Path:
    clips = ["bigbuckbunny", "cityCC0"]
    items = [
        {"id": f"q{k}", "video": clips[k % 2], "question": f"Question {k}: what is shown?\nA. a rabbit\nB. a city",
         "answer": "AB"[k % 2]}
        for k in range(n)
    ]
    path.write_text(json.dumps(items))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=16)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--max-pixels", type=int, default=128 * 128)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--batch-sizes", default="1,4,8")
    ap.add_argument("--repeats", type=int, default=3, help="runs per setting; the best is reported")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.manual_seed(0)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    min_pixels = min(64 * 64, args.max_pixels)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = build_tiny_qwen3vl(tmp / "tiny")
        data = _items_file(tmp / "items.json", args.items)
        items = load_items(data)
        videos = {c: load_eval_video(DEMO / f, fps=2, max_frames=args.frames, min_pixels=min_pixels,
                                     max_pixels=args.max_pixels)
                  for c, f in (("bigbuckbunny", "bigbuckbunny.mp4"), ("cityCC0", "cityCC0.mpg"))}
        requests = [build_request("vqa", it, videos[it.video]) for it in items]
        v = videos["bigbuckbunny"]
        print(f"tiny Qwen3-VL, {args.items} items, {len(v.frames)} frames of {v.width}x{v.height}, "
              f"{args.max_new_tokens} new tokens, torch threads {torch.get_num_threads()}")
        print(f"{'backend':8} {'batch':>5} {'generate items/s':>17} {'end-to-end items/s':>19}")
        for bs in batch_sizes:
            backend = HFBackend(model, max_new_tokens=args.max_new_tokens, batch_size=bs, device="cpu")
            backend.generate(requests[:bs])  # warm-up
            gen = 0.0
            for _ in range(args.repeats):  # best of N: the machine is shared, the best run is the least disturbed
                t0 = time.perf_counter()
                backend.generate(requests)
                gen = max(gen, len(requests) / (time.perf_counter() - t0))
            settings = EvalSettings(task="vqa", model=str(model), backend="hf", max_frames=args.frames, min_pixels=min_pixels,
                                    max_pixels=args.max_pixels, max_new_tokens=args.max_new_tokens)
            e2e = 0.0
            for r in range(args.repeats):
                summary = run_eval("vqa", items, settings, tmp / f"out_hf_{bs}_{r}", video_dir=DEMO, backend=backend,
                                   batch_size=bs, progress=False)
                e2e = max(e2e, summary["run"]["items_per_s"])
            print(f"{'hf':8} {bs:>5} {gen:>17.2f} {e2e:>19.2f}")
        if torch.cuda.is_available() and importlib.util.find_spec("vllm") is not None:
            model64 = build_tiny_qwen3vl(tmp / "tiny64", text_head_dim=64, dtype="bfloat16")
            for name, backend in (
                ("hf-gpu", HFBackend(model64, max_new_tokens=args.max_new_tokens, batch_size=8, device="cuda")),
                ("vllm", VLLMBackend(model64, max_new_tokens=args.max_new_tokens, max_model_len=8192,
                                     gpu_memory_utilization=0.4)),
            ):
                backend.generate(requests[:8])
                best = 0.0
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    backend.generate(requests)
                    best = max(best, len(requests) / (time.perf_counter() - t0))
                print(f"{name:8} {'all':>5} {best:>17.2f} {'-':>19}")
                backend.close()
        else:
            print("no CUDA GPU or no vllm here: vLLM figures skipped")


if __name__ == "__main__":
    main()
