# Bespoke — the two commands a new user needs: `make run` and `make test` (and `make services`).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12 (pyenv reads .python-version; elsewhere python3.12 on PATH).
PYTHON ?= $(shell command -v python3.12 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?=

PACKAGE_VENV := .venv-package
STAGE ?= dev
# The Lambda package is built from its own lean virtualenv: the runtime requirements and
# Zappa (pinned once, in requirements-dev.txt) — never the test and lint tools.
ZAPPA_PIN := $(shell grep -E '^zappa==' requirements-dev.txt)

.PHONY: help run services test lint format check-python clean package browser screenshots

help:
	@echo "make run    set up and start the whole service (embedded: SQLite, in-process broker, emulated AWS)"
	@echo "make services  the services mode on this machine: PostgreSQL, Redis, gunicorn, Celery workers and beat (Procfile, honcho)"
	@echo "make test   lint (ruff, mypy, import contracts, cfn-lint, migrations) and the test suite"
	@echo "make lint   the lint part only"
	@echo "make screenshots  run the admin's browser tests and refresh docs/screenshots/"
	@echo "make format apply ruff's formatting and fixes"
	@echo "make package STAGE=dev   build the Lambda package of a Zappa stage into dist/bespoke-<stage>.zip"
	@echo "make clean  remove the virtualenv and local data"

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 12) else 1)' || \
	  { echo "Bespoke needs Python 3.12 (found: $$($(PYTHON) --version 2>&1)). Set PYTHON=/path/to/python3.12."; exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-local: requirements.txt requirements-local.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-local.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-local.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed-local

run: $(VENV)/.installed-local
	$(BIN)/python manage.py run_embedded --port $(PORT)

# The services mode from the Procfile: DATABASE_URL, REDIS_URL and AWS_ENDPOINT_URL from the
# environment (defaults: the local PostgreSQL and Redis, the emulated AWS); SCALE=network=2
# starts more workers of a group. See docs/services.md.
SCALE ?=
services: $(VENV)/.installed-local
	$(BIN)/python -m deploy.services --port $(PORT) $(if $(SCALE),--scale $(SCALE))

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy .
	$(BIN)/cfn-lint deploy/cloudformation/*.yaml
	DJANGO_SETTINGS_MODULE=project.settings.test $(BIN)/python manage.py makemigrations --check --dry-run

# The operator console's browser tests drive Debian's Chromium through its chromedriver;
# on a machine without them, install both (they fail, never skip, when missing).
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
	  echo "The admin's browser tests need Chromium and chromedriver: installing Debian's chromium chromium-driver with apt-get."; \
	  command -v apt-get >/dev/null || { echo "No apt-get here: install Chromium at $(CHROMIUM) and chromedriver at $(CHROMEDRIVER)." >&2; exit 1; }; \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver; \
	fi

# The suite runs in one process per core (at most four; TEST_PROCESSES=0 runs it in this
# one), the end-to-end and deploy tests each in one of them (tests/conftest.py).
TEST_PROCESSES ?= auto
test: lint browser
	$(BIN)/pytest -n $(TEST_PROCESSES) --maxprocesses 4 --dist loadgroup $(PYTEST_ARGS)

screenshots: $(VENV)/.installed-dev browser
	BESPOKE_SCREENSHOTS=1 $(BIN)/pytest tests/e2e/browser $(PYTEST_ARGS)

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

$(PACKAGE_VENV)/.installed: requirements.txt requirements-dev.txt | check-python
	rm -rf $(PACKAGE_VENV)
	$(PYTHON) -m venv $(PACKAGE_VENV)
	$(PACKAGE_VENV)/bin/pip install --quiet -r requirements.txt "$(ZAPPA_PIN)"
	@touch $@

package: $(PACKAGE_VENV)/.installed
	@mkdir -p dist
	VIRTUAL_ENV="$(CURDIR)/$(PACKAGE_VENV)" PATH="$(CURDIR)/$(PACKAGE_VENV)/bin:$$PATH" \
	  $(PACKAGE_VENV)/bin/zappa package $(STAGE) --output dist/bespoke-$(STAGE).zip

clean:
	rm -rf $(VENV) $(PACKAGE_VENV) dist var .mypy_cache .ruff_cache
