# `make demo` deploys the example project to a local S3 server, twice.
# `make test` installs everything the suite needs and runs it (what CI runs):
# lint and type checks, then the suite on each supported Django release.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install system-deps demo lint suite test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[s3,gcloud,azure]' -r test-requirements.txt

# Servers the tests start themselves: redis-server from Debian, Azurite from npm.
system-deps:
	@command -v redis-server >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }
	npm ci --no-audit --no-fund --silent

demo: install
	$(BIN)/python example/demo.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The suite once, in .venv (Django 5.2): quick feedback while developing.
suite: install system-deps
	$(BIN)/pytest

test: lint system-deps
	$(BIN)/nox

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .nox .mypy_cache .pytest_cache .ruff_cache node_modules
