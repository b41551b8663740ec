# samenloop — the two commands a new engineer needs are `make demo` and `make test`.
# Everything is installed into .venv at the versions pinned (with hashes) in requirements.lock,
# which `make lock` regenerates from pyproject.toml; nothing else is assumed but Python 3.11
# and make.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock

.PHONY: help venv lock demo test test-fast lint proto proto-check bench soak fuzz clean

help:
	@echo "make demo    run the end-to-end demo on the embedded SQLite default"
	@echo "make test    run the whole test suite (PostgreSQL tests skip when none is reachable)"
	@echo "make lint    ruff + mypy"
	@echo "make bench   print the benchmark figures (BENCH_ARGS=\"simulation --signals 10000000\")"
	@echo "make soak    signals, inquiries and reveals through the real services for SOAK_MINUTES (3)"
	@echo "make fuzz    fuzz every reader of hostile input for minutes (hypothesis, then atheris)"
	@echo "             (FUZZ_SECONDS=60 per atheris target, FUZZ_EXAMPLES=1000 per property)"
	@echo "make proto   regenerate samenloop/v1 from proto/ (committed; CI checks for drift)"
	@echo "make lock    regenerate requirements.lock after changing dependencies in pyproject.toml"
	@echo "             (keeps existing pins; make lock LOCK_ARGS=--upgrade moves all to the newest)"
	@echo "make chromium  install Debian's chromium for the inbox browser test (as root, with apt)"

$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; samenloop needs Python 3.11 (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

# pip-tools is in the dev extra, so the venv has it; existing pins are kept unless
# LOCK_ARGS=--upgrade (or --upgrade-package NAME) says otherwise.
lock: $(STAMP)
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --extra dev --generate-hashes --allow-unsafe --strip-extras \
		--no-emit-index-url --no-emit-find-links $(LOCK_ARGS) --output-file $(LOCK) pyproject.toml

demo: $(STAMP)
	$(BIN)/samenloop demo $(DEMO_ARGS)

# Two workers (pytest-xdist) by default: the suite's end-to-end tests mostly wait on processes
# and sockets, so even a 2-core machine gains; every test has its own ports, files and
# PostgreSQL schema. PYTEST_WORKERS=0 runs in one process (for pdb or -x).
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

proto: $(STAMP)
	$(BIN)/python -m samenloop.protogen

proto-check: $(STAMP)
	$(BIN)/python -m samenloop.protogen --check

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Not part of `make test`: minutes of traffic on loopback, then the count (docs/benchmarks.md).
SOAK_MINUTES ?= 3
soak: $(STAMP)
	$(BIN)/python -m bench.soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

# The long fuzz (ADR 0028): the bounded properties of `make test` (tests/hostile) with
# FUZZ_EXAMPLES examples each, then coverage-guided atheris for FUZZ_SECONDS per target
# (`python -m fuzz`; FUZZ_TARGETS picks some). atheris is not a locked dependency: it is
# installed into .venv here when absent, and skipped with a message where it does not install.
FUZZ_SECONDS ?= 60
FUZZ_EXAMPLES ?= 1000
fuzz: $(STAMP)
	@$(BIN)/python -c "import atheris" 2>/dev/null || \
	  $(BIN)/python -m pip install --quiet atheris 2>/dev/null || \
	  echo "fuzz: atheris does not install here (no wheel for this platform or no package index); its part is skipped"
	SAMENLOOP_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/hostile -q -p no:cacheprovider
	$(BIN)/python -m fuzz --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# The inbox's browser test drives Debian's chromium (never a downloaded browser build). As root
# with apt, `make test` installs it when absent; elsewhere the test skips, naming the reason
# (and fails under CI=true, where it must run).
CAN_APT := $(shell [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && echo yes)

.PHONY: chromium
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the inbox browser test"; \
	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; \
	else echo "chromium is absent and cannot be installed here (needs root and apt): the inbox browser test will skip"; fi

ifeq ($(CAN_APT),yes)
test: chromium
endif
