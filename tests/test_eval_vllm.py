"""The vLLM backend on a tiny random Qwen3-VL (text head_dim 64, a size vLLM kernels support).

Runs only where vllm and a CUDA GPU are present (tests/conftest.py skips it otherwise). Checks that vLLM sees the same
prompt as the HF backend (same token count: same text, same video tokens and timestamps), that the CLI runs end to
end with resume, and data parallelism when two GPUs are visible. Without a GPU, tests/test_eval_vllm_cpu.py (slow)
runs the four evaluation scripts on vLLM's CPU build and compares their answers with the HF backend's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videossr.evaluation import cli
from videossr.evaluation.backends import HFBackend, VLLMBackend, chat_messages, vllm_prompt
from videossr.evaluation.inputs import load_eval_video
from videossr.evaluation.items import EvalItem
from videossr.evaluation.benchmarks import build_request
from videossr.io import read_jsonl

pytestmark = pytest.mark.vllm

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
SMALL = ["--max-frames", "8", "--max-pixels", str(128 * 128), "--min-pixels", str(64 * 64), "--max-new-tokens", "8"]


@pytest.fixture(scope="module")
def tiny64(tmp_path_factory):
    from videossr.training.tiny_model import build_tiny_qwen3vl

    return build_tiny_qwen3vl(tmp_path_factory.mktemp("tiny64") / "model", text_head_dim=64, dtype="bfloat16")


@pytest.fixture(scope="module")
def engine(tiny64):
    backend = VLLMBackend(tiny64, max_new_tokens=8, max_model_len=4096, data_parallel_size=1,
                          gpu_memory_utilization=0.3)
    yield backend
    backend.close()


def _requests():
    reqs = []
    for k, name in enumerate(["bigbuckbunny.mp4", "cityCC0.mpg"]):
        v = load_eval_video(DEMO / name, fps=2, max_frames=8, min_pixels=64 * 64, max_pixels=128 * 128)
        reqs.append(build_request("vtg", EvalItem(str(k), name, "Something happens.", "1.0-2.0"), v))
    return reqs


def test_vllm_sees_the_hf_prompt(tiny64, engine):
    import torch

    reqs = _requests()
    hf = HFBackend(tiny64, max_new_tokens=8, batch_size=1, device="cpu", dtype="float32")
    for req in reqs:
        text = hf.processor.apply_chat_template(chat_messages(req), tokenize=False, add_generation_prompt=True)
        v = req.videos[0]
        hf_ids = hf.processor(text=[text], videos=[v.array()], video_metadata=[v.metadata()],
                              do_sample_frames=False, do_resize=False, return_tensors="pt")["input_ids"][0]
        out = engine._llm.generate([vllm_prompt(engine.processor, req)], engine._params, use_tqdm=False)[0]
        assert len(out.prompt_token_ids) == len(hf_ids)
        assert torch.equal(torch.tensor(out.prompt_token_ids), hf_ids)
    texts = engine.generate(reqs)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    assert engine.generate(reqs) == texts  # greedy: deterministic


def test_vllm_cli_end_to_end(tiny64, tmp_path, capsys):
    data = tmp_path / "vtg.json"
    data.write_text(json.dumps([
        {"video": "bigbuckbunny", "question": "The rabbit appears.", "answer": "1.0-3.0"},
        {"video": "cityCC0", "question": "A car passes.", "answer": "0.5-6.0"},
        {"video": "missing", "question": "Nothing.", "answer": "0.0-1.0"},
    ]))
    argv = ["--model", str(tiny64), "--data", str(data), "--video-dir", str(DEMO), "--output-dir", str(tmp_path / "o"),
            "--backend", "vllm", "--max-model-len", "4096", "--gpu-memory-utilization", "0.3", *SMALL]
    assert cli.main("vtg", argv) == 1  # one item has no video
    assert "generated 2 items" in capsys.readouterr().out
    recs = read_jsonl(tmp_path / "o" / "results.jsonl")
    assert len(recs) == 3 and sum(r["error_kind"] == "missing_video" for r in recs) == 1
    assert all(isinstance(r["raw_output"], str) for r in recs if not r["error"])
    assert cli.main("vtg", argv) == 1
    assert "generated 0 items" in capsys.readouterr().out


def test_vllm_data_parallel_matches_single_engine(tiny64, engine):
    import torch

    if torch.cuda.device_count() < 2:
        pytest.skip("data parallelism needs two GPUs")
    reqs = _requests() * 3
    dp = VLLMBackend(tiny64, max_new_tokens=8, max_model_len=4096, data_parallel_size=2, gpus=["0", "1"],
                     gpu_memory_utilization=0.3)
    try:
        assert dp.generate(reqs) == engine.generate(reqs)
    finally:
        dp.close()


def test_vllm_sampling_n_per_prompt_seeded(engine):
    from videossr.evaluation.backends import Sampling, sample_texts

    reqs = _requests()
    sampling = Sampling(n=3, temperature=1.0)
    a = sample_texts(engine, reqs, sampling, [1, 2])
    assert [len(t) for t in a] == [3, 3]
    assert sample_texts(engine, reqs, sampling, [1, 2]) == a  # per-prompt seeds: the same batch draws the same
    assert sample_texts(engine, reqs, Sampling(n=2, temperature=0.0), [1, 2]) == [[t] * 2 for t in engine.generate(reqs)]


def test_vllm_diagnose_cli(tiny64, tmp_path, capsys):
    from videossr.datasets.build import BuildConfig, build
    from support.frames import make_frame_store

    make_frame_store(tmp_path / "frames", num_videos=2, num_frames=48, width=64, height=48)
    build(BuildConfig(output_dir=tmp_path / "b", frames_dir=tmp_path / "frames", num_samples=6), progress=False)
    argv = ["--model", str(tiny64), "--data", str(tmp_path / "b" / "train.parquet"), "--output-dir",
            str(tmp_path / "o"), "--backend", "vllm", "--max-model-len", "4096", "--gpu-memory-utilization", "0.3",
            "--rollouts", "4", "--max-new-tokens", "8", "--max-pixels", "4096"]
    assert cli.main("diagnose", argv) == 0
    recs = read_jsonl(tmp_path / "o" / "results.jsonl")
    assert len(recs) == 6 and all(len(r["rewards"]) == 4 for r in recs)
    assert "zero-var%" in capsys.readouterr().out
