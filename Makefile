# The README's commands. Each installs what it needs from the pinned requirements.lock into .venv first (with uv, below).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/dagster_home
# the project runs from its checkout (no install step that could go stale): its packages are found from here
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: install install-evaluation install-spark java browser postgres run run-spark test test-spark dev benchmark benchmark-scoring benchmark-matching benchmark-backtest lint format clean lock

# The installer: uv (pinned in requirements.lock) installs the lock in parallel, several times faster than pip on a fresh
# clone (docs/development.md). The .venv then has no pip of its own (ensurepip alone costs seconds): the system's pip
# puts uv into it (pip 22.3+; an older pip gets a pip in the .venv first). uv reads UV_DEFAULT_INDEX / UV_INDEX, not
# pip.conf: behind a package mirror set those, or use pip alone with `make run INSTALLER=pip`.
# --compile-bytecode: uv writes each module's bytecode at install, as pip does. Without it every Python process
# (each run, `dagster dev`'s processes, each test worker) compiles the libraries it imports again when bytecode may
# not be written (PYTHONDONTWRITEBYTECODE): importing the definitions took 3.0 s instead of 1.45 s.
INSTALLER ?= uv
PIP := -m pip install --quiet --disable-pip-version-check
ifeq ($(INSTALLER),uv)
INSTALL := $(BIN)/python -m uv pip install --quiet --compile-bytecode --python $(BIN)/python
FREEZE := $(BIN)/python -m uv pip freeze --python $(BIN)/python --exclude-editable
NO_CACHE := --no-cache
else
INSTALL := $(BIN)/python $(PIP)
FREEZE := $(BIN)/python -m pip freeze --all --exclude-editable
NO_CACHE := --no-cache-dir
endif

$(VENV)/.installed: requirements.lock pyproject.toml
ifeq ($(INSTALLER),uv)
	$(PYTHON) -m venv --without-pip $(VENV)
	UV="$$(grep '^uv==' requirements.lock)"; $(PYTHON) -m pip --python $(BIN)/python install --quiet \
		--disable-pip-version-check "$$UV" || { $(BIN)/python -m ensurepip && $(BIN)/python $(PIP) "$$UV"; }
else
	$(PYTHON) -m venv $(VENV)
endif
	$(INSTALL) -r requirements.lock
	touch $@

install: $(VENV)/.installed

# Labelled data sets and Splink for the matching evaluation (requirements-evaluation.lock): pinned, --no-deps, in their
# own folder that the pipeline never imports (pipelines/commands/evaluation_sets.py reads and imports them from there).
EVALUATION := $(VENV)/evaluation
$(EVALUATION)/.installed: requirements-evaluation.lock $(VENV)/.installed
	rm -rf $(EVALUATION)
	$(INSTALL) --no-deps --target $(EVALUATION) -r requirements-evaluation.lock
	touch $@

install-evaluation: $(EVALUATION)/.installed

# The Spark engine (ALMS_ENGINE=spark, docs/spark.md): pyspark from requirements-spark.lock, into .venv. pyspark is a
# source distribution, built at every install: without a cache for it, as each build left about 1 GB in uv's cache
# (docs/spark.md).
$(VENV)/.installed-spark: requirements-spark.lock $(VENV)/.installed
	$(INSTALL) $(NO_CACHE) -r requirements-spark.lock
	touch $@

install-spark: $(VENV)/.installed-spark java

java:  ## Debian's Java runtime for Spark, when no java is on the PATH
	@command -v java >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		echo "installing Debian's Java runtime for Spark ..."; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null; }

run: install  ## run the whole pipeline on the demo data (or on ALMS_DATA_DIR)
	$(BIN)/python -m pipelines.commands run

run-spark: install-spark  ## `make run` with the SQL models on local Spark (ALMS_ENGINE=spark, docs/spark.md)
	ALMS_ENGINE=spark $(BIN)/python -m pipelines.commands run

# The suite runs on every core (pytest-xdist): a module's tests stay on one worker, so each module-scoped pipeline run
# happens once (docs/development.md). TEST_WORKERS=0 runs it in this process (a debugger, -x, pdb).
TEST_WORKERS ?= auto
test: install install-evaluation browser postgres  ## the whole test suite but the Spark engine's (ARGS=tests/test_docs.py: some of it)
	$(BIN)/python -m pytest -q -m "not spark" -n $(TEST_WORKERS) --dist loadscope $(ARGS)

test-spark: install-spark  ## the Spark engine against the DuckDB engine: the demo (tests/test_spark.py), bad inputs (tests/test_spark_ingest.py)
	$(BIN)/python -m pytest -q -m spark $(ARGS)

browser:  ## Debian's chromium for the UI test (tests/test_ui.py drives it with Playwright)
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		echo "installing Debian's chromium for the browser test ..."; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

postgres:  ## Debian's PostgreSQL server binaries: tests/test_postgres.py starts a throwaway cluster with them
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		echo "installing Debian's postgresql for the PostgreSQL tests ..."; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }

dev: install  ## the Dagster UI on http://127.0.0.1:3000
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

benchmark: install $(if $(findstring spark,$(ARGS)),install-spark)  ## 10M billing lines / 1M clients / 5M events, timed (docs/benchmarks.md)
	$(BIN)/python -m pipelines.commands benchmark $(ARGS)

benchmark-scoring: install  ## scoring 1M accounts with their engagement and deals, timed
	$(BIN)/python -m pipelines.commands.benchmark_scoring $(ARGS)

benchmark-backtest: install  ## the backtest of 12 monthly snapshots of 1M accounts, timed
	$(BIN)/python -m pipelines.commands.benchmark_backtest $(ARGS)

benchmark-matching: install install-evaluation  ## matching quality on labelled sets beside Splink, then speed at 100k / 300k / 1M
	$(BIN)/python -m pipelines.commands.evaluate_matching $(ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

clean:
	rm -rf output data/demo

lock:  ## re-pin requirements.lock from the current .venv
	(echo "# Exact versions installed by make (pip freeze of a working environment; regenerate with: make lock)"; \
	 $(FREEZE) | grep -v "^-e\|^alms\|^pip==\|^pyspark==\|^py4j==") > requirements.lock
