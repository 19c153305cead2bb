"""The decision matrix on tiny hand-built frames: each criterion's raw value and score, re-weighting over missing data,
tiers, status, health and churn risk. Expected values are worked out by hand in the comments."""

import math
from datetime import date

import polars as pl
import pytest

from assets.rules.scoring import (
    DAYS_PER_MONTH,
    FEATURE_COLUMNS,
    criteria_values,
    engagement_signals,
    normalise,
    pipeline_signals,
    score,
)
from assets.rules.scoring_config import CRITERIA, ConfigError, Criterion, load_scoring_config

AS_OF = date(2026, 10, 31)
CONFIG = load_scoring_config()
BASE = {
    "owner_id": "S1",
    "industry": None,
    "employee_count": None,
    "customer_since": None,
    "segments": None,
    "billing_12m": 0.0,
    "billing_recent_6m": 0.0,
    "billing_earlier_6m": 0.0,
    "is_key_account": False,
}
ENGAGEMENT_SCHEMA = {
    "account_id": pl.String,
    "event_type": pl.String,
    "months_ago": pl.Int64,
    "events": pl.Int64,
    "quantity": pl.Int64,
}
PIPELINE_SCHEMA = {
    "account_id": pl.String,
    "stage": pl.String,
    "open_deals": pl.Int64,
    "weighted_amount": pl.Float64,
    "unweighted_amount": pl.Float64,
}


def features(*rows: dict) -> pl.DataFrame:
    """One row per account; every field not given is BASE's (no data: only 0 billing)."""
    return pl.DataFrame([{**BASE, **row} for row in rows], schema=FEATURE_COLUMNS)


def engagement(*rows: tuple) -> pl.DataFrame:
    """(account_id, event_type, months_ago, events, quantity) rows."""
    return pl.DataFrame(list(rows), schema=ENGAGEMENT_SCHEMA, orient="row")


def pipeline(*rows: tuple) -> pl.DataFrame:
    """(account_id, stage, open_deals, weighted_amount, unweighted_amount) rows."""
    return pl.DataFrame(list(rows), schema=PIPELINE_SCHEMA, orient="row")


def with_weights(config=CONFIG, **weights: float):
    """`config` with only the given criteria enabled, at the given weights."""
    return config.model_copy(update={"criteria": {name: Criterion(weight=w) for name, w in weights.items()}})


def with_section(config, section: str, **fields):
    return config.model_copy(update={section: getattr(config, section).model_copy(update=fields)})


def by_id(frame: pl.DataFrame, column: str) -> dict:
    return dict(zip(frame["account_id"], frame[column], strict=True))


def decay(months_ago: int, half_life_days: float = 90.0) -> float:
    """0.5 ^ (age / half-life), age taken at the middle of the month."""
    return 0.5 ** ((months_ago + 0.5) * DAYS_PER_MONTH / half_life_days)


# --- current_spend --------------------------------------------------------------------------------------------------


def test_current_spend_percentile_shares_ties():
    # billing: d 50 < a = b 100 < c 300. smaller-than counts 0, 1, 1, 3 over (4 - 1) -> 0, 33.3, 33.3, 100
    out = score(
        features(
            {"account_id": "a", "billing_12m": 100.0},
            {"account_id": "b", "billing_12m": 100.0},
            {"account_id": "c", "billing_12m": 300.0},
            {"account_id": "d", "billing_12m": 50.0},
        ),
        None,
        None,
        CONFIG,
        AS_OF,
    )
    assert by_id(out, "current_spend_raw") == {"a": 100.0, "b": 100.0, "c": 300.0, "d": 50.0}
    assert by_id(out, "current_spend_score") == pytest.approx({"a": 100 / 3, "b": 100 / 3, "c": 100.0, "d": 0.0})


def test_current_spend_single_account_scores_100():
    out = score(features({"account_id": "a", "billing_12m": 10.0}), None, None, CONFIG, AS_OF)
    assert out["current_spend_score"].to_list() == [100.0]


def test_current_spend_log_minmax():
    # min 0, max 99: 100 * ln(1 + x) / ln(100) -> 0 for 0, 50 for 9 (ln 10 / ln 100), 100 for 99
    config = CONFIG.model_copy(
        update={"criteria": {**CONFIG.criteria, "current_spend": Criterion(weight=0.25, normalisation="log_minmax")}}
    )
    out = score(
        features(
            {"account_id": "a", "billing_12m": 0.0},
            {"account_id": "b", "billing_12m": 9.0},
            {"account_id": "c", "billing_12m": 99.0},
        ),
        None,
        None,
        config,
        AS_OF,
    )
    assert by_id(out, "current_spend_score") == pytest.approx({"a": 0.0, "b": 50.0, "c": 100.0})


