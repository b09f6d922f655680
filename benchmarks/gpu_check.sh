#!/usr/bin/env bash
# The checks a CPU cannot make, in one script of at most about 8 minutes on one H100/H200, with a tiny random
# Qwen3-VL (nothing downloaded):
#   1. evaluation throughput: eval/vqa.py on the vLLM backend against the HF backend answering one item at a time
#      (--batch-size 1), on the same items and pixels; prints both items/s (generation and scoring, model start-up
#      excluded) and how many greedy answers are equal (both in bfloat16: a few near-tied tokens may flip);
#   2. training: two GRPO steps of train/train.sh on one GPU (FSDP2 actor and ref, vLLM rollouts, the VideoSSR
#      reward), with the CPU smoke step's tiny answer-chain model and demo rows; prints each step's figures.
#
# Usage (from anywhere), in the GPU environment (pip install -r requirements-gpu.txt):
#   bash benchmarks/gpu_check.sh
# Settings (environment, with defaults):
#   PYTHON    interpreter of the GPU environment       python3
#   WORK_DIR  models, data, outputs and logs           a new temporary folder (kept; printed at the start)
#   ITEMS     eval items (two demo clips)              48
#   FRAMES    frames per eval video                    32
#   GPU       the GPU to use                           0
# Exit status 0 when every part ran; the first failure stops the script and names its log.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK_DIR="${WORK_DIR:-$(mktemp -d -t videossr-gpu-check.XXXXXX)}"
ITEMS="${ITEMS:-48}"
FRAMES="${FRAMES:-32}"
export CUDA_VISIBLE_DEVICES="${GPU:-0}"
export PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export TOKENIZERS_PARALLELISM=false
mkdir -p "$WORK_DIR"
cd "$REPO_ROOT"

die() {
  echo "gpu_check: error: $*" >&2
  exit 1
}
log_tail() { tail -n 40 "$1" >&2; }

echo "gpu_check: work folder $WORK_DIR"
"$PYTHON" - <<'EOF' || die "the GPU environment is not usable (pip install -r requirements-gpu.txt)"
import importlib.metadata as md

import torch

assert torch.cuda.is_available(), "no CUDA GPU visible"
print(f"gpu_check: {torch.cuda.get_device_name(0)}; torch {torch.__version__}, vllm {md.version('vllm')}, "
      f"verl {md.version('verl')}, transformers {md.version('transformers')}")
EOF

# --- inputs: a tiny model for eval (bfloat16, as real checkpoints), the smoke step's model and rows for GRPO ---------
"$PYTHON" - "$WORK_DIR" "$ITEMS" <<'EOF' || die "could not build the tiny models / data"
import json
import sys
from pathlib import Path

from videossr.training.smoke import prepare_data, prepare_model
from videossr.training.tiny_model import build_tiny_qwen3vl

work, n = Path(sys.argv[1]), int(sys.argv[2])
if not (work / "tiny64").exists():
    build_tiny_qwen3vl(work / "tiny64", text_head_dim=64, dtype="bfloat16")
