# TellUsOnce. `make run` starts the whole service on SQLite; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Message catalogues: the .po files are the source, the .mo files built from them.
TRANSLATIONS := tellusonce/translations
CATALOGUES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)
# One file per location and sorted msgids, so catalogues edited on two branches merge cleanly.
EXTRACT_OPTIONS := -F babel.cfg -k N_ -k lazy_gettext --add-location=file --sort-output --no-wrap
export TELLUSONCE_INSTANCE_PATH ?= $(CURDIR)/instance
# services/ and mail/ install as tellusonce_services and tellusonce_mail (setup.py), which the editable install
# maps by an import hook that mypy cannot see (it names a module by its folder): links of those names let it
# check them as what they are ([tool.mypy] in pyproject.toml).
TYPECHECK := $(VENV)/typecheck/tellusonce_services $(VENV)/typecheck/tellusonce_mail

.PHONY: setup run test check bench assets translations screenshots wheel clean

setup: $(STAMP) $(TYPECHECK) static/.built $(COMPILED)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/typecheck/tellusonce_%:
	mkdir -p $(@D)
	ln -sfn ../../$* $@

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

# A catalogue marked fuzzy, or with fuzzy entries, compiles without them: the test suite refuses those.
$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po $(STAMP)
	$(BIN)/pybabel compile --statistics -l $* -i $< -o $@

# After adding or changing a string: re-extract every message and merge it into each catalogue,
# then write the Welsh of each new or fuzzy entry in $(TRANSLATIONS)/cy/LC_MESSAGES/messages.po.
translations: $(STAMP)
	$(BIN)/pybabel -q extract $(EXTRACT_OPTIONS) -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel -q update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -D messages --no-wrap --ignore-obsolete --ignore-pot-creation-date
	$(MAKE) --no-print-directory $(COMPILED)
	@$(BIN)/python -m tests.catalogues

run: setup
	TELLUSONCE_MODE=$${TELLUSONCE_MODE:-demo} $(BIN)/tellusonce demo

# The checks run first, so that a broken habit fails the target before the long suite starts.
check: setup
	$(BIN)/ruff check tellusonce services mail bench tests
	$(BIN)/lint-imports
	$(BIN)/mypy

test: check
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# A wheel of the whole service, to install on a host (docs/operations.md "Installing from a wheel"): the
# templates, the GOV.UK Frontend assets, the compiled Welsh, the registries and the migrations inside it.
# Built from the checkout's setuptools (no download); build/ is emptied first, so that a file deleted since
# the last build cannot ride along.
DIST ?= dist
wheel: setup
	rm -rf build
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir $(DIST) .
	rm -rf build
	@ls $(DIST)/tellusonce-*.whl

# The screenshots in docs/screenshots/ (English, and Welsh as cy-*.png), taken by the browser tests.
screenshots: setup
	TELLUSONCE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser -q

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) node_modules static instance .pytest_cache build dist $(COMPILED) $(TRANSLATIONS)/messages.pot
