"""intermediate: client records deduplicated into accounts (the SQL model int_accounts_aggregated follows)."""

import dagster as dg
import polars as pl

from assets.logic.inputs import CLIENTS
from assets.logic.matching import match_clients

OPTIONAL_FIELDS = CLIENTS.optional  # what the survivorship rule counts as "filled"


@dg.asset(
    key_prefix="intermediate",
    group_name="intermediate",
    kinds={"polars", "duckdb"},
    ins={"records": dg.AssetIn(key=["staging", "stg_clients__records"])},
)
def int_clients_matched(context: dg.AssetExecutionContext, records: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    """Every usable client record with the account it belongs to (deterministic matcher, see assets/logic/matching.py)
    and how many optional fields it fills (used by the survivorship rule)."""
    matched, report = match_clients(records)
    matched = matched.with_columns(
        pl.sum_horizontal(pl.col(c).is_not_null().cast(pl.Int32) for c in OPTIONAL_FIELDS).alias("filled_field_count")
    )
    context.log.info(
        f"matched {report['records_in']:,} client records into {report['accounts_out']:,} accounts "
        f"in {report['iterations']} iterations"
    )
    return dg.Output(
        matched,
        metadata={
            "records_in": report["records_in"],
            "accounts_out": report["accounts_out"],
            "records_merged": report["records_in"] - report["accounts_out"],
            "records_by_rule": dg.MetadataValue.json(report["records_by_rule"]),
            "iterations": report["iterations"],
        },
    )
