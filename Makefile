# lamer: top-level entry points. Every target installs tools/venv first (instant once done).
SHELL := /bin/bash
VENV ?= tools/venv
PY := $(VENV)/bin/python

.PHONY: install lint test test-all bench demo gpu-check clean

install:
	@bash tools/install.sh

# ruff with the repository's ruff.toml (line length, import order, pyflakes, pyupgrade).
lint: install
	$(VENV)/bin/ruff check .

test: install
	$(PY) -m pytest -m "not slow" -q

test-all: install
	$(PY) -m pytest -q

bench: install
	$(PY) -m lamer.bench adapters --json
	$(PY) -m lamer.bench data --json

demo: install
	cd egs2/mini_lamer/ssl1 && bash run.sh

# The tiny recipe on one GPU with AMP, then the adapters benchmark on it (installs tools/venv
# itself, after checking that there is a GPU: without one it stops at once).
gpu-check:
	bash tools/gpu_check.sh

clean:
	rm -rf $(VENV) .pytest_cache
