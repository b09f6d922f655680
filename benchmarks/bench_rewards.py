"""Reward throughput: scores per second of ``videossr.rewards.compute_score`` (plain Python) on a realistic mix of
model outputs, and the time it takes on long runaway answers.

The mix covers the three tasks (grounding, counting, jigsaw-6 and jigsaw-8) and, per task, well-formed answers,
near misses (wrapped in tags or prose, labelled counts, slightly wrong, reversed, wrong digit count) and garbage
(empty, long rambling text, binary-ish bytes). Nothing is printed per score; the figures are printed at the end.

Two mixes: the GRPO mix (questions of the three tasks, each answered 8 times, as GRPO's rollouts are: mostly bare
answers, some tagged, some sentences and labelled counts, a tenth unusable) and an adversarial one (a fresh ground
truth per answer, a third of the answers garbage: long rambling text, random unicode). Then the GRPO mix's parts,
by task and answer form, in microseconds per answer.

Long adversarial answers: a response that runs away repeats itself. Each shape (many ``<answer>`` tags never closed,
as in ``"<answer>" * 18725 + "341562"``; a digit run separated by ", " that ends in a comma; one long number; ...) is
scored at 0.15, 1 and 10 MB (``--long-mb``): the seconds grow with the length, not with its square.

Usage::

    python benchmarks/bench_rewards.py [--n 200000] [--seed 0] [--mode smooth|strict] [--long-mb 10]
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
            f"circles: {near[0]}, squares: {near[1]}, triangles: {near[2]}",
            f"{near[0]} circles, {near[1]} squares and {near[2]} triangles",
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
    """The adversarial mix: a fresh ground truth per answer, every answer form equally likely (a third garbage)."""
    rng = random.Random(seed)
    makers = [_grounding, _counting, _jigsaw]
    return [rng.choice(makers)(rng) for _ in range(n)]


FORMS = ("bare", "bare, spaced", "tagged", "sentence", "unusable")  # the GRPO mix's answer forms, by _forms' index


def _forms(task: str, gold: str, rng: random.Random) -> tuple[str, str]:
    """One answer of a model asked to answer directly: mostly bare, some tagged, some sentences, a few unusable.
    Returns (its form, the answer)."""
    if task == "videossr_grounding":
        s, e = (float(x) for x in gold.split("-"))
        a, b = round(s + rng.uniform(-1.5, 1.5), 1), round(e + rng.uniform(-1.5, 1.5), 1)
        forms = [f"{a}-{b}", f"{a} - {b}", f"<answer>{a}-{b}</answer>", f"The segment is from {a} to {b} seconds.",
                 "I cannot tell."]
    elif task == "videossr_counting":
        c = [max(0, int(x) + rng.randint(-1, 1)) for x in gold.split(",")]
        forms = [f"{c[0]},{c[1]},{c[2]}", f"{c[0]}, {c[1]}, {c[2]}", f"<answer>{c[0]},{c[1]},{c[2]}</answer>",
                 f"{c[0]} circles, {c[1]} squares and {c[2]} triangles", "There are some shapes."]
    else:
        digits = list(gold)
        if rng.random() < 0.5:
            i = rng.randrange(len(digits) - 1)
            digits[i], digits[i + 1] = digits[i + 1], digits[i]
        order = "".join(digits)
        forms = [order, " ".join(order), f"<answer>{order}</answer>", f"The correct order is {','.join(order)}.",
                 "The clips are in order."]
    k = rng.choices(range(len(FORMS)), weights=[45, 15, 15, 15, 10])[0]
    return FORMS[k], forms[k]


def make_grpo_mix(n: int, seed: int, group: int = 8) -> list[tuple[str, str, str, str]]:
    """The training mix: questions of the three tasks, each answered ``group`` times (GRPO's n rollouts), as
    (data_source, answer, ground truth, the answer's form)."""
    rng = random.Random(seed)
    out: list[tuple[str, str, str, str]] = []
    while len(out) < n:
        source, _, gold = rng.choice([_grounding, _counting, _jigsaw])(rng)
        task = "videossr_jigsaw" if source == "shuffled" else source
        out += [(source, answer, gold, form) for form, answer in (_forms(task, gold, rng) for _ in range(group))]
    return out[:n]


def _scorer(mode: str):
    """``compute_score`` as the timing loop calls it: (data_source, answer, ground truth) -> result."""
    def videossr(source: str, answer: str, gt: str) -> dict:
        return compute_score(data_source=source, solution_str=answer, ground_truth=gt, mode=mode)

    return videossr


def _time(fn, mix) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    for source, answer, gt in mix:
        fn(source, answer, gt)
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="number of scores")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=("smooth", "strict"), default="smooth")
    parser.add_argument("--long-mb", type=float, default=10.0, help="the largest long answer, in MB (0: none)")
    args = parser.parse_args()

    grpo = make_grpo_mix(args.n, args.seed)
    for name, mix in (("GRPO mix (8 answers per question)", [row[:3] for row in grpo]),
                      ("adversarial mix (one answer per question, a third garbage)", make_mix(args.n, args.seed))):
        _report(name, mix, args.mode)
    _report_forms(grpo, args.mode)
    if args.long_mb > 0:
        _report_long(args.long_mb, args.mode)


