# Every target does its own setup: a local virtual environment in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORE   := $(VENV)/.core-installed
DEV    := $(VENV)/.dev-installed
TESTING := $(VENV)/.testing-installed
CODE   := $(wildcard toolwall tests benchmarks examples)
# The benchmark's peers conflict with the dev extra (invariant-ai pins openai<2): own venv.
BENCH_VENV := .venv-bench
BENCH      := $(BENCH_VENV)/.bench-installed

.PHONY: demo test fuzz lint format bench examples clean redis-server

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "toolwall needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(CORE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The fuzzer (Hypothesis) is an extra: the core install does not carry it.
$(TESTING): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[testing]'
	touch $@ $(CORE)

$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(CORE) $(TESTING)

demo: $(CORE)
	$(BIN)/toolwall demo --config toolwall.toml

lint: $(DEV)
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy
	$(BIN)/lint-imports

# The Redis backend's tests run a real redis-server (Debian's package), installed when missing.
REDIS_SERVER := $(shell command -v redis-server 2>/dev/null)

redis-server:
ifeq ($(REDIS_SERVER),)
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	else \
		echo "redis-server is missing: run 'sudo apt-get install -y redis-server' (the Redis tests need it)"; exit 1; \
	fi
endif

test: lint redis-server
	$(BIN)/python -m pytest

# Search every tool for a call the demo policy gets wrong (prints a test case if it finds one).
fuzz: $(TESTING)
	$(BIN)/toolwall fuzz --config toolwall.toml

format: $(DEV)
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

# Every runnable example (no network, no API key); each checks what it shows.
examples: $(DEV)
	@set -e; for f in examples/*.py; do echo "== $$f"; $(BIN)/python $$f; done

$(BENCH): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "toolwall needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[bench]'
	touch $@

# One process, one run: cases 1-6 of docs/performance.md (6 starts a redis-server); writes
# benchmarks/results.json.
bench: $(BENCH) redis-server
	$(BENCH_VENV)/bin/python -m benchmarks

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
