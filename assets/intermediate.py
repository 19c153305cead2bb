"""intermediate: client records deduplicated into accounts (the SQL model int_accounts_aggregated follows)."""

import dagster as dg
import polars as pl

from assets.common import errors_as_dagster_failures, table_out
from assets.resources import AlmsSettings
from assets.rules.inputs import CLIENTS
from assets.rules.progress import progress
from assets.rules.resolution import match_client_records
from assets.rules.spark_resolution import spark_scorer
from assets.spark import SparkEngine

OPTIONAL_FIELDS = CLIENTS.optional  # what the survivorship rule counts as "filled"


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
    spark: SparkEngine,
    records: pl.DataFrame,
    overrides: pl.DataFrame,
):
    on_spark = settings.engine == "spark" and settings.matcher == "probabilistic"
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
        },
    )
    yield dg.Output(review, output_name="review", metadata={"review_queue": review.height})
