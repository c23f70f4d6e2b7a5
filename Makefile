# The README's commands. `make demo` runs govhub with demo data; `make test` runs every test.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

.PHONY: demo test install install-dev browser test-sqlite test-postgres bench lint clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11+ is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

## demo: install, migrate, load demo data, print the demo accounts, serve on :8000
demo: install
	$(BIN)/govhub db upgrade
	$(BIN)/govhub demo
	@echo "Serving on http://127.0.0.1:$${GOVHUB_PORT:-8000} (Ctrl+C to stop)"
	$(BIN)/govhub serve

## browser: make sure a Chromium exists for the Playwright tests (Debian's package)
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing and cannot be installed here: browser tests will fail"; fi; \
	fi

## test: every test on SQLite, then again on PostgreSQL when one answers
test: install-dev browser
	$(MAKE) test-sqlite
	@if [ -n "$$GOVHUB_TEST_POSTGRES_URL" ] || $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2)" 2>/dev/null; then \
	  $(MAKE) test-postgres; \
	else echo "No PostgreSQL on 127.0.0.1:5432 and GOVHUB_TEST_POSTGRES_URL unset: PostgreSQL run skipped"; rm -f var/test-postgres.ok; fi

test-sqlite:
	@mkdir -p var
	GOVHUB_TEST_DATABASE=sqlite $(BIN)/pytest $(PYTEST_ARGS)

test-postgres:
	@mkdir -p var; rm -f var/test-postgres.ok
	GOVHUB_TEST_DATABASE=postgresql GOVHUB_TEST_POSTGRES_URL=$${GOVHUB_TEST_POSTGRES_URL:-$(PG_URL)} $(BIN)/pytest $(PYTEST_ARGS)
	@date -u +%FT%TZ > var/test-postgres.ok
	@echo "PostgreSQL run: passed"

## bench: the benchmarks under bench/ (they print their figures)
bench: install-dev
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var build *.egg-info test-artifacts
