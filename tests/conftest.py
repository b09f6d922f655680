"""Shared test setup: GPU-only tests skip cleanly on machines without a CUDA GPU; slow tests run only when asked."""

from __future__ import annotations

import importlib.util
import logging
import os

import pytest


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # torch missing or broken CUDA runtime: no GPU for us
        return False


def _slow_asked(config) -> bool:
    """Slow tests run with VIDEOSSR_SMOKE=1 or when the -m expression names them (e.g. -m slow)."""
    return os.environ.get("VIDEOSSR_SMOKE") == "1" or "slow" in (config.getoption("markexpr", "") or "")


def pytest_collection_modifyitems(config, items):
    has_cuda = _has_cuda()
    has_vllm = importlib.util.find_spec("vllm") is not None
    slow_asked = _slow_asked(config)
    for item in items:
        if "slow" in item.keywords and not slow_asked:
            item.add_marker(pytest.mark.skip(reason="slow (CPU GRPO smoke step): set VIDEOSSR_SMOKE=1 or -m slow"))
            continue
        if ("gpu" in item.keywords or "vllm" in item.keywords) and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))
        elif "vllm" in item.keywords and not has_vllm:
            item.add_marker(pytest.mark.skip(reason="needs vllm"))


@pytest.fixture(scope="session")
def tiny_qwen3vl(tmp_path_factory):
    """Directory of a tiny random Qwen3-VL (text head_dim 16, seed 0), built once per test session (a few seconds).

    Loads offline with AutoTokenizer / AutoProcessor / AutoModelForImageTextToText.from_pretrained(path).
    """
    from videossr.training.tiny_model import build_tiny_qwen3vl

    return build_tiny_qwen3vl(tmp_path_factory.mktemp("tiny_qwen3vl") / "model")


@pytest.fixture(autouse=True)
def _restore_logging():
    """Scripts' mains configure the root logger (videossr.cli.setup_logging) with the stream of the moment, which
    pytest closes after the test; put the root logger back as it was so later tests do not log to a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
