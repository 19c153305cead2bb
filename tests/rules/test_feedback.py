"""Sellers' feedback: checked like the picks, joined to the snapshot in force on its date, summarised."""

import datetime as dt

import polars as pl
import pytest

from assets.rules.feedback import FeedbackError, check_feedback, join_snapshots, parse_seller_feedback, summarise

SELLERS = pl.DataFrame({"owner_id": ["S1", "S2"], "seller_name": ["Sam", "Alex"]})
RECORDS = pl.DataFrame(
    {
        "source_system": ["nat", "nat", "loc"],
        "source_client_id": ["N1", "N2", "L2"],
        "account_id": ["nat:N1", "nat:N2", "nat:N2"],
    }
)
PROSPECTS = pl.DataFrame({"prospect_id": ["P1", "P2"], "owner_id": ["S1", "S2"]})
SEPTEMBER, AUGUST = dt.date(2026, 9, 30), dt.date(2026, 8, 31)
# nat:N2 was Alex's (S2) in September; it is Sam's (S1) now
OWNERS_THEN = pl.DataFrame(
    {"as_of_date": [SEPTEMBER, SEPTEMBER], "record": ["nat:N1", "nat:N2"], "owner_id": ["S1", "S2"]}
)
OWNERS_NOW = pl.DataFrame({"account_id": ["nat:N1", "nat:N2"], "owner_id": ["S1", "S1"]})
COLUMNS = ["owner_id", "reference", "verdict", "reason", "date"]


