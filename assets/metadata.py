"""Materialization metadata shared by every asset: row count and the column schema with descriptions."""

from __future__ import annotations

import dagster as dg
import polars as pl

from schemas import SCHEMAS_BY_TABLE, column_descriptions


def table_metadata(layer: str, name: str, schema: pl.Schema | dict, row_count: int) -> dict:
    descriptions = column_descriptions(layer, name)
    columns = [
        dg.TableColumn(name=column, type=str(dtype), description=descriptions.get(column) or None)
        for column, dtype in schema.items()
    ]
    return {
        "dagster/row_count": dg.MetadataValue.int(row_count),
        "dagster/column_schema": dg.TableSchema(columns=columns),
        "dagster/table_name": f"{layer}.{name}",
    }


def column_schema_for(layer: str, name: str) -> dict:
    """Definition-time metadata for tables with a pandera model, so the catalog documents columns before a run."""
    model = SCHEMAS_BY_TABLE.get((layer, name))
    if model is None:
        return {}
    columns = [
        dg.TableColumn(name=column, type=str(spec.dtype), description=spec.description or None)
        for column, spec in model.to_schema().columns.items()
    ]
    return {"dagster/column_schema": dg.TableSchema(columns=columns), "dagster/table_name": f"{layer}.{name}"}
