# Two commands on a fresh machine: `make run` and `make test`. The virtual environment
# is created and the project installed on first use, and again when setup.cfg changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
WORKERS ?= 2
WITNESS_PORT ?= 8700
WITNESS_KEYS ?= instance/witness
WITNESS_NAME ?= east-siberian-assay-supervision.example/witness
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast lint format bench clean translations chromium fonts nginx axe

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# QR codes and demo links point at this server unless REGISTRY_PUBLIC_BASE_URL says otherwise.
run: export REGISTRY_PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
# `registry serve`: nginx in front (it reads whole requests, with timeouts, so slow
# clients never hold a gunicorn worker), gunicorn behind it on a private socket.
# Beside it, the demo's witness of the log: the inspectorate's own program (README, "The
# inspectorate's witness"), its key in a folder of its own; the registry asks it to
# cosign every checkpoint.
run: $(STAMP) fonts nginx
	$(BIN)/registry init
	$(BIN)/registry demo --if-empty
	test -f $(WITNESS_KEYS)/witness.vkey || \
		$(BIN)/registry witness keygen --name $(WITNESS_NAME) --keys $(WITNESS_KEYS)
	$(BIN)/registry serve --port $(PORT) --workers $(WORKERS) \
		--witness $(WITNESS_KEYS) --witness-port $(WITNESS_PORT)

# The suite on every core, each test file whole on one worker (pytest-xdist); beside it,
# in a process of its own, the API fuzzing, whose operations schemathesis reports one by
# one only outside xdist (much of the suite waits on databases and browsers, so the two
# share the cores well), and after it the served front under slow clients
# (tests/test_front.py), whose clients mostly wait on their trickles: its p99 bound
# (200 ms) is some 30 times what it measures alone (about 6 ms), so the suite's load does
# not decide it. Fails if any part fails, or ran no test (exit code 5).
test: $(STAMP) chromium fonts nginx axe
	@( $(BIN)/python -m pytest -q tests/test_openapi_fuzz.py > $(VENV)/fuzz.log 2>&1; \
		echo $$? > $(VENV)/fuzz.status; \
		$(BIN)/python -m pytest -q -rP -p no:xdist tests/test_front.py > $(VENV)/front.log 2>&1; \
		echo $$? > $(VENV)/front.status ) & beside=$$!; \
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=20 \
		--ignore tests/test_openapi_fuzz.py --ignore tests/test_front.py; \
	suite=$$?; wait $$beside; \
	echo "--- API fuzzing (tests/test_openapi_fuzz.py):"; cat $(VENV)/fuzz.log; \
	echo "--- The front under slow clients (tests/test_front.py), beside the suite:"; \
	cat $(VENV)/front.log; \
	test $$suite -eq 0 -a "$$(cat $(VENV)/fuzz.status)" -eq 0 \
		-a "$$(cat $(VENV)/front.status)" -eq 0

# The suite without the browser tests (tests/live.py's users) and the API fuzzing: what
# to run between edits. `make test` runs everything.
test-fast: $(STAMP) fonts
	$(BIN)/python -m pytest -n auto --dist loadfile --ignore tests/test_openapi_fuzz.py \
		--ignore tests/test_browser.py --ignore tests/test_portal_journeys.py \
		--ignore tests/test_front.py

# `registry serve` puts Debian's nginx in front of gunicorn (registry/front.py).
nginx:
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || \
		apt-get install -y --no-install-recommends nginx-light || (apt-get update && \
		apt-get install -y --no-install-recommends nginx-light)

# The browser tests drive Debian's Chromium (tests/test_browser.py), never a downloaded one.
chromium:
	command -v chromium >/dev/null || \
		(apt-get update && apt-get install -y --no-install-recommends chromium)

# axe-core, which tests/test_accessibility.py injects into the pages in Chromium: from
# the npm registry (Debian has no package of it), pinned, into the virtual environment.
AXE_VERSION := 4.14.1
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js
axe: $(AXE)
$(AXE):
	npm install --silent --no-audit --no-fund --prefix $(VENV)/axe axe-core@$(AXE_VERSION)

# Certificate cards and label sheets are set in DejaVu Sans (Latin and Cyrillic), from
# Debian's fonts-dejavu-core (REGISTRY_CARD_FONT names another TrueType font).
fonts:
	test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || apt-get install -y \
		--no-install-recommends fonts-dejavu-core || (apt-get update && \
		apt-get install -y --no-install-recommends fonts-dejavu-core)

# ruff, its format check, mypy (0 errors on keys/, schemas/ and registry/, settings in
# setup.cfg) and the import contracts of DESIGN.md's layers (import-linter, from setup.cfg).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The benchmarks (benchmarks/run.py): the registry's verification under gunicorn as
# `make run` serves it, against bare Flask, driven by Debian's wrk; the audit's CSV export;
# the transparency log's appends and proofs, against pymerkle (the `bench` extra). The
# first run also builds the 100,000-certificate database and a log of 1,000,000 entries,
# cached in benchmarks/.data/; then a 10,000-row import with scans and sign-ins beside
# it, on `registry serve` (nginx). `make bench BENCH_ARGS="--only log"` runs a part.
bench: $(STAMP) nginx
	command -v wrk >/dev/null || apt-get install -y wrk || \
		(apt-get update && apt-get install -y wrk)
	$(BIN)/python -c 'import pymerkle' 2>/dev/null || \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	WORKERS=$(WORKERS) $(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache tests/artifacts

# After changing a message in the code or the templates: refresh the catalogs, translate
# what `pybabel update` marks new in registry/translations/ru/LC_MESSAGES/messages.po, then
# `make translations` again to compile (tests fail while any message lacks a translation).
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k N_ --no-location --omit-header \
		-o $(VENV)/messages.pot .
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d registry/translations \
		--no-fuzzy-matching --width 100
	$(BIN)/pybabel compile -d registry/translations
