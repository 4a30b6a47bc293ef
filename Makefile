# `make demo` deploys the example project to a local S3 server, twice.
# `make test` installs everything the suite needs and runs it (what CI runs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint suite bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[s3]' -r test-requirements.txt

demo: install
	$(BIN)/python example/demo.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

suite: install
	$(BIN)/pytest

test: lint suite

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .nox .mypy_cache .pytest_cache .ruff_cache example/collected
