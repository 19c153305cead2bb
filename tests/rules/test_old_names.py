"""The warehouse of an earlier version is upgraded in place: tables and columns it wrote under their old names
(schemas/renamed.py) get the new ones, their rows kept, so the tables that carry their past keep it."""

# renames.sed: keep old names (to the end of this file: it writes tables as an earlier version did)
import datetime as dt

import duckdb

from assets.rules.old_names import upgrade_warehouse
from schemas.renamed import OldNames

OLD = {
    "key_level_reruns": OldNames(
        "key_level_audit", {"review_period_start_date": "review_period_start", "has_changed": "changed"}
    ),
    "key_levels": OldNames("key_levels", {"review_period_start_date": "review_period_start"}),
    "quarantined_rows": OldNames("quarantine"),
}


def warehouse() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("create schema marts")
    conn.execute(
        "create table marts.key_level_audit as select date '2026-01-01' as review_period_start, true as changed"
    )
    conn.execute("create table marts.key_levels as select date '2026-01-01' as review_period_start, 900 as key_level")
    return conn


def columns(conn, table: str) -> list[str]:
    return conn.sql(f"select * from marts.{table} limit 0").columns


def test_old_tables_and_columns_get_their_new_names_with_their_rows():
    conn = warehouse()
    done = upgrade_warehouse(conn, OLD)
    assert done == [
        "marts.key_level_audit -> marts.key_level_reruns",
        "marts.key_level_reruns.review_period_start -> review_period_start_date",
        "marts.key_level_reruns.changed -> has_changed",
        "marts.key_levels.review_period_start -> review_period_start_date",
    ]
    assert columns(conn, "key_level_reruns") == ["review_period_start_date", "has_changed"]
    assert conn.sql("select * from marts.key_level_reruns").fetchall() == [(dt.date(2026, 1, 1), True)]
    assert conn.sql("select * from marts.key_levels").fetchall() == [(dt.date(2026, 1, 1), 900)]
    assert upgrade_warehouse(conn, OLD) == []  # a second time: nothing left to rename


def test_a_new_name_already_taken_is_left_alone_and_views_are_not_renamed():
    conn = warehouse()
    conn.execute("create table marts.key_level_reruns as select date '2026-07-01' as review_period_start_date")
    conn.execute("create view marts.quarantine as select 1 as x")  # e.g. the Spark engine's view over Parquet
    assert upgrade_warehouse(conn, OLD) == ["marts.key_levels.review_period_start -> review_period_start_date"]
    assert columns(conn, "key_level_audit") == ["review_period_start", "changed"]
    assert conn.sql("select * from marts.quarantine").fetchall() == [(1,)]
