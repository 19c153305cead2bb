"""Checking again only the billing lines whose check can have changed (a monthly run brings one month of files).

`staging.stg_billing__checked_lines` gives every raw billing line its quarantine reason and its amount in the
reporting currency (sql/staging/stg_billing__checked_lines.sql). A line's check depends on the line itself, on the
FX rates, on which client records exist (their keys), on the model's parameters, and on the other clean lines with
the same invoice and line number (`duplicate_line`: every one after the first, by source file and row). So when the
model's SQL, its parameters other than today, the FX rates and the client keys are unchanged since the table was
built (the *global* fingerprint), the lines of an unchanged file keep their check, except those whose duplicate
group can have changed:

- a line with the same invoice and line number as a line of a changed (or new) file: an earlier line may have come
  or gone in front of it;
- a line stored as a duplicate: the line before it may have been in a changed or removed file.

Those lines and every line of a changed file are checked again by the model itself, on that subset of the raw lines
(each duplicate group whole in it), and replace their old rows and the rows of removed files, in one transaction.
Today (`future_date`) counts only when an unchanged file has a line dated between the stored day and today.

Unchanged is decided by fingerprints (assets/rules/reuse.py): each source file's raw rows (count and hash sums) and
the global one, stored as the table's comment in the same transaction as its rows. Anything else (no comment, a
different global fingerprint, a model that does not read the raw table once) builds the whole table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping

import duckdb

from assets.rules import reuse
from assets.rules.tables import transaction

RAW = "raw.billing_lines"
SUBSET = "billing_lines_to_check"  # a temporary view: the raw lines checked again
GLOBAL, TODAY, FILE = "global", "today", "file:"
# The duplicate rule's key, made coarser: equal invoice keys and line keys of the model (leading zeros and a
# numeric line number's decimals dropped) give equal coarse keys, so a group of equal coarse keys holds every
# group of the model's keys.
COARSE_KEY = (
    "source_system, ltrim(invoice_id, '0') as coarse_invoice, "
    "ltrim(split_part(line_number, '.', 1), '0') as coarse_line"
)


def file_digests(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Each source file of the raw billing lines: a digest of its rows (every column)."""
    columns = [row[0] for row in conn.sql(f"select * from {RAW} limit 0").description]
    values = ", ".join(f'"{c}"' for c in columns if c != "source_file")
    digests = reuse.rows_digest(conn, f"select * from {RAW}", values, by="source_file")
    return {name: f"{count}.{high}.{low}" for name, (count, high, low) in digests.items()}


