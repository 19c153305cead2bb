"""Publishing the marts for BI readers: every file of a run appears at once, or none does.

Layout of an output folder (`$ALMS_OUTPUT_DIR`):

    publications/20261102T060412Z-9cca0443/   one folder per publication, never changed once complete
        alms.duckdb                           the marts (schema marts), DuckDB storage version v1.5.0
        parquet/<table>.parquet               the same tables as Parquet
        parquet/account_snapshots/            a table that carries its past: a file per as-of date
        crm/alms_crm_import_<as-of>.csv       the CRM import file (and alms_crm_import_latest.csv, the same file)
        scoring_inputs/<table>.parquet        what the what-if scores again (not for BI)
        scoring_inputs/account_outcomes/      what `alms backtest` scores again: a file per month end
        manifest.json                         what was published: run, as-of date, tables and row counts
    current -> publications/20261102T060412Z-9cca0443      THE switch: one symlink, replaced atomically
    alms.duckdb -> current/alms.duckdb        the paths BI tools use, fixed: they resolve through `current`
    parquet -> current/parquet
    crm -> current/crm
    manifest.json -> current/manifest.json
    work/warehouse.duckdb                     the pipeline's own working file (never for BI)

A publication is built in a hidden folder `publications/.building-<name>`, renamed to its name when complete, and
made current by pointing a new symlink at it and `os.replace`-ing it over `current` (an atomic rename on POSIX).
Before that rename every path a reader uses resolves to the previous publication, after it to the new one, never to
a mix: a process killed at any point leaves the previous or the new publication, whole. A reader that holds a DuckDB
connection keeps reading the file it opened; a reader that wants several Parquet files of one publication resolves
`current` once (`os.path.realpath`) and reads from there.

A table that carries its past (`appended`: the snapshots, one set of rows per as-of date) is not copied whole into
each new alms.duckdb: the new file starts as a copy of the current publication's file (a file copy, at disk speed),
its other tables and views are dropped, the rows of values that changed or are gone are deleted, and the rows of the
values it does not hold (now) are appended, in the table's order. Which values are unchanged is told by a content
digest per value, recorded in the manifest (`appended_digests`). That is done only when every value to append comes
after the unchanged ones (a new month, or a re-run of the latest date) and the columns are the same; anything else
(a change of an earlier date, a backfill, another version) builds the table whole. So a monthly run writes its own
snapshot, not every snapshot again.

In Parquet such a table is a folder, `parquet/<table>/<table>_<as-of date>.parquet`, one file per as-of date (each
with the `as_of_date` column, so the folder reads as the table in DuckDB, polars, pyarrow, pandas and Spark), and a
date's file whose rows are unchanged is a hard link to the current publication's (below).

A Parquet file whose content is the same as the current publication's file of that name (the same rows, order,
columns, descriptions and writer: a content digest recorded in the manifest, `file_digests`) is a hard link to that
file instead of a new copy: a publication is never changed once complete, so the two folders can share it. A monthly
run republishes many tables unchanged (the crosswalk, the review pairs, every table of a run for the same data).

`keep` publications are kept (the current one always), older ones are removed after a switch. Leftovers of a
killed or failed publication (a `.building-*` folder, a complete folder that never became current, temporary files
of earlier versions) are removed by `remove_leftovers` when the next run starts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import stat
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from assets.rules import reuse
from assets.rules.causes import one_line_cause
from assets.rules.crm import write_crm_import
from assets.rules.documentation import TableDoc, comment_duckdb_table, parquet_schema_option, sql_literal
from assets.rules.old_names import add_old_names
from schemas import APPENDED_TABLES
from schemas.renamed import OLD_NAMES, OLD_NAMES_REMOVED_IN, OldNames

PUBLISHED_FILE = "alms.duckdb"
STORAGE_VERSION = "v1.5.0"
PUBLICATIONS = "publications"
CURRENT = "current"
MANIFEST = "manifest.json"
PARQUET = "parquet"
CRM = "crm"
SCORING_INPUTS = "scoring_inputs"
STABLE_PATHS = (PUBLISHED_FILE, PARQUET, CRM, MANIFEST)  # <output>/<name> -> current/<name>
BUILDING = ".building-"
DEFAULT_KEEP = 3
# The steps of a publication in order. Tests kill the process right after each one (ALMS_TEST_KILL_AFTER=<step>).
STEPS = ("folder", "duckdb", "parquet", "scoring_inputs", "crm", "manifest", "sealed", "renamed", "switched", "pruned")
KILL_AFTER = "ALMS_TEST_KILL_AFTER"
APPENDED_DIGESTS = "appended_digests"  # manifest: "schema.table" -> {value: content digest of its rows}


class PublishError(RuntimeError):
    """Publishing could not start or complete; the current publication is untouched. The message is one line."""


@dataclass
class Publication:
    path: Path
    manifest: dict
    is_current: bool
    removed: list[str] = field(default_factory=list)


def current_publication(output_dir: str | os.PathLike) -> Path | None:
    """The folder `current` points at, or None before the first publication."""
    link = Path(output_dir) / CURRENT
    if not link.is_symlink():
        return None
    target = Path(os.path.realpath(link))
    return target if target.is_dir() else None


def read_manifest(publication: Path) -> dict:
    return json.loads((publication / MANIFEST).read_text())


def publish(
    conn: duckdb.DuckDBPyConnection,
    output_dir: str | os.PathLike,
    tables: Mapping[tuple[str, str], str],
    *,
    run_id: str,
    as_of: str,
    make_current: bool,
    keep: int = DEFAULT_KEEP,
    scoring_inputs: Mapping[str, str] | None = None,
    scoring_inputs_by: Mapping[str, tuple[str, str]] | None = None,
    scoring_input_digests: Mapping[str, Mapping[str, object]] | None = None,
    extra_manifest: dict | None = None,
    documentation: Mapping[tuple[str, str], TableDoc] | None = None,
    old_names: Mapping[str, OldNames] = OLD_NAMES,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    write_extras: Callable[[duckdb.DuckDBPyConnection, Path], dict] | None = None,
    progress: Callable[[str], None] = lambda message: None,
    appended: Mapping[tuple[str, str], str] | None = None,
) -> Publication:
    """Build a publication of `tables` ((schema, name) -> order by) from the warehouse behind `conn`, with the CRM
    import file and the `scoring_inputs` (name -> select) beside it, and make it current when `make_current`
    (`scoring_inputs_by`: name -> (column, order) of those written as a folder with a file per value of the column,
    each in that order, the unchanged ones linked to the current publication's, so a monthly run writes only its new
    month end; their selects need no order of their own, and are cheaper to digest without one;
    `scoring_input_digests`: name -> {value as text: what changes whenever that value's rows do} for those the
    caller knows without reading their rows, used instead of hashing them). Each
    table and column `documentation` describes gets its comment in alms.duckdb and its description in Parquet.
    alms.duckdb also answers to the `old_names` of renamed tables and columns (assets/rules/old_names.py).
    `write_extras(conn, folder)` writes more files into the publication (report.html) and returns manifest entries.
    `progress` is told what is being written (assets/rules/progress.py `Progress.update`). `appended`: the tables
    that carry their past ((schema, name) -> the column a run adds its rows by), appended to the current
    publication's file where its rows are unchanged and published in Parquet as a file per value (module
    docstring); by default those of `APPENDED_TABLES` among `tables`, `{}` for none."""
    if appended is None:
        appended = {table: by for table, by in APPENDED_TABLES.items() if table in tables}
    output_dir = Path(output_dir)
    ensure_layout(output_dir)
    refuse_open_writer(output_dir)
    started = now()
    name = f"{started:%Y%m%dT%H%M%SZ}-{run_id[:8] or uuid.uuid4().hex[:8]}"
    publications = output_dir / PUBLICATIONS
    building = publications / f"{BUILDING}{name}"
    final = publications / name
    if final.exists():
        raise PublishError(f"{final} exists already (two publications of one run in one second)")
    building.mkdir(parents=True)
    reusable = _reusable_files(output_dir)
    digests: dict[str, str] = {}
    try:
        _reached("folder")
        value_digests = {table: _value_digests(conn, table, by, tables[table]) for table, by in appended.items()}
        start = _appendable_start(output_dir, value_digests, appended)
        by_value = {table: (by, value_digests[table]) for table, by in appended.items()}
        row_counts, deprecated = _write_tables(
            conn, building, tables, documentation or {}, old_names, progress, reusable, digests, start, by_value
        )
        progress("writing the scoring inputs and the CRM import file")
        if scoring_inputs:
            folder = building / SCORING_INPUTS
            folder.mkdir()
            for table, select in scoring_inputs.items():
                if table in (scoring_inputs_by or {}):
                    by, order_by = scoring_inputs_by[table]
                    found = _select_value_digests(conn, select, by, order_by, (scoring_input_digests or {}).get(table))
                    _write_parquet_by_value(
                        conn, f"({select})", order_by, (by, found), "format parquet", folder / table, reusable, digests
                    )
                    continue
                target = folder / f"{table}.parquet"
                # only an ordered select writes the same file from the same rows
                ordered = " order by " in select.lower()
                digest = content_digest(conn, select, select) if ordered else None
                if not _reuse(reusable, f"{SCORING_INPUTS}/{table}.parquet", digest, target, digests):
                    conn.execute(f"copy ({select}) to '{_sql_path(target)}' (format parquet)")
        _reached("scoring_inputs")
        crm_file, crm_rows = write_crm_import(conn, building / CRM, as_of)
        _reached("crm")
        progress("writing the report and the other files beside the tables")
        extras = write_extras(conn, building) if write_extras is not None else {}
        manifest = {
            "publication": name,
            "publication_dir": str(final),
            "role": "current" if make_current else "not_current",
            "published_at": started.isoformat(timespec="seconds"),
            "run_id": run_id,
            "as_of_date": as_of,
            "duckdb_file": PUBLISHED_FILE,
            "duckdb_storage_version": STORAGE_VERSION,
            "parquet_dir": PARQUET,
            "crm_import_file": f"{CRM}/{crm_file.name}",
            "crm_import_rows": crm_rows,
            "tables": row_counts,
            "file_digests": digests,
            **({"parquet_folders": {f"{s}.{n}": f"{PARQUET}/{n}" for s, n in appended}} if appended else {}),
            APPENDED_DIGESTS: {f"{schema}.{name}": found for (schema, name), found in value_digests.items()},
            **(start.report() if start is not None else {}),
            **({"old_names": {"removed_in": OLD_NAMES_REMOVED_IN, "renamed": deprecated}} if deprecated else {}),
            **extras,
            **(extra_manifest or {}),
        }
        (building / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        _reached("manifest")
        _seal(building)
        _reached("sealed")
        os.rename(building, final)
        _fsync_folder(publications)
        _reached("renamed")
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    publication = Publication(path=final, manifest=manifest, is_current=False)
    if make_current:
        switch_current(output_dir, final)
        publication.is_current = True
        _reached("switched")
        publication.removed = prune(output_dir, keep)
        _reached("pruned")
    else:
        publication.removed = prune(output_dir, keep, spare=final)
    return publication


def switch_current(output_dir: Path, publication: Path) -> None:
    """Point `current` at `publication` in one atomic rename."""
    temporary = output_dir / f".{CURRENT}.{uuid.uuid4().hex[:12]}"
    temporary.symlink_to(Path(PUBLICATIONS) / publication.name, target_is_directory=True)
    try:
        os.replace(temporary, output_dir / CURRENT)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(output_dir)


def ensure_layout(output_dir: Path) -> None:
    """The fixed paths BI tools use (`alms.duckdb`, `parquet`, `crm`, `manifest.json`) as symlinks through
    `current`; files of the layout before publications (regular files there) are adopted as a publication first,
    so those paths keep showing the same data until the next switch."""
    (output_dir / PUBLICATIONS).mkdir(parents=True, exist_ok=True)
    legacy = output_dir / PUBLISHED_FILE
    if legacy.exists() and not legacy.is_symlink():
        _adopt_legacy(output_dir)
    for name in STABLE_PATHS:
        path = output_dir / name
        wanted = Path(CURRENT) / name
        if path.is_symlink() and Path(os.readlink(path)) == wanted:
            continue
        if path.is_dir() and not path.is_symlink():  # a folder of the old layout (nothing current reads it now)
            aside = output_dir / f".{name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(path, aside)
            shutil.rmtree(aside, ignore_errors=True)
        temporary = output_dir / f".{name}.{uuid.uuid4().hex[:12]}.link"
        temporary.symlink_to(wanted)
        os.replace(temporary, path)


def _adopt_legacy(output_dir: Path) -> None:
    """The old layout's alms.duckdb, parquet/, crm/ and manifest.json become a publication (hard links, no copy),
    made current, before the fixed paths are turned into links through `current`."""
    legacy_time = dt.datetime.fromtimestamp((output_dir / PUBLISHED_FILE).stat().st_mtime, dt.UTC)
    name = f"{legacy_time:%Y%m%dT%H%M%SZ}-legacy"
    building = output_dir / PUBLICATIONS / f"{BUILDING}{name}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    for entry in (PUBLISHED_FILE, MANIFEST, PARQUET, CRM):
        source = output_dir / entry
        if source.is_symlink() or not source.exists():
            continue
        if source.is_dir():
            (building / entry).mkdir()
            for child in source.iterdir():
                if child.is_file() and not child.name.startswith("."):
                    _link_or_copy(child, building / entry / child.name)
        else:
            _link_or_copy(source, building / entry)
    final = output_dir / PUBLICATIONS / name
    if final.exists():  # adopted by a run that stopped before it turned the paths into links
        shutil.rmtree(building)
    else:
        os.rename(building, final)
    if current_publication(output_dir) is None:
        switch_current(output_dir, final)


def refuse_open_writer(output_dir: Path) -> None:
    """A `.wal` beside the published file means a process opened it for writing: a new publication would make
    readers replay that foreign log on the new file. Refuse, naming the holder when DuckDB can tell it."""
    current = current_publication(output_dir)
    candidates = [output_dir / f"{PUBLISHED_FILE}.wal"]
    if current is not None:
        candidates.append(current / f"{PUBLISHED_FILE}.wal")
    for wal in candidates:
        if wal.exists():
            holder = ""
            try:
                duckdb.connect(str(wal.with_suffix("")), read_only=True).close()
            except duckdb.Error as error:
                from assets.rules.causes import one_line_cause

                holder = f" ({one_line_cause(error) or error})"
            raise PublishError(
                f"{wal} exists: a process opened the published alms.duckdb for writing{holder}; BI tools must "
                "connect read-only. Close it, or delete the .wal file if no process has it open"
            )


def remove_leftovers(output_dir: str | os.PathLike) -> list[str]:
    """Remove what killed or failed publications left: `.building-*` folders, complete folders meant to become
    current that never did (newer than the current one), temporary links and files of earlier versions."""
    output_dir = Path(output_dir)
    removed: list[str] = []
    publications = output_dir / PUBLICATIONS
    current = current_publication(output_dir)
    if publications.is_dir():
        for path in sorted(publications.iterdir()):
            if path.name.startswith(BUILDING):
                _remove(path, removed)
            elif path.is_dir() and path != current and (current is None or path.name > current.name):
                try:
                    role = read_manifest(path).get("role")
                except (OSError, ValueError):
                    role = None
                if role in ("current", None):  # built to become current, and something stopped it
                    _remove(path, removed)
    patterns = [f".{CURRENT}.*", ".*.link", f".{PUBLISHED_FILE}.*.tmp", ".manifest.*.tmp", ".*.old-*"]
    for pattern in patterns:
        for path in output_dir.glob(pattern):
            _remove(path, removed)
    for folder, pattern in ((PARQUET, ".*.tmp"), (CRM, "*.partial")):  # the layout before publications
        if (output_dir / folder).is_dir() and not (output_dir / folder).is_symlink():
            for path in (output_dir / folder).glob(pattern):
                _remove(path, removed)
    return removed


def prune(output_dir: Path, keep: int, spare: Path | None = None) -> list[str]:
    """Remove complete publications beyond the `keep` newest; never the current one, nor `spare`."""
    publications = output_dir / PUBLICATIONS
    current = current_publication(output_dir)
    complete = sorted(p for p in publications.iterdir() if p.is_dir() and not p.name.startswith("."))
    removed: list[str] = []
    for path in complete[: max(len(complete) - max(keep, 1), 0)]:
        if path != current and path != spare:
            _remove(path, removed)
    return removed


def content_digest(conn: duckdb.DuckDBPyConnection, select: str, *written_with: str) -> str:
    """A digest of the rows of `select` (count and order-independent hash sums: an ordered select whose order ends
    in a unique key has one order for the same rows), the DuckDB version and `written_with` (the order, the
    descriptions, the options of the file written from it)."""
    described = [*reuse.rows_digest(conn, select), duckdb.__version__, *written_with]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()


@dataclass
class AppendableStart:
    """A new alms.duckdb that starts as a copy of `file` (the current publication's), keeping `appends`' tables,
    removing from each the rows of the values whose rows changed or are gone, and appending the rows of the values
    it lacks: (schema, name) -> (the column, the values to remove, the values to append)."""

    file: Path
    appends: dict[tuple[str, str], tuple[str, list[str], list[str]]]

    def report(self) -> dict[str, dict[str, list[str]]]:
        """For the manifest: `appended_rows_of` and `removed_rows_of`, "schema.table" -> values; nothing when no table
        was kept (every table built whole)."""
        tables = {f"{schema}.{name}": append for (schema, name), append in self.appends.items()}
        if not tables:
            return {}
        return {
            "appended_rows_of": {table: appended for table, (_, _, appended) in tables.items()},
            "removed_rows_of": {table: removed for table, (_, removed, _) in tables.items()},
        }


def _value_digests(conn: duckdb.DuckDBPyConnection, table: tuple[str, str], by: str, order_by: str) -> dict[str, str]:
    """A content digest of the rows of each value of `by` in the warehouse table `table` (its columns and types, the
    rows' count and hash sums, the order, the DuckDB version and the storage version the file is written in); the
    rows' digests its writer recorded are not computed again (reuse.table_value_digests)."""
    qualified = f"{table[0]}.{table[1]}"
    return _select_value_digests(
        conn, f"select * from {qualified}", by, order_by, reuse.table_value_digests(conn, qualified, by)
    )


def _select_value_digests(
    conn: duckdb.DuckDBPyConnection, select: str, by: str, order_by: str, sums: dict | None = None
) -> dict[str, str]:
    """`_value_digests` of the rows of `select` (`sums`: their reuse.rows_digest by `by`, when the caller has it)."""
    described = reuse.described_columns(conn, f"({select})")
    if sums is None:
        sums = reuse.rows_digest(conn, select, by=by)
    return {
        str(value): hashlib.sha256(
            json.dumps([sums[value], described, order_by, duckdb.__version__, STORAGE_VERSION]).encode()
        ).hexdigest()
        for value in sums
    }


def _appendable_start(
    output_dir: Path, value_digests: Mapping[tuple[str, str], dict[str, str]], appended: Mapping[tuple[str, str], str]
) -> AppendableStart | None:
    """Where the new alms.duckdb can start from the current publication's: each table of which some published values
    have the same digest now (kept) and every value to append (new, or changed since) comes after them (as text: ISO
    dates), with the values to remove (changed or gone) and to append. So a re-run of the latest as-of date replaces
    that date's rows, and a backfill (an earlier date) or a change of an earlier date builds the table whole. None:
    the file is built whole (no current publication, an older one without digests, or no table qualifies)."""
    current = current_publication(output_dir)
    if current is None or not (current / PUBLISHED_FILE).is_file():
        return None
    try:
        manifest = read_manifest(current)
    except (OSError, ValueError):
        return None
    if manifest.get("duckdb_storage_version") != STORAGE_VERSION:
        return None
    recorded = manifest.get(APPENDED_DIGESTS) or {}
    appends: dict[tuple[str, str], tuple[str, list[str], list[str]]] = {}
    for table, now in value_digests.items():
        before = recorded.get(f"{table[0]}.{table[1]}") or {}
        kept = {value for value, digest in before.items() if now.get(value) == digest}
        new = sorted(set(now) - kept)
        if not kept or (new and min(new) <= max(kept)):
            continue
        appends[table] = (appended[table], sorted(set(before) - kept), new)
    return AppendableStart(current / PUBLISHED_FILE, appends) if appends else None


def _start_from_current(
    conn: duckdb.DuckDBPyConnection, alias: str, start: AppendableStart, progress: Callable[[str], None]
) -> None:
    """In the attached copy of the current file: drop every view and every table but the appended ones whose columns
    are the warehouse's, delete from those the rows of the values to remove, and free the space (a checkpoint, so
    the new rows and tables reuse it and the file does not grow by a copy of them each month). `start.appends` keeps
    the tables kept."""
    kept: set[tuple[str, str]] = set()
    for schema, name in start.appends:
        file_columns = conn.execute(
            "select column_name, data_type from duckdb_columns() where database_name = ? and schema_name = ? "
            "and table_name = ? order by column_index",
            [alias, schema, name],
        ).fetchall()
        warehouse_columns = conn.execute(
            "select column_name, data_type from duckdb_columns() where database_name = current_database() "
            "and schema_name = ? and table_name = ? order by column_index",
            [schema, name],
        ).fetchall()
        if file_columns and file_columns == warehouse_columns:
            kept.add((schema, name))
    progress(f"starting alms.duckdb from the current publication's file, keeping {len(kept)} table(s)")
    for schema, name in conn.execute(
        "select schema_name, view_name from duckdb_views() where database_name = ? and not internal", [alias]
    ).fetchall():
        conn.execute(f'drop view {alias}."{schema}"."{name}"')
    for schema, name in conn.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ?", [alias]
    ).fetchall():
        if (schema, name) not in kept:
            conn.execute(f'drop table {alias}."{schema}"."{name}"')
    start.appends = {table: append for table, append in start.appends.items() if table in kept}
    for (schema, name), (by, removed, _) in start.appends.items():
        if removed:
            conn.execute(
                f'delete from {alias}."{schema}"."{name}" where cast({by} as varchar) in (select unnest($values))',
                {"values": removed},
            )
    conn.execute(f"checkpoint {alias}")


def _attach_copy_of_current(
    conn: duckdb.DuckDBPyConnection, alias: str, start: AppendableStart, target: Path, progress: Callable[[str], None]
) -> None:
    """Attach a copy of the current publication's file as `alias`, ready to append to (`_start_from_current`). When
    the copy cannot be made or read (a damaged or missing file), say why and attach a new, empty file instead:
    every table is then built whole (`start.appends` empty), as without a current publication."""
    try:
        shutil.copyfile(start.file, target)  # writable: copyfile leaves the mode behind
        conn.execute(f"attach '{_sql_path(target)}' as {alias} (storage_version '{STORAGE_VERSION}')")
    except (OSError, duckdb.Error) as error:
        cause = one_line_cause(error) or str(error).splitlines()[0]
        progress(f"building alms.duckdb whole: the current publication's file could not be reused ({cause})")
        start.appends = {}
        target.unlink(missing_ok=True)
        conn.execute(f"attach '{_sql_path(target)}' as {alias} (storage_version '{STORAGE_VERSION}')")
        return
    try:
        _start_from_current(conn, alias, start, progress)
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            conn.execute(f"detach {alias}")
        raise


def _reusable_files(output_dir: Path) -> dict[str, tuple[Path, str]]:
    """The current publication's files with their content digests: relative path -> (file, digest)."""
    current = current_publication(output_dir)
    if current is None:
        return {}
    with contextlib.suppress(OSError, ValueError):
        recorded = read_manifest(current).get("file_digests", {})
        return {name: (current / name, digest) for name, digest in recorded.items() if (current / name).is_file()}
    return {}


def _reuse(reusable: dict, name: str, digest: str | None, target: Path, digests: dict) -> bool:
    """Link `target` to the current publication's file `name` when its content digest is `digest`; records the
    digest for the next publication. False: the file is to be written."""
    if digest is None:
        return False
    digests[name] = digest
    found = reusable.get(name)
    if found is None or found[1] != digest:
        return False
    _link_or_copy(found[0], target)
    return True


def _write_tables(
    conn: duckdb.DuckDBPyConnection,
    folder: Path,
    tables: Mapping[tuple[str, str], str],
    documentation: Mapping[tuple[str, str], TableDoc],
    old_names: Mapping[str, OldNames],
    progress: Callable[[str], None],
    reusable: dict | None = None,
    digests: dict | None = None,
    start: AppendableStart | None = None,
    by_value: Mapping[tuple[str, str], tuple[str, dict[str, str]]] | None = None,
) -> tuple[dict, dict]:
    alias = f"publish_{uuid.uuid4().hex[:12]}"
    row_counts: dict[str, int] = {}
    conn.execute("set preserve_insertion_order = true")  # tables keep the order their model gave them
    if start is not None:
        _attach_copy_of_current(conn, alias, start, folder / PUBLISHED_FILE, progress)
    else:
        conn.execute(f"attach '{_sql_path(folder / PUBLISHED_FILE)}' as {alias} (storage_version '{STORAGE_VERSION}')")
    try:
        appends = start.appends if start is not None else {}
        for number, ((schema, name), order_by) in enumerate(tables.items(), start=1):
            conn.execute(f"create schema if not exists {alias}.{schema}")
            # the table and its comments (one statement per column) in one transaction: one commit, not one each
            conn.execute("begin")
            try:
                if (schema, name) in appends:
                    by, _, values = appends[(schema, name)]
                    progress(
                        f"appending {len(values)} new value(s) of {by} to {schema}.{name} in alms.duckdb "
                        f"(table {number} of {len(tables)})"
                    )
                    conn.execute(
                        f"insert into {alias}.{schema}.{name} select * from {schema}.{name} "
                        f"where cast({by} as varchar) in (select unnest($values)) order by {order_by}",
                        {"values": values},
                    )
                else:
                    progress(f"copying {schema}.{name} into alms.duckdb (table {number} of {len(tables)})")
                    conn.execute(
                        f"create table {alias}.{schema}.{name} as select * from {schema}.{name} order by {order_by}"
                    )
                comment_duckdb_table(conn, f"{alias}.{schema}.{name}", documentation.get((schema, name), TableDoc("")))
                conn.execute("commit")
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    conn.execute("rollback")
                raise
            row_counts[f"{schema}.{name}"] = conn.sql(f"select count(*) from {alias}.{schema}.{name}").fetchall()[0][0]
        _reached("duckdb")
        (folder / PARQUET).mkdir()
        for number, (schema, name) in enumerate(tables, start=1):
            target = folder / PARQUET / f"{name}.parquet"
            described = parquet_schema_option(
                conn, f"{alias}.{schema}.{name}", documentation.get((schema, name), TableDoc(""))
            )
            options = f"format parquet, compression zstd{described}"
            if (schema, name) in (by_value or {}):
                by = by_value[(schema, name)][0]
                progress(f"writing parquet/{name}/, a file per {by} (table {number} of {len(tables)})")
                _write_parquet_by_value(
                    conn,
                    f"{alias}.{schema}.{name}",
                    tables[(schema, name)],
                    by_value[(schema, name)],
                    options,
                    folder / PARQUET / name,
                    reusable or {},
                    digests if digests is not None else {},
                )
                continue
            progress(f"writing parquet/{name}.parquet (table {number} of {len(tables)})")
            digest = content_digest(conn, f"select * from {alias}.{schema}.{name}", tables[(schema, name)], options)
            if _reuse(
                reusable or {}, f"{PARQUET}/{name}.parquet", digest, target, digests if digests is not None else {}
            ):
                continue
            conn.execute(f"copy {alias}.{schema}.{name} to '{_sql_path(target)}' ({options})")
        deprecated: dict[str, str] = {}
        for schema in dict.fromkeys(schema for schema, _ in tables):
            names = [name for table_schema, name in tables if table_schema == schema]
            deprecated |= add_old_names(conn, alias, schema, names, documentation, old_names)
        _reached("parquet")
    finally:
        with contextlib.suppress(duckdb.Error):
            conn.execute(f"detach {alias}")
    return row_counts, deprecated


def _write_parquet_by_value(
    conn: duckdb.DuckDBPyConnection,
    qualified: str,
    order_by: str,
    by_value: tuple[str, dict[str, str]],
    options: str,
    folder: Path,
    reusable: dict,
    digests: dict,
) -> None:
    """`<folder>/<table>_<value>.parquet` for each value of the column `by` (an ISO date: the file names sort in the
    table's order), each with the value's rows of `qualified` (a table, or a parenthesised select) in the table's
    order and the whole table's descriptions; without any value, `<folder>/<table>.parquet` without rows. A value's
    file whose digest (its rows' digest and the options) is the current publication's is a hard link to it: a
    monthly run writes its own snapshot's file only."""
    by, value_digests = by_value
    folder.mkdir()
    if not value_digests:  # no rows: one file without rows keeps the columns for readers of the folder
        conn.execute(
            f"copy (select * from {qualified} limit 0) to '{_sql_path(folder / f'{folder.name}.parquet')}' ({options})"
        )
        return
    for value, value_digest in sorted(value_digests.items()):
        name = f"{folder.name}_{value}.parquet"
        digest = hashlib.sha256(json.dumps([value_digest, options]).encode()).hexdigest()
        if _reuse(reusable, f"{folder.parent.name}/{folder.name}/{name}", digest, folder / name, digests):
            continue
        conn.execute(
            f"copy (select * from {qualified} where cast({by} as varchar) = {sql_literal(value)} order by {order_by}) "
            f"to '{_sql_path(folder / name)}' ({options})"
        )


def _seal(folder: Path) -> None:
    """Every file on disk (fsync) and read-only: a publication is never changed once complete."""
    read_only = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(path, read_only)
        _fsync_folder(Path(root))


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system can sync a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _remove(path: Path, removed: list[str]) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    removed.append(str(path))


def _reached(step: str) -> None:
    """Fault injection for the tests: die right here, as a `kill -9` would, when told to."""
    if os.environ.get(KILL_AFTER) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _sql_path(path: Path) -> str:
    """A path for a SQL string literal (paths cannot be bound as parameters in ATTACH / COPY)."""
    return str(path).replace("'", "''")
