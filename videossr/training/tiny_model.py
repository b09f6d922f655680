"""A tiny, random Qwen3-VL built locally: tokenizer, processor and model, with nothing downloaded.

The tests and benchmarks need a real Qwen3-VL checkpoint directory (real processor, chat template, video metadata,
generate path, verl dataset path) but cannot download weights. ``build_tiny_qwen3vl`` writes one: a byte-level BPE
tokenizer trained on a few sentences and wrapped as transformers' ``Qwen2Tokenizer`` with the Qwen special tokens
and a Qwen-style chat template, a ``Qwen3VLProcessor`` (patch 16, merge 2, temporal patch 2, the real Qwen3-VL
pixel budgets), and a ``Qwen3VLForConditionalGeneration`` of about a million random parameters. The result loads
offline with ``AutoTokenizer`` / ``AutoProcessor`` / ``AutoModelForImageTextToText.from_pretrained(out_dir)``.

Its answers are random text, which is what a harness must survive (unparsable outputs). Same arguments give
byte-identical files.

``answer_chain`` makes the language model answer on purpose instead: a bigram chain over single tokens ("after
token A, emit B with probability p"), wired into the weights (each chain token gets its own residual dimension, the
output head reads the chain's log-probabilities from it, and the layers' writes into the residual stream are scaled
down so that the current token dominates). A GRPO smoke step uses it to get answers that sometimes parse, so
rewards and advantages are not all zero. The model stays a complete Qwen3-VL: every layer and the vision tower
still run, and all weights still get gradients.

Usage::

    from videossr.training.tiny_model import build_tiny_qwen3vl
    model_dir = build_tiny_qwen3vl(tmp_path / "tiny")                      # head_dim 16, for CPU tests
    vllm_dir = build_tiny_qwen3vl(tmp_path / "tiny64", text_head_dim=64)    # a head size vLLM kernels support
    chain = {"\n": {"1": 0.5, "2": 0.5}, "1": {"-": 1.0}, "2": {"-": 1.0}, "-": {"3": 1.0}, "3": {"<|im_end|>": 1.0}}
    answering = build_tiny_qwen3vl(tmp_path / "chain", answer_chain=chain)    # answers "1-3" or "2-3"
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
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


# answer_chain wiring: a chain token's embedding is a unit vector on its own residual dimension; RMSNorm turns it into
# sqrt(hidden) there, so the output head column of that dimension holds log-probabilities / sqrt(hidden). Tokens a
# chain token never leads to get this log-probability (e^-30: never sampled).
_CHAIN_FLOOR_LOGPROB = -30.0
# How much of the layers' writes into the residual stream is kept (the current token's unit vector dominates).
_CHAIN_LAYER_SCALE = 0.1


def _byte_level(text: str) -> str:
    """``text`` as byte-level BPE spells it: printable bytes as themselves, the others (space, newline, ...) shifted to
    the characters from U+0100 on, in byte order (so " " is "Ġ" and "\n" is "Ċ")."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = {b: chr(256 + i) for i, b in enumerate(b for b in range(256) if b not in printable)}
    return "".join(chr(b) if b in printable else shifted[b] for b in text.encode("utf-8"))


def _token_id(tok, text: str) -> int:
    """The id of the one vocabulary token that spells ``text`` (its byte-level form, e.g. " 4" is "Ġ4")."""
    if text in tok.all_special_tokens:
        return tok.convert_tokens_to_ids(text)
    spelled = _byte_level(text)
    token_id = tok.get_vocab().get(spelled)
    if token_id is None:
        raise ValueError(f"answer_chain token {text!r} is not one token of this vocabulary (no {spelled!r})")
    return token_id


def _wire_answer_chain(model, tok, chain: Mapping[str, Mapping[str, float]]) -> None:
    """Make the language model a bigram sampler over ``chain`` (see the module docstring)."""
    import torch

    lm = model.model.language_model
    hidden = lm.embed_tokens.weight.shape[1]
    states = list(chain)
    if not states or len(states) > hidden:
        raise ValueError(f"answer_chain needs 1..{hidden} tokens (the hidden size), got {len(states)}")
    ids = {t: _token_id(tok, t) for t in states}
    for state, successors in chain.items():
        if not successors:
            raise ValueError(f"answer_chain[{state!r}] has no successor")
        for succ, p in successors.items():
            if not (isinstance(p, (int, float)) and 0 < p <= 1):
                raise ValueError(f"answer_chain[{state!r}][{succ!r}] must be a probability in (0, 1], got {p!r}")
            if succ not in chain and succ != tok.eos_token:
                raise ValueError(
                    f"answer_chain[{state!r}] leads to {succ!r}, which is neither a chain token nor the end of "
                    f"the answer {tok.eos_token!r}"
                )
        total = sum(successors.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"answer_chain[{state!r}] probabilities sum to {total}, not 1")
    scale = math.sqrt(hidden)
    with torch.no_grad():
        for layer in lm.layers:
            layer.self_attn.o_proj.weight.mul_(_CHAIN_LAYER_SCALE)
            layer.mlp.down_proj.weight.mul_(_CHAIN_LAYER_SCALE)
        head = model.lm_head.weight
        for dim, state in enumerate(states):
            row = torch.zeros(hidden, dtype=lm.embed_tokens.weight.dtype)
            row[dim] = 1.0
            lm.embed_tokens.weight[ids[state]] = row
            logprobs = torch.full((head.shape[0],), _CHAIN_FLOOR_LOGPROB, dtype=head.dtype)
            for succ, p in chain[state].items():
                logprobs[_token_id(tok, succ)] = math.log(p)
            head[:, dim] = logprobs / scale


def build_tiny_qwen3vl(
    out_dir: str | os.PathLike,
    *,
    text_head_dim: int = 16,
    seed: int = 0,
    dtype: str = "float32",
    answer_chain: Mapping[str, Mapping[str, float]] | None = None,
) -> Path:
    """Write a tiny random Qwen3-VL (model + processor + tokenizer) into ``out_dir`` and return its path.

    ``out_dir`` must not exist yet; it is written under a temporary name and renamed when complete.
    ``text_head_dim`` is the language model's attention head size (16 for CPU tests; 64 for vLLM, whose kernels
    support only some head sizes). ``seed`` fixes the weights. ``dtype`` is the stored weight type.
    ``answer_chain`` ({token: {next token: probability}}, each token one vocabulary token, ``"<|im_end|>"`` ending
    the answer) makes the model answer along that chain from the last prompt token on (the chat template ends the
    prompt with ``"\n"``); ValueError names a token or probability that does not fit.
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
    if answer_chain is not None:
        _wire_answer_chain(model, tok, answer_chain)
    model = model.to(getattr(torch, dtype)).eval()
    end_ids = [tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")]
    model.generation_config = GenerationConfig(
        eos_token_id=end_ids, pad_token_id=end_ids[1], do_sample=False, max_new_tokens=16
    )

    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
    n_params = sum(p.numel() for p in model.parameters())
    logger.info("tiny Qwen3-VL (%d parameters, text head_dim %d, seed %d%s) -> %s", n_params, text_head_dim, seed,
                ", answer chain" if answer_chain is not None else "", out_dir)
    return out_dir
