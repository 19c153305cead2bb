"""Outcomes of past snapshots: did the accounts alms marked high, key or target grow more than the others, and did
the recommended leads become customers?

For every snapshot (recorded or reconstructed, `assets/rules/snapshots.py`) and every account in it:

- `billing_before_12m`: the account's billing in the snapshot's month and the 11 before it;
- `billing_after_<n>m` (n = 3, 6, 12): its billing in the n months after the snapshot's month, **null when those
  months are not complete yet** (they end after the last complete month of the run's data): an incomplete window is
  never read as zero.

Billing is counted through client records, by the deduplication: a recorded snapshot's account is the records it
held then (`member_records` of `marts.account_snapshots`), plus records that did not exist then and are today in the
same account as one of them (a new billing-system record of the same organisation is its billing, not a new
customer); a reconstructed snapshot's account is today's account. Nothing of the billing after the snapshot decides
which group an account is in: the groups come from the snapshot alone.

Per snapshot, group and window (`group_outcomes`, `marts.prioritization_outcomes`):
- `billing_change_share`: the group's billing in the window against the same length of its 12 months before
  (Σ after / (Σ before × n / 12) − 1);
- `median_account_change_share`, `grown_share`: the same per account with positive billing before (median; share
  that grew), so a few large accounts do not speak for the group;
- `churned_members` / `churn_share`: accounts with positive billing before and none (≤ 0) in the window;
- leads (prospects that were not clients at the snapshot): `converted_members` / `conversion_share`, prospects that
  are today a client record (the prospect matching of `assets/rules/designations.py`) whose account billed in the
  window;
- `members` and `is_small_group` (fewer than `MIN_GROUP_SIZE` members): a share of a small group is mostly noise.

Groups: `all`; `tier` (high / medium / low); `designation` (key / target / secondary); `target` (target /
not_target); `target_source` of the targets (recommended / seller_pick / override); and for prospects `lead`
(recommended / not_recommended).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl

from assets.rules.snapshots import (
    MONEY,
    RECONSTRUCTED,
    RECORDED,
    SNAPSHOT_SCHEMA,
    Monthly,
    last_complete_month,
    month_end,
    month_index,
    monthly,
)

HORIZONS = (3, 6, 12)
MIN_GROUP_SIZE = 30
AFTER = {n: f"billing_after_{n}m" for n in HORIZONS}
OUTCOME_SCHEMA = {**SNAPSHOT_SCHEMA, "billing_before_12m": MONEY, **{c: MONEY for c in AFTER.values()}}
CONVERTED = {n: f"is_converted_{n}m" for n in HORIZONS}
LEAD_OUTCOME_SCHEMA = {
    "as_of_date": pl.Date,
    "prospect_id": pl.String,
    "owner_id": pl.String,
    "lead_score": pl.Float64,
    "is_recommended": pl.Boolean,
    "converted_account_id": pl.String,
    **{c: pl.Boolean for c in CONVERTED.values()},
}
GROUP_SCHEMA = {
    "as_of_date": pl.Date,
    "snapshot_source": pl.String,
    "population": pl.String,
    "group_kind": pl.String,
    "group_value": pl.String,
    "horizon_months": pl.Int64,
    "window_start_date": pl.Date,
    "window_end_date": pl.Date,
    "is_complete": pl.Boolean,
    "members": pl.Int64,
    "is_small_group": pl.Boolean,
    "active_members": pl.Int64,
    "billing_before_12m": MONEY,
    "billing_after": MONEY,
    "billing_change_share": pl.Float64,
    "median_account_change_share": pl.Float64,
    "grown_share": pl.Float64,
    "churned_members": pl.Int64,
    "churn_share": pl.Float64,
    "converted_members": pl.Int64,
    "conversion_share": pl.Float64,
}
KEYS = ["as_of_date", "snapshot_source"]


def recorded_mapping(snapshot: pl.DataFrame, now: pl.DataFrame) -> pl.DataFrame:
    """record -> account of a recorded snapshot: the records each account held then, plus records unknown to the
    snapshot that are today in the same account as one of its records (the smallest such account id when today's
    account holds records of several)."""
    held = snapshot.select("account_id", pl.col("member_records").alias("record")).explode("record").drop_nulls()
    held = held.unique("record", keep="first")
    today = now.rename({"account_id": "account_now"})
    via = held.join(today, on="record", how="inner").group_by("account_now").agg(pl.col("account_id").min())
    extra = today.join(held, on="record", how="anti").join(via, on="account_now", how="inner")
    return pl.concat([held.select("record", "account_id"), extra.select("record", "account_id")])


def _windows(frame: pl.DataFrame, source: Monthly, mapping: pl.DataFrame, m: int, end: int) -> pl.DataFrame:
    sums = source.account_windows(m, mapping, HORIZONS)
    zero = pl.lit(Decimal(0), MONEY)
    out = frame.join(sums, on="account_id", how="left").with_columns(
        pl.col("billing_before_12m", *AFTER.values()).cast(MONEY).fill_null(zero)
    )
    return out.with_columns(pl.lit(None, MONEY).alias(AFTER[n]) for n in HORIZONS if m + n > end)


def account_outcomes(
    recorded: pl.DataFrame,
    reconstructed: pl.DataFrame,
    billing: pl.DataFrame | Monthly,
    now: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    """OUTCOME_SCHEMA for every account of every snapshot, recorded and reconstructed alike (the caller chooses).

    `recorded`: snapshots.recorded_snapshots(); `reconstructed`: Reconstruction.accounts; `billing`:
    snapshots.billing_by_record() or a snapshots.Monthly (asked in DuckDB); `now`: snapshots.records_now(); `as_of`: the run's as-of date (the last complete
    month of the data bounds every window)."""
    end = last_complete_month(as_of)
    source = monthly(billing)
    parts = []
    if reconstructed.height:
        for (as_of_date,), frame in reconstructed.partition_by("as_of_date", as_dict=True, maintain_order=True).items():
            parts.append(_windows(frame.select(list(SNAPSHOT_SCHEMA)), source, now, month_index(as_of_date), end))
    for (as_of_date,), frame in recorded.partition_by("as_of_date", as_dict=True, maintain_order=True).items():
        mapping = recorded_mapping(frame, now)
        parts.append(_windows(frame.select(list(SNAPSHOT_SCHEMA)), source, mapping, month_index(as_of_date), end))
    if not parts:
        return pl.DataFrame(schema=OUTCOME_SCHEMA)
    return pl.concat([p.select(list(OUTCOME_SCHEMA)).cast(OUTCOME_SCHEMA) for p in parts]).sort(
        "as_of_date", "snapshot_source", "account_id"
    )


def lead_outcomes(
    leads: pl.DataFrame,
    matched_now: pl.DataFrame,
    billing: pl.DataFrame | Monthly,
    now: pl.DataFrame,
    as_of: dt.date,
) -> pl.DataFrame:
    """LEAD_OUTCOME_SCHEMA for every prospect that was not a client at its snapshot (`leads`: Reconstruction.leads):
    converted in n months when it is today a client record (`matched_now`: prospect_id, account_id) whose account
    billed in the n months after the snapshot's month; null when those months are not complete."""
    end = last_complete_month(as_of)
    candidates = leads.filter(~pl.col("is_client_then")).join(
        matched_now.select("prospect_id", pl.col("account_id").alias("converted_account_id")),
        on="prospect_id",
        how="left",
    )
    if candidates.height == 0:
        return pl.DataFrame(schema=LEAD_OUTCOME_SCHEMA)
    source = monthly(billing)
    parts = []
    for (as_of_date,), frame in candidates.partition_by("as_of_date", as_dict=True, maintain_order=True).items():
        m = month_index(as_of_date)
        after = source.account_windows(m, now, HORIZONS).select(
            "account_id", *((pl.col(AFTER[n]) > 0).alias(CONVERTED[n]) for n in HORIZONS)
        )
        out = frame.join(after, left_on="converted_account_id", right_on="account_id", how="left").with_columns(
            pl.col(*CONVERTED.values()).fill_null(False)
        )
        out = out.with_columns(pl.lit(None, pl.Boolean).alias(CONVERTED[n]) for n in HORIZONS if m + n > end)
        parts.append(out.select(list(LEAD_OUTCOME_SCHEMA)).cast(LEAD_OUTCOME_SCHEMA))
    return pl.concat(parts).sort("as_of_date", "prospect_id")


