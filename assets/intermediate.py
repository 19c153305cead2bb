"""intermediate: client records deduplicated into accounts (the SQL model int_accounts_aggregated follows).

The matcher's result is kept when nothing it is computed from changed since it was stored (a monthly run brings new
billing, not new clients): the client records, the match overrides, the matcher's settings, its code and the
libraries it calls are fingerprinted (assets/rules/reuse.py); the run logs the reuse and its materialization says
`matcher_result: reused` with the run that computed it. ALMS_REUSE_UNCHANGED=0 matches again regardless.
"""

import sys
from pathlib import Path

import dagster as dg
import polars as pl

from assets.common import errors_as_dagster_failures, metadata_recorded_with, table_out
from assets.resources import AlmsSettings, KeptTable, Warehouse
from assets.rules import inputs, matching, name_words, resolution, reuse, spark_resolution, tables
from assets.rules.inputs import CLIENTS
from assets.rules.progress import progress
from assets.rules.resolution import match_client_records
from assets.rules.spark_resolution import spark_scorer
from assets.spark import SparkEngine

OPTIONAL_FIELDS = CLIENTS.optional  # what the survivorship rule counts as "filled"
MATCHED_TABLES = ("intermediate.int_clients_matched", "intermediate.int_match_pairs_reviewed")
# the code whose change can change the matcher's result (this module adds filled_field_count), and its libraries
MATCHER_CODE = (
    *(
        module.__file__
        for module in (matching, resolution, name_words, tables, spark_resolution, inputs, sys.modules[__name__])
    ),
    # the Spark transpiler's source, read without importing it (sqlglot: only a Spark run needs it)
    str(Path(resolution.__file__).with_name("spark_sql.py")),
)
MATCHER_LIBRARIES = ("polars", "duckdb", "numpy", "scipy")


def matcher_fingerprint(settings: AlmsSettings, records: pl.DataFrame, overrides: pl.DataFrame, on_spark: bool) -> str:
    """Everything the matcher's two tables are computed from (assets/rules/reuse.py)."""
    return reuse.fingerprint(
        {"records": records, "overrides": overrides},
        {
            "matcher": settings.matcher,
            "match_threshold": settings.match_threshold,
            "review_threshold": settings.review_threshold,
            "pairs_on": "spark" if on_spark else "driver",
        },
        reuse.source_digest(MATCHER_CODE),
        MATCHER_LIBRARIES,
    )


def _reused_metadata(context: dg.AssetExecutionContext, fingerprint: str) -> dict:
    """The matcher's report as recorded by the materialization that computed the kept result (when this Dagster
    instance has it), without the table facts the IO manager records again."""
    metadata = metadata_recorded_with(context, dg.AssetKey(["intermediate", "int_clients_matched"]), fingerprint) or {}
    return {key: value for key, value in metadata.items() if not key.startswith("dagster/") and key != "matcher_result"}


@dg.multi_asset(
    outs={
        "matched": table_out(
            "intermediate",
            "int_clients_matched",
            "Every usable client record with the account it belongs to, the match confidence and the "
            "evidence (assets/rules/resolution.py; ALMS_MATCHER=deterministic for the rule-based matcher).",
        ),
        "review": table_out(
            "intermediate",
            "int_match_pairs_reviewed",
            "Candidate pairs a person should decide, ranked by how much a decision would teach the "
            "matcher (assets/rules/resolution.py, review_queue).",
        ),
    },
    ins={
        "records": dg.AssetIn(key=["staging", "stg_clients__records"]),
        "overrides": dg.AssetIn(key=["raw", "match_overrides"]),
    },
)
def clients_matched(
    context: dg.AssetExecutionContext,
    settings: AlmsSettings,
    warehouse: Warehouse,
    spark: SparkEngine,
    records: pl.DataFrame,
    overrides: pl.DataFrame,
):
    on_spark = settings.engine == "spark" and settings.matcher == "probabilistic"
    fingerprint = matcher_fingerprint(settings, records, overrides, on_spark)
    if settings.reuse_unchanged:
        with warehouse.connect() as conn:
            computed_by = reuse.stored_run(conn, MATCHED_TABLES, fingerprint)
        if computed_by is not None:
            context.log.info(
                f"client records, match overrides, matcher settings and code unchanged since run {computed_by[:8]} "
                f"(fingerprint {fingerprint[:12]}): its int_clients_matched and int_match_pairs_reviewed are kept"
            )
            kept = {
                **_reused_metadata(context, fingerprint),
                "matcher_result": "reused",
                "computed_by_run": computed_by,
                "input_fingerprint": fingerprint,
            }
            yield dg.Output(KeptTable(), output_name="matched", metadata=kept)
            yield dg.Output(KeptTable(), output_name="review", metadata={"matcher_result": "reused"})
            return
    with errors_as_dagster_failures(), progress("intermediate.int_clients_matched", context.log.info) as step:
        step.update(f"matching {records.height:,} client records" + (" (pairs on Spark)" if on_spark else ""))
        matched, review, report = match_client_records(
            records,
            overrides,
            settings.matcher,
            settings.match_threshold,
            settings.review_threshold,
            step.say,  # each phase is logged as it ends; a long phase is said again every few seconds
            # ALMS_ENGINE=spark: blocking, comparisons and scoring on Spark (assets/rules/spark_resolution.py)
            spark_scorer(spark.session()) if on_spark else None,
        )
    metadata = {
        key: dg.MetadataValue.json(value) if isinstance(value, dict) else value for key, value in report.items()
    }
    matched = matched.with_columns(
        pl.sum_horizontal(pl.col(c).is_not_null().cast(pl.Int32) for c in OPTIONAL_FIELDS).alias("filled_field_count")
    )
    accounts = matched["account_id"].n_unique()
    context.log.info(f"matched {matched.height:,} client records into {accounts:,} accounts ({settings.matcher})")
    yield dg.Output(
        matched,
        output_name="matched",
        metadata={
            "records_in": matched.height,
            "accounts_out": accounts,
            "records_merged": matched.height - accounts,
            "matcher": settings.matcher,
            "pairs_on": "spark" if on_spark else "driver",
            **metadata,
            "matcher_result": "computed",
            "input_fingerprint": fingerprint,
        },
    )
    yield dg.Output(
        review, output_name="review", metadata={"review_queue": review.height, "matcher_result": "computed"}
    )
    # both tables are stored by now (each output is stored as it is yielded): mark them with what they came from
    with warehouse.connect() as conn:
        reuse.record(conn, MATCHED_TABLES, fingerprint, context.run.run_id)
