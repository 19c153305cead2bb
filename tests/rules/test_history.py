"""The change log between two snapshots: one reason code per kind of change, and the replace-on-re-run rule."""

import datetime as dt
from decimal import Decimal

import polars as pl

from assets.rules.history import SNAPSHOT_SCHEMA, changes_between, merge_snapshot, update_changes

JAN, FEB, MAR = dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31)
PERIOD_1, PERIOD_2 = dt.date(2026, 1, 1), dt.date(2026, 7, 1)


def account(account_id: str, as_of=JAN, **fields) -> dict:
    row = {
        "as_of_date": as_of,
        "account_id": account_id,
        "account_name": account_id.upper(),
        "owner_id": "S1",
        "billing_12m": Decimal("100.00"),
        "is_key_account": False,
        "key_level": Decimal("500.00"),
        "review_period_start_date": PERIOD_1,
        "priority_score": 50.0,
        "tier": "medium",
        "is_tier_overridden": False,
        "designation": "secondary",
        "is_designation_overridden": False,
        "is_seller_pick": False,
        "config_version": "v1",
        "member_records": f"sys:{account_id}",
    }
    row.update(fields)
    return row


def snap(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=SNAPSHOT_SCHEMA)


def reasons(before: pl.DataFrame, after: pl.DataFrame) -> dict[tuple[str, str], str]:
    return {(r["account_id"], r["field"]): r["reason"] for r in changes_between(before, after).iter_rows(named=True)}


def test_each_change_has_its_reason():
    before = snap(
        account("a"),
        account("b", is_key_account=True, designation="key"),
        account("c"),
        account("d"),
        account("e"),
        account("f"),
        account("g", designation="target"),
        account("h"),
    )
    after = snap(
        account("a", FEB, is_key_account=True, designation="key", billing_12m=Decimal("600.00")),  # billing rose
        account("b", FEB, review_period_start_date=PERIOD_2, key_level=Decimal("900.00")),  # a new review level
        account("c", FEB, tier="high", priority_score=70.0),  # score crossed a threshold
        account("d", FEB, tier="high", is_tier_overridden=True),  # an override started
        account("e", FEB, owner_id="S2"),  # owner changed
        account("f", FEB, designation="target", is_seller_pick=True),  # the seller picked it
        account("g", FEB),  # no longer recommended
        account("h", FEB, tier="low", config_version="v2"),  # another scoring config
    )
    found = reasons(before, after)
    assert found[("a", "is_key_account")] == "billing_crossed_level"
    assert found[("a", "designation")] == "billing_crossed_level"
    assert found[("b", "is_key_account")] == "new_review_level" == found[("b", "designation")]
    assert found[("c", "tier")] == "score_crossed_threshold"
    assert found[("d", "tier")] == "override_applied"
    assert found[("e", "owner_id")] == "owner_changed"
    assert found[("f", "designation")] == "seller_pick"
    assert found[("g", "designation")] == "targets_reselected"
    assert found[("h", "tier")] == "config_changed"
    assert len(found) == 10  # nothing else changed
    expired = reasons(snap(account("d", tier="high", is_tier_overridden=True)), snap(account("d", FEB)))
    assert expired == {("d", "tier"): "override_expired"}


def test_merges_splits_new_and_removed_accounts():
    before = snap(
        account("a", member_records="sys:a"),
        account("b", member_records="sys:b"),  # merges into a
        account("c", member_records="sys:c;sys:x"),  # x splits off into its own account
        account("gone", member_records="sys:gone"),
    )
    after = snap(
        account("a", FEB, member_records="sys:a;sys:b", is_key_account=True, designation="key"),
        account("c", FEB, member_records="sys:c"),
        account("x", FEB, member_records="sys:x"),
        account("new", FEB, member_records="sys:new"),
    )
    found = reasons(before, after)
    assert found[("b", "account")] == "account_merged"
    assert found[("a", "is_key_account")] == "account_merged"  # its key flag changed because it gained b's billing
    assert found[("x", "account")] == "account_split"
    assert found[("new", "account")] == "new_account"
    assert found[("gone", "account")] == "account_removed"


def test_a_rerun_replaces_its_snapshot_and_a_backfill_recomputes_both_sides():
    history = merge_snapshot(None, snap(account("a")))
    history = merge_snapshot(history, snap(account("a", MAR, tier="high")))
    changes = update_changes(history, None, MAR)
    assert changes.select("from_as_of_date", "to_as_of_date", "field").rows() == [(JAN, MAR, "tier")]
    # February arrives late: JAN -> FEB and FEB -> MAR replace JAN -> MAR
    history = merge_snapshot(history, snap(account("a", FEB, tier="high")))
    changes = update_changes(history, changes, FEB)
    assert changes.select("from_as_of_date", "to_as_of_date", "field").rows() == [(JAN, FEB, "tier")]
    # February re-run with other data: its snapshot is replaced, not added
    history = merge_snapshot(history, snap(account("a", FEB, tier="medium")))
    assert history.filter(pl.col("as_of_date") == FEB).height == 1
    changes = update_changes(history, changes, FEB)
    assert changes.select("from_as_of_date", "to_as_of_date", "field", "new_value").rows() == [
        (FEB, MAR, "tier", "high")
    ]


def test_the_neighbouring_snapshots_are_enough_when_every_date_is_given():
    """A run reads only the snapshots just before and after its as-of date: with every recorded date given, the
    changes of the other pairs are kept and the log is the one the whole history gives."""
    apr = dt.date(2026, 4, 30)
    whole = pl.concat([snap(account("a")), snap(account("a", FEB, tier="high")), snap(account("a", MAR, tier="low"))])
    log = update_changes(whole.filter(pl.col("as_of_date") <= FEB), None, FEB)
    log = update_changes(whole, log, MAR)
    new = snap(account("a", apr, tier="high", owner_id="S2"))
    from_whole = update_changes(merge_snapshot(whole, new), log, apr)
    nearby = merge_snapshot(whole.filter(pl.col("as_of_date") == MAR), new)
    from_nearby = update_changes(nearby, log, apr, [JAN, FEB, MAR, apr])
    assert from_nearby.equals(from_whole)
    assert from_nearby.select("to_as_of_date", "field").rows() == [
        (FEB, "tier"),
        (MAR, "tier"),
        (apr, "owner_id"),
        (apr, "tier"),
    ]
    # without the dates, the pairs it cannot see are dropped as no longer consecutive
    assert update_changes(nearby, log, apr).height == 2
