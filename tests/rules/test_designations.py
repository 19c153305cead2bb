"""Targets, leads, sellers' picks and overrides, on small hand-built frames."""

from datetime import date

import polars as pl
import pytest

from assets.rules.designations import (
    OverrideFileError,
    PickError,
    apply_overrides,
    build_seller_lists,
    check_overrides,
    check_picks,
    match_prospects,
    recommend_leads,
    recommend_targets,
    resolve_overrides,
    score_prospects,
)
from assets.rules.inputs import InputError
from assets.rules.scoring_config import load_scoring_config

CONFIG = load_scoring_config()
AS_OF = date(2026, 10, 31)
PICKS_FILE = "seller_picks.csv"
OVERRIDES_FILE = "overrides.csv"


def with_limits(targets: int | None = None, leads: int | None = None):
    update = {}
    if targets is not None:
        update["targets"] = CONFIG.targets.model_copy(update={"per_seller": targets})
    if leads is not None:
        update["leads"] = CONFIG.leads.model_copy(update={"per_seller": leads})
    return CONFIG.model_copy(update=update)


# --- recommended targets --------------------------------------------------------------------------------------------


def target_scores() -> pl.DataFrame:
    """rank score = mean of whitespace and likelihood scores (nulls skipped)."""
    rows = [
        # account, owner, key, status, priority, whitespace, likelihood
        ("K1", "S1", True, "active", 99.0, 100.0, 100.0),  # key: never a target
        ("I1", "S1", False, "inactive", 99.0, 100.0, 100.0),  # inactive: never
        ("X1", "S1", False, "active", 10.0, 90.0, 90.0),  # 90
        ("X2", "S1", False, "active", 10.0, 80.0, None),  # 80 (likelihood missing)
        ("P1", "S1", False, "pipeline", 10.0, 70.0, 70.0),  # 70, pipeline counts
        ("X3", "S1", False, "active", 50.0, 60.0, 60.0),  # 60, lower priority than X4
        ("X4", "S1", False, "active", 70.0, 60.0, 60.0),  # 60
        ("X5", "S1", False, "active", 90.0, 10.0, 10.0),  # 10
        ("X6", "S1", False, "active", 95.0, None, None),  # no rank score: last
        ("Y1", "S2", False, "active", 10.0, 5.0, 5.0),
        ("U1", None, False, "active", 99.0, 100.0, 100.0),  # no owner: never
    ]
    schema = {
        "account_id": pl.String,
        "owner_id": pl.String,
        "is_key_account": pl.Boolean,
        "status": pl.String,
        "priority_score": pl.Float64,
        "whitespace_score": pl.Float64,
        "likelihood_score": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def targets_of(frame: pl.DataFrame) -> dict[str, list[str]]:
    ordered = frame.sort("owner_id", "target_rank")
    return {o: ordered.filter(pl.col("owner_id") == o)["account_id"].to_list() for o in ordered["owner_id"].unique()}


def test_default_four_targets_per_seller_by_rank_score_then_priority():
    out = recommend_targets(target_scores(), CONFIG)
    assert targets_of(out) == {"S1": ["X1", "X2", "P1", "X4"], "S2": ["Y1"]}
    assert out.filter(pl.col("owner_id") == "S1").sort("target_rank")["target_rank"].to_list() == [1, 2, 3, 4]
    assert dict(zip(out["account_id"], out["target_rank_score"], strict=True))["X2"] == 80.0


@pytest.mark.parametrize("per_seller", [0, 1, 2, 9])
def test_never_more_than_configured(per_seller):
    out = recommend_targets(target_scores(), with_limits(targets=per_seller))
    eligible_s1 = ["X1", "X2", "P1", "X4", "X3", "X5", "X6"]  # seven eligible: 9 gives all of them
    assert targets_of(out).get("S1", []) == eligible_s1[:per_seller]
    assert all(count <= per_seller for count in out.group_by("owner_id").len()["len"])


def test_key_inactive_and_unowned_accounts_are_never_targets():
    out = recommend_targets(target_scores(), with_limits(targets=9))
    assert not {"K1", "I1", "U1"} & set(out["account_id"])
    assert out["owner_id"].null_count() == 0


def test_rank_by_comes_from_the_config():
    config = CONFIG.model_copy(update={"targets": CONFIG.targets.model_copy(update={"rank_by": ["likelihood"]})})
    # by likelihood alone X2 (null) drops to the end with X6; then priority: X6 95 before X2 10
    out = recommend_targets(
        target_scores(), config.model_copy(update={"targets": config.targets.model_copy(update={"per_seller": 9})})
    )
    assert targets_of(out)["S1"] == ["X1", "P1", "X4", "X3", "X5", "X6", "X2"]


# --- prospects and leads --------------------------------------------------------------------------------------------

PROSPECT_SCHEMA = {
    "prospect_id": pl.String,
    "name": pl.String,
    "domain": pl.String,
    "phone": pl.String,
    "postal_code": pl.String,
    "industry": pl.String,
    "employee_count": pl.Int64,
    "owner_id": pl.String,
}
RECORD_SCHEMA = {
    "source_system": pl.String,
    "source_client_id": pl.String,
    "account_id": pl.String,
    "name": pl.String,
    "domain": pl.String,
    "phone": pl.String,
    "postal_code": pl.String,
}


def prospects(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=PROSPECT_SCHEMA, orient="row")


def records(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=RECORD_SCHEMA, orient="row")


CLIENT_RECORDS = records(
    ("nat", "N1", "nat:N1", "Acme Holdings, Inc.", "acme.com", "415-555-0100", "94105"),
    ("nat", "N2", "nat:N2", "Globex Corporation", "globex.com", None, None),
)


def test_prospect_that_is_a_client_is_recognised_by_name_and_a_shared_key():
    out = score_prospects(
        prospects(
            ("P1", "ACME HOLDINGS", "www.acme.com", None, None, None, None, "S1"),  # name + domain
            ("P2", "Acme Holdings", None, "(415) 555-0100", None, None, None, "S1"),  # name + phone
            ("P3", "Acme Holdings LLC", None, None, "94105", None, None, "S1"),  # name + postal code
            ("P4", "Acme Holdings", "acme-other.com", "212-555-0199", "10001", None, None, "S1"),  # name only
            ("P5", "Initrode", "acme.com", "415-555-0100", "94105", None, None, "S1"),  # keys but another name
            ("P6", "Globex Corporation", "globex.com", None, None, None, None, "S2"),
        ),
        CLIENT_RECORDS,
        CONFIG,
    )
    existing = dict(zip(out["prospect_id"], out["existing_account_id"], strict=True))
    assert existing == {"P1": "nat:N1", "P2": "nat:N1", "P3": "nat:N1", "P4": None, "P5": None, "P6": "nat:N2"}


def test_prospect_matches_of_fewer_records_are_the_matches_filtered():
    """The outcomes match once and narrow the pairs to the records known at each month end: the same pairs."""
    many = prospects(
        ("P1", "ACME HOLDINGS", "www.acme.com", None, None, None, None, "S1"),
        ("P2", "Globex Corporation", "globex.com", None, None, None, None, "S2"),
        ("P3", "Acme Holdings", None, "(415) 555-0100", None, None, None, "S1"),
    )
    every = match_prospects(many, CLIENT_RECORDS).sort("prospect_id")
    assert every["account_id"].to_list() == ["nat:N1", "nat:N2", "nat:N1"]
    for kept in ("N1", "N2"):
        fewer = CLIENT_RECORDS.filter(pl.col("source_client_id") == kept)
        filtered = every.filter(pl.col("source_client_id") == kept)
        assert match_prospects(many, fewer).sort("prospect_id").equals(filtered)
        scored = score_prospects(many, fewer, CONFIG, matches=filtered).sort("prospect_id")
        assert scored.equals(score_prospects(many, fewer, CONFIG).sort("prospect_id"))


def test_lead_score_is_mean_of_icp_fit_and_wallet_percentile():
    out = score_prospects(
        prospects(
            # Technology 900 x 500 = 450,000; icp (100 + 100) / 2 = 100; wallet percentile 100 -> 100
            ("Q1", "Q One", None, None, None, "Technology", 500, "S1"),
            # Retail 300 x 100 = 30,000; icp (20 + 100) / 2 = 60; wallet percentile 0 -> 30
            ("Q2", "Q Two", None, None, None, "Retail", 100, "S1"),
            # nothing known: no score
            ("Q3", "Q Three", None, None, None, None, None, "S1"),
            # industry only: icp 60, no wallet -> 60
            ("Q4", "Q Four", None, None, None, "Manufacturing", None, "S1"),
        ),
        CLIENT_RECORDS,
        CONFIG,
    )
    got = {r["prospect_id"]: r for r in out.iter_rows(named=True)}
    assert {k: v["estimated_wallet"] for k, v in got.items()} == {
        "Q1": 450_000.0,
        "Q2": 30_000.0,
        "Q3": None,
        "Q4": None,
    }
    assert {k: v["icp_fit_score"] for k, v in got.items()} == {"Q1": 100.0, "Q2": 60.0, "Q3": None, "Q4": 60.0}
    assert {k: v["lead_score"] for k, v in got.items()} == {"Q1": 100.0, "Q2": 30.0, "Q3": None, "Q4": 60.0}


def scored_prospects(rows: list[tuple]) -> pl.DataFrame:
    """(prospect_id, owner_id, existing_account_id, lead_score, name) rows."""
    schema = {
        "prospect_id": pl.String,
        "owner_id": pl.String,
        "existing_account_id": pl.String,
        "lead_score": pl.Float64,
        "name": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_leads_exclude_existing_clients_and_unowned_prospects():
    scored = scored_prospects(
        [
            ("P1", "S1", "nat:N1", 99.0, "Acme"),  # already a client
            ("P2", "S1", None, 50.0, "B"),
            ("P3", "S1", None, 70.0, "C"),
            ("P4", None, None, 90.0, "D"),  # nobody's
            ("P5", "S2", None, None, "E"),  # no score: still a lead, ranked last
        ]
    )
    out = recommend_leads(scored, CONFIG)
    assert out.sort("owner_id", "lead_rank").rows() == [("P3", "S1", 1), ("P2", "S1", 2), ("P5", "S2", 1)]


def test_at_most_leads_per_seller_best_first():
    scored = scored_prospects([(f"P{i:02d}", "S1", None, float(i), f"n{i}") for i in range(15)])
    assert recommend_leads(scored, CONFIG).height == 10  # default 10
    out = recommend_leads(scored, with_limits(leads=3))
    assert out.sort("lead_rank")["prospect_id"].to_list() == ["P14", "P13", "P12"]


def test_end_to_end_prospect_that_is_a_client_is_not_a_lead():
    scored = score_prospects(
        prospects(
            ("P1", "Acme Holdings", "acme.com", None, None, "Technology", 500, "S1"),  # a client
            ("P2", "Other Co", None, None, None, "Retail", 100, "S1"),
        ),
        CLIENT_RECORDS,
        CONFIG,
    )
    assert recommend_leads(scored, CONFIG)["prospect_id"].to_list() == ["P2"]


# --- sellers' picks -------------------------------------------------------------------------------------------------

SELLERS = pl.DataFrame({"owner_id": ["S1", "S2"]})
CROSSWALK = pl.DataFrame(
    [("nat", "N1", "A1"), ("loc", "L1", "A1"), ("nat", "N2", "A2"), ("nat", "N3", "K1")]
    + [("nat", f"T{i}", f"T{i}") for i in range(12)],
    schema={"source_system": pl.String, "source_client_id": pl.String, "account_id": pl.String},
    orient="row",
)
ACCOUNTS = pl.DataFrame(
    [("A1", "S1", False), ("A2", "S2", False), ("K1", "S1", True)] + [(f"T{i}", "S1", False) for i in range(12)],
    schema={"account_id": pl.String, "owner_id": pl.String, "is_key_account": pl.Boolean},
    orient="row",
)
PROSPECTS = pl.DataFrame(
    {"prospect_id": ["P1", "P2", *(f"L{i}" for i in range(12))], "owner_id": ["S1", "S2", *(["S1"] * 12)]}
)


def picks(*rows: tuple) -> pl.DataFrame:
    """(owner_id, pick_type, reference) rows, numbered 1.. in PICKS_FILE."""
    return pl.DataFrame(
        [(o, t, r, None, PICKS_FILE, i) for i, (o, t, r) in enumerate(rows, start=1)],
        schema={
            "owner_id": pl.String,
            "pick_type": pl.String,
            "reference": pl.String,
            "note": pl.String,
            "source_file": pl.String,
            "source_row": pl.Int64,
        },
        orient="row",
    )


def checked(*rows: tuple) -> pl.DataFrame:
    return check_picks(picks(*rows), SELLERS, CROSSWALK, ACCOUNTS, PROSPECTS)


def pick_error(*rows: tuple) -> str:
    with pytest.raises(PickError) as caught:
        checked(*rows)
    assert isinstance(caught.value, InputError)
    return str(caught.value)


def test_valid_target_and_lead_picks():
    out = checked(("S1", "target", "nat:N1"), ("S1", "lead", "P1"), ("S2", "Target ", " nat:N2 "))
    assert out.rows() == [
        ("S1", "target", "A1", None, None),
        ("S1", "lead", None, "P1", None),
        ("S2", "target", "A2", None, None),
    ]


def test_no_picks_is_fine():
    assert checked().height == 0


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (("S9", "target", "nat:N1"), "unknown seller 'S9'"),
        (("S1", "target", "nat:N99"), "unknown client record 'nat:N99'"),
        (("S1", "target", "nat:N2"), "belongs to S2, not S1"),
        (("S1", "target", "nat:N3"), "already a key account"),
        (("S1", "lead", "P99"), "unknown prospect 'P99'"),
        (("S1", "lead", "P2"), "prospect P2 belongs to S2, not S1"),
        (("S1", "favourite", "nat:N1"), "pick_type 'favourite' is not target or lead"),
        (("S1", "target", ""), "owner_id and reference are required"),
    ],
)
def test_each_bad_pick_names_the_file_the_row_and_the_seller(row, problem):
    # the bad row is row 2, after a valid one
    message = pick_error(("S1", "target", "nat:N1"), row)
    assert f"{PICKS_FILE} row 2 (seller {row[0]})" in message
    assert problem in message
    assert "row 1" not in message


