"""One DuckDB transaction as a `with` block: committed when the block ends, rolled back when it raises."""

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


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
