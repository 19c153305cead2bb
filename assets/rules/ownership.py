"""Who owns an account: stable from one snapshot to the next.

Survivorship (`sql/intermediate/int_accounts_aggregated.sql`) proposes an owner: the owner of the account's member
record that billed most in the window. Billing moves every month, so on its own that owner would flip between
snapshots although no record changed. The rule a seller can rely on:

**An account keeps the owner it had in the nearest recorded snapshot as long as one of its member records still
carries that owner.** Its owner changes only when the owner field of its records changes (no record names that
seller any more) or the records that named the owner leave the account (a split, a record removed); then, and for a
new account, survivorship's proposal applies.

The nearest snapshot is the latest one before this run's as-of date, or, for a date earlier than every snapshot (a
backfill), the earliest one after it; a snapshot of the same date (a re-run) is not its own reference, so a re-run
gives the same owners. Accounts are matched by `account_id`; an account whose id changed (it gained a record with a
smaller key) is new to this rule, and the change log reports it as merged anyway.
"""

from __future__ import annotations

import polars as pl


def keep_owners(accounts: pl.DataFrame, reference: pl.DataFrame | None) -> tuple[pl.DataFrame, dict]:
    """`accounts` (account_id, owner_id proposed by survivorship, owner_ids: every owner its member records name, ...)
    with each account's reference owner kept when one of its records still names it. `reference`: account_id,
    owner_id of the nearest recorded snapshot (None: there is none).

    Returns the accounts (same columns, same order) and counts for the run's metadata."""
    if reference is None or reference.height == 0:
        return accounts, {"owners_kept_from_snapshot": 0, "owners_changed_since_snapshot": 0}
    carried = accounts.select("account_id", pl.col("owner_ids").alias("owner_id")).explode("owner_id").drop_nulls()
    kept = (
        reference.select("account_id", pl.col("owner_id").alias("kept_owner_id"))
        .drop_nulls()
        .join(carried, left_on=["account_id", "kept_owner_id"], right_on=["account_id", "owner_id"], how="semi")
    )
    result = accounts.join(kept, on="account_id", how="left")
    overruled = result.filter(
        pl.col("kept_owner_id").is_not_null() & (pl.col("kept_owner_id") != pl.col("owner_id")).fill_null(True)
    ).height
    result = result.with_columns(pl.coalesce("kept_owner_id", "owner_id").alias("owner_id")).select(accounts.columns)
    before = reference.select("account_id", pl.col("owner_id").alias("reference_owner_id"))
    changed = result.join(before, on="account_id", how="inner").filter(
        pl.col("owner_id").ne_missing(pl.col("reference_owner_id"))
    )
    return result, {"owners_kept_from_snapshot": overruled, "owners_changed_since_snapshot": changed.height}
