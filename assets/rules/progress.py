"""Progress lines for long steps: what a step is doing and how far it is, at least every `LOG_EVERY` seconds.

    with progress("staging.stg_billing__checked_lines", log, conn) as step:   # SQL: DuckDB's own progress, polled
        conn.execute(...)
    with progress("raw.billing_lines", log) as step:                          # loops: rows written so far
        for batch in batches:
            ...
            step.update(f"{rows:,} rows written")

A thread polls every `poll` seconds; when `every` seconds have passed since the last line, it logs the step's latest
state (the last `say`/`update`), with DuckDB's percentage of the running statement when a connection is given
(`conn.query_progress()`, which DuckDB 2.0 answers from another thread while the statement runs). `say` logs at once
(a phase begins); `update` only records the state (a counter), so a tight loop does not flood the log. A step that ends
within `every` seconds logs nothing. Lines read `<what>: <state>, SQL 43% (12 s)` (seconds since the step began).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb

LOG_EVERY = 5.0  # seconds between two progress lines of a running step, at most
POLL_EVERY = 0.5


class Progress:
    """The state of one running step and when it last said something. `tick` is what the polling thread calls."""

    def __init__(
        self,
        what: str,
        log: Callable[[str], None],
        conn: duckdb.DuckDBPyConnection | None = None,
        every: float = LOG_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self.log, self.conn, self.every, self.clock = what, log, conn, every, clock
        self.started = self.last_line = clock()
        self.state = "running"
        self.said = False  # the state is a line said already: repeated as "...; still running"
        self.lines = 0
        self._lock = threading.Lock()

    def say(self, message: str) -> None:
        """Log `message` now (as it is: a phase line carries its own time) and keep it as the state later lines
        repeat."""
        with self._lock:
            self.state, self.said = message, True
            self._line(message, elapsed=False)

    def update(self, message: str) -> None:
        """Keep `message` as the state; it is logged with the next line that is due."""
        with self._lock:
            self.state, self.said = message, False
        self.tick()

    def tick(self) -> None:
        """Log the state when `every` seconds have passed since the last line."""
        with self._lock:
            if self.clock() - self.last_line < self.every:
                return
            percent = self.sql_percent()
            state = self.state + ("; still running" if self.said else "")
            self._line(state + (f", SQL {percent:.0f}%" if percent is not None else ""))

    def sql_percent(self) -> float | None:
        """DuckDB's progress of the connection's running statement in percent (None: none running, or unknown)."""
        if self.conn is None:
            return None
        try:
            value = self.conn.query_progress()
        except duckdb.Error:
            return None
        return value if value is not None and value >= 0 else None

    def _line(self, message: str, elapsed: bool = True) -> None:
        now = self.clock()
        self.last_line = now
        self.lines += 1
        self.log(f"{self.what}: {message}" + (f" ({now - self.started:.0f} s)" if elapsed else ""))


def track_sql(conn: duckdb.DuckDBPyConnection) -> None:
    """Let DuckDB measure the progress of `conn`'s statements (without drawing its own bar on the terminal)."""
    conn.execute("set enable_progress_bar = true")
    conn.execute("set enable_progress_bar_print = false")


@contextmanager
def progress(
    what: str,
    log: Callable[[str], None],
    conn: duckdb.DuckDBPyConnection | None = None,
    every: float = LOG_EVERY,
    poll: float = POLL_EVERY,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Progress]:
    """A `Progress` for the block, logged by a polling thread that stops with the block."""
    if conn is not None:
        track_sql(conn)
    step = Progress(what, log, conn, every, clock)
    stop = threading.Event()

    def poll_until_stopped() -> None:
        while not stop.wait(poll):
            try:
                step.tick()
            except Exception:  # a progress line must never fail the step
                return

    thread = threading.Thread(target=poll_until_stopped, name=f"progress {what}", daemon=True)
    thread.start()
    try:
        yield step
    finally:
        stop.set()
        thread.join()
