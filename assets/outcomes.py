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
from assets.resources import AlmsSettings, KeptTable, Warehouse, return_freed_memory
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
    "source_system",
    "source_client_id",
    "account_id",
    "name",
    "domain",
    "phone",
    "postal_code",
    "owner_id",
    "industry",
    "employee_count",
    "segment",
    "customer_since",
    "filled_field_count",
]
DEAL_COLUMNS = [
    "source_system",
    "source_client_id",
    "stage",
    "amount",
    "currency",
    "amount_reporting",
    "probability",
    "created_date",
    "expected_close_date",
    "is_open",
    "quarantine_reason",
]
FX_COLUMNS = ["currency", "month", "rate_to_reporting"]  # each month end converts deals at its own rates
PROSPECT_COLUMNS = [
    "prospect_id",
    "name",
    "domain",
    "phone",
    "postal_code",
    "industry",
    "employee_count",
    "owner_id",
    "created_date",
]
MONTHLY_BILLING, MONTHLY_ENGAGEMENT = "int_client_billing_monthly", "int_client_engagement_monthly"
HISTORY_COLUMNS = [
    "as_of_date",
    "account_id",
    "owner_id",
    "billing_12m",
    "is_key_account",
    "tier",
    "priority_score",
    "designation",
    "is_designation_overridden",
    "is_seller_pick",
    "member_records",
]
# the code whose change can change a reconstructed month end (this module feeds it)
RECONSTRUCTION_CODE = (
    snapshots,
    scoring,
    designations,
    matching,
    key_accounts,
    ownership,
    reviews,
    scoring_config,
    kept_month_ends,
    sys.modules[__name__],
)
# the code whose change can change a month end's outcomes
WINDOW_CODE = (outcomes, kept_month_ends, sys.modules[__name__])
BATCH_ROWS = 2_000_000  # account rows computed and written at once (about 0.5 GB): a few dates, or one at 1M accounts
ACCOUNT_SCHEMA = {**outcomes.OUTCOME_SCHEMA, **{c: pl.Float64 for c in snapshots.CRITERIA_COLUMNS}}  # the table's
# what outcomes.group_outcomes reads of an account's row (a date whose windows alone changed reads these back)
GROUP_INPUT_COLUMNS = [
    "as_of_date",
    "snapshot_source",
    "tier",
    "designation",
    "target_source",
    "billing_before_12m",
    *outcomes.AFTER.values(),
]


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
        "window": dg.AssetIn(key=["intermediate", "int_reporting_windows_resolved"]),
    },
    # asked in DuckDB (snapshots.Monthly), never loaded whole: tens of millions of rows at 1M client records
    # and the recorded snapshots one as-of date at a time
    deps=[
        dg.AssetKey(["intermediate", MONTHLY_BILLING]),
        dg.AssetKey(["intermediate", MONTHLY_ENGAGEMENT]),
        dg.AssetKey(["marts", "account_snapshots"]),
    ],
)
def prioritization_outcomes(
    context: dg.AssetExecutionContext,
    settings: AlmsSettings,
    warehouse: Warehouse,
    records: pl.DataFrame,
    deals: pl.DataFrame,
    prospects: pl.DataFrame,
    fx_rates: pl.DataFrame,
    window: pl.DataFrame,
):
    as_of = window["as_of_date"][0]
    now = snapshots.records_now(records)
    with errors_as_dagster_failures(), warehouse.connect() as conn:
        config = load_scoring_config(settings.data_dir)
        monthly = snapshots.Monthly.of_tables(
            conn,
            f"intermediate.{MONTHLY_BILLING}",
            f"intermediate.{MONTHLY_ENGAGEMENT}",
            # each month end asks DuckDB for the billing and engagement of 1M records; what the answers freed goes
            # back to the system at once, before polars scores them (at 1M client records the step's peak 4.2 -> 3.6 GB)
            after_answer=lambda: return_freed_memory(conn, warehouse.memory_limit),
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
        dates = snapshots.reconstruction_dates(
            monthly, as_of, settings.outcome_months, settings.review_months, settings.review_start_month
        )
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
        found = kept_month_ends.stored(conn) if settings.reuse_unchanged else None
        kept = kept_month_ends.kept_reconstruction(
            conn, found, fingerprints, settings.review_months, settings.review_start_month
        )
        built = snapshots.reconstruct(
            data, dates, config, settings.key_share, settings.review_months, settings.review_start_month, kept=kept
        )  # only the month ends not kept
        kept_dates = kept.kept_of(dates) if kept else []
        matched_now = matches.group_by("prospect_id").agg(pl.col("account_id").min())  # as score_prospects names it
        recorded = kept_month_ends.recorded_digests(conn)
        built_dates = set(built.accounts["as_of_date"].unique())
        with_rows = sorted({*kept_dates, *built_dates})  # reconstructed month ends with a snapshot
        parts = kept_month_ends.part_fingerprints(
            reuse.source_digest(module.__file__ for module in WINDOW_CODE),
            {day: fingerprints[day] for day in with_rows},
            recorded,
            monthly,
            now,
            matched_now,
            as_of,
        )
        unchanged = kept_month_ends.unchanged_parts(found, parts)
        windows = kept_month_ends.changed_windows(found, parts)  # dates whose windows alone are computed again
        tables = kept_month_ends.OutcomeTables(
            conn, {kept_month_ends.ACCOUNTS: ACCOUNT_SCHEMA, kept_month_ends.LEADS: outcomes.LEAD_OUTCOME_SCHEMA}
        )
        tables.start(sorted(parts), keep=bool(kept_dates or unchanged or windows))
        recorded_months = {snapshots.month_index(day) for day in recorded}
        groups_out = [
            tables.stored_rows(kept_month_ends.GROUPS, outcomes.GROUP_SCHEMA, unchanged)
            if unchanged
            else pl.DataFrame(schema=outcomes.GROUP_SCHEMA)
        ]
        accounts_now = now["account_id"].n_unique()
        rows_per_day = {
            day: accounts_now * ((day in recorded) + (day in with_rows)) for day in parts
        }  # an estimate, to bound the rows held at once
        used = (pl.col("snapshot_source") == snapshots.RECORDED) | ~snapshots.month_index(pl.col("as_of_date")).is_in(
            list(recorded_months)
        )  # the snapshot the groups use: the recorded one of a month that has one (outcomes.chosen)
        if windows:  # their windows updated in place, their groups computed again from the rows
            groups_out.append(_update_windows(conn, tables, windows, monthly, now, as_of, recorded_months))
        whole = sorted(set(parts) - set(unchanged) - set(windows))
        for days in kept_month_ends.batches(whole, rows_per_day, BATCH_ROWS):
            per_account, leads = _part(
                conn, tables, days, built, kept_dates, recorded, monthly, now, matched_now, as_of
            )
            groups_out.append(outcomes.group_outcomes(per_account.filter(used), leads))
            tables.write(kept_month_ends.ACCOUNTS, days, per_account)
            tables.write(kept_month_ends.LEADS, days, leads)
            del per_account, leads
        sizes = {
            table: conn.sql(f"select count(*) from {table}").fetchall()[0][0]
            for table in (kept_month_ends.ACCOUNTS, kept_month_ends.LEADS)
        }
    for note in built.skipped:
        context.log.warning(f"snapshot not reconstructed: {note}")
    kept_parts = [day for day in unchanged if day in set(with_rows)]
    if kept_dates:
        context.log.info(
            f"inputs, settings and code up to {kept_dates[-1]} unchanged since run {found[1][:8]}: its "
            f"{len(kept_dates)} reconstructed month ends from {kept_dates[0]} are kept, and the outcomes of "
            f"{len(kept_parts)} of them (the billing after them and today's deduplication unchanged too)"
        )
    groups = validate(
        PrioritizationOutcomes,
        pl.concat([g.select(list(outcomes.GROUP_SCHEMA)).cast(outcomes.GROUP_SCHEMA) for g in groups_out])
        .with_columns(pl.lit(settings.reporting_currency).alias("reporting_currency"))
        .sort("as_of_date", "snapshot_source", "population", "group_kind", "group_value", "horizon_months"),
    )
    presentation = outcomes_presentation(groups, outcomes.MIN_GROUP_SIZE)
    sources = {
        snapshots.RECONSTRUCTED: sum(snapshots.month_index(day) not in recorded_months for day in with_rows),
        snapshots.RECORDED: len(recorded),
    }
    sources = {k: v for k, v in sorted(sources.items()) if v}
    context.log.info(
        f"outcomes of {sum(sources.values())} snapshots ({', '.join(f'{v} {k}' for k, v in sources.items()) or 'none'})"
        f"; {len(dates)} month ends reconstructed; {len(parts) - len(unchanged)} of {len(parts)} dates computed "
        f"({len(windows)} of them only in the windows a new month completed or changed), the others kept"
    )
    yield dg.Output(KeptTable(), output_name="accounts", metadata={"rows": sizes[kept_month_ends.ACCOUNTS]})
    yield dg.Output(KeptTable(), output_name="leads", metadata={"rows": sizes[kept_month_ends.LEADS]})
    yield dg.Output(
        groups,
        output_name="groups",
        metadata={
            "outcomes": dg.MetadataValue.md(presentation.markdown()),
            "snapshots": dg.MetadataValue.json(sources),
            "reconstructed_month_ends": len(dates),
            "month_ends_kept": len(kept_dates),
            "month_end_outcomes_kept": len(kept_parts),
            "dates_computed": len(parts) - len(unchanged),
            "dates_with_windows_computed": len(windows),  # of dates_computed: only their windows after the date
            "complete_snapshots_6m": groups.filter(pl.col("is_complete") & (pl.col("horizon_months") == 6))[
                "as_of_date"
            ].n_unique(),
        },
    )
    # the three tables are stored by now (each output is stored as it is yielded): mark them with the fingerprint
    # of each date they hold, for the next run
    with warehouse.connect() as conn:
        kept_month_ends.record(conn, fingerprints, with_rows, parts, context.run.run_id)


def _recorded(conn, days, columns=HISTORY_COLUMNS):
    """The recorded snapshots (HISTORY_COLUMNS, or `columns`, of marts.account_snapshots) of `days`."""
    return conn.sql(
        f"select {', '.join(columns)} from {kept_month_ends.RECORDED_TABLE} where as_of_date in (select unnest($days))",
        params={"days": days},
    ).pl()


def _update_windows(conn, tables, windows, monthly, now, as_of, recorded_months):
    """Compute again the windows of `windows` (date -> horizons; kept_month_ends.changed_windows) in the rows the
    tables hold, and those dates' groups from them (`recorded_months`: the month_index of each recorded snapshot)."""
    days = sorted(windows)
    # of the recorded snapshots, only what maps their records to their accounts (not the 8 other columns)
    members = _recorded(conn, days, ["as_of_date", "account_id", "member_records"])
    sums = outcomes.window_sums(windows, members.with_columns(snapshots.member_list()), monthly, now)
    tables.update_windows(windows, sums, as_of)
    del sums, members
    # the rows the groups use (outcomes.chosen: the recorded snapshot of a month that has one), in the order they
    # were computed in (_part), so that the groups' float sums add in the same order
    replaced = [day for day in days if snapshots.month_index(day) in recorded_months]
    accounts = tables.stored_rows(
        kept_month_ends.ACCOUNTS,
        GROUP_INPUT_COLUMNS,
        days,
        f"(snapshot_source = '{snapshots.RECORDED}' or as_of_date not in (select unnest($replaced)))",
        order_by="as_of_date, snapshot_source, account_id",
        params={"replaced": replaced},
    )
    leads = tables.stored_rows(
        kept_month_ends.LEADS, outcomes.LEAD_OUTCOME_SCHEMA, days, order_by="as_of_date, prospect_id"
    ).cast(outcomes.LEAD_OUTCOME_SCHEMA)
    # the groups of the windows computed again; the other windows' groups are the ones stored (nothing they read
    # changed): each date's computed horizons only, dates with the same horizons at once
    by_horizons: dict[tuple[int, ...], list] = {}
    for day, horizons in windows.items():
        by_horizons.setdefault(tuple(sorted(horizons)), []).append(day)
    groups = [
        outcomes.group_outcomes(
            accounts.filter(pl.col("as_of_date").is_in(dates)),
            leads.filter(pl.col("as_of_date").is_in(dates)),
            horizons=horizons,
        )
        for horizons, dates in sorted(by_horizons.items())
    ]
    computed = pl.DataFrame(
        [(day, n) for day, horizons in windows.items() for n in horizons],
        schema={"as_of_date": pl.Date, "horizon_months": pl.Int64},
        orient="row",
    )
    stored = tables.stored_rows(kept_month_ends.GROUPS, outcomes.GROUP_SCHEMA, days).join(
        computed, on=["as_of_date", "horizon_months"], how="anti"
    )
    return pl.concat([stored.cast(outcomes.GROUP_SCHEMA), *(g.cast(outcomes.GROUP_SCHEMA) for g in groups)])


def _part(conn, tables, days, built, kept_dates, recorded, monthly, now, matched_now, as_of):
    """The account outcomes (with the criteria of a reconstructed snapshot) and lead outcomes of some as-of dates:
    their reconstructed snapshots (computed by this run, or kept in the table) and their recorded ones."""
    kept = [day for day in days if day in kept_dates]
    reconstructed = pl.concat(
        [
            built.accounts.filter(pl.col("as_of_date").is_in(days)),
            tables.stored_rows(
                kept_month_ends.ACCOUNTS,
                snapshots.RECONSTRUCTED_SCHEMA,
                kept,
                f"snapshot_source = '{snapshots.RECONSTRUCTED}'",
            ).cast(snapshots.RECONSTRUCTED_SCHEMA),
        ]
    )
    leads_then = pl.concat(
        [
            built.leads.filter(pl.col("as_of_date").is_in(days)),
            tables.stored_rows(
                kept_month_ends.LEADS,
                [
                    "as_of_date",
                    "prospect_id",
                    "owner_id",
                    "lead_score",
                    "false as is_client_then",
                    "is_recommended",
                    "cast(null as bigint) as lead_rank",
                ],
                kept,
            ).cast(snapshots.LEAD_SCHEMA),
        ]
    )
    history = _recorded(conn, [day for day in days if day in recorded])
    nothing = snapshots.recorded_snapshots(None)
    built_then = outcomes.account_outcomes(nothing, reconstructed, monthly, now, as_of)
    leads = outcomes.lead_outcomes(leads_then, matched_now, monthly, now, as_of)  # the same windows: kept in monthly
    recorded_then = outcomes.account_outcomes(snapshots.recorded_snapshots(history), nothing, monthly, now, as_of)
    criteria = reconstructed.select("as_of_date", "snapshot_source", "account_id", *snapshots.CRITERIA_COLUMNS)
    per_account = pl.concat([built_then, recorded_then]).join(
        criteria, on=["as_of_date", "snapshot_source", "account_id"], how="left"
    )
    return per_account, leads


@dg.asset(
    key=["marts", "scoring_backtest"],
    group_name="marts",
    kinds={"polars", "duckdb"},
    # read in DuckDB: the reconstructed snapshots' rows with complete windows only (backtest.stored_complete_rows)
    deps=[dg.AssetKey(["marts", "account_outcomes"])],
    metadata=column_schema_for("marts", "scoring_backtest"),
)
def scoring_backtest(context: dg.AssetExecutionContext, settings: AlmsSettings, warehouse: Warehouse):
    """How well the scoring config in force ranked the reconstructed past snapshots by the growth that followed,
    overall and per criterion, and the weights that would have ranked best: a suggestion, never applied (`alms
    backtest` writes it to a file; docs/outcomes.md)."""
    with errors_as_dagster_failures():
        config = load_scoring_config(settings.data_dir)
    with warehouse.connect() as conn:  # the rows it reads of what the publication copies for `alms backtest`
        horizon, frame = backtest.stored_complete_rows(conn)
    result = backtest.run_backtest(frame, config, horizon, sampled=True)
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
        },
    )


OUTCOME_CHECKS = [outcome_windows_complete_or_null]
