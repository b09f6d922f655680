"""Reward throughput: scores per second of ``videossr.rewards.compute_score`` on a realistic mix of model outputs,
side by side with the reference implementation's scoring, in one process on the same mix.

The mix covers the three tasks (grounding, counting, jigsaw-6 and jigsaw-8) and, per task, well-formed answers,
near misses (wrapped in tags or prose, labelled counts, slightly wrong, reversed, wrong digit count) and garbage
(empty, long rambling text, binary-ish bytes). Nothing is printed per score; the figures are printed at the end.

The yardstick is the reference's scoring written inline here (``reference_score``): its formulas and its parsing
(an anchored ``start-end`` match; every integer of the output for counts; the whole stripped output as the jigsaw
string), and, as it does, about 200 bytes printed per score, here into a temporary file (where a training worker's
output goes). It is timed with and without those prints, so the ratio is shown both ways.

Two mixes: the GRPO mix (questions of the three tasks, each answered 8 times, as GRPO's rollouts are: mostly bare
answers, some tagged, some sentences and labelled counts, a tenth unusable) and an adversarial one (a fresh ground
truth per answer, a third of the answers garbage: long rambling text, random unicode). Then the GRPO mix's parts,
by task and answer form: microseconds per answer for both, and the ratio.

Usage::

    python benchmarks/bench_rewards.py [--n 200000] [--seed 0] [--mode smooth|strict] [--pure-python]
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
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


# --- the reference implementation's scoring, written inline as the yardstick --------------------------------------

_REF_INTERVAL = re.compile(r"^\s*([\d\.]+)\s*-\s*([\d\.]+)\s*$")
_REF_INT = re.compile(r"\d+")


def _ref_interval(s):
    m = _REF_INTERVAL.match(s.strip()) if isinstance(s, str) else None
    if not m:
        return None
    try:
        a, b = float(m.group(1)), float(m.group(2))
    except ValueError:
        return None
    return None if a > b else (a, b)


def _ref_grounding(pred: str, gt: str, out) -> float:
    print(f"Prediction: {pred[:60]}\nGround Truth: {gt}", file=out)
    p, g = _ref_interval(pred), _ref_interval(gt)
    if p is None or g is None:
        print("Failed to parse prediction or ground truth. Score: 0.0", file=out)
        return 0.0
    inter = max(0.0, min(p[1], g[1]) - max(p[0], g[0]))
    union = (p[1] - p[0]) + (g[1] - g[0]) - inter
    score = (1.0 if inter > 0 else 0.0) if union < 1e-9 else inter / union
    print(f"mIoU Score: {score:.4f}", file=out)
    return score


def _ref_counting(pred: str, gt: str, out) -> float:
    print(f"Model Prediction: '{pred[:60]}'\nGround Truth:     '{gt}'", file=out)
    g = [float(x) for x in gt.split(",")]
    p = [float(x) for x in _REF_INT.findall(pred)]
    if len(p) != len(g):
        print("Final Score: 0.0", file=out)
        return 0.0
    scores = [1.0 if a == b else max(0.0, 1.0 - abs(a - b) / (abs(b) + 1e-9)) for a, b in zip(p, g)]
    score = sum(scores) / len(scores)
    print(f"Final Score: {score:.4f}", file=out)
    return score


def _ref_jigsaw(pred: str, gt: str, out) -> float:
    print(f"{pred[:60]}\nground_truth: {gt}", file=out)
    a, g = pred.strip(), gt.strip()
    if not a or sorted(a) != sorted(g):
        return 0.0
    n = len(g)
    error = sum(abs(a.find(c) - g.find(c)) for c in g)
    return 1.0 - error / (n * n // 2)


_REF = {"videossr_grounding": _ref_grounding, "videossr_counting": _ref_counting, "videossr_jigsaw": _ref_jigsaw,
        "shuffled": _ref_jigsaw}


def reference_score(source: str, pred: str, gt: str, out) -> float:
    """The reference implementation's reward for one answer (its formulas, its parsing, its prints to ``out``)."""
    return _REF[source](pred, gt, out)


