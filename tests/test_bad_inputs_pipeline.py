"""The bad inputs that need the whole pipeline, on one shared run (module scope): what reaches the published tables
and the CRM file, the per-file accounting and the gaps an operator accepted; then the same folder without the
acceptance, where the completeness check stops the publication with one line."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import (
    BILLING_COLUMNS,
    CLIENT_COLUMNS,
    SMALL_INPUT_GAPS,
    client,
    line,
    new_dagster_home,
    run_environment,
    small_inputs,
    write_csv,
)

from assets.rules.completeness import accepted_gaps_in_use
from pipelines.automation import full_refresh_tags
from pipelines.commands.cli import describe_failures, run_pipeline
from pipelines.definitions import ALMS_JOB, build_definitions

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
CONTROL_RE2 = r"[\x00-\x1f\x7f-\x9f\x{200b}\x{2028}\x{2029}\x{202a}-\x{202e}\x{2066}-\x{2069}\x{feff}]"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("bad_inputs_pipeline")
    data = small_inputs(root / "inputs")
    write_csv(
        data / "billing" / "2026-03" / "late.csv", BILLING_COLUMNS, [line("nat", "M1", 1, "N2", "2026-03-20", "200.00")]
    )
    write_csv(
        data / "billing" / "zz_faults.csv",
        BILLING_COLUMNS,
        [
            line("nat", "I1", "01", "N1", "2026-01-15", "1000.00"),  # billing/nat.csv row 1 again, as 01
            line("nat", "OLD", 1, "N1", "1901-03-01", "5.00"),
            line("nat", "T1", 1, "N2", "2026-03-01T99:99:99", "7.00"),
            line("nat", "G1", 1, "N2", "2026-03-01 garbage", "9.00"),
        ],
    )
    write_csv(
        data / "clients" / "zz_more.csv",
        CLIENT_COLUMNS,
        [client("loc", "L7", "Umbrella\x00 Ltd", owner_id="S2"), client("loc", "L8", "Initech\tWest\r\nBranch")],
    )
    write_csv(
        data / "billing" / "zz_more.csv",
        BILLING_COLUMNS,
        [line("loc", "U1", 1, "L7", "2026-04-01", "60.00"), line("loc", "U2", 1, "L8", "2026-04-01", "70.00")],
    )
    env = {"ALMS_DATA_DIR": str(data), "ALMS_OUTPUT_DIR": str(root / "output"), "ALMS_ACCEPT_GAPS": SMALL_INPUT_GAPS}
    home = new_dagster_home(root / "dagster_home")
    with run_environment(env, home) as patch:
        success, errors = run_pipeline(quiet=True, log_level="CRITICAL")
        with dg.DagsterInstance.get() as instance:
            check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
                [dg.AssetCheckKey(dg.AssetKey(["marts", "billing_completeness"]), "billing_months_complete")]
            )
        yield {
            "env": env,
            "success": success,
            "errors": errors,
            "output": root / "output",
            "data": data,
            "home": home,
            "check": check,
            "patch": patch,
        }


def published(run: dict, sql: str):
    with duckdb.connect(str(run["output"] / "alms.duckdb"), read_only=True) as conn:
        return conn.sql(sql).fetchall()


def test_the_run_publishes(run):
    assert run["success"], run["errors"]


def test_a_month_folder_is_read_and_accounted(run):
    assert published(
        run,
        "select file_month, rows_read, rows_loaded, billing_loaded from marts.input_files "
        "where source_file = 'billing/2026-03/late.csv'",
    ) == [("2026-03", 1, 1, Decimal("200.00"))]
    # Globex: 800 in billing/nat.csv, 200 in the month folder
    assert published(run, "select billing_12m from marts.accounts where account_id = 'nat:N2'") == [
        (Decimal("1000.00"),)
    ]


def test_bad_lines_are_published_in_the_quarantine_not_in_billing(run):
    assert published(
        run,
        "select source_row, reason, column_name, action from marts.quarantined_rows "
        "where source_file = 'billing/zz_faults.csv' order by source_row",
    ) == [
        (1, "duplicate_line", "line_number", "excluded"),
        (2, "implausible_date", "invoice_date", "excluded"),
        (3, "unparseable_date", "invoice_date", "excluded"),
        (4, "unparseable_date", "invoice_date", "excluded"),
    ]
    assert published(run, "select billing_12m from marts.accounts where account_id = 'loc:L1'") == [
        (Decimal("1650.00"),)
    ]


def test_every_file_is_accounted_row_by_row(run):
    files = published(
        run,
        "select source_file, rows_read, rows_loaded, rows_quarantined, rows_outside_window, quarantine_reasons "
        "from marts.input_files where input_name = 'billing' order by source_file",
    )
    assert files == [
        ("billing/2026-03/late.csv", 1, 1, 0, 0, None),
        ("billing/loc.csv", 3, 3, 0, 0, None),
        ("billing/nat.csv", 7, 5, 0, 2, None),  # 2024-06 and the November line are outside the window
        ("billing/zz_faults.csv", 4, 0, 4, 0, "unparseable_date 2, duplicate_line 1, implausible_date 1"),
        ("billing/zz_more.csv", 2, 2, 0, 0, None),
    ]
    assert all(read == loaded + quarantined + outside for _, read, loaded, quarantined, outside, _ in files)
    assert published(
        run, "select billing_outside_window from marts.input_files where source_file = 'billing/nat.csv'"
    ) == [(Decimal("100049.00"),)]


def test_control_characters_reach_no_published_table_and_no_crm_file(run):
    assert published(
        run,
        "select source_file, source_row, column_name, action from marts.quarantined_rows where reason = 'control_characters' "
        "order by source_row",
    ) == [("clients/zz_more.csv", 1, "name", "kept_cleaned"), ("clients/zz_more.csv", 2, "name", "kept_cleaned")]
    names = {r[0] for r in published(run, "select account_name from marts.accounts")}
    assert {"Umbrella Ltd", "Initech West Branch"} <= names
    with duckdb.connect(str(run["output"] / "alms.duckdb"), read_only=True) as conn:
        text_columns = conn.sql(
            "select table_name, column_name from information_schema.columns where table_schema = 'marts' "
            "and data_type = 'VARCHAR'"
        ).fetchall()
        for table, column in text_columns:
            bad = conn.execute(
                f'select count(*) from marts.{table} where regexp_matches("{column}", ?)', [CONTROL_RE2]
            ).fetchall()[0][0]
            assert bad == 0, (table, column)
    crm = (run["output"] / "crm" / "alms_crm_import_2026-10-31.csv").read_text(encoding="utf-8")
    assert "Umbrella Ltd" in crm and "Initech West Branch" in crm
    assert not CONTROL.search(crm.replace("\n", ""))


def test_the_accepted_gaps_are_recorded_in_the_table_the_metadata_and_for_the_publisher(run):
    accepted = published(
        run,
        "select source_system, strftime(month_start_date, '%Y-%m'), status, accepted_by from marts.billing_completeness "
        "where accepted_by is not null and status <> 'ok' order by 1, 2 limit 2",
    )
    # loc bills in 2026-02 and 2026-04 only: 2026-03 and every month after April are missing, accepted
    assert accepted == [("loc", "2026-03", "missing", "loc:2015-01.."), ("loc", "2026-05", "missing", "loc:2015-01..")]
    assert not published(run, "select count(*) from marts.billing_completeness where is_blocking")[0][0]
    with duckdb.connect(str(run["output"] / "alms.duckdb"), read_only=True) as conn:
        for_the_publisher = accepted_gaps_in_use(conn)
    assert {
        "input": "billing",
        "source_system": "loc",
        "month": "2026-03",
        "status": "missing",
        "accepted_by": "loc:2015-01..",
    } in for_the_publisher
    metadata = run["check"][dg.AssetCheckKey(dg.AssetKey(["marts", "billing_completeness"]), "billing_months_complete")]
    evaluation = metadata.event.dagster_event.event_specific_data
    assert evaluation.passed
    assert evaluation.metadata["accept_gaps_setting"].value == SMALL_INPUT_GAPS
    assert len(evaluation.metadata["accepted_gaps"].value) == len(
        [g for g in for_the_publisher if g["input"] == "billing"]
    )


def test_without_the_acceptance_a_gap_stops_the_publication_in_one_line(run):
    """The same folder without ALMS_ACCEPT_GAPS: only the steps the gap check needs, and the publication, run again;
    the check fails and the published file stays as it was."""
    before = (run["output"] / "alms.duckdb").read_bytes()
    env = {**run["env"], "ALMS_ACCEPT_GAPS": ""}
    job = build_definitions(env).resolve_job_def(ALMS_JOB)
    selection = [
        key
        for key in job.asset_layer.executable_asset_keys
        if key.path[0] in ("raw", "staging") or key.path[-1] in ("billing_completeness", "publication")
    ]
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            asset_selection=selection,
            tags=full_refresh_tags(Path(env["ALMS_DATA_DIR"])),
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )
    errors = describe_failures(result)
    assert not result.success
    gap_lines = [e for e in errors if e.startswith("check marts/billing_completeness:")]
    assert len(gap_lines) == 1 and "\n" not in gap_lines[0], errors
    # nat bills in 2026-01, 03, 05 and 06 (and the month folder in 03); loc in 2026-02 and 04: months in order
    assert gap_lines[0].startswith(
        "check marts/billing_completeness:billing_months_complete failed: nat has no billing in 2026-02 (it had some "
        "in the months before); loc has no billing in 2026-03 (it had some in the months before); "
    ), gap_lines[0]
    assert gap_lines[0].endswith(
        "loc has no billing in 2026-06 (it had some in the months before); and 9 more gaps "
        "(marts.billing_completeness); if the data is complete, accept with ALMS_ACCEPT_GAPS=nat:2026-02,loc:2026-03,"
        "nat:2026-04,loc:2026-05,loc:2026-06,nat:2026-06,loc:2026-07,nat:2026-07,loc:2026-08,nat:2026-08,loc:2026-09,"
        "nat:2026-09,loc:2026-10,nat:2026-10 "
        "(a system that stopped: ALMS_ACCEPT_GAPS=<system>:<first month>..)"
    ), gap_lines[0]
    # the check's step stopped with that line (assets/checks.py): no second line saying a blocking check failed
    assert errors == gap_lines, errors
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_failure_data.user_failure_data.description == gap_lines[0].split(" failed: ", 1)[1]
    assert (run["output"] / "alms.duckdb").read_bytes() == before


def test_the_accounting_check_fails_when_a_file_loses_a_row(run):
    """The blocking check recomputes each file's rows from the raw tables: a row gone from the quarantine (or a file's
    row counts that no longer add up) fails it, naming the file. Run on a copy of the run's warehouse."""
    import shutil

    from assets.checks import evaluate, every_input_row_accounted
    from assets.resources import Warehouse

    copy = run["output"].parent / "warehouse_copy.duckdb"
    shutil.copy(run["output"] / "work" / "warehouse.duckdb", copy)
    warehouse = Warehouse(path=str(copy))
    assert evaluate(every_input_row_accounted, warehouse=warehouse).passed
    with duckdb.connect(str(copy)) as conn:
        conn.execute(
            "delete from marts.quarantined_rows where source_file = 'billing/zz_faults.csv' and source_row = 2"
        )
    result = evaluate(every_input_row_accounted, warehouse=warehouse)
    assert not result.passed
    assert result.description == (
        "billing/zz_faults.csv: 4 rows in the raw table, 4 read = 0 loaded + 4 quarantined + 0 outside the window, "
        "3 excluded in marts.quarantined_rows"
    )
    with duckdb.connect(str(copy)) as conn:
        conn.execute("delete from raw.billing_lines where source_file = 'billing/loc.csv' and source_row = 1")
    result = evaluate(every_input_row_accounted, warehouse=warehouse)
    assert not result.passed and "(1 more files like it)" in result.description
