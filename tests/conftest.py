"""Shared test helpers and fixtures. A whole pipeline run costs about 4.4 CPU seconds even on the small inputs on an
in-memory Dagster instance (5.7 with a DAGSTER_HOME; about half of it Dagster's own bookkeeping), so runs are shared:
reach for the cheapest fixture that shows what the test is about. `make test` runs on every core (pytest-xdist, a
module's tests on one worker) with temporary folders in /dev/shm (docs/development.md#tests).

Input folders
- `small_inputs(folder)`: six client records of four organisations in two systems, a dozen billing lines in two
  currencies (the accounts are described in its docstring). `SMALL_INPUT_GAPS` accepts their billing gaps.
- `inputs_dir` (function): the small inputs in the test's tmp_path, to edit before a run.
- `write_csv`, `client`, `line`: rows for input files; `*_COLUMNS`: the input contracts' column lists.

Runs
- `pipeline_env` (function): the environment for a run into tmp folders (inputs_dir, an output folder, its own
  DAGSTER_HOME), set with monkeypatch. Then `run_in_memory()` (on an in-memory Dagster instance), or
  `run_pipeline(quiet=True, log_level="CRITICAL")` when the test reads the run's events from DAGSTER_HOME.
- `small_run` (session): ONE successful run on the untouched small inputs, shared by the session's workers. Read
  it, never write into it: `small_run.published(sql)` (a polars frame from alms.duckdb), `small_run.output`,
  `small_run.env`, `small_run.run_id`, `small_run.instance()` (its Dagster instance, for events and metadata).
- `published_env` (function): `pipeline_env` whose output folder and Dagster home already hold a copy of `small_run`'s
  (the state after a first successful run): for a test that breaks something and runs again, or reads while runs
  publish. Saves the first run.
- `copy_run_output(source, target)`: an output folder copied with its relative symbolic links (current, ...).
- `run_environment(env, home)`: a block with these settings and Dagster home and no other ALMS_ setting.
- `new_dagster_home(folder)`: an instance home without telemetry.

Scenarios that need other inputs share one module-scoped run each (tests/test_bad_inputs_pipeline.py, the demo in
tests/test_demo_runs.py, PostgreSQL in tests/test_postgres.py): add assertions there rather than another run.
Asset checks are tested on a copy of `small_run`'s warehouse (tests/test_checks.py), without a run.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from assets.rules.inputs import BILLING, CLIENTS, ENGAGEMENT

CLIENT_COLUMNS = list(CLIENTS.columns)
BILLING_COLUMNS = list(BILLING.columns)
ENGAGEMENT_COLUMNS = list(ENGAGEMENT.columns)


def write_csv(path: Path, columns: list[str], rows: list[dict | list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns] if isinstance(row, dict) else row)
    return path


def client(system: str, client_id: str, name: str, **fields) -> dict:
    return {"source_system": system, "source_client_id": client_id, "name": name, **fields}


def line(system: str, invoice: str, number: int, client_id: str, date: str, amount: str, currency: str = "USD") -> dict:
    return {
        "source_system": system,
        "invoice_id": invoice,
        "line_number": str(number),
        "source_client_id": client_id,
        "invoice_date": date,
        "amount": amount,
        "currency": currency,
    }


SMALL_INPUT_GAPS = "nat:2015-01..,loc:2015-01.."


def small_inputs(data_dir: Path) -> Path:
    """Six client records of four organisations in two systems, a dozen billing lines in two currencies.

    nat:N1 and loc:L1 are one organisation (same name key and domain); loc:L9 shares Acme's address and phone but has
    another name, so it stays apart. Window: 2025-11-01 .. 2026-10-31 (the latest invoice is mid-November 2026).
    """
    write_csv(
        data_dir / "clients" / "nat.csv",
        CLIENT_COLUMNS,
        [
            client(
                "nat",
                "N1",
                "Acme Holdings, Inc.",
                domain="acme.com",
                phone="415-555-0100",
                postal_code="94105",
                owner_id="S1",
                segment="national",
                employee_count="500",
            ),
            client("nat", "N2", "Globex Corporation", domain="globex.com", owner_id="S2", segment="national"),
            client("nat", "N3", "Initech LLC", owner_id="S1", segment="national"),
        ],
    )
    write_csv(
        data_dir / "clients" / "loc.csv",
        CLIENT_COLUMNS,
        [
            client(
                "loc",
                "L1",
                "ACME HOLDINGS",
                domain="www.acme.com",
                phone="(415) 555-0100",
                owner_id="S2",
                segment="local",
            ),
            client("loc", "L2", "Umbrella Ltd", owner_id="S2", segment="local"),
            client("loc", "L9", "Acme Holdings West", phone="415 555 0100", postal_code="94105", segment="local"),
        ],
    )
    write_csv(
        data_dir / "billing" / "nat.csv",
        BILLING_COLUMNS,
        [
            line("nat", "I1", 1, "N1", "2026-01-15", "1000.00"),
            line("nat", "I1", 2, "N1", "2026-01-15", "500.00"),
            line("nat", "I2", 1, "N2", "2026-03-01", "800.00"),
            line("nat", "I3", 1, "N3", "2026-05-01", "300.00"),
            line("nat", "I4", 1, "N3", "2026-06-01", "-350.00"),
            line("nat", "I5", 1, "N1", "2024-06-01", "99999.00"),
            line("nat", "I6", 1, "N2", "2026-11-12", "50.00"),
        ],
    )
    write_csv(
        data_dir / "billing" / "loc.csv",
        BILLING_COLUMNS,
        [
            line("loc", "A1", 1, "L1", "2026-02-01", "200.00", "CAD"),
            line("loc", "A2", 1, "L2", "2026-02-01", "100.00", "CAD"),
            line("loc", "A3", 1, "L9", "2026-04-30", "400.00"),
        ],
    )
    write_csv(
        data_dir / "sellers.csv",
        ["owner_id", "seller_name", "team"],
        [
            ["S1", "Sam Seller", "East"],
            ["S2", "Alex Account", "West"],
        ],
    )
    write_csv(
        data_dir / "fx_rates.csv",
        ["currency", "month", "rate_to_reporting"],
        [
            ["CAD", "2026-02", "0.75"],
        ],
    )
    write_csv(
        data_dir / "engagement" / "events.csv",
        ENGAGEMENT_COLUMNS,
        [
            ["nat", "N1", "2026-02-01", "meeting", "2"],
            ["loc", "L2", "2026-03-01", "email", ""],
        ],
    )
    return data_dir


MEMORY_TEMP = Path("/dev/shm")  # Linux's memory-backed file system, where there is one


def pytest_configure(config) -> None:
    """Temporary folders in memory where the machine has /dev/shm with room: a run commits Dagster's SQLite event log
    about 900 times and checkpoints DuckDB files, each an fsync that costs milliseconds on a disk and nothing in memory
    (a small run here: 6.5 s on the disk, 5.5 s in memory). TMPDIR set by the caller wins."""
    if os.environ.get("TMPDIR") or not MEMORY_TEMP.is_dir() or not os.access(MEMORY_TEMP, os.W_OK):
        return
    stats = os.statvfs(MEMORY_TEMP)
    if stats.f_bavail * stats.f_frsize < 4 * 2**30:  # the suite writes about 1 GB at its peak; leave room
        return
    folder = MEMORY_TEMP / f"alms-tests-{os.getuid()}"
    folder.mkdir(exist_ok=True)
    if folder.is_symlink() or folder.stat().st_uid != os.getuid():  # not ours: stay on the default
        return
    folder.chmod(0o711)  # others may pass through (the PostgreSQL test runs its server as `postgres`), not list
    os.environ["TMPDIR"] = str(folder)  # for subprocesses (runs, dagster dev, PostgreSQL) as well
    tempfile.tempdir = str(folder)


@pytest.fixture
def inputs_dir(tmp_path: Path) -> Path:
    return small_inputs(tmp_path / "inputs")


def new_dagster_home(folder: Path) -> Path:
    """A Dagster instance home (telemetry off) in `folder`, created."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return folder


