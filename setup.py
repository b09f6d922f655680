"""Install with `pip install -e .` (data building), `.[test]` (CPU test environment) or `.[gpu]` (training/eval)."""

from setuptools import find_packages, setup

# What building the data needs (CPU), and matplotlib for the diagnostic's figure. torchcodec is optional: the
# sampler falls back to decord / PyAV.
CORE = [
    "numpy>=1.26",
    "pillow>=10",
    "opencv-python-headless>=4.8",
    "pyarrow>=14",
    "pandas>=2",
    "tqdm>=4.66",
    "av>=12",
    "decord>=0.6.0",
    "matplotlib>=3.7",  # the zero-variance diagnostic's histogram (eval/diagnose.py), headless
]

# The CPU test environment: torch/torchvision pinned to CPU-runnable builds (see README), verl without its vLLM
# extra, and a local tiny Qwen3-VL built from a config (no downloads).
TEST = [
    "torch==2.14.1",
    "torchvision==0.29.1",
    "torchcodec==0.17.*",
    "verl==0.9.1",
    "transformers>=5.0",
    "tokenizers",
    "qwen-vl-utils",
    "datasets",
    "cachetools",
    "pytest>=8",
    "pytest-timeout",
    "hypothesis>=6",
]

# GPU boxes (training with verl + vLLM rollouts, vLLM evaluation). verl's vllm extra pins its own torch.
GPU = [
    "verl[vllm]==0.9.1",
    "qwen-vl-utils",
    "cachetools",
]

setup(
    name="videossr",
    version="0.1.0",
    description="Video self-supervised reinforcement learning: verifiable pretext-task data, rewards, GRPO, eval",
    python_requires=">=3.10",
    packages=find_packages(include=["videossr", "videossr.*"]),
    install_requires=CORE,
    extras_require={"test": TEST, "gpu": GPU},
)