def test_duplicate_pick_names_the_second_row():
    # loc:L1 is another record of account A1: still the same pick
    message = pick_error(("S1", "target", "nat:N1"), ("S1", "lead", "P1"), ("S1", "target", "loc:L1"))
    assert f"{PICKS_FILE} row 3 (seller S1): target A1 is picked twice" in message
    message = pick_error(("S1", "lead", "P1"), ("S1", "lead", "P1"))
    assert f"{PICKS_FILE} row 2 (seller S1): lead P1 is picked twice" in message


def test_ten_targets_for_one_seller_is_an_error_nine_is_not():
    assert checked(*(("S1", "target", f"nat:T{i}") for i in range(9))).height == 9
    message = pick_error(*(("S1", "target", f"nat:T{i}") for i in range(10)))
    assert PICKS_FILE in message
    assert "seller S1: 10 targets picked (rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10); at most 9 are allowed" in message


def test_eleven_leads_for_one_seller_is_an_error_ten_is_not():
    assert checked(*(("S1", "lead", f"L{i}") for i in range(10))).height == 10
    message = pick_error(*(("S1", "lead", f"L{i}") for i in range(11)))
    assert PICKS_FILE in message
    assert "seller S1: 11 leads picked (rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11); at most 10 are allowed" in message


def test_every_problem_is_listed_at_once():
    message = pick_error(
        ("S9", "target", "nat:N1"),
        ("S1", "target", "nat:N2"),
        ("S1", "lead", "P99"),
        ("S2", "maybe", "P2"),
        ("S1", "target", "nat:N1"),  # fine
    )
    assert message.startswith(f"{PICKS_FILE}: sellers' picks rejected (4 problems)")
    assert f"{PICKS_FILE} row 1 (seller S9)" in message
    assert f"{PICKS_FILE} row 2 (seller S1)" in message
    assert f"{PICKS_FILE} row 3 (seller S1)" in message
    assert f"{PICKS_FILE} row 4 (seller S2)" in message
    assert "row 5" not in message


