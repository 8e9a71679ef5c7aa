# Each target sets up what it needs: on a fresh machine `make demo` or `make test` is the only command.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 3000
export DAGSTER_HOME ?= $(CURDIR)/.eda_lake/dagster_home

.PHONY: install demo test lint typecheck unit bench dev clean

AZURITE := .tools/node_modules/.bin/azurite

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing eda-lake and its dependencies into $(VENV) (a few minutes on a cold pip cache)"
	$(BIN)/pip install --disable-pip-version-check --progress-bar on -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/eda-lake demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy eda_lake eda_lake_tests infra_scripts

# The tests start Azurite (Azure Storage's emulator) themselves, from this npm install.
$(AZURITE):
	npm install --prefix .tools --no-audit --no-fund --loglevel=error azurite@3.37.0

unit: install $(AZURITE)
	$(BIN)/pytest -q

test: lint typecheck unit

bench: install
	$(BIN)/python -m eda_lake_tests.benchmarks

# The UI runs the lake on the embedded default, whose personal fields need a key: unless
# EDA_LAKE_PII_KEY is set, a random one is made once for this checkout (never committed).
DEV_PII_KEY_FILE := .eda_lake/dev-pii-key

dev: install
	mkdir -p $(DAGSTER_HOME)
	test -s $(DEV_PII_KEY_FILE) || (umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $(DEV_PII_KEY_FILE))
	EDA_LAKE_PII_KEY="$${EDA_LAKE_PII_KEY:-$$(cat $(DEV_PII_KEY_FILE))}" $(BIN)/dagster dev -w workspace.yaml -h $(HOST) -p $(PORT)

clean:
	rm -rf .eda_lake .tools
