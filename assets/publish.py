"""publish: the BI-facing copy of the marts, replaced atomically (see assets/logic/publish.py)."""

import dagster as dg

from assets.logic.publish import publish_tables
from pipelines.resources import AlmsSettings, Warehouse

# Published tables and the row order BI readers get from a plain `select *` (the working tables have none).
PUBLISHED_TABLES = {
    ("marts", "accounts"): "billing_rank",
    ("marts", "key_levels"): "as_of_date",
    ("marts", "seller_account_lists"): "owner_id nulls last, seller_rank",
    ("marts", "client_crosswalk"): "account_id, source_system, source_client_id",
    ("marts", "quarantine"): "input_name, source_file, source_row",
    ("marts", "match_review"): "match_probability desc, source_system_1, source_client_id_1",
}


@dg.asset(
    group_name="publish",
    kinds={"duckdb", "parquet"},
    deps=[dg.AssetKey(list(table)) for table in PUBLISHED_TABLES],
)
def published_marts(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: AlmsSettings):
    """`$ALMS_OUTPUT_DIR/alms.duckdb` (schema marts) and `parquet/<table>.parquet`: what BI tools read. Built as a new
    file and swapped in atomically, only after every blocking check upstream passed."""
    with warehouse.connect() as conn:
        as_of, key_level = conn.sql("select as_of_date, key_level from marts.key_levels").fetchall()[0]
        manifest = publish_tables(
            conn,
            settings.output_dir,
            PUBLISHED_TABLES,
            run_id=context.run.run_id,
            extra_manifest={"as_of_date": str(as_of), "key_level": str(key_level)},
        )
    context.log.info(f"published {len(PUBLISHED_TABLES)} tables to {manifest['duckdb_file']}")
    return dg.MaterializeResult(
        metadata={
            "duckdb_file": dg.MetadataValue.path(manifest["duckdb_file"]),
            "parquet_dir": dg.MetadataValue.path(manifest["parquet_dir"]),
            "tables": dg.MetadataValue.json(manifest["tables"]),
            "as_of_date": str(as_of),
        }
    )
