"""The warehouse resource between a run's steps: DuckDB's freed memory goes back to the system, the limit stays."""

import os

import duckdb

from assets import resources
from assets.resources import Warehouse, return_freed_memory


def _rss_mb() -> float:
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def test_freed_memory_goes_back_to_the_system_and_the_limit_is_restored():
    conn = duckdb.connect(config={"memory_limit": "2GB"})
    before = _rss_mb()
    conn.execute("create table t as select range as i, md5(range::varchar) as s from range(3000000)")
    conn.execute("select s, count(*) from t group by s order by 2 desc limit 3").fetchall()
    conn.execute("drop table t")
    held = _rss_mb()
    assert held - before > 200, f"the query should have left memory with DuckDB's allocator ({before} -> {held} MB)"

    return_freed_memory(conn, "2GB")

    after = _rss_mb()
    assert after - before < (held - before) / 2, f"RSS {before:.0f} -> {held:.0f} -> {after:.0f} MB"
    assert conn.execute("select current_setting('memory_limit')").fetchone()[0] == "1.8 GiB"  # 2GB, as set
    conn.execute("select count(distinct md5(range::varchar)) from range(1000000)").fetchall()  # not left at 64MB


def test_a_run_hands_memory_back_when_a_step_is_done_with_the_database_not_in_between(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(resources, "return_freed_memory", lambda database, limit: calls.append(limit))
    warehouse = Warehouse(path=str(tmp_path / "work" / "warehouse.duckdb"), memory_limit="1GB")
    warehouse._run_id = "run-1"  # as setup_for_execution sets it inside a run
    try:
        with warehouse.connect() as outer:
            with warehouse.connect() as inner:  # a step's helper that opens its own cursor
                inner.execute("create table staging.t as select 1 as i")
            assert calls == []  # the outer cursor is still in use
            outer.execute("select * from staging.t").fetchall()
        assert calls == ["1GB"]
        with warehouse.connect() as nxt:
            nxt.execute("select 1").fetchall()
        assert calls == ["1GB", "1GB"]
    finally:
        warehouse.teardown_after_execution(None)


def test_outside_a_run_the_connection_is_closed_and_nothing_else_is_done(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(resources, "return_freed_memory", lambda database, limit: calls.append(limit))
    warehouse = Warehouse(path=str(tmp_path / "work" / "warehouse.duckdb"))
    with warehouse.connect() as conn:
        conn.execute("select 1").fetchall()
    assert calls == []
