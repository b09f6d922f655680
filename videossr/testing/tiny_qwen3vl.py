"""A tiny, random Qwen3-VL built locally: tokenizer, processor and model, with nothing downloaded.

The tests and benchmarks need a real Qwen3-VL checkpoint directory (real processor, chat template, video metadata,
generate path, verl dataset path) but cannot download weights. ``build_tiny_qwen3vl`` writes one: a byte-level BPE
tokenizer trained on a few sentences and wrapped as transformers' ``Qwen2Tokenizer`` with the Qwen special tokens
and a Qwen-style chat template, a ``Qwen3VLProcessor`` (patch 16, merge 2, temporal patch 2, the real Qwen3-VL
pixel budgets), and a ``Qwen3VLForConditionalGeneration`` of about a million random parameters. The result loads
offline with ``AutoTokenizer`` / ``AutoProcessor`` / ``AutoModelForImageTextToText.from_pretrained(out_dir)``.

Its answers are random text, which is what a harness must survive (unparsable outputs). Same arguments give
byte-identical files.

Usage::

    from videossr.testing.tiny_qwen3vl import build_tiny_qwen3vl
    model_dir = build_tiny_qwen3vl(tmp_path / "tiny")                      # head_dim 16, for CPU tests
    vllm_dir = build_tiny_qwen3vl(tmp_path / "tiny64", text_head_dim=64)    # a head size vLLM kernels support
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from videossr.io import atomic_dir

logger = logging.getLogger(__name__)

# The Qwen special tokens, in the order the real vocabulary numbers them (after the byte-level BPE vocabulary).
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Text the BPE is trained on: the words the VideoSSR prompts and answers use, so prompts tokenize compactly.
_CORPUS = (
    "You are given a video task with a single verifiable answer.",
    "Reply with the answer only, in exactly the format the question asks for, with no explanation.",
    "In one segment of this video the red and blue channels are swapped. Give the start and end time in seconds.",
    "A segment of the video is rotated by 180 degrees, mirrored horizontally, zoomed out or shuffled.",
    "Count the circles, squares and triangles that appear in the video. Answer as circles,squares,triangles.",
    "The clips of a video were shuffled. Clip 1: <video> Clip 2: <video> Clip 3: <video> Give the order.",
    "Which option is correct? Answer with the option letter A, B, C or D.",
    "When does the person open the door? Answer with start-end in seconds, e.g. 14.5-26.2 or 3,1,4 or 341562.",
    "0 1 2 3 4 5 6 7 8 9 10 0.5 1.0 2.5 seconds <0.2 seconds> <1.4 seconds>",
    "the a an of in on at to and or is are was were this that with for from by as be it its",
)
_BPE_VOCAB_SIZE = 512  # 256 byte symbols + ~250 merges

# A Qwen-style chat template, written for this project. Turns are <|im_start|>ROLE\n...<|im_end|>\n (no default
# system turn, as Qwen3-VL). Content is a string or a list of {"type": "text" | "image" | "video", ...} items; an
# item without "type" counts as image/video by its key. The processor expands each <|video_pad|> into per-frame-pair
# timestamps and vision tokens.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'video' or (item['type'] is not defined and 'video' in item) -%}"
    "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'image' or (item['type'] is not defined and 'image' in item) -%}"
    "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif 'text' in item -%}"
    "{{- item['text'] -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- endif -%}"
)

# The real Qwen3-VL pixel budgets (so the tiny model resizes exactly as the real one does).
_IMAGE_SIZE = {"shortest_edge": 65536, "longest_edge": 16777216}
_VIDEO_SIZE = {"shortest_edge": 4096, "longest_edge": 25165824}
_SUPPORTED_DTYPES = ("float32", "bfloat16", "float16")


def _train_bpe() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Train a byte-level BPE on the corpus; return (vocab, merges) in the form Qwen2Tokenizer takes."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=_BPE_VOCAB_SIZE,
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodes, seen in the corpus or not
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(list(_CORPUS), trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    vocab = {str(k): int(v) for k, v in model["vocab"].items()}
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return vocab, merges


def _build_tokenizer():
    from transformers import Qwen2Tokenizer

    vocab, merges = _train_bpe()
    n = len(vocab)
    for k, token in enumerate(SPECIAL_TOKENS):
        vocab[token] = n + k
    tok = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=[t for t in SPECIAL_TOKENS if t not in ("<|im_end|>", "<|endoftext|>")],
        model_max_length=262144,
    )
    tok.chat_template = CHAT_TEMPLATE
    for token in SPECIAL_TOKENS:
        if tok.convert_tokens_to_ids(token) != vocab[token]:
            raise RuntimeError(f"special token {token!r} got id {tok.convert_tokens_to_ids(token)}, not {vocab[token]}")
    return tok


def _build_processor(tok):
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    common = dict(
        patch_size=16,
        merge_size=2,
        temporal_patch_size=2,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    image_processor = Qwen2VLImageProcessor(size=dict(_IMAGE_SIZE), **common)
    video_processor = Qwen3VLVideoProcessor(
        size=dict(_VIDEO_SIZE), fps=2, min_frames=4, max_frames=768, do_sample_frames=True, **common
    )
    return Qwen3VLProcessor(
        image_processor=image_processor, video_processor=video_processor, tokenizer=tok, chat_template=CHAT_TEMPLATE
    )


def _build_config(tok, text_head_dim: int, dtype: str):
    from transformers import Qwen3VLConfig

    half = text_head_dim // 2
    # Multimodal RoPE splits the rotary half-dimension between time, height and width (interleaved, as Qwen3-VL).
    mrope_section = [half - 2 * (half * 5 // 16), half * 5 // 16, half * 5 // 16]
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    vision_heads = max(1, 64 // text_head_dim)
    config = Qwen3VLConfig(
        text_config=dict(
            vocab_size=len(tok),
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=text_head_dim,
            max_position_embeddings=32768,
            rope_parameters={
                "rope_type": "default",
                "rope_theta": 5_000_000.0,
                "mrope_section": mrope_section,
                "mrope_interleaved": True,
            },
            pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config=dict(
            depth=2,
            hidden_size=64,
            intermediate_size=128,
            num_heads=vision_heads,
            patch_size=16,
            spatial_merge_size=2,
            temporal_patch_size=2,
            out_hidden_size=64,
            num_position_embeddings=256,
            deepstack_visual_indexes=[0, 1],
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    config.dtype = dtype
    return config


def build_tiny_qwen3vl(
    out_dir: str | os.PathLike,
    *,
    text_head_dim: int = 16,
    seed: int = 0,
    dtype: str = "float32",
) -> Path:
    """Write a tiny random Qwen3-VL (model + processor + tokenizer) into ``out_dir`` and return its path.

    ``out_dir`` must not exist yet; it is written under a temporary name and renamed when complete.
    ``text_head_dim`` is the language model's attention head size (16 for CPU tests; 64 for vLLM, whose kernels
    support only some head sizes). ``seed`` fixes the weights. ``dtype`` is the stored weight type.
    """
    import torch
    from transformers import GenerationConfig, Qwen3VLForConditionalGeneration

    if text_head_dim < 16 or text_head_dim % 16:
        raise ValueError(f"text_head_dim must be a positive multiple of 16, got {text_head_dim!r}")
    if dtype not in _SUPPORTED_DTYPES:
        raise ValueError(f"dtype must be one of {_SUPPORTED_DTYPES}, got {dtype!r}")
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"refusing to overwrite existing directory {out_dir}")

    tok = _build_tokenizer()
    processor = _build_processor(tok)
    config = _build_config(tok, text_head_dim, dtype)
    with torch.random.fork_rng(devices=[]):  # seed the init without touching the caller's global RNG state
        torch.manual_seed(seed)
        model = Qwen3VLForConditionalGeneration(config)
    model = model.to(getattr(torch, dtype)).eval()
    end_ids = [tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")]
    model.generation_config = GenerationConfig(
        eos_token_id=end_ids, pad_token_id=end_ids[1], do_sample=False, max_new_tokens=16
    )

    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
    n_params = sum(p.numel() for p in model.parameters())
    logger.info("tiny Qwen3-VL (%d parameters, text head_dim %d, seed %d) -> %s", n_params, text_head_dim, seed, out_dir)
    return out_dir
