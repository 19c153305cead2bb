"""The backtest on histories whose answer is known by construction."""

import datetime as dt
import math

import duckdb
import numpy as np
import polars as pl
import pytest

import assets.rules.backtest as backtest_rules
from assets.rules.backtest import (
    default_horizon,
    evaluate,
    prepare,
    run_backtest,
    stored_complete_rows,
    suggestion_yaml,
    weighted_score,
)
from assets.rules.scoring import score_accounts
from assets.rules.scoring_config import CRITERIA, load_scoring_config

DATES = [dt.date(2025, 10, 31), dt.date(2025, 11, 30), dt.date(2025, 12, 31), dt.date(2026, 1, 31)]


def history(accounts: int = 300, predictor: str = "engagement", seed: int = 1) -> pl.DataFrame:
    """Random criteria; the growth that follows each snapshot is a strictly increasing function of `predictor`."""
    rng = np.random.default_rng(seed)
    frames = []
    for day in DATES:
        raw = {f"{c}_raw": rng.uniform(0, 1000, accounts) for c in CRITERIA}
        raw["growth_raw"] = rng.uniform(-1, 1, accounts)
        raw["icp_fit_raw"] = rng.uniform(0, 100, accounts)
        raw["strategic_raw"] = rng.choice([0.0, 100.0], accounts)
        signal = raw[f"{predictor}_raw"]
        signal_rank = signal.argsort().argsort()  # 0 .. accounts-1, strictly increasing in the predictor
        frames.append(
            pl.DataFrame(
                {
                    "as_of_date": [day] * accounts,
                    "account_id": [f"a{i:04d}" for i in range(accounts)],
                    **raw,
                    "billing_before_12m": [1200.0] * accounts,
                    "billing_after_6m": 500.0 + signal_rank.astype(float),
                }
            )
        )
    return pl.concat(frames).with_columns(pl.col("billing_before_12m", "billing_after_6m").cast(pl.Decimal(38, 2)))


@pytest.fixture(scope="module")
def config():
    return load_scoring_config()


def test_a_criterion_that_predicts_growth_perfectly_is_found(config):
    result = run_backtest(history(predictor="engagement"), config, horizon=6)
    summary = {row["ranking"]: row for row in result.summary.iter_rows(named=True)}
    assert summary["engagement"]["spearman"] == pytest.approx(1.0)
    assert all(abs(summary[c]["spearman"]) < 0.3 for c in CRITERIA if c != "engagement")
    assert summary["engagement"]["snapshots"] == 4 and len(result.snapshots) == 4
    suggestion = result.suggestion
    assert suggestion.weights["engagement"] == max(suggestion.weights.values())
    assert suggestion.weights["engagement"] >= 0.8
    assert suggestion.spearman_suggested > 0.95 > suggestion.spearman_current
    assert sum(suggestion.weights.values()) == pytest.approx(1.0)
    holdout = suggestion.holdout
    assert holdout["fit_snapshots"] == ["2025-10-31", "2025-11-30"]
    assert holdout["spearman_suggested"] > holdout["spearman_current"]


def test_another_predictor_moves_the_suggestion(config):
    result = run_backtest(history(predictor="whitespace", seed=2), config, horizon=6)
    assert max(result.suggestion.weights, key=result.suggestion.weights.get) == "whitespace"


def test_incomplete_windows_are_left_out(config):
    frame = history().with_columns(
        pl.when(pl.col("as_of_date") == DATES[-1])
        .then(None)
        .otherwise(pl.col("billing_after_6m"))
        .alias("billing_after_6m")
    )
    result = run_backtest(frame, config, horizon=6, search=False)
    assert result.snapshots == DATES[:3]
    empty = run_backtest(frame.with_columns(pl.lit(None, pl.Decimal(38, 2)).alias("billing_after_6m")), config)
    assert empty.snapshots == [] and empty.suggestion is None and "nothing to backtest" in empty.notes[0]


def test_the_backtest_scores_as_the_pipeline_does(config):
    """Same raw values, some missing: the backtest's per-snapshot normalisation and weighted mean give the scores
    scoring.score_accounts gives."""
    one = (
        history(accounts=50)
        .filter(pl.col("as_of_date") == DATES[0])
        .with_columns(
            pl.when(pl.int_range(pl.len()) % 3 == 0)
            .then(None)
            .otherwise(pl.col("whitespace_raw"))
            .alias("whitespace_raw"),
            pl.when(pl.int_range(pl.len()) % 5 == 0)
            .then(None)
            .otherwise(pl.col("likelihood_raw"))
            .alias("likelihood_raw"),
        )
    )
    ours = prepare(one, config, 6).select("account_id", weighted_score(config.weights).alias("score"))
    values = one.select(
        "account_id",
        *(f"{c}_raw" for c in CRITERIA),
        pl.lit(1.0).alias("billing_12m"),
        pl.lit(0).alias("open_deals"),
        *(
            pl.lit(None, pl.Int64).alias(c)
            for c in ("usage_recent_3m", "usage_previous_3m", "survey_score_sum", "survey_count", "support_tickets_6m")
        ),
        pl.lit(False).alias("has_events"),
    )
    theirs = score_accounts(values, config).select("account_id", "priority_score")
    both = ours.join(theirs, on="account_id")
    assert both.height == 50
    assert np.allclose(both["score"].to_numpy(), both["priority_score"].to_numpy())


