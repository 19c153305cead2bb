"""Review periods over 18+ months of demo data: the level frozen between reviews, a new level at the next review,
history and the change log with reasons, idempotent re-runs, and an audited re-run on corrected data."""

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import BILLING_COLUMNS, line, run_in_memory, write_csv

from assets.rules.reviews import review_period
from pipelines.commands.demo_data import SYSTEMS, generate_demo_data


@pytest.mark.parametrize(
    ("as_of", "months", "start_month", "period"),
    [
        (dt.date(2026, 3, 31), 6, 1, (dt.date(2026, 1, 1), dt.date(2026, 6, 30))),
        (dt.date(2026, 7, 1), 6, 1, (dt.date(2026, 7, 1), dt.date(2026, 12, 31))),
        (dt.date(2026, 3, 31), 12, 4, (dt.date(2025, 4, 1), dt.date(2026, 3, 31))),
        (dt.date(2026, 4, 1), 12, 4, (dt.date(2026, 4, 1), dt.date(2027, 3, 31))),
        (dt.date(2026, 1, 15), 6, 10, (dt.date(2025, 10, 1), dt.date(2026, 3, 31))),
    ],
)
def test_review_period(as_of, months, start_month, period):
    found = review_period(as_of, months, start_month)
    assert (found.start, found.end) == period


def published(env: dict, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(Path(env["ALMS_OUTPUT_DIR"]) / "alms.duckdb"), read_only=True) as conn:
        return conn.sql(sql).pl()


def run_at(monkeypatch, as_of: str, reason: str = "") -> None:
    monkeypatch.setenv("ALMS_AS_OF", as_of)
    monkeypatch.setenv("ALMS_REVIEW_REASON", reason)
    success, errors = run_in_memory()
    assert success, errors


@pytest.mark.slow
def test_two_reviews_over_eighteen_months(pipeline_env, tmp_path, monkeypatch):
    data_dir = Path(pipeline_env["ALMS_DATA_DIR"])
    for path in data_dir.iterdir():  # replace the small inputs by 20 months of demo data
        if path.is_dir():
            for child in path.iterdir():
                child.unlink()
            path.rmdir()
        else:
            path.unlink()
    # 250 client records keep the five runs cheap; each system then bills too few invoices for every month to look
    # complete, which is accepted here (the completeness check has its own tests)
    generate_demo_data(data_dir, clients=250, seed=5, months=20, faults=False)
    monkeypatch.setenv("ALMS_ACCEPT_GAPS", ",".join(f"{system}:2015-01.." for system in SYSTEMS))
    monkeypatch.setenv("ALMS_REVIEW_MONTHS", "6")
    monkeypatch.setenv("ALMS_REVIEW_START_MONTH", "1")
    # the outcomes of past month ends are another scenario's (tests/test_outcomes_pipeline.py): recorded snapshots only
    monkeypatch.setenv("ALMS_OUTCOME_MONTHS", "0")

    run_at(monkeypatch, "2026-03-31")  # bootstrap: period 2026-01-01 .. 2026-06-30
    first = published(pipeline_env, "select * from marts.key_levels").row(0, named=True)
    assert first["review_kind"] == "bootstrap" and first["review_period_start_date"] == dt.date(2026, 1, 1)

    run_at(monkeypatch, "2026-05-31")  # same period: the level stays frozen while billing moves
    accounts = published(pipeline_env, "select * from marts.accounts")
    assert set(accounts["key_level"]) == {first["key_level"]}
    assert accounts.filter(pl.col("is_key_account"))["billing_12m"].min() >= first["key_level"]
    moved = accounts.filter(pl.col("is_key_account") != pl.col("is_key_at_next_review")).height
    assert moved > 0  # accounts that crossed the frozen level either way show up
    levels = published(pipeline_env, "select * from marts.key_levels")
    assert levels.height == 1 and levels["key_level"][0] == first["key_level"]
    may = published(pipeline_env, "select * from marts.account_changes where to_as_of_date = '2026-05-31'")
    key_changes = may.filter(pl.col("field") == "is_key_account")
    assert key_changes.height > 0
    assert set(key_changes["reason"]) <= {"billing_crossed_level", "account_merged", "account_split"}

    run_at(monkeypatch, "2026-07-31")  # a new period: a new review, a new level
    levels = published(pipeline_env, "select * from marts.key_levels order by review_period_start_date")
    assert levels["review_period_start_date"].to_list() == [dt.date(2026, 1, 1), dt.date(2026, 7, 1)]
    assert levels["review_kind"].to_list() == ["bootstrap", "review"]
    assert levels["is_current"].to_list() == [False, True]
    second_level = levels["key_level"][1]
    assert second_level != first["key_level"]
    july = published(pipeline_env, "select * from marts.account_changes where to_as_of_date = '2026-07-31'")
    assert "new_review_level" in set(july.filter(pl.col("field") == "is_key_account")["reason"])
    assert set(july["from_as_of_date"]) == {dt.date(2026, 5, 31)}

    history = published(
        pipeline_env, "select as_of_date, count(*) as n from marts.account_snapshots group by 1 order by 1"
    )
    # the review's own date again on the same data: the level stays, the snapshot is replaced (not added), the changes
    # are not logged twice and nothing is audited (nothing changed and nobody gave a reason)
    run_at(monkeypatch, "2026-07-31")
    again = published(
        pipeline_env, "select as_of_date, count(*) as n from marts.account_snapshots group by 1 order by 1"
    )
    assert again.equals(history) and again.height == 3
    assert published(pipeline_env, "select key_level from marts.key_levels where is_current").item() == second_level
    assert (
        published(pipeline_env, "select count(*) from marts.account_changes where to_as_of_date = '2026-07-31'").item()
        == july.height
    )
    assert published(pipeline_env, "select count(*) from marts.key_level_reruns").item() == 0

    # corrected data: a large invoice line arrives late for the account at the level; the re-run moves the level
    at_level = published(pipeline_env, "select account_id from marts.accounts where billing_12m = key_level").item()
    system, client_id = published(
        pipeline_env,
        f"select source_system, source_client_id from marts.client_crosswalk where account_id = '{at_level}'",
    ).row(0)
    write_csv(
        data_dir / "billing" / "zz_correction.csv",
        BILLING_COLUMNS,
        [line(system, "CORR-1", 1, client_id, "2026-07-15", "-999999.00")],
    )
    # without a reason: the review is re-run and audited with an automatic one instead of failing key_count_rule (an
    # operator's reason is recorded instead when given: tests/test_bi_readers.py; the rules: test_review_levels.py)
    run_at(monkeypatch, "2026-07-31")
    audit = published(pipeline_env, "select * from marts.key_level_reruns").row(0, named=True)
    assert audit["has_changed"] and audit["old_key_level"] == second_level != audit["new_key_level"]
    assert audit["reason"].startswith("automatic: the review's as-of date 2026-07-31 was run again on changed data")
    current = published(pipeline_env, "select review_kind, key_level from marts.key_levels where is_current").row(0)
    assert current == ("rerun", audit["new_key_level"])