def parquet_location(publication: Path, table: str) -> Path:
    """Where a publication (or an output folder) holds `table` in Parquet: `parquet/<table>.parquet`, or for a table
    that carries its past (schemas.APPENDED_TABLES) the folder `parquet/<table>/` with a file per as-of date."""
    folder = publication / "parquet" / table
    return folder if folder.is_dir() else publication / "parquet" / f"{table}.parquet"


def parquet_files(location: Path) -> list[Path]:
    """The Parquet file of a table, or the files of its folder in name order (the table's order)."""
    return [location] if location.is_file() else sorted(location.glob("*.parquet"))


def copy_run_output(source: Path, target: Path) -> Path:
    """A copy of an output folder; its links (current, alms.duckdb, ...) are relative, so the copy stands alone."""
    shutil.copytree(source, target, symlinks=True)
    return target


@pytest.fixture
def pipeline_env(tmp_path: Path, inputs_dir: Path, monkeypatch) -> dict:
    """Environment for a pipeline run into tmp folders, with its own Dagster instance home."""
    env = {
        "ALMS_DATA_DIR": str(inputs_dir),
        "ALMS_OUTPUT_DIR": str(tmp_path / "output"),
        # the small inputs bill in a few months only: every month without billing is a gap, accepted here on purpose
        # (tests/test_bad_inputs_pipeline.py runs without it and sees the run stop)
        "ALMS_ACCEPT_GAPS": SMALL_INPUT_GAPS,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_HOME", str(new_dagster_home(tmp_path / "dagster_home")))
    return env


def run_in_memory(quiet: bool = True, log_level: str = "CRITICAL", selection=None) -> tuple[bool, list[str]]:
    """`run_pipeline` on an in-memory Dagster instance that keeps no event log (`instance_without_event_log`), for a
    test that reads what the run published or said, not Dagster's records of it: cheaper than
    `DagsterInstance.ephemeral()`, itself about 1.5 CPU seconds a run cheaper than the SQLite event log of a
    DAGSTER_HOME. A test that inspects the run's events uses `run_pipeline`.
    `selection` (asset keys, e.g. `downstream_of(...)`): only that part of the graph, on the tables the last run left
    (after `published_env`, a failure in the publication needs only the publication step)."""
    from pipelines.commands.cli import run_pipeline

    with instance_without_event_log() as instance:
        return run_pipeline(quiet=quiet, log_level=log_level, instance=instance, selection=selection)


def instance_without_event_log(keep_materializations: bool = False):
    """`DagsterInstance.ephemeral()` whose event log keeps no events: a run's events still reach its watchers and the
    run's result, but are not serialised into the in-memory SQLite log, which no test of `run_in_memory` reads (the
    product reads only `metadata_recorded_with`, which a fresh ephemeral instance answers with None either way). It
    saved 1.7 of a small run's 10.5 CPU seconds on a half-speed machine (2026-12-02, 6 runs each, interleaved); in
    the whole suite the gain is within its noise (docs/development.md).
    `keep_materializations`: the log keeps the asset materializations (and answers asset records from them), for a test
    that reads a step's metadata (`get_latest_materialization_event`) or runs again on the same instance, as the
    product's `metadata_recorded_with` does; the other events (about three in four of a run's stored events: step
    starts and successes, logs, planned materializations) are still only watched."""
    from dagster._core.event_api import EventRecordsResult
    from dagster._core.events import DagsterEventType
    from dagster._core.instance import DagsterInstance, InstanceType
    from dagster._core.launcher.sync_in_memory_run_launcher import SyncInMemoryRunLauncher
    from dagster._core.run_coordinator import DefaultRunCoordinator
    from dagster._core.storage.event_log import InMemoryEventLogStorage
    from dagster._core.storage.event_log.base import EventLogCursor
    from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager
    from dagster._core.storage.root import TemporaryLocalArtifactStorage
    from dagster._core.storage.runs import InMemoryRunStorage

    kept = {DagsterEventType.ASSET_MATERIALIZATION} if keep_materializations else set()

    class WatchedOnly(InMemoryEventLogStorage):
        def store_event(self, event) -> None:
            if event.dagster_event_type in kept:
                super().store_event(event)
                return
            self._storage_id += 1
            for handler in list(self._handlers[event.run_id]):
                handler(event, str(EventLogCursor.from_storage_id(self._storage_id)))

    class Empty(WatchedOnly):
        """A log that keeps nothing answers the reads of a run (each step's inputs' data versions and observations,
        a step's last metadata) with nothing, without querying its empty tables."""

        def get_asset_records(self, asset_keys=None) -> list:
            return []

        def get_latest_materialization_events(self, asset_keys) -> dict:
            return dict.fromkeys(asset_keys)

        def fetch_observations(self, records_filter, limit, cursor=None, ascending=False):
            return EventRecordsResult(
                [], cursor=cursor or EventLogCursor.from_storage_id(-1).to_string(), has_more=False
            )

    return DagsterInstance(
        instance_type=InstanceType.EPHEMERAL,
        local_artifact_storage=TemporaryLocalArtifactStorage(),
        run_storage=InMemoryRunStorage(),
        event_storage=WatchedOnly() if kept else Empty(),
        compute_log_manager=NoOpComputeLogManager(),
        run_coordinator=DefaultRunCoordinator(),
        run_launcher=SyncInMemoryRunLauncher(),
    )


# the assets one step computes from the key share (assets/marts.py): a run after a new ALMS_KEY_SHARE re-runs them and
# what is below them
KEY_LEVEL_ASSETS = ("marts/accounts", "marts/key_levels", "marts/key_level_reruns")


def downstream_of(*paths: str) -> list:
    """The asset keys of `paths` ("marts/accounts") and everything below them in the graph, for `run_in_memory`."""
    import dagster as dg

    from pipelines.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    keys = [dg.AssetKey(path.split("/")) for path in paths]
    return sorted(dg.AssetSelection.assets(*keys).downstream().resolve(graph))


def between(start: str, *ends: str) -> list:
    """The asset keys on the way from `start` ("raw/billing_lines") down to `ends` (both included): the steps a change
    of `start` goes through to reach `ends`, for a test about `ends` alone."""
    import dagster as dg

    from pipelines.definitions import build_definitions

    definitions = build_definitions()
    graph = definitions.resolve_asset_graph()
    below = dg.AssetSelection.assets(dg.AssetKey(start.split("/"))).downstream().resolve(graph)
    above = dg.AssetSelection.assets(*(dg.AssetKey(end.split("/")) for end in ends)).upstream().resolve(graph)
    keys = below & above
    for definition in definitions.assets or ():  # a step that builds several tables runs whole
        if isinstance(definition, dg.AssetsDefinition) and keys & set(definition.keys):
            keys |= set(definition.keys)
    return sorted(keys)


@dataclass(frozen=True)
class SharedRun:
    """A finished pipeline run shared between tests: read it, do not write into its folders."""

    env: dict
    output: Path
    home: Path
    run_id: str

    def published(self, sql: str):
        """The query's result on the published alms.duckdb, as a polars frame."""
        import duckdb

        with duckdb.connect(str(self.output / "alms.duckdb"), read_only=True) as conn:
            return conn.sql(sql).pl()

    @contextlib.contextmanager
    def instance(self):
        """The run's Dagster instance (its events, asset metadata and check results)."""
        import dagster as dg

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DAGSTER_HOME", str(self.home))
            with dg.DagsterInstance.get() as instance:
                yield instance


@contextlib.contextmanager
def run_environment(env: dict, home: Path):
    """`env` and DAGSTER_HOME=`home` for the block, and no other ALMS_ setting (one left in the shell would change the
    run). Yields the MonkeyPatch, for more."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**env, "DAGSTER_HOME": str(home)}.items():
            patch.setenv(key, value)
        for key in [k for k in os.environ if k.startswith("ALMS_") and k not in env]:
            patch.delenv(key)
        yield patch


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> SharedRun:
    """One successful run on the untouched small inputs for the whole session (see the module docstring), shared by
    the test workers: the first that needs it runs it, under a lock in the folder the workers share, and the others
    read what it left (its run.json says it finished). Each worker ran its own before: 4.7 CPU s more."""
    from pipelines.commands.cli import execute_pipeline

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # an xdist worker (gw0, gw1, ...)
        shared = shared.parent  # pytest-of-<user>/pytest-<n>: the folder of this session's workers
    base = shared / "small_run"
    with (shared / "small_run.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        finished = base / "run.json"
        if not finished.exists():
            shutil.rmtree(base, ignore_errors=True)  # what a worker whose run failed left
            env = {
                "ALMS_DATA_DIR": str(small_inputs(base / "inputs")),
                "ALMS_OUTPUT_DIR": str(base / "output"),
                "ALMS_ACCEPT_GAPS": SMALL_INPUT_GAPS,
            }
            with run_environment(env, new_dagster_home(base / "dagster_home")):
                success, errors, run_id = execute_pipeline(quiet=True, log_level="CRITICAL")
            assert success, errors
            finished.write_text(json.dumps({"env": env, "run_id": run_id}))
        saved = json.loads(finished.read_text())
    return SharedRun(env=saved["env"], output=base / "output", home=base / "dagster_home", run_id=saved["run_id"])


@pytest.fixture
def published_env(pipeline_env: dict, small_run: SharedRun, tmp_path: Path, monkeypatch) -> dict:
    """`pipeline_env` after a first successful run: a copy of `small_run`'s output folder and Dagster home."""
    copy_run_output(small_run.output, Path(pipeline_env["ALMS_OUTPUT_DIR"]))
    home = tmp_path / "dagster_home"
    shutil.rmtree(home)
    shutil.copytree(small_run.home, home)
    return pipeline_env
