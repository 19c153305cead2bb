"""Publishing the marts for BI readers, atomically.

A BI tool may hold a read-only connection to `alms.duckdb` for hours, and DuckDB allows one writer per file and no
writer while a reader holds it. So a run never writes into the published file: it builds a complete new file beside
it, then `os.replace`s it over the old one (an atomic rename on POSIX). A reader that is connected keeps reading the
file it opened, complete and consistent, until it reconnects and sees the new one; it never sees half a run. A run
that fails before or during publishing leaves the published files as they were.

The published file is written in DuckDB storage version v1.5.0 so that BI drivers embedding DuckDB 1.5 can open it.
Every published table also gets a Parquet copy `<output>/parquet/<table>.parquet` (each replaced atomically) and the
run writes `manifest.json` (what was published, when, row counts) last.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path

import duckdb

PUBLISHED_FILE = "alms.duckdb"
STORAGE_VERSION = "v1.5.0"


class PublishError(RuntimeError):
    """Publishing could not complete; the previously published files are untouched."""


def publish_tables(
    conn: duckdb.DuckDBPyConnection,
    output_dir: Path | str,
    tables: dict[tuple[str, str], str],
    run_id: str = "",
    extra_manifest: dict | None = None,
) -> dict:
    """Copy `tables` ((schema, name) -> order by) from the warehouse behind `conn` into a new published file and
    Parquet copies, each in that row order.

    Returns the manifest written to `manifest.json`.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    published = output_dir / PUBLISHED_FILE
    if Path(f"{published}.wal").exists():
        raise PublishError(
            f"{published}.wal exists: a process opened {published} for writing (or crashed while doing so). "
            "BI tools must connect read-only; close it (or remove the .wal file if no process has the file open)."
        )
    token = uuid.uuid4().hex[:12]
    staging_file = output_dir / f".{PUBLISHED_FILE}.{token}.tmp"
    parquet_dir = output_dir / "parquet"
    parquet_dir.mkdir(exist_ok=True)
    staged_parquet: list[tuple[Path, Path]] = []
    row_counts: dict[str, int] = {}
    alias = f"publish_{token}"
    conn.execute("set preserve_insertion_order = true")  # tables keep the order their model gave them
    try:
        conn.execute(f"attach '{_sql_path(staging_file)}' as {alias} (storage_version '{STORAGE_VERSION}')")
        try:
            for (schema, name), order_by in tables.items():
                conn.execute(f"create schema if not exists {alias}.{schema}")
                conn.execute(
                    f"create table {alias}.{schema}.{name} as select * from {schema}.{name} order by {order_by}"
                )
                row_counts[f"{schema}.{name}"] = conn.sql(f"select count(*) from {alias}.{schema}.{name}").fetchall()[
                    0
                ][0]
                target = parquet_dir / f"{name}.parquet"
                temporary = parquet_dir / f".{name}.{token}.tmp"
                conn.execute(
                    f"copy {alias}.{schema}.{name} to '{_sql_path(temporary)}' (format parquet, compression zstd)"
                )
                staged_parquet.append((temporary, target))
        finally:
            conn.execute(f"detach {alias}")
        for temporary, target in staged_parquet:
            os.replace(temporary, target)
        os.replace(staging_file, published)
    except Exception:
        staging_file.unlink(missing_ok=True)
        for temporary, _ in staged_parquet:
            temporary.unlink(missing_ok=True)
        raise
    manifest = {
        "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "run_id": run_id,
        "duckdb_file": str(published),
        "duckdb_storage_version": STORAGE_VERSION,
        "parquet_dir": str(parquet_dir),
        "tables": row_counts,
        **(extra_manifest or {}),
    }
    manifest_tmp = output_dir / f".manifest.{token}.tmp"
    manifest_tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    os.replace(manifest_tmp, output_dir / "manifest.json")
    return manifest


def _sql_path(path: Path) -> str:
    """A path for a SQL string literal (paths cannot be bound as parameters in ATTACH / COPY)."""
    return str(path).replace("'", "''")
