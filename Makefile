# The README's commands. Each installs what it needs from the pinned requirements.lock into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/dagster_home
# the project runs from its checkout (no install step that could go stale): its packages are found from here
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: install install-evaluation browser postgres run test dev benchmark benchmark-scoring benchmark-matching benchmark-backtest lint format clean lock

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $@

install: $(VENV)/.installed

# Labelled data sets and Splink for the matching evaluation (requirements-evaluation.lock): pinned, --no-deps, in their
# own folder that the pipeline never imports (pipelines/commands/evaluation_sets.py reads and imports them from there).
EVALUATION := $(VENV)/evaluation
$(EVALUATION)/.installed: requirements-evaluation.lock $(VENV)/.installed
	rm -rf $(EVALUATION)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target $(EVALUATION) -r requirements-evaluation.lock
	touch $@

install-evaluation: $(EVALUATION)/.installed

run: install  ## run the whole pipeline on the demo data (or on ALMS_DATA_DIR)
	$(BIN)/python -m pipelines.commands run

test: install install-evaluation browser postgres  ## the whole test suite
	$(BIN)/python -m pytest -q

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

benchmark: install  ## 10M billing lines / 1M clients / 5M events, timed (see README)
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
	 $(BIN)/python -m pip freeze --all --exclude-editable | grep -v "^-e\|^alms\|^pip==") > requirements.lock
