# samenloop — the two commands a new engineer needs are `make demo` and `make test`.
# Everything is installed into .venv from pyproject.toml; nothing else is assumed but
# Python 3.11 and make.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv demo test test-fast lint proto proto-check bench clean

help:
	@echo "make demo    run the end-to-end demo on the embedded SQLite default"
	@echo "make test    run the whole test suite (PostgreSQL tests skip when none is reachable)"
	@echo "make lint    ruff + mypy"
	@echo "make bench   print the benchmark figures"
	@echo "make proto   regenerate samenloop/v1 from proto/ (committed; CI checks for drift)"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; samenloop needs Python 3.11 (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/samenloop demo run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

proto: $(STAMP)
	$(BIN)/python -m samenloop.protogen

proto-check: $(STAMP)
	$(BIN)/python -m samenloop.protogen --check

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