demo = json.loads(Path("data/demo/eval/vqa.json").read_text())
# consecutive items share a clip (decoded once), so the figures are the model's more than the decoder's
items = [dict(demo[k * len(demo) // n], id=f"q{k}", question=f"({k}) {demo[k * len(demo) // n]['question']}")
         for k in range(n)]
(work / "items.json").write_text(json.dumps(items))
prepare_model(work / "grpo" / "model")
prepare_data(work / "grpo" / "data", video_dir="data/demo", num_samples=8)
EOF

# --- 1. eval throughput: vLLM against HF one item at a time ------------------------------------------------------
EVAL_ARGS=(--model "$WORK_DIR/tiny64" --data "$WORK_DIR/items.json" --video-dir data/demo --max-frames "$FRAMES"
  --max-new-tokens 32 --overwrite --quiet)
run_eval() { # name, timeout (s), extra flags...
  local name="$1" limit="$2"
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$PYTHON" eval/vqa.py "${EVAL_ARGS[@]}" --output-dir "$WORK_DIR/eval-$name" "$@" \
    >"$WORK_DIR/eval-$name.log" 2>&1 || { log_tail "$WORK_DIR/eval-$name.log"; die "eval on $name failed; log: $WORK_DIR/eval-$name.log"; }
  echo "gpu_check: eval $name: $(grep -m1 '^generated' "$WORK_DIR/eval-$name.log") [$((SECONDS - t0)) s with start-up]"
}
run_eval vllm 150 --backend vllm --gpu-memory-utilization 0.3 --max-model-len 16384
run_eval hf-one-by-one 120 --backend hf --batch-size 1

"$PYTHON" - "$WORK_DIR" <<'EOF'
import json
import re
import sys
from pathlib import Path

work = Path(sys.argv[1])
# the scripts' own line: "generated N items in S s (R items/s)"
rate = {n: float(re.search(r"^generated \d+ items in [\d.]+ s \(([\d.]+) items/s\)", (work / f"eval-{n}.log").read_text(),
                           re.M).group(1)) for n in ("vllm", "hf-one-by-one")}
ans = {n: {r["id"]: r["raw_output"] for r in map(json.loads, (work / f"eval-{n}" / "results.jsonl").open())}
       for n in ("vllm", "hf-one-by-one")}
same = sum(ans["vllm"][k] == v for k, v in ans["hf-one-by-one"].items())
print(f"gpu_check: EVAL vLLM {rate['vllm']:.2f} items/s, HF one by one {rate['hf-one-by-one']:.2f} items/s "
      f"({rate['vllm'] / rate['hf-one-by-one']:.1f}x); greedy answers equal {same}/{len(ans['vllm'])} (bfloat16)")
EOF

# --- 2. two GRPO steps of train/train.sh on one GPU ----------------------------------------------------------------
GRPO_ARGS=(
  trainer.total_training_steps=2 trainer.save_freq=-1 trainer.test_freq=-1 trainer.val_before_train=False
  data.train_batch_size=4 data.max_prompt_length=4096 data.max_response_length=64
  data.filter_overlong_prompts=False data.dataloader_num_workers=0 data.shuffle=False
  actor_rollout_ref.rollout.n=4 actor_rollout_ref.actor.ppo_mini_batch_size=4
  actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4 actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=8
  actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=8 actor_rollout_ref.actor.entropy_coeff=0.01
  actor_rollout_ref.rollout.gpu_memory_utilization=0.3 actor_rollout_ref.rollout.enforce_eager=True
  actor_rollout_ref.rollout.max_num_batched_tokens=8192 actor_rollout_ref.rollout.agent.num_workers=1
)
if ! "$PYTHON" -c "import flash_attn" 2>/dev/null; then
  echo "gpu_check: flash-attn is not installed: the GRPO steps use SDPA attention without padding removal"
  GRPO_ARGS+=(+actor_rollout_ref.model.override_config.attn_implementation=sdpa actor_rollout_ref.model.use_remove_padding=False)
fi
t0=$SECONDS
GRPO_LOG="$WORK_DIR/grpo.log"
if ! MODEL_PATH="$WORK_DIR/grpo/model" DATA_DIR="$WORK_DIR/grpo/data" OUTPUT_DIR="$WORK_DIR/grpo/out" \
  N_GPUS_PER_NODE=1 ROLLOUT_TP=1 LOGGER=console EXPERIMENT_NAME=gpu_check PYTHON="$PYTHON" \
  timeout 300 bash train/train.sh "${GRPO_ARGS[@]}" >"$GRPO_LOG" 2>&1; then
  log_tail "$GRPO_LOG"
  die "train/train.sh failed; log: $GRPO_LOG"
fi
for step in 1 2; do
  line="$(grep -m1 "step:$step - " "$GRPO_LOG")" || { log_tail "$GRPO_LOG"; die "no step $step in $GRPO_LOG"; }
  figures="$(printf '%s\n' "$line" | tr ' ' '\n' | grep -E '^(critic/score/mean|actor/grad_norm|actor/pg_loss|response_length/mean|timing_s/gen|timing_s/step):' | tr '\n' ' ')"
  echo "gpu_check: GRPO step $step: $figures"
done
echo "gpu_check: GRPO 2 steps OK [$((SECONDS - t0)) s with Ray and engine start-up]"
echo "gpu_check: done in $SECONDS s; logs and outputs in $WORK_DIR"
