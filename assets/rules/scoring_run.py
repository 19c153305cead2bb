"""One scoring run, Dagster-free: the accounts and their inputs in, scores, seller lists and override status out.

The published run (`assets/scoring.py`) and the what-if (`pipelines/commands/whatif.py`) both build `ScoringInputs`
with `scoring_inputs` and call `run_scoring`; the criteria are `assets.rules.scoring`, the designations
`assets.rules.designations`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from assets.rules import designations, scoring
from assets.rules.scoring_config import ScoringConfig

# The columns scoring reads of the aggregated accounts (besides marts.accounts) and of the matched client records.
ACCOUNT_ATTRIBUTES = (
    "account_id",
    "employee_count",
    "customer_since",
    "segments",
    "billing_recent_6m",
    "billing_earlier_6m",
)
RECORD_COLUMNS = ("source_system", "source_client_id", "account_id", "name", "domain", "phone", "postal_code")

# What scoring reads besides the published marts (accounts, scores, seller lists): copied into every publication
# (`scoring_inputs/<name>.parquet`) so that the what-if scores exactly what was published
# (pipelines/commands/whatif.py). name -> (layer, table, columns; None: every column). The aggregated accounts go
# whole: the what-if may cut the key level again from them.
SCORING_INPUTS: dict[str, tuple[str, str, tuple[str, ...] | None]] = {
    "aggregated": ("intermediate", "int_accounts_aggregated", None),
    "engagement": ("intermediate", "int_account_engagement_monthly", None),
    "pipeline": ("intermediate", "int_account_pipeline", None),
    "opportunities": ("raw", "opportunities", ("source_row",)),
    "records": ("intermediate", "int_clients_matched", RECORD_COLUMNS),
    "prospects": ("raw", "prospects", None),
    "sellers": ("raw", "sellers", None),
    "picks": ("raw", "seller_picks", None),
    "overrides": ("raw", "account_overrides", None),
}


def scoring_input_selects() -> dict[str, str]:
    """name -> the select that copies SCORING_INPUTS[name] from the warehouse (what a publication stores)."""
    return {
        name: f"select {', '.join(columns) if columns else '*'} from {layer}.{table}"
        for name, (layer, table, columns) in SCORING_INPUTS.items()
    }


@dataclass
class ScoringInputs:
    """What one scoring needs, as frames: the published run and the what-if both build it."""

    accounts: pl.DataFrame  # marts.accounts joined with the aggregated attributes
    engagement: pl.DataFrame | None  # None: no engagement in the window (criterion missing)
    pipeline: pl.DataFrame | None  # None: no opportunities input
    records: pl.DataFrame  # client records with account_id (crosswalk and match fields)
    prospects: pl.DataFrame
    sellers: pl.DataFrame
    picks: pl.DataFrame
    overrides: pl.DataFrame
    as_of: dt.date


@dataclass
class ScoringResult:
    scores: pl.DataFrame
    seller_lists: pl.DataFrame
    account_overrides: pl.DataFrame
    report: dict


def features_of(accounts: pl.DataFrame) -> pl.DataFrame:
    """The per-account columns the criteria read, typed as `scoring.FEATURE_COLUMNS`."""
    return accounts.select(
        pl.col(name).cast(dtype) if name in accounts.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in scoring.FEATURE_COLUMNS.items()
    )


def run_scoring(inputs: ScoringInputs, config: ScoringConfig) -> ScoringResult:
    """Scores, tiers, targets, leads, picks and overrides for one set of accounts under one config."""
    features = features_of(inputs.accounts)
    scored = scoring.score(features, inputs.engagement, inputs.pipeline, config, inputs.as_of)
    accounts = inputs.accounts.select("account_id", "account_name", "billing_12m", "billing_rank")
    scored = scored.drop("billing_12m").join(accounts, on="account_id", how="left")
    checked = designations.check_overrides(inputs.overrides, inputs.as_of)
    resolved = designations.resolve_overrides(checked, inputs.records)
    scored = designations.apply_overrides(scored, resolved, "tier")
    targets = designations.recommend_targets(scored, config)
    prospects = designations.score_prospects(inputs.prospects, inputs.records, config)
    leads = designations.recommend_leads(prospects, config)
    picks = designations.check_picks(inputs.picks, inputs.sellers, inputs.records, scored, inputs.prospects)
    lists = designations.build_seller_lists(scored, targets, leads, picks, prospects, resolved)
    lists = _with_sellers(lists, inputs.sellers)
    computed = pl.concat(
        [
            scored.select("account_id", pl.lit("tier").alias("field"), pl.col("tier_computed").alias("computed_value")),
            lists.filter(pl.col("row_type") == "account").select(
                "account_id",
                pl.lit("designation").alias("field"),
                pl.col("designation_computed").alias("computed_value"),
            ),
        ]
    )
    status = (
        resolved.join(computed, on=["account_id", "field"], how="left")
        .select(
            "source_file",
            "source_row",
            "source_system",
            "source_client_id",
            "account_id",
            "field",
            "value",
            "computed_value",
            "set_by",
            "reason",
            pl.col("valid_until_date"),
            "status",
        )
        .sort("source_file", "source_row")
    )
    scores = scored.with_columns(
        pl.lit(config.label).alias("config_version"), pl.lit(inputs.as_of, pl.Date).alias("as_of_date")
    )
    report = {
        "accounts": scores.height,
        "tiers": dict(scores.group_by("tier").len().sort("tier").iter_rows()),
        "status": dict(scores.group_by("status").len().sort("status").iter_rows()),
        "churn_risk_accounts": int(scores["is_churn_risk"].sum()),
        "targets": lists.filter(pl.col("designation") == "target").height,
        "leads": lists.filter(pl.col("designation") == "lead").height,
        "prospects_already_clients": prospects.filter(pl.col("existing_account_id").is_not_null()).height,
        "seller_picks": picks.height,
        "overrides": dict(status.group_by("status").len().sort("status").iter_rows()),
        "missing_criteria_accounts": scores.filter(pl.col("missing_criteria") != "").height,
        "config_version": config.label,
        "config_notes": list(config.notes),
    }
    return ScoringResult(scores=scores, seller_lists=lists, account_overrides=status, report=report)


def _with_sellers(lists: pl.DataFrame, sellers: pl.DataFrame) -> pl.DataFrame:
    known = sellers.select("owner_id", "seller_name", "team", pl.lit(True).alias("has_known_seller"))
    return lists.join(known, on="owner_id", how="left").with_columns(
        pl.col("has_known_seller").fill_null(False),
        pl.col("seller_name").fill_null(
            pl.when(pl.col("owner_id").is_null()).then(pl.lit("(unassigned)")).otherwise(pl.lit("(unknown seller)"))
        ),
    )


def scoring_inputs(
    accounts: pl.DataFrame,
    aggregated: pl.DataFrame,
    engagement: pl.DataFrame,
    pipeline: pl.DataFrame,
    has_opportunities: bool,
    records: pl.DataFrame,
    prospects: pl.DataFrame,
    sellers: pl.DataFrame,
    picks: pl.DataFrame,
    overrides: pl.DataFrame,
) -> ScoringInputs:
    """The inputs of one scoring from the frames as the warehouse (or a publication) holds them: the accounts with
    their aggregated attributes, and `None` for an input whose criterion is missing."""
    extra = aggregated.select(*ACCOUNT_ATTRIBUTES)
    as_of = accounts["as_of_date"][0] if accounts.height else dt.date.today()
    return ScoringInputs(
        accounts=accounts.join(extra, on="account_id", how="left"),
        engagement=engagement if engagement.height else None,
        pipeline=pipeline if has_opportunities else None,
        records=records.select(*RECORD_COLUMNS),
        prospects=prospects,
        sellers=sellers,
        picks=picks,
        overrides=overrides,
        as_of=as_of,
    )
