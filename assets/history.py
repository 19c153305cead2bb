"""marts: account history (a snapshot per as-of date) and the change log between snapshots, with reasons.

Both tables carry their past: this asset reads what earlier runs recorded from the warehouse, replaces the snapshot of
this run's as-of date and recomputes the changes around it (`assets/rules/history.py`).
"""

import dagster as dg
import polars as pl

from assets.common import picture_metadata, recorded_table, table_out, validate
from assets.resources import AlmsSettings, Warehouse
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
from schemas.marts import AccountChanges, AccountHistory


@dg.multi_asset(
    outs={
        "history": table_out(
            "marts",
            "account_history",
            "One snapshot per as-of date of every account: key flag, tier, designation, owner, score and "
            "its client records. Re-running an as-of date replaces its snapshot.",
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
def account_history(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    settings: AlmsSettings,
    accounts: pl.DataFrame,
    scores: pl.DataFrame,
    lists: pl.DataFrame,
    crosswalk: pl.DataFrame,
):
    with progress("marts.account_history", context.log.info) as step:
        step.update(f"taking the snapshot of {accounts.height:,} accounts")
        current = snapshot(accounts, scores, lists, crosswalk)
        as_of = current["as_of_date"][0]
        recorded = recorded_table(context, warehouse, "account_history", SNAPSHOT_SCHEMA)
        step.update(f"merging the snapshot of {as_of} into the history")
        history = with_snapshot_currency(
            merge_snapshot(recorded, current), recorded, as_of, settings.reporting_currency
        )
        step.update("comparing it with the previous snapshot")
        changes = update_changes(history, recorded_table(context, warehouse, "account_changes", CHANGE_SCHEMA), as_of)
    latest = changes.filter(pl.col("to_as_of_date") == as_of)
    reasons = dict(latest.group_by("reason").len().sort("reason").iter_rows())
    snapshots = history["as_of_date"].n_unique()
    context.log.info(
        f"snapshot {as_of}: {current.height:,} accounts; {latest.height:,} changes since the previous "
        f"snapshot ({snapshots} snapshots kept)"
    )
    yield dg.Output(
        validate(AccountHistory, history.select(list(AccountHistory.to_schema().columns))),
        output_name="history",
        metadata={"snapshots": snapshots, "as_of_date": str(as_of), "accounts_in_snapshot": current.height},
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


def with_snapshot_currency(history: pl.DataFrame, recorded: pl.DataFrame | None, as_of, currency: str) -> pl.DataFrame:
    """`reporting_currency` of each snapshot: this run's for its own as-of date, the recorded one for the others (null
    for snapshots recorded before the column existed: the history is carried over, not dropped, on upgrade)."""
    schema = {"as_of_date": pl.Date, "reporting_currency": pl.String}
    known = pl.DataFrame(schema=schema)
    if recorded is not None and "reporting_currency" in recorded.columns:
        known = recorded.filter(pl.col("as_of_date") != as_of).select(list(schema)).unique("as_of_date")
    known = pl.concat(
        [known.cast(schema), pl.DataFrame({"as_of_date": [as_of], "reporting_currency": [currency]}, schema=schema)]
    )
    return history.join(known, on="as_of_date", how="left", maintain_order="left")