def test_log_minmax_is_shift_invariant_and_all_equal_scores_100():
    frame = pl.DataFrame({"x": [1000.0, 1009.0, 1099.0, None]})
    assert frame.select(normalise(pl.col("x"), "log_minmax", CONFIG).alias("x"))["x"].to_list() == pytest.approx(
        [0.0, 50.0, 100.0, None]
    )
    same = pl.DataFrame({"x": [5.0, 5.0]})
    assert same.select(normalise(pl.col("x"), "log_minmax", CONFIG).alias("x"))["x"].to_list() == [100.0, 100.0]


def test_normalise_keeps_null_and_stays_on_the_scale():
    frame = pl.DataFrame({"x": [None, 3.0, 1.0, 2.0]})
    assert frame.select(normalise(pl.col("x"), "percentile", CONFIG).alias("x"))["x"].to_list() == pytest.approx(
        [None, 100.0, 0.0, 50.0]
    )
    fixed = pl.DataFrame({"x": [-5.0, 50.0, 150.0]})
    assert fixed.select(normalise(pl.col("x"), "fixed", CONFIG).alias("x"))["x"].to_list() == [0.0, 50.0, 100.0]
    ratio = pl.DataFrame({"x": [-1.0, 0.0, 0.5, 1.0]})
    assert ratio.select(normalise(pl.col("x"), "ratio", CONFIG).alias("x"))["x"].to_list() == [0.0, 50.0, 75.0, 100.0]


# --- growth ---------------------------------------------------------------------------------------------------------


def test_growth_ratio_and_both_halves_zero_is_missing():
    out = score(
        features(
            # (150 - 50) / (150 + 50) = 0.5 -> 50 * 1.5 = 75
            {"account_id": "a", "billing_12m": 200.0, "billing_recent_6m": 150.0, "billing_earlier_6m": 50.0},
            # (0 - 80) / 80 = -1 -> 0
            {"account_id": "b", "billing_12m": 80.0, "billing_recent_6m": 0.0, "billing_earlier_6m": 80.0},
            # both halves 0: no growth to speak of -> missing, not 50
            {"account_id": "c", "billing_12m": 0.0, "billing_recent_6m": 0.0, "billing_earlier_6m": 0.0},
            # a credit note before: (30 - -10) / (30 + 10) = 1 -> 100
            {"account_id": "d", "billing_12m": 20.0, "billing_recent_6m": 30.0, "billing_earlier_6m": -10.0},
            # flat: 0 -> 50
            {"account_id": "e", "billing_12m": 20.0, "billing_recent_6m": 10.0, "billing_earlier_6m": 10.0},
        ),
        None,
        None,
        CONFIG,
        AS_OF,
    )
    assert by_id(out, "growth_raw") == pytest.approx({"a": 0.5, "b": -1.0, "c": None, "d": 1.0, "e": 0.0})
    assert by_id(out, "growth_score") == pytest.approx({"a": 75.0, "b": 0.0, "c": None, "d": 100.0, "e": 50.0})
    missing = by_id(out, "missing_criteria")
    assert "growth" in missing["c"].split(", ")
    assert "growth" not in missing["b"].split(", ")


# --- whitespace -----------------------------------------------------------------------------------------------------


def test_whitespace_wallet_minus_spend_default_wallet_and_missing_without_employees():
    out = score(
        features(
            # Technology 900/employee x 10 = 9000; minus 1000 billed -> 8000
            {"account_id": "a", "billing_12m": 1000.0, "industry": "Technology", "employee_count": 10},
            # no employee count -> no wallet -> missing
            {"account_id": "b", "billing_12m": 1000.0, "industry": "Technology"},
            # Mining is not in the wallet table -> default 400 x 10 = 4000; billed 5000 -> at least 0
            {"account_id": "c", "billing_12m": 5000.0, "industry": "Mining", "employee_count": 10},
            # no industry -> default 400 x 10 = 4000; nothing billed -> 4000
            {"account_id": "d", "billing_12m": 0.0, "employee_count": 10},
        ),
        None,
        None,
        CONFIG,
        AS_OF,
    )
    assert by_id(out, "estimated_wallet") == {"a": 9000.0, "b": None, "c": 4000.0, "d": 4000.0}
    assert by_id(out, "whitespace_raw") == {"a": 8000.0, "b": None, "c": 0.0, "d": 4000.0}
    # percentile over the three present: c 0 < d 4000 < a 8000 -> 0, 50, 100
    assert by_id(out, "whitespace_score") == {"a": 100.0, "b": None, "c": 0.0, "d": 50.0}
    assert "whitespace" in by_id(out, "missing_criteria")["b"].split(", ")
    assert by_id(out, "whitespace_contribution")["b"] is None


