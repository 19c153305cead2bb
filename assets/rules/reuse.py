"""Reusing a step's stored result when everything it is computed from is unchanged (a monthly run's client matcher).

A step's *fingerprint* is a SHA-256 over everything that can change its result: its input frames (column names and
types, row count, and an order-independent digest of every row's values), its settings, the source of the code that
computes it and the versions of the libraries that code calls. The step stores the fingerprint as the comment of each
table it wrote (`COMMENT ON TABLE`), after all of them are written; a run whose fingerprint equals the one on every
table of the step may keep those tables instead of computing them again. Anything that differs, or a table that is
missing or carries no fingerprint, means the step is computed again. Creating a table again drops its comment, but
an insert, update or delete keeps it (measured with DuckDB 2.0): the warehouse is alms's own, written only by the
steps that record what they wrote, and a table changed there by hand is not noticed.

A table that keeps its past and whose writer replaces one value's rows at a time (the account snapshots, by as-of
date) carries the digest of each value's rows the same way (`record_value_digests`), so that what compares them
with a publication's (`table_value_digests`) hashes only the values written since, not every snapshot kept.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
from collections.abc import Iterable, Mapping

import duckdb
import polars as pl

from assets.rules.documentation import sql_literal

PREFIX = "alms input fingerprint "  # the table comment: PREFIX + fingerprint + " run " + run id
VALUE_DIGESTS = "alms value digests "  # the table comment: VALUE_DIGESTS + JSON (record_value_digests)


def frame_digest(frame: pl.DataFrame) -> dict:
    """Columns with their types, the row count, and two sums of 32-bit halves of each row's hash: the same rows in
    any order give the same digest (a table read back without `preserve_insertion_order` may come in any order)."""
    return hashes_digest(frame.schema, row_hashes(frame), frame.height)  # a frame without columns has rows too


def row_hashes(frame: pl.DataFrame) -> pl.Series:
    """Each row's hash, as `frame_digest` sums them: a row's hash depends on its values alone, so the digest of some
    rows of a frame is `hashes_digest` of theirs, without copying those rows (a month end's records, 24 times)."""
    return frame.hash_rows(seed=0x616C6D73) if frame.width else pl.Series([], dtype=pl.UInt64)


def hashes_digest(schema: Mapping[str, pl.DataType], hashes: pl.Series, rows: int | None = None) -> dict:
    """`frame_digest` of the rows whose `row_hashes` are `hashes` (`rows` of them), in a frame of `schema`."""
    halves = pl.select(high=(pl.lit(hashes) // (1 << 32)).sum(), low=(pl.lit(hashes) % (1 << 32)).sum()).row(0)
    return {
        "columns": [[name, str(dtype)] for name, dtype in schema.items()],
        "rows": hashes.len() if rows is None else rows,
        "row_hash_sums": [int(half or 0) for half in halves],  # sums cannot wrap
    }


def rows_digest(
    conn: duckdb.DuckDBPyConnection, select: str, columns: str = "", by: str = "", params: dict | None = None
):
    """`frame_digest`'s row count and hash sums, for rows DuckDB holds: [rows, sum of each row's hash >> 32, sum of its
    lower 32 bits] of `select` (the same rows in any order give the same digest); `columns`: the hashed columns (the
    whole row by default); `by`: a column of `select`, one digest per value of it ({value: digest}); `params`: the
    select's named parameters."""
    key = f"{by}, " if by else ""
    rows = conn.sql(
        f"select {key}count(*), coalesce(sum(h >> 32), 0), coalesce(sum(h & 4294967295), 0) "
        f"from (select {key}hash({columns or 't'}) as h from ({select}) as t)" + (f" group by {by}" if by else ""),
        params=params,
    ).fetchall()
    if by:
        return {row[0]: [int(value) for value in row[1:]] for row in rows}
    return [int(value) for value in rows[0]]


def table_value_digests(conn: duckdb.DuckDBPyConnection, table: str, by: str) -> dict:
    """`rows_digest` of the whole rows of `table` per value of its column `by` ({value: digest}), without reading the
    rows of the values whose digest the writer recorded (`record_value_digests`): a recorded digest is used while
    the table's columns and types and the value's row count are still the ones recorded; the other values' rows are
    read and hashed. For a table that keeps its past and whose writer replaces a value's rows at a time (the account
    snapshots: a run hashes its own snapshot, not every one kept)."""
    recorded = _recorded_value_digests(conn, table)
    counts = conn.sql(f'select "{by}", count(*) from {table} group by "{by}"').fetchall()
    found, missing = {}, []
    for value, rows in counts:
        digest = recorded.get(str(value))
        if digest is not None and digest[0] == rows:
            found[value] = digest
        else:
            missing.append(value)
    if missing:
        found |= _values_digests(conn, table, by, missing)
    return found


def record_value_digests(conn: duckdb.DuckDBPyConnection, table: str, by: str, values: Iterable) -> None:
    """Record in `table`'s comment the `rows_digest` of the whole rows of each of `values` of `by` (the values whose
    rows were just written, in the writer's transaction), keeping the digests recorded of its other values (their
    rows unchanged) while its columns are the same, and forgetting values the table no longer holds. Whoever changes
    the rows of a value another way must record again (a changed row count or column set is noticed on reading;
    an update in place is not)."""
    columns = described_columns(conn, table)
    recorded = _recorded_value_digests(conn, table)  # {} when the columns changed
    present = {str(row[0]) for row in conn.sql(f'select distinct "{by}" from {table}').fetchall()}
    kept = {value: digest for value, digest in recorded.items() if value in present}
    values = list(values)
    if values:
        kept |= {str(value): digest for value, digest in _values_digests(conn, table, by, values).items()}
    text = VALUE_DIGESTS + json.dumps({"columns": columns, "values": dict(sorted(kept.items()))})
    conn.execute(f"comment on table {table} is {sql_literal(text)}")


def _values_digests(conn: duckdb.DuckDBPyConnection, table: str, by: str, values: list) -> dict:
    """`rows_digest` of the whole rows of `values` of `by` in `table`, by value."""
    select = f'select * from {table} where "{by}" in (select unnest($values))'
    return rows_digest(conn, select, by=by, params={"values": values})


def described_columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[list[str]]:
    """[[column, type], ...] of `table` (or of a parenthesised select)."""
    relation = conn.sql(f"select * from {table} limit 0")
    return [[column, str(type_)] for column, type_ in zip(relation.columns, relation.types, strict=True)]


def _recorded_value_digests(conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, list[int]]:
    """The digests `record_value_digests` recorded on `table` (value as text -> digest), {} when there are none or
    the table's columns are no longer the ones they were recorded for."""
    comment = _comment(conn, table) or ""
    if not comment.startswith(VALUE_DIGESTS):
        return {}
    try:
        recorded = json.loads(comment.removeprefix(VALUE_DIGESTS))
    except ValueError:
        return {}
    if recorded.get("columns") != described_columns(conn, table):
        return {}
    return recorded.get("values") or {}


def source_digest(paths: Iterable) -> str:
    """SHA-256 over the contents of the code files `paths` (their order counts)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).rsplit("/", 1)[-1].encode() + b"\0")
        with open(path, "rb") as file:
            digest.update(file.read())
    return digest.hexdigest()


def files_digest(root, paths: Iterable) -> list[list]:
    """Each file's path relative to `root`, size and SHA-256 of its contents (a file rewritten with the same bytes is
    the same input; any byte changed is another)."""
    described = []
    for path in paths:
        with open(path, "rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
        described.append([os.path.relpath(path, root), os.path.getsize(path), digest])
    return described


def fingerprint(
    frames: Mapping[str, pl.DataFrame | dict], settings: Mapping[str, object], code: str, libraries: Iterable[str]
) -> str:
    """The fingerprint of a step computed from `frames` (each a frame, or its `frame_digest` where the caller has it)
    with `settings` by the code whose `source_digest` is `code`, calling `libraries` (their installed versions
    count)."""
    described = {
        "frames": {
            name: frame if isinstance(frame, dict) else frame_digest(frame) for name, frame in sorted(frames.items())
        },
        "settings": {name: str(value) for name, value in sorted(settings.items())},
        "code": code,
        "libraries": {name: library_version(name) for name in sorted(libraries)},
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


@functools.cache
def library_version(name: str) -> str:
    """The installed version of `name`, read once per process (the loaded library is the one a step calls; reading the
    package metadata cost about a millisecond each, 112 times a run)."""
    return importlib.metadata.version(name)


def _comment(conn: duckdb.DuckDBPyConnection, table: str) -> str | None:
    schema, name = table.split(".")
    found = conn.execute(
        "select comment from duckdb_tables() where database_name = current_database() "
        "and schema_name = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return found[0][0] if found else None


def stored(conn: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> tuple[str, str] | None:
    """(fingerprint, run id) recorded on every one of `tables` when they all exist and carry the same; else None."""
    found = set()
    for table in tables:
        comment = _comment(conn, table) or ""
        if not comment.startswith(PREFIX):
            return None
        value, _, run_id = comment.removeprefix(PREFIX).partition(" run ")
        found.add((value, run_id))
    return found.pop() if len(found) == 1 else None


def stored_run(conn: duckdb.DuckDBPyConnection, tables: Iterable[str], wanted: str) -> str | None:
    """The run id recorded with fingerprint `wanted` when every one of `tables` exists and carries it; else None."""
    found = stored(conn, tables)
    return found[1] if found is not None and found[0] == wanted else None


def stored_by_part(conn: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> tuple[dict[str, str], str] | None:
    """The fingerprint of each part of a result whose parts are kept one by one (`record_by_part`) and the run that
    recorded them, when every one of `tables` carries the same; else None."""
    found = stored(conn, tables)
    if found is None:
        return None
    value, run_id = found
    parts = dict(part.rpartition("=")[::2] for part in value.split(";") if "=" in part)
    return parts, run_id


def record_by_part(conn: duckdb.DuckDBPyConnection, tables: Iterable[str], parts: Mapping[str, str], run_id: str):
    """Mark each of `tables` with the fingerprint of each part of the result they hold (a part: for example the rows
    of one as-of date; its name holds no ';')."""
    record(conn, tables, ";".join(f"{name}={value}" for name, value in sorted(parts.items())), run_id)


def record(conn: duckdb.DuckDBPyConnection, tables: Iterable[str], value: str, run_id: str) -> None:
    """Mark each of `tables` (written with the result) with fingerprint `value` and the run that computed it."""
    text = f"{PREFIX}{value} run {run_id}".replace("'", "''")
    for table in tables:
        conn.execute(f"comment on table {table} is '{text}'")
