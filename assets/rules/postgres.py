"""PostgreSQL as a publication target: the current DuckDB publication, copied whole into PostgreSQL, where Metabase,
Tableau and Power BI read it natively (docs/bi.md).

How one publication lands (`publish_to_postgres`):

1. `<schema>_stage_<run>`: a new schema; every table of the DuckDB publication is created there with equivalent types
   (decimals stay numeric, dates date, timestamps timestamptz), its rows loaded with `COPY ... FROM STDIN` (CSV that
   DuckDB writes from the published file), its table and column comments copied from the published file (which has
   them from the pandera models), and `USAGE` + `SELECT` granted to the BI reader role only. The deprecated views
   under old table names the published file has (assets/rules/old_names.py) are created over the stage's tables,
   with their comments.
2. Checked against the DuckDB publication: the same tables, the same columns, the same row counts, the same views, or
   the step fails with one line and the stage schema is dropped.
3. The swap, in one transaction: `LOCK TABLE` every table of the live schema `IN ACCESS EXCLUSIVE MODE`, rename the
   live schema to `<schema>_old_<run>`, the stage schema to `<schema>`, drop the old views alms made, the old tables
   and the schema, commit. A BI
   session sees the old publication or the new one, whole: a statement (or a transaction) that has read an old table
   holds a lock the swap needs, so the swap waits for it to end, and every name it resolves after the commit resolves
   to the new tables. Each try waits at most `ATTEMPT_LOCK_TIMEOUT` for a lock and, when it cannot get all of them,
   gives every lock back and tries again, so a reader waiting behind the swap never deadlocks with it; after
   `lock_timeout` seconds of tries the step fails with one line naming the sessions that held the tables.

The schema's comment names the publication it holds, so a run finds PostgreSQL already up to date, or behind and in
need of the current publication (after a failure: the next run retries). A session advisory lock keeps two
publishers of one schema apart; leftover `<schema>_stage_*` / `<schema>_old_*` schemas of killed runs are dropped.

The DSN's password never leaves this module: errors are reworded (`PostgresError`, one line, the password and the
DSN replaced by `***`), and what is shown of the target is `describe_target` (no password).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from assets.rules.publish import MANIFEST, PUBLISHED_FILE, PublishError
from schemas.renamed import OLD_NAMES

DEFAULT_SCHEMA = "alms"
DEFAULT_LOCK_TIMEOUT = 30.0
ATTEMPT_LOCK_TIMEOUT_MS = 200  # below PostgreSQL's default deadlock_timeout (1 s): a waiting reader never deadlocks
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")  # room for the _stage_<run> / _old_<run> suffixes (63 bytes)
PUBLICATION_COMMENT = re.compile(r"^alms publication (\S+)")
SAFE_KEYS = ("host", "hostaddr", "port", "dbname", "user", "sslmode", "service", "application_name")
COPY_CHUNK = 1 << 20


class PostgresError(PublishError):
    """Publishing to PostgreSQL failed; the message is one line and never holds the DSN's password."""


@dataclass(frozen=True)
class PostgresTarget:
    dsn: str = field(repr=False)
    schema: str = DEFAULT_SCHEMA
    reader_role: str = ""
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT


@dataclass
class PostgresResult:
    publication: str
    schema: str
    state: str  # published, up_to_date
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    swap_attempts: int = 0
    notes: list[str] = field(default_factory=list)


# --- the DSN: parsed, described without its password, scrubbed from any text ------------------------------------


def parse_dsn(dsn: str) -> dict[str, str]:
    """The DSN's parameters (libpq key=value string or postgresql:// URI). ValueError without echoing the DSN: libpq's
    own message quotes pieces of it, which may be pieces of the password."""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # pragma: no cover - psycopg is pinned; the extra keeps it optional for pip installs
        raise ValueError("is set but psycopg is not installed: pip install 'alms[postgres]'") from None
    try:
        params = conninfo_to_dict(dsn)
    except Exception:
        raise ValueError(
            "is not a libpq connection string ('host=... dbname=... user=...') or URI ('postgresql://user@host/db')"
        ) from None
    return {key: str(value) for key, value in params.items() if value is not None}