def _report(name: str, mix: list[tuple[str, str, str]], mode: str) -> None:
    videossr = _scorer(mode)
    sample = [videossr(s, a, g) for s, a, g in mix[:20000]]
    parsed = sum(r["format_ok"] for r in sample) / len(sample)
    wall, cpu = _time(videossr, mix)
    print(f"{name}: {len(mix)} scores ({mode}); {parsed:.1%} of the answers parse")
    print(f"  compute_score {len(mix) / wall:>10,.0f} scores/s wall  {len(mix) / cpu:>10,.0f} per CPU-second  "
          f"({512 / len(mix) * wall * 1e3:.1f} ms for a step's 512 rollouts)")


def _report_forms(grpo: list[tuple[str, str, str, str]], mode: str) -> None:
    """Microseconds per answer of the GRPO mix, by task and answer form."""
    parts: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for source, answer, gold, form in grpo:
        task = "jigsaw" if source == "shuffled" else source.removeprefix("videossr_")
        parts.setdefault((task, form), []).append((source, answer, gold))
    videossr = _scorer(mode)
    print("GRPO mix by task and form: share, microseconds per answer (wall, best of 3)")
    for (task, form), rows in sorted(parts.items(), key=lambda kv: (kv[0][0], FORMS.index(kv[0][1]))):
        us = min(_time(videossr, rows)[0] for _ in range(3)) / len(rows) * 1e6
        print(f"  {task:<10} {form:<13} {len(rows) / len(grpo):>6.1%}  {us:6.2f} us")


# Long runaway answers: (name, data_source, ground truth, a start, the repeated unit, what ends the answer).
LONG_SHAPES = (
    ("unclosed <answer> tags", "videossr_jigsaw", "341562", "", "<answer>", "341562"),
    ("<answer>x</answer> blocks", "videossr_counting", "3,1,4", "", "<answer>x</answer>", "<answer>3,1,4</answer>"),
    ("'1, ' run ending in ','", "videossr_jigsaw", "341562", "", "1, ", ","),
    ("one long number", "videossr_grounding", "2.0-4.0", "", "9", ""),
    ("'1-' run", "videossr_grounding", "2.0-4.0", "", "1-", ""),
    ("'start' and a '= ' run", "videossr_grounding", "2.0-4.0", "start", "= ", ""),
    ("full-width '１－' run", "videossr_grounding", "2.0-4.0", "", "１－", ""),
)


def _report_long(largest_mb: float, mode: str) -> None:
    """Seconds to score each long answer shape at three lengths, and seconds per MB (flat when linear)."""
    text = "<answer>" * 18725 + "341562"
    t0 = time.perf_counter()
    r = compute_score("videossr_jigsaw", text, "341562", mode=mode)
    print(f"'<answer>' * 18725 + '341562' ({len(text) / 1e3:.0f} KB): {time.perf_counter() - t0:.3f} s, "
          f"score {r['score']:.3f}")
    sizes = sorted({s for s in (0.15, 1.0, largest_mb) if s <= largest_mb})
    shown = ", ".join(f"{s:g} MB" for s in sizes)
    print(f"long adversarial answers ({mode}): seconds to score one answer, at {shown}")
    for name, source, gold, start, unit, end in LONG_SHAPES:
        cells = []
        for mb in sizes:
            text = start + unit * int(mb * 1e6 / len(unit.encode())) + end
            t0 = time.perf_counter()
            r = compute_score(source, text, gold, mode=mode)
            seconds = time.perf_counter() - t0
            cells.append(f"{seconds:7.3f} s ({seconds / mb:5.3f} s/MB)")
        print(f"  {name:<28} " + "  ".join(cells) + f"  score {r['score']:.3f}")


if __name__ == "__main__":
    main()
