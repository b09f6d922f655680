"""Reward throughput: scores per second of ``videossr.rewards.compute_score`` on a realistic mix of model outputs.

The mix covers the three tasks (grounding, counting, jigsaw-6 and jigsaw-8) and, per task, well-formed answers,
near misses (wrapped in tags or prose, slightly wrong, reversed, wrong digit count) and garbage (empty, long
rambling text, binary-ish bytes). Nothing is printed per score; the figure is printed at the end.

Usage::

    python benchmarks/bench_rewards.py [--n 200000] [--seed 0] [--mode smooth|strict]
"""

from __future__ import annotations

import argparse
import random
import time

from videossr.rewards import compute_score


def _grounding(rng: random.Random) -> tuple[str, str, str]:
    start = round(rng.uniform(0, 30), 1)
    end = round(start + rng.uniform(2, 12), 1)
    gt = f"{start}-{end}"
    s2, e2 = round(start + rng.uniform(-2, 2), 1), round(end + rng.uniform(-2, 2), 1)
    answer = rng.choice(
        [
            gt,
            f"{s2}-{e2}",
            f"<answer>{s2} - {e2}</answer>",
            f"The anomaly happens from {s2} seconds to {e2} seconds.",
            f"{e2}-{s2}",
            f"[{s2}, {e2}]",
            "I am not sure.",
            "",
            "The video shows a person walking. " * rng.randint(5, 40),
            "".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(1, 200))),
        ]
    )
    return "videossr_grounding", answer, gt


def _counting(rng: random.Random) -> tuple[str, str, str]:
    gt_counts = [rng.randint(1, 16) for _ in range(3)]
    gt = ",".join(map(str, gt_counts))
    near = [max(0, c + rng.randint(-2, 2)) for c in gt_counts]
    answer = rng.choice(
        [
            gt,
            ",".join(map(str, near)),
            "The answer is " + ", ".join(map(str, near)) + ".",
            "<answer>" + ",".join(map(str, near)) + "</answer>",
            ",".join(map(str, near[:2])),
            "There are several circles and squares.",
            "",
            "1,2,3,4,5,6,7,8",
            "".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(1, 200))),
        ]
    )
    return "videossr_counting", answer, gt


def _jigsaw(rng: random.Random) -> tuple[str, str, str]:
    n = rng.choice([6, 6, 6, 8])
    perm = list(range(1, n + 1))
    rng.shuffle(perm)
    gt = "".join(map(str, perm))
    near = perm[:]
    i, j = rng.sample(range(n), 2)
    near[i], near[j] = near[j], near[i]
    answer = rng.choice(
        [
            gt,
            "".join(map(str, near)),
            "The correct order is " + ",".join(map(str, near)) + ".",
            "<answer>" + "".join(map(str, near)) + "</answer>",
            "".join(map(str, near[:-1])),
            "1" * n,
            "Clip 1 comes first, then clip 2.",
            "",
            "".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(1, 200))),
        ]
    )
    return rng.choice(["videossr_jigsaw", "shuffled"]), answer, gt


def make_mix(n: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    makers = [_grounding, _counting, _jigsaw]
    return [rng.choice(makers)(rng) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="number of scores")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=("smooth", "strict"), default="smooth")
    args = parser.parse_args()

    mix = make_mix(args.n, args.seed)
    total = 0.0
    parsed = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    for source, answer, gt in mix:
        r = compute_score(data_source=source, solution_str=answer, ground_truth=gt, mode=args.mode)
        total += r["score"]
        parsed += r["format_ok"]
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"compute_score ({args.mode}): {args.n} scores in {dt:.2f} s wall = {args.n / dt:,.0f} scores/s; "
        f"{cpu:.2f} s CPU = {args.n / cpu:,.0f} scores per CPU-second "
        f"(one process; mean score {total / args.n:.3f}, parsed {parsed / args.n:.1%})"
    )


if __name__ == "__main__":
    main()
