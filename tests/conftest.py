"""Shared test setup: GPU-only tests skip cleanly on machines without a CUDA GPU."""

from __future__ import annotations

import importlib.util

import pytest


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # torch missing or broken CUDA runtime: no GPU for us
        return False


def pytest_collection_modifyitems(config, items):
    has_cuda = _has_cuda()
    has_vllm = importlib.util.find_spec("vllm") is not None
    for item in items:
        if ("gpu" in item.keywords or "vllm" in item.keywords) and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))
        elif "vllm" in item.keywords and not has_vllm:
            item.add_marker(pytest.mark.skip(reason="needs vllm"))
