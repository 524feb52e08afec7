# Two commands set everything up on a fresh machine with Python 3.11 and make:
#   make run   — create .venv, install, build the console's assets, migrate var/reviewflow.db, deploy bpmn/,
#                serve on 127.0.0.1:8000 (the console at /, the APIs under /api/v1 and /engine-rest)
#   make test  — create/update .venv with the test extras, build the console's assets, check import
#                boundaries and types (mypy), lint bpmn/, run pytest (the console's browser tests drive Debian's /usr/bin/chromium)
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench clean assets lock

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Every package is installed at the exact version, and with the hashes, that requirements/*.lock
# pin; pip checks them with no other tool. `make lock` rewrites the locks from pyproject.toml.
$(VENV)/.installed: requirements/run.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/run.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

$(VENV)/.installed-test: requirements/test.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/test.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@ $(VENV)/.installed

# pip-tools resolves pyproject.toml's ranges to the newest versions that fit and records every
# file's hash. Its output is a requirements file that the pip every Python ships installs and
# verifies, so a fresh machine needs no other tool (a uv.lock would need uv first). Run it after
# changing a dependency, then `make test`, and commit both locks.
LOCK_VENV := .venv-lock
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet pip-tools==7.6.2; }
	$(LOCK_VENV)/bin/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --all-build-deps --strip-extras \
		--no-emit-index-url --no-emit-find-links -o requirements/run.lock pyproject.toml
	$(LOCK_VENV)/bin/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --all-build-deps --strip-extras \
		--no-emit-index-url --no-emit-find-links --extra test -o requirements/test.lock pyproject.toml

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
	rm -rf $(VENV) $(LOCK_VENV) var .pytest_cache console/node_modules console/dist