def describe_target(dsn: str, schema: str = DEFAULT_SCHEMA) -> str:
    """What may be shown of the target: host, port, database, user and schema; never the password."""
    try:
        params = parse_dsn(dsn)
    except ValueError:
        return f"(unparseable DSN) schema {schema}"
    shown = " ".join(f"{key}={params[key]}" for key in SAFE_KEYS if params.get(key))
    return f"{shown or '(libpq defaults)'} schema={schema}"


def secrets_of(dsn: str) -> list[str]:
    """Texts that must never be shown: the password (as given and URI-decoded) and the DSN itself."""
    secrets = {dsn} if dsn else set()
    with contextlib.suppress(ValueError):
        password = parse_dsn(dsn).get("password")
        if password:
            secrets.add(password)
    for match in re.finditer(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn):
        secrets.add(match.group(1).strip("'"))
    match = re.match(r"^postgres(?:ql)?://[^:/@]*:([^@]*)@", dsn)
    if match:
        secrets.add(match.group(1))
    return sorted((s for s in secrets if s), key=len, reverse=True)


def scrub(text: str, dsn: str) -> str:
    """`text` on one line with every secret of `dsn` replaced by ***."""
    line = " ".join(str(text).split())
    for secret in secrets_of(dsn):
        line = line.replace(secret, "***")
    return line


# --- types and comments from the DuckDB publication ---------------------------------------------------------------

_TYPES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "UBIGINT": "numeric(20, 0)",
    "HUGEINT": "numeric(39, 0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIME": "time",
    "INTERVAL": "interval",
    # alms's naive timestamps are UTC (their descriptions say so); the load runs with TimeZone UTC
    "TIMESTAMP": "timestamptz",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "UUID": "uuid",
}


def postgres_type(duckdb_type: str) -> str:
    """The PostgreSQL type of a DuckDB column type; PostgresError for a type with no equivalent."""
    decimal = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", duckdb_type.replace(" ", ""))
    if decimal:
        return f"numeric({decimal.group(1)}, {decimal.group(2)})"
    if duckdb_type in _TYPES:
        return _TYPES[duckdb_type]
    raise PostgresError(f"PostgreSQL: no equivalent type for DuckDB {duckdb_type}")


@dataclass(frozen=True)
class Column:
    name: str
    duckdb_type: str
    comment: str


@dataclass(frozen=True)
class Table:
    name: str
    comment: str
    columns: tuple[Column, ...]
    rows: int


def published_tables(conn: duckdb.DuckDBPyConnection, schema: str = "marts") -> list[Table]:
    """Every table of a DuckDB publication's `schema`, with its columns, types, comments and row count."""
    tables = []
    for name, comment in conn.execute(
        "select table_name, comment from duckdb_tables() where database_name = current_database() "
        "and schema_name = ? order by table_name",
        [schema],
    ).fetchall():
        columns = conn.execute(
            "select column_name, data_type, comment from duckdb_columns() where database_name = current_database() "
            "and schema_name = ? and table_name = ? order by column_index",
            [schema, name],
        ).fetchall()
        rows = conn.sql(f'select count(*) from {schema}."{name}"').fetchall()[0][0]
        tables.append(Table(name, comment or "", tuple(Column(c, t, d or "") for c, t, d in columns), rows))
    return tables


@dataclass(frozen=True)
class View:
    """A deprecated view of the DuckDB publication under a renamed table's old name: the table it selects and its
    columns as (the table's column, the view's column, comment)."""

    name: str
    comment: str
    table: str
    columns: tuple[tuple[str, str, str], ...]


