"""marts: account history (a snapshot per as-of date) and the change log between snapshots, with reasons.

Both tables carry their past. A run writes only its own snapshot: the IO manager replaces the rows of its as-of date in
marts.account_snapshots (`REPLACE_ROWS_BY`), so a run's cost does not grow with the number of snapshots kept. To
recompute the changes around its snapshot it reads only the snapshots just before and after its as-of date
(`assets/rules/history.py`).
"""

import datetime as dt

import dagster as dg
import polars as pl

from assets.common import picture_metadata, recorded_table, table_out, validate
from assets.resources import REPLACE_ROWS_BY, AlmsSettings, Warehouse
from assets.rules.history import (
    CHANGE_SCHEMA,
    SNAPSHOT_INPUTS,
    SNAPSHOT_SCHEMA,
    merge_snapshot,
    snapshot,
    update_changes,
)
from assets.rules.pictures import crossings_from
from assets.rules.progress import progress
from schemas.marts import AccountChanges, AccountSnapshots


@dg.multi_asset(
    outs={
        "history": table_out(
            "marts",
            "account_snapshots",
            "One snapshot per as-of date of every account: key flag, tier, designation, owner, score and "
            "its client records. Re-running an as-of date replaces its snapshot.",
            metadata={REPLACE_ROWS_BY: "as_of_date"},
        ),
        "changes": table_out(
            "marts",
            "account_changes",
            "Accounts whose key flag, tier, designation or owner changed between consecutive snapshots, "
            "or that appeared, merged or split, each with a reason code.",
        ),
    },
    ins={
        name: dg.AssetIn(key=["marts", table], metadata={"columns": list(SNAPSHOT_INPUTS[name])})
        for name, table in {
            "accounts": "accounts",
            "scores": "account_scores",
            "lists": "seller_account_lists",
            "crosswalk": "client_crosswalk",
        }.items()
    },
)
def account_snapshots(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    settings: AlmsSettings,
    accounts: pl.DataFrame,
    scores: pl.DataFrame,
    lists: pl.DataFrame,
    crosswalk: pl.DataFrame,
):
    with progress("marts.account_snapshots", context.log.info) as step:
        step.update(f"taking the snapshot of {accounts.height:,} accounts and comparing it with its neighbours")
        current = snapshot(accounts, scores, lists, crosswalk)
        as_of = current["as_of_date"][0]
        dates, neighbours, compatible = recorded_neighbours(warehouse, as_of)
        if not compatible:
            context.log.warning(
                "marts.account_snapshots was written by an older version; its rows are not carried over"
            )
        nearby = merge_snapshot(neighbours, current)
        dates = sorted(set(dates) | {as_of})
        recorded_changes = recorded_table(context, warehouse, "account_changes", CHANGE_SCHEMA)
        changes = update_changes(nearby, recorded_changes, as_of, dates)
    latest = changes.filter(pl.col("to_as_of_date") == as_of)
    reasons = dict(latest.group_by("reason").len().sort("reason").iter_rows())
    context.log.info(
        f"snapshot {as_of}: {current.height:,} accounts; {latest.height:,} changes since the previous "
        f"snapshot ({len(dates)} snapshots kept)"
    )
    own = current.with_columns(pl.lit(settings.reporting_currency, pl.String).alias("reporting_currency"))
    own = validate(AccountSnapshots, own.select(list(AccountSnapshots.to_schema().columns)))
    if not compatible:
        with warehouse.connect() as conn:
            conn.execute("drop table marts.account_snapshots")
    yield dg.Output(
        own,
        output_name="history",
        metadata={"snapshots": len(dates), "as_of_date": str(as_of), "accounts_in_snapshot": current.height},
    )

    def crossings():
        with warehouse.connect() as conn:  # this run's marts.accounts and key_levels, the review's snapshot
            return crossings_from(conn)

    yield dg.Output(
        validate(AccountChanges, changes),
        output_name="changes",
        metadata={
            "changes_since_last_run": latest.height,
            "changes_by_reason": dg.MetadataValue.json(reasons),
            **picture_metadata(
                context, "key_level_crossings", "Accounts that crossed the key level since the review", crossings
            ),
        },
    )


def recorded_neighbours(warehouse: Warehouse, as_of: dt.date) -> tuple[list[dt.date], pl.DataFrame | None, bool]:
    """The as-of dates recorded in marts.account_snapshots, the snapshots just before and just after `as_of` (what
    the changes around this run's snapshot are computed from), and whether the recorded table has the columns this
    version needs (when it has not, its rows are not carried over)."""
    with warehouse.connect() as conn:
        found = {
            row[0]
            for row in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'marts' and table_name = 'account_snapshots'"
            ).fetchall()
        }
        if not found:
            return [], None, True
        if not set(SNAPSHOT_SCHEMA) <= found:
            return [], None, False
        dates = [
            row[0] for row in conn.sql("select distinct as_of_date from marts.account_snapshots order by 1").fetchall()
        ]
        before = max((date for date in dates if date < as_of), default=None)
        after = min((date for date in dates if date > as_of), default=None)
        wanted = [date for date in (before, after) if date is not None]
        if not wanted:
            return dates, None, True
        neighbours = conn.sql(
            "select * from marts.account_snapshots where as_of_date in (select unnest($dates))",
            params={"dates": wanted},
        ).pl()
    return dates, neighbours, True
