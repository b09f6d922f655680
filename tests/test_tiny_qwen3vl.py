"""The tiny local Qwen3-VL: it loads through the Auto classes, reads frame-list videos the way qwen-vl-utils and
Qwen3VLProcessor do (timestamps from the video metadata), runs forward and greedy generate on CPU, and verl's own
RLHFDataset accepts a row written in VideoSSR's row format (two <video> entries) and yields video tokens for each.
"""

from __future__ import annotations

import hashlib
import json
import re

import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf
from qwen_vl_utils import process_vision_info
from transformers import AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

from videossr.tasks import get_task
from videossr.tasks.sample import SYSTEM_PROMPT, Clip, Sample, to_verl_row
from support.frames import make_frame_store
from videossr.training.tiny_model import SPECIAL_TOKENS, build_tiny_qwen3vl

NUM_FRAMES = 8
SIDE = 128


@pytest.fixture(scope="module")
def frame_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames")
    records = make_frame_store(root, num_videos=1, num_frames=2 * NUM_FRAMES, width=SIDE, height=SIDE)
    return root, records[0]


def _video_item(paths, fps: float) -> dict:
    return {"type": "video", "video": [str(p) for p in paths], "sample_fps": fps,
            "min_pixels": SIDE * SIDE, "max_pixels": SIDE * SIDE}


def _runs(ids: list[int], token_id: int) -> list[int]:
    """Lengths of the maximal runs of ``token_id`` in ``ids``."""
    runs, n = [], 0
    for t in ids + [-1]:
        if t == token_id:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs


def test_files_and_auto_classes(tiny_qwen3vl):
    names = sorted(p.name for p in tiny_qwen3vl.iterdir())
    for required in ("config.json", "model.safetensors", "tokenizer.json", "processor_config.json", "chat_template.jinja"):
        assert required in names
    tok = AutoTokenizer.from_pretrained(tiny_qwen3vl)
    processor = AutoProcessor.from_pretrained(tiny_qwen3vl)
    model = AutoModelForImageTextToText.from_pretrained(tiny_qwen3vl)
    assert type(processor).__name__ == "Qwen3VLProcessor"
    assert type(processor.video_processor).__name__ == "Qwen3VLVideoProcessor"
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    assert (processor.video_processor.patch_size, processor.video_processor.merge_size,
            processor.video_processor.temporal_patch_size) == (16, 2, 2)
    assert processor.image_processor.patch_size == 16
    assert model.config.text_config.head_dim == 16
    assert model.config.text_config.vocab_size == len(tok)
    # Special tokens are single tokens with the ids the model config names.
    for token in SPECIAL_TOKENS:
        assert len(tok(token, add_special_tokens=False).input_ids) == 1, token
    assert model.config.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert model.config.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    # Byte-level: any text round-trips, including bytes the BPE never saw.
    text = "Réponse: 14.5-26.2 — 3,1,4 ✓"
    assert tok.decode(tok(text, add_special_tokens=False).input_ids) == text
    assert sum(p.numel() for p in model.parameters()) < 2_000_000


def test_chat_template_text_and_lists(tiny_qwen3vl):
    tok = AutoTokenizer.from_pretrained(tiny_qwen3vl)
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": [{"type": "text", "text": "Clip 1: "}, {"type": "video", "video": ["a.jpg"]},
                                     {"type": "text", "text": " Clip 2: "}, {"video": ["b.jpg"]},
                                     {"type": "image", "image": "c.jpg"}]},
        {"role": "assistant", "content": "12"},
    ]
    out = tok.apply_chat_template(messages, tokenize=False)
    assert out == (
        "<|im_start|>system\nS<|im_end|>\n"
        "<|im_start|>user\nClip 1: <|vision_start|><|video_pad|><|vision_end|>"
        " Clip 2: <|vision_start|><|video_pad|><|vision_end|><|vision_start|><|image_pad|><|vision_end|><|im_end|>\n"
        "<|im_start|>assistant\n12<|im_end|>\n"
    )
    prompt = tok.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert not tok.apply_chat_template(messages[:2], tokenize=False).endswith("assistant\n")


