"""Did the prioritization work? Outcomes of past snapshots and the backtest of the decision matrix.

The logic is `assets/rules/snapshots.py` (recorded and reconstructed snapshots), `assets/rules/outcomes.py` (billing
after each snapshot, per account and per group) and `assets/rules/backtest.py`; this module feeds them the
warehouse tables and shows the result as tables and charts on the asset pages (docs/outcomes.md).

A reconstructed month end, and its outcomes, are kept from the last run when everything they are computed from is
unchanged (assets/rules/kept_month_ends.py); ALMS_REUSE_UNCHANGED=0 reconstructs every month end again.
"""

import sys

import dagster as dg
import polars as pl

from assets.checks import check
from assets.common import errors_as_dagster_failures, table_out, validate
from assets.metadata import column_schema_for
from assets.resources import AlmsSettings, Warehouse
from assets.rules import (
    backtest,
    designations,
    kept_month_ends,
    key_accounts,
    matching,
    outcomes,
    ownership,
    reuse,
    reviews,
    scoring,
    scoring_config,
    snapshots,
)
from assets.rules.outcomes_report import backtest_presentation, outcomes_presentation, weight_rows
from assets.rules.scoring_config import load_scoring_config
from schemas.outcomes import PrioritizationOutcomes, ScoringBacktest

RECORD_COLUMNS = [
    "source_system", "source_client_id", "account_id", "name", "domain", "phone", "postal_code", "owner_id",
    "industry", "employee_count", "segment", "customer_since", "filled_field_count",
]  # fmt: skip
DEAL_COLUMNS = [
    "source_system", "source_client_id", "stage", "amount", "currency", "amount_reporting", "probability",
    "created_date", "expected_close_date", "is_open", "quarantine_reason",
]  # fmt: skip
FX_COLUMNS = ["currency", "month", "rate_to_reporting"]  # each month end converts deals at its own rates
PROSPECT_COLUMNS = [
    "prospect_id", "name", "domain", "phone", "postal_code", "industry", "employee_count", "owner_id", "created_date",
]  # fmt: skip
MONTHLY_BILLING, MONTHLY_ENGAGEMENT = "int_client_billing_monthly", "int_client_engagement_monthly"
HISTORY_COLUMNS = [
    "as_of_date", "account_id", "owner_id", "billing_12m", "is_key_account", "tier", "priority_score", "designation",
    "is_designation_overridden", "is_seller_pick", "member_records",
]  # fmt: skip
# the code whose change can change a reconstructed month end (this module feeds it)
RECONSTRUCTION_CODE = (
    snapshots, scoring, designations, matching, key_accounts, ownership, reviews, scoring_config, kept_month_ends,
    sys.modules[__name__],
)  # fmt: skip
# the code whose change can change a month end's outcomes
WINDOW_CODE = (outcomes, kept_month_ends, sys.modules[__name__])


