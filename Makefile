# TellUsOnce. `make run` starts the whole service on SQLite; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TELLUSONCE_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: setup run test check bench assets translations clean

setup: $(STAMP) static/.built

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# GOV.UK Frontend's compiled CSS, JS, fonts and images, plus our own scripts, under /assets.
static/.built: node_modules/.package-lock.json $(wildcard tellusonce/web/assets/*)
	rm -rf static && mkdir -p static
	cp -R node_modules/govuk-frontend/dist/govuk/assets/. static/
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.css node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js static/
	cp tellusonce/web/assets/* static/
	touch $@

run: setup
	TELLUSONCE_MODE=$${TELLUSONCE_MODE:-demo} $(BIN)/tellusonce demo

# The checks run first, so that a broken habit fails the target before the long suite starts.
check: setup
	$(BIN)/ruff check tellusonce services mail bench tests
	$(BIN)/lint-imports
	$(BIN)/mypy

test: check
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) node_modules static instance .pytest_cache
