# Kalshi trader on Temporal. `make run` starts the local stack; `make test` runs the checks and tests.
# Both bootstrap what they need on a fresh clone: a virtualenv with the package, and the Temporal CLI.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEMPORAL_CLI_VERSION := v1.5.1
LOCAL_TEMPORAL := .tools/bin/temporal

# Prefer $TEMPORAL_CLI, then a `temporal` on PATH, then the one built into .tools/bin.
TEMPORAL_FOUND := $(or $(TEMPORAL_CLI),$(shell command -v temporal 2>/dev/null))

.PHONY: install temporal-cli run test lint typecheck pytest bench compose-test clean help

help:
	@echo "make run   - start the Temporal dev server, the simulator, the worker and the trader"
	@echo "make test  - ruff, mypy and the whole test suite (real dev server + simulator)"
	@echo "make bench - benchmarks under bench/"
	@echo "make compose-test - docker-compose.yml for real, offline (COLD=1: from nothing; REQUIRE_DOCKER=1: fail without Docker)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) temporal-cli

# The Temporal CLI (dev server with SQLite persistence and the Web UI). Later tags than v1.5.1 carry a
# `replace` directive that `go install` refuses. Without Go or a binary, the SDK downloads one at test
# time where the internet is reachable.
temporal-cli:
ifneq ($(TEMPORAL_FOUND),)
	@echo "temporal CLI: $(TEMPORAL_FOUND)"
else
	@if [ -x $(LOCAL_TEMPORAL) ]; then \
		echo "temporal CLI: $(LOCAL_TEMPORAL)"; \
	elif command -v go >/dev/null 2>&1; then \
		echo "building the Temporal CLI $(TEMPORAL_CLI_VERSION) from the Go module proxy (first time: a few minutes)"; \
		GOBIN=$(CURDIR)/.tools/bin GOTOOLCHAIN=auto go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION); \
	else \
		echo "warning: no temporal CLI and no Go toolchain: the SDK will try to download the dev server"; \
	fi
endif

TEMPORAL_ENV = TEMPORAL_CLI=$${TEMPORAL_CLI:-$$(command -v temporal 2>/dev/null || { [ -x $(LOCAL_TEMPORAL) ] && echo $(CURDIR)/$(LOCAL_TEMPORAL); })}

run: install
	$(TEMPORAL_ENV) $(VENV)/bin/kalshi-trader up

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

pytest: install
	$(TEMPORAL_ENV) $(VENV)/bin/pytest -q

test: lint typecheck pytest

bench: install
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(TEMPORAL_ENV) $(PY) -m bench

# docker compose up, proven offline with local stand-ins of the official images (scripts/compose_test.py).
compose-test: install
	$(TEMPORAL_ENV) $(PY) scripts/compose_test.py $(if $(COLD),--cold) $(if $(REQUIRE_DOCKER),--require-docker)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
