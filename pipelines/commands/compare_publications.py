"""Compare what two output folders publish, table by table and row by row: do two versions of alms publish the same?

    python -m pipelines.commands.compare_publications OLD NEW
    python -m pipelines.commands.compare_publications OLD NEW --ignore-run-columns --ignore input_files.modified_at

OLD and NEW are output folders (`$ALMS_OUTPUT_DIR`; their `current` publication is read, resolved once) or
publication folders. Compared, each in its published row order (what a plain `select *` or a Parquet read returns):
every table of `alms.duckdb`, every `parquet/<table>.parquet` (or folder `parquet/<table>/` of files, read in name
order) and every CRM file (`crm/*.csv`, line by line); and every `scoring_inputs/<name>.parquet` (copies of working
tables, which have no row order: compared sorted). The same
tables, the same column names and types in the same order, the same rows.
Prints each difference (at most `--show` per table) or `identical`; the exit status is 0 when identical, 1 when not.

`--ignore TABLE.COLUMN` leaves a column out of the comparison wherever that table is published (DuckDB and Parquet);
`--ignore-run-columns` leaves out the columns that carry a run's own id or clock time, which differ between any two
runs: key_levels.computed_at and run_id, key_level_reruns.rerun_at and run_id.

`--renamed` compares a publication made before the renames of alms 0.2.0 (OLD) with one made after (NEW): OLD's
tables and columns are compared under their new names (schemas/renamed.py), and the old names NEW's alms.duckdb
still answers to for one release (deprecated views, which are not tables, and the renamed columns repeated under
their old names) are left out. Identical then means: the same data under the new names.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass, replace
from itertools import zip_longest
from pathlib import Path

import duckdb

from assets.rules.publish import CRM, PARQUET, PUBLISHED_FILE, SCORING_INPUTS
from schemas.renamed import OLD_NAMES, OldNames

RUN_COLUMNS = ("key_levels.computed_at", "key_levels.run_id", "key_level_reruns.rerun_at", "key_level_reruns.run_id")
BATCH_ROWS = 50_000


@dataclass(frozen=True)
class Table:
    """One published table of a folder: its label (`marts.accounts`, `parquet/accounts`, ...), the table name the
    ignored columns are matched on, and how to read it."""

    label: str
    name: str
    source: str  # "duckdb", "parquet" or "csv"
    location: str  # schema.table in the attached file, or the path of the file
    ordered: bool = True  # False: the rows have no stated order (scoring inputs) and are compared sorted
    renames: tuple[tuple[str, str], ...] = ()  # (column, the name it is compared under)
    left_out: frozenset[str] = frozenset()  # columns not compared (the old names of renamed columns)


def publication_folder(folder: Path) -> Path:
    """The publication an output folder shows (its `current`, resolved once), or the folder itself."""
    current = folder / "current"
    return Path(os.path.realpath(current)) if current.is_symlink() else folder


def published_tables(conn: duckdb.DuckDBPyConnection, alias: str, publication: Path) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    if (publication / PUBLISHED_FILE).is_file():
        conn.execute(f"attach '{_sql_path(publication / PUBLISHED_FILE)}' as {alias} (read_only)")
        for schema, name in conn.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = ? order by 1, 2", [alias]
        ).fetchall():
            tables[f"{schema}.{name}"] = Table(f"{schema}.{name}", name, "duckdb", f'{alias}."{schema}"."{name}"')
    for folder in (PARQUET, SCORING_INPUTS):
        for path in sorted((publication / folder).glob("*.parquet")):
            label = f"{folder}/{path.stem}"
            tables[label] = Table(label, path.stem, "parquet", str(path), ordered=folder == PARQUET)
        for path in sorted(p for p in (publication / folder).glob("*") if p.is_dir()):  # a file per as-of date
            label = f"{folder}/{path.name}"
            files = str(path / "*.parquet")  # read in name order: the table's order
            tables[label] = Table(label, path.name, "parquet", files, ordered=folder == PARQUET)
    for path in sorted((publication / CRM).glob("*.csv")):
        tables[f"{CRM}/{path.name}"] = Table(f"{CRM}/{path.name}", path.name, "csv", str(path))
    return tables


def under_new_names(tables: dict[str, Table], old_names: dict[str, OldNames]) -> dict[str, Table]:
    """A publication made before the renames, labelled and with its columns named as after them."""
    new_table = {old.table: new for new, old in old_names.items()}
    renamed = {}
    for table in tables.values():
        if table.source == "csv" or table.name not in new_table:
            renamed[table.label] = table
            continue
        new = new_table[table.name]
        label = table.label.rpartition(table.name)[0] + new  # marts.x, parquet/x, scoring_inputs/x
        columns = {old_column: new_column for new_column, old_column in old_names[new].columns.items()}
        renamed[label] = replace(table, label=label, name=new, renames=tuple(columns.items()))
    return renamed


def without_old_names(tables: dict[str, Table], old_names: dict[str, OldNames]) -> dict[str, Table]:
    """A publication made after the renames, without the renamed columns' old names its alms.duckdb repeats."""
    return {
        label: replace(table, left_out=frozenset(old_names[table.name].columns.values()))
        if table.source == "duckdb" and table.name in old_names and old_names[table.name].table == table.name
        else table
        for label, table in tables.items()
    }


