"""The paper's table in one command: run the chosen benchmarks, then a markdown table, JSON and a bar chart.

``run_suite(model_dir, bench_dir, output_dir, ...)`` runs each chosen benchmark whose folder exists under
``bench_dir`` (``bench_dir/<name>``, the name as ``--benchmark`` takes it; VIUBench: ``bench_dir/viubench/
viubench.parquet``) at each frame budget, into ``output_dir/<name>-<F>f`` (each run resumable, as eval/vqa.py's),
and writes

    OUTPUT_DIR/suite.md     the table in the paper's layout: four categories, each benchmark's headline metric per
                            frame budget (the chosen protocol; the other beside it in the JSON), the average, and the
                            paper's published figures (Qwen3-VL-8B -> VideoSSR-8B) where it gives them
    OUTPUT_DIR/suite.json   the same numbers, both protocols, and which benchmarks were skipped and why
    OUTPUT_DIR/suite.png    a bar chart of the headline metrics, the paper's VideoSSR-8B figures marked beside

A benchmark whose folder is absent is listed as skipped, never dropped silently. The average is the unweighted
mean of the headline metrics of the benchmarks run at that frame budget (the paper's 17-benchmark average is
comparable only when all 17 ran; ``n_in_average`` says how many did).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from videossr.evaluation.benchmarks.registry import get_benchmark
from videossr.evaluation.runner import run_benchmark
from videossr.evaluation.settings import EvalSettings
from videossr.io import atomic_path, write_json_atomic, write_text_atomic

__all__ = ["CATEGORIES", "PAPER", "run_suite", "suite_table"]

logger = logging.getLogger(__name__)

# The paper's four categories and its benchmarks in them (None: not run by this project yet).
CATEGORIES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "General QA": (("MVBench", "mvbench"), ("TempCompass", "tempcompass"), ("AoTBench", "aotbench"),
                   ("Vinoground", "vinoground")),
    "Long video": (("Video-MME", "videomme"), ("LVBench", "lvbench"), ("LongVideoBench", "longvideobench"),
                   ("CG-Bench", "cgbench")),
    "Temporal grounding": (("QVHighlights", "qvhighlights_timelens"), ("ActivityNet Captions", "activitynet_timelens"),
                           ("Charades-STA", "charades"), ("TACoS", "tacos")),
    "Complex reasoning": (("VideoMMMU", "videommmu"), ("Video-TT", "videott"), ("VCRBench", "vcrbench"),
                          ("CVBench", "cvbench")),
    "Pretext tasks": (("VIUBench", "viubench"),),
}
# The paper's figures, (Qwen3-VL-8B, VideoSSR-8B), by benchmark and frame budget (None: VIUBench's own frames).
# Which Vinoground score and which QVHighlights / ActivityNet release the paper used is not stated in it.
PAPER: dict[tuple[str, int | None], tuple[float, float]] = {
    ("vinoground", 64): (45.0, 55.6), ("lvbench", 64): (43.0, 44.0), ("qvhighlights_timelens", 64): (48.6, 62.6),
    ("activitynet_timelens", 64): (39.8, 43.7), ("vcrbench", 64): (8.8, 17.8), ("videomme", 32): (64.1, 65.2),
    ("charades", 32): (50.3, 52.1), ("vcrbench", 32): (7.4, 10.7), ("viubench", None): (19.5, 51.9),
}
ALL = tuple(n for rows in CATEGORIES.values() for _, n in rows if n)


def _title(name: str) -> str:
    return next(t for rows in CATEGORIES.values() for t, n in rows if n == name)


def _run_one(name: str, bench_dir: Path, out: Path, frames: int, settings: dict[str, Any], protocol: str,
             backend_factory: Callable[[int], Any], limit: int | None, run_kwargs: dict[str, Any]) -> dict[str, Any]:
    if name == "viubench":
        from videossr.evaluation.viubench import VIUBench

        bench = VIUBench(bench_dir / "viubench" / "viubench.parquet")
        items = bench.load_items()
        tokens = settings.get("max_new_tokens") or 32
        s = EvalSettings(model=settings["model"], backend=settings["backend"], max_new_tokens=tokens)
    else:
        bench = get_benchmark(name)(bench_dir / name, protocol=protocol)
        items = bench.load_items()
        tokens = settings.get("max_new_tokens") or bench.max_new_tokens
        s = EvalSettings(task=bench.name, model=settings["model"], backend=settings["backend"], fps=settings["fps"],
                         max_frames=frames, min_pixels=settings["min_pixels"], max_pixels=settings["max_pixels"],
                         max_new_tokens=tokens)
    run_only = None if limit is None else [it.id for it in items[:limit]]
    clips = max((len(q.row["videos"]) for q in items), default=1) if name == "viubench" else bench.max_videos_per_prompt
    summary = run_benchmark(bench, items, s, out, backend_factory=lambda: backend_factory(tokens, clips),
                            run_only=run_only, **run_kwargs)
    if name == "viubench":
        value = summary["overall"] if summary["overall"] is not None else summary["overall_present"]
        return {"headline": {"metric": "overall", "value": value}, "scores": None, "n": summary["n"],
                "n_errors": summary["n_errors"], "complete": "incomplete" not in summary}
    return {"headline": summary["headline"], "protocol": summary["protocol"],
            "scores": {p: v.get(summary["headline"]["metric"]) for p, v in summary["scores"].items()},
            "n": summary["n"], "n_errors": summary["n_errors"], "complete": "incomplete" not in summary}


def run_suite(model: str, bench_dir: str | os.PathLike, output_dir: str | os.PathLike, *,
              backend_factory: Callable[[int, int], Any], benchmarks: Sequence[str] = ALL,
              frames: Sequence[int] = (32,), protocol: str = "lmms_eval", backend: str = "vllm", fps: float = 2.0,
              min_pixels: int = 128 * 128, max_pixels: int = 512 * 512, max_new_tokens: int | None = None,
              limit: int | None = None, **run_kwargs: Any) -> dict[str, Any]:
    """Run the suite (see the module docstring); returns what suite.json holds.

    ``backend_factory(max_new_tokens, max_videos_per_prompt)`` builds a backend for one run.
    """
    bench_dir, out = Path(bench_dir), Path(output_dir)
    if not bench_dir.is_dir():
        raise NotADirectoryError(f"the benchmark folder {bench_dir} is not a folder")
    names = []
    for b in benchmarks:
        key = "viubench" if str(b).strip().lower() == "viubench" else get_benchmark(b).name
        if key not in names:
            names.append(key)
    settings = {"model": model, "backend": backend, "fps": fps, "min_pixels": min_pixels, "max_pixels": max_pixels,
                "max_new_tokens": max_new_tokens}
    results: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for name in names:
        where = bench_dir / "viubench" / "viubench.parquet" if name == "viubench" else bench_dir / name
        if not where.exists():
            skipped[name] = f"{where} is absent"
            logger.warning("%s: skipped, %s", name, skipped[name])
            continue
        per_frames = {}
        for f in ([None] if name == "viubench" else frames):
            run_dir = out / (name if f is None else f"{name}-{f}f")
            logger.info("%s%s -> %s", name, "" if f is None else f" at {f} frames", run_dir)
            per_frames["own" if f is None else str(f)] = _run_one(name, bench_dir, run_dir, f or 0, settings,
                                                                  protocol, backend_factory, limit, run_kwargs)
        results[name] = per_frames
    not_run = {t: "not run by this project yet (eval/README.md)" for rows in CATEGORIES.values()
               for t, n in rows if n is None}
    report = {"model": model, "protocol": protocol, "frames": list(frames), "results": results,
              "skipped": skipped, "not_implemented": not_run,
              "paper": {f"{k[0]}@{'own' if k[1] is None else k[1]}": {"qwen3_vl_8b": v[0], "videossr_8b": v[1]}
                        for k, v in PAPER.items()}}
    report["average"] = {}
    for f in frames:
        values = [r[str(f)]["headline"]["value"] for n, r in results.items() if str(f) in r]
        report["average"][str(f)] = {"value": sum(values) / len(values) if values else None,
                                     "n_in_average": len(values)}
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "suite.json", report)
    write_text_atomic(out / "suite.md", suite_table(report))
    _chart(report, out / "suite.png")
    return report


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def suite_table(report: dict[str, Any]) -> str:
    """The markdown table of a suite report: categories, headline per frame budget, the paper's figures."""
    frames = [str(f) for f in report["frames"]]
    head = ["category", "benchmark", "metric", *[f"{f} frames" for f in frames], "paper (Qwen3-VL-8B -> VideoSSR-8B)"]
    lines = [f"Model: {report['model']}; protocol: {report['protocol']}", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cat, rows in CATEGORIES.items():
        for title, name in rows:
            res = report["results"].get(name or "", {})
            if name == "viubench":
                cells = [_fmt(res.get("own", {}).get("headline", {}).get("value"))] + [""] * (len(frames) - 1)
            else:
                cells = [_fmt(res[f]["headline"]["value"]) if f in res else "-" for f in frames]
            metric = next((r["headline"]["metric"] for r in res.values()), "-")
            if name is None:
                cells = ["not run by this project yet"] + [""] * (len(frames) - 1)
            elif name in report["skipped"]:
                cells = ["skipped: folder absent"] + [""] * (len(frames) - 1)
            elif not res:
                cells = ["not chosen"] + [""] * (len(frames) - 1)
            paper = "; ".join(f"{'own frames' if k[1] is None else f'{k[1]}f'}: {v[0]:.1f} -> {v[1]:.1f}"
                              for k, v in PAPER.items() if k[0] == name)
            lines.append("| " + " | ".join([cat, title, metric, *cells, paper]) + " |")
    avg = [_fmt(report["average"][f]["value"]) + f" (n={report['average'][f]['n_in_average']})" for f in frames]
    lines.append("| " + " | ".join(["", "average", "", *avg, "the paper: +5.1 over the 17"]) + " |")
    if report["skipped"]:
        lines += ["", "Skipped (folder absent): " + ", ".join(f"{_title(n)} ({why})" for n, why in
                                                              report["skipped"].items())]
    return "\n".join(lines) + "\n"


def _chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    names = [n for n in ALL if n in report["results"]]
    frames = [str(f) for f in report["frames"]]
    with matplotlib.rc_context({"font.family": "DejaVu Sans", "font.size": 8, "svg.hashsalt": "videossr"}):
        fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(names) + 1.5), 3.4))
        try:
            width = 0.8 / max(1, len(frames))
            for k, f in enumerate(frames):
                xs, ys = [], []
                for i, n in enumerate(names):
                    r = report["results"][n]
                    key = "own" if n == "viubench" else f
                    if key in r and r[key]["headline"]["value"] is not None:
                        xs.append(i - 0.4 + width * (k + 0.5))
                        ys.append(r[key]["headline"]["value"])
                ax.bar(xs, ys, width=width, label=f"{f} frames")
            for i, n in enumerate(names):
                for (pn, pf), (_, ours) in PAPER.items():
                    if pn == n and (pf is None or str(pf) in frames):
                        ax.plot([i], [ours], marker="_", markersize=18, color="black")
            ax.plot([], [], marker="_", color="black", linestyle="", label="paper: VideoSSR-8B")
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels([_title(n) for n in names], rotation=30, ha="right")
            ax.set_ylabel(f"headline metric ({report['protocol']})")
            ax.set_ylim(0, 100)
            ax.legend(fontsize=7)
            fig.tight_layout()
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
        finally:
            plt.close(fig)
