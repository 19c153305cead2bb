"""Review periods over 18+ months of demo data: the level frozen between reviews, a new level at the next review,
history and the change log with reasons, idempotent re-runs, and an audited re-run on corrected data."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import BILLING_COLUMNS, line, run_in_memory, write_csv

from assets.rules.reviews import review_period
from pipelines.commands.demo_data import generate_demo_data


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
    # 600 client records keep the five runs cheap; the small legacy system then bills too few invoices for every month
    # to look complete, which is accepted here (the completeness check has its own tests)
    generate_demo_data(data_dir, clients=600, seed=5, months=20, faults=False)
    legacy_gaps = "crm_legacy:2015-01.."
    monkeypatch.setenv("ALMS_ACCEPT_GAPS", legacy_gaps)
    monkeypatch.setenv("ALMS_REVIEW_MONTHS", "6")
    monkeypatch.setenv("ALMS_REVIEW_START_MONTH", "1")

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
    # the review's own date again on the same data, with an operator's reason: the level stays, the snapshot is
    # replaced (not added), the changes are not logged twice, and the re-run is audited as unchanged (the same re-run
    # without a reason, audited by nobody, is tests/rules/test_review_levels.py's and the small inputs' test below)
    run_at(monkeypatch, "2026-07-31", reason="same data, checked")
    again = published(
        pipeline_env, "select as_of_date, count(*) as n from marts.account_snapshots group by 1 order by 1"
    )
    assert again.equals(history) and again.height == 3
    assert published(pipeline_env, "select key_level from marts.key_levels where is_current").item() == second_level
    assert (
        published(pipeline_env, "select count(*) from marts.account_changes where to_as_of_date = '2026-07-31'").item()
        == july.height
    )
    audit = published(pipeline_env, "select * from marts.key_level_reruns")
    assert audit.height == 1 and not audit["has_changed"][0] and audit["new_key_level"][0] == second_level
    assert audit["reason"][0] == "same data, checked"

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
    # the credit note takes the system's July below half its usual billing: a gap the completeness check stops on
    # unless accepted (docs/inputs.md)
    monkeypatch.setenv("ALMS_ACCEPT_GAPS", legacy_gaps + ("" if system == "crm_legacy" else f",{system}:2026-07"))
    run_at(monkeypatch, "2026-07-31", reason="credit note booked late")
    audit = published(pipeline_env, "select * from marts.key_level_reruns order by rerun_at")
    assert audit.height == 2 and audit["has_changed"][1] and audit["reason"][1] == "credit note booked late"
    assert audit["old_key_level"][1] == second_level != audit["new_key_level"][1]
    current = published(pipeline_env, "select review_kind, key_level from marts.key_levels where is_current").row(0)
    assert current == ("rerun", audit["new_key_level"][1])


def test_the_reviews_own_date_on_corrected_data_reruns_the_review(pipeline_env, inputs_dir, monkeypatch):
    """A CAD line of March has no rate (quarantined); the rate is added and the same as-of date run again: the level
    is recomputed and audited with an automatic reason instead of failing key_count_rule. Once more with the same
    data: nothing recomputed, nothing audited."""
    write_csv(
        inputs_dir / "billing" / "loc_march.csv",
        BILLING_COLUMNS,
        [line("loc", "A9", 1, "L2", "2026-03-15", "3000.00", "CAD")],
    )
    run_at(monkeypatch, "2026-10-31")
    assert published(pipeline_env, "select key_level from marts.key_levels").item() == Decimal("1650.00")
    write_csv(
        inputs_dir / "fx_rates.csv",
        ["currency", "month", "rate_to_reporting"],
        [["CAD", "2026-02", "0.75"], ["CAD", "2026-03", "0.75"]],
    )
    run_at(monkeypatch, "2026-10-31")  # no ALMS_REVIEW_REASON
    audit = published(pipeline_env, "select * from marts.key_level_reruns").row(0, named=True)
    assert audit["old_key_level"] == Decimal("1650.00") and audit["new_key_level"] == Decimal("2325.00")
    assert audit["has_changed"] and audit["reason"].startswith(
        "automatic: the review's as-of date 2026-10-31 was run again"
    )
    assert "key level 1,650.00 -> 2,325.00" in audit["reason"]
    level = published(pipeline_env, "select review_kind, key_level from marts.key_levels where is_current").row(0)
    assert level == ("rerun", Decimal("2325.00"))
    run_at(monkeypatch, "2026-10-31")  # the same data again
    assert published(pipeline_env, "select count(*) from marts.key_level_reruns").item() == 1
    assert published(pipeline_env, "select review_kind from marts.key_levels").item() == "rerun"
