"""The IO manager's row-replacing write (tables that carry their past, written one snapshot at a time)."""

import datetime as dt

import duckdb
import polars as pl
import pytest

from assets.resources import replace_rows
from assets.rules import reuse

JAN, FEB = dt.date(2026, 1, 31), dt.date(2026, 2, 28)
ROWS_DIGEST = reuse.rows_digest  # the test below counts the product's calls of it


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


def whole(conn) -> dict:
    """The digest of every value's rows, read and hashed (what the recorded digests stand for)."""
    return ROWS_DIGEST(conn, "select * from marts.history", by="as_of_date")


def test_the_digests_recorded_with_the_rows_are_those_of_the_rows(monkeypatch):
    conn = duckdb.connect()
    conn.execute("create schema marts")
    replace_rows(
        conn, "marts.history", pl.DataFrame({"as_of_date": [JAN, JAN], "account_id": ["a", "b"]}), "as_of_date"
    )
    replace_rows(conn, "marts.history", pl.DataFrame({"as_of_date": [FEB], "account_id": ["a"]}), "as_of_date")
    hashed = []
    monkeypatch.setattr(reuse, "rows_digest", lambda *a, **k: hashed.append(k.get("params")) or ROWS_DIGEST(*a, **k))
    assert reuse.table_value_digests(conn, "marts.history", "as_of_date") == whole(conn)
    assert hashed == []  # both values recorded by their writes: no row read and hashed again
    # February rewritten with another account: its digest recorded again, January's kept
    replace_rows(conn, "marts.history", pl.DataFrame({"as_of_date": [FEB], "account_id": ["z"]}), "as_of_date")
    assert hashed == [{"values": [FEB]}]
    assert reuse.table_value_digests(conn, "marts.history", "as_of_date") == whole(conn)
    # rows changed behind the writer's back: a changed row count is noticed and that value hashed again
    conn.execute("insert into marts.history values (date '2026-01-31', 'c')")
    hashed.clear()
    assert reuse.table_value_digests(conn, "marts.history", "as_of_date") == whole(conn)
    assert hashed == [{"values": [JAN]}]
    # a column added (every row's hash changes): nothing recorded is used
    conn.execute("alter table marts.history add column currency varchar default 'USD'")
    hashed.clear()
    assert reuse.table_value_digests(conn, "marts.history", "as_of_date") == whole(conn)
    assert sorted(hashed[0]["values"]) == [JAN, FEB]
    # the next write records its own value with the new columns; the others are not trusted until hashed
    replace_rows(
        conn,
        "marts.history",
        pl.DataFrame({"as_of_date": [FEB], "account_id": ["y"], "currency": ["EUR"]}),
        "as_of_date",
    )
    hashed.clear()
    assert reuse.table_value_digests(conn, "marts.history", "as_of_date") == whole(conn)
    assert hashed == [{"values": [JAN]}]


def test_a_failed_write_records_no_digest():
    conn = duckdb.connect()
    conn.execute("create schema marts")
    replace_rows(conn, "marts.history", pl.DataFrame({"as_of_date": [JAN], "account_number": [1]}), "as_of_date")
    before = conn.sql("select comment from duckdb_tables() where table_name = 'history'").fetchall()
    with pytest.raises(duckdb.ConversionException):
        replace_rows(conn, "marts.history", pl.DataFrame({"as_of_date": [JAN], "account_number": ["x"]}), "as_of_date")
    assert conn.sql("select comment from duckdb_tables() where table_name = 'history'").fetchall() == before
    assert reuse.table_value_digests(conn, "marts.history", "as_of_date") == whole(conn)
