"""marts: the ranked, key-cut account list and its key level (polars), validated before anything is saved.

The other published tables (client_crosswalk, seller_account_lists, quarantine) are SQL models in sql/marts/.
"""

import datetime as dt

import dagster as dg
import polars as pl

from assets.common import clear_failures, validate
from assets.logic.key_accounts import designate_key_accounts
from pipelines.metadata import column_schema_for
from pipelines.resources import AlmsSettings
from schemas.marts import Accounts, KeyLevels


@dg.multi_asset(
    outs={
        "accounts": dg.AssetOut(
            key=["marts", "accounts"],
            group_name="marts",
            kinds={"polars", "duckdb"},
            description="One row per deduplicated account with its 12-month billing, top-down rank and key flag.",
            metadata=column_schema_for("marts", "accounts"),
        ),
        "key_levels": dg.AssetOut(
            key=["marts", "key_levels"],
            group_name="marts",
            kinds={"polars", "duckdb"},
            description="The key level of the as-of date: n, k = ceil(share * n), the level and the key share of billing.",
            metadata=column_schema_for("marts", "key_levels"),
        ),
    },
    ins={
        "aggregated": dg.AssetIn(key=["intermediate", "int_accounts_aggregated"]),
        "reporting_window": dg.AssetIn(key=["staging", "stg_billing__reporting_window"]),
    },
)
def accounts_and_key_levels(
    context: dg.AssetExecutionContext, settings: AlmsSettings, aggregated: pl.DataFrame, reporting_window: pl.DataFrame
):
    window = reporting_window.row(0, named=True)
    with clear_failures():
        ranked, cut = designate_key_accounts(aggregated, settings.key_share)
    accounts = ranked.with_columns(pl.lit(window["as_of_date"]).alias("as_of_date"))
    accounts = validate(Accounts, accounts.select(list(Accounts.to_schema().columns)))
    key_levels = validate(
        KeyLevels,
        pl.DataFrame(
            {
                "as_of_date": [window["as_of_date"]],
                "window_start_date": [window["window_start_date"]],
                "reporting_currency": [settings.reporting_currency],
                "key_share": [cut.key_share],
                "ranked_accounts": [cut.ranked_accounts],
                "key_count_rule": [cut.key_count_rule],
                "key_accounts": [cut.key_accounts],
                "key_level": [cut.key_level],
                "total_billing_12m": [cut.total_billing],
                "key_billing_12m": [cut.key_billing],
                "key_billing_share": [cut.key_billing_share],
                "computed_at": [dt.datetime.now(dt.UTC)],
            }
        ).with_columns(
            pl.col("key_level", "total_billing_12m", "key_billing_12m").cast(pl.Decimal(38, 2)),
            pl.col("computed_at").dt.cast_time_unit("us"),
        ),
    )
    context.log.info(
        f"key level {cut.key_level} {settings.reporting_currency}: {cut.key_accounts:,} key accounts of "
        f"{cut.ranked_accounts:,} ranked, holding {cut.key_billing_share:.1%} of billing"
    )
    summary = {
        "as_of_date": str(window["as_of_date"]),
        "key_level": float(cut.key_level),
        "key_accounts": cut.key_accounts,
        "ranked_accounts": cut.ranked_accounts,
        "key_billing_share": cut.key_billing_share,
    }
    yield dg.Output(accounts, output_name="accounts", metadata=summary)
    yield dg.Output(key_levels, output_name="key_levels", metadata=summary)
