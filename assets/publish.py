"""publish: the BI-facing copy of the marts, replaced atomically (see assets/logic/publish.py), and the CRM file."""

import os
from pathlib import Path

import dagster as dg
import duckdb

from assets.common import MONTHLY_FRESHNESS
from assets.logic.publish import publish_tables
from pipelines.resources import AlmsSettings, Warehouse

# Published tables and the row order BI readers get from a plain `select *` (the working tables have none).
PUBLISHED_TABLES = {
    ("marts", "accounts"): "billing_rank",
    ("marts", "key_levels"): "review_period_start",
    ("marts", "key_level_audit"): "rerun_at",
    ("marts", "seller_account_lists"): "owner_id nulls last, seller_rank",
    ("marts", "client_crosswalk"): "account_id, source_system, source_client_id",
    ("marts", "quarantine"): "input_name, source_file, source_row",
    ("marts", "match_review"): "review_rank",
    ("marts", "account_scores"): "priority_score desc, account_id",
    ("marts", "override_status"): "source_file, source_row",
    ("marts", "account_history"): "as_of_date, account_id",
    ("marts", "account_changes"): "to_as_of_date, account_id, field",
    ("marts", "input_files"): "input_name, source_file",
    ("marts", "billing_completeness"): "source_system, month",
    ("marts", "engagement_completeness"): "source_system, month",
}


@dg.asset(
    group_name="publish",
    kinds={"duckdb", "parquet"},
    deps=[dg.AssetKey(list(table)) for table in PUBLISHED_TABLES],
    freshness_policy=MONTHLY_FRESHNESS,
)
def published_marts(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: AlmsSettings):
    """`$ALMS_OUTPUT_DIR/alms.duckdb` (schema marts) and `parquet/<table>.parquet`: what BI tools read. Built as a new
    file and swapped in atomically, only after every blocking check upstream passed."""
    with warehouse.connect() as conn:
        as_of, key_level = conn.sql("select max(as_of_date), max(key_level) from marts.accounts").fetchall()[0]
        manifest = publish_tables(
            conn,
            settings.output_dir,
            PUBLISHED_TABLES,
            run_id=context.run.run_id,
            extra_manifest={"as_of_date": str(as_of), "key_level": str(key_level)},
        )
        crm_file, crm_rows = write_crm_import(conn, Path(settings.output_dir), str(as_of))
        key_accounts, quarantined, changes = conn.sql(
            "select (select count(*) from marts.accounts where is_key_account), "
            "(select count(*) from marts.quarantine), "
            "(select count(*) from marts.account_changes where to_as_of_date = "
            "(select max(to_as_of_date) from marts.account_changes))"
        ).fetchall()[0]
    context.log.info(f"published {len(PUBLISHED_TABLES)} tables to {manifest['duckdb_file']}")
    context.log.info(f"CRM import file: {crm_file} ({crm_rows:,} rows)")
    return dg.MaterializeResult(
        metadata={
            "duckdb_file": dg.MetadataValue.path(manifest["duckdb_file"]),
            "parquet_dir": dg.MetadataValue.path(manifest["parquet_dir"]),
            "tables": dg.MetadataValue.json(manifest["tables"]),
            "as_of_date": str(as_of),
            "key_level": float(key_level),
            "key_accounts": key_accounts,
            "quarantined_rows": quarantined,
            "changes_since_previous_snapshot": changes,
            "crm_import_file": dg.MetadataValue.path(str(crm_file)),
            "crm_import_rows": crm_rows,
        }
    )


CRM_QUERY = """
with crosswalk as (
    select
        account_id,
        string_agg(source_system || ':' || source_client_id, ';' order by source_system, source_client_id)
            as source_ids
    from marts.client_crosswalk
    group by account_id
)
select
    lists.row_type as record_type,
    coalesce(lists.account_id, lists.prospect_id) as alms_id,
    coalesce(crosswalk.source_ids, lists.prospect_id) as source_ids,
    lists.name,
    lists.owner_id,
    lists.seller_name as owner_name,
    lists.designation,
    lists.tier,
    round(lists.priority_score, 1) as score,
    lists.is_key_account as key_account,
    lists.billing_12m,
    cast(? as date) as as_of_date
from marts.seller_account_lists as lists
left join crosswalk
    on crosswalk.account_id = lists.account_id
where lists.designation <> 'recommended_lead'
order by lists.owner_id nulls last, lists.seller_rank
"""


def write_crm_import(conn: duckdb.DuckDBPyConnection, output_dir: Path, as_of: str) -> tuple[Path, int]:
    """`crm/alms_crm_import_<as-of>.csv` (and a copy `alms_crm_import_latest.csv`): one row per account (key / target
    / secondary) and per chosen lead, with the source ids a CRM import matches on. Written beside and renamed in, so
    an import tool never reads half a file; a re-run of the same as-of date replaces its file."""
    folder = output_dir / "crm"
    folder.mkdir(parents=True, exist_ok=True)
    frame = conn.sql(CRM_QUERY, params=[as_of]).pl()
    target = folder / f"alms_crm_import_{as_of}.csv"
    for path in (target, folder / "alms_crm_import_latest.csv"):
        partial = path.with_suffix(".csv.partial")
        frame.write_csv(partial)
        os.replace(partial, path)
    return target, frame.height
