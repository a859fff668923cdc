# complaintflow: `make run` and `make test` work on a fresh clone (they set everything up first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Installing compiles the hot modules (setup.py): a change to any of events/ or projections/ installs again.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml setup.py events/*.py projections/*.py | cksum | cut -d' ' -f1)

.PHONY: install run test lint browser unit integration schema bench bench-quick profile clean

$(STAMP): pyproject.toml setup.py $(wildcard events/*.py) $(wildcard projections/*.py)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## Run the embedded broker, the topics, one worker and a demo stream; Ctrl-C stops it all.
run: install
	$(BIN)/complaintflow up

## Lint, type-check, import contracts, schema freshness, then the whole test suite in two processes:
## each that runs an integration test starts its own embedded broker and worker for the session.
## `--dist loadgroup` with no group marked hands out one test at a time, so both run integration
## tests; `--dist load` would send them all to one (docs/performance.md, "The suite's two processes").
test: lint browser
	$(BIN)/pytest --numprocesses 2 --dist loadgroup

## The dashboard's browser test drives Debian's chromium, and needs a Chinese font to show department
## names: install both where they are missing.
CHROMIUM ?= /usr/bin/chromium
browser:
	@{ test -x $(CHROMIUM) && fc-list :lang=zh | grep -q .; } || { \
	  echo "installing Debian's chromium and a Chinese font for the dashboard's browser test"; \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m events.schema --check

unit: install
	$(BIN)/pytest tests/unit tests/property

integration: install browser
	$(BIN)/pytest tests/integration

## Benchmarks: every figure next to its baseline, measured in one run; writes BENCHMARKS.md.
bench: install
	$(BIN)/python -m benchmarks

## The same at a tenth of the size, for development (a few minutes).
bench-quick: install
	$(BIN)/python -m benchmarks --quick

## Where a worker's time goes while it works a backlog (py-spy); the tables docs/performance.md quotes.
profile: install
	$(BIN)/python -m benchmarks.profile

## Regenerate the committed JSON Schema of the wire contract after changing events/models.py.
schema: install
	$(BIN)/python -m events.schema --write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts .complaintflow build
	rm -f events/*.so events/compiled.json projections/*.so projections/compiled.json *__mypyc*.so
