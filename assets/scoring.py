"""marts: the decision matrix (account scores and tiers), sellers' lists with targets and leads, override status.

The logic is `assets.logic.scoring` and `assets.logic.designations` (polars, one row per account); this module feeds
it the warehouse tables and the scoring config, validates what it returns and tells the UI what happened.
"""

import datetime as dt
from dataclasses import dataclass

import dagster as dg
import polars as pl

from assets.common import MONTHLY_FRESHNESS, clear_failures, validate
from assets.logic import designations, scoring
from assets.logic.scoring_config import ScoringConfig, load_scoring_config
from pipelines.metadata import column_schema_for
from pipelines.resources import AlmsSettings
from schemas.marts import AccountScores, OverrideStatus, SellerAccountLists

# What scoring reads besides the published marts (accounts, scores, seller lists): copied into every publication
# (`scoring_inputs/<name>.parquet`) so that the what-if scores exactly what was published (pipelines/whatif.py).
# name -> (layer, table, columns)
SCORING_INPUTS = {
    "aggregated": ("intermediate", "int_accounts_aggregated", "*"),
    "engagement": ("intermediate", "int_account_engagement_monthly", "*"),
    "pipeline": ("intermediate", "int_account_pipeline", "*"),
    "opportunities": ("raw", "opportunities", "source_row"),
    "records": ("intermediate", "int_clients_matched",
                "source_system, source_client_id, account_id, name, domain, phone, postal_code"),
    "prospects": ("raw", "prospects", "*"),
    "sellers": ("raw", "sellers", "*"),
    "picks": ("raw", "seller_picks", "*"),
    "overrides": ("raw", "account_overrides", "*"),
}  # fmt: skip


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
    override_status: pl.DataFrame
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
    status = resolved.join(computed, on=["account_id", "field"], how="left").select(
        "source_file", "source_row", "source_system", "source_client_id", "account_id", "field", "value",
        "computed_value", "set_by", "reason", pl.col("valid_until_date").alias("valid_until"), "status",
    ).sort("source_file", "source_row")  # fmt: skip
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
    return ScoringResult(scores=scores, seller_lists=lists, override_status=status, report=report)


def _with_sellers(lists: pl.DataFrame, sellers: pl.DataFrame) -> pl.DataFrame:
    known = sellers.select("owner_id", "seller_name", "team", pl.lit(True).alias("has_known_seller"))
    return lists.join(known, on="owner_id", how="left").with_columns(
        pl.col("has_known_seller").fill_null(False),
        pl.col("seller_name").fill_null(
            pl.when(pl.col("owner_id").is_null()).then(pl.lit("(unassigned)")).otherwise(pl.lit("(unknown seller)"))
        ),
    )