def test_whitespace_follows_the_configured_wallet():
    config = with_section(CONFIG, "wallet", per_employee={"Technology": 100.0}, default_per_employee=1.0)
    out = score(
        features(
            {"account_id": "a", "billing_12m": 50.0, "industry": "Technology", "employee_count": 10},  # 1000 - 50
            {"account_id": "b", "billing_12m": 5.0, "industry": "Retail", "employee_count": 10},  # 10 - 5
        ),
        None,
        None,
        config,
        AS_OF,
    )
    assert by_id(out, "whitespace_raw") == {"a": 950.0, "b": 5.0}


# --- likelihood -----------------------------------------------------------------------------------------------------


def test_likelihood_own_probability_stage_default_and_closed_stages():
    deals = pipeline(
        ("a", "proposal", 1, 0.0, 1000.0),  # no own probability: 1000 x proposal 0.5 = 500
        ("b", "negotiation", 1, 300.0, 0.0),  # own probability already applied: 300
        ("b", "closed_won", 0, 0.0, 10_000.0),  # closed: stage probability 0 -> 0
        ("d", "prospecting", 1, 0.0, 1000.0),  # 1000 x 0.1 = 100
        ("d", "qualification", 1, 50.0, 0.0),  # + 50 -> 150
    )
    out = score(
        features(*({"account_id": a} for a in "abcd")),
        None,
        deals,
        CONFIG,
        AS_OF,
    )
    # c has no deals: 0, not missing
    assert by_id(out, "likelihood_raw") == pytest.approx({"a": 500.0, "b": 300.0, "c": 0.0, "d": 150.0})
    # percentile: c 0 < d 150 < b 300 < a 500
    assert by_id(out, "likelihood_score") == pytest.approx({"a": 100.0, "b": 200 / 3, "c": 0.0, "d": 100 / 3})
    assert by_id(out, "open_deals") == {"a": 1, "b": 1, "c": 0, "d": 2}
    assert all("likelihood" not in m for m in out["missing_criteria"])


def test_likelihood_stage_probability_comes_from_the_config():
    config = CONFIG.model_copy(update={"stages": {**CONFIG.stages, "proposal": 0.9}})
    out = pipeline_signals(pipeline(("a", "proposal", 2, 10.0, 100.0)), config)
    assert out.row(0, named=True) == {"account_id": "a", "open_deals": 2, "likelihood_raw": pytest.approx(100.0)}


def test_unknown_stage_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="'demo_scheduled'") as caught:
        pipeline_signals(pipeline(("a", "demo_scheduled", 1, 0.0, 10.0)), CONFIG)
    assert "stages" in str(caught.value)


def test_no_opportunities_input_makes_likelihood_missing_for_everyone():
    out = score(
        features({"account_id": "a", "billing_12m": 10.0}, {"account_id": "b", "billing_12m": 5.0}),
        None,
        None,
        CONFIG,
        AS_OF,
    )
    assert out["likelihood_raw"].to_list() == [None, None]
    assert out["likelihood_score"].to_list() == [None, None]
    assert all("likelihood" in m.split(", ") for m in out["missing_criteria"])
    assert out["open_deals"].to_list() == [0, 0]


# --- engagement -----------------------------------------------------------------------------------------------------


def test_engagement_recent_event_weighs_more_than_the_same_event_six_months_ago():
    events = engagement(("a", "meeting", 0, 1, 1), ("b", "meeting", 6, 1, 1))
    out = score(features(*({"account_id": a} for a in "abc")), events, None, CONFIG, AS_OF)
    raw = by_id(out, "engagement_raw")
    # meeting weight 5 x quantity 1 x 0.5 ^ ((months_ago + 0.5) x 30.4375 / 90)
    assert raw["a"] == pytest.approx(5 * decay(0))
    assert raw["b"] == pytest.approx(5 * decay(6))
    assert raw["a"] > raw["b"] > 0
    assert raw["c"] == 0.0  # no events: 0, not missing
    # six months apart = 182.6 days = 2.03 half-lives: a quarter of the weight, a bit less
    assert raw["a"] / raw["b"] == pytest.approx(2 ** (6 * DAYS_PER_MONTH / 90))
    assert by_id(out, "engagement_score") == {"a": 100.0, "b": 50.0, "c": 0.0}


