"""DuckDB tables from polars: one transaction as a `with` block (committed when the block ends, rolled back when it
raises), a frame stored as a table, and a scratch connection for small questions over frames."""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import polars as pl

_SCRATCH: dict[int, duckdb.DuckDBPyConnection] = {}  # process id -> the shared in-memory database
_SCRATCH_LOCK = threading.Lock()


def scratch() -> duckdb.DuckDBPyConnection:
    """A connection of its own (a cursor) to one in-memory DuckDB database the process shares, for small questions
    over frames: a name's words, a test's frames. Opening an in-memory database costs about 15 ms (`duckdb.connect()`),
    a cursor of an open one about 0.01 ms; the matcher asks several small questions per run, and the suite thousands.
    What `register` adds stays the cursor's own (closing it drops it); some settings (`threads`) are the database's,
    so set none here. Not for large work: memory a query freed stays with the shared database's allocator, where a
    database of its own hands it back when it is closed. A forked child opens its own."""
    with _SCRATCH_LOCK:
        database = _SCRATCH.get(os.getpid())
        if database is None:  # the first here, or a forked child: a parent's database stays in the dict, untouched
            database = _SCRATCH[os.getpid()] = duckdb.connect()  # (closing it in the child crashes the child)
        return database.cursor()


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
