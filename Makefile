# Two commands set everything up on a fresh machine with Python 3.11 and make:
#   make run   — create .venv, install, migrate var/reviewflow.db, deploy bpmn/, serve on 127.0.0.1:8000
#   make test  — create/update .venv with the test extras, check import boundaries, lint bpmn/, run pytest
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test bench clean

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

run: $(VENV)/.installed
	$(BIN)/reviewflow serve

test: $(VENV)/.installed-test
	$(BIN)/lint-imports
	$(BIN)/ruff check engine api workers timekeeping tests bench
	$(BIN)/reviewflow lint bpmn
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.engine

clean:
	rm -rf $(VENV) var .pytest_cache
