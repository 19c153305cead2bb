"""marts: the decision matrix (account scores and tiers), sellers' lists with targets and leads, override status.

The logic is `assets.rules.scoring_run` (which calls `assets.rules.scoring` and `assets.rules.designations`: polars,
one row per account); this module feeds it the warehouse tables and the scoring config, validates what it returns and
tells the UI what happened.
"""

import dagster as dg
import polars as pl

from assets.common import MONTHLY_FRESHNESS, errors_as_dagster_failures, picture_metadata, table_out, validate
from assets.resources import AlmsSettings
from assets.rules.pictures import tier_mix, tier_mix_png
from assets.rules.progress import progress
from assets.rules.scoring_config import load_scoring_config
from assets.rules.scoring_run import ACCOUNT_ATTRIBUTES, SCORING_INPUTS, run_scoring, scoring_inputs
from schemas.marts import AccountOverrides, AccountScores, SellerAccountLists


def _scoring_input(name: str) -> dg.AssetIn:
    """The asset input `name` of SCORING_INPUTS, loading only the columns scoring reads (of the aggregated accounts:
    their attributes, the rest comes with marts.accounts)."""
    layer, table, columns = SCORING_INPUTS[name]
    if name == "aggregated":
        columns = ACCOUNT_ATTRIBUTES
    return dg.AssetIn(key=[layer, table], metadata={"columns": list(columns)} if columns else None)


@dg.multi_asset(
    outs={
        "scores": table_out(
            "marts",
            "account_scores",
            "One row per account: priority score, every criterion's score and contribution (why it is "
            "high), tier (computed and after overrides), active / pipeline / inactive, health and churn risk.",
            MONTHLY_FRESHNESS,
        ),
        "lists": table_out(
            "marts",
            "seller_account_lists",
            "Per seller: their accounts by 12-month billing, each key / target / secondary, then their "
            "leads; recommendations and the seller's own picks side by side.",
            MONTHLY_FRESHNESS,
        ),
        "account_overrides": table_out(
            "marts",
            "account_overrides",
            "Every front-line override and what became of it: applied, expired or unknown_record, with "
            "the computed value next to it.",
        ),
    },
    ins={"accounts": dg.AssetIn(key=["marts", "accounts"]), **{name: _scoring_input(name) for name in SCORING_INPUTS}},
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
    with errors_as_dagster_failures(), progress("marts.account_scores", context.log.info) as step:
        step.update(f"scoring {accounts.height:,} accounts")
        config = load_scoring_config(settings.data_dir)
        for note in config.notes:
            context.log.warning(note)
        inputs = scoring_inputs(
            accounts,
            aggregated,
            engagement,
            pipeline,
            opportunities.height > 0,
            records,
            prospects,
            sellers,
            picks,
            overrides,
        )
        result = run_scoring(inputs, config)
    for row in result.account_overrides.filter(pl.col("status") != "applied").iter_rows(named=True):
        context.log.warning(
            f"{row['source_file']} row {row['source_row']}: {row['field']} override of "
            f"{row['source_system']}:{row['source_client_id']} not applied ({row['status']})"
        )
    currency = pl.lit(settings.reporting_currency).alias("reporting_currency")
    scores = validate(
        AccountScores, result.scores.with_columns(currency).select(list(AccountScores.to_schema().columns))
    )
    lists = validate(
        SellerAccountLists,
        result.seller_lists.with_columns(currency).select(list(SellerAccountLists.to_schema().columns)),
    )
    status = validate(AccountOverrides, result.account_overrides)
    context.log.info(
        f"scored {scores.height:,} accounts with {config.label}: tiers {result.report['tiers']}, "
        f"{result.report['targets']:,} targets, {result.report['leads']:,} leads"
    )
    metadata = {k: dg.MetadataValue.json(v) if isinstance(v, (dict, list)) else v for k, v in result.report.items()}
    yield dg.Output(scores, output_name="scores", metadata=metadata)
    yield dg.Output(
        lists,
        output_name="lists",
        metadata={
            "rows": lists.height,
            "targets": result.report["targets"],
            "leads": result.report["leads"],
            **picture_metadata(
                context, "tier_mix_per_seller", "Tier mix per seller", lambda: tier_mix_png(tier_mix(lists))
            ),
        },
    )
    yield dg.Output(status, output_name="account_overrides", metadata={"overrides": metadata["overrides"]})
