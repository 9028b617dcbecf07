# The two commands the README promises on a fresh machine:
#   make demo   set up and run the demo on the embedded store
#   make test   set up and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-pandas2 lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.server: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[server]'
	touch $@

$(VENV)/.dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.server

# The dashboard's browser libraries (ECharts, htmx), from the npm registry into
# web/node_modules: served by the collector from its own origin, never from a CDN.
$(VENV)/.web: $(BIN)/python web/package.json web/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed for the dashboard's assets (apt-get install npm)"; exit 1; }
	npm ci --prefix web --no-audit --no-fund --silent
	touch $@

demo: $(VENV)/.server $(VENV)/.web
	$(BIN)/mlpulse demo

test: $(VENV)/.dev $(VENV)/.web
	tools/system-packages
	tools/services
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# The core and the library mode on the oldest stack they support: numpy 2.x before 2.3
# with pandas 2 (`make test` runs the newest: pandas 3). Unit and contract tests only.
COMPAT := .venv-pandas2
test-pandas2:
	test -x $(COMPAT)/bin/python || $(PYTHON) -m venv $(COMPAT)
	$(COMPAT)/bin/pip install --quiet -e '.[dev]' 'numpy>=2,<2.3' 'pandas>=2.2,<3'
	$(COMPAT)/bin/python -c 'import numpy, pandas; print("numpy", numpy.__version__, "pandas", pandas.__version__)'
	$(COMPAT)/bin/pytest tests/unit tests/contract -q

bench: $(VENV)/.dev
	$(BIN)/python bench/sdk_overhead.py
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) $(COMPAT) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
