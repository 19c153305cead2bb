"""The level of a review period: frozen, reviewed, re-run with a reason, and re-run by itself when the review's own
as-of date comes back with other data."""

import datetime as dt
from decimal import Decimal

import polars as pl

from assets.rules.key_accounts import designate_key_accounts
from assets.rules.reviews import decide_level, review_period

PERIOD = review_period(dt.date(2026, 10, 31), 12, 1)
AS_OF, WINDOW_START = dt.date(2026, 10, 31), dt.date(2025, 11, 1)
NOW = dt.datetime(2026, 11, 2, 6, tzinfo=dt.UTC)


def cut_of(billings: list[str], share: float = 0.25):
    frame = pl.DataFrame({"account_id": [f"a{i}" for i in range(len(billings))], "billing_12m": billings})
    return designate_key_accounts(frame.with_columns(pl.col("billing_12m").cast(pl.Decimal(38, 2))), share)[1]


def decide(previous, audit, cut, as_of=AS_OF, reason=None, run="r"):
    return decide_level(previous, audit, PERIOD, cut, as_of, WINDOW_START, "USD", reason, run, now=NOW)


BILLINGS = ["900", "800", "700", "600", "500", "400", "300", "200"]  # n = 8, k = 2, level 800


def test_same_data_on_the_review_date_is_frozen_and_not_audited():
    first = decide(None, None, cut_of(BILLINGS))
    assert first.kind == "bootstrap" and first.applied_level == Decimal("800")
    again = decide(first.levels, first.audit, cut_of(BILLINGS), run="r2")
    assert again.kind == "frozen" and again.reason is None and again.audit.height == 0
    assert again.levels.equals(first.levels)  # nothing recomputed: same run id, same computed_at


def test_changed_data_on_the_review_date_reruns_the_review_with_an_automatic_reason():
    first = decide(None, None, cut_of(BILLINGS))
    corrected = ["900", "800", "950", *BILLINGS[3:]]  # a missing FX month added: the third account bills 950
    rerun = decide(first.levels, first.audit, cut_of(corrected), run="r2")
    assert rerun.kind == "rerun" and rerun.applied_level == Decimal("900")
    (row,) = rerun.audit.iter_rows(named=True)
    assert row["old_key_level"] == Decimal("800") and row["new_key_level"] == Decimal("900") and row["has_changed"]
    assert row["reason"] == (
        "automatic: the review's as-of date 2026-10-31 was run again on changed data: total billing 4,400.00 -> "
        "4,650.00; key billing 1,700.00 -> 1,850.00; key level 800.00 -> 900.00"
    )
    level = rerun.levels.row(0, named=True)
    assert level["review_kind"] == "rerun" and level["run_id"] == "r2" and level["key_level"] == Decimal("900")
    same = decide(rerun.levels, rerun.audit, cut_of(corrected), run="r3")  # and again with that data: frozen
    assert same.kind == "frozen" and same.audit.height == 1


def test_changed_data_that_keeps_the_level_is_still_recorded():
    first = decide(None, None, cut_of(BILLINGS))
    relabelled = ["900", "800", "700", "600", "500", "400", "500"]  # two records merged: n 8 -> 7, k stays 2
    rerun = decide(first.levels, first.audit, cut_of(relabelled))
    (row,) = rerun.audit.iter_rows(named=True)
    assert not row["has_changed"] and "ranked accounts 8 -> 7" in row["reason"]
    assert rerun.levels["ranked_accounts"].to_list() == [7]


def test_a_later_date_in_the_period_stays_frozen_whatever_the_data():
    first = decide(None, None, cut_of(BILLINGS))
    later = decide(first.levels, first.audit, cut_of(["5000", *BILLINGS]), as_of=dt.date(2026, 11, 30))
    assert later.kind == "frozen" and later.applied_level == Decimal("800") and later.audit.height == 0


def test_an_operator_reason_wins_over_the_automatic_one():
    first = decide(None, None, cut_of(BILLINGS))
    rerun = decide(first.levels, first.audit, cut_of(["1000", *BILLINGS]), reason="late credit note")
    assert rerun.audit["reason"].to_list() == ["late credit note"] and rerun.reason == "late credit note"
