#!/usr/bin/env bash
# Multi-node GRPO: submit train/train.sh as a Ray job to a running Ray cluster (see train/README.md).
#
# 1. On the head node:        ray start --head --port=6379 --dashboard-host=0.0.0.0
# 2. On every other node:     ray start --address=HEAD_IP:6379
# 3. From a node of the cluster (same checkout, model and data paths on every node, e.g. a shared filesystem):
#      RAY_ADDRESS=http://HEAD_IP:8265 NNODES=2 MODEL_PATH=/models/Qwen3-VL-8B-Instruct \
#        bash train/multinode.sh [hydra overrides ...]
#
# It first runs train.sh's CPU dry run locally with the same settings (NNODES x N_GPUS_PER_NODE are validated by
# verl before anything is submitted; SKIP_DRY_RUN=1 skips it), then submits
#   bash train/train.sh [overrides]
# as the job's entrypoint, forwarding the train.sh settings below as the job's environment. Inside the job, verl's
# main_ppo joins the existing Ray cluster (ray.init() picks up the job's cluster address).
#
# Settings: RAY_ADDRESS (required, the dashboard address http://HEAD_IP:8265), NNODES (default 2), RAY (the ray
# CLI, default: ray), SUBMISSION_ID (optional), plus every setting of train/train.sh.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() {
  echo "multinode.sh: error: $*" >&2
  exit 1
}

[[ -n "${RAY_ADDRESS:-}" ]] || die "RAY_ADDRESS is not set: start Ray on every node (see train/README.md) and set
  RAY_ADDRESS=http://HEAD_IP:8265 (the head node's dashboard address)"
export NNODES="${NNODES:-2}"
RAY="${RAY:-ray}"
command -v "$RAY" >/dev/null 2>&1 || die "ray CLI not found ($RAY): install verl's requirements or set RAY=/path/to/ray"

if [[ "${SKIP_DRY_RUN:-0}" != 1 ]]; then
  DRY_RUN=1 bash "$REPO_ROOT/train/train.sh" "$@" || die "the dry run failed; nothing was submitted"
fi

# The job's environment: train.sh's settings that are set here (no secrets are forwarded).
SETTINGS=(MODEL_PATH DATA_DIR TRAIN_FILES VAL_FILES OUTPUT_DIR N_GPUS_PER_NODE NNODES ROLLOUT_TP PROJECT_NAME
  EXPERIMENT_NAME LOGGER REWARD_MODE PYTHON TENSORBOARD_DIR)
PY="${PYTHON:-python3}"
[[ -x "$REPO_ROOT/.venv/bin/python" && -z "${PYTHON:-}" ]] && PY="$REPO_ROOT/.venv/bin/python"
RUNTIME_ENV="$("$PY" - "${SETTINGS[@]}" <<'EOF'
import json, os, sys
env = {name: os.environ[name] for name in sys.argv[1:] if os.environ.get(name)}
print(json.dumps({"env_vars": env}))
EOF
)"

# ray job submit joins its entrypoint words with spaces: quote each word once here.
ENTRYPOINT="$(printf '%q ' bash "$REPO_ROOT/train/train.sh" "$@")"
SUBMIT=("$RAY" job submit --address "$RAY_ADDRESS" --runtime-env-json "$RUNTIME_ENV")
[[ -n "${SUBMISSION_ID:-}" ]] && SUBMIT+=(--submission-id "$SUBMISSION_ID")
echo "multinode.sh: submitting to $RAY_ADDRESS: $ENTRYPOINT" >&2
exec "${SUBMIT[@]}" -- "$ENTRYPOINT"
