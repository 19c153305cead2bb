"""Fingerprints of a step's inputs and the tables that carry them (assets/rules/reuse.py)."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from assets.rules import reuse

RECORDS = pl.DataFrame(
    {
        "source_client_id": ["a", "b", "c"],
        "name": ["Acme", None, "Acme Inc"],
        "employee_count": [10, 20, None],
        "customer_since": [dt.date(2020, 1, 1), None, dt.date(2021, 5, 1)],
    }
)


def fingerprint(records=RECORDS, threshold=0.5, code="code") -> str:
    return reuse.fingerprint({"records": records}, {"match_threshold": threshold}, code, ["polars"])


def test_the_same_rows_in_another_order_give_the_same_fingerprint():
    assert fingerprint(RECORDS.reverse()) == fingerprint(RECORDS)
    assert reuse.frame_digest(RECORDS.sample(fraction=1.0, shuffle=True, seed=3)) == reuse.frame_digest(RECORDS)


@pytest.mark.parametrize(
    "changed",
    [
        RECORDS.with_columns(
            pl.when(pl.col("source_client_id") == "b").then(pl.lit("")).otherwise("name").alias("name")
        ),
        RECORDS.with_columns(pl.col("employee_count").fill_null(0)),
        RECORDS.head(2),
        pl.concat([RECORDS, RECORDS.tail(1)]),  # a duplicated row
        RECORDS.with_columns(pl.col("employee_count").cast(pl.Float64)),
        RECORDS.rename({"name": "legal_name"}),
        RECORDS.select(reversed(RECORDS.columns)),
        RECORDS.with_columns(pl.col("customer_since").dt.offset_by("1d")),
    ],
    ids=["null_to_empty", "null_to_zero", "row_gone", "row_repeated", "type", "column_name", "column_order", "date"],
)
def test_any_change_of_the_rows_changes_the_fingerprint(changed):
    assert fingerprint(changed) != fingerprint(RECORDS)


def test_settings_code_and_empty_frames_count():
    assert fingerprint(threshold=0.6) != fingerprint()
    assert fingerprint(code="other") != fingerprint()
    empty = RECORDS.clear()
    assert fingerprint(empty) == fingerprint(empty) != fingerprint(RECORDS)
    assert reuse.frame_digest(pl.DataFrame())["rows"] == 0


def test_source_digest_reads_the_files(tmp_path):
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    first.write_text("x = 1\n")
    second.write_text("y = 2\n")
    before = reuse.source_digest([first, second])
    second.write_text("y = 3\n")
    assert reuse.source_digest([first, second]) != before


def test_a_table_carries_its_fingerprint_only_until_it_is_rewritten():
    conn = duckdb.connect()
    conn.execute("create schema intermediate")
    tables = ("intermediate.matched", "intermediate.review")
    for table in tables:
        conn.execute(f"create table {table} as select 1 as x")
    assert reuse.stored_run(conn, tables, "f1") is None  # no fingerprint yet
    reuse.record(conn, tables, "f1", "run-1")
    assert reuse.stored_run(conn, tables, "f1") == "run-1"
    assert reuse.stored_run(conn, tables, "f2") is None  # another fingerprint: compute again
    conn.execute("create or replace table intermediate.review as select 2 as x")  # rewritten by anything else
    assert reuse.stored_run(conn, tables, "f1") is None
    reuse.record(conn, tables, "f1", "run-2")
    assert reuse.stored_run(conn, tables, "f1") == "run-2"
    conn.execute("drop table intermediate.matched")
    assert reuse.stored_run(conn, tables, "f1") is None  # a table gone
    conn.execute("create table intermediate.matched as select 1 as x")
    reuse.record(conn, ["intermediate.matched"], "f1", "run-3")  # the two tables from different runs
    assert reuse.stored_run(conn, tables, "f1") is None