def global_fingerprint(conn: duckdb.DuckDBPyConnection, sql: str, parameters: Mapping[str, object]) -> str:
    """The model's SQL, its parameters but today, the FX rates, the client keys and the raw table's columns."""
    described = {
        "sql": sql,
        "parameters": {name: str(value) for name, value in sorted(parameters.items()) if name != "today"},
        "fx_rates": reuse.rows_digest(conn, "select * from raw.fx_rates"),
        "clients": reuse.rows_digest(conn, "select source_system, source_client_id from staging.stg_clients__records"),
        "raw_columns": [[c[0], str(c[1])] for c in conn.sql(f"select * from {RAW} limit 0").description],
        "duckdb": duckdb.__version__,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _subset_sql(sql: str) -> str | None:
    """The model reading the raw lines to check instead of every raw line (its comment lines left out); None unless
    the rest names the table once."""
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    pattern = re.compile(r"\b" + re.escape(RAW) + r"\b")
    return pattern.sub(SUBSET, code) if len(pattern.findall(code)) == 1 else None


def _names(files) -> str:
    return "(select unnest(?::varchar[]) as source_file)", [sorted(files)]


def build_checked_lines(
    conn: duckdb.DuckDBPyConnection, table: str, sql: str, parameters: Mapping[str, object], run_id: str, reuse_ok: bool
) -> dict:
    """Build `table` from the model `sql` (bound with `parameters`), checking again only what can have changed
    (module docstring) when `reuse_ok`. Returns what was done: `how` (built, kept, rechecked), lines checked."""
    today = str(parameters["today"])
    files = file_digests(conn)
    fingerprint = global_fingerprint(conn, sql, parameters)
    parts = {GLOBAL: fingerprint, TODAY: today, **{FILE + name: d for name, d in files.items() if ";" not in name}}
    stored = reuse.stored_by_part(conn, [table]) if reuse_ok else None
    subset_sql = _subset_sql(sql)
    full = (
        stored is None
        or subset_sql is None
        or stored[0].get(GLOBAL) != fingerprint
        or any(";" in name for name in files)
    )
    if not full:
        before = {key.removeprefix(FILE): value for key, value in stored[0].items() if key.startswith(FILE)}
        changed = {name for name, digest in files.items() if before.get(name) != digest}
        gone = set(before) - set(files)
        kept = set(files) - changed
        stored_today = stored[0].get(TODAY, "")
        if stored_today != today and kept:
            low, high = sorted([dt.date.fromisoformat(stored_today), dt.date.fromisoformat(today)])
            relation, values = _names(kept)
            moved = conn.execute(
                f"select count(*) from {RAW} where source_file in {relation} and invoice_date > ? and "
                "invoice_date <= ?",
                [*values, low, high],
            ).fetchall()[0][0]
            full = moved > 0
    if full:
        _in_transaction(conn, f"create or replace table {table} as\n{sql}", parameters, table, parts, run_id)
        rows = conn.sql(f"select count(*) from {table}").fetchall()[0][0]
        return {"how": "built", "lines_checked": rows, "rows": rows}
    if not changed and not gone:
        if stored[0].get(TODAY) != today:
            reuse.record_by_part(conn, [table], parts, run_id)
        rows = conn.sql(f"select count(*) from {table}").fetchall()[0][0]
        return {"how": "kept", "lines_checked": 0, "rows": rows}
    relation, values = _names(changed)
    keyed = f"(select source_file, source_row, {COARSE_KEY} from {RAW})"
    conn.execute(
        f"""
        create or replace temp table recheck_keys as
        select source_system, coarse_invoice, coarse_line from {keyed} where source_file in {relation}
        union
        select source_system, coarse_invoice, coarse_line from {keyed}
        semi join (select source_file, source_row from {table} where quarantine_reason = 'duplicate_line')
            using (source_file, source_row)
        """,
        values,
    )
    conn.execute(
        f"""
        create or replace temp table recheck_lines as
        select source_file, source_row from {RAW} where source_file in {relation}
        union
        select source_file, source_row from {keyed} semi join recheck_keys
            using (source_system, coarse_invoice, coarse_line)
        """,
        values,
    )
    try:
        checked = conn.sql("select count(*) from recheck_lines").fetchall()[0][0]
        conn.execute(
            f"create or replace temp view {SUBSET} as select * from {RAW} "
            "semi join recheck_lines using (source_file, source_row)"
        )
        replaced, replaced_values = _names(changed | gone)
        _in_transaction(
            conn,
            [
                (f"delete from {table} where source_file in {replaced}", replaced_values),
                (
                    f"delete from {table} using recheck_lines where {table}.source_file = recheck_lines.source_file "
                    f"and {table}.source_row = recheck_lines.source_row",
                    None,
                ),
                (f"insert into {table}\n{subset_sql}", dict(parameters) or None),
            ],
            None,
            table,
            parts,
            run_id,
        )
    finally:
        for statement in (
            f"drop view if exists {SUBSET}",
            "drop table if exists recheck_lines",
            "drop table if exists recheck_keys",
        ):
            conn.execute(statement)
    rows = conn.sql(f"select count(*) from {table}").fetchall()[0][0]
    return {
        "how": "rechecked",
        "files_changed": len(changed),
        "files_gone": len(gone),
        "lines_checked": checked,
        "rows": rows,
    }


def _in_transaction(conn, statements, parameters, table: str, parts: dict, run_id: str) -> None:
    """`statements` (one SQL text bound with `parameters`, or (SQL, values) pairs) and the table's new fingerprints,
    in one transaction: the comment never describes rows it does not hold."""
    if isinstance(statements, str):
        statements = [(statements, dict(parameters) or None)]
    with transaction(conn):
        for statement, values in statements:
            conn.execute(statement, values)
        reuse.record_by_part(conn, [table], parts, run_id)
