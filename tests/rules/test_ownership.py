"""An account's owner changes only when the owner field of its records changes or the owning record leaves."""

import polars as pl

from assets.rules.ownership import keep_owners


def accounts(rows) -> pl.DataFrame:
    """(account_id, survivorship's owner, every owner its records name, another column)"""
    return pl.DataFrame(
        rows,
        schema={"account_id": pl.String, "owner_id": pl.String, "owner_ids": pl.List(pl.String), "other": pl.String},
        orient="row",
    )


def reference(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"account_id": pl.String, "owner_id": pl.String}, orient="row")


# survivorship proposes the owner of the biggest biller: this month A's biggest record is S2's
ACCOUNTS = accounts(
    [("A", "S2", ["S1", "S2"], "x"), ("B", "S3", ["S3"], "y"), ("C", None, [], "z"), ("N", "S9", ["S9"], "n")]
)


def test_the_previous_owner_is_kept_while_a_record_carries_it():
    kept, counts = keep_owners(ACCOUNTS, reference([("A", "S1"), ("B", "S3"), ("C", None)]))
    assert kept.columns == ACCOUNTS.columns and kept["other"].to_list() == ["x", "y", "z", "n"]
    assert dict(zip(kept["account_id"], kept["owner_id"], strict=True)) == {"A": "S1", "B": "S3", "C": None, "N": "S9"}
    assert counts == {"owners_kept_from_snapshot": 1, "owners_changed_since_snapshot": 0}


def test_the_owner_changes_when_no_record_names_it_any_more():
    now = accounts([("A", "S2", ["S2", "S4"], "x")])  # the S1 record's owner field changed to S4
    kept, counts = keep_owners(now, reference([("A", "S1")]))
    assert kept["owner_id"].to_list() == ["S2"]  # survivorship decides again
    assert counts["owners_changed_since_snapshot"] == 1


def test_the_owner_changes_when_the_owning_record_leaves():
    kept, _ = keep_owners(accounts([("A", "S2", ["S2"], "x")]), reference([("A", "S1")]))
    assert kept["owner_id"].to_list() == ["S2"]


def test_an_account_without_an_owner_gets_one_when_a_record_names_one():
    kept, counts = keep_owners(accounts([("C", "S5", ["S5"], "z")]), reference([("C", None)]))
    assert kept["owner_id"].to_list() == ["S5"] and counts["owners_changed_since_snapshot"] == 1


def test_without_a_snapshot_survivorship_decides():
    kept, counts = keep_owners(ACCOUNTS, None)
    assert kept.equals(ACCOUNTS) and counts["owners_kept_from_snapshot"] == 0
