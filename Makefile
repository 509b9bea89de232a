# lamer: top-level entry points. Every target installs tools/venv first (instant once done).
SHELL := /bin/bash
VENV ?= tools/venv
PY := $(VENV)/bin/python

.PHONY: install test test-all bench demo clean

install:
	@bash tools/install.sh

test: install
	$(PY) -m pytest -m "not slow" -q

test-all: install
	$(PY) -m pytest -q

bench: install
	$(PY) -m lamer.bench adapters --json
	$(PY) -m lamer.bench data --json

demo: install
	cd egs2/mini_lamer/ssl1 && bash run.sh

clean:
	rm -rf $(VENV) .pytest_cache
