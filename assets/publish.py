"""marts/publication: the BI-facing copy of the marts, the CRM file and the what-if's inputs, as one publication
made current by one atomic switch (see assets/rules/publish.py)."""

import dagster as dg

from assets.common import MONTHLY_FRESHNESS, errors_as_dagster_failures, tag_run
from assets.resources import AlmsSettings, Warehouse
from assets.rules import kept_month_ends
from assets.rules.backtest import BACKTEST_INPUTS, BACKTEST_INPUTS_BY, backtest_input_selects
from assets.rules.documentation import TableDoc
from assets.rules.progress import progress
from assets.rules.publish import current_publication, publish, read_manifest
from assets.rules.report import write_report
from assets.rules.scoring_run import SCORING_INPUTS, scoring_input_selects
from schemas import PUBLISHED_TABLES, table_documentation


@dg.asset(
    key_prefix="marts",
    group_name="marts",
    kinds={"duckdb", "parquet"},
    deps=[dg.AssetKey(list(table)) for table in PUBLISHED_TABLES]
    + [dg.AssetKey([layer, table]) for layer, table, _ in SCORING_INPUTS.values()]
    + [dg.AssetKey([layer, table]) for layer, table, _ in BACKTEST_INPUTS.values()],
    freshness_policy=MONTHLY_FRESHNESS,
)
def publication(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: AlmsSettings):
    """`$ALMS_OUTPUT_DIR/alms.duckdb` (schema marts), `parquet/<table>.parquet`, `crm/` and `manifest.json`: what BI
    tools and sales ops read, one publication made current in one atomic switch, only after every blocking check
    upstream passed. A run for an as-of date earlier than the current publication's is published beside it but not
    made current unless ALMS_PUBLISH_BACKFILL=1."""
    with (
        errors_as_dagster_failures(settings),
        warehouse.connect() as conn,
        progress("marts.publication", context.log.info, conn) as step,
    ):
        as_of, key_level = conn.sql("select max(as_of_date), max(key_level) from marts.accounts").fetchall()[0]
        tag_run(context, settings, as_of)
        current = current_publication(settings.output_dir)
        current_manifest = read_manifest(current) if current is not None else {}
        current_as_of = current_manifest.get("as_of_date")
        earlier = current_as_of is not None and str(as_of) < current_as_of
        made = publish(
            conn,
            settings.output_dir,
            PUBLISHED_TABLES,
            run_id=context.run.run_id,
            as_of=str(as_of),
            make_current=not earlier or settings.publish_backfill,
            keep=settings.keep_publications,
            scoring_inputs={**scoring_input_selects(), **backtest_input_selects()},
            scoring_inputs_by=BACKTEST_INPUTS_BY,
            scoring_input_digests={"account_outcomes": kept_month_ends.reconstructed_rows_digests(conn)},
            extra_manifest={
                "key_level": str(key_level),
                "input_dir": str(settings.data_dir),
                "engine": settings.engine,  # what ran the SQL models (assets/spark.py)
            },
            documentation={table: TableDoc(*table_documentation(*table)) for table in PUBLISHED_TABLES},
            progress=step.update,
            write_extras=lambda conn, folder: {
                "report_file": write_report(conn, folder, str(as_of), context.run.run_id).name
            },
        )
        key_accounts, quarantined, changes = conn.sql(
            "select (select count(*) from marts.accounts where is_key_account), "
            "(select count(*) from marts.quarantined_rows), "
            "(select count(*) from marts.account_changes where to_as_of_date = "
            "(select max(to_as_of_date) from marts.account_changes))"
        ).fetchall()[0]
    manifest = made.manifest
    if made.is_current:
        context.log.info(f"published {len(PUBLISHED_TABLES)} tables as {made.path}, now current")
    else:
        context.log.warning(
            f"as-of {as_of} is earlier than the current publication's {current_as_of} (run "
            f"{current_manifest.get('run_id', '?')[:8]}): its snapshot is recorded in the history and it is published "
            f"to {made.path} without replacing the current publication; ALMS_PUBLISH_BACKFILL=1 makes it current"
        )
    for removed in made.removed:
        context.log.info(f"removed an older publication: {removed}")
    return dg.MaterializeResult(
        metadata={
            "publication": dg.MetadataValue.path(str(made.path)),
            "is_current": made.is_current,
            "output_dir": dg.MetadataValue.path(str(settings.output_dir)),
            "duckdb_file": dg.MetadataValue.path(str(made.path / manifest["duckdb_file"])),
            "parquet_dir": dg.MetadataValue.path(str(made.path / manifest["parquet_dir"])),
            "tables": dg.MetadataValue.json(manifest["tables"]),
            "as_of_date": str(as_of),
            "key_level": float(key_level),
            "key_accounts": key_accounts,
            "quarantined_rows": quarantined,
            "changes_since_previous_snapshot": changes,
            "crm_import_file": dg.MetadataValue.path(str(made.path / manifest["crm_import_file"])),
            "crm_import_rows": manifest["crm_import_rows"],
            "report": dg.MetadataValue.path(str(made.path / manifest["report_file"])),
            "publications_removed": len(made.removed),
        }
    )
