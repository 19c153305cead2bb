"""The IO manager's row-replacing write (tables that carry their past, written one snapshot at a time)."""

import datetime as dt

import duckdb
import polars as pl
import pytest

from assets.resources import replace_rows

JAN, FEB = dt.date(2026, 1, 31), dt.date(2026, 2, 28)


def rows(conn) -> list[tuple]:
    return conn.sql("select * from marts.history order by all").fetchall()


def test_a_snapshot_replaces_only_its_own_rows():
    conn = duckdb.connect()
    conn.execute("create schema marts")
    first = pl.DataFrame({"as_of_date": [JAN, JAN], "account_id": ["a", "b"]})
    assert replace_rows(conn, "marts.history", first, "as_of_date") == 2  # created
    assert (
        replace_rows(conn, "marts.history", pl.DataFrame({"as_of_date": [FEB], "account_id": ["a"]}), "as_of_date") == 3
    )
    rerun = pl.DataFrame({"as_of_date": [FEB, FEB], "account_id": ["a", "c"], "currency": ["USD", "USD"]})
    assert replace_rows(conn, "marts.history", rerun, "as_of_date") == 4  # February replaced; a new column added
    assert rows(conn) == [(JAN, "a", None), (JAN, "b", None), (FEB, "a", "USD"), (FEB, "c", "USD")]


def test_a_failed_write_changes_nothing():
    conn = duckdb.connect()
    conn.execute("create schema marts")
    replace_rows(conn, "marts.history", pl.DataFrame({"as_of_date": [JAN], "account_number": [1]}), "as_of_date")
    bad = pl.DataFrame({"as_of_date": [JAN], "account_number": ["x"]})  # deleting January works, inserting fails
    with pytest.raises(duckdb.ConversionException):
        replace_rows(conn, "marts.history", bad, "as_of_date")
    assert rows(conn) == [(JAN, 1)]
