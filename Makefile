# kedro-gpt: two commands on a fresh machine that has only Python.
#   make run    venv + install + the main job (`kedro run --pipeline=pretrain`) on the bundled corpus
#   make test   venv + install with dev extras + the whole test suite
#   make english  the English recipe (docs/user_guide.md): Wikipedia pretraining, review
#               adaptation, rt-polarity classifier; the corpora go in data/english/01_raw first
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
# Where no CUDA GPU is present we install the CPU build of torch before anything else, so that the
# project's plain `torch` requirement does not pull a multi-GB CUDA build. Set TORCH_INDEX to a
# PyTorch wheel index (for example the CPU index) when your pip cannot find a CPU build by default.
TORCH_INDEX ?=
PIPELINE ?= pretrain

export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR := false

ENGLISH_RAW := data/english/01_raw

.PHONY: run english test install install-dev browser lint format viz mlflow-ui clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.torch: | $(BIN)/python
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		echo "CUDA GPU found: installing torch $(TORCH_VERSION) (CUDA build) and nvidia-ml-py (MLflow's GPU metrics)"; \
		$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)" nvidia-ml-py; \
	else \
		echo "No CUDA GPU: installing the CPU build of torch $(TORCH_VERSION)"; \
		$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)); \
	fi
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/kedro run --pipelines=$(PIPELINE)

english: install
	@for f in wiki_en_2015_AA.txt.gz imdb_unsup_dedup.txt.gz; do \
		test -f $(ENGLISH_RAW)/$$f || { echo "missing $(ENGLISH_RAW)/$$f: see docs/user_guide.md, 'An English model'"; exit 1; }; \
	done
	$(BIN)/kedro run --env=english --pipelines=pretrain
	$(BIN)/kedro run --env=english --pipelines=adapt
	$(BIN)/kedro run --env=english --pipelines=finetune_adapted

# The playground's browser test drives Debian's Chromium (Playwright's own download is not
# reachable from every machine): installed with apt where we are root and it is missing.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the playground's browser test"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null \
		|| { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
		|| echo "warning: could not install chromium: the browser test will be skipped"; \
	else echo "no chromium: the browser test will be skipped (apt-get install chromium)"; fi

test: install-dev browser
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests benchmarks

format: install-dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix .

viz: install
	$(BIN)/kedro viz run

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db

clean:
	rm -rf $(VENV) mlflow.db mlruns
