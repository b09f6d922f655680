# The two commands of the README:
#   make demo   build the VideoSSR training mix from the demo clips in data/demo
#   make test   run the test suite on CPU
# Both create .venv and install what they need first (system FFmpeg via apt-get, Python packages via pip).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test env bench clean

env: $(VENV)/.installed

$(VENV)/.installed: setup.py requirements.txt
	@command -v ffmpeg >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq ffmpeg; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

demo: env
	$(PY) pretext_tasks/build_dataset.py --num-samples 300

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test: env
	$(PY) -m pytest tests -q -ra; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

bench: env
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf data/frames data/videossr outputs .pytest_cache