def published_views(conn: duckdb.DuckDBPyConnection, tables: list[Table], schema: str = "marts") -> list[View]:
    """The views of a DuckDB publication's `schema` that are the old name of one of its `tables` (schemas/renamed.py),
    with their columns and comments. Views of any other kind are not published to PostgreSQL."""
    views = []
    by_old_name = {old.table: new for new, old in OLD_NAMES.items() if old.table != new}
    names = {t.name for t in tables}
    for name, comment in conn.execute(
        "select view_name, comment from duckdb_views() where database_name = current_database() "
        "and schema_name = ? order by view_name",
        [schema],
    ).fetchall():
        table = by_old_name.get(name)
        if table not in names:
            continue
        source = {old_column: new_column for new_column, old_column in OLD_NAMES[table].columns.items()}
        columns = conn.execute(
            "select column_name, comment from duckdb_columns() where database_name = current_database() "
            "and schema_name = ? and table_name = ? order by column_index",
            [schema, name],
        ).fetchall()
        views.append(View(name, comment or "", table, tuple((source.get(c, c), c, d or "") for c, d in columns)))
    return views


# --- publishing -------------------------------------------------------------------------------------------------


def publish_to_postgres(
    target: PostgresTarget,
    publication: Path,
    manifest: dict,
    *,
    run_id: str,
    log: Callable[[str], None] = lambda message: None,
    progress: Callable[[str], None] = lambda message: None,
) -> PostgresResult:
    """Make PostgreSQL's `target.schema` show the DuckDB publication in the folder `publication` (see the module
    docstring). Returns what happened; PostgresError (one line, no password) when it could not."""
    import psycopg

    started = time.perf_counter()
    name = manifest["publication"]
    try:
        with psycopg.connect(target.dsn, connect_timeout=10, application_name="alms publisher") as conn:
            return _publish(conn, target, publication, manifest, name, run_id, log, started, progress)
    except PostgresError as error:
        raise PostgresError(scrub(str(error), target.dsn)) from None
    except psycopg.Error as error:
        raise PostgresError(
            f"PostgreSQL ({describe_target(target.dsn, target.schema)}): {scrub(_message(error), target.dsn)}"
        ) from None


def _message(error) -> str:
    if getattr(error, "sqlstate", None) is None:  # no server answer (a connection that failed): libpq's own words
        return str(error) or type(error).__name__
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None)
    detail = getattr(diag, "message_detail", None)
    if primary:
        return f"{primary} ({detail})" if detail else primary
    return str(error) or type(error).__name__


def _publish(conn, target, publication, manifest, name, run_id, log, started, progress) -> PostgresResult:
    from psycopg import sql

    schema = target.schema
    conn.autocommit = True
    conn.execute("set time zone 'UTC'")
    key = conn.execute("select hashtext(%s)", [f"alms publish {schema}"]).fetchone()[0]
    if not conn.execute("select pg_try_advisory_lock(%s)", [key]).fetchone()[0]:
        holder = conn.execute(
            "select pid from pg_locks where locktype = 'advisory' and objid = (%s::bigint & 4294967295)::oid "
            "and granted limit 1",
            [key],
        ).fetchone()
        raise PostgresError(
            f"PostgreSQL: another alms run is publishing to schema {schema} (backend pid "
            f"{holder[0] if holder else '?'})"
        )
    try:
        if _current_publication(conn, schema) == name:
            return PostgresResult(
                publication=name, schema=schema, state="up_to_date", seconds=time.perf_counter() - started
            )
        notes = _drop_leftovers(conn, schema, log)
        stage = f"{schema}_stage_{_suffix(run_id)}"
        with duckdb.connect(str(publication / PUBLISHED_FILE), read_only=True) as source:
            tables = published_tables(source)
            views = published_views(source, tables)
            _check_against_manifest(tables, manifest)
            try:
                _load(conn, source, tables, stage, target, manifest, log, progress, views)
                progress("checking the loaded tables, then swapping them in")
                _check_loaded(conn, stage, tables, views)
                attempts = _swap(conn, stage, schema, _suffix(run_id), target.lock_timeout)
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.rollback()
                    conn.autocommit = True
                    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(stage)))
                raise
        return PostgresResult(
            publication=name,
            schema=schema,
            state="published",
            tables={t.name: t.rows for t in tables},
            seconds=time.perf_counter() - started,
            swap_attempts=attempts,
            notes=notes,
        )
    finally:
        with contextlib.suppress(Exception):
            conn.autocommit = True
            conn.execute("select pg_advisory_unlock(%s)", [key])