@dg.multi_asset(
    outs={
        "accounts": table_out(
            "marts",
            "account_outcomes",
            "A working table, not published (its reconstructed rows are copied to `scoring_inputs/` for `alms "
            "backtest`): every account of every past snapshot (recorded, and reconstructed from the data known at "
            "each month end): its groups then, its billing in the 12 months before and in the 3, 6 and 12 months "
            "after (null while incomplete), and for reconstructed snapshots every criterion's raw value and score.",
        ),
        "leads": table_out(
            "marts",
            "lead_outcomes",
            "A working table, not published: every prospect that was not a client at a reconstructed snapshot, "
            "recommended as a lead then or not, and whether it became a billing client within 3, 6 and 12 months.",
        ),
        "groups": table_out(
            "marts",
            "prioritization_outcomes",
            "Did the prioritization work? Per past snapshot, group (tier, designation, target, "
            "recommended or picked, lead) and window: billing after against before, churn, leads converted, counts.",
        ),
    },
    ins={
        "records": dg.AssetIn(key=["intermediate", "int_clients_matched"], metadata={"columns": RECORD_COLUMNS}),
        "deals": dg.AssetIn(key=["intermediate", "int_deals_checked"], metadata={"columns": DEAL_COLUMNS}),
        "prospects": dg.AssetIn(key=["raw", "prospects"], metadata={"columns": PROSPECT_COLUMNS}),
        "fx_rates": dg.AssetIn(key=["raw", "fx_rates"], metadata={"columns": FX_COLUMNS}),
        "history": dg.AssetIn(key=["marts", "account_snapshots"], metadata={"columns": HISTORY_COLUMNS}),
        "window": dg.AssetIn(key=["intermediate", "int_reporting_windows_resolved"]),
    },
    # asked in DuckDB (snapshots.Monthly), never loaded whole: tens of millions of rows at 1M client records
    deps=[dg.AssetKey(["intermediate", MONTHLY_BILLING]), dg.AssetKey(["intermediate", MONTHLY_ENGAGEMENT])],
)
def prioritization_outcomes(
    context: dg.AssetExecutionContext,
    settings: AlmsSettings,
    warehouse: Warehouse,
    records: pl.DataFrame,
    deals: pl.DataFrame,
    prospects: pl.DataFrame,
    fx_rates: pl.DataFrame,
    history: pl.DataFrame,
    window: pl.DataFrame,
):
    as_of = window["as_of_date"][0]
    recorded = snapshots.recorded_snapshots(history)
    now = snapshots.records_now(records)
    with errors_as_dagster_failures(), warehouse.connect() as conn:
        config = load_scoring_config(settings.data_dir)
        monthly = snapshots.Monthly.of_tables(
            conn, f"intermediate.{MONTHLY_BILLING}", f"intermediate.{MONTHLY_ENGAGEMENT}"
        )
        matches = designations.match_prospects(prospects, records)  # once, for every month end and for today
        data = snapshots.History(
            records=records,
            billing=monthly,
            deals=deals.filter(pl.col("quarantine_reason") == "") if deals.height else None,
            prospects=prospects,
            prospect_matches=matches,
            fx_rates=fx_rates,
        )
        dates = snapshots.reconstruction_dates(monthly, as_of, settings.outcome_months)
        fingerprints = kept_month_ends.reconstruction_fingerprints(
            reuse.source_digest(module.__file__ for module in RECONSTRUCTION_CODE),
            {
                "scoring_config": config.model_dump_json(),
                "key_share": settings.key_share,
                "review_months": settings.review_months,
                "review_start_month": settings.review_start_month,
            },
            data,
            dates,
        )
        kept = kept_month_ends.kept_reconstruction(conn, fingerprints) if settings.reuse_unchanged else None
        built = snapshots.reconstruct(
            data, dates, config, settings.key_share, settings.review_months, settings.review_start_month,
            kept=kept[0] if kept else None,
        )  # fmt: skip
        matched_now = matches.group_by("prospect_id").agg(pl.col("account_id").min())  # as score_prospects names it
        kept_dates = sorted(kept[0].accounts["as_of_date"].unique()) if kept else []
        windows = kept_month_ends.window_fingerprints(
            reuse.source_digest(module.__file__ for module in WINDOW_CODE), fingerprints, monthly, now, matched_now,
            as_of,
        )  # fmt: skip
        same = kept_month_ends.kept_windows(conn, windows, kept_dates) if kept_dates else None
        per_account = outcomes.account_outcomes(
            recorded, built.accounts, monthly, now, as_of, kept=same["accounts"] if same else None
        )
        leads = outcomes.lead_outcomes(
            built.leads, matched_now, monthly, now, as_of, kept=same["leads"] if same else None
        )
        windows_kept = same["accounts"]["as_of_date"].n_unique() if same else 0
    for note in built.skipped:
        context.log.warning(f"snapshot not reconstructed: {note}")
    if kept_dates:
        context.log.info(
            f"inputs, settings and code up to {kept_dates[-1]} unchanged since run {kept[1][:8]}: its "
            f"{len(kept_dates)} reconstructed month ends from {kept_dates[0]} are kept, and the outcomes of "
            f"{windows_kept} of them (the billing after them and today's deduplication unchanged too)"
        )
    criteria = built.accounts.select("as_of_date", "snapshot_source", "account_id", *snapshots.CRITERIA_COLUMNS)
    per_account = per_account.join(criteria, on=["as_of_date", "snapshot_source", "account_id"], how="left")
    chosen = outcomes.chosen(per_account)  # once: a copy of every snapshot's rows at 1M accounts
    groups = validate(
        PrioritizationOutcomes,
        outcomes.group_outcomes(chosen, leads).with_columns(
            pl.lit(settings.reporting_currency).alias("reporting_currency")
        ),
    )
    presentation = outcomes_presentation(groups, outcomes.MIN_GROUP_SIZE)
    sources = dict(
        chosen.select("as_of_date", "snapshot_source").unique()
        .group_by("snapshot_source").len().sort("snapshot_source").iter_rows()
    )  # fmt: skip
    del chosen
    context.log.info(
        f"outcomes of {sum(sources.values())} snapshots ({', '.join(f'{v} {k}' for k, v in sources.items()) or 'none'})"
        f"; {len(dates)} month ends reconstructed"
    )
    yield dg.Output(per_account, output_name="accounts", metadata={"rows": per_account.height})
    yield dg.Output(leads, output_name="leads", metadata={"rows": leads.height})
    yield dg.Output(
        groups,
        output_name="groups",
        metadata={
            "outcomes": dg.MetadataValue.md(presentation.markdown()),
            "snapshots": dg.MetadataValue.json(sources),
            "reconstructed_month_ends": len(dates),
            "month_ends_kept": len(kept_dates),
            "month_end_outcomes_kept": windows_kept,
            "complete_snapshots_6m": groups.filter(pl.col("is_complete") & (pl.col("horizon_months") == 6))[
                "as_of_date"
            ].n_unique(),
        },
    )
    # both working tables are stored by now (each output is stored as it is yielded): mark them with the fingerprint
    # of each month end they hold, for the next run
    with warehouse.connect() as conn:
        kept_month_ends.record(conn, fingerprints, windows, built.accounts["as_of_date"].unique(), context.run.run_id)


