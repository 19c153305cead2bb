"""A BI tool holding a read-only connection to alms.duckdb while runs publish: no run fails because of it, and the
reader never sees a half-published state (accounts and key_levels always agree)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from conftest import KEY_LEVEL_ASSETS, downstream_of, run_in_memory

READER = r"""
import json, os, sys, time
import duckdb

path, stop_file, report_file, kind = sys.argv[1:5]
# held: like a BI tool that keeps its connection for hours. fresh: a notebook that connects for each query (a separate
# process, because DuckDB shares one database instance between the connections of a process to the same file).
held = duckdb.connect(path, read_only=True) if kind == "held" else None
errors, versions, queries = [], set(), 0
CONSISTENCY = '''
    select
        (select count(*) from marts.accounts where is_key_account),
        (select count(*) from marts.accounts where is_key_account and key_level = (select key_level from marts.key_levels where is_current)),
        (select count(*) from marts.seller_account_lists where designation = 'key'),
        (select cast(max(computed_at) as varchar) from marts.key_levels)
'''
print("ready", flush=True)
while not os.path.exists(stop_file):
    try:
        conn = held or duckdb.connect(path, read_only=True)
        key_in_accounts, key_in_levels, key_in_lists, version = conn.sql(CONSISTENCY).fetchall()[0]
        if not key_in_accounts == key_in_levels == key_in_lists:
            errors.append(f"half-published state {key_in_accounts} / {key_in_levels} / {key_in_lists}")
        versions.add(version)
        if held is None:
            conn.close()
    except Exception as error:
        errors.append(f"{type(error).__name__}: {error}")
    queries += 1
    time.sleep(0.02)  # a dashboard polling hard, not a busy loop: the suite shares two cores
with open(report_file, "w") as handle:
    json.dump({"errors": errors[:20], "error_count": len(errors), "queries": queries, "versions": sorted(versions)}, handle)
"""


@pytest.mark.slow
def test_runs_publish_while_a_reader_holds_a_read_only_connection(published_env, tmp_path, monkeypatch):
    pipeline_env = published_env  # the state after a first run (tests/conftest.py)
    published = Path(pipeline_env["ALMS_OUTPUT_DIR"]) / "alms.duckdb"
    stop_file = tmp_path / "stop"
    readers = {
        kind: subprocess.Popen(
            [sys.executable, "-c", READER, str(published), str(stop_file), str(tmp_path / f"{kind}.json"), kind],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in ("held", "fresh")
    }
    try:
        for reader in readers.values():
            assert reader.stdout.readline().strip() == "ready"
        outcomes = []
        changed = downstream_of(*KEY_LEVEL_ASSETS)  # what a new key share changes, on the first run's tables
        for share in ("0.5", "1"):  # each run publishes different key counts
            monkeypatch.setenv("ALMS_KEY_SHARE", share)
            monkeypatch.setenv("ALMS_REVIEW_REASON", f"key share changed to {share}")  # re-run the review
            outcomes.append(run_in_memory(log_level="WARNING", selection=changed))
            time.sleep(0.3)
    finally:
        stop_file.touch()
        for reader in readers.values():
            reader.communicate(timeout=60)
    assert all(success for success, _ in outcomes), outcomes
    held, fresh = (json.loads((tmp_path / f"{kind}.json").read_text()) for kind in ("held", "fresh"))
    print(
        f"held reader: {held['queries']} queries; fresh reader: {fresh['queries']} queries, {len(fresh['versions'])} versions"
    )
    assert held["error_count"] == 0 and fresh["error_count"] == 0, (held["errors"], fresh["errors"])
    assert held["queries"] > 50 and fresh["queries"] > 50
    assert len(held["versions"]) == 1  # the held connection keeps reading the file it opened, whole
    assert len(fresh["versions"]) == 3  # new connections see the first run's publication, then each new one
    with duckdb.connect(str(published), read_only=True) as conn:
        assert conn.sql("select key_share from marts.key_levels").fetchall() == [(1.0,)]
        # each re-run of the review is audited with the operator's reason
        assert conn.sql("select reason from marts.key_level_reruns order by rerun_at").fetchall() == [
            ("key share changed to 0.5",),
            ("key share changed to 1",),
        ]
    assert not os.path.exists(f"{published}.wal")