def _suffix(run_id: str) -> str:
    return re.sub(r"[^a-z0-9]", "", run_id.lower())[:8] or "run"


def _current_publication(conn, schema: str) -> str | None:
    row = conn.execute(
        "select obj_description(oid, 'pg_namespace') from pg_namespace where nspname = %s", [schema]
    ).fetchone()
    match = PUBLICATION_COMMENT.match(row[0] or "") if row else None
    return match.group(1) if match else None


def _drop_leftovers(conn, schema: str, log) -> list[str]:
    """Stage and old schemas that killed or failed runs left (the advisory lock says no publisher is running)."""
    from psycopg import errors, sql

    notes = []
    leftovers = conn.execute(
        "select nspname from pg_namespace where nspname like %s or nspname like %s order by nspname",
        [f"{schema}\\_stage\\_%", f"{schema}\\_old\\_%"],
    ).fetchall()
    for (leftover,) in leftovers:
        try:
            with conn.transaction():
                conn.execute(f"set local lock_timeout = '{ATTEMPT_LOCK_TIMEOUT_MS * 5}ms'")
                conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(leftover)))
            notes.append(f"dropped the schema {leftover} a killed or failed publication left")
        except errors.LockNotAvailable:
            notes.append(f"the schema {leftover} a failed publication left is still in use; the next run drops it")
        log(notes[-1])
    return notes


def _check_against_manifest(tables: list[Table], manifest: dict) -> None:
    """The published file holds what the manifest says: the same tables, the same row counts."""
    found = {f"marts.{t.name}": t.rows for t in tables}
    expected = manifest.get("tables", {})
    if found != expected:
        differences = sorted(
            f"{table} {expected.get(table, 'absent')} in the manifest, {found.get(table, 'absent')} in the file"
            for table in set(found) | set(expected)
            if found.get(table) != expected.get(table)
        )
        raise PostgresError(f"PostgreSQL: the DuckDB publication does not match its manifest: {'; '.join(differences)}")


