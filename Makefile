PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# fakesnow (the Snowflake emulator the tests run) pins its own sqlglot and duckdb: own venv.
FAKESNOW_VENV := .venv-fakesnow
export VEIL_FAKESNOW := $(abspath $(FAKESNOW_VENV))/bin/fakesnow
# dbt-core pins sqlparse < 0.6, pgcli (test extra) needs 0.6: dbt gets its own venv too.
DBT_VENV := .venv-dbt
export VEIL_DBT := $(abspath $(DBT_VENV))/bin/dbt
# npm packages of the node-postgres / postgres.js client tests (versions in package-lock.json).
NODE_CLIENTS := tests/clients/node

.PHONY: demo test lint bench venv clean node-clients

$(BIN)/veil: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/veil

venv: $(BIN)/veil

$(FAKESNOW_VENV)/bin/fakesnow:
	$(PYTHON) -m venv $(FAKESNOW_VENV)
	$(FAKESNOW_VENV)/bin/pip install --quiet "fakesnow[server]==0.12.1" "snowflake-connector-python>=4,<5"
	touch $@

$(DBT_VENV)/bin/dbt:
	$(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/pip install --quiet "dbt-core>=1.9,<1.11" "dbt-postgres>=1.9,<1.10"
	touch $@

$(NODE_CLIENTS)/node_modules/.package-lock.json: $(NODE_CLIENTS)/package-lock.json
	cd $(NODE_CLIENTS) && npm ci --no-audit --no-fund

node-clients: $(NODE_CLIENTS)/node_modules/.package-lock.json

demo: venv
	$(BIN)/veil demo

# Lint, types and the package layers ([tool.ruff], [tool.mypy], [tool.importlinter] in pyproject.toml).
lint: venv
	$(BIN)/ruff check veil $(wildcard tools)
	$(BIN)/mypy veil
	$(BIN)/lint-imports

test: venv $(FAKESNOW_VENV)/bin/fakesnow $(DBT_VENV)/bin/dbt node-clients
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv
	$(BIN)/python -m benchmarks.wire

clean:
	rm -rf $(VENV) $(FAKESNOW_VENV) $(DBT_VENV) $(NODE_CLIENTS)/node_modules .veil
