# Huashu — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup run test lint typecheck pytest bench bench-adapt clean-cache

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: a bare `torch` would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

# Product settings (no file watcher, viewer toolbar, upload limit, no usage statistics) come from
# .streamlit/config.toml; developers add e.g. --server.fileWatcherType auto.
PORT ?= 8501
run: setup
	@$(PY) -m training.ops.bootstrap --demo --history --url http://localhost:$(PORT)
	@$(VENV)/bin/streamlit run app.py --server.port $(PORT)

# ruff, then the import contracts of docs/architecture.md (pyproject.toml [tool.importlinter]).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-logo

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(VENV)/bin/pytest -q --durations=15

test: lint typecheck pytest

bench: setup
	$(PY) bench/run_all.py

# Train the projection adapter + ranking fusion on ../shared/data's training parts, evaluate zero-shot
# vs adapted through the CLI (<= 30 min on 2 cores; bench/adapt.py --variant top-layers|full for the others).
bench-adapt: setup
	$(PY) bench/adapt.py

clean-cache:
	rm -rf data/cache
