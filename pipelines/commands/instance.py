"""The Dagster instance of the runs started here (`alms run`, the benchmark): Dagster's own instance from
DAGSTER_HOME, whose SQLite event log keeps its database files open between events.

Dagster's `SqliteEventLogStorage` creates a SQLAlchemy engine without a pool for every event it stores or reads,
connects (SQLite's open and SQLAlchemy's first-connect set-up), commits and disposes it: about 420 times in a run of
the small test inputs, where it made the run cost 6.1 CPU seconds on a DAGSTER_HOME against 3.3 on an in-memory
instance (sqlalchemy#7490 describes the cost of short-lived SQLite connections). Keeping one engine with one open
connection per database file brought it to 4.4 (docs/development.md, 2026-12-03).

Only the storage object of this process changes: the files, tables and rows are Dagster's, so `dagster dev` (the UI,
the daemon, the runs it launches) reads and writes them with Dagster's storage as before. A connection is used under
the storage's own lock, one at a time, as Dagster's are; between uses it holds no transaction (SQLite's WAL mode lets
the UI read meanwhile). At most `OPEN_FILES` files stay open; a forked child opens its own.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Iterator

import dagster as dg

OPEN_FILES = 4  # a run writes its own file and the index; a few more for reads of other runs


class KeptConnections:
    """The engines of one SQLite event log storage, one per database file (shard), each with one open connection."""

    def __init__(self, storage) -> None:
        self.storage = storage
        self.engines: OrderedDict[str, object] = OrderedDict()
        self.pid = os.getpid()

    @contextlib.contextmanager
    def connect(self, shard: str) -> Iterator:
        """What Dagster's `SqliteEventLogStorage._connect` yields (a connection in a transaction, committed at the
        end), on the shard's kept engine."""
        with self.storage._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str):
        import sqlalchemy
        from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS

        if self.pid != os.getpid():  # a forked child: the parent's connections are not this process's to use or close
            for engine in self.engines.values():
                engine.dispose(close=False)
            self.engines.clear()
            self.pid = os.getpid()
        engine = self.engines.pop(shard, None)
        if engine is None:
            engine = sqlalchemy.create_engine(
                self.storage.conn_string_for_shard(shard),
                pool_size=1,  # kept open; Dagster's set-up of a new file (_initdb) opens a second one for a moment
                max_overflow=2,
                # used by one thread at a time (the storage's lock), not always the thread that opened it
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            if shard not in self.storage._initialized_dbs:
                self.storage._initdb(engine)
                self.storage._initialized_dbs.add(shard)
        self.engines[shard] = engine  # the most recently used last
        while len(self.engines) > OPEN_FILES:
            self.engines.popitem(last=False)[1].dispose()
        return engine

    def close(self) -> None:
        with self.storage._db_lock:
            while self.engines:
                self.engines.popitem()[1].dispose()


def keep_connections(instance: dg.DagsterInstance) -> dg.DagsterInstance:
    """`instance` with its event log's SQLite files kept open, when its event log is Dagster's SQLite one (a
    configured PostgreSQL or another storage is left as it is). Closed with the instance (`dispose`)."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    storage = instance.event_log_storage
    if type(storage) is not SqliteEventLogStorage or hasattr(storage, "_alms_kept"):
        return instance
    kept = storage._alms_kept = KeptConnections(storage)
    storage._connect = kept.connect  # run_connection and index_connection call it for every read and write
    storage.dispose = _closing_first(kept, storage.dispose)
    storage.wipe = _closing_first(kept, storage.wipe)  # wipe deletes the run files: close them first
    return instance


def _closing_first(kept: KeptConnections, method):
    def closing_first(*args, **kwargs):
        kept.close()
        return method(*args, **kwargs)

    return closing_first


def project_instance() -> dg.DagsterInstance:
    """The instance DAGSTER_HOME names (`dg.DagsterInstance.get()`), its event log's files kept open."""
    return keep_connections(dg.DagsterInstance.get())