# --- overrides ------------------------------------------------------------------------------------------------------

OVERRIDE_COLUMNS = ["source_system", "source_client_id", "field", "value", "set_by", "reason", "valid_until"]


def overrides(*rows: tuple) -> pl.DataFrame:
    """(source_system, source_client_id, field, value, set_by, reason, valid_until) rows in OVERRIDES_FILE."""
    return pl.DataFrame(
        [(*row, OVERRIDES_FILE, i) for i, row in enumerate(rows, start=1)],
        schema={**dict.fromkeys(OVERRIDE_COLUMNS, pl.String), "source_file": pl.String, "source_row": pl.Int64},
        orient="row",
    )


def resolved(*rows: tuple) -> pl.DataFrame:
    return resolve_overrides(check_overrides(overrides(*rows), AS_OF), CROSSWALK)


def account_tiers() -> pl.DataFrame:
    return pl.DataFrame({"account_id": ["A1", "A2", "K1"], "tier": ["low", "medium", "high"]})


def test_active_tier_override_replaces_the_tier_and_keeps_the_computed_one():
    status = resolved(
        ("nat", "N1", "Tier", " High ", "Maria (manager)", "signed LOI", "2026-12-31"),
        ("nat", "N2", "tier", "low", "Sam", "lost the deal", AS_OF.isoformat()),  # until today: still active
    )
    assert status["status"].to_list() == ["applied", "applied"]
    out = apply_overrides(account_tiers(), status, "tier").sort("account_id")
    assert out["tier"].to_list() == ["high", "low", "high"]
    assert out["tier_computed"].to_list() == ["low", "medium", "high"]
    a1 = out.row(0, named=True)
    assert (a1["tier_override_by"], a1["tier_override_reason"], a1["tier_override_until_date"]) == (
        "Maria (manager)",
        "signed LOI",
        date(2026, 12, 31),
    )
    assert out.row(2, named=True)["tier_override_by"] is None