def compare_folders(
    old: Path, new: Path, ignore: set[str] = frozenset(), show: int = 10, renamed: dict[str, OldNames] | None = None
) -> tuple[list[str], dict]:
    """The differences between what `old` and `new` publish (empty when identical), and what was compared. With
    `renamed` (new table -> its old names), `old` was published under the old names (see `--renamed`)."""
    old_publication, new_publication = publication_folder(Path(old)), publication_folder(Path(new))
    differences: list[str] = []
    compared = {"tables": 0, "rows": 0, "ignored": sorted(ignore)}
    with duckdb.connect() as conn:
        old_tables = published_tables(conn, "old_publication", old_publication)
        new_tables = published_tables(conn, "new_publication", new_publication)
        if renamed:
            old_tables, new_tables = under_new_names(old_tables, renamed), without_old_names(new_tables, renamed)
        if not old_tables and not new_tables:
            return [f"neither {old} nor {new} holds a publication"], compared
        for label in sorted(old_tables.keys() - new_tables.keys()):
            differences.append(f"{label}: only in {old}")
        for label in sorted(new_tables.keys() - old_tables.keys()):
            differences.append(f"{label}: only in {new}")
        for label in sorted(old_tables.keys() & new_tables.keys()):
            found, rows = compare_table(conn, old_tables[label], new_tables[label], ignore, show)
            differences += found
            compared["tables"] += 1
            compared["rows"] += rows
    return differences, compared


def compare_table(conn, old: Table, new: Table, ignore: set[str], show: int) -> tuple[list[str], int]:
    """The differences between two versions of one table (the first `show` differing cells), and its row count."""
    if old.source == "csv":
        return _compare_rows(old.label, ["line"], _lines(Path(old.location)), _lines(Path(new.location)), show)
    old_columns, new_columns = _columns(conn, old), _columns(conn, new)  # compared name -> (column, type)
    skipped = {c for c in old_columns | new_columns.keys() if {f"{old.name}.{c}", f"{old.label}.{c}"} & ignore}
    old_kept = {c: t for c, (_, t) in old_columns.items() if c not in skipped}
    new_kept = {c: t for c, (_, t) in new_columns.items() if c not in skipped}
    if list(old_kept.items()) != list(new_kept.items()):
        return [f"{old.label}: columns differ: {_describe_columns(old_kept, new_kept)}"], 0
    old_cursor, new_cursor = conn.cursor(), conn.cursor()
    order = "" if old.ordered and new.ordered else " order by all"
    old_cursor.execute(f"select {_select(old_columns, old_kept)} from {_relation(old)}{order}")
    new_cursor.execute(f"select {_select(new_columns, new_kept)} from {_relation(new)}{order}")
    return _compare_rows(old.label, list(old_kept), _batches(old_cursor), _batches(new_cursor), show)


def _select(columns: dict[str, tuple[str, str]], kept: dict[str, str]) -> str:
    return ", ".join(f'"{columns[c][0]}"' for c in kept)


