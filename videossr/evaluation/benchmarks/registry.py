"""The published benchmarks by name (case-insensitive): ``get_benchmark("Video-MME")`` -> ``VideoMME``.

Names are the module names (``mvbench``, ``videomme``, ``charades``, ...); a few spellings of the paper's names are
accepted too. ``eval/vqa.py`` / ``eval/vtg.py`` ``--benchmark NAME`` and ``eval/score.py`` look them up here.
"""

from __future__ import annotations

from videossr.evaluation.benchmarks.activitynet import ActivityNetCaptions
from videossr.evaluation.benchmarks.aotbench import AoTBench
from videossr.evaluation.benchmarks.cgbench import CGBench
from videossr.evaluation.benchmarks.charades import CharadesSTA
from videossr.evaluation.benchmarks.cvbench import CVBench
from videossr.evaluation.benchmarks.longvideobench import LongVideoBench
from videossr.evaluation.benchmarks.lvbench import LVBench
from videossr.evaluation.benchmarks.mvbench import MVBench
from videossr.evaluation.benchmarks.published import PublishedBenchmark
from videossr.evaluation.benchmarks.qvhighlights import QVHighlights
from videossr.evaluation.benchmarks.tacos import TACoS
from videossr.evaluation.benchmarks.tempcompass import TempCompass
from videossr.evaluation.benchmarks.timelens import ActivityNetTimeLens, QVHighlightsTimeLens
from videossr.evaluation.benchmarks.vcrbench import VCRBench
from videossr.evaluation.benchmarks.videomme import VideoMME
from videossr.evaluation.benchmarks.videommmu import VideoMMMU
from videossr.evaluation.benchmarks.videott import VideoTT
from videossr.evaluation.benchmarks.vinoground import Vinoground

__all__ = ["PUBLISHED", "get_benchmark", "benchmark_names"]

PUBLISHED: dict[str, type[PublishedBenchmark]] = {
    cls.name: cls for cls in (MVBench, VideoMME, CharadesSTA, LongVideoBench, LVBench, QVHighlightsTimeLens,
                              ActivityNetTimeLens, VCRBench, Vinoground, VideoTT, CGBench,
                              TempCompass, VideoMMMU, QVHighlights, AoTBench, CVBench, ActivityNetCaptions, TACoS)
}
_ALIASES = {"video-mme": "videomme", "charades-sta": "charades", "charades_sta": "charades",
            "timelens_qvhighlights": "qvhighlights_timelens", "timelens_activitynet": "activitynet_timelens",
            "video-tt": "videott", "video_tt": "videott", "cg-bench": "cgbench", "video_mmmu": "videommmu",
            "activitynet_captions": "activitynet", "activitynet-captions": "activitynet", "activitynet captions":
            "activitynet", "cv-bench": "cvbench", "aot-bench": "aotbench"}


def benchmark_names(kind: str | None = None) -> list[str]:
    """The names, all or those of one script ("vqa" or "vtg")."""
    return [n for n, c in PUBLISHED.items() if kind is None or c.kind == kind]


def get_benchmark(name: str) -> type[PublishedBenchmark]:
    """The benchmark class called ``name`` (any case); ValueError naming the choices otherwise."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in PUBLISHED:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(PUBLISHED)}")
    return PUBLISHED[key]