WINDOW_SUM_SCHEMA = {
    "as_of_date": pl.Date,
    "snapshot_source": pl.String,
    "account_id": pl.String,
    "horizon_months": pl.Int64,
    "billing_after": MONEY,
}


def window_sums(
    windows: dict[dt.date, list[int]],
    recorded: pl.DataFrame,
    billing: pl.DataFrame | Monthly,
    now: pl.DataFrame,
) -> pl.DataFrame:
    """WINDOW_SUM_SCHEMA: the billing in each window of `windows` (date -> horizons) of each account with billing in
    any of them (0 in a window without), as account_outcomes() counts it: through today's accounts for the
    reconstructed snapshot (and for the leads, whose converted account is today's), through the records then for the
    recorded snapshot (`recorded`: as_of_date, account_id and member_records, a list, of the recorded snapshots of
    those dates, as snapshots.recorded_snapshots() gives them). What a window's rows become from it (0 without
    billing, null while incomplete): kept_month_ends.OutcomeTables.update_windows."""
    source = monthly(billing)
    asked = pl.DataFrame(
        [(day, month_index(day), n) for day, horizons in sorted(windows.items()) for n in sorted(set(horizons))],
        schema={"as_of_date": pl.Date, "month_index": pl.Int64, "horizon_months": pl.Int64},
        orient="row",
    )

    def dated(sums: pl.DataFrame, snapshot_source: str) -> pl.DataFrame:  # the windows asked of each date
        return sums.join(asked, on=["month_index", "horizon_months"]).with_columns(
            pl.lit(snapshot_source).alias("snapshot_source")
        )

    # through today's accounts: every date's windows in one query (one read of the billing they span)
    every = {}
    for day, horizons in windows.items():
        every[month_index(day)] = tuple(sorted({*every.get(month_index(day), ()), *horizons}))
    parts = [dated(source.windows_after(every, now), RECONSTRUCTED)]
    for day, horizons in sorted(windows.items()):  # through each recorded snapshot's own records
        snapshot = recorded.filter(pl.col("as_of_date") == day)
        if snapshot.height:
            sums = source.windows_after({month_index(day): tuple(sorted(horizons))}, recorded_mapping(snapshot, now))
            parts.append(dated(sums, RECORDED).filter(pl.col("as_of_date") == day))
    return pl.concat([part.select(list(WINDOW_SUM_SCHEMA)).cast(WINDOW_SUM_SCHEMA) for part in parts])


