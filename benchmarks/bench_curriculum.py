"""The online curriculum against the paper's fixed mix, on a synthetic policy, and the data loader's decision lag.

Simulation: every task of the table keeps its real ladder; a synthetic policy answers a question of rung ``r`` at
training step ``t`` correctly with probability

    p(r, t) = sigmoid(a + g * t - d * (r - paper rung))

(``a``: log-odds at the paper's rung at the start, ``g``: learning per step, ``d``: difficulty per rung). Each step
draws ``--groups`` questions per task with ``--rollouts`` rollouts each (reward = strict score = 0/1), at the paper's
rung (the fixed mix) or at the rung the curriculum's controller (``videossr.training.curriculum.Controller``, default
settings) sets, as verl's data loader delivers it: each prompt is drawn at the decisions of the step
``videossr.training.curriculum.loader_lags`` gives for the loader (workers, prompts per loader batch). The figure of
merit is the share of informative groups (rollout rewards not all equal: the ones with a GRPO advantage) over the
run, beside the oracle's (each step, each task at its best rung). Scenarios: ``default`` (starts weak, ends strong:
a = -4, g = 8 / steps, d = 1.5), ``perfect`` (already perfect everywhere: a = 12, g = 0) and ``never`` (never
learns: a = -4, g = 0). Loaders: no workers; verl's default (the recipe's 4 workers, whole-step loader batches);
``CURRICULUM=1``'s (4 workers, ``data.gen_batch_size=1``).

Lag: the real mechanism measured. A ``videossr.training.curriculum.Curriculum`` (its rungs in shared memory) and a
dataset whose items carry the rung they were drawn at, loaded by torchdata's ``StatefulDataLoader`` as verl's v1
trainer builds it (batches of ``gen_batch_size``, ``num_workers`` W, prefetch factor 2); each step takes its batches
at its start, as the sync trainer does, and after step ``s`` the controller moves a rung. Printed per loader: the
share of each following step's prompts drawn at the new rung, measured and as ``loader_lags`` predicts (an upper
bound on the lag: here the workers are faster than the trainer, so every prefetched batch was made before the
decision).

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
from videossr.training.curriculum import Controller, Curriculum, CurriculumSettings, Group, loader_lags

SCENARIOS = {"default": (-4.0, 8.0, 1.5), "perfect": (12.0, 0.0, 1.5), "never": (-4.0, 0.0, 1.5)}


@dataclass
class Run:
    informative: np.ndarray  # steps: share of informative groups (all tasks)
    rungs: dict[str, np.ndarray]  # task -> rung of each step's samples
    moves: int


def simulate(scenario: str, *, curriculum: bool, steps: int, groups: int, rollouts: int, workers: int,
             gen_batch: int | None, seed: int, settings: CurriculumSettings = CurriculumSettings(enable=True)) -> Run:
    """One arm on one policy. The step's prompts (``groups`` per task, the tasks interleaved) come through verl's
    loader with ``workers`` processes and ``gen_batch`` prompts per loader batch (None: the whole step): each prompt
    is drawn at the rungs decided after the step ``loader_lags`` gives for its place in the step."""
    a, gain, d = SCENARIOS[scenario]
    g = gain / steps
    rng = np.random.default_rng(seed)  # the same stream for both arms: they differ only in the rungs
    ladders = {t.name: [r.label for r in t.ladder] for t in TASKS.values()}
    tasks = list(ladders)
    paper = {t.name: t.paper_rung() for t in TASKS.values()}
    lags = loader_lags(groups * len(tasks), gen_batch, workers)
    ctrl = Controller(ladders, paper, settings)
    history = [dict(paper)]  # rungs after step 0, 1, ...
    informative = np.zeros(steps)
    drawn = {t: np.zeros(steps) for t in ladders}
    for t in range(1, steps + 1):
        batch = []
        for i, lag in enumerate(lags):
            task = tasks[i % len(tasks)]
            r = history[max(0, t - lag)][task] if curriculum else paper[task]
            p = 1.0 / (1.0 + math.exp(-(a + g * t - d * (r - paper[task]))))
            scores = tuple(float(x) for x in rng.random(rollouts) < p)
            batch.append(Group(task, r, scores, scores))
        for task in tasks:
            drawn[task][t - 1] = np.mean([gr.rung for gr in batch if gr.task == task])
        informative[t - 1] = np.mean([max(gr.rewards) != min(gr.rewards) for gr in batch])
        if curriculum:
            ctrl.observe(t, batch)
        history.append(dict(ctrl.rung))
    return Run(informative, drawn, len(ctrl.moves))


def oracle(scenario: str, *, steps: int, rollouts: int) -> float:
    """The best possible share: each step, each task at the rung with the highest chance of an informative group."""
    a, gain, d = SCENARIOS[scenario]
    total = 0.0
    for t in range(1, steps + 1):
        for task in TASKS.values():
            ps = [1.0 / (1.0 + math.exp(-(a + gain / steps * t - d * (r - task.paper_rung()))))
                  for r in range(len(task.ladder))]
            total += max(1.0 - p ** rollouts - (1.0 - p) ** rollouts for p in ps)
    return total / (steps * len(TASKS))


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


def measure_lag(workers: int, gen_batch: int | None, *, train_batch: int = 16, decide_after: int = 3) -> list[float]:
    """Through StatefulDataLoader with ``workers``: the share of the prompts of each step after a decision (made
    after step ``decide_after``) drawn at the new rung, until a step is all new."""
    from torchdata.stateful_dataloader import StatefulDataLoader

    task = next(iter(TASKS))
    cur = Curriculum(CurriculumSettings(enable=True, hysteresis=1, min_steps=1))
    old = cur.rung(task)
    gen = gen_batch or train_batch
    steps = decide_after + 2 * workers + 3
    loader = StatefulDataLoader(_RungDataset(cur, task, train_batch * (steps + 4)), batch_size=gen,
                                num_workers=workers, **({"prefetch_factor": 2} if workers else {}))
    it = iter(loader)
    shares = []
    for step in range(1, steps + 1):
        rungs = [r for _ in range(train_batch // gen) for r in next(it).tolist()]
        if workers:
            time.sleep(0.1)  # the trainer's step: long enough for the workers to fill their prefetch queue
        if step == decide_after:
            cur.observe(step, [Group(task, old, (0.0,) * 4, (0.0,) * 4)])  # all wrong: one rung down
        elif step > decide_after:
            shares.append(sum(r == old - 1 for r in rungs) / len(rungs))
            if shares[-1] == 1.0:
                return shares
    raise RuntimeError(f"no step all at the new rung within {steps} steps")


def predicted_shares(workers: int, gen_batch: int | None, train_batch: int = 16) -> list[float]:
    lags = loader_lags(train_batch, gen_batch, workers)
    return [sum(lag <= k for lag in lags) / len(lags) for k in range(1, max(lags) + 1)]


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
    top.set_title("Synthetic policy that starts weak and ends strong, CURRICULUM=1's loader: groups with a learning signal",
                  fontsize=10)
    for k, (task, rungs) in enumerate(cur.rungs.items()):
        bottom.step(x, rungs - paper[task] + 0.04 * (k - 1), where="post", label=f"{task} (curriculum)")
    bottom.axhline(0, color="tab:gray", linestyle="--", label="fixed mix: the paper's rung")
    bottom.set_ylabel("rung of the samples\n(0 = the paper's)")
    bottom.set_xlabel("training step")
    bottom.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


LOADERS = {  # name -> (workers, gen_batch_size)
    "no workers": (0, None),
    "verl default": (4, None),
    "CURRICULUM=1": (4, 1),
}


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
    print(f"{'scenario':<9} {'loader':<13} {'lag':>5} {'fixed':>6} {'curric.':>7} {'ratio':>6} {'oracle':>6} "
          f"{'ratio':>6} {'moves':>5}  final rungs (paper = {({t.name: t.paper_rung() for t in TASKS.values()})})")
    runs = {}
    for scenario in SCENARIOS:
        fixed = simulate(scenario, curriculum=False, workers=0, gen_batch=None, **common)
        best = oracle(scenario, steps=args.steps, rollouts=args.rollouts)
        for name, (workers, gen_batch) in LOADERS.items():
            cur = simulate(scenario, curriculum=True, workers=workers, gen_batch=gen_batch, **common)
            runs[(scenario, name)] = (fixed, cur)
            lags = loader_lags(args.groups * len(TASKS), gen_batch, workers)
            f, c = fixed.informative.mean(), cur.informative.mean()
            ratio, best_ratio = ((f"{c / f:.2f}x", f"{best / f:.2f}x") if f >= 0.01 else ("-", "-"))  # no ratio of ~0
            final = {t: int(r[-1]) for t, r in cur.rungs.items()}
            print(f"{scenario:<9} {name:<13} {sum(lags) / len(lags):>5.2f} {f:>6.3f} {c:>7.3f} {ratio:>6} "
                  f"{best:>6.3f} {best_ratio:>6} {cur.moves:>5}  {final}")
    if args.figure:
        fixed, cur = runs[("default", "CURRICULUM=1")]
        figure(args.figure, fixed, cur, args.steps)
        print(f"figure: {args.figure}")
    if not args.no_lag_measure:
        print("decision -> samples through torchdata's StatefulDataLoader (prefetch_factor 2, 16 prompts per step): "
              "share of each following step's prompts at the new rung, measured | loader_lags")
        for workers, gen_batch in ((0, None), (1, None), (2, None), (4, None), (4, 8), (4, 4), (4, 1)):
            got = measure_lag(workers, gen_batch)
            want = predicted_shares(workers, gen_batch)
            print(f"  num_workers {workers}, gen_batch_size {gen_batch or 16:>2}: "
                  f"{' '.join(f'{x:.2f}' for x in got)} | {' '.join(f'{x:.2f}' for x in want)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