def test_top_group_metrics_by_hand(config):
    """Six accounts in one snapshot, three of them high: gains 10, 20, 0 among them, 30 and 0 and -5 elsewhere."""
    frame = pl.DataFrame(
        {
            "as_of_date": [DATES[0]] * 6,
            "account_id": list("abcdef"),
            "growth": [10.0, 20.0, -1.0, 30.0, 0.0, -5.0],
            "change": [0.10, 0.20, -0.01, 0.30, 0.0, -0.05],
            **{f"{c}_score": [None] * 6 for c in CRITERIA},
        },
        schema_overrides={f"{c}_score": pl.Float64 for c in CRITERIA},
    ).with_columns(pl.Series("current_spend_score", [90.0, 80.0, 70.0, 10.0, 5.0, 0.0]))
    per = evaluate(frame, config).filter(pl.col("ranking") == "score").row(0, named=True)
    assert per["top_accounts"] == 3  # scores 90, 80, 70 >= 60
    assert per["gain_share"] == pytest.approx(30 / 60)
    assert per["precision"] == pytest.approx(2 / 3) and per["base_rate"] == pytest.approx(3 / 6)
    assert per["lift"] == pytest.approx((2 / 3) / 0.5)
    assert per["spearman"] == pytest.approx(
        pl.DataFrame({"a": [90.0, 80, 70, 10, 5, 0], "b": [10.0, 20, -1, 30, 0, -5]})
        .select(pl.corr("a", "b", method="spearman"))
        .item()
    )
    assert math.isnan(per["spearman"]) is False


def test_the_suggestion_file_is_a_criteria_section(config, tmp_path):
    result = run_backtest(history(), config, horizon=6)
    text = suggestion_yaml(result.suggestion, config, ["backtest of 4 snapshots"])
    (tmp_path / "scoring.yaml").write_text(text)
    loaded = load_scoring_config(tmp_path)  # a valid scoring.yaml section, over the default
    assert max(loaded.weights, key=loaded.weights.get) == "engagement"
    assert "NOT applied" in text


def test_the_step_reads_of_the_warehouse_what_the_backtest_uses(config, monkeypatch):
    """stored_complete_rows: the reconstructed rows with the horizon complete and the columns run_backtest reads give
    the backtest of the whole table (recorded rows, incomplete windows and other columns there too)."""
    frame = history(accounts=120).with_columns(
        pl.lit("reconstructed").alias("snapshot_source"),
        pl.lit("medium").alias("tier"),
        pl.lit(None, pl.Decimal(38, 2)).alias("billing_after_3m"),
        pl.lit(None, pl.Decimal(38, 2)).alias("billing_after_12m"),
        *(pl.lit(50.0).alias(f"{c}_score") for c in CRITERIA),
    )
    frame = frame.with_columns(  # the last month end: its 6 months not complete yet
        pl.when(pl.col("as_of_date") == DATES[-1])
        .then(None)
        .otherwise(pl.col("billing_after_6m"))
        .alias("billing_after_6m")
    )
    recorded = frame.filter(pl.col("as_of_date") == DATES[0]).with_columns(
        pl.lit("recorded").alias("snapshot_source"), pl.lit(None, pl.Float64).alias("engagement_raw")
    )
    whole = pl.concat([frame, recorded])
    with duckdb.connect() as conn:
        conn.execute("create schema marts")
        conn.register("whole", whole)
        conn.execute("create table marts.account_outcomes as select * from whole")
        horizon, read = stored_complete_rows(conn)
        reconstructed = whole.filter(pl.col("snapshot_source") == "reconstructed")
        assert horizon == default_horizon(reconstructed) == 6
        assert read.height == 120 * 3 and "tier" not in read.columns
        assert run_backtest(read, config, horizon).summary.equals(run_backtest(reconstructed, config, horizon).summary)
        # snapshots above the sample size: the step reads the sample's rows alone, and backtests what the whole
        # table's backtest samples
        monkeypatch.setattr(backtest_rules, "EVAL_ROWS", 50)
        horizon, sample = stored_complete_rows(conn)
    assert 3 * 25 < sample.height < 3 * 60 and sample.columns == read.columns
    expected = prepare(reconstructed, config, horizon)
    assert prepare(sample, config, horizon, sampled=True).equals(expected)
    ours, theirs = run_backtest(sample, config, horizon, sampled=True), run_backtest(reconstructed, config, horizon)
    assert ours.summary.equals(theirs.summary) and ours.accounts == theirs.accounts == sample.height