def test_engagement_half_life_from_the_config():
    events = engagement(("a", "meeting", 0, 1, 1), ("b", "meeting", 6, 1, 1))
    config = with_section(CONFIG, "engagement", half_life_days=30.0)
    raw = by_id(
        score(features({"account_id": "a"}, {"account_id": "b"}), events, None, config, AS_OF), "engagement_raw"
    )
    assert raw["a"] == pytest.approx(5 * decay(0, 30.0))
    assert raw["b"] == pytest.approx(5 * decay(6, 30.0))
    # a shorter half-life makes the old event count for much less: ratio 2^(182.6/30) ~ 68 instead of ~4
    assert raw["a"] / raw["b"] == pytest.approx(2 ** (6 * DAYS_PER_MONTH / 30))


def test_engagement_weights_quantity_by_event_type():
    events = engagement(
        ("a", "web_visit", 0, 1, 4),  # 0.5 x 4
        ("a", "email", 2, 3, 3),  # 1.0 x 3, two months older
        ("a", "support_ticket", 0, 9, 9),  # weight 0
        ("a", "carrier_pigeon", 0, 1, 1),  # not in the table: weight 0
    )
    raw = engagement_signals(events, CONFIG)["engagement_raw"].item()
    assert raw == pytest.approx(0.5 * 4 * decay(0) + 1.0 * 3 * decay(2))


def test_no_engagement_input_makes_engagement_missing_for_everyone():
    out = score(features({"account_id": "a"}, {"account_id": "b"}), None, None, CONFIG, AS_OF)
    assert out["engagement_raw"].to_list() == [None, None]
    assert out["engagement_score"].to_list() == [None, None]
    assert all("engagement" in m.split(", ") for m in out["missing_criteria"])


# Same rows for a and b, in the opposite order: the float sum differs in the last bit with the order.
TWIN_EVENTS = [
    ("meeting", 8, 1, 3),
    ("product_usage", 0, 1, 1),
    ("survey", 6, 1, 4),
    ("survey", 3, 1, 4),
    ("survey", 0, 1, 4),
    ("meeting", 4, 1, 6),
]
TWIN_DEALS = [("prospecting", 1, 0.0, 369.0), ("negotiation", 1, 0.0, 177.0), ("qualification", 1, 0.0, 256.0)]


def test_identical_engagement_is_a_tie_whatever_the_row_order():
    events = engagement(*(("a", *r) for r in TWIN_EVENTS), *(("b", *r) for r in reversed(TWIN_EVENTS)))
    out = score(features(*({"account_id": x} for x in "abc")), events, None, CONFIG, AS_OF)
    # a and b tie above c: smaller-than counts 1, 1, 0 over (3 - 1) -> 50, 50, 0
    assert by_id(out, "engagement_score") == {"a": 50.0, "b": 50.0, "c": 0.0}


def test_engagement_scores_do_not_depend_on_row_order():
    rows = [*(("a", *r) for r in TWIN_EVENTS), *(("b", *r) for r in reversed(TWIN_EVENTS))]
    accounts = features(*({"account_id": x} for x in "abc"))
    forward = score(accounts, engagement(*rows), None, CONFIG, AS_OF)
    backward = score(accounts, engagement(*reversed(rows)), None, CONFIG, AS_OF)
    assert by_id(forward, "engagement_score") == by_id(backward, "engagement_score")
    assert by_id(forward, "priority_score") == by_id(backward, "priority_score")


def test_identical_pipeline_is_a_tie_whatever_the_row_order():
    deals = pipeline(*(("a", *r) for r in TWIN_DEALS), *(("b", *r) for r in reversed(TWIN_DEALS)))
    out = score(features(*({"account_id": x} for x in "abc")), None, deals, CONFIG, AS_OF)
    assert by_id(out, "likelihood_score") == {"a": 50.0, "b": 50.0, "c": 0.0}


# --- icp_fit --------------------------------------------------------------------------------------------------------


def test_icp_fit_industry_and_size_parts():
    out = score(
        features(
            {"account_id": "a", "industry": "Technology", "employee_count": 500},  # 100 and in band 50-2000: 100
            {"account_id": "b", "industry": "Technology", "employee_count": 5},  # 5 = 50 / 10: size 0 -> 50
            {"account_id": "c", "industry": "Mining", "employee_count": 20_000},  # default 20; 10 x 2000: 0 -> 10
            {"account_id": "d", "employee_count": 200},  # no industry: size only -> 100
            {"account_id": "e", "industry": "Healthcare"},  # no size: industry only -> 70
            {"account_id": "f"},  # neither -> missing
            {"account_id": "g", "industry": "Manufacturing", "employee_count": 20},
            {"account_id": "h", "industry": "Manufacturing", "employee_count": 2},  # below a tenth: 0 -> 30
        ),
        None,
        None,
        CONFIG,
        AS_OF,
    )
    # g: 20 employees is log10(50) - log10(20) = 0.398 decades below the band: size 100 x (1 - 0.398) = 60.2
    size_g = 100 * (1 - (math.log10(50) - math.log10(20)))
    expected = {"a": 100.0, "b": 50.0, "c": 10.0, "d": 100.0, "e": 70.0, "f": None, "g": (60 + size_g) / 2, "h": 30.0}
    assert by_id(out, "icp_fit_raw") == pytest.approx(expected, abs=1e-9)
    assert by_id(out, "icp_fit_score") == pytest.approx(expected, abs=1e-9)
    assert "icp_fit" in by_id(out, "missing_criteria")["f"].split(", ")
    assert "icp_fit" not in by_id(out, "missing_criteria")["e"].split(", ")