def _scorer(mode: str):
    """``compute_score`` as the timing loop calls it: (data_source, answer, ground truth) -> result."""
    def videossr(source: str, answer: str, gt: str) -> dict:
        return compute_score(data_source=source, solution_str=answer, ground_truth=gt, mode=mode)

    return videossr


def _reference(out):
    """The reference's scoring as the timing loop calls it, printing to ``out``."""
    return lambda source, answer, gt: reference_score(source, answer, gt, out)


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
    parser.add_argument("--pure-python", action="store_true",
                        help="time videossr with its C path switched off (what an install without a C compiler runs)")
    args = parser.parse_args()

    import videossr.rewards

    if args.pure_python:
        videossr.rewards._fast_score = None
    built = videossr.rewards._fast_score is not None
    print(f"videossr's C path (videossr/_speedups.c): {'on' if built else 'off: the pure-Python path is timed'}")
    grpo = make_grpo_mix(args.n, args.seed)
    for name, mix in (("GRPO mix (8 answers per question)", [row[:3] for row in grpo]),
                      ("adversarial mix (one answer per question, a third garbage)", make_mix(args.n, args.seed))):
        _report(name, mix, args.mode)
    _report_forms(grpo, args.mode)


def _report_forms(grpo: list[tuple[str, str, str, str]], mode: str) -> None:
    """Microseconds per answer of the GRPO mix, by task and answer form, videossr and the reference (with prints)."""
    parts: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for source, answer, gold, form in grpo:
        task = "jigsaw" if source == "shuffled" else source.removeprefix("videossr_")
        parts.setdefault((task, form), []).append((source, answer, gold))
    videossr = _scorer(mode)
    print("GRPO mix by task and form: share, microseconds per answer (wall), reference / videossr")
    with tempfile.TemporaryFile("w") as log:
        for (task, form), rows in sorted(parts.items(), key=lambda kv: (kv[0][0], FORMS.index(kv[0][1]))):
            # best of three: a part is small, and its first pass pays for warming caches
            ours = min(_time(videossr, rows)[0] for _ in range(3)) / len(rows) * 1e6
            ref = min(_time(_reference(log), rows)[0] for _ in range(3)) / len(rows) * 1e6
            print(f"  {task:<10} {form:<13} {len(rows) / len(grpo):>6.1%}  videossr {ours:6.2f} us  "
                  f"reference {ref:6.2f} us  {ref / ours:5.2f}x")


def _report(name: str, mix: list[tuple[str, str, str]], mode: str) -> None:
    videossr = _scorer(mode)
    sample = [videossr(s, a, g) for s, a, g in mix[:20000]]
    parsed = sum(r["format_ok"] for r in sample) / len(sample)
    with tempfile.TemporaryFile("w") as log:  # where a training worker's prints go: a log file
        runs = {
            "videossr compute_score": _time(videossr, mix),
            "reference, printing to a file": _time(_reference(log), mix),
            "reference, prints removed": _time(_reference(_NullOut), mix),
        }
    base = runs["videossr compute_score"]
    print(f"{name}: {len(mix)} scores ({mode}); videossr parses {parsed:.1%} of the answers")
    for label, (wall, cpu) in runs.items():
        print(f"  {label:<32} {len(mix) / wall:>10,.0f} scores/s wall  {len(mix) / cpu:>10,.0f} per CPU-second")
    for label in list(runs)[1:]:
        wall, cpu = runs[label]
        print(f"  videossr vs {label}: {wall / base[0]:.2f}x the scores per second (wall), {cpu / base[1]:.2f}x (CPU)")


class _NullOut:
    """A stream that drops what is written, without the cost of a file write."""

    @staticmethod
    def write(_text: str) -> int:
        return 0

    @staticmethod
    def flush() -> None:
        pass


if __name__ == "__main__":
    main()
