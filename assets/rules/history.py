"""Account history: one snapshot per as-of date, and the changes between consecutive snapshots with their reasons.

A snapshot holds, per account, what a seller acts on: key flag, tier, designation, owner, score, and the client
records the account is made of. Re-running an as-of date replaces its snapshot. Changes are computed between each
snapshot and the one before it (by as-of date), so a backfill of an older date recomputes the changes on both sides.

Reason codes, first match wins per field:
- any field of an account whose client records changed: `account_merged` (it gained records of another account) or
  `account_split` (records it had now belong to another account);
- key flag: `new_review_level` (the two snapshots are in different review periods with different levels), else
  `billing_crossed_level`;
- tier: `override_applied` / `override_expired` (a tier override started or stopped), `config_changed` (another
  scoring config), else `score_crossed_threshold`;
- designation: `override_applied` / `override_expired`, the key flag's reason when the key flag changed,
  `seller_pick` (the seller's picks changed), else `targets_reselected`;
- owner: `owner_changed`;
- an account that appears: `account_split` when its records belonged to another account, else `new_account`; one
  that disappears: `account_merged` when its records now belong to another account, else `account_removed`.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from schemas import polars_schema
from schemas.marts import AccountChanges, AccountSnapshots

# The columns and types of marts.account_snapshots and marts.account_changes, as their pandera models define them.
# a snapshot's own columns; its reporting_currency is added per snapshot by the asset (older snapshots keep theirs)
SNAPSHOT_SCHEMA = {
    column: dtype for column, dtype in polars_schema(AccountSnapshots).items() if column != "reporting_currency"
}
CHANGE_SCHEMA = polars_schema(AccountChanges)
TRACKED = ("is_key_account", "tier", "designation", "owner_id")
# The columns a snapshot reads of each of its inputs (the asset loads only these).
SNAPSHOT_INPUTS = {
    "accounts": (
        "as_of_date",
        "account_id",
        "account_name",
        "owner_id",
        "billing_12m",
        "is_key_account",
        "key_level",
        "review_period_start_date",
    ),
    "scores": ("account_id", "priority_score", "tier", "tier_override_by", "config_version"),
    "lists": ("row_type", "account_id", "designation", "designation_override_by", "is_seller_pick"),
    "crosswalk": ("account_id", "source_system", "source_client_id"),
}


def snapshot(
    accounts: pl.DataFrame, scores: pl.DataFrame, lists: pl.DataFrame, crosswalk: pl.DataFrame
) -> pl.DataFrame:
    """This run's snapshot: one row per account."""
    members = crosswalk.group_by("account_id").agg(
        (pl.col("source_system") + ":" + pl.col("source_client_id")).sort().str.join(";").alias("member_records")
    )
    designations = lists.filter(pl.col("row_type") == "account").select(
        "account_id",
        "designation",
        pl.col("designation_override_by").is_not_null().alias("is_designation_overridden"),
        "is_seller_pick",
    )
    frame = (
        accounts.select(*SNAPSHOT_INPUTS["accounts"])
        .join(
            scores.select(
                "account_id",
                "priority_score",
                "tier",
                pl.col("tier_override_by").is_not_null().alias("is_tier_overridden"),
                "config_version",
            ),
            on="account_id",
            how="left",
        )
        .join(designations, on="account_id", how="left")
        .join(members, on="account_id", how="left")
    )
    return frame.select(list(SNAPSHOT_SCHEMA)).cast(SNAPSHOT_SCHEMA)


def merge_snapshot(history: pl.DataFrame | None, current: pl.DataFrame) -> pl.DataFrame:
    """History with the current snapshot in place of any earlier snapshot of the same as-of date."""
    if history is None or history.height == 0:
        return current
    as_of = current["as_of_date"][0]
    kept = history.select(list(SNAPSHOT_SCHEMA)).cast(SNAPSHOT_SCHEMA).filter(pl.col("as_of_date") != as_of)
    return pl.concat([kept, current]).sort("as_of_date", "account_id")


