"""The instance of the runs started here (pipelines/commands/instance.py): Dagster's SQLite event log with its files
kept open writes what Dagster's own storage reads (the UI's view), opens each file once, and keeps a bounded number
open."""

import os
import subprocess
import sys
from collections import Counter

import dagster as dg
import pytest
import sqlalchemy
from conftest import new_dagster_home

from pipelines.commands import instance as kept_instance


@dg.asset
def first() -> int:
    return 1


@dg.asset
def second(first: int) -> int:
    return first + 1


JOB = dg.define_asset_job("two", selection=["first", "second"])
DEFINITIONS = dg.Definitions(assets=[first, second], jobs=[JOB])


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(new_dagster_home(tmp_path)))
    return tmp_path


def test_a_run_is_written_as_dagsters_own_storage_reads_it_with_each_file_opened_once(home, monkeypatch):
    opened = []
    create_engine = sqlalchemy.create_engine
    monkeypatch.setattr(sqlalchemy, "create_engine", lambda url, **kw: opened.append(url) or create_engine(url, **kw))
    job = DEFINITIONS.resolve_job_def("two")
    with kept_instance.project_instance() as instance:
        results = [job.execute_in_process(instance=instance) for _ in range(2)]
        kept = instance.event_log_storage._alms_kept
        # each run's file opened once, though each run stores dozens of events in it
        assert [sum(url.endswith(f"/{r.run_id}.db") for url in opened) for r in results] == [1, 1]
        assert set(kept.engines) == {"index", *(r.run_id for r in results)}
    assert not kept.engines  # closed with the instance
    with dg.DagsterInstance.get() as plain:  # what the UI reads: Dagster's storage, files opened per query
        assert not hasattr(plain.event_log_storage, "_alms_kept")
        for result in results:
            assert plain.get_run_by_id(result.run_id).is_success
            logged = [entry.dagster_event for entry in plain.all_logs(result.run_id) if entry.is_dagster_event]
            # every event of the run's result (and the planned materializations, engine events the result leaves out)
            assert not Counter(e.event_type for e in result.all_events) - Counter(e.event_type for e in logged)
            assert logged[-1].event_type == dg.DagsterEventType.RUN_SUCCESS and len(logged) > 10
        latest = plain.get_latest_materialization_event(dg.AssetKey("second"))
        assert latest.run_id == results[-1].run_id


def test_at_most_a_few_files_stay_open_and_a_wipe_closes_them(home):
    with kept_instance.project_instance() as instance:
        storage = instance.event_log_storage
        for shard in [f"run{n}" for n in range(kept_instance.OPEN_FILES + 3)]:
            with storage.run_connection(shard) as conn:
                conn.execute(sqlalchemy.text("select 1"))
        assert list(storage._alms_kept.engines) == [f"run{n}" for n in range(3, kept_instance.OPEN_FILES + 3)]
        instance.wipe()  # deletes the run files (closed first) and empties the index, open again
        assert list(storage._alms_kept.engines) == ["index"]
        assert not list(home.glob("history/runs/run*.db"))


def test_other_event_logs_are_left_as_they_are():
    with dg.DagsterInstance.ephemeral() as instance:
        assert kept_instance.keep_connections(instance) is instance
        assert not hasattr(instance.event_log_storage, "_alms_kept")


# another process on the same instance home, as the UI and its daemon are: it writes the index (an asset event
# reported from outside any run) and reads the runs until told to stop
OTHER_PROCESS = """
import pathlib, sys, dagster as dg
stop = pathlib.Path(sys.argv[1])
written = runs = 0
with dg.DagsterInstance.get() as instance:
    print("ready", flush=True)
    while not stop.exists() or written < 20:
        instance.report_runless_asset_event(dg.AssetMaterialization("reported_elsewhere"))
        written += 1
        runs = max(runs, len(instance.get_runs()))
print(written, runs)
"""


def test_another_process_writes_and_reads_the_same_files_meanwhile(home, tmp_path):
    """The kept connections hold no lock between events (SQLite's WAL mode): a process with Dagster's own storage
    (the UI, the daemon) writes and reads the same files while runs are written, without waiting for them."""
    stop = tmp_path / "stop"
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, str(stop)], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        assert other.stdout.readline().strip() == "ready"
        job = DEFINITIONS.resolve_job_def("two")
        with kept_instance.project_instance() as instance:
            results = [job.execute_in_process(instance=instance) for _ in range(5)]
            assert instance.event_log_storage._alms_kept.engines  # the connections were kept meanwhile
    finally:
        stop.touch()
        printed, _ = other.communicate(timeout=120)
    assert other.returncode == 0
    written, runs = map(int, printed.split())
    assert all(result.success for result in results) and runs >= 1 and written >= 20
    with dg.DagsterInstance.get() as plain:
        reported = plain.fetch_materializations(dg.AssetKey("reported_elsewhere"), limit=10_000).records
        assert len(reported) == written
        assert plain.get_latest_materialization_event(dg.AssetKey("second")).run_id == results[-1].run_id