def _load(
    conn,
    source,
    tables: list[Table],
    stage: str,
    target: PostgresTarget,
    manifest: dict,
    log,
    progress,
    views: list[View] = (),
) -> None:
    """Create the stage schema and load every table into it, with comments, the deprecated `views` and the reader
    role's grants, committed."""
    from psycopg import sql

    conn.autocommit = False
    schema_id = sql.Identifier(stage)
    conn.execute(sql.SQL("create schema {}").format(schema_id))
    comment = (
        f"alms publication {manifest['publication']} (run {manifest.get('run_id', '?')}, as of "
        f"{manifest.get('as_of_date', '?')}): the marts, replaced whole by each publication"
    )
    conn.execute(sql.SQL("comment on schema {} is {}").format(schema_id, sql.Literal(comment)))
    with tempfile.TemporaryDirectory(prefix="alms-postgres-") as folder:
        for number, table in enumerate(tables, start=1):
            rows = manifest.get("tables", {}).get(f"marts.{table.name}")
            counted = f"{rows:,} rows; " if isinstance(rows, int) else ""
            doing = f"copying marts.{table.name} ({counted}table {number} of {len(tables)})"
            progress(doing)
            table_id = sql.Identifier(stage, table.name)
            columns = sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(postgres_type(c.duckdb_type)))
                for c in table.columns
            )
            conn.execute(sql.SQL("create table {} ({})").format(table_id, columns))
            if table.comment:
                conn.execute(sql.SQL("comment on table {} is {}").format(table_id, sql.Literal(table.comment)))
            for column in table.columns:
                if column.comment:
                    conn.execute(
                        sql.SQL("comment on column {}.{} is {}").format(
                            table_id, sql.Identifier(column.name), sql.Literal(column.comment)
                        )
                    )
            csv_path = Path(folder) / f"{table.name}.csv"
            # every non-null value quoted, so PostgreSQL reads an unquoted empty field as null and "" as ''
            source.execute(
                f"copy marts.\"{table.name}\" to '{str(csv_path).replace(chr(39), chr(39) * 2)}' "
                "(format csv, header false, force_quote *)"
            )
            names = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
            with (
                conn.cursor() as cursor,
                cursor.copy(sql.SQL("copy {} ({}) from stdin (format csv)").format(table_id, names)) as copy,
                csv_path.open("rb") as handle,
            ):
                sent = 0
                while chunk := handle.read(COPY_CHUNK):
                    copy.write(chunk)
                    sent += len(chunk)
                    progress(f"{doing}: {sent / 1e6:,.0f} MB sent")
            csv_path.unlink()
    for view in views:
        view_id = sql.Identifier(stage, view.name)
        select = sql.SQL(", ").join(
            sql.SQL("{} as {}").format(sql.Identifier(column), sql.Identifier(name)) for column, name, _ in view.columns
        )
        conn.execute(
            sql.SQL("create view {} as select {} from {}").format(view_id, select, sql.Identifier(stage, view.table))
        )
        if view.comment:
            conn.execute(sql.SQL("comment on view {} is {}").format(view_id, sql.Literal(view.comment)))
        for _, name, comment in view.columns:
            if comment:
                conn.execute(
                    sql.SQL("comment on column {}.{} is {}").format(view_id, sql.Identifier(name), sql.Literal(comment))
                )
    if target.reader_role:
        role = sql.Identifier(target.reader_role)
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(schema_id, role))
        conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(schema_id, role))
    conn.commit()
    conn.autocommit = True
    log(f"loaded {len(tables)} tables into the PostgreSQL schema {stage}")


def _check_loaded(conn, stage: str, tables: list[Table], views: list[View] = ()) -> None:
    """The stage schema holds exactly the DuckDB publication: tables and views, columns in order, row counts."""
    from psycopg import sql

    loaded = {
        name: [column for column, _ in group]
        for name, group in _group(
            conn.execute(
                "select c.table_name, c.column_name from information_schema.columns c where c.table_schema = %s "
                "order by c.table_name, c.ordinal_position",
                [stage],
            ).fetchall()
        )
    }
    expected = {t.name: [c.name for c in t.columns] for t in tables} | {
        v.name: [name for _, name, _ in v.columns] for v in views
    }
    if loaded != expected:
        missing = sorted(set(expected) - set(loaded))
        extra = sorted(set(loaded) - set(expected))
        columns = sorted(n for n in set(expected) & set(loaded) if expected[n] != loaded[n])
        raise PostgresError(
            f"PostgreSQL: the loaded tables differ from the DuckDB publication (missing: "
            f"{missing or 'none'}; unexpected: {extra or 'none'}; other columns: {columns or 'none'})"
        )
    counts = {
        t.name: conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(stage, t.name))).fetchone()[0]
        for t in tables
    }
    wrong = [f"marts.{t.name} {counts[t.name]:,} rows, DuckDB {t.rows:,}" for t in tables if counts[t.name] != t.rows]
    if wrong:
        raise PostgresError(f"PostgreSQL: row counts differ from the DuckDB publication: {'; '.join(wrong)}")


def _group(rows):
    groups: dict[str, list] = {}
    for name, column in rows:
        groups.setdefault(name, []).append((column, None))
    return groups.items()


