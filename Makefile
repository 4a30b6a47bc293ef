# `make demo` deploys the example project to a local S3 server, twice.
# `make test` installs everything the suite needs and runs it (what CI runs):
# lint and type checks, then the suite on each supported Django release and on
# the oldest versions pyproject.toml admits.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install system-deps demo lint suite test constraints bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[s3,gcloud,azure]' -r test-requirements.txt

# Servers the tests start themselves: redis-server from Debian, Azurite from npm.
system-deps:
	@command -v redis-server >/dev/null || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }
	npm ci --prefix tests/azurite --no-audit --no-fund --silent

demo: install
	$(BIN)/python example/demo.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The suite once, in .venv (Django 5.2): quick feedback while developing.
suite: install system-deps
	$(BIN)/pytest

# The matrix (one session per Django release) and the dependency floor, two
# sessions at a time: much of the suite waits on servers and child processes,
# so two sessions share the 2 cores of CI's machine well.
SESSIONS := tests(py3.10-django5.2) tests(py3.12-django6.0) tests(py3.13-django6.1) floor
test: lint system-deps
	printf '%s\n' $(foreach s,$(SESSIONS),'$(s)') | \
		xargs -P 2 -I{} sh -c '$(BIN)/nox -s "{}" > ".nox-{}.log" 2>&1; status=$$?; cat ".nox-{}.log"; rm -f ".nox-{}.log"; exit $$status'

# Exact versions of the test dependencies (constraints*.txt), updated on purpose.
constraints: install
	$(BIN)/nox -s constraints

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .nox .mypy_cache .pytest_cache .ruff_cache tests/azurite/node_modules
