"""marts: the ranked, key-cut account list and the key level of each review period (polars), validated.

The key level is frozen per review period (`assets/rules/reviews.py`): this asset reads the levels recorded by earlier
runs from the warehouse, applies the period's level or records a new review, and writes the whole history back.
An account's owner is survivorship's proposal unless the nearest recorded snapshot's owner is still carried by one of
its records (`assets/rules/ownership.py`): owners do not flip with monthly billing.
Scores, tiers and seller lists are in assets/scoring.py; the other published tables are SQL models in sql/marts/.
"""

import dagster as dg
import polars as pl

from assets.common import (
    MONTHLY_FRESHNESS,
    errors_as_dagster_failures,
    picture_metadata,
    recorded_table,
    reference_owners,
    table_out,
    tag_run,
    validate,
)
from assets.resources import AlmsSettings, Warehouse
from assets.rules.key_accounts import designate_key_accounts
from assets.rules.ownership import keep_owners
from assets.rules.pictures import pareto_png
from assets.rules.reviews import AUDIT_SCHEMA, LEVEL_SCHEMA, decide_level, review_period
from schemas.marts import Accounts, KeyLevelReruns, KeyLevels


@dg.multi_asset(
    outs={
        "accounts": table_out(
            "marts",
            "accounts",
            "One row per deduplicated account with its 12-month billing, top-down rank and key flag.",
            MONTHLY_FRESHNESS,
        ),
        "key_levels": table_out(
            "marts",
            "key_levels",
            "The key level of every review period: the frozen dollar level, how it was computed (n, k, "
            "share) and from which as-of date; is_current marks the period of the latest run.",
            MONTHLY_FRESHNESS,
        ),
        "key_level_reruns": table_out(
            "marts",
            "key_level_reruns",
            "Every re-run of a review: old and new level, when and why (ALMS_REVIEW_REASON).",
        ),
    },
    ins={
        "aggregated": dg.AssetIn(key=["intermediate", "int_accounts_aggregated"]),
        "reporting_window": dg.AssetIn(key=["intermediate", "int_reporting_windows_resolved"]),
    },
)
def accounts_and_key_levels(
    context: dg.AssetExecutionContext,
    settings: AlmsSettings,
    warehouse: Warehouse,
    aggregated: pl.DataFrame,
    reporting_window: pl.DataFrame,
):
    window = reporting_window.row(0, named=True)
    as_of = window["as_of_date"]
    tag_run(context, settings, as_of)
    with errors_as_dagster_failures():
        ranked, cut = designate_key_accounts(aggregated, settings.key_share)
    ranked, ownership = keep_owners(ranked, reference_owners(warehouse, as_of))
    period = review_period(as_of, settings.review_months, settings.review_start_month)
    previous = recorded_table(context, warehouse, "key_levels", LEVEL_SCHEMA)
    previous_audit = recorded_table(context, warehouse, "key_level_reruns", AUDIT_SCHEMA)
    decision = decide_level(
        previous,
        previous_audit,
        period,
        cut,
        as_of,
        window["window_start_date"],
        settings.reporting_currency,
        settings.review_reason or None,
        context.run.run_id,
    )
    level = pl.lit(decision.applied_level, dtype=ranked.schema["billing_12m"])
    accounts = ranked.rename({"is_key_account": "is_key_at_next_review"}).with_columns(
        ((pl.col("billing_12m") > 0) & (pl.col("billing_12m") >= level)).fill_null(False).alias("is_key_account"),
        level.alias("key_level"),
        pl.lit(settings.reporting_currency).alias("reporting_currency"),
        pl.lit(period.start).alias("review_period_start_date"),
        pl.lit(as_of).alias("as_of_date"),
    )
    accounts = validate(Accounts, accounts.select(list(Accounts.to_schema().columns)))
    key_levels = validate(KeyLevels, decision.levels)
    currencies = decision.levels.select("review_period_start_date", "reporting_currency")
    audit = decision.audit.join(currencies, on="review_period_start_date", how="left", maintain_order="left")
    audit = validate(KeyLevelReruns, audit.select(list(KeyLevelReruns.to_schema().columns)))
    key_count = int(accounts["is_key_account"].sum())
    crossing = int((accounts["is_key_account"] != accounts["is_key_at_next_review"]).sum())
    verb = {
        "frozen": "frozen since the review of",
        "bootstrap": "bootstrapped for",
        "review": "new review for",
        "rerun": "review re-run for",
    }[decision.kind]
    context.log.info(
        f"key level {decision.applied_level} {settings.reporting_currency} ({verb} the period from {period.start}): "
        f"{key_count:,} key accounts of {cut.ranked_accounts:,} ranked; {crossing:,} would change at a review today"
    )
    if decision.reason and decision.reason.startswith("automatic"):
        context.log.warning(f"review of the period from {period.start} re-run: {decision.reason}")
    summary = {
        "as_of_date": str(as_of),
        "review_period_start_date": str(period.start),
        "review": decision.kind,
        "key_level": float(decision.applied_level),
        "key_accounts": key_count,
        "ranked_accounts": cut.ranked_accounts,
        "level_if_reviewed_today": float(cut.key_level),
        "accounts_crossing_frozen_level": crossing,
        "review_rerun_reason": decision.reason or "",
        **ownership,
    }
    pareto = picture_metadata(
        context,
        "billing_concentration",
        "Billing concentration with the key level",
        lambda: pareto_png(accounts["billing_12m"], key_count, decision.applied_level, settings.reporting_currency),
    )
    yield dg.Output(accounts, output_name="accounts", metadata={**summary, **pareto})
    yield dg.Output(key_levels, output_name="key_levels", metadata=summary)
    yield dg.Output(audit, output_name="key_level_reruns", metadata={"reruns": audit.height})