def test_icp_fit_at_the_band_edges_is_full_size_fit():
    """The band is inclusive: 50 and 2000 employees (employees_min and employees_max) are inside it: size fit 100."""
    out = score(
        features({"account_id": "a", "employee_count": 50}, {"account_id": "b", "employee_count": 2000}),
        None,
        None,
        CONFIG,
        AS_OF,
    )
    assert out["icp_fit_raw"].to_list() == [100.0, 100.0]


# --- tenure and strategic -------------------------------------------------------------------------------------------


def test_tenure_years_capped_and_missing_without_a_date():
    out = score(
        features(
            {"account_id": "a", "customer_since": date(2021, 10, 31)},  # 1826 days = 4.999 years -> 49.99
            {"account_id": "b", "customer_since": date(2000, 1, 1)},  # 26.8 years, capped at 10 -> 100
            {"account_id": "c"},  # no date -> missing
            {"account_id": "d", "customer_since": date(2027, 1, 1)},  # in the future -> 0
        ),
        None,
        None,
        CONFIG,
        AS_OF,
    )
    raw = by_id(out, "tenure_raw")
    assert raw["a"] == pytest.approx(1826 / 365.25)
    assert raw["c"] is None
    assert by_id(out, "tenure_score") == pytest.approx({"a": 100 * 1826 / 365.25 / 10, "b": 100.0, "c": None, "d": 0.0})


def test_tenure_cap_from_the_config():
    config = with_section(CONFIG, "tenure", cap_years=40.0)
    out = score(features({"account_id": "b", "customer_since": date(2000, 1, 1)}), None, None, config, AS_OF)
    days = (AS_OF - date(2000, 1, 1)).days
    assert out["tenure_score"].item() == pytest.approx(100 * days / 365.25 / 40)


def test_strategic_segments():
    out = score(
        features(
            {"account_id": "a", "segments": ["national"]},
            {"account_id": "b", "segments": ["local"]},
            {"account_id": "c", "segments": ["local", "national"]},
            {"account_id": "d", "segments": []},  # no segment at all: missing
            {"account_id": "e", "segments": None},
        ),
        None,
        None,
        CONFIG,
        AS_OF,
    )
    assert by_id(out, "strategic_score") == {"a": 100.0, "b": 0.0, "c": 100.0, "d": None, "e": None}
    config = with_section(CONFIG, "strategic", segments=["local"])
    out = score(
        features({"account_id": "a", "segments": ["national"]}, {"account_id": "b", "segments": ["local"]}),
        None,
        None,
        config,
        AS_OF,
    )
    assert by_id(out, "strategic_score") == {"a": 0.0, "b": 100.0}


# --- re-weighting over missing data ---------------------------------------------------------------------------------

REWEIGHT = with_weights(current_spend=0.5, whitespace=0.3, icp_fit=0.2)


def test_missing_criterion_is_reweighted_and_listed():
    out = score(
        features(
            # current_spend 100, whitespace 100 (the only one present), icp 100 -> 100
            {"account_id": "a", "billing_12m": 200.0, "industry": "Technology", "employee_count": 100},
            # current_spend 0, whitespace missing, icp 100 (industry only)
            {"account_id": "b", "billing_12m": 100.0, "industry": "Technology"},
        ),
        None,
        None,
        REWEIGHT,
        AS_OF,
    )
    row = {r["account_id"]: r for r in out.iter_rows(named=True)}
    assert row["a"]["priority_score"] == pytest.approx(100.0)
    assert row["a"]["weight_coverage"] == pytest.approx(1.0)
    assert row["a"]["missing_criteria"] == ""
    # b: coverage 0.5 + 0.2 = 0.7; contributions 0.5 x 0 / 0.7 = 0 and 0.2 x 100 / 0.7 = 28.57
    assert row["b"]["weight_coverage"] == pytest.approx(0.7)
    assert row["b"]["missing_criteria"] == "whitespace"
    assert row["b"]["whitespace_contribution"] is None
    assert row["b"]["current_spend_contribution"] == pytest.approx(0.0)
    assert row["b"]["icp_fit_contribution"] == pytest.approx(20 / 0.7)
    assert row["b"]["priority_score"] == pytest.approx(20 / 0.7)
    # criteria not enabled have no contribution and are not "missing"
    assert row["b"]["growth_contribution"] is None and row["b"]["tenure_contribution"] is None


