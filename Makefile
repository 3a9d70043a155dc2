# `make run` serves the site with a worker beside it; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
VAR_DIR ?= var
# `make run PORT=8080` serves on another port.
PORT ?= 8000
# The browser tests drive Debian's Chromium; SKIP_BROWSER_TESTS=1 leaves them out.
export CHROMIUM ?= /usr/bin/chromium
SKIP_BROWSER_TESTS ?= 0
# The Prometheus tests run Debian's prometheus and promtool; SKIP_PROMETHEUS_TESTS=1 leaves them out.
SKIP_PROMETHEUS_TESTS ?= 0
# What pytest leaves out on request, as one marker expression: "not browser and not prometheus".
SKIPPED := $(strip $(if $(filter 1,$(SKIP_BROWSER_TESTS)),browser) \
	$(if $(filter 1,$(SKIP_PROMETHEUS_TESTS)),prometheus))
empty :=
space := $(empty) $(empty)

.PHONY: run test lint format migrate browser prometheus services scale-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the declared dependencies change.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed

migrate: $(VENV)/.installed
	$(MANAGE) migrate --noinput

$(VAR_DIR)/.demo-seeded:
	$(MANAGE) seed_demo --verbosity 0
	touch $@

# One Ctrl-C stops both the web server and the worker: the worker runs in the background, and the
# trap stops it however the server ends.
run: migrate $(VAR_DIR)/.demo-seeded
	@$(MANAGE) seed_demo --logins
	@echo "Serving on http://127.0.0.1:$(PORT)/ (Ctrl-C stops the server and the worker)"
	@$(MANAGE) run_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(MANAGE) runserver 127.0.0.1:$(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Installs Chromium for the browser tests when it is missing and apt-get can (as root); when it
# cannot, says so and stops, unless SKIP_BROWSER_TESTS=1.
browser:
ifeq ($(SKIP_BROWSER_TESTS),1)
	@echo "SKIP_BROWSER_TESTS=1: the browser tests (tests/browser) will NOT run."
else
	@if [ ! -x "$(CHROMIUM)" ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "Installing Debian's chromium package for the browser tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi; \
	if [ ! -x "$(CHROMIUM)" ]; then \
	  echo "The browser tests cannot run: there is no Chromium at $(CHROMIUM), and installing"; \
	  echo "Debian's chromium package (apt-get, as root) did not provide one. Install it, or run"; \
	  echo "'make test SKIP_BROWSER_TESTS=1' to run everything else without them."; \
	  exit 1; \
	fi
endif

# Installs Debian's prometheus package (prometheus and promtool) for the Prometheus tests when
# either is missing and apt-get can (as root); when it cannot, says so and stops, unless
# SKIP_PROMETHEUS_TESTS=1. Where systemd runs, the package also starts a system Prometheus on
# port 9090; the tests start their own on free ports and do not mind it.
prometheus:
ifeq ($(SKIP_PROMETHEUS_TESTS),1)
	@echo "SKIP_PROMETHEUS_TESTS=1: the Prometheus tests (marked prometheus) will NOT run."
else
	@have() { command -v prometheus && command -v promtool; } >/dev/null 2>&1; \
	if ! have && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "Installing Debian's prometheus package for the Prometheus tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
	fi; \
	if ! have; then \
	  echo "The Prometheus tests cannot run: prometheus and promtool are not both installed, and"; \
	  echo "installing Debian's prometheus package (apt-get, as root) did not provide them. Install"; \
	  echo "it, or run 'make test SKIP_PROMETHEUS_TESTS=1' to run everything else without them."; \
	  exit 1; \
	fi
endif

# The machine's PostgreSQL and Redis, started when they are down (the Redis tests and the scale
# check use them).
services:
	@bash .ci/services

test: lint browser prometheus services
	$(MANAGE) makemigrations --check --dry-run
	$(BIN)/pytest $(if $(SKIPPED),-m "not $(subst $(space), and not ,$(SKIPPED))")

# The whole site on several processes: two gunicorn web servers, two workers (one killed halfway),
# PostgreSQL, Redis and an S3-compatible server; prints its figures (tests/scale_check.py).
scale-check: $(VENV)/.installed-dev services
	$(BIN)/python -m tests.scale_check

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
