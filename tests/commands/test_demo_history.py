"""The demo with billing history (what `make run` generates): it only adds files, the demo's figures at its as-of date
stay what they are, and its history carries the signal the outcomes and the backtest should see."""

import csv
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.commands.cli import execute_pipeline
from pipelines.commands.demo_data import generate_demo_data


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_history_only_adds_files_and_rows(tmp_path):
    generate_demo_data(tmp_path / "plain", clients=500, seed=3)
    summary = generate_demo_data(tmp_path / "history", clients=500, seed=3, history_months=6)
    plain, history = tree_bytes(tmp_path / "plain"), tree_bytes(tmp_path / "history")
    changed = sorted(name for name, content in plain.items() if history.get(name) != content)
    assert changed == ["fx_rates.csv"]  # rewritten with the earlier months first ...
    assert history["fx_rates.csv"].endswith(plain["fx_rates.csv"].split(b"\n", 1)[1])  # ... and its own rows after
    added = sorted(set(history) - set(plain))
    months = summary["history_months"]
    assert len(months) == 6 and months[-1] == "2025-08"
    assert {f"billing/{s}_{m}.csv" for s in ("nat_erp", "loc_billing", "crm_legacy") for m in months} <= set(added)
    assert "prospects/history_leads.csv" in added and "seller_feedback.csv" in added
    again = generate_demo_data(tmp_path / "again", clients=500, seed=3, history_months=6)
    assert tree_bytes(tmp_path / "again") == history and again["history_billing_lines"] > 0


@pytest.mark.slow
def test_the_demo_with_history_keeps_its_figures_and_shows_its_signal(tmp_path):
    data = tmp_path / "demo"
    generate_demo_data(data, history_months=10)  # what make run generates
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"ALMS_DATA_DIR": data, "ALMS_OUTPUT_DIR": tmp_path / "output", "DAGSTER_HOME": home}.items():
            patch.setenv(key, str(value))
        success, errors, _ = execute_pipeline(quiet=True, log_level="CRITICAL")
    assert success, errors
    with duckdb.connect(str(tmp_path / "output" / "alms.duckdb"), read_only=True) as conn:
        level = conn.sql("select * from marts.key_levels where is_current").pl().row(0, named=True)
        accounts = conn.sql("select count(*), count(*) filter (where is_key_account) from marts.accounts").fetchall()[0]
        groups = conn.sql("select * from marts.prioritization_outcomes where is_complete and horizon_months = 6").pl()
        backtest = conn.sql("select * from marts.scoring_backtest where as_of_date is null").pl()
        feedback = conn.sql("select count(*) from marts.seller_feedback").fetchall()[0][0]
    # the figures of the demo without history (tests/test_demo_runs.py)
    assert str(level["key_level"]) == "26419.12" and accounts == (3163, 699)
    assert groups["as_of_date"].n_unique() == 7  # 2025-10-31 .. 2026-04-30 have 6 complete months after them
    mean = dict(
        groups.group_by("group_kind", "group_value")
        .agg(pl.col("median_account_change_share").mean(), pl.col("conversion_share").mean(), pl.col("churn_share").mean())
        .select(pl.concat_str("group_kind", "group_value", separator=":"), pl.struct(pl.exclude("group_kind", "group_value")))
        .iter_rows()
    )  # fmt: skip
    # what the demo's history was built to show: targets grow more, high-tier accounts churn less, recommended leads
    # convert more often
    assert (
        mean["target:target"]["median_account_change_share"] > mean["target:not_target"]["median_account_change_share"]
    )
    assert mean["tier:high"]["churn_share"] < mean["tier:low"]["churn_share"]
    assert mean["lead:recommended"]["conversion_share"] > mean["lead:not_recommended"]["conversion_share"]
    assert set(backtest.filter(pl.col("snapshots") == 7)["ranking"]) >= {"score", "suggested_score", "whitespace"}
    with (data / "seller_feedback.csv").open() as handle:
        assert feedback == sum(1 for _ in csv.DictReader(handle))