def test_missing_is_not_the_same_as_zero():
    """b without an employee count (whitespace missing) scores 28.57; the same b with the smallest whitespace
    (percentile 0, present) scores 0 + 0 + 0.2 x 100 = 20."""
    a = {"account_id": "a", "billing_12m": 200.0, "industry": "Technology", "employee_count": 100}
    missing = score(
        features(a, {"account_id": "b", "billing_12m": 100.0, "industry": "Technology"}), None, None, REWEIGHT, AS_OF
    )
    # 60 x 900 - 100 = 53,900 < a's 89,800: whitespace percentile 0; 60 employees is inside the band: icp still 100
    zero = score(
        features(a, {"account_id": "b", "billing_12m": 100.0, "industry": "Technology", "employee_count": 60}),
        None,
        None,
        REWEIGHT,
        AS_OF,
    )
    assert by_id(zero, "whitespace_score")["b"] == 0.0
    assert by_id(zero, "icp_fit_score")["b"] == 100.0
    assert by_id(missing, "priority_score")["b"] == pytest.approx(20 / 0.7)
    assert by_id(zero, "priority_score")["b"] == pytest.approx(20.0)
    assert by_id(zero, "weight_coverage")["b"] == pytest.approx(1.0)


def test_weight_coverage_uses_the_normalised_weights():
    # weights 2, 1, 1 are normalised to 0.5, 0.25, 0.25: b lacks whitespace and icp -> coverage 0.5
    config = with_weights(current_spend=2.0, whitespace=1.0, icp_fit=1.0)
    out = score(features({"account_id": "a", "employee_count": 100}, {"account_id": "b"}), None, None, config, AS_OF)
    assert by_id(out, "weight_coverage") == pytest.approx({"a": 1.0, "b": 0.5})
    assert by_id(out, "missing_criteria")["b"] == "whitespace, icp_fit"


def test_contributions_add_up_to_the_priority_score_on_the_default_config():
    out = score(
        features(
            {
                "account_id": "a",
                "billing_12m": 500.0,
                "billing_recent_6m": 300.0,
                "billing_earlier_6m": 200.0,
                "industry": "Technology",
                "employee_count": 300,
                "customer_since": date(2019, 5, 1),
                "segments": ["national"],
            },
            {"account_id": "b", "billing_12m": 50.0, "industry": "Retail"},
            {"account_id": "c", "billing_12m": 0.0, "employee_count": 10_000, "segments": ["local"]},
        ),
        engagement(("a", "meeting", 1, 2, 2), ("c", "email", 10, 5, 5)),
        pipeline(("b", "proposal", 1, 0.0, 400.0)),
        CONFIG,
        AS_OF,
    )
    for row in out.iter_rows(named=True):
        parts = [row[f"{c}_contribution"] for c in CRITERIA if row[f"{c}_contribution"] is not None]
        assert sum(parts) == pytest.approx(row["priority_score"], abs=1e-9)
        present = [c for c in CRITERIA if row[f"{c}_score"] is not None]
        assert row["weight_coverage"] == pytest.approx(sum(CONFIG.weights[c] for c in present))
        assert set(filter(None, row["missing_criteria"].split(", "))) == set(CRITERIA) - set(present)


# --- tiers ----------------------------------------------------------------------------------------------------------


def test_tier_at_the_exact_thresholds():
    # icp_fit alone decides; tiers high 60, medium 50.
    config = with_section(with_weights(icp_fit=1.0), "tiers", high=60.0, medium=50.0)
    out = score(
        features(
            {"account_id": "a", "industry": "Mining", "employee_count": 500},  # (20 + 100) / 2 = 60 -> high
            {"account_id": "b", "industry": "Transportation & Logistics"},  # 50 -> medium
            {"account_id": "c", "industry": "Mining"},  # 20 -> low
            {"account_id": "d", "industry": "Manufacturing", "employee_count": 1500},  # (60 + 100) / 2 = 80 -> high
            {"account_id": "e", "industry": "Transportation & Logistics", "employee_count": 4},  # (50+ 0) / 2 = 25
        ),
        None,
        None,
        config,
        AS_OF,
    )
    assert by_id(out, "priority_score") == pytest.approx({"a": 60.0, "b": 50.0, "c": 20.0, "d": 80.0, "e": 25.0})
    assert by_id(out, "tier") == {"a": "high", "b": "medium", "c": "low", "d": "high", "e": "low"}


