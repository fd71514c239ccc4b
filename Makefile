PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# fakesnow (the Snowflake emulator the tests run) pins its own sqlglot and duckdb: own venv.
FAKESNOW_VENV := .venv-fakesnow
export VEIL_FAKESNOW := $(abspath $(FAKESNOW_VENV))/bin/fakesnow

.PHONY: demo test bench venv clean

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

demo: venv
	$(BIN)/veil demo

test: venv $(FAKESNOW_VENV)/bin/fakesnow
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv
	$(BIN)/python -m benchmarks.wire

clean:
	rm -rf $(VENV) $(FAKESNOW_VENV) .veil
