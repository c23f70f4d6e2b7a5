# The README's commands. `make demo` runs govhub with demo data; `make test` runs every test.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PG_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

.PHONY: demo test install install-dev fonts browser hsm test-sqlite test-postgres bench lint clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11+ is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The fonts step runs after pip, because merging the font needs fontTools from the install.
install: $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@$(MAKE) --no-print-directory fonts

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@$(MAKE) --no-print-directory fonts

## fonts: fetch Sarabun (SIL OFL) for the e-documents; nothing to do once the TTFs exist
fonts: $(BIN)/python
	$(BIN)/python scripts/fetch_fonts.py

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

## hsm: SoftHSM2, the PKCS#11 module the HSM-signing test uses (Debian's package)
hsm:
	@if [ ! -e /usr/lib/softhsm/libsofthsm2.so ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's softhsm2 for the HSM signing test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null; \
	  else echo "softhsm2 is missing and cannot be installed here: the HSM test will fail"; fi; \
	fi

## test: every test on SQLite, then again on PostgreSQL when one answers
test: install-dev browser hsm
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

## i18n: messages.pot is extracted from the Python code and templates (babel.cfg) and merged
## into the th and en catalogs; en stays untranslated (the source is English), th must be complete.
## New strings arrive with an empty msgstr (no fuzzy guesses from similar strings): translate them all.
LOCALE_DIR   := src/govhub/locale
I18N_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
I18N_EXTRACT  = extract -F babel.cfg -k N_ -k gettext -k ngettext:1,2 --no-location --sort-output \
                --add-comments=TRANSLATORS: --project=govhub --version=$(I18N_VERSION) \
                --copyright-holder="govhub contributors"

.PHONY: i18n-extract i18n-check

$(BIN)/pybabel: $(BIN)/python
	$(BIN)/pip install --quiet -e .

## i18n-extract: refresh messages.pot from the source, then merge it into the th and en catalogs
i18n-extract: $(BIN)/pybabel
	$(BIN)/pybabel $(I18N_EXTRACT) -o $(LOCALE_DIR)/messages.pot .
	for locale in th en; do \
	  $(BIN)/pybabel update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -l $$locale \
	    --init-missing --ignore-obsolete --ignore-pot-creation-date --no-fuzzy-matching || exit 1; \
	done

# Reads the freshly extracted template and the th catalog; names every message without a
# confirmed translation (missing, empty or fuzzy) and exits 1 if there is any.
define I18N_CHECK_PY
import sys
from babel.messages.pofile import read_po
with open(sys.argv[1], "rb") as f:
    template = read_po(f)
with open(sys.argv[2], "rb") as f:
    thai = read_po(f, locale="th")
problems = []
for message in template:
    if not message.id:
        continue
    entry = thai.get(message.id, context=message.context)
    if entry is None:
        problems.append(("missing from th catalog (run make i18n-extract)", message.id))
    elif entry.fuzzy:
        problems.append(("fuzzy", message.id))
    elif not all(entry.string if isinstance(entry.string, tuple) else [entry.string]):
        problems.append(("untranslated", message.id))
for reason, msgid in problems:
    print(f"{reason}: {msgid!r}")
total = sum(1 for message in template if message.id)
print(f"th: {total - len(problems)} of {total} messages translated")
sys.exit(1 if problems else 0)
endef
export I18N_CHECK_PY

## i18n-check: fail if any message in the source lacks a Thai translation
i18n-check: $(BIN)/pybabel
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(BIN)/pybabel -q $(I18N_EXTRACT) -o "$$tmp/messages.pot" . && \
	$(BIN)/python -c "$$I18N_CHECK_PY" "$$tmp/messages.pot" $(LOCALE_DIR)/th/LC_MESSAGES/messages.po