@dg.asset(
    key=["marts", "scoring_backtest"],
    group_name="marts",
    kinds={"polars", "duckdb"},
    ins={"outcomes": dg.AssetIn(key=["marts", "account_outcomes"])},
    metadata=column_schema_for("marts", "scoring_backtest"),
)
def scoring_backtest(context: dg.AssetExecutionContext, settings: AlmsSettings, outcomes: pl.DataFrame):
    """How well the scoring config in force ranked the reconstructed past snapshots by the growth that followed,
    overall and per criterion, and the weights that would have ranked best: a suggestion, never applied (`alms
    backtest` writes it to a file; docs/outcomes.md)."""
    with errors_as_dagster_failures():
        config = load_scoring_config(settings.data_dir)
    frame = outcomes.filter(pl.col("snapshot_source") == "reconstructed")
    horizon = backtest.default_horizon(frame)
    result = backtest.run_backtest(frame, config, horizon)
    published = validate(ScoringBacktest, backtest.table(result, config))
    summary = published.filter(pl.col("as_of_date").is_null() & (pl.col("snapshots") > 0))
    suggestion = result.suggestion
    notes = list(result.notes)
    if suggestion is not None and suggestion.holdout:
        h = suggestion.holdout
        notes.append(
            f"Fitted on the earlier half of the snapshots and scored on the later half: Spearman {h['spearman_current']:.3f} "
            f"with the current weights, {h['spearman_suggested']:.3f} with the fitted ones."
        )
    presentation = backtest_presentation(
        summary,
        weight_rows(
            config.weights, suggestion.weights if suggestion else None, suggestion.nearby if suggestion else None
        ),
        notes,
        horizon,
        config.label,
    )
    score = summary.filter(pl.col("ranking") == "score")
    context.log.info(
        f"backtest of {config.label} over {len(result.snapshots)} snapshots ({horizon}-month growth): Spearman "
        + (f"{score['spearman'][0]:.3f}" if score.height and score["spearman"][0] is not None else "-")
    )
    return dg.Output(
        published,
        metadata={
            "backtest": dg.MetadataValue.md(presentation.markdown()),
            "horizon_months": horizon,
            "snapshots": len(result.snapshots),
            "config_version": config.label,
            "suggested_weights": dg.MetadataValue.json(
                {c: round(w, 3) for c, w in suggestion.weights.items()} if suggestion else {}
            ),
            "nearby_weights": dg.MetadataValue.json(
                {c: round(w, 3) for c, w in suggestion.nearby.items()} if suggestion else {}
            ),
        },
    )


@check(["marts", "prioritization_outcomes"])  # assets/checks.py: a failure stops its step with its reason
def outcome_windows_complete_or_null(warehouse: Warehouse) -> dg.AssetCheckResult:
    """A window is complete exactly when it ends by the last complete month of the run's data (recomputed from the
    reporting window here), an incomplete window has no outcome at all (null, never zero), a complete one has its
    outcome; publishing an unfinished window as a number would tell a BI user that billing collapsed."""
    with warehouse.connect() as conn:
        wrong_flag, filled, missing, total = conn.sql(
            """
            with reporting_window as (select * from intermediate.int_reporting_windows_resolved),
            data_end as (
                select case when as_of_date = last_day(as_of_date) then as_of_date
                            else cast(date_trunc('month', as_of_date) - interval 1 day as date) end as last_day_complete
                from reporting_window
            )
            select
                count(*) filter (where is_complete <> (window_end_date <= last_day_complete)),
                count(*) filter (where not is_complete and (billing_after is not null or billing_change_share is not null
                    or churned_members is not null or converted_members is not null or conversion_share is not null)),
                count(*) filter (where is_complete and ((population = 'accounts' and billing_after is null)
                    or (population = 'prospects' and converted_members is null))),
                count(*)
            from marts.prioritization_outcomes cross join data_end
            """
        ).fetchall()[0]
    passed = wrong_flag == filled == missing == 0
    return dg.AssetCheckResult(
        passed=passed,
        description=None
        if passed
        else f"{wrong_flag} rows say complete when their window is not (or the reverse), {filled} incomplete rows "
        f"carry an outcome, {missing} complete rows lack one",
        metadata={
            "rows": total,
            "wrong_is_complete": wrong_flag,
            "incomplete_with_outcome": filled,
            "complete_without_outcome": missing,
        },  # fmt: skip
    )


OUTCOME_CHECKS = [outcome_windows_complete_or_null]
