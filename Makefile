# Two commands set everything up on a fresh machine with Python 3.11 and make:
#   make run   — create .venv, install, build the console's assets, migrate var/reviewflow.db, deploy bpmn/,
#                serve on 127.0.0.1:8000 (the console at /, the APIs under /api/v1 and /engine-rest)
#   make test  — create/update .venv with the test extras, build the console's assets, check import
#                boundaries, lint bpmn/, run pytest (the console's browser tests drive Debian's /usr/bin/chromium)
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench clean assets

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

# The console's front-end packages come from the npm registry at the versions pinned in
# console/package-lock.json (no install scripts run); build.mjs compiles and copies them into console/dist/.
console/node_modules/.package-lock.json: console/package.json console/package-lock.json
	cd console && npm ci --ignore-scripts --no-audit --no-fund

console/dist/manifest.json: console/node_modules/.package-lock.json console/build.mjs $(wildcard console/src/*)
	cd console && node build.mjs

assets: console/dist/manifest.json

run: $(VENV)/.installed assets
	$(BIN)/reviewflow serve

test: $(VENV)/.installed-test assets
	$(BIN)/lint-imports
	$(BIN)/ruff check engine api workers timekeeping tests bench
	$(BIN)/mypy
	$(BIN)/reviewflow lint bpmn
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.engine

clean:
	rm -rf $(VENV) var .pytest_cache console/node_modules console/dist
