# The README's commands and CI's are these targets. `make demo` and `make test` each create the
# virtualenv on first use; the demo installs dbapp alone, the tests add their extras.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BIN)/.installed: pyproject.toml $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.installed-test: pyproject.toml $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,spacy,ner,plot,parquet,web]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/dbapp load seeds/
	$(BIN)/dbapp report top-entities

lint: $(BIN)/.installed-test
	$(BIN)/ruff check dbapp tests migrations benchmarks
	$(BIN)/ruff format --check dbapp tests migrations benchmarks

typecheck: $(BIN)/.installed-test
	$(BIN)/mypy

pytest: $(BIN)/.installed-test
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(BIN)/.installed-test
	$(BIN)/python -m benchmarks.load --docs 100000

clean:
	rm -rf $(VENV) .dbapp .pytest_cache .mypy_cache .ruff_cache
