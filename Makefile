# Kalshi trader on Temporal. `make run` starts the local stack; `make test` runs the checks and tests.
# Both bootstrap what they need on a fresh clone: a virtualenv with the package, and the Temporal CLI.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RL_STAMP := $(VENV)/.installed-rl
TEMPORAL_CLI_VERSION := v1.5.1
LOCAL_TEMPORAL := .tools/bin/temporal

# Prefer $TEMPORAL_CLI, then a `temporal` on PATH, then the one built into .tools/bin.
TEMPORAL_FOUND := $(or $(TEMPORAL_CLI),$(shell command -v temporal 2>/dev/null))

.PHONY: install install-rl temporal-cli run test lint typecheck pytest bench compose-test train evaluate clean help

help:
	@echo "make run   - start the Temporal dev server, the simulator, the worker and the trader"
	@echo "make test  - ruff, mypy and the whole test suite (real dev server + simulator)"
	@echo "make bench - benchmarks under bench/"
	@echo "make compose-test - docker-compose.yml for real, offline (COLD=1: from nothing; REQUIRE_DOCKER=1: fail without Docker)"
	@echo "make train - train a MaskablePPO policy on the shared gold tapes into .state/models (TRAIN_ARGS=...)"
	@echo "make evaluate - evaluate the current model and the baselines on its validation markets"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) temporal-cli

# The reinforcement-learning extra (.[rl]: torch, stable-baselines3, sb3-contrib, gymnasium, numpy,
# matplotlib) in the same virtualenv, once per pyproject.toml change (its own stamp).
# * Cache: PyPI's Linux torch pulls its CUDA libraries (~4 GB of wheels, unused: everything runs on CPU), so
#   the wheels are downloaded once into a wheelhouse shared by every clone on this machine ($(RL_WHEELHOUSE))
#   and installed from there; a rebuilt venv, another worktree or a CI clone does not download them again,
#   and an offline machine installs from the wheelhouse alone.
# * CPU wheel: a local torch `+cpu` wheel in $(WHEELS_DIR) (pip's find-links folder) is preferred and pinned:
#   it has no CUDA dependencies (a venv of about 1 GB instead of 5.5 GB).
WHEELS_DIR ?= $(or $(PIP_FIND_LINKS),/opt/wheels)
RL_WHEELHOUSE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kalshi-trader/wheels
PY_TAG = $(shell $(PY) -c 'import sys; print("cp%d%d" % sys.version_info[:2])' 2>/dev/null)

$(RL_STAMP): $(STAMP)
	@mkdir -p $(RL_WHEELHOUSE)
	$(PY) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["rl"]))' > $(VENV)/rl-requirements.txt
	@cpu="$$(ls -1 $(WHEELS_DIR)/torch-*+cpu-$(PY_TAG)-*.whl 2>/dev/null | sort -V | tail -n 1)"; \
	if [ -n "$$cpu" ]; then \
		echo "torch: using the local CPU wheel $$cpu"; \
		cp -n "$$cpu" $(RL_WHEELHOUSE)/; \
		echo "torch==$$(basename "$$cpu" | cut -d- -f2)" > $(VENV)/rl-constraints.txt; \
	else \
		echo "torch: no local CPU wheel in $(WHEELS_DIR); PyPI's (with CUDA libraries) via $(RL_WHEELHOUSE)"; \
		: > $(VENV)/rl-constraints.txt; \
	fi
	$(PY) -m pip download --quiet --dest $(RL_WHEELHOUSE) --find-links $(RL_WHEELHOUSE) \
		-r $(VENV)/rl-requirements.txt -c $(VENV)/rl-constraints.txt \
		|| echo "warning: the package index is unreachable; installing from $(RL_WHEELHOUSE) alone"
	$(PY) -m pip install --quiet --no-index --find-links $(RL_WHEELHOUSE) \
		-r $(VENV)/rl-requirements.txt -c $(VENV)/rl-constraints.txt
	touch $(RL_STAMP)

install-rl: $(RL_STAMP)

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

typecheck: $(RL_STAMP)
	$(VENV)/bin/mypy .

pytest: install $(RL_STAMP)
	$(TEMPORAL_ENV) $(VENV)/bin/pytest -q

test: lint typecheck pytest

bench: install
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(TEMPORAL_ENV) $(PY) -m bench

# docker compose up, proven offline with local stand-ins of the official images (scripts/compose_test.py).
compose-test: install
	$(TEMPORAL_ENV) $(PY) scripts/compose_test.py $(if $(COLD),--cold) $(if $(REQUIRE_DOCKER),--require-docker)

# Reinforcement learning (docs/rl.md): `make train` trains on the shared gold tapes (2 cores, < 15 min) into
# STATE_DIR/models and points `current` at the new model; `make evaluate` compares it with the baselines.
train: install $(RL_STAMP)
	$(VENV)/bin/kalshi-trader train $(TRAIN_ARGS)

evaluate: install $(RL_STAMP)
	$(VENV)/bin/kalshi-trader evaluate $(EVALUATE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
