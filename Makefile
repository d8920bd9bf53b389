# cocreate — `make help` lists the targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
export COCREATE_DATA_DIR ?= data

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(STAMP)

install: $(STAMP) ## create .venv and install the platform

migrate: $(STAMP) ## apply database migrations
	$(BIN)/cocreate migrate

run: $(STAMP) ## install, migrate, load the demo, serve on http://127.0.0.1:8000
	$(BIN)/cocreate migrate
	$(BIN)/cocreate demo
	$(BIN)/cocreate serve --host 127.0.0.1 --port 8000

chromium: ## install Debian's Chromium for the browser tests when missing (needs root)
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Chromium for the browser tests (apt-get install -y chromium)"; \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	   (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) || \
	  echo "!! Could not install Chromium: browser tests will fail under CI, skip elsewhere"; \
	else echo "!! /usr/bin/chromium missing and cannot apt-get it: browser tests will skip (fail under CI)"; fi

lint: $(DEV_STAMP) ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(DEV_STAMP) ## format and fix imports
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(DEV_STAMP) chromium lint ## install dev extras, lint, type-check, run every test on SQLite and PostgreSQL
	$(BIN)/pytest -q

messages: $(DEV_STAMP) ## extract translatable strings and add the new ones to the French catalog
	$(BIN)/pybabel -q extract -F babel.cfg -o cocreate/locale/messages.pot --no-location --omit-header --sort-output .
	$(BIN)/pybabel -q update -i cocreate/locale/messages.pot -o cocreate/locale/fr/LC_MESSAGES/messages.po -l fr --no-fuzzy-matching --ignore-obsolete -w 100
	@echo "Now translate the empty msgstr entries in cocreate/locale/fr/LC_MESSAGES/messages.po"

bench: $(DEV_STAMP) ## run the benchmarks (see benchmarks/README.md)
	$(BIN)/python -m benchmarks

.PHONY: help install migrate run chromium lint fmt test messages bench
