# Set-up and entry points. Every target creates .venv with what it needs first.
#   make reproduce   full STL-10 study (config/config.yaml)
#   make quick       every rule on a small part of CIFAR-10 (config/quick.yaml)
#   make test        fast test suite
#   make lint        ruff, snakefmt and snakemake --lint

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
CORES ?= all
SNAKEMAKE_ARGS ?=
PYTEST_ARGS ?= -m "not slow"

BIN := $(VENV)/bin
WORKFLOW_STAMP := $(VENV)/.installed-workflow
TEST_STAMP := $(VENV)/.installed-test

.PHONY: reproduce quick cifar10 test test-slow lint report clean-results

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(WORKFLOW_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[workflow]"
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[workflow,test]"
	touch $@ $(WORKFLOW_STAMP)

reproduce: $(WORKFLOW_STAMP)
	$(BIN)/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)

quick: $(WORKFLOW_STAMP)
	$(BIN)/snakemake --configfile config/quick.yaml --cores $(CORES) $(SNAKEMAKE_ARGS)

cifar10: $(WORKFLOW_STAMP)
	$(BIN)/snakemake --configfile config/cifar10.yaml --cores $(CORES) $(SNAKEMAKE_ARGS)

test: $(TEST_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: $(TEST_STAMP)
	$(BIN)/python -m pytest -m slow

lint: $(TEST_STAMP)
	$(BIN)/ruff check src scripts tests
	$(BIN)/snakefmt --check workflow
	$(BIN)/snakemake --lint

# Snakemake's browsable HTML report of the last run's tables and figures.
report: $(WORKFLOW_STAMP)
	$(BIN)/snakemake --report results/snakemake-report.html $(SNAKEMAKE_ARGS)

clean-results:
	rm -rf results logs .snakemake