@dg.multi_asset(
    outs={
        "scores": dg.AssetOut(
            key=["marts", "account_scores"],
            group_name="marts",
            kinds={"polars", "duckdb"},
            description="One row per account: priority score, every criterion's score and contribution (why it is "
            "high), tier (computed and after overrides), active / pipeline / inactive, health and churn risk.",
            freshness_policy=MONTHLY_FRESHNESS,
            metadata=column_schema_for("marts", "account_scores"),
        ),
        "lists": dg.AssetOut(
            key=["marts", "seller_account_lists"],
            group_name="marts",
            kinds={"polars", "duckdb"},
            description="Per seller: their accounts by 12-month billing, each key / target / secondary, then their "
            "leads; recommendations and the seller's own picks side by side.",
            freshness_policy=MONTHLY_FRESHNESS,
            metadata=column_schema_for("marts", "seller_account_lists"),
        ),
        "override_status": dg.AssetOut(
            key=["marts", "override_status"],
            group_name="marts",
            kinds={"polars", "duckdb"},
            description="Every front-line override and what became of it: applied, expired or unknown_record, with "
            "the computed value next to it.",
            metadata=column_schema_for("marts", "override_status"),
        ),
    },
    ins={
        "accounts": dg.AssetIn(key=["marts", "accounts"]),
        "aggregated": dg.AssetIn(
            key=["intermediate", "int_accounts_aggregated"],
            metadata={
                "columns": [
                    "account_id",
                    "employee_count",
                    "customer_since",
                    "segments",
                    "billing_recent_6m",
                    "billing_earlier_6m",
                ]
            },
        ),  # fmt: skip
        "engagement": dg.AssetIn(key=["intermediate", "int_account_engagement_monthly"]),
        "pipeline": dg.AssetIn(key=["intermediate", "int_account_pipeline"]),
        "opportunities": dg.AssetIn(key=["raw", "opportunities"], metadata={"columns": ["source_row"]}),
        "records": dg.AssetIn(
            key=["intermediate", "int_clients_matched"],
            metadata={
                "columns": ["source_system", "source_client_id", "account_id", "name", "domain", "phone", "postal_code"]
            },
        ),  # fmt: skip
        "prospects": dg.AssetIn(key=["raw", "prospects"]),
        "sellers": dg.AssetIn(key=["raw", "sellers"]),
        "picks": dg.AssetIn(key=["raw", "seller_picks"]),
        "overrides": dg.AssetIn(key=["raw", "account_overrides"]),
    },
)
def account_scores(
    context: dg.AssetExecutionContext,
    settings: AlmsSettings,
    accounts: pl.DataFrame,
    aggregated: pl.DataFrame,
    engagement: pl.DataFrame,
    pipeline: pl.DataFrame,
    opportunities: pl.DataFrame,
    records: pl.DataFrame,
    prospects: pl.DataFrame,
    sellers: pl.DataFrame,
    picks: pl.DataFrame,
    overrides: pl.DataFrame,
):
    with clear_failures():
        config = load_scoring_config(settings.data_dir)
        for note in config.notes:
            context.log.warning(note)
        inputs = scoring_inputs(accounts, aggregated, engagement, pipeline, opportunities.height > 0, records,
                                prospects, sellers, picks, overrides)  # fmt: skip
        result = run_scoring(inputs, config)
    for row in result.override_status.filter(pl.col("status") != "applied").iter_rows(named=True):
        context.log.warning(
            f"{row['source_file']} row {row['source_row']}: {row['field']} override of "
            f"{row['source_system']}:{row['source_client_id']} not applied ({row['status']})"
        )
    currency = pl.lit(settings.reporting_currency).alias("reporting_currency")
    scores = validate(
        AccountScores, result.scores.with_columns(currency).select(list(AccountScores.to_schema().columns))
    )
    lists = validate(SellerAccountLists, result.seller_lists.with_columns(currency).select(
        list(SellerAccountLists.to_schema().columns)))  # fmt: skip
    status = validate(OverrideStatus, result.override_status)
    context.log.info(
        f"scored {scores.height:,} accounts with {config.label}: tiers {result.report['tiers']}, "
        f"{result.report['targets']:,} targets, {result.report['leads']:,} leads"
    )
    metadata = {k: dg.MetadataValue.json(v) if isinstance(v, (dict, list)) else v for k, v in result.report.items()}
    yield dg.Output(scores, output_name="scores", metadata=metadata)
    yield dg.Output(lists, output_name="lists", metadata={"rows": lists.height, "targets": result.report["targets"],
                                                          "leads": result.report["leads"]})  # fmt: skip
    yield dg.Output(status, output_name="override_status", metadata={"overrides": metadata["overrides"]})


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
    extra = aggregated.select("account_id", "employee_count", "customer_since", "segments", "billing_recent_6m",
                              "billing_earlier_6m")  # fmt: skip
    as_of = accounts["as_of_date"][0] if accounts.height else dt.date.today()
    return ScoringInputs(
        accounts=accounts.join(extra, on="account_id", how="left"),
        engagement=engagement if engagement.height else None,
        pipeline=pipeline if has_opportunities else None,
        records=records.select(
            "source_system", "source_client_id", "account_id", "name", "domain", "phone", "postal_code"
        ),  # fmt: skip
        prospects=prospects,
        sellers=sellers,
        picks=picks,
        overrides=overrides,
        as_of=as_of,
    )
