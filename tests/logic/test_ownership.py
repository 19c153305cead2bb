"""An account's owner changes only when the owner field of its records changes or the owning records leave."""

import polars as pl

from assets.logic.ownership import keep_owners


def frame(rows, columns=("account_id", "owner_id")):
    return pl.DataFrame(rows, schema={c: pl.String for c in columns}, orient="row")


# survivorship proposes the owner of the biggest biller: this month A's biggest record is S2's
ACCOUNTS = frame([("A", "S2", "x"), ("B", "S3", "y"), ("C", None, "z"), ("N", "S9", "n")],
                 ("account_id", "owner_id", "other"))  # fmt: skip
RECORDS = frame([("A", "S1"), ("A", "S2"), ("B", "S3"), ("C", None), ("N", "S9")])


def test_the_previous_owner_is_kept_while_a_record_carries_it():
    reference = frame([("A", "S1"), ("B", "S3"), ("C", None)])
    kept, counts = keep_owners(ACCOUNTS, RECORDS, reference)
    assert kept.columns == ACCOUNTS.columns and kept["other"].to_list() == ["x", "y", "z", "n"]
    assert dict(zip(kept["account_id"], kept["owner_id"], strict=True)) == {"A": "S1", "B": "S3", "C": None, "N": "S9"}
    assert counts == {"owners_kept_from_snapshot": 1, "owners_changed_since_snapshot": 0}


def test_the_owner_changes_when_no_record_names_it_any_more():
    reference = frame([("A", "S1")])
    records = frame([("A", "S4"), ("A", "S2")])  # the S1 record's owner field changed to S4
    kept, counts = keep_owners(ACCOUNTS.head(1), records, reference)
    assert kept["owner_id"].to_list() == ["S2"]  # survivorship decides again
    assert counts["owners_changed_since_snapshot"] == 1


def test_the_owner_changes_when_the_owning_record_leaves():
    reference = frame([("A", "S1")])
    kept, _ = keep_owners(ACCOUNTS.head(1), frame([("A", "S2")]), reference)
    assert kept["owner_id"].to_list() == ["S2"]


def test_an_account_without_an_owner_gets_one_when_a_record_names_one():
    reference = frame([("C", None)])
    accounts = frame([("C", "S5")])
    kept, counts = keep_owners(accounts, frame([("C", "S5")]), reference)
    assert kept["owner_id"].to_list() == ["S5"] and counts["owners_changed_since_snapshot"] == 1


def test_without_a_snapshot_survivorship_decides():
    kept, counts = keep_owners(ACCOUNTS, RECORDS, None)
    assert kept.equals(ACCOUNTS) and counts["owners_kept_from_snapshot"] == 0
