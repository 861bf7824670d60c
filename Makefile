# balmon's developer commands. `make demo` and `make test` work on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
STAMP_BENCH := $(VENV)/.installed-bench
# Two test processes (pytest-xdist): most of the suite waits on processes, servers and
# databases, so two workers halve its time even on two cores. PYTEST_ARGS="-n 0" for one.
PYTEST_ARGS ?= -n 2 --dist worksteal

.PHONY: demo test lint format typecheck bench install dev clean docs diagrams

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

$(STAMP_BENCH): pyproject.toml $(STAMP_DEV)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

install: $(STAMP_RUN)

dev: $(STAMP_DEV)
	@bash scripts/ensure-test-tools.sh

demo: install
	$(BIN)/balmon demo

test: dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

typecheck: dev
	$(BIN)/mypy

docs: install
	$(BIN)/balmon codes --markdown > docs/error-codes.md
	$(BIN)/balmon config reference > docs/configuration.md

diagrams:  # needs Graphviz's `dot` (Debian: apt-get install graphviz)
	for source in docs/diagrams/*.dot; do dot -Tsvg "$$source" -o "$${source%.dot}.svg"; done

# The whole suite (about half an hour; BENCH_ARGS=--quick for a few minutes). Installs Debian's
# nginx-light and wrk when missing (scripts/ensure-bench-tools.sh).
BENCH_ARGS ?=
bench: $(STAMP_BENCH)
	@bash scripts/ensure-bench-tools.sh
	$(BIN)/python -m bench.suite $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache balmon.db balmon.db-*