def test_every_criterion_at_60_is_a_score_of_60_and_tier_high():
    """Six accounts ranked alike on spend, whitespace and engagement: the 4th has percentile 60 on each, and icp_fit
    (20 + 100) / 2 = 60. Present: current_spend, whitespace, engagement, icp_fit (weights .25 .15 .15 .10);
    every score is 60, so the weighted mean is 60 and the tier is high (>= 60)."""
    rows = [
        # billing 100..600; Mining (default wallet 400/employee, industry fit 20) with 100..600 employees (in band)
        {"account_id": f"a{i}", "billing_12m": 100.0 * (i + 1), "industry": "Mining", "employee_count": 100 * (i + 1)}
        for i in range(6)
    ]
    events = engagement(*((f"a{i}", "meeting", 0, i + 1, i + 1) for i in range(6)))
    out = score(features(*rows), events, None, CONFIG, AS_OF)
    a3 = out.filter(pl.col("account_id") == "a3").row(0, named=True)
    assert [a3[f"{c}_score"] for c in ("current_spend", "whitespace", "engagement", "icp_fit")] == [60.0] * 4
    assert a3["missing_criteria"] == "growth, likelihood, tenure, strategic"
    assert a3["tier"] == "high"  # actual: medium, priority_score 59.99999999999999


# --- status ---------------------------------------------------------------------------------------------------------


def test_status_active_pipeline_inactive():
    out = score(
        features(
            {"account_id": "a", "billing_12m": 100.0},  # billed -> active
            {"account_id": "b", "billing_12m": 0.0},  # open deals only -> pipeline
            {"account_id": "c", "billing_12m": 0.0},  # nothing -> inactive
            {"account_id": "d", "billing_12m": -50.0},  # net credit, open deal -> pipeline
            {"account_id": "e", "billing_12m": 100.0},  # billed and open deal -> active
        ),
        None,
        pipeline(("b", "proposal", 2, 0.0, 10.0), ("d", "prospecting", 1, 0.0, 5.0), ("e", "proposal", 1, 0.0, 1.0)),
        CONFIG,
        AS_OF,
    )
    assert by_id(out, "status") == {"a": "active", "b": "pipeline", "c": "inactive", "d": "pipeline", "e": "active"}


def test_status_without_opportunities_input_is_active_or_inactive():
    out = score(features({"account_id": "a", "billing_12m": 1.0}, {"account_id": "b"}), None, None, CONFIG, AS_OF)
    assert by_id(out, "status") == {"a": "active", "b": "inactive"}


# --- health and churn risk ------------------------------------------------------------------------------------------


def health_frame():
    return score(
        features(
            {"account_id": "a", "billing_12m": 100.0},
            {"account_id": "b", "billing_12m": 100.0},
            {"account_id": "c", "billing_12m": 100.0},
            {"account_id": "d", "billing_12m": 0.0},
            {"account_id": "e", "billing_12m": 100.0},
            {"account_id": "f", "billing_12m": 100.0},
        ),
        engagement(
            # a: usage 30 recent (months 0-2) vs 10 before (3-5), one at month 7 ignored; surveys 7 and 9;
            #    3 tickets in 6 months, one at month 8 ignored
            ("a", "product_usage", 0, 1, 20),
            ("a", "product_usage", 2, 1, 10),
            ("a", "product_usage", 4, 1, 10),
            ("a", "product_usage", 7, 1, 99),
            ("a", "survey", 1, 2, 16),
            ("a", "support_ticket", 1, 3, 3),
            ("a", "support_ticket", 8, 6, 6),
            # b: usage 4 vs 10 (down 60%), no survey, no ticket
            ("b", "product_usage", 1, 1, 4),
            ("b", "product_usage", 3, 1, 10),
            # c and d (d not billed): no usage, survey score 1, 12 tickets in 6 months
            ("c", "survey", 0, 1, 1),
            ("c", "support_ticket", 0, 12, 12),
            ("d", "survey", 0, 1, 1),
            ("d", "support_ticket", 0, 12, 12),
            # e: usage 0 vs 10, survey score 1, no ticket
            ("e", "product_usage", 5, 1, 10),
            ("e", "survey", 0, 1, 1),
            # f: usage 5 vs 10 - down exactly 50%
            ("f", "product_usage", 0, 1, 5),
            ("f", "product_usage", 3, 1, 10),
        ),
        None,
        CONFIG,
        AS_OF,
    )


