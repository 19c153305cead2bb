"""Outcomes, sellers' feedback, report.html and the backtest command through the whole pipeline.

The small inputs (tests/conftest.py) with two years of monthly billing added (2024-11 .. 2026-10): Globex (nat:N2)
1,000 a month, Initech (nat:N3) 200 a month until June 2025, Umbrella (loc:L2) 50 a month plus 10 more every month,
and Acme (nat:N1, of the account loc:L1) 300 a month from May 2025. One run (as of 2026-10-31) serves the module.
"""

import base64
import datetime as dt
import hashlib
import json
import re
import shutil
import struct
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from conftest import (
    SMALL_INPUT_GAPS,
    between,
    instance_without_event_log,
    line,
    new_dagster_home,
    small_inputs,
    write_csv,
)

from assets.rules.inputs import BILLING, PROSPECTS, SELLER_FEEDBACK
from assets.rules.snapshots import month_end, month_index
from pipelines.commands.cli import describe_failures, execute_pipeline
from pipelines.commands.cli import main as cli_main
from pipelines.definitions import ALMS_JOB, build_definitions
from schemas import PUBLISHED_TABLES

MONTHS = [dt.date(2024 + (10 + i) // 12, (10 + i) % 12 + 1, 1) for i in range(24)]  # 2024-11 .. 2026-10
CAD = Decimal("0.75")  # the small inputs' only rate (2026-02)


def history_lines() -> list[dict]:
    rows = []
    for i, month in enumerate(MONTHS):
        day = month.replace(day=10).isoformat()
        rows.append(line("nat", f"H-N2-{i}", 1, "N2", day, "1000.00"))
        if month < dt.date(2025, 7, 1):
            rows.append(line("nat", f"H-N3-{i}", 1, "N3", day, "200.00"))
        rows.append(line("loc", f"H-L2-{i}", 1, "L2", day, f"{50 + 10 * i}.00"))
        if month >= dt.date(2025, 5, 1):
            rows.append(line("nat", f"H-N1-{i}", 1, "N1", day, "300.00"))
    return rows


def all_billing(data_dir: Path, leave_out: tuple[str, ...] = ()) -> list[tuple[dt.date, Decimal]]:
    """Every line of the input folder as (date, amount in USD): the independent side of the comparison."""
    out = []
    for path in sorted((data_dir / "billing").glob("*.csv")):
        for row in pl.read_csv(path, infer_schema=False).iter_rows(named=True):
            if f"{row['source_system']}:{row['source_client_id']}" in leave_out:
                continue
            amount = Decimal(row["amount"]) * (CAD if row["currency"] == "CAD" else 1)
            out.append((dt.date.fromisoformat(row["invoice_date"]), amount.quantize(Decimal("0.01"))))
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("outcomes")
    data = small_inputs(base / "inputs")
    write_csv(data / "billing" / "history.csv", list(BILLING.columns), history_lines())
    write_csv(
        data / "prospects.csv",
        list(PROSPECTS.columns),
        [
            {
                "prospect_id": "P1",
                "name": "Hooli Inc",
                "industry": "Technology",
                "employee_count": "800",
                "owner_id": "S2",
                "created_date": "2025-01-10",
            },
        ],
    )
    write_csv(
        data / "seller_feedback.csv",
        list(SELLER_FEEDBACK.columns),
        [
            {"owner_id": "S2", "reference": "nat:N2", "verdict": "agree", "date": "2026-03-15"},
            {
                "owner_id": "S2",
                "reference": "nat:N2",
                "verdict": "disagree",
                "reason": "Budget cut",
                "date": "2026-10-31",
            },
            {"owner_id": "S2", "reference": "P1", "verdict": "not_reachable", "date": "2026-06-02"},
        ],
    )
    home = new_dagster_home(base / "dagster_home")
    env = {
        "ALMS_DATA_DIR": str(data),
        "ALMS_OUTPUT_DIR": str(base / "output"),
        "ALMS_ACCEPT_GAPS": SMALL_INPUT_GAPS,
        "DAGSTER_HOME": str(home),
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        success, errors, _ = execute_pipeline(quiet=True, log_level="CRITICAL")
        assert success, errors
        yield {"data": data, "output": base / "output", "env": env, "patch": patch}


def published(run: dict, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(run["output"] / "alms.duckdb"), read_only=True) as conn:
        return conn.sql(sql).pl()


def test_outcomes_are_the_billing_that_followed_each_snapshot(run):
    groups = published(run, "select * from marts.prioritization_outcomes where group_kind = 'all'")
    t = dt.date(2025, 10, 31)
    row = groups.filter((pl.col("as_of_date") == t) & (pl.col("horizon_months") == 12)).row(0, named=True)
    # Acme West (loc:L9) first bills in April 2026 and has no customer_since: in October 2025 it was nobody's client
    lines = all_billing(run["data"], leave_out=("loc:L9",))
    before = sum(a for d, a in lines if dt.date(2024, 11, 1) <= d <= t)
    after = sum(a for d, a in lines if dt.date(2025, 11, 1) <= d <= dt.date(2026, 10, 31))
    assert row["snapshot_source"] == "reconstructed" and row["is_complete"]
    assert row["billing_before_12m"] == before and row["billing_after"] == after
    assert row["members"] == 4 and row["is_small_group"]  # four accounts: every share of them is noise
    assert row["churned_members"] == 1  # Initech stopped in June 2025
    latest = groups.filter(pl.col("as_of_date") == dt.date(2026, 10, 31))
    assert latest["snapshot_source"].unique().to_list() == ["recorded"]  # the run's own snapshot
    assert not latest["is_complete"].any() and latest["billing_after"].null_count() == latest.height
    dates = groups["as_of_date"].unique().sort().to_list()
    assert dates[0] == dt.date(2025, 5, 31) and dates[-1] == dt.date(2026, 10, 31)  # first month with billing: 2024-06


def test_the_backtest_table_has_every_ranking(run):
    table = published(run, "select * from marts.scoring_backtest where as_of_date is null")
    assert {"score", "current_spend", "growth", "likelihood"} <= set(table["ranking"])
    assert table["horizon_months"].unique().to_list() == [6]


def test_feedback_joins_the_snapshot_in_force_that_day(run):
    feedback = published(run, "select * from marts.seller_feedback order by source_row")
    march, october, june = feedback.rows(named=True)
    assert march["snapshot_as_of_date"] == dt.date(2026, 2, 28) and march["snapshot_source"] == "reconstructed"
    with duckdb.connect(str(run["output"] / "work" / "warehouse.duckdb"), read_only=True) as conn:
        then = conn.sql(
            "select tier, priority_score from marts.account_outcomes "
            "where as_of_date = '2026-02-28' and account_id = 'nat:N2'"
        ).fetchall()
    assert (march["tier"], march["priority_score"]) == then[0]
    recorded = published(
        run,
        "select tier, priority_score from marts.account_snapshots where as_of_date = '2026-10-31' "
        "and account_id = 'nat:N2'",
    )
    assert october["snapshot_source"] == "recorded" and (october["tier"], october["priority_score"]) == recorded.row(0)
    assert october["top_criterion"] is not None
    assert june["reference_type"] == "prospect" and june["snapshot_as_of_date"] == dt.date(2026, 5, 31)
    assert june["designation"] in ("lead", "prospect") and june["priority_score"] is not None
    summary = published(run, "select * from marts.seller_feedback_counts where dimension = 'seller'")
    assert dict(summary.select("verdict", "feedback_rows").iter_rows()) == {
        "agree": 1,
        "disagree": 1,
        "not_reachable": 1,
        "all": 3,
    }


def test_the_publication_holds_a_report(run):
    manifest = json.loads((run["output"] / "manifest.json").read_text())
    report = run["output"] / "current" / manifest["report_file"]
    text = report.read_text()
    for heading in ("Did the prioritization work?", "Backtest of the decision matrix", "Sellers&#x27; feedback"):
        assert heading in text
    assert "<svg" in text and "2026-10-31" in text
    # the pictures (assets/rules/pictures.py) come first, as PNGs inside the page
    assert text.index("Accounts at a glance") < text.index("Did the prioritization work?")
    for title in ("Billing concentration (Pareto)", "Tier mix per seller", "crossed the key level since the review"):
        assert title in text
    pngs = [base64.b64decode(src) for src in re.findall(r'src="data:image/png;base64,([^"]+)"', text)]
    assert len(pngs) == 3 and all(png[:8] == b"\x89PNG\r\n\x1a\n" for png in pngs)
    assert {struct.unpack(">II", png[16:24]) for png in pngs} == {(800, 450)}


def test_the_asset_pages_show_tables_and_charts(run):
    """What the Dagster UI shows on the asset pages: Markdown with a table and an inline SVG chart."""
    with dg.DagsterInstance.get() as instance:
        shown = {}
        for key, entry in (
            (["marts", "prioritization_outcomes"], "outcomes"),
            (["marts", "scoring_backtest"], "backtest"),
            (["marts", "seller_feedback_counts"], "feedback"),
        ):
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
            shown[entry] = event.asset_materialization.metadata[entry]
    for entry, value in shown.items():
        assert isinstance(value, dg.MarkdownMetadataValue), entry
        assert "| --- |" in value.md_str, entry
    for entry in ("outcomes", "backtest"):
        assert "](data:image/svg+xml;base64," in shown[entry].md_str, entry


def test_the_backtest_command_publishes_nothing(run, capsys, tmp_path):
    output = run["output"]
    watched = [
        output / "alms.duckdb",
        output / "work" / "warehouse.duckdb",
        *sorted((output / "parquet").rglob("*.parquet")),
        output / "current" / "report.html",
    ]
    before = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in watched}
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(
        "criteria:\n  growth: {weight: 1.0}\n  current_spend: {weight: 0.0}\nwallet:\n  default_per_employee: 100\n"
    )
    assert cli_main(["backtest", "--config", str(candidate), "--horizon", "3", "--name", "test"]) == 0
    out = capsys.readouterr().out
    assert (
        f"on the publication as of 2026-10-31 (run {json.loads((output / 'manifest.json').read_text())['run_id'][:8]}"
        in out
    )
    assert "snapshots with 3 complete months after them" in out
    assert "the config in force" in out and "the candidate changes wallet" in out
    assert {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in watched} == before
    folder = output / "backtest" / "test"
    summary = pl.read_csv(folder / "summary.csv")
    assert {"score", "growth"} <= set(summary["ranking"])
    assert "criteria:" in (folder / "suggested_scoring.yaml").read_text()
    assert cli_main(["backtest", "--horizon", "5"]) == 2
    assert "--horizon must be one of 3, 6, 12" in capsys.readouterr().err


def test_the_backtest_before_any_run_is_a_clear_error(pipeline_env, capsys):
    assert cli_main(["backtest"]) == 2
    assert "nothing published yet; run the pipeline once" in capsys.readouterr().err


def test_a_bad_feedback_file_stops_the_run_naming_file_row_and_seller(run, tmp_path):
    """On copies of the module run's inputs and output, only the feedback assets run again (not the whole pipeline)."""
    data = shutil.copytree(run["data"], tmp_path / "inputs")
    output = shutil.copytree(run["output"], tmp_path / "output", symlinks=True)
    write_csv(
        data / "seller_feedback.csv",
        list(SELLER_FEEDBACK.columns),
        [
            {"owner_id": "S1", "reference": "nat:N1", "verdict": "agree", "date": "2026-10-01"},
            {"owner_id": "S1", "reference": "nat:N2", "verdict": "perhaps", "date": "2026-10-01"},
        ],
    )
    environ = {**run["env"], "ALMS_DATA_DIR": str(data), "ALMS_OUTPUT_DIR": str(output)}
    job = build_definitions(environ).resolve_job_def(ALMS_JOB)
    feedback_assets = [["raw", "seller_feedback"], ["marts", "seller_feedback"], ["marts", "seller_feedback_counts"]]
    with instance_without_event_log() as instance:
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, asset_selection=[dg.AssetKey(k) for k in feedback_assets]
        )
    assert not result.success
    text = "\n".join(describe_failures(result))
    assert "seller_feedback.csv: sellers' feedback rejected (1 problem):" in text, text
    assert "seller_feedback.csv row 2 (seller S1): verdict 'perhaps' is not one of" in text


def test_every_published_order_of_these_tables_ends_in_a_unique_key(run):
    review_tables = {"prioritization_outcomes", "scoring_backtest", "seller_feedback", "seller_feedback_counts"}
    for table, order_by in {t: o for t, o in PUBLISHED_TABLES.items() if t[1] in review_tables}.items():
        columns = ", ".join(part.split()[0] for part in order_by.split(","))
        rows, distinct = published(run, f"select count(*), count(distinct ({columns})) from {'.'.join(table)}").row(0)
        assert rows > 0 and rows == distinct, (table, rows, distinct)


def test_the_window_check_fails_on_a_window_published_as_zero(run):
    """The blocking check recomputes which windows are complete: run on a copy of the run's warehouse, it passes, and
    fails when an incomplete window gets a number or a complete one is marked incomplete."""
    from assets.checks import evaluate
    from assets.outcomes import outcome_windows_complete_or_null
    from assets.resources import Warehouse

    copy = run["output"].parent / "warehouse_outcomes_copy.duckdb"
    shutil.copy(run["output"] / "work" / "warehouse.duckdb", copy)
    warehouse = Warehouse(path=str(copy))
    assert evaluate(outcome_windows_complete_or_null, warehouse=warehouse).passed
    with duckdb.connect(str(copy)) as conn:
        conn.execute(
            "update marts.prioritization_outcomes set billing_after = 0 where as_of_date = '2026-10-31' "
            "and population = 'accounts' and group_kind = 'all'"
        )
        conn.execute(
            "update marts.prioritization_outcomes set is_complete = false where as_of_date = '2025-10-31' "
            "and population = 'accounts' and group_kind = 'all' and horizon_months = 3"
        )
    result = evaluate(outcome_windows_complete_or_null, warehouse=warehouse)
    assert not result.passed
    assert result.description == (
        "1 rows say complete when their window is not (or the reverse), 4 incomplete rows carry an outcome, "
        "0 complete rows lack one"
    )


def test_a_run_keeps_unchanged_month_ends_and_a_backfill_recomputes_them(run, tmp_path):
    """A second run on the same data keeps every reconstructed month end (and publishes the same outcomes); a late
    invoice of an old month changes the inputs of every month end after it: none is kept, and the outcomes show it."""
    copies = {name: tmp_path / name for name in ("inputs", "output")}
    shutil.copytree(run["data"], copies["inputs"])
    shutil.copytree(run["output"], copies["output"], symlinks=True)
    env = {**run["env"], "ALMS_DATA_DIR": str(copies["inputs"]), "ALMS_OUTPUT_DIR": str(copies["output"])}
    tables = ("account_outcomes", "lead_outcomes", "prioritization_outcomes")
    # only the steps from the billing lines to these tables (the rest of the graph reads nothing new)
    selection = between("raw/billing_lines", *(f"marts/{table}" for table in tables))

    def outcomes_tables() -> dict[str, pl.DataFrame]:
        with duckdb.connect(str(copies["output"] / "work" / "warehouse.duckdb"), read_only=True) as conn:
            return {t: conn.sql(f"select * from marts.{t} order by all").pl() for t in tables}

    def again(reuse: bool = True) -> dict:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            patch.setenv("ALMS_REUSE_UNCHANGED", "1" if reuse else "0")
            with instance_without_event_log(keep_materializations=True) as instance:
                success, errors, run_id = execute_pipeline(
                    quiet=True, log_level="CRITICAL", instance=instance, selection=selection
                )
                assert success, errors
                event = instance.get_latest_materialization_event(dg.AssetKey(["marts", "prioritization_outcomes"]))
        assert event.run_id == run_id
        return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}

    first = outcomes_tables()
    kept = again()
    assert (kept["reconstructed_month_ends"], kept["month_ends_kept"]) == (18, 18)  # 2025-05-31 .. 2026-10-31
    assert kept["month_end_outcomes_kept"] == 18
    second = outcomes_tables()
    for table in tables:
        assert second[table].equals(first[table]), table
    # one more line in October 2026, the run's last month: every month end before it is kept, and the outcomes of
    # all but those whose 3-, 6- or 12-month window ends with it (2025-10-31, 2026-04-30, 2026-07-31) and its own
    # (the others' windows either end before it or are not complete either way); the same tables as computing them all
    write_csv(
        copies["inputs"] / "billing" / "october.csv",
        list(BILLING.columns),
        [line("nat", "OCT-1", 1, "N2", "2026-10-20", "700.00")],
    )
    october = again()
    assert (october["month_ends_kept"], october["month_end_outcomes_kept"]) == (17, 14)
    # of the four computed, the three whose window ends with October compute that window alone (the rows kept)
    assert (october["dates_computed"], october["dates_with_windows_computed"]) == (4, 3)
    kept_tables = outcomes_tables()
    assert again(reuse=False)["month_ends_kept"] == 0
    for table in tables:
        assert kept_tables[table].equals(outcomes_tables()[table]), table
    assert not kept_tables["prioritization_outcomes"].equals(second["prioritization_outcomes"])  # not vacuous
    second = outcomes_tables()
    # a late invoice of November 2024, the first month of the history: Globex billed 5,000 more then
    write_csv(
        copies["inputs"] / "billing" / "late.csv",
        list(BILLING.columns),
        [line("nat", "LATE-1", 1, "N2", "2024-11-20", "5000.00")],
    )
    backfilled = again()
    assert backfilled["month_ends_kept"] == 0
    third = outcomes_tables()
    keys = ["as_of_date", "snapshot_source", "account_id"]
    globex = (
        third["account_outcomes"].join(second["account_outcomes"], on=keys).filter(pl.col("account_id") == "nat:N2")
    )
    more = globex.filter(pl.col("billing_12m") != pl.col("billing_12m_right"))
    assert (more["billing_12m"] - more["billing_12m_right"]).to_list() == [Decimal("5000.00")] * more.height
    # the month ends whose 12 months hold November 2024: 2025-05-31 .. 2025-10-31
    assert more["as_of_date"].unique().sort().to_list() == [
        dt.date(2025, m, 31 if m in (5, 7, 8, 10) else 30) for m in range(5, 11)
    ]
    # fewer month ends (ALMS_OUTCOME_MONTHS=6): the 6 most recent and the earlier ones of their review period (the
    # calendar year: from 2026-01-31); the older dates' rows go, and the tables are what computing them gives
    env["ALMS_OUTCOME_MONTHS"] = "6"
    fewer = again()
    assert (fewer["reconstructed_month_ends"], fewer["dates_computed"]) == (10, 10)
    six = outcomes_tables()
    assert six["account_outcomes"]["as_of_date"].unique().sort().to_list() == [
        month_end(month_index(dt.date(2026, 1, 31)) + m) for m in range(10)
    ]
    assert again()["dates_computed"] == 0  # nothing changed since
    # a run that stops after writing the rows but before marking them computes every date again the next time
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.setattr("assets.rules.kept_month_ends.record", lambda *args: (_ for _ in ()).throw(OSError("stopped")))
        with instance_without_event_log() as instance:
            success, _, _ = execute_pipeline(quiet=True, log_level="CRITICAL", instance=instance, selection=selection)
    assert not success
    resumed = again()
    assert (resumed["month_ends_kept"], resumed["dates_computed"]) == (0, 10)
    assert again(reuse=False)["dates_computed"] == 10
    for table in tables:
        assert outcomes_tables()[table].equals(six[table]), table
    # the month before's run (as of 2026-09-30): its 6 most recent month ends start in the same review period, so the
    # same first month end; every one is kept (a start one month earlier would have made every one computed again)
    env["ALMS_AS_OF"] = "2026-09-30"
    earlier = again()
    assert (earlier["reconstructed_month_ends"], earlier["month_ends_kept"]) == (9, 9)
