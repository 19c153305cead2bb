"""The old names of renamed published tables and columns (schemas/renamed.py), kept for one release.

- In the warehouse, `upgrade_warehouse` renames a table or column an earlier version wrote under its old name, so the
  tables that carry their past (key levels, re-runs, snapshots) keep it across the upgrade.
- In the published DuckDB file, `add_old_names` adds, after the Parquet copies are written (Parquet gets only the new
  names): a view under each old table name that selects the new table with the old column names, and in a table that
  kept its name each renamed column once more under its old name, last. Each says in its comment that it is
  deprecated, what replaces it and in which version it goes. The PostgreSQL target copies both from that file
  (assets/rules/postgres.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from assets.rules.documentation import TableDoc, sql_literal
from schemas.renamed import OLD_NAMES, OLD_NAMES_REMOVED_IN, RENAMED_IN, OldNames


def upgrade_warehouse(
    conn: duckdb.DuckDBPyConnection, old_names: Mapping[str, OldNames] = OLD_NAMES, schema: str = "marts"
) -> list[str]:
    """Rename, in `schema` of the warehouse behind `conn`, every table (and column) an earlier version wrote under
    its old name, when the new name is not taken yet. Returns what was renamed, for the run's log."""
    columns: dict[str, set[str]] = {}
    for table, column in conn.execute(
        "select c.table_name, c.column_name from information_schema.columns c join information_schema.tables t "
        "on t.table_catalog = c.table_catalog and t.table_schema = c.table_schema and t.table_name = c.table_name "
        "where c.table_catalog = current_database() and c.table_schema = ? and t.table_type = 'BASE TABLE'",
        [schema],
    ).fetchall():
        columns.setdefault(table, set()).add(column)
    done = []
    for new, old in old_names.items():
        if old.table != new and old.table in columns and new not in columns:
            conn.execute(f'alter table {schema}."{old.table}" rename to "{new}"')
            columns[new] = columns.pop(old.table)
            done.append(f"{schema}.{old.table} -> {schema}.{new}")
        for new_column, old_column in old.columns.items():
            found = columns.get(new, set())
            if old_column in found and new_column not in found:
                conn.execute(f'alter table {schema}."{new}" rename column "{old_column}" to "{new_column}"')
                found.discard(old_column)
                found.add(new_column)
                done.append(f"{schema}.{new}.{old_column} -> {new_column}")
    return done


def deprecation(new: str) -> str:
    return f"Deprecated: renamed {new} in alms {RENAMED_IN}; this old name is removed in alms {OLD_NAMES_REMOVED_IN}."


def add_old_names(
    conn: duckdb.DuckDBPyConnection,
    catalog: str,
    schema: str,
    tables: list[str],
    documentation: Mapping[tuple[str, str], TableDoc],
    old_names: Mapping[str, OldNames] = OLD_NAMES,
) -> dict[str, str]:
    """Add the old names of `tables` (in `catalog`.`schema`, an attached publication) described above. Returns old
    name -> new name, `schema.table` for a view and `schema.table.column` for a column, for the manifest."""
    added: dict[str, str] = {}
    current = conn.sql("select current_database(), current_schema()").fetchall()[0]
    conn.execute(f'use "{catalog}"')  # a view resolves its tables in the file it is stored in, opened on its own
    try:
        for new in tables:
            old = old_names.get(new)
            if old is None:
                continue
            doc = documentation.get((schema, new), TableDoc(""))
            table_columns = [
                row[0]
                for row in conn.execute(
                    "select column_name from duckdb_columns() where database_name = ? and schema_name = ? "
                    "and table_name = ? order by column_index",
                    [catalog, schema, new],
                ).fetchall()
            ]
            if old.table != new:
                _add_view(conn, schema, new, old, table_columns, doc)
                added[f"{schema}.{old.table}"] = f"{schema}.{new}"
                continue
            for new_column, old_column in old.columns.items():
                if new_column not in table_columns or old_column in table_columns:
                    continue
                type_ = conn.execute(
                    "select data_type from duckdb_columns() where database_name = ? and schema_name = ? "
                    "and table_name = ? and column_name = ?",
                    [catalog, schema, new, new_column],
                ).fetchall()[0][0]
                qualified = f'{schema}."{new}"'
                conn.execute(f'alter table {qualified} add column "{old_column}" {type_}')
                conn.execute(f'update {qualified} set "{old_column}" = "{new_column}"')
                text = f"{deprecation(new_column)} {doc.columns.get(new_column, '')}".strip()
                conn.execute(f'comment on column {qualified}."{old_column}" is {sql_literal(text)}')
                added[f"{schema}.{new}.{old_column}"] = new_column
    finally:
        conn.execute(f'use "{current[0]}"."{current[1]}"')
    return added


def _add_view(conn, schema: str, new: str, old: OldNames, columns: list[str], doc: TableDoc) -> None:
    select = ", ".join(
        f'"{column}" as "{old.columns[column]}"' if column in old.columns else f'"{column}"' for column in columns
    )
    view = f'{schema}."{old.table}"'
    conn.execute(f'create view {view} as select {select} from {schema}."{new}"')
    renamed = "".join(f"; column {old.columns[c]} is now {c}" for c in columns if c in old.columns)
    comment = f"{deprecation(f'{schema}.{new}')[:-1]}{renamed}. Select from {schema}.{new} instead. {doc.description}"
    conn.execute(f"comment on view {view} is {sql_literal(comment.strip())}")
    for column in columns:
        text = doc.columns.get(column, "")
        if column in old.columns:
            text = f"{deprecation(column)} {text}".strip()
        if text:
            conn.execute(f'comment on column {view}."{old.columns.get(column, column)}" is {sql_literal(text)}')
