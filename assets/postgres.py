"""marts/postgres_publication: the current publication in PostgreSQL, for BI tools that read PostgreSQL natively (Metabase, Tableau, Power
BI). In the job only when ALMS_POSTGRES_DSN is set; runs after `marts/publication` made the DuckDB publication current
(assets/rules/postgres.py, docs/bi.md)."""

import dagster as dg

from assets.common import errors_as_dagster_failures
from assets.resources import AlmsSettings, Warehouse
from assets.rules.postgres import (
    PostgresError,
    PostgresTarget,
    describe_target,
    publish_to_postgres,
    replace_manifest_section,
)
from assets.rules.progress import progress
from assets.rules.publish import current_publication, read_manifest

MANIFEST_KEY = "postgres"


@dg.asset(key_prefix="marts", group_name="marts", kinds={"postgres"}, deps=[dg.AssetKey(["marts", "publication"])])
def postgres_publication(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: AlmsSettings):
    """The current publication in PostgreSQL: every published table, with its comments, in the schema
    ALMS_POSTGRES_SCHEMA (default alms), swapped in whole in one transaction; USAGE + SELECT for
    ALMS_POSTGRES_READER_ROLE only. When it fails, the DuckDB publication stays current, the step fails with one line,
    the manifest records the failure and the next run retries."""
    target = PostgresTarget(
        dsn=settings.postgres_dsn,
        schema=settings.postgres_schema,
        reader_role=settings.postgres_reader_role,
        lock_timeout=settings.postgres_lock_timeout,
    )
    shown = describe_target(target.dsn, target.schema)
    with (
        errors_as_dagster_failures(settings),
        warehouse.connect(),  # holds the output folder's run lock: one publisher at a time
        progress("marts.postgres_publication", context.log.info) as step,
    ):
        publication = current_publication(settings.output_dir)
        if publication is None:
            raise PostgresError("PostgreSQL: nothing is published yet in ALMS_OUTPUT_DIR")
        manifest = read_manifest(publication)
        try:
            result = publish_to_postgres(
                target, publication, manifest, run_id=context.run.run_id, log=context.log.info, progress=step.update
            )
        except PostgresError as error:
            replace_manifest_section(
                publication,
                MANIFEST_KEY,
                {"state": "failed", "target": shown, "run_id": context.run.run_id, "error": str(error)},
            )
            raise
        replace_manifest_section(
            publication,
            MANIFEST_KEY,
            {
                "state": "published",
                "target": shown,
                "schema": result.schema,
                "run_id": context.run.run_id,
                "tables": result.tables or manifest["tables"],
                "seconds": round(result.seconds, 2),
            },
        )
    if result.state == "up_to_date":
        context.log.info(f"PostgreSQL ({shown}) already shows publication {result.publication}")
    else:
        context.log.info(f"published {len(result.tables)} tables to PostgreSQL ({shown}) in {result.seconds:.2f} s")
    return dg.MaterializeResult(
        metadata={
            "target": shown,
            "schema": result.schema,
            "publication": result.publication,
            "state": result.state,
            "tables": dg.MetadataValue.json(result.tables),
            "rows": sum(result.tables.values()),
            "seconds": round(result.seconds, 2),
            "swap_attempts": result.swap_attempts,
            "reader_role": settings.postgres_reader_role or "(none: only the publishing user reads)",
        }
    )