def test_expired_override_is_reported_and_not_applied():
    status = resolved(("nat", "N1", "tier", "high", "Maria", "old news", "2026-10-30"))
    assert status.select("account_id", "status").rows() == [("A1", "expired")]
    out = apply_overrides(account_tiers(), status, "tier").sort("account_id")
    assert out["tier"].to_list() == ["low", "medium", "high"]
    assert out["tier_override_by"].null_count() == 3


def test_override_of_an_unknown_record_is_reported():
    status = resolved(("nat", "N404", "tier", "high", "Maria", "typo?", "2027-01-01"))
    assert status.select("account_id", "status").rows() == [(None, "unknown_record")]
    out = apply_overrides(account_tiers(), status, "tier")
    assert out.sort("account_id")["tier"].to_list() == ["low", "medium", "high"]


def test_designation_override_does_not_touch_the_tier():
    status = resolved(("nat", "N1", "designation", "key", "Maria", "board decision", "2027-01-01"))
    out = apply_overrides(account_tiers(), status, "tier").sort("account_id")
    assert out["tier"].to_list() == ["low", "medium", "high"]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (("nat", "N1", "colour", "red", "Maria", "why", "2027-01-01"), "field 'colour' is not tier or designation"),
        (
            ("nat", "N1", "tier", "urgent", "Maria", "why", "2027-01-01"),
            "tier value 'urgent' is not one of high/medium/low",
        ),
        (("nat", "N1", "designation", "lead", "Maria", "why", "2027-01-01"), "designation value 'lead' is not one of"),
        (("nat", "N1", "tier", "high", "Maria", "why", "31/12/2026"), "valid_until '31/12/2026' is not a date"),
        (("nat", "N1", "tier", "high", "  ", "why", "2027-01-01"), "set_by is empty"),
        (("nat", "N1", "tier", "high", "Maria", None, "2027-01-01"), "reason is empty"),
        (("nat", "N1", "tier", "high", "Maria", "why", ""), "valid_until is empty"),
    ],
)
def test_malformed_override_row_is_an_error_naming_the_row(row, problem):
    good = ("nat", "N2", "tier", "high", "Sam", "fine", "2027-01-01")
    with pytest.raises(OverrideFileError) as caught:
        check_overrides(overrides(good, row), AS_OF)
    message = str(caught.value)
    assert f"{OVERRIDES_FILE} row 2: " in message
    assert problem in message
    assert "row 1" not in message


