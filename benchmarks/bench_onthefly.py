"""Item load time through verl: a recipe row (pixels made when loaded) next to the materialised row of the same sample.

One frame store at the training size (256*256), two builds of the same mix from it with the same seed: recipe rows
(the build's default) and materialised rows (``--materialize``: new frames as JPEGs on disk). Every row is then
loaded the way the trainer loads it:

- ``item``: ``dataset[i]`` of verl's dataset class, ``videossr.training.dataset.VideoSSRDataset`` for the recipe rows (it
  makes the sample's pixels) and verl's ``RLHFDataset`` for the materialised rows (what ``train/train.sh`` picks
  for each kind);
- ``vision``: ``qwen_vl_utils.process_vision_info(raw_prompt, image_patch_size=16, return_video_metadata=True)``,
  what verl's agent loop runs on the item before the rollout (it reads every frame, from the store, from the
  build's frame folder or from the in-memory JPEGs a recipe row carries, and resizes it to the row's pixel budget);
- ``processor`` (with ``--with-processor``): the chat template and the Qwen3-VL processor call the agent loop
  makes next (the same pixels either way, so the same cost; it only dilutes the ratio).

The datasets get the tiny local Qwen3-VL's tokenizer and processor (``videossr.training.tiny_model``: the real
Qwen3-VL processor classes and pixel budgets; the rows carry their own min/max pixels, and process_vision_info
reads those, not the processor's). verl's prompt-length filter is off: it runs once when the dataset is created,
not per item.

Rows of both kinds are loaded alternately (same load on the machine for both), after one untimed warm-up pass
(page cache and the frame store's manifest warm, as in a running epoch); each row's figure is the best of
``--repeat`` passes. Wall time is ``time.perf_counter``; CPU time is this process's (all threads: the vision step
reads frames in a thread pool). Printed: per-row means per kind and per task, and the ratio recipe / materialised.
``--profile`` adds a cProfile of the recipe rows' item step (where the extra time goes). Nothing is asserted.

Threads. The vision step resizes each video with torch, whose intra-op threads busy-wait for each other: on a
machine whose cores other processes share, that step's wall and CPU time swing several-fold with the load (the
same for both kinds, so the ratio moves with it). ``--torch-threads`` (default 1) keeps the figures steady; 0 leaves
torch's default. The added time of a recipe row (its item step) does not depend on it.

Videos: by default a small varied set (``benchmarks/videoset.py``: ``--num-videos`` synthetic clips plus the demo
clips) made in a temporary folder; ``--video-dir`` samples yours instead; ``--frames-dir`` reuses a finished frame
store (built at 256*256, or larger: then a 256*256 store is derived from it).

Usage (from the repository root)::

    python benchmarks/bench_onthefly.py [--num-samples 120] [--repeat 3] [--num-videos 8] [--workers 2]
        [--video-dir DIR | --frames-dir STORE] [--torch-threads 1] [--with-processor] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from videoset import REPO_ROOT, make_video_set  # noqa: E402

from videossr.datasets.build import BuildConfig, build  # noqa: E402
from videossr.constants import TRAIN_MAX_PIXELS  # noqa: E402
from videossr.sampling.sampler import ensure_store  # noqa: E402

KINDS = ("recipe", "materialised")
STAGES = ("item", "vision", "processor")


def data_config():
    from omegaconf import OmegaConf

    return OmegaConf.create({
        "max_prompt_length": 8192, "filter_overlong_prompts": False, "image_patch_size": 16, "video_key": "videos",
        "prompt_key": "prompt", "cache_dir": "", "filter_overlong_prompts_workers": None,
        "videossr": {"fresh_each_epoch": False},
    })


def timed(fn):
    c, t = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def load_once(dataset, pos: int, processor, with_processor: bool) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds of each stage of loading item ``pos`` as the trainer and the rollout do."""
    from qwen_vl_utils import process_vision_info

    item, w1, c1 = timed(lambda: dataset[pos])
    (images, videos), w2, c2 = timed(
        lambda: process_vision_info(item["raw_prompt"], image_patch_size=16, return_video_metadata=True))
    out = {"item": (w1, c1), "vision": (w2, c2)}
    if with_processor:
        def run():
            text = processor.apply_chat_template(item["raw_prompt"], add_generation_prompt=True, tokenize=False)
            frames, metadata = zip(*videos)
            return processor(text=[text], images=images or None, videos=list(frames), video_metadata=list(metadata),
                             do_sample_frames=False, return_tensors="pt")
        _, w3, c3 = timed(run)
        out["processor"] = (w3, c3)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--video-dir", type=Path, help="sample these videos instead of the made set")
    src.add_argument("--frames-dir", type=Path, help="reuse this finished frame store")
    p.add_argument("--num-videos", type=int, default=8, help="synthetic clips of the made set (plus the demo clips)")
    p.add_argument("--num-samples", type=int, default=120)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3, help="best of this many timed passes")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch intra-op threads (default 1; 0: torch's default); see the module docstring")
    p.add_argument("--with-processor", action="store_true", help="also time the Qwen3-VL processor call")
    p.add_argument("--profile", action="store_true", help="cProfile the recipe rows' item step")
    p.add_argument("--work-dir", type=Path, help="keep everything here instead of a temporary folder")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("verl").setLevel(logging.ERROR)

    import torch
    from transformers import AutoProcessor
    from verl.utils.dataset.rl_dataset import RLHFDataset

    from videossr.training.dataset import VideoSSRDataset
    from videossr.training.tiny_model import build_tiny_qwen3vl

    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)

    with tempfile.TemporaryDirectory(prefix="bench_onthefly_") as scratch:
        work = args.work_dir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        if args.frames_dir is not None:
            store = ensure_store(work / "store", max_pixels=TRAIN_MAX_PIXELS, store=args.frames_dir,
                                 workers=args.workers, progress=False)
        else:
            videos = args.video_dir or make_video_set(work / "videos", args.num_videos, REPO_ROOT / "data" / "demo")
            store = ensure_store(work / "store", max_pixels=TRAIN_MAX_PIXELS, video_dirs=[videos],
                                 workers=args.workers, progress=False)
        outs = {"recipe": work / "recipe", "materialised": work / "materialised"}
        for kind, out in outs.items():
            build(BuildConfig(output_dir=out, frames_dir=store, num_samples=args.num_samples, seed=args.seed,
                              workers=args.workers, materialize=kind == "materialised"), progress=False)

        model_dir = work / "tiny_qwen3vl"
        if not model_dir.exists():
            build_tiny_qwen3vl(model_dir)
        processor = AutoProcessor.from_pretrained(model_dir)
        config = data_config()
        datasets = {
            "recipe": VideoSSRDataset(str(outs["recipe"] / "train.parquet"), processor.tokenizer, config, processor),
            "materialised": RLHFDataset(str(outs["materialised"] / "train.parquet"), processor.tokenizer, config,
                                        processor),
        }
        # Row positions of the same sample in both files, and its task.
        index = {}
        for kind, ds in datasets.items():
            index[kind] = {int(ds.dataframe[i]["extra_info"]["index"]): i for i in range(len(ds))}
        samples = sorted(set(index["recipe"]) & set(index["materialised"]))
        task_of = {s: datasets["recipe"].dataframe.rows[index["recipe"][s]]["extra_info"]["task"] for s in samples}
        print(f"{len(samples)} samples ({', '.join(f'{t} {n}' for t, n in sorted(_count(task_of).items()))}) "
              f"from {_num_videos(store)} videos; store at max_pixels {TRAIN_MAX_PIXELS}; "
              f"best of {args.repeat} passes after a warm-up pass; torch threads {torch.get_num_threads()}")

        for s in samples:  # warm-up
            for kind in KINDS:
                load_once(datasets[kind], index[kind][s], processor, args.with_processor)
        best: dict[tuple[str, int], dict[str, list[float]]] = {}
        for r in range(args.repeat):
            for s in samples:
                for kind in (KINDS if (r + s) % 2 == 0 else KINDS[::-1]):
                    stages = load_once(datasets[kind], index[kind][s], processor, args.with_processor)
                    totals = {"item+vision": [stages[k] for k in ("item", "vision")]}
                    if args.with_processor:
                        totals["item+vision+processor"] = list(stages.values())
                    cur = best.setdefault((kind, s), {})
                    for name, (w, c) in {**stages, **{k: (sum(w for w, _ in v), sum(c for _, c in v))
                                                      for k, v in totals.items()}}.items():
                        old = cur.get(name)
                        cur[name] = [min(old[0], w), min(old[1], c)] if old else [w, c]

        stage_names = [s for s in STAGES if s != "processor" or args.with_processor]
        total_names = ["item+vision"] + (["item+vision+processor"] if args.with_processor else [])
        groups = {"all": samples, **{t: [s for s in samples if task_of[s] == t] for t in sorted(set(task_of.values()))}}
        print("per-row mean of each row's best pass, ms (wall / CPU)")
        for group, members in groups.items():
            means = {}
            for kind in KINDS:
                means[kind] = {name: [statistics.fmean(best[(kind, s)][name][j] for s in members) * 1e3
                                      for j in (0, 1)] for name in stage_names + total_names}
            for kind in KINDS:
                m = means[kind]
                detail = "  ".join(f"{name} {m[name][0]:6.1f}/{m[name][1]:6.1f}" for name in stage_names)
                print(f"  {group:9s} {kind:12s} {detail}")
            for name in total_names:
                r, d = means["recipe"][name], means["materialised"][name]
                print(f"  {group:9s} {name:22s} recipe {r[0]:6.1f}/{r[1]:6.1f}  materialised {d[0]:6.1f}/{d[1]:6.1f}"
                      f"  ratio wall {r[0] / d[0]:4.2f}x CPU {r[1] / d[1]:4.2f}x (goal <= 1.2x; {len(members)} rows)")

        if args.profile:
            ds = datasets["recipe"]
            prof = cProfile.Profile()
            prof.enable()
            for s in samples:
                ds[index["recipe"][s]]
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
            print("cProfile of the recipe rows' item step (all rows once), by cumulative time:")
            print("\n".join(line for line in buf.getvalue().splitlines() if line.strip())[:6000])
    return 0


def _count(task_of: dict) -> dict:
    out: dict[str, int] = defaultdict(int)
    for t in task_of.values():
        out[t] += 1
    return out


def _num_videos(store: Path) -> int:
    from videossr.sampling.store import read_manifest

    return len(read_manifest(store))


if __name__ == "__main__":
    raise SystemExit(main())