def chosen(outcomes: pl.DataFrame) -> pl.DataFrame:
    """One snapshot per month: the recorded one when alms ran that month, else the reconstructed one."""
    months = outcomes.select(*KEYS, month_index(pl.col("as_of_date"))).unique()
    recorded_months = months.filter(pl.col("snapshot_source") == "recorded").select("month_index").unique()
    dropped = months.filter(pl.col("snapshot_source") != "recorded").join(recorded_months, on="month_index")
    return outcomes.join(dropped.select(KEYS), on=KEYS, how="anti")


def _group_kinds() -> list[tuple[pl.Expr, pl.Expr]]:
    """(group_kind, group_value) of every group kind an account row belongs to (a null value: not in that kind)."""
    return [
        (pl.lit("all"), pl.lit("all")),
        (pl.lit("tier"), pl.col("tier").fill_null("none")),
        (pl.lit("designation"), pl.col("designation").fill_null("none")),
        (
            pl.lit("target"),
            pl.when(pl.col("designation") == "target").then(pl.lit("target")).otherwise(pl.lit("not_target")),
        ),
        (pl.lit("target_source"), pl.col("target_source")),
    ]


def _window_dates(frame: pl.DataFrame) -> pl.DataFrame:
    pairs = frame.select("as_of_date", "horizon_months").unique()
    rows = [
        (day, n, month_end(month_index(day)) + dt.timedelta(days=1), month_end(month_index(day) + n))
        for day, n in pairs.iter_rows()
    ]
    schema = {
        "as_of_date": pl.Date,
        "horizon_months": pl.Int64,
        "window_start_date": pl.Date,
        "window_end_date": pl.Date,
    }
    return frame.join(pl.DataFrame(rows, schema=schema, orient="row"), on=["as_of_date", "horizon_months"], how="left")


