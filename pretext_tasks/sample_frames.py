"""Sample frames from folders of raw videos into the frame store the pretext tasks read.

Finds every video under the ``--video-dir`` folders (recursive; mp4, mkv, webm, avi, mov, mpg, ...), samples
``--num-frames`` frames per video evenly inside its 5%..95% span, and writes them as JPEGs (fitted to
``--max-pixels``) plus ``manifest.jsonl`` and ``failures.jsonl`` under ``--output-dir``. A rerun resumes: finished
videos are skipped, failed ones are retried only with ``--retry-failed``. See videossr/sampling/sampler.py for the layout.
``--from-store`` makes a store at a smaller ``--max-pixels`` from a finished larger one instead (its JPEGs are
shrunk; no video is decoded). ``--verify`` checks the finished store (every frame present and a whole JPEG).
One sampler at a time per output folder: a second one stops at once and names the first. ``--executor ray``
decodes the videos in Ray tasks: a local Ray instance of ``--workers`` CPUs, or the cluster at ``RAY_ADDRESS``, whose
nodes must see the videos and the output folder at the same paths (a shared filesystem; checked before decoding).

Usage (from the repository root)::

    python pretext_tasks/sample_frames.py                       # the demo clips in data/demo -> data/frames
    python pretext_tasks/sample_frames.py --video-dir raw/ --video-dir more/ --output-dir data/frames --workers 8
    python pretext_tasks/sample_frames.py --from-store data/frames --output-dir data/frames_256 --max-pixels 65536
    RAY_ADDRESS=auto python pretext_tasks/sample_frames.py --video-dir /shared/raw --output-dir /shared/frames \
        --executor ray

Exit status: 0 done, 1 some videos could not be sampled (listed in failures.jsonl), 2 bad usage or a folder another
run holds, 130 interrupted by Ctrl-C or SIGTERM (within a second or two: the videos in progress are dropped, what
finished is indexed; run the same command again to resume).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from videossr.cli import add_logging_args, choice_type, positive_int, run, setup_logging
from videossr.procs import EXECUTORS, sigterm_as_interrupt
from videossr.sampling.sampler import DEFAULT_MAX_PIXELS, DEFAULT_NUM_FRAMES, default_workers, derive_store, sample_videos
from videossr.sampling.store import verify_store
from videossr.sampling.video import BACKENDS

REPO_ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--video-dir", action="append", type=Path, default=None,
                   help="folder of videos, searched recursively (repeatable; default: data/demo)")
    p.add_argument("--output-dir", type=Path, default=REPO_ROOT / "data" / "frames",
                   help="frame store to write (default: data/frames)")
    p.add_argument("--num-frames", type=int, default=DEFAULT_NUM_FRAMES, help="frames per video (default: 48)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help="stored frames are shrunk to at most this many pixels, aspect kept (default: 512*512)")
    p.add_argument("--backend", type=choice_type(("auto", *BACKENDS)), default="auto",
                   help="decoder; auto tries pyav, torchcodec, decord in turn (default: auto)")
    p.add_argument("--workers", type=positive_int, default=default_workers(),
                   help="videos decoded in parallel, in worker processes (1: in this process), or the CPUs of a\n"
                        "local Ray instance (default: CPU count, at most 8)")
    p.add_argument("--executor", type=choice_type(EXECUTORS), default="local",
                   help="local: a pool of worker processes; ray: Ray tasks (RAY_ADDRESS: join that cluster)")
    p.add_argument("--retry-failed", action="store_true", help="retry videos that failed in an earlier run")
    p.add_argument("--from-store", type=Path, default=None,
                   help="derive the output from this finished frame store, built at a larger --max-pixels,\n"
                        "by shrinking its JPEGs (no video is decoded; --video-dir must not be given)")
    p.add_argument("--verify", action="store_true",
                   help="check the finished store: every frame present and a whole JPEG")
    add_logging_args(p)
    args = p.parse_args(argv)
    if args.from_store is not None and args.video_dir:
        p.error("give --video-dir or --from-store, not both")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    progress = setup_logging(args)
    if args.from_store is not None:
        summary = derive_store(args.from_store, args.output_dir, max_pixels=args.max_pixels, workers=args.workers,
                               progress=progress)
        failed = 0
    else:
        summary = sample_videos(
            args.video_dir or [REPO_ROOT / "data" / "demo"],
            args.output_dir,
            num_frames=args.num_frames,
            max_pixels=args.max_pixels,
            backend=args.backend,
            workers=args.workers,
            retry_failed=args.retry_failed,
            progress=progress,
            executor=args.executor,
        )
        failed = summary.failed
    print(summary)
    if args.verify:
        print(verify_store(args.output_dir))
    return 1 if failed else 0


if __name__ == "__main__":
    with sigterm_as_interrupt():
        sys.exit(run(main, name="sample_frames"))