def given(*rows: tuple) -> pl.DataFrame:
    text = pl.DataFrame([dict(zip(COLUMNS, row, strict=True)) for row in rows], schema={c: pl.String for c in COLUMNS})
    text = text.with_columns(
        pl.lit("seller_feedback.csv").alias("source_file"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("source_row"),
    )
    return parse_seller_feedback(text)


def check(frame: pl.DataFrame) -> pl.DataFrame:
    return check_feedback(frame, SELLERS, RECORDS, PROSPECTS, OWNERS_THEN, OWNERS_NOW)


def test_valid_feedback_names_its_account_or_prospect():
    checked = check(
        given(
            ("S1", "nat:N1", "agree", "", "2026-10-05"),
            ("S2", "nat:N2", "DISAGREE", "Their budget moved to 2027", "2026-10-05"),  # Alex owned it then
            ("S1", "loc:L2", "already_working", None, "2026-10-06"),  # a second record of nat:N2, Sam's now
            ("S1", "P1", "not_reachable", None, "2026-10-07"),
        )
    )
    assert checked.select("reference_type", "account_id", "prospect_id", "verdict").rows() == [
        ("account", "nat:N1", None, "agree"),
        ("account", "nat:N2", None, "disagree"),
        ("account", "nat:N2", None, "already_working"),
        ("prospect", None, "P1", "not_reachable"),
    ]
    assert checked["feedback_date"].to_list()[0] == dt.date(2026, 10, 5)


def test_the_owner_then_is_the_one_of_the_latest_snapshot_on_or_before_the_date():
    """S2 owned nat:N2 in the September snapshot only (S3 in August, S1 today): S2's feedback counts from that
    snapshot's date on, S3's until it, neither before August."""
    then = pl.DataFrame({"as_of_date": [AUGUST, SEPTEMBER], "record": ["nat:N2", "nat:N2"], "owner_id": ["S3", "S2"]})
    sellers = pl.DataFrame({"owner_id": ["S1", "S2", "S3"], "seller_name": ["Sam", "Alex", "Kim"]})

    def accepted(seller: str, day: str) -> bool:
        try:
            check_feedback(given((seller, "nat:N2", "agree", "", day)), sellers, RECORDS, PROSPECTS, then, OWNERS_NOW)
        except FeedbackError:
            return False
        return True

    assert [accepted("S2", day) for day in ("2026-09-29", "2026-09-30", "2026-10-05")] == [False, True, True]
    days = ("2026-08-30", "2026-08-31", "2026-09-29", "2026-09-30")
    assert [accepted("S3", day) for day in days] == [False, True, True, False]
    assert accepted("S1", "2026-01-01")  # today's owner, whatever the date


def test_every_bad_row_is_listed_with_file_row_and_seller():
    rows = given(
        ("S1", "nat:N1", None, None, "2026-10-05"),
        ("S9", "nat:N1", "agree", None, "2026-10-05"),
        ("S1", "nat:N1", "maybe", None, "2026-10-05"),
        ("S1", "nat:N1", "agree", None, "05/10/2026"),
        ("S1", "nat:N1", "disagree", None, "2026-10-05"),
        ("S1", "nat:N7", "agree", None, "2026-10-05"),
        ("S1", "P2", "agree", None, "2026-10-05"),
        ("S2", "nat:N1", "agree", None, "2026-10-05"),
        ("S1", "nat:N1", "agree", None, "2026-10-09"),
        ("S1", "nat:N1", "agree", "again", "2026-10-09"),
    )
    with pytest.raises(FeedbackError) as error:
        check(rows)
    message = str(error.value)
    assert message.startswith("seller_feedback.csv: sellers' feedback rejected (9 problems):")
    for expected in (
        "seller_feedback.csv row 1 (seller S1): verdict is required",
        "seller_feedback.csv row 2 (seller S9): unknown seller 'S9' (not in sellers)",
        "seller_feedback.csv row 3 (seller S1): verdict 'maybe' is not one of agree, disagree, already_working, "
        "not_reachable",
        "seller_feedback.csv row 4 (seller S1): date '05/10/2026' is not a date (YYYY-MM-DD)",
        "seller_feedback.csv row 5 (seller S1): a disagree needs a reason",
        "seller_feedback.csv row 6 (seller S1): 'nat:N7' is neither a client record",
        "seller_feedback.csv row 7 (seller S1): prospect P2 belongs to S2, not S1",
        "seller_feedback.csv row 8 (seller S2): account nat:N1 of 'nat:N1' belongs to S1, not S2",
        "seller_feedback.csv row 10 (seller S1): feedback on nat:N1 of 2026-10-09 is given twice",
    ):
        assert expected in message, (expected, message)


def test_a_control_character_in_a_key_column_stops_the_run():
    with pytest.raises(Exception, match="control character"):
        given(("S1", "nat:N1\t", "agree", None, "2026-10-05"))
    cleaned = given(("S1", "nat:N1", "agree", "two\nlines", "2026-10-05"))
    assert cleaned["reason"].item() == "two lines"


def test_each_row_joins_the_snapshot_in_force_on_its_date():
    checked = check(
        given(
            ("S1", "nat:N1", "agree", None, "2026-09-15"),  # August's snapshot is in force
            ("S2", "nat:N2", "disagree", "Budget frozen", "2026-09-30"),  # the September one, recorded that day
            ("S1", "nat:N1", "agree", None, "2026-08-01"),  # before every snapshot
            ("S1", "P1", "agree", None, "2026-10-02"),
        )
    )
    snapshots = pl.DataFrame(
        {
            "as_of_date": [AUGUST, AUGUST, SEPTEMBER, SEPTEMBER],
            "snapshot_source": ["reconstructed", "reconstructed", "recorded", "recorded"],
            "account_id": ["nat:N1", "nat:N2", "nat:N1", "nat:N2-old"],
            "priority_score": [40.0, 70.0, 45.0, 75.0],
            "tier": ["medium", "high", "medium", "high"],
            "designation": ["target", "key", "secondary", "key"],
        }
    )
    members = pl.DataFrame(
        {
            "as_of_date": [AUGUST, AUGUST, SEPTEMBER, SEPTEMBER],
            "record": ["nat:N1", "nat:N2", "nat:N1", "nat:N2"],
            "account_id": ["nat:N1", "nat:N2", "nat:N1", "nat:N2-old"],  # the account's id then
        }
    )
    criteria = pl.DataFrame(
        {
            "as_of_date": [AUGUST, SEPTEMBER],
            "account_id": ["nat:N1", "nat:N2"],
            **{f"{c}_score": [10.0, 10.0] for c in ("current_spend", "growth", "whitespace", "engagement")},
            "likelihood_score": [90.0, 0.0],
        }
    )
    leads = pl.DataFrame(
        {"as_of_date": [SEPTEMBER], "prospect_id": ["P1"], "lead_score": [66.0], "is_recommended": [True]}
    )
    weights = {"current_spend": 0.4, "growth": 0.1, "whitespace": 0.2, "likelihood": 0.2, "engagement": 0.1}
    joined = join_snapshots(checked, snapshots, members, criteria, leads, SELLERS, weights)
    rows = joined.select(
        "snapshot_as_of_date",
        "snapshot_source",
        "priority_score",
        "tier",
        "designation",
        "top_criterion",
        "seller_name",
    ).rows()
    assert rows == [
        (AUGUST, "reconstructed", 40.0, "medium", "target", "likelihood", "Sam"),  # 0.2 x 90 beats 0.4 x 10
        (SEPTEMBER, "recorded", 75.0, "high", "key", "current_spend", "Alex"),  # via the record's account then
        (None, None, None, None, None, None, "Sam"),
        (SEPTEMBER, "recorded", 66.0, None, "lead", None, "Sam"),
    ]
    summary = summarise(joined)
    overall = summary.filter(pl.col("dimension") == "all")
    assert dict(overall.select("verdict", "feedback_rows").iter_rows()) == {"agree": 3, "disagree": 1, "all": 4}
    assert overall.filter(pl.col("verdict") == "agree")["share_of_group"].item() == pytest.approx(0.75)
    by_criterion = summary.filter((pl.col("dimension") == "criterion") & (pl.col("verdict") == "all"))
    assert dict(by_criterion.select("group_value", "feedback_rows").iter_rows()) == {
        "current_spend": 1,
        "likelihood": 1,
    }
