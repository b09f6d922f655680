"""End-to-end evaluation on CPU: both CLIs with the HF backend and a tiny random Qwen3-VL on the real demo clips,
plus path safety, honest metrics arithmetic, resume, the shared prompt/timestamps, and the OpenAI-compatible HTTP
backend against a local server."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from videossr.tasks.answers import parse_interval
from videossr.evaluation import cli
from videossr.evaluation.backends import HFBackend, OpenAIBackend, chat_messages
from videossr.evaluation.benchmarks import build_request
from videossr.evaluation.choice import extract_choice
from videossr.evaluation.inputs import Request, eval_sample_times, frames_from_list, load_eval_video, resized_size
from videossr.evaluation.items import EvalItem, UnsafeVideoId, load_items, resolve_video
from videossr.evaluation.metrics import RECALL_THRESHOLDS, accuracy_summary, grounding_summary
from videossr.evaluation.runner import EvalSettings, run_eval
from videossr.io import read_jsonl
from videossr.tasks.metrics import temporal_iou
from support.chat_server import ChatServer, text_reply

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"
SMALL = ["--max-frames", "4", "--max-pixels", str(64 * 64), "--min-pixels", str(32 * 32), "--max-new-tokens", "8"]


@pytest.fixture()
def video_dir(tmp_path):
    """Demo clips under a video folder, a broken file, and a secret file outside it that must never be opened."""
    d = tmp_path / "videos"
    d.mkdir()
    shutil.copy(DEMO / "bigbuckbunny.mp4", d / "bigbuckbunny.mp4")
    shutil.copy(DEMO / "cityCC0.mpg", d / "cityCC0.mpg")
    (d / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 4)
    (tmp_path / "secret.mp4").write_bytes(b"outside")
    (d / "link.mp4").symlink_to(tmp_path / "secret.mp4")
    return d


def _write_json(path: Path, items: list[dict]) -> Path:
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


VQA_ITEMS = [
    {"id": "q1", "video": "bigbuckbunny", "question": "What animal is shown?\nA. a rabbit\nB. a whale\nC. a car\nD. a tree",
     "answer": "A", "category": "animals"},
    {"id": "q2", "video": "cityCC0", "question": "Where is this filmed?", "options": ["a city", "a forest", "a desert"],
     "answer": "A", "category": "places"},
    {"id": "q3", "video": "bigbuckbunny.mp4", "question": "Is it day or night?\nA. day\nB. night", "answer": "B",
     "category": "animals"},
    {"id": "q4", "video": "missing_clip", "question": "Anything?\nA. yes\nB. no", "answer": "A", "category": "places"},
    {"id": "q5", "video": "../secret", "question": "Anything?\nA. yes\nB. no", "answer": "A", "category": "places"},
    {"id": "q6", "video": "broken", "question": "Anything?\nA. yes\nB. no", "answer": "B", "category": "places"},
]


def _run_cli(task, capsys, model, data, video_dir, out, *extra, code=0):
    argv = ["--model", str(model), "--data", str(data), "--video-dir", str(video_dir), "--output-dir", str(out),
            "--backend", "hf", *SMALL, *extra]
    assert cli.main(task, argv) == code
    return capsys.readouterr().out


def _printed(out: str, label: str) -> float:
    m = re.search(rf"^{re.escape(label)}\s+([0-9.]+)", out, re.M)
    assert m, f"no {label!r} line in:\n{out}"
    return float(m.group(1))


def test_vqa_cli_end_to_end_and_resume(tiny_qwen3vl, video_dir, tmp_path, capsys):
    data = _write_json(tmp_path / "vqa.json", VQA_ITEMS)
    out = tmp_path / "out_vqa"
    printed = _run_cli("vqa", capsys, tiny_qwen3vl, data, video_dir, out, code=1)  # 1: some items failed

    recs = read_jsonl(out / "results.jsonl")
    assert sorted(r["id"] for r in recs) == ["q1", "q2", "q3", "q4", "q5", "q6"]
    kinds = {r["id"]: r["error_kind"] for r in recs}
    assert kinds == {"q1": None, "q2": None, "q3": None, "q4": "missing_video", "q5": "unsafe_id", "q6": "decode_error"}
    gold = {it["id"]: it["answer"] for it in VQA_ITEMS}
    items = {it.id: it for it in load_items(data)}
    for r in recs:
        assert r["settings"]["backend"] == "hf" and r["settings"]["max_frames"] == 4
        if r["error"]:
            assert r["score"] == 0.0 and r["raw_output"] is None
            continue
        assert isinstance(r["raw_output"], str)
        assert r["parsed"] == extract_choice(r["raw_output"], items[r["id"]].options())
        assert r["score"] == float(r["parsed"] == gold[r["id"]])

    summary = json.loads((out / "summary.json").read_text())
    m = summary["metrics"]
    scores = [r["score"] for r in recs]
    unparsable = [r for r in recs if not r["error"] and r["parsed"] is None]
    assert unparsable, "the random tiny model is expected to produce at least one unparsable answer"
    assert all(r["score"] == 0.0 for r in unparsable)
    assert m["n"] == 6 and m["n_errors"] == 3 and m["n_unparsable"] == len(unparsable)
    assert m["errors_by_kind"] == {"decode_error": 1, "missing_video": 1, "unsafe_id": 1}
    assert m["n_correct"] == sum(scores)
    assert m["accuracy"] == pytest.approx(sum(scores) / 6)  # errors and unparsable stay in the denominator
    assert m["accuracy_excluding_errors"] == pytest.approx(sum(r["score"] for r in recs if not r["error"]) / 3)
    for cat in ("animals", "places"):
        rs = [r for r in recs if r["category"] == cat]
        assert m["per_category"][cat]["n"] == len(rs)
        assert m["per_category"][cat]["accuracy"] == pytest.approx(sum(r["score"] for r in rs) / len(rs))
    assert _printed(printed, "accuracy") == pytest.approx(round(100 * m["accuracy"], 2))
    assert _printed(printed, "unparsable") == m["n_unparsable"]
    assert "generated 3 items" in printed

    # Resume: nothing is generated again; the file is unchanged.
    before = (out / "results.jsonl").read_bytes()
    printed2 = _run_cli("vqa", capsys, tiny_qwen3vl, data, video_dir, out, code=1)
    assert "generated 0 items" in printed2
    assert (out / "results.jsonl").read_bytes() == before
    assert json.loads((out / "summary.json").read_text())["metrics"] == m

    # An interrupted append: the last finished line is lost and a torn fragment remains.
    lines = before.decode().splitlines(keepends=True)
    last = json.loads(lines[-1])
    (out / "results.jsonl").write_text("".join(lines[:-1]) + '{"id": "q', encoding="utf-8")
    printed3 = _run_cli("vqa", capsys, tiny_qwen3vl, data, video_dir, out, code=1)
    recs3 = read_jsonl(out / "results.jsonl")
    assert len(recs3) == 6 and all(line.startswith("{") for line in (out / "results.jsonl").read_text().splitlines())
    redone = next(r for r in recs3 if r["id"] == last["id"])
    assert redone["raw_output"] == last["raw_output"]  # greedy decoding is deterministic
    assert ("generated 1 items" in printed3) == (last["error"] is None)

    # Other settings in the same output dir are refused.
    with pytest.raises(ValueError, match="other settings"):
        cli.main("vqa", ["--model", str(tiny_qwen3vl), "--data", str(data), "--video-dir", str(video_dir),
                         "--output-dir", str(out), "--backend", "hf", *SMALL[:-2], "--max-new-tokens", "9"])


VTG_ITEMS = [
    {"video": "bigbuckbunny", "question": "The rabbit appears.", "answer": "1.0-3.0"},
    {"video": "cityCC0", "question": "A car passes.", "answer": [0.5, 6.0]},
    {"video": "nope", "question": "Nothing.", "answer": "0.0-1.0"},
    {"video": "/etc/passwd", "question": "Nothing.", "answer": "0.0-1.0"},
]


def test_vtg_cli_end_to_end(tiny_qwen3vl, video_dir, tmp_path):
    data = tmp_path / "vtg.jsonl"
    data.write_text("".join(json.dumps(it) + "\n" for it in VTG_ITEMS))
    out = tmp_path / "out_vtg"
    # as a user runs it: the script, from the repository root, in its own process
    proc = subprocess.run(
        [sys.executable, "eval/vtg.py", "--model", str(tiny_qwen3vl), "--data", str(data), "--video-dir",
         str(video_dir), "--output-dir", str(out), "--backend", "hf", *SMALL, "--batch-size", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]  # 1: two items have no usable video
    printed = proc.stdout
    assert "generated 2 items" in printed
    recs = {r["id"]: r for r in read_jsonl(out / "results.jsonl")}
    assert sorted(recs) == ["0", "1", "2", "3"]
    assert recs["2"]["error_kind"] == "missing_video" and recs["3"]["error_kind"] == "unsafe_id"
    golds = {"0": (1.0, 3.0), "1": (0.5, 6.0)}
    for k, g in golds.items():
        iv = parse_interval(recs[k]["raw_output"])
        assert recs[k]["parsed"] == (None if iv is None else list(iv))
        assert recs[k]["score"] == pytest.approx(0.0 if iv is None else temporal_iou(iv, g))
    ious = [recs[k]["score"] for k in sorted(recs)]
    m = json.loads((out / "summary.json").read_text())["metrics"]
    assert m["n"] == 4 and m["n_errors"] == 2
    assert m["miou"] == pytest.approx(sum(ious) / 4)
    for t in RECALL_THRESHOLDS:
        assert m[f"r@{t}"] == pytest.approx(sum(i >= t for i in ious) / 4)
    assert _printed(printed, "mIoU") == pytest.approx(round(100 * m["miou"], 2))
    assert _printed(printed, "R@0.5") == pytest.approx(round(100 * m["r@0.5"], 2))
    assert _printed(printed, "unparsable") == m["n_unparsable"]


def test_video_ids_are_resolved_safely(video_dir):
    assert resolve_video(video_dir, "bigbuckbunny") == (video_dir / "bigbuckbunny.mp4").resolve()
    assert resolve_video(video_dir, "cityCC0") == (video_dir / "cityCC0.mpg").resolve()
    assert resolve_video(video_dir, "cityCC0.mpg") == (video_dir / "cityCC0.mpg").resolve()
    for bad in ["../secret", "a/../../secret", "/etc/passwd", "C:\\x", "..\\secret", "link"]:
        with pytest.raises(UnsafeVideoId):
            resolve_video(video_dir, bad)
    with pytest.raises(FileNotFoundError, match="nothing_here"):
        resolve_video(video_dir, "nothing_here")


def test_load_items_ids_and_errors(tmp_path):
    items = load_items(_write_json(tmp_path / "a.json", VQA_ITEMS), limit=2)
    assert [it.id for it in items] == ["q1", "q2"]
    assert items[1].options() == {"A": "a city", "B": "a forest", "C": "a desert"}
    assert items[0].options()["D"] == "a tree"
    with pytest.raises(ValueError, match="duplicate item id 'x'"):
        load_items(_write_json(tmp_path / "b.json", [{"id": "x", "video": "v", "question": "q", "answer": "A"}] * 2))
    with pytest.raises(ValueError, match="no 'answer'"):
        load_items(_write_json(tmp_path / "c.json", [{"video": "v", "question": "q"}]))


def test_bad_gold_fails_before_generation(tmp_path):
    item = EvalItem("1", "v", "q", "not an interval")
    with pytest.raises(ValueError, match="item 1"):
        run_eval("vtg", [item], EvalSettings(model="m", backend="hf"), tmp_path / "o", video_dir=tmp_path,
                 backend_factory=lambda: pytest.fail("no backend may be built"))


def test_metrics_arithmetic_by_hand():
    recs = [
        {"id": "a", "score": 1.0, "parsed": "A", "error": None, "category": "x"},
        {"id": "b", "score": 0.0, "parsed": None, "error": None, "category": "x"},
        {"id": "c", "score": 0.0, "parsed": None, "error": "gone", "error_kind": "missing_video", "category": "y"},
        {"id": "d", "score": 1.0, "parsed": "C", "error": None, "category": "y"},
    ]
    m = accuracy_summary(recs, "category")
    assert (m["accuracy"], m["accuracy_excluding_errors"], m["n_unparsable"], m["n_errors"]) == (0.5, 2 / 3, 1, 1)
    assert m["per_category"] == {"x": {"n": 2, "n_correct": 1, "accuracy": 0.5}, "y": {"n": 2, "n_correct": 1, "accuracy": 0.5}}
    g = grounding_summary([{**r, "score": s} for r, s in zip(recs, [0.8, 0.0, 0.0, 0.4])], None)
    assert g["miou"] == pytest.approx(0.3) and g["r@0.3"] == 0.5 and g["r@0.5"] == 0.25 and g["r@0.7"] == 0.25
    assert g["per_category"] == {}


def test_eval_frames_sit_on_the_video_clock():
    times = eval_sample_times(5.312, fps=2, max_frames=4)
    assert times == pytest.approx([0.664, 1.992, 3.32, 4.648])
    assert len(eval_sample_times(5.312, fps=2, max_frames=64)) == 10  # round(10.6) = 11 -> even 10
    from videossr.sampling.video import probe

    for name, size in (("bigbuckbunny.mp4", (720, 1280)), ("cityCC0.mpg", (405, 720))):
        v = load_eval_video(DEMO / name, fps=2, max_frames=4, min_pixels=32 * 32, max_pixels=64 * 64)
        asked = eval_sample_times(probe(DEMO / name).duration, fps=2, max_frames=4)
        assert v.fps == pytest.approx(25.0)
        assert len(v.frames) == 4 and (v.height, v.width) == resized_size(*size, min_pixels=1024, max_pixels=4096)
        # each frame is the one on screen at the asked time: at most one source frame earlier
        assert all(-1e-6 <= t - ts < 1 / 25 + 1e-6 for ts, t in zip(v.timestamps, asked)), (v.timestamps, asked)


def test_prompt_carries_true_timestamps(tiny_qwen3vl):
    """The HF path prints each frame pair's source-video time, as the real Qwen3-VL processor does."""
    v = load_eval_video(DEMO / "bigbuckbunny.mp4", fps=2, max_frames=4, min_pixels=32 * 32, max_pixels=64 * 64)
    backend = HFBackend(tiny_qwen3vl, max_new_tokens=2, batch_size=1)
    req = build_request("vtg", EvalItem("1", "bigbuckbunny", "The rabbit appears.", "1.0-3.0"), v)
    text = backend.processor.apply_chat_template(chat_messages(req), tokenize=False, add_generation_prompt=True)
    inputs = backend.processor(text=[text], videos=[v.array()], video_metadata=[v.metadata()],
                               do_sample_frames=False, do_resize=False, return_tensors="pt")
    decoded = backend.processor.tokenizer.decode(inputs["input_ids"][0])
    ts = v.timestamps
    expected = [f"<{(ts[i] + ts[i + 1]) / 2:.1f} seconds>" for i in range(0, 4, 2)]
    assert re.findall(r"<[0-9.]+ seconds>", decoded) == expected
    assert "The rabbit appears." in decoded
    # our frames reach the model unchanged: 4 frames = 2 temporal patches of (h/16) x (w/16)
    assert inputs["video_grid_thw"].tolist() == [[2, v.height // 16, v.width // 16]]


def test_batched_and_single_generation_agree(tiny_qwen3vl):
    rng = np.random.default_rng(0)
    reqs = [
        Request(({"role": "user", "content": f"<video>Question {k}?"},),
                (frames_from_list([rng.integers(0, 256, (48 + 8 * k, 64, 3), dtype=np.uint8) for _ in range(2 + 2 * k)],
                                  2.0, min_pixels=1024, max_pixels=4096),))
        for k in range(3)
    ]
    batched = HFBackend(tiny_qwen3vl, max_new_tokens=6, batch_size=3).generate(reqs)
    single = HFBackend(tiny_qwen3vl, max_new_tokens=6, batch_size=1).generate(reqs)
    assert batched == single and len(batched) == 3


def test_dtype_flag_reaches_the_model(tiny_qwen3vl, tmp_path):
    """--dtype (any case) is the compute dtype of the HF model; auto keeps the checkpoint's (float32 here)."""
    import torch

    base = ["--model", str(tiny_qwen3vl), "--backend", "hf", "--data", "x.json", "--video-dir", ".",
            "--output-dir", str(tmp_path), "--max-new-tokens", "8"]
    assert cli.parse_args("vqa", base).dtype == "auto"
    for flag, want in (("auto", torch.float32), ("BFloat16", torch.bfloat16)):
        args = cli.parse_args("vqa", [*base, "--dtype", flag])
        backend = cli.backend_factory_from_args(args, 1)()
        assert next(backend.model.parameters()).dtype == want
    with pytest.raises(SystemExit):
        cli.parse_args("vqa", [*base, "--dtype", "float64"])
    with pytest.raises(ValueError, match="dtype"):
        HFBackend(tiny_qwen3vl, dtype="float64")


def test_openai_backend_over_http(video_dir, tmp_path):
    items = load_items(_write_json(tmp_path / "vqa.json", VQA_ITEMS[:3]))
    settings = EvalSettings(task="vqa", model="remote-model", backend="openai", max_frames=4, min_pixels=1024, max_pixels=4096)
    with ChatServer(text_reply("The answer is (B)."), api_key="k") as server:
        backend = OpenAIBackend("remote-model", base_url=server.url, api_key="k", max_new_tokens=8, concurrency=2)
        summary = run_eval("vqa", items, settings, tmp_path / "o", video_dir=video_dir, backend=backend)
        assert len(server.bodies) == 3
        body = server.bodies[0]
        assert body["model"] == "remote-model" and body["temperature"] == 0.0 and body["max_tokens"] == 8
        content = body["messages"][0]["content"]
        images = [c for c in content if c["type"] == "image_url"]
        stamps = [c["text"] for c in content if c["type"] == "text" and c["text"].endswith("seconds>")]
        assert len(images) == 4 and len(stamps) == 4
        raw = base64.b64decode(images[0]["image_url"]["url"].split(",", 1)[1])
        assert Image.open(io.BytesIO(raw)).size[::-1] in {resized_size(720, 1280, min_pixels=1024, max_pixels=4096),
                                                          resized_size(405, 720, min_pixels=1024, max_pixels=4096)}
        assert content[-1]["text"].endswith("Answer with the option's letter from the given choices directly.")
        # Only q3's gold is B: accuracy 1/3 exactly.
        assert summary["metrics"]["n_correct"] == 1 and summary["metrics"]["accuracy"] == pytest.approx(1 / 3)

        bad = OpenAIBackend("remote-model", base_url=server.url, api_key="wrong", retries=0)
        with pytest.raises(RuntimeError, match="HTTP 401"):
            bad.generate([build_request("vqa", items[0], frames_from_list([np.zeros((64, 64, 3), np.uint8)] * 2, 2.0))])


def test_verl_row_request(tiny_qwen3vl, tmp_path):
    """The generic entry other evaluators use: a VideoSSR/verl row with frame lists (two clips) -> text."""
    from videossr.evaluation.backends import generate_texts
    from videossr.evaluation.inputs import request_from_verl_row

    rng = np.random.default_rng(1)
    clips = []
    for c in range(2):
        paths = []
        for i in range(4):
            p = tmp_path / f"c{c}_{i}.jpg"
            Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(p)
            paths.append(str(p))
        clips.append({"video": paths, "sample_fps": 2.0, "min_pixels": 1024, "max_pixels": 4096})
    row = {"prompt": [{"role": "system", "content": "Answer directly."},
                      {"role": "user", "content": "Clip 1: <video> Clip 2: <video> Give the order."}],
           "videos": clips}
    req = request_from_verl_row(row)
    assert [v.timestamps for v in req.videos] == [[0.0, 0.5, 1.0, 1.5]] * 2
    assert (req.videos[0].height, req.videos[0].width) == resized_size(60, 80, min_pixels=1024, max_pixels=4096)
    backend = HFBackend(tiny_qwen3vl, max_new_tokens=4, batch_size=2)
    msgs = chat_messages(req)
    assert [c["type"] for c in msgs[1]["content"]] == ["text", "video", "text", "video", "text"]
    texts = generate_texts(backend, [req, req])
    assert len(texts) == 2 and texts[0] == texts[1]


def test_vllm_prompt_dict_is_well_formed(tiny_qwen3vl):
    """What the vLLM backend hands to LLM.generate, checked without vllm: the HF chat text, the exact frames, and
    metadata that transformers' VideoMetadata accepts (vLLM builds one from it) and that gives the true timestamps."""
    from transformers import AutoProcessor
    from transformers.video_utils import VideoMetadata

    from videossr.evaluation.backends import vllm_prompt

    processor = AutoProcessor.from_pretrained(tiny_qwen3vl)
    v = load_eval_video(DEMO / "cityCC0.mpg", fps=2, max_frames=6, min_pixels=1024, max_pixels=4096)
    req = build_request("vqa", EvalItem("1", "cityCC0", "Where?\nA. city\nB. sea", "A"), v)
    prompt = vllm_prompt(processor, req)
    assert prompt["prompt"] == processor.apply_chat_template(chat_messages(req), tokenize=False,
                                                             add_generation_prompt=True)
    assert prompt["prompt"].count("<|video_pad|>") == 1
    (frames, meta), = prompt["multi_modal_data"]["video"]
    assert frames.shape == (6, v.height, v.width, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames[3], v.frames[3])
    assert prompt["mm_processor_kwargs"] == {"do_sample_frames": False, "do_resize": False}
    assert VideoMetadata(**meta).timestamps == pytest.approx(v.timestamps)