def _membership(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("account_id", pl.col("member_records").str.split(";").alias("record")).explode("record")


def changes_between(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """Every change of a tracked field between two snapshots, with its reason."""
    from_date, to_date = before["as_of_date"][0], after["as_of_date"][0]
    old_members, new_members = _membership(before), _membership(after)
    moved = old_members.join(new_members, on="record", suffix="_new").filter(
        pl.col("account_id") != pl.col("account_id_new")
    )
    gained = set(moved["account_id_new"].to_list())  # accounts that took records from another account
    lost = set(moved["account_id"].to_list())  # accounts whose records went elsewhere
    joined = before.join(after, on="account_id", how="full", suffix="_new", coalesce=True)
    rows = []
    in_both = joined.filter(pl.col("as_of_date").is_not_null() & pl.col("as_of_date_new").is_not_null())
    membership = (
        pl.when(pl.col("account_id").is_in(list(gained)) & (pl.col("member_records") != pl.col("member_records_new")))
        .then(pl.lit("account_merged"))
        .when(pl.col("account_id").is_in(list(lost)) & (pl.col("member_records") != pl.col("member_records_new")))
        .then(pl.lit("account_split"))
    )
    key_reason = (
        pl.when(
            (pl.col("review_period_start_date") != pl.col("review_period_start_date_new"))
            & (pl.col("key_level") != pl.col("key_level_new"))
        )
        .then(pl.lit("new_review_level"))
        .otherwise(pl.lit("billing_crossed_level"))
    )
    override = {
        "tier": ("is_tier_overridden", "is_tier_overridden_new"),
        "designation": ("is_designation_overridden", "is_designation_overridden_new"),
    }
    for field in TRACKED:
        old, new = pl.col(field), pl.col(f"{field}_new")
        changed = in_both.filter((old != new) | (old.is_null() != new.is_null()))
        if changed.height == 0:
            continue
        if field == "is_key_account":
            reason = key_reason
        elif field == "owner_id":
            reason = pl.lit("owner_changed")
        else:
            was, now = (pl.col(c).fill_null(False) for c in override[field])
            reason = (
                pl.when(~was & now).then(pl.lit("override_applied")).when(was & ~now).then(pl.lit("override_expired"))
            )
            if field == "tier":
                reason = (
                    reason.when(pl.col("config_version") != pl.col("config_version_new"))
                    .then(pl.lit("config_changed"))
                    .otherwise(pl.lit("score_crossed_threshold"))
                )
            else:
                key_changed = pl.col("is_key_account") != pl.col("is_key_account_new")
                seller_pick = pl.col("is_seller_pick").fill_null(False) != pl.col("is_seller_pick_new").fill_null(False)
                reason = (
                    reason.when(key_changed)
                    .then(key_reason)
                    .when(seller_pick)
                    .then(pl.lit("seller_pick"))
                    .otherwise(pl.lit("targets_reselected"))
                )
        rows.append(
            changed.select(
                "account_id",
                pl.col("owner_id_new").fill_null(pl.col("owner_id")).alias("owner_id"),
                pl.lit(field).alias("field"),
                old.cast(pl.String).alias("old_value"),
                new.cast(pl.String).alias("new_value"),
                pl.coalesce(membership, reason).alias("reason"),
            )
        )
    appeared = joined.filter(pl.col("as_of_date").is_null())
    rows.append(
        appeared.select(
            "account_id",
            pl.col("owner_id_new").alias("owner_id"),
            pl.lit("account").alias("field"),
            pl.lit(None, pl.String).alias("old_value"),
            pl.col("account_id").alias("new_value"),
            pl.when(pl.col("account_id").is_in(list(gained)))
            .then(pl.lit("account_split"))
            .otherwise(pl.lit("new_account"))
            .alias("reason"),
        )
    )
    gone = joined.filter(pl.col("as_of_date_new").is_null())
    rows.append(
        gone.select(
            "account_id",
            "owner_id",
            pl.lit("account").alias("field"),
            pl.col("account_id").alias("old_value"),
            pl.lit(None, pl.String).alias("new_value"),
            pl.when(pl.col("account_id").is_in(list(lost)))
            .then(pl.lit("account_merged"))
            .otherwise(pl.lit("account_removed"))
            .alias("reason"),
        )
    )
    changes = pl.concat([r.cast({c: CHANGE_SCHEMA[c] for c in r.columns}) for r in rows], how="vertical")
    return changes.select(
        pl.lit(from_date, pl.Date).alias("from_as_of_date"),
        pl.lit(to_date, pl.Date).alias("to_as_of_date"),
        *[c for c in CHANGE_SCHEMA if c not in ("from_as_of_date", "to_as_of_date")],
    ).sort("account_id", "field")


def update_changes(
    history: pl.DataFrame, changes: pl.DataFrame | None, as_of: dt.date, dates: list[dt.date] | None = None
) -> pl.DataFrame:
    """The change log with the pairs around `as_of` (the snapshot before it, and the one after it) recomputed.

    `history` needs only the snapshots of `as_of` and of the dates just before and after it when `dates` lists every
    recorded as-of date (by default, the dates of `history`)."""
    dates = sorted(set(dates or []) | set(history["as_of_date"].to_list()))
    position = dates.index(as_of)
    pairs = []
    if position > 0:
        pairs.append((dates[position - 1], as_of))
    if position + 1 < len(dates):
        pairs.append((as_of, dates[position + 1]))
    log = (
        changes.select(list(CHANGE_SCHEMA)).cast(CHANGE_SCHEMA)
        if changes is not None
        else pl.DataFrame(schema=CHANGE_SCHEMA)
    )
    for before, after in pairs:
        log = log.filter(pl.col("to_as_of_date") != after)
        fresh = changes_between(
            history.filter(pl.col("as_of_date") == before), history.filter(pl.col("as_of_date") == after)
        )
        log = pl.concat([log, fresh])
    # a pair whose later snapshot now follows another date (a backfill in between) is stale: keep consecutive pairs
    consecutive = pl.DataFrame(
        {"from_as_of_date": dates[:-1], "to_as_of_date": dates[1:]},
        schema={"from_as_of_date": pl.Date, "to_as_of_date": pl.Date},
    )
    return log.join(consecutive, on=["from_as_of_date", "to_as_of_date"], how="semi").sort(
        "to_as_of_date", "account_id", "field"
    )
