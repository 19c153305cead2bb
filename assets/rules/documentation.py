"""Comments on every published table and column, from one source: the pandera models' descriptions (`schemas/`).

- DuckDB: `COMMENT ON TABLE` / `COMMENT ON COLUMN` in the published file (`duckdb_tables().comment`,
  `duckdb_columns().comment`; DBeaver, Superset and Evidence show them).
- Parquet: an Arrow schema with a `description` in each field's metadata and the table's in the schema metadata,
  stored under the `ARROW:schema` key where Arrow readers (pyarrow, polars, pandas, Spark) take types and metadata
  from. Its types are those the Parquet file stores (timestamps with a time zone in UTC), so readers get the same
  types as without it.
- PostgreSQL: the same comments, copied from the published DuckDB file (`assets/rules/postgres.py`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

DESCRIPTION = "description"  # the metadata key of a Parquet field's (and the table's) description


@dataclass(frozen=True)
class TableDoc:
    description: str
    columns: Mapping[str, str] = field(default_factory=dict)


def sql_literal(text: str) -> str:
    """A SQL string literal (COMMENT ON takes no bound parameter)."""
    return "'" + text.replace("'", "''") + "'"


def comment_duckdb_table(conn: duckdb.DuckDBPyConnection, qualified: str, doc: TableDoc) -> None:
    """Comment the table `qualified` (database.schema.table) and each of its columns that `doc` describes."""
    if doc.description:
        conn.execute(f"comment on table {qualified} is {sql_literal(doc.description)}")
    for column in conn.sql(f"select * from {qualified} limit 0").columns:
        text = doc.columns.get(column)
        if text:
            conn.execute(f'comment on column {qualified}."{column}" is {sql_literal(text)}')


def parquet_schema_option(conn: duckdb.DuckDBPyConnection, qualified: str, doc: TableDoc) -> str:
    """A `kv_metadata` option for DuckDB's `COPY ... (format parquet, ...)`: the table's Arrow schema with every
    description, as `ARROW:schema` (base64 of the serialized schema, as Arrow's own writer stores it)."""
    schema = conn.sql(f"select * from {qualified} limit 0").arrow().schema
    fields = []
    for item in schema:
        if pa.types.is_timestamp(item.type) and item.type.tz is not None:
            item = item.with_type(pa.timestamp(item.type.unit, tz="UTC"))  # what the file stores: UTC-adjusted
        text = doc.columns.get(item.name)
        fields.append(item.with_metadata({DESCRIPTION: text}) if text else item)
    documented = pa.schema(fields, metadata={DESCRIPTION: doc.description} if doc.description else None)
    encoded = base64.b64encode(documented.serialize().to_pybytes()).decode("ascii")
    return f", kv_metadata {{'ARROW:schema': '{encoded}'}}"
