"""The online curriculum against the paper's fixed mix, on a synthetic policy, and the data loader's decision lag.

Simulation: every task of the table keeps its real ladder; a synthetic policy answers a question of rung ``r`` at
training step ``t`` correctly with probability

    p(r, t) = sigmoid(a + g * t - d * (r - paper rung))

(``a``: log-odds at the paper's rung at the start, ``g``: learning per step, ``d``: difficulty per rung). Each step
draws ``--groups`` questions per task with ``--rollouts`` rollouts each (reward = strict score = 0/1), at the paper's
rung (the fixed mix) or at the rung the curriculum's controller (``videossr.training.curriculum.Controller``, default
settings) sets; the samples of step ``t`` are drawn at the rung decided after step ``t - lag`` (``--lag``: 1 without
data-loader workers; verl's prefetch makes it larger, see below). The figure of merit is the share of informative
groups (rollout rewards not all equal: the ones with a GRPO advantage) over the run. Scenarios: ``default`` (starts
weak, ends strong: a = -4, g = 8 / steps, d = 1.5), ``perfect`` (already perfect everywhere: a = 12, g = 0) and
``never`` (never learns: a = -4, g = 0).

Lag: the real mechanism measured. A ``videossr.training.curriculum.Curriculum`` (its rungs in shared memory) and a
dataset whose items carry the rung they were drawn at, loaded by torchdata's ``StatefulDataLoader`` as verl builds it
(batch per step, ``num_workers`` W, prefetch factor 2); one batch is fetched per step, as verl's sync trainer does,
and after step ``s`` the controller moves a rung. Lag = first step whose samples carry the new rung - ``s``: the
upper bound (workers faster than the trainer, so every prefetched batch was made before the decision).

Usage::

    python benchmarks/bench_curriculum.py [--steps 300] [--groups 16] [--rollouts 8] [--seed 0]
                                          [--figure assets/curriculum_simulation.png]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from videossr.tasks import TASKS
from videossr.training.curriculum import Controller, Curriculum, CurriculumSettings, Group

SCENARIOS = {"default": (-4.0, 8.0, 1.5), "perfect": (12.0, 0.0, 1.5), "never": (-4.0, 0.0, 1.5)}


@dataclass
class Run:
    informative: np.ndarray  # steps: share of informative groups (all tasks)
    rungs: dict[str, np.ndarray]  # task -> rung of each step's samples
    moves: int


def simulate(scenario: str, *, curriculum: bool, steps: int, groups: int, rollouts: int, lag: int, seed: int,
             settings: CurriculumSettings = CurriculumSettings(enable=True)) -> Run:
    a, gain, d = SCENARIOS[scenario]
    g = gain / steps
    rng = np.random.default_rng(seed)  # the same stream for both arms: they differ only in the rungs
    ladders = {t.name: [r.label for r in t.ladder] for t in TASKS.values()}
    paper = {t.name: t.paper_rung() for t in TASKS.values()}
    ctrl = Controller(ladders, paper, settings)
    history = [dict(paper)]  # rungs after step 0, 1, ...
    informative = np.zeros(steps)
    drawn = {t: np.zeros(steps, dtype=int) for t in ladders}
    for t in range(1, steps + 1):
        at = history[max(0, t - lag)] if curriculum else paper
        batch = []
        for task in ladders:
            r = at[task]
            p = 1.0 / (1.0 + math.exp(-(a + g * t - d * (r - paper[task]))))
            wins = rng.random((groups, rollouts)) < p
            for row in wins:
                scores = tuple(float(x) for x in row)
                batch.append(Group(task, r, scores, scores))
            drawn[task][t - 1] = r
        informative[t - 1] = np.mean([max(gr.rewards) != min(gr.rewards) for gr in batch])
        if curriculum:
            ctrl.observe(t, batch)
        history.append(dict(ctrl.rung))
    return Run(informative, drawn, len(ctrl.moves))


# ----------------------------------------------------------------------------------------------------------------
# The decision lag through torchdata's StatefulDataLoader


class _RungDataset:
    """Items that carry the rung their task was at when the item was made (no pixels: the loader's mechanism only)."""

    def __init__(self, cur: Curriculum, task: str, size: int) -> None:
        self.cur, self.task, self.size = cur, task, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> int:
        return self.cur.rung(self.task)


def measure_lag(workers: int, *, batch: int = 4, decide_after: int = 3, steps: int = 20) -> int:
    """Steps from a decision to the first batch drawn at the new rung, through StatefulDataLoader with ``workers``."""
    from torchdata.stateful_dataloader import StatefulDataLoader

    task = next(iter(TASKS))
    cur = Curriculum(CurriculumSettings(enable=True, hysteresis=1, min_steps=1))
    old = cur.rung(task)
    loader = StatefulDataLoader(_RungDataset(cur, task, batch * (steps + 2)), batch_size=batch, num_workers=workers,
                                **({"prefetch_factor": 2} if workers else {}))
    it = iter(loader)
    for step in range(1, steps + 1):
        rungs = next(it).tolist()
        if workers:
            time.sleep(0.05)  # the trainer's step: long enough for the workers to fill their prefetch queue
        if step == decide_after:
            cur.observe(step, [Group(task, old, (0.0,) * 4, (0.0,) * 4)])  # all wrong: one rung down
        elif step > decide_after and all(r == old - 1 for r in rungs):
            return step - decide_after
    raise RuntimeError(f"no batch at the new rung within {steps} steps")


# ----------------------------------------------------------------------------------------------------------------


def _smooth(x: np.ndarray, k: int = 10) -> np.ndarray:
    return np.convolve(x, np.ones(k) / k, mode="valid")


def figure(path: str, fixed: Run, cur: Run, steps: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paper = {t.name: t.paper_rung() for t in TASKS.values()}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    x = np.arange(1, steps + 1)
    xs = x[len(x) - len(_smooth(fixed.informative)):]
    top.plot(xs, _smooth(fixed.informative), label=f"fixed paper mix (mean {fixed.informative.mean():.2f})",
             color="tab:gray")
    top.plot(xs, _smooth(cur.informative), label=f"curriculum (mean {cur.informative.mean():.2f})", color="tab:blue")
    top.set_ylabel("informative groups\n(10-step mean)")
    top.set_ylim(0, 1.02)
    top.legend(loc="lower center")
    top.set_title("Synthetic policy that starts weak and ends strong: GRPO groups with a learning signal")
    for k, (task, rungs) in enumerate(cur.rungs.items()):
        bottom.step(x, rungs - paper[task] + 0.04 * (k - 1), where="post", label=f"{task} (curriculum)")
    bottom.axhline(0, color="tab:gray", linestyle="--", label="fixed mix: the paper's rung")
    bottom.set_ylabel("rung of the samples\n(0 = the paper's)")
    bottom.set_xlabel("training step")
    bottom.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--groups", type=int, default=16, help="questions per task per step")
    parser.add_argument("--rollouts", type=int, default=8, help="GRPO group size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", default=None, help="write the default scenario's figure (PNG) here")
    parser.add_argument("--no-lag-measure", action="store_true", help="skip the data loader measurement")
    args = parser.parse_args(argv)

    common = dict(steps=args.steps, groups=args.groups, rollouts=args.rollouts, seed=args.seed)
    s = CurriculumSettings(enable=True)
    print(f"curriculum vs the paper's fixed mix: {args.steps} steps, {len(TASKS)} tasks x {args.groups} groups x "
          f"{args.rollouts} rollouts per step; controller band {s.low:g}-{s.high:g}, hysteresis {s.hysteresis}, "
          f"min_steps {s.min_steps}")
    print(f"{'scenario':<9} {'lag':>3} {'fixed':>7} {'curric.':>8} {'ratio':>6} {'moves':>6}  final rungs (paper = "
          f"{ {t.name: t.paper_rung() for t in TASKS.values()} })")
    runs = {}
    for scenario in SCENARIOS:
        fixed = simulate(scenario, curriculum=False, lag=1, **common)
        for lag in (1, 9):
            cur = simulate(scenario, curriculum=True, lag=lag, **common)
            runs[(scenario, lag)] = (fixed, cur)
            f, c = fixed.informative.mean(), cur.informative.mean()
            ratio = f"{c / f:.2f}x" if f >= 0.01 else "-"  # no ratio of near-zero shares
            final = {t: int(r[-1]) for t, r in cur.rungs.items()}
            print(f"{scenario:<9} {lag:>3} {f:>7.3f} {c:>8.3f} {ratio:>6} {cur.moves:>6}  {final}")
    if args.figure:
        fixed, cur = runs[("default", 1)]
        figure(args.figure, fixed, cur, args.steps)
        print(f"figure: {args.figure}")
    if not args.no_lag_measure:
        print("decision -> samples lag through torchdata's StatefulDataLoader (prefetch_factor 2), in steps:")
        for workers in (0, 1, 2, 4):
            print(f"  num_workers {workers}: {measure_lag(workers)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