def test_health_parts_and_score():
    out = health_frame()
    a = out.filter(pl.col("account_id") == "a").row(0, named=True)
    assert (a["usage_recent_3m"], a["usage_previous_3m"], a["support_tickets_6m"]) == (30, 10, 3)
    # usage: r = (30 - 10) / 40 = 0.5 -> 75; satisfaction: mean 8 -> 100 x 7 / 9; tickets 0.5 a month -> 100 / 1.5
    assert a["health_usage_trend_score"] == pytest.approx(75.0)
    assert a["health_satisfaction_score"] == pytest.approx(700 / 9)
    assert a["health_support_load_score"] == pytest.approx(200 / 3)
    assert a["health_score"] == pytest.approx(0.4 * 75 + 0.4 * 700 / 9 + 0.2 * 200 / 3)  # 74.44
    assert a["is_churn_risk"] is False and a["churn_risk_reason"] == ""
    parts = sum(a[f"health_{p}_contribution"] for p in ("usage_trend", "satisfaction", "support_load"))
    assert parts == pytest.approx(a["health_score"])


def test_health_reweights_over_the_parts_present():
    out = health_frame()
    b = out.filter(pl.col("account_id") == "b").row(0, named=True)
    # usage 50 x (1 - 6/14) = 28.57; no survey; support 100; (0.4 x 28.57 + 0.2 x 100) / 0.6 = 52.38
    assert b["health_satisfaction_score"] is None
    assert b["health_score"] == pytest.approx((0.4 * 50 * (1 - 6 / 14) + 20) / 0.6)


def test_churn_risk_flags_and_reasons():
    out = health_frame()
    health = by_id(out, "health_score")
    # c: usage missing, satisfaction 0, support 100 / 3: (0 + 0.2 x 33.3) / 0.6 = 11.1
    assert health["c"] == pytest.approx(0.2 * 100 / 3 / 0.6)
    # e: usage 0, satisfaction 0, support 100: 20
    assert health["e"] == pytest.approx(20.0)
    assert by_id(out, "is_churn_risk") == {"a": False, "b": True, "c": True, "d": False, "e": True, "f": True}
    assert by_id(out, "churn_risk_reason") == {
        "a": "",
        "b": "usage down 50% or more",
        "c": "health below 40",
        "d": "",  # same health as c, but not billed: inactive accounts are never at risk
        "e": "health below 40; usage down 50% or more",
        "f": "usage down 50% or more",  # down exactly 50%
    }
    assert by_id(out, "status")["d"] == "inactive"


def test_churn_thresholds_come_from_the_config():
    config = with_section(CONFIG, "health", churn_risk_below=10.0, usage_drop=0.7)
    out = score(
        features({"account_id": "b", "billing_12m": 1.0}),
        engagement(("b", "product_usage", 1, 1, 4), ("b", "product_usage", 3, 1, 10)),  # down 60% < 70%
        None,
        config,
        AS_OF,
    )
    assert out["is_churn_risk"].to_list() == [False]
    assert out["churn_risk_reason"].to_list() == [""]


@pytest.mark.parametrize(("usage_drop", "previous", "recent"), [(0.8, 5, 1), (0.3, 90, 63)])
def test_usage_falling_by_exactly_the_configured_share_is_churn_risk(usage_drop, previous, recent):
    config = with_section(CONFIG, "health", usage_drop=usage_drop, churn_risk_below=0.0)
    out = score(
        features({"account_id": "a", "billing_12m": 1.0}),
        engagement(("a", "product_usage", 1, 1, recent), ("a", "product_usage", 4, 1, previous)),
        None,
        config,
        AS_OF,
    )
    assert out["is_churn_risk"].to_list() == [True]


def test_no_engagement_input_means_no_health_and_no_churn_flag():
    out = score(features({"account_id": "a", "billing_12m": 1.0}), None, None, CONFIG, AS_OF)
    row = out.row(0, named=True)
    assert row["health_score"] is None
    assert row["is_churn_risk"] is False and row["churn_risk_reason"] == ""


# --- plumbing -------------------------------------------------------------------------------------------------------


def test_criteria_values_keeps_every_account_and_score_sorts_by_account_id():
    rows = [{"account_id": a, "billing_12m": 1.0} for a in ("c", "a", "b")]
    values = criteria_values(features(*rows), engagement(("z", "meeting", 0, 1, 1)), pipeline(), CONFIG, AS_OF)
    assert values["account_id"].to_list() == ["c", "a", "b"]  # an event of an unknown account adds no row
    assert score(features(*rows), None, None, CONFIG, AS_OF)["account_id"].to_list() == ["a", "b", "c"]