def test_frame_list_video_forward_and_generate(tiny_qwen3vl, frame_store):
    root, record = frame_store
    processor = AutoProcessor.from_pretrained(tiny_qwen3vl)
    model = AutoModelForImageTextToText.from_pretrained(tiny_qwen3vl).eval()
    fps = 2.0
    messages = [{"role": "user", "content": [
        _video_item(record.frame_paths(root)[:NUM_FRAMES], fps),
        {"type": "text", "text": "When does the anomaly happen?"},
    ]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    images, videos = process_vision_info(messages, image_patch_size=16, return_video_metadata=True)
    assert images is None and len(videos) == 1
    frames, metadata = videos[0]
    assert tuple(frames.shape) == (NUM_FRAMES, 3, SIDE, SIDE)
    assert metadata["fps"] == fps and list(metadata["frames_indices"]) == list(range(NUM_FRAMES))
    inputs = processor(text=[text], videos=[frames], video_metadata=[metadata], do_sample_frames=False,
                       return_tensors="pt")
    grid = inputs["video_grid_thw"].tolist()
    assert grid == [[NUM_FRAMES // 2, SIDE // 16, SIDE // 16]]
    ids = inputs["input_ids"][0].tolist()
    video_id = processor.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    per_pair = (SIDE // 16) * (SIDE // 16) // 4
    assert _runs(ids, video_id) == [per_pair] * (NUM_FRAMES // 2)
    # Qwen3-VL prints one timestamp per frame pair: the mean of the pair's times on the fps clock (0.25 s, 1.25 s...).
    decoded = processor.tokenizer.decode(ids)
    stamps = [float(s) for s in re.findall(r"<([0-9.]+) seconds>", decoded)]
    assert stamps == pytest.approx([(2 * k + 0.5) / fps for k in range(NUM_FRAMES // 2)], abs=0.051)

    with torch.no_grad():
        logits = model(**inputs).logits
    assert tuple(logits.shape) == (1, len(ids), model.config.text_config.vocab_size)
    assert torch.isfinite(logits).all()
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=6, do_sample=False)
        again = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    new = out[0, len(ids):]
    assert 1 <= len(new) <= 6
    assert torch.equal(out, again)  # greedy is deterministic
    # The first generated token is the argmax of the forward pass's last logits.
    assert int(new[0]) == int(logits[0, -1].argmax())
    assert isinstance(processor.batch_decode(out[:, len(ids):], skip_special_tokens=True)[0], str)


def test_build_is_deterministic_and_seeded(tmp_path, tiny_qwen3vl):
    def digest(d):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}

    again = build_tiny_qwen3vl(tmp_path / "again")
    assert digest(again) == digest(tiny_qwen3vl)
    other = build_tiny_qwen3vl(tmp_path / "other", seed=1)
    d0, d1 = digest(tiny_qwen3vl), digest(other)
    assert d0["model.safetensors"] != d1["model.safetensors"]
    assert d0["tokenizer.json"] == d1["tokenizer.json"]
    with pytest.raises(FileExistsError):
        build_tiny_qwen3vl(other)
    with pytest.raises(ValueError, match="text_head_dim"):
        build_tiny_qwen3vl(tmp_path / "bad", text_head_dim=24)


def test_head_dim_64_variant(tmp_path):
    d = build_tiny_qwen3vl(tmp_path / "tiny64", text_head_dim=64)
    config = json.loads((d / "config.json").read_text())
    assert config["text_config"]["head_dim"] == 64
    assert sum(config["text_config"]["rope_parameters"]["mrope_section"]) == 32
    model = AutoModelForImageTextToText.from_pretrained(d)
    tok = AutoTokenizer.from_pretrained(d)
    ids = tok("Count the circles.", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.isfinite(model(input_ids=ids).logits).all()


def test_verl_rlhf_dataset_reads_two_video_row(tiny_qwen3vl, frame_store, tmp_path):
    from verl.utils import hf_processor, hf_tokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset
    from verl.utils.tokenizer import build_multimodal_processor_inputs

    root, record = frame_store
    paths = record.frame_paths(root)
    clips = (Clip(tuple(paths[NUM_FRAMES:]), record.sample_fps), Clip(tuple(paths[:NUM_FRAMES]), record.sample_fps))
    sample = Sample(task="jigsaw", data_source="videossr_jigsaw", video_id=record.video_id, question="Clip 1: <video>\nClip 2: <video>\nOrder?",
                    answer="21", clips=clips, params={"n": 2})
    row = to_verl_row(sample, [[str(p) for p in c.frames] for c in clips], index=0, min_pixels=SIDE * SIDE,
                      max_pixels=SIDE * SIDE)
    parquet = tmp_path / "train.parquet"
    pd.DataFrame([row]).to_parquet(parquet)

    tokenizer = hf_tokenizer(str(tiny_qwen3vl))
    processor = hf_processor(str(tiny_qwen3vl))
    config = OmegaConf.create({
        "prompt_key": "prompt", "video_key": "videos", "image_patch_size": 16, "max_prompt_length": 4096,
        "filter_overlong_prompts": True, "filter_overlong_prompts_workers": None, "truncation": "error",
        "cache_dir": str(tmp_path / "cache"),
    })
    dataset = RLHFDataset(str(parquet), tokenizer, config, processor=processor)
    # The length filter runs the full multimodal path and drops a row it cannot process: the row must survive.
    assert len(dataset) == 1
    item = dataset[0]
    assert item["data_source"] == get_task("jigsaw").data_source
    assert item["reward_model"]["ground_truth"] == "21"
    assert item["index"] == 0 and item["extra_info"]["task"] == "jigsaw"
    messages = item["raw_prompt"]
    assert messages[0]["content"][0]["text"] == SYSTEM_PROMPT
    user_videos = [c for c in messages[1]["content"] if c["type"] == "video"]
    assert [v["video"] for v in user_videos] == [[str(p) for p in c.frames] for c in clips]

    # What verl's agent loop does next: chat template, qwen-vl-utils, processor.
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    images, videos, audios = RLHFDataset._process_multi_modal_info(messages, dataset.image_patch_size, config)
    assert images is None and audios is None and len(videos) == 2
    inputs = build_multimodal_processor_inputs(processor, text=[text], videos=videos)
    grid = inputs["video_grid_thw"].tolist()
    assert grid == [[NUM_FRAMES // 2, SIDE // 16, SIDE // 16]] * 2
    ids = inputs["input_ids"][0].tolist()
    video_id = tokenizer.convert_tokens_to_ids("<|video_pad|>")
    start_id = tokenizer.convert_tokens_to_ids("<|vision_start|>")
    per_pair = (SIDE // 16) * (SIDE // 16) // 4
    assert _runs(ids, video_id) == [per_pair] * (2 * NUM_FRAMES // 2)
    assert ids.count(video_id) == sum(t * h * w for t, h, w in grid) // 4
    # One vision_start around each clip from the chat template, plus one per frame pair from the processor.
    assert ids.count(start_id) == 2 + 2 * (NUM_FRAMES // 2)
    # Each clip's timestamps restart at its own zero (the clips leak no global time).
    decoded = tokenizer.decode(ids)
    stamps = [float(s) for s in re.findall(r"<([0-9.]+) seconds>", decoded)]
    one_clip = [round((2 * k + 0.5) / record.sample_fps, 1) for k in range(NUM_FRAMES // 2)]
    assert stamps == pytest.approx(one_clip * 2, abs=0.051)
    assert decoded.index("Clip 1:") < decoded.index("<|video_pad|>") < decoded.index("Clip 2:")

    # M-RoPE position ids through the get_rope_index verl binds to the processor.
    position_ids, _ = processor.get_rope_index(
        input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
        image_grid_thw=None, video_grid_thw=inputs["video_grid_thw"], mm_token_type_ids=inputs["mm_token_type_ids"],
    )
    assert tuple(position_ids.shape) == (3, 1, len(ids))


def test_answer_chain_answers_along_the_chain(tmp_path, frame_store):
    """With an answer chain the model answers on purpose, also after a video prompt; every weight still learns."""
    chain = {"\n": {" 1": 1.0}, " 1": {"-": 1.0}, "-": {" 4": 0.9, " 5": 0.1}, " 4": {"<|im_end|>": 1.0},
             " 5": {"<|im_end|>": 1.0}}
    model_dir = build_tiny_qwen3vl(tmp_path / "chain", text_head_dim=64, answer_chain=chain)
    model = AutoModelForImageTextToText.from_pretrained(model_dir)
    processor = AutoProcessor.from_pretrained(model_dir)
    root, rec = frame_store
    paths = rec.frame_paths(root)[:NUM_FRAMES]
    messages = [{"role": "user", "content": [_video_item(paths, rec.sample_fps), {"type": "text", "text": "When?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    _, videos = process_vision_info(messages, image_patch_size=16, return_video_metadata=True)
    frames, metadata = videos[0]
    inputs = processor(text=[text], videos=[frames], video_metadata=[metadata], do_sample_frames=False,
                       return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=8)
    answer = processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert answer == " 1- 4"
    # the chain's probabilities are the model's (0.9 for " 4" after "-"), and a loss on the answer reaches the
    # vision tower too
    n = inputs["input_ids"].shape[1]
    full = dict(input_ids=out, attention_mask=torch.ones_like(out), pixel_values_videos=inputs["pixel_values_videos"],
                video_grid_thw=inputs["video_grid_thw"],
                mm_token_type_ids=torch.cat([inputs["mm_token_type_ids"], torch.zeros_like(out[:, n:])], dim=1))
    with torch.no_grad():
        probs = model(**full).logits[0].softmax(-1)
    assert float(probs[n - 1].max()) > 0.99  # "\n" -> " 1"
    assert float(probs[n + 1, out[0, n + 2]]) == pytest.approx(0.9, abs=0.02)  # "-" -> " 4"
    labels = out.clone()
    labels[:, : inputs["input_ids"].shape[1]] = -100
    loss = model(**full, labels=labels).loss
    loss.backward()
    assert model.model.visual.patch_embed.proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("chain", "message"),
    [
        ({"\n": {"<|im_end|>": 1.0}, "zebra-crossing": {"<|im_end|>": 1.0}}, "not one token"),
        ({"\n": {"1": 1.0}}, "neither a chain token nor the end"),
        ({"\n": {"<|im_end|>": 0.5}}, "sum to 0.5"),
        ({"\n": {"<|im_end|>": 1.5}}, "probability in \\(0, 1\\]"),
        ({"\n": {}}, "no successor"),
    ],
)
def test_answer_chain_rejects_what_does_not_fit(tmp_path, chain, message):
    with pytest.raises(ValueError, match=message):
        build_tiny_qwen3vl(tmp_path / "bad", answer_chain=chain)
    assert not (tmp_path / "bad").exists()