def group_outcomes(
    outcomes: pl.DataFrame,
    leads: pl.DataFrame | None = None,
    min_group_size: int = MIN_GROUP_SIZE,
    horizons: tuple[int, ...] = HORIZONS,
) -> pl.DataFrame:
    """GROUP_SCHEMA: one row per snapshot, group and window (see the module docstring). `outcomes`: one snapshot
    per as-of date (`chosen`); `leads`: lead_outcomes(); `horizons`: the windows (all by default)."""
    parts = []
    if outcomes.height:
        before = pl.col("billing_before_12m").cast(pl.Float64)
        after = pl.col("billing_after").cast(pl.Float64)
        baseline = before * pl.col("horizon_months") / 12
        active = before > 0
        change = pl.when(active).then(after / baseline - 1)
        aggregates = [
            pl.len().cast(pl.Int64).alias("members"),
            pl.col("billing_after").is_not_null().all().alias("is_complete"),
            active.sum().cast(pl.Int64).alias("active_members"),
            pl.col("billing_before_12m").sum(),
            pl.col("billing_after").sum(),
            (after.sum() / baseline.sum() - 1).alias("billing_change_share"),
            change.median().alias("median_account_change_share"),
            (active & (after > baseline)).sum().alias("_grown"),
            (active & (after <= 0)).sum().cast(pl.Int64).alias("churned_members"),
        ]
        # one horizon and group kind at a time: every account row once per horizon and kind at 1M accounts and a
        # dozen snapshots would be hundreds of millions of rows
        grouped = pl.concat(
            [
                outcomes.select(
                    *KEYS,
                    kind.alias("group_kind"),
                    value.alias("group_value"),
                    "billing_before_12m",
                    pl.col(AFTER[n]).alias("billing_after"),
                    pl.lit(n, pl.Int64).alias("horizon_months"),
                )
                .drop_nulls("group_value")
                .group_by(*KEYS, "group_kind", "group_value", "horizon_months")
                .agg(aggregates)
                for n in horizons
                for kind, value in _group_kinds()
            ]
        )
        complete = pl.col("is_complete")
        per_active = pl.col("active_members").cast(pl.Float64)
        accounts = grouped.with_columns(
            pl.lit("accounts").alias("population"),
            pl.when(complete).then(pl.col("billing_after")).alias("billing_after"),
            pl.when(complete & (pl.col("billing_before_12m") > 0))
            .then(pl.col("billing_change_share"))
            .alias("billing_change_share"),
            pl.when(complete).then(pl.col("median_account_change_share")).alias("median_account_change_share"),
            pl.when(complete & (per_active > 0)).then(pl.col("_grown") / per_active).alias("grown_share"),
            pl.when(complete).then(pl.col("churned_members")).alias("churned_members"),
            pl.when(complete & (per_active > 0)).then(pl.col("churned_members") / per_active).alias("churn_share"),
            pl.lit(None, pl.Int64).alias("converted_members"),
            pl.lit(None, pl.Float64).alias("conversion_share"),
        )
        parts.append(accounts)
    if leads is not None and leads.height:
        long = pl.concat(
            [
                leads.select(
                    "as_of_date",
                    pl.lit("reconstructed").alias("snapshot_source"),
                    pl.lit("lead").alias("group_kind"),
                    pl.when(pl.col("is_recommended"))
                    .then(pl.lit("recommended"))
                    .otherwise(pl.lit("not_recommended"))
                    .alias("group_value"),
                    pl.col(CONVERTED[n]).alias("is_converted"),
                    pl.lit(n, pl.Int64).alias("horizon_months"),
                )
                for n in horizons
            ]
        )
        grouped = long.group_by(*KEYS, "group_kind", "group_value", "horizon_months").agg(
            pl.len().cast(pl.Int64).alias("members"),
            pl.col("is_converted").is_not_null().all().alias("is_complete"),
            pl.col("is_converted").sum().cast(pl.Int64).alias("converted_members"),
        )
        complete = pl.col("is_complete")
        parts.append(
            grouped.with_columns(
                pl.lit("prospects").alias("population"),
                pl.when(complete).then(pl.col("converted_members")).alias("converted_members"),
                pl.when(complete).then(pl.col("converted_members") / pl.col("members")).alias("conversion_share"),
            )
        )
    if not parts:
        return pl.DataFrame(schema=GROUP_SCHEMA)
    frame = pl.concat(
        [
            p.with_columns(
                pl.lit(None, dtype).alias(c)
                for c, dtype in GROUP_SCHEMA.items()
                if c not in p.columns and c not in ("window_start_date", "window_end_date", "is_small_group")
            )
            for p in parts
        ],
        how="diagonal_relaxed",
    )
    frame = _window_dates(frame).with_columns((pl.col("members") < min_group_size).alias("is_small_group"))
    return (
        frame.select(list(GROUP_SCHEMA))
        .cast(GROUP_SCHEMA)
        .sort("as_of_date", "snapshot_source", "population", "group_kind", "group_value", "horizon_months")
    )