def _swap(conn, stage: str, schema: str, suffix: str, lock_timeout: float) -> int:
    """Replace the live schema by the stage schema in one transaction (module docstring, step 3). Returns the tries."""
    from psycopg import errors, sql

    old = f"{schema}_old_{suffix}"
    ours = sorted({names.table for table, names in OLD_NAMES.items() if names.table != table})  # deprecated views
    deadline = time.monotonic() + lock_timeout
    attempts = 0
    while True:
        attempts += 1
        try:
            with conn.transaction():
                conn.execute(f"set local lock_timeout = '{ATTEMPT_LOCK_TIMEOUT_MS}ms'")
                live = [
                    row[0]
                    for row in conn.execute(
                        "select tablename from pg_tables where schemaname = %s order by tablename", [schema]
                    ).fetchall()
                ]
                exists = conn.execute("select 1 from pg_namespace where nspname = %s", [schema]).fetchone()
                views = [
                    row[0]
                    for row in conn.execute(
                        "select viewname from pg_views where schemaname = %s and viewname = any(%s) order by viewname",
                        [schema, ours],
                    ).fetchall()
                ]
                if live:
                    names = sql.SQL(", ").join(sql.Identifier(schema, name) for name in views + live)
                    conn.execute(sql.SQL("lock table {} in access exclusive mode").format(names))
                if exists:
                    conn.execute(
                        sql.SQL("alter schema {} rename to {}").format(sql.Identifier(schema), sql.Identifier(old))
                    )
                conn.execute(
                    sql.SQL("alter schema {} rename to {}").format(sql.Identifier(stage), sql.Identifier(schema))
                )
                if exists:
                    # without cascade: a view of someone else's over these tables stops the swap (and says which)
                    # instead of being dropped with them; the deprecated views alms made go first
                    if views:
                        names = sql.SQL(", ").join(sql.Identifier(old, name) for name in views)
                        conn.execute(sql.SQL("drop view {}").format(names))
                    if live:
                        names = sql.SQL(", ").join(sql.Identifier(old, name) for name in live)
                        conn.execute(sql.SQL("drop table {}").format(names))
                    conn.execute(sql.SQL("drop schema {}").format(sql.Identifier(old)))
            return attempts
        except errors.LockNotAvailable:
            if time.monotonic() >= deadline:
                raise PostgresError(
                    f"PostgreSQL: the tables of schema {schema} stayed in use for {lock_timeout:g} s ({_holders(conn, schema)}); "
                    "the new publication was not swapped in (the DuckDB publication is current; the next run retries, "
                    "or raise ALMS_POSTGRES_LOCK_TIMEOUT)"
                ) from None
            time.sleep(min(0.05 * attempts, 0.5))


def _holders(conn, schema: str) -> str:
    """The sessions holding locks on the live schema's tables, as an operator identifies them."""
    with contextlib.suppress(Exception):
        rows = conn.execute(
            "select distinct a.pid, a.usename, a.application_name, a.state, a.xact_start from pg_locks l "
            "join pg_class c on c.oid = l.relation join pg_namespace n on n.oid = c.relnamespace "
            "join pg_stat_activity a on a.pid = l.pid where n.nspname = %s and l.granted and a.pid <> pg_backend_pid() "
            "order by a.xact_start limit 5",
            [schema],
        ).fetchall()
        if rows:  # state and start are null for other users' sessions unless the publisher has pg_read_all_stats
            return "held by " + ", ".join(
                " ".join(
                    [
                        f"pid {pid} user {user}",
                        f"application {app}" if app else "",
                        state or "",
                        f"since {start:%Y-%m-%d %H:%M:%S %Z}" if start else "",
                    ]
                )
                .replace("  ", " ")
                .strip()
                for pid, user, app, state, start in rows
            )
    return "held by sessions that have since ended"


def replace_manifest_section(publication: Path, key: str, value: dict) -> dict:
    """The publication's manifest with `key` set to `value`, replaced atomically (the data files never change); the
    one change a publication gets after it is complete: the outcome of its PostgreSQL step."""
    import json
    import os
    import stat
    import uuid

    path = publication / MANIFEST
    manifest = json.loads(path.read_text())
    manifest[key] = value
    temporary = publication / f".{MANIFEST}.{uuid.uuid4().hex[:8]}.tmp"
    temporary.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.chmod(temporary, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    os.replace(temporary, path)
    return manifest