def _compare_rows(label: str, columns: list[str], old_rows, new_rows, show: int) -> tuple[list[str], int]:
    differences: list[str] = []
    cells = rows = only_old = only_new = 0
    for number, (before, after) in enumerate(zip_longest(old_rows, new_rows), start=1):
        if before is None or after is None:
            only_new += before is None
            only_old += after is None
            continue
        rows += 1
        for column, a, b in zip(columns, before, after, strict=True):
            if not _same(a, b):
                cells += 1
                if cells <= show:
                    differences.append(f"{label}: row {number:,}, {column}: {a!r} -> {b!r}")
    if cells > show:
        differences.append(f"{label}: ... and {cells - show:,} more differing cells")
    if only_old or only_new:
        differences.append(f"{label}: {rows + only_old:,} rows in the old publication, {rows + only_new:,} in the new")
    return differences, rows + max(only_old, only_new)


def _columns(conn, table: Table) -> dict[str, tuple[str, str]]:
    """The name each column is compared under -> (its name in the table, its type), in the table's order."""
    relation = conn.sql(f"select * from {_relation(table)} limit 0")
    renames = dict(table.renames)
    return {
        renames.get(column, column): (column, str(dtype))
        for column, dtype in zip(relation.columns, relation.types, strict=True)
        if column not in table.left_out
    }


def _relation(table: Table) -> str:
    return table.location if table.source == "duckdb" else f"read_parquet('{_sql_path(Path(table.location))}')"


def _batches(cursor):
    while rows := cursor.fetchmany(BATCH_ROWS):
        yield from rows


def _lines(path: Path):
    with path.open(encoding="utf-8", newline="") as handle:
        for line in handle:
            yield (line,)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _describe_columns(old: dict, new: dict) -> str:
    only_old = [f"{c} {t}" for c, t in old.items() if c not in new]
    only_new = [f"{c} {t}" for c, t in new.items() if c not in old]
    retyped = [f"{c} {old[c]} -> {new[c]}" for c in old if c in new and old[c] != new[c]]
    parts = []
    if only_old:
        parts.append("only in the old: " + ", ".join(only_old))
    if only_new:
        parts.append("only in the new: " + ", ".join(only_new))
    if retyped:
        parts.append("types: " + ", ".join(retyped))
    if not parts:
        parts.append(f"order: {', '.join(old)} -> {', '.join(new)}")
    return "; ".join(parts)


def _sql_path(path: Path) -> str:
    """A path for a SQL string literal (ATTACH and read_parquet in a select list take no bound path here)."""
    return str(path).replace("'", "''")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.commands.compare_publications",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("old", type=Path, help="an output folder (or a publication folder)")
    parser.add_argument("new", type=Path, help="the output folder to compare with it")
    parser.add_argument("--ignore", action="append", default=[], metavar="TABLE.COLUMN", help="leave this column out")
    parser.add_argument("--ignore-run-columns", action="store_true", help=f"leave out {', '.join(RUN_COLUMNS)}")
    parser.add_argument("--show", type=int, default=10, help="differences shown per table")
    parser.add_argument(
        "--renamed", action="store_true", help="OLD was published before the renames of alms 0.2.0 (schemas/renamed.py)"
    )
    args = parser.parse_args(argv)
    for folder in (args.old, args.new):
        if not folder.is_dir():
            print(f"compare_publications: {folder} is not a folder", file=sys.stderr)
            return 2
    ignore = set(args.ignore) | (set(RUN_COLUMNS) if args.ignore_run_columns else set())
    differences, compared = compare_folders(args.old, args.new, ignore, args.show, OLD_NAMES if args.renamed else None)
    ignored = f"; columns left out: {', '.join(compared['ignored'])}" if compared["ignored"] else ""
    ignored += "; OLD compared under the new names (--renamed)" if args.renamed else ""
    if differences:
        print("\n".join(differences))
        print(f"different ({compared['tables']} tables compared{ignored})")
        return 1
    print(f"identical: {compared['tables']} tables, {compared['rows']:,} rows{ignored}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