def test_every_malformed_override_is_listed_at_once():
    with pytest.raises(OverrideFileError, match=r"\(3 problems\)") as caught:
        check_overrides(
            overrides(
                ("nat", "N1", "colour", "red", "Maria", "why", "2027-01-01"),
                ("nat", "N1", "tier", "high", "", "why", "2027-01-01"),
                ("nat", "N2", "tier", "high", "Sam", "why", "2027-13-01"),
            ),
            AS_OF,
        )
    for row in (1, 2, 3):
        assert f"{OVERRIDES_FILE} row {row}: " in str(caught.value)


def test_two_active_overrides_of_one_account_and_field_are_an_error():
    # nat:N1 and loc:L1 are both account A1
    with pytest.raises(OverrideFileError) as caught:
        resolved(
            ("nat", "N1", "tier", "high", "Maria", "a", "2027-01-01"),
            ("loc", "L1", "tier", "low", "Sam", "b", "2027-06-30"),
        )
    message = str(caught.value)
    assert "account A1: 2 active tier overrides" in message
    assert f"{OVERRIDES_FILE} row 1" in message and f"{OVERRIDES_FILE} row 2" in message


def test_one_active_and_one_expired_override_of_a_field_is_fine():
    status = resolved(
        ("nat", "N1", "tier", "high", "Maria", "a", "2027-01-01"),
        ("loc", "L1", "tier", "low", "Sam", "b", "2026-01-01"),
        ("loc", "L1", "designation", "target", "Sam", "c", "2027-01-01"),  # another field
    )
    assert status["status"].to_list() == ["applied", "expired", "applied"]


