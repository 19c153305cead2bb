"""DuckDB tables from polars: one transaction as a `with` block (committed when the block ends, rolled back when it
raises), and a frame stored as a table."""

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import polars as pl


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Everything `conn` executes in the block, committed at its end or rolled back (and the error raised again)."""
    conn.execute("begin")
    try:
        yield conn
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


def write_frame(conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, append: bool = False) -> None:
    """Store a polars frame as a table (replacing it), or append it to an existing table."""
    conn.register("frame_to_write", frame)
    try:
        if append:
            conn.execute(f"insert into {table} select * from frame_to_write")
        else:
            conn.execute(f"create or replace table {table} as select * from frame_to_write")
    finally:
        conn.unregister("frame_to_write")