# --- sellers' lists -------------------------------------------------------------------------------------------------


def list_scores() -> pl.DataFrame:
    rows = [
        # account, owner, name, billing, billing rank, key, priority, tier
        ("K1", "S1", "Key One", 1000.0, 1, True, 90.0, "high"),
        ("A1", "S1", "Acme", 500.0, 2, False, 70.0, "high"),
        ("A2", "S2", "Globex", 450.0, 3, False, 60.0, "high"),
        ("T1", "S1", "T One", 400.0, 4, False, 50.0, "medium"),
        ("T2", "S1", "T Two", 300.0, 5, False, 20.0, "low"),
        ("T3", "S2", "T Three", 100.0, 6, False, 10.0, "low"),
    ]
    schema = {
        "account_id": pl.String,
        "owner_id": pl.String,
        "account_name": pl.String,
        "billing_12m": pl.Float64,
        "billing_rank": pl.Int64,
        "is_key_account": pl.Boolean,
        "priority_score": pl.Float64,
        "tier": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def seller_lists(pick_rows: list[tuple], override_rows: list[tuple] = ()) -> pl.DataFrame:
    recommended_targets = pl.DataFrame(
        {"account_id": ["A1", "T1", "A2"], "owner_id": ["S1", "S1", "S2"], "target_rank": [1, 2, 1]}
    )
    scored = scored_prospects(
        [
            ("P1", "S1", None, 80.0, "Prospect One"),
            ("L0", "S1", None, 10.0, "Lead Zero"),
            ("P2", "S2", None, 70.0, "Prospect Two"),
            ("L1", "S1", None, 5.0, "Lead One"),
        ]
    )
    recommended = pl.DataFrame({"prospect_id": ["P1", "P2"], "owner_id": ["S1", "S2"], "lead_rank": [1, 1]})
    return build_seller_lists(
        list_scores(), recommended_targets, recommended, checked(*pick_rows), scored, resolved(*override_rows)
    )


def rows_of(lists: pl.DataFrame, owner: str) -> list[tuple]:
    return (
        lists.filter(pl.col("owner_id") == owner)
        .sort("seller_rank")
        .select(pl.coalesce("account_id", "prospect_id"), "designation", "is_recommended", "is_seller_pick")
        .rows()
    )


def test_seller_with_target_picks_gets_exactly_the_picks_recommendations_stay_visible():
    lists = seller_lists([("S1", "target", "nat:T2")])
    assert rows_of(lists, "S1") == [
        ("K1", "key", False, False),
        ("A1", "secondary", True, False),  # recommended, but S1 picked their own targets
        ("T1", "secondary", True, False),
        ("T2", "target", False, True),
        ("P1", "lead", True, False),  # no lead picks: recommended leads are the leads
    ]
    assert lists.filter(pl.col("owner_id") == "S1")["seller_rank"].sort().to_list() == [1, 2, 3, 4, 5]


def test_seller_without_picks_gets_the_recommendations():
    lists = seller_lists([("S1", "target", "nat:T2")])
    assert rows_of(lists, "S2") == [
        ("A2", "target", True, False),
        ("T3", "secondary", False, False),
        ("P2", "lead", True, False),
    ]


def test_lead_picks_replace_recommended_leads_which_stay_listed():
    lists = seller_lists([("S1", "lead", "L1"), ("S1", "lead", "L0")])
    leads = lists.filter((pl.col("owner_id") == "S1") & (pl.col("row_type") == "lead"))
    got = {r["prospect_id"]: r for r in leads.iter_rows(named=True)}
    assert set(got) == {"P1", "L0", "L1"}
    assert got["P1"]["designation"] == "recommended_lead" and got["P1"]["is_recommended"] is True
    assert got["L0"]["designation"] == "lead" and got["L0"]["is_seller_pick"] is True
    assert got["L1"]["designation"] == "lead"
    assert got["L0"]["name"] == "Lead Zero" and got["L0"]["priority_score"] == 10.0
    assert got["L0"]["account_id"] is None and got["L0"]["tier"] is None
    # no target picks: S1's targets are the recommended ones
    accounts = lists.filter((pl.col("owner_id") == "S1") & (pl.col("row_type") == "account"))
    assert dict(accounts.select("account_id", "designation").iter_rows()) == {
        "K1": "key",
        "A1": "target",
        "T1": "target",
        "T2": "secondary",
    }


def test_accounts_first_by_billing_then_leads():
    lists = seller_lists([])
    s1 = lists.filter(pl.col("owner_id") == "S1").sort("seller_rank")
    assert s1["row_type"].to_list() == ["account"] * 4 + ["lead"]
    assert s1["billing_rank"].to_list()[:4] == [1, 2, 4, 5]


def test_designation_override_applied_with_the_computed_value_kept():
    lists = seller_lists(
        [],
        [
            ("nat", "T3", "designation", "target", "Maria", "renewal at risk", "2027-03-31"),
            ("nat", "T1", "designation", "secondary", "Sam", "no budget", "2020-01-01"),
        ],
    )
    t3 = lists.filter(pl.col("account_id") == "T3").row(0, named=True)
    assert t3["designation"] == "target" and t3["designation_computed"] == "secondary"
    assert (
        t3["designation_override_by"],
        t3["designation_override_reason"],
        t3["designation_override_until_date"],
    ) == (
        "Maria",
        "renewal at risk",
        date(2027, 3, 31),
    )
    t1 = lists.filter(pl.col("account_id") == "T1").row(0, named=True)  # expired: computed value stands
    assert t1["designation"] == "target" and t1["designation_computed"] == "target"
    assert t1["designation_override_by"] is None
