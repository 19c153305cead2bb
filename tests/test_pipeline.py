"""The whole asset graph materialized into temporary folders, through the same function `make run` uses."""

import json
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from conftest import BILLING_COLUMNS, line, run_in_memory, write_csv

from assets.resources import REPO_ROOT
from pipelines.definitions import ALMS_JOB


def published(env: dict, sql: str):
    with duckdb.connect(str(Path(env["ALMS_OUTPUT_DIR"]) / "alms.duckdb"), read_only=True) as conn:
        return conn.sql(sql).fetchall()


def test_small_inputs_end_to_end(small_run):
    pipeline_env = small_run.env
    accounts = published(
        pipeline_env,
        "select account_id, billing_12m, billing_rank, is_key_account, client_record_count "
        "from marts.accounts order by billing_rank",
    )
    assert accounts == [
        ("loc:L1", Decimal("1650.00"), 1, True, 2),  # Acme: 1000 + 500 USD + 200 CAD * 0.75, two systems
        ("nat:N2", Decimal("800.00"), 2, False, 1),  # the November line is after the as-of date
        ("loc:L9", Decimal("400.00"), 3, False, 1),  # Acme Holdings West: same address and phone, other name
        ("loc:L2", Decimal("75.00"), 4, False, 1),
        ("nat:N3", Decimal("-50.00"), 5, False, 1),  # credit note exceeds invoice: never key, not counted
    ]
    level = published(
        pipeline_env,
        "select as_of_date::varchar, window_start_date::varchar, ranked_accounts, "
        "key_count_rule, key_accounts, key_level from marts.key_levels",
    )
    assert level == [("2026-10-31", "2025-11-01", 4, 1, 1, Decimal("1650.00"))]
    crosswalk = published(
        pipeline_env,
        "select source_system || ':' || source_client_id, account_id, is_primary_record "
        "from marts.client_crosswalk order by 1",
    )
    assert len(crosswalk) == 6 and ("nat:N1", "loc:L1", True) in crosswalk and ("loc:L1", "loc:L1", False) in crosswalk
    lists = published(
        pipeline_env,
        "select seller_name, seller_rank, account_id, designation from marts.seller_account_lists "
        "order by seller_name, seller_rank",
    )
    assert lists == [
        ("(unassigned)", 1, "loc:L9", "secondary"),  # no owner: never a target
        ("Alex Account", 1, "nat:N2", "target"),  # active, not key: recommended (up to 4 per seller)
        ("Alex Account", 2, "loc:L2", "target"),
        ("Sam Seller", 1, "loc:L1", "key"),  # Acme's primary record is nat:N1 (the bigger biller), owned by S1
        ("Sam Seller", 2, "nat:N3", "secondary"),  # net credit, no open deal: inactive, not a target
    ]
    scores = published(pipeline_env, "select account_id, status, tier, config_version from marts.account_scores")
    assert len(scores) == 5 and {s[1] for s in scores} == {"active", "inactive"}
    assert all(s[3].startswith("default-") for s in scores)
    crm = pl.read_csv(Path(pipeline_env["ALMS_OUTPUT_DIR"]) / "crm" / "alms_crm_import_2026-10-31.csv")
    assert crm.height == 5 and set(crm["designation"]) == {"key", "target", "secondary"}
    assert crm.filter(pl.col("alms_id") == "loc:L1")["source_ids"].item() == "loc:L1;nat:N1"
    # a plain select * gives BI readers the published order
    assert [r[0] for r in published(pipeline_env, "select billing_rank from marts.accounts")] == [1, 2, 3, 4, 5]
    output = Path(pipeline_env["ALMS_OUTPUT_DIR"])
    for table in ("accounts", "key_levels", "seller_account_lists", "client_crosswalk", "quarantined_rows"):
        assert (
            pl.read_parquet(output / "parquet" / f"{table}.parquet").height
            == published(pipeline_env, f"select count(*) from marts.{table}")[0][0]
        )
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["tables"]["marts.accounts"] == 5 and manifest["as_of_date"] == "2026-10-31"
    assert not list(output.glob(".*.tmp")) and not list((output / "parquet").glob(".*.tmp"))


def test_bad_billing_lines_are_quarantined_with_reasons_and_counted(pipeline_env, inputs_dir):
    write_csv(
        inputs_dir / "billing" / "nat_late.csv",
        BILLING_COLUMNS,
        [
            line("nat", "B1", 1, "N1", "2026-13-01", "10.00"),
            line("nat", "B2", 1, "N1", "2026-01-01", "ten"),
            line("nat", "B3", 1, "N1", "2026-01-01", "10.00", "XYZ"),
            line("nat", "B4", 1, "N404", "2026-01-01", "10.00"),
            line(
                "nat", "I1", 1, "N1", "2026-01-15", "1000.00"
            ),  # repeats billing/nat.csv row 1 (files are read in name order)
            line("nat", "B5", 1, "N1", "2026-01-01", "5000000000.00"),
        ],
    )
    success, errors = run_in_memory(log_level="WARNING")
    assert success, errors
    rows = published(
        pipeline_env,
        "select source_file, source_row, reason, column_name from marts.quarantined_rows "
        "where input_name = 'billing' order by source_row",
    )
    assert rows == [
        ("billing/nat_late.csv", 1, "unparseable_date", "invoice_date"),
        ("billing/nat_late.csv", 2, "unparseable_amount", "amount"),
        ("billing/nat_late.csv", 3, "unknown_currency", "currency"),
        ("billing/nat_late.csv", 4, "unknown_client", "source_client_id"),
        ("billing/nat_late.csv", 5, "duplicate_line", "line_number"),
        ("billing/nat_late.csv", 6, "absurd_amount", "amount"),
    ]
    # billing is unchanged: nothing from the bad file reached an account
    assert published(pipeline_env, "select billing_12m from marts.accounts where account_id = 'loc:L1'") == [
        (Decimal("1650.00"),)
    ]


def test_a_failing_run_names_the_problem_and_leaves_published_tables_intact(published_env, inputs_dir):
    pipeline_env = published_env
    output = Path(pipeline_env["ALMS_OUTPUT_DIR"])
    before = (output / "alms.duckdb").read_bytes()
    write_csv(
        inputs_dir / "billing" / "broken.csv",
        [c for c in BILLING_COLUMNS if c != "amount"],
        [["nat", "X", "1", "N1", "2026-01-01", "USD"]],
    )
    success, errors = run_in_memory()
    assert not success
    assert any("billing/broken.csv: required column amount is missing" in e for e in errors), errors
    assert (output / "alms.duckdb").read_bytes() == before


def test_no_billing_in_the_window_is_a_clear_message(pipeline_env, inputs_dir):
    for path in (inputs_dir / "billing").iterdir():
        path.unlink()
    write_csv(
        inputs_dir / "billing" / "credit.csv", BILLING_COLUMNS, [line("nat", "C1", 1, "N1", "2026-01-31", "-10.00")]
    )
    success, errors = run_in_memory()
    assert not success
    assert any("no account has positive 12-month billing" in e for e in errors), errors
    assert not (Path(pipeline_env["ALMS_OUTPUT_DIR"]) / "alms.duckdb").exists()


def test_a_failing_blocking_check_stops_publishing(pipeline_env, monkeypatch):
    import assets.marts
    from assets.rules.key_accounts import designate_key_accounts

    def wrong_flags(accounts, key_share):
        ranked, cut = designate_key_accounts(accounts, key_share)
        return ranked.with_columns(pl.lit(True).alias("is_key_account")), cut

    monkeypatch.setattr(assets.marts, "designate_key_accounts", wrong_flags)
    success, errors = run_in_memory()
    assert not success
    assert any("key_count_rule failed" in e for e in errors), errors
    assert not (Path(pipeline_env["ALMS_OUTPUT_DIR"]) / "alms.duckdb").exists()


def test_metadata_and_column_descriptions_reach_the_catalog(small_run):
    import dagster as dg

    with small_run.instance() as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["marts", "accounts"]))
        metadata = event.asset_materialization.metadata
        assert metadata["dagster/row_count"].value == 5
        columns = {c.name: c.description for c in metadata["dagster/column_schema"].schema.columns}
        assert "top-down" in columns["billing_rank"]
        matched = instance.get_latest_materialization_event(dg.AssetKey(["intermediate", "int_clients_matched"]))
        assert matched.asset_materialization.metadata["records_in"].value == 6
        assert matched.asset_materialization.metadata["accounts_out"].value == 5
        aggregated = instance.get_latest_materialization_event(
            dg.AssetKey(["intermediate", "int_accounts_aggregated"])
        ).asset_materialization.metadata
        billing = aggregated["dagster/column_lineage"].column_lineage.deps_by_column["billing_12m"]
        assert billing == [dg.TableColumnDep(["intermediate", "int_billing_lines_windowed"], "billing_amount")]


def test_workspace_yaml_loads_the_definitions():
    """What `dagster definitions validate -w workspace.yaml` checks, in this process (the CLI starts a code server
    process, ~8 CPU s): the workspace names a module, from the checkout, whose Definitions load and validate. The
    UI test (tests/test_ui.py) starts the webserver on workspace.yaml itself."""
    import importlib

    import yaml

    (location,) = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())["load_from"]
    module = location["python_module"]
    assert (REPO_ROOT / module["working_directory"]).resolve() == REPO_ROOT.resolve()
    definitions = importlib.import_module(module["module_name"]).defs
    dg.Definitions.validate_loadable(definitions)
    assert definitions.resolve_job_def(ALMS_JOB).name == "alms"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ALMS_KEY_SHARE", "1.5", "ALMS_KEY_SHARE: key_share must be greater than 0"),
        ("ALMS_AS_OF", "31/10/2026", "ALMS_AS_OF='31/10/2026' is not a date"),
        ("ALMS_REPORTING_CURRENCY", "dollars", "is not an ISO 4217 code"),
        ("ALMS_ENGINE", "snowflake", "ALMS_ENGINE='snowflake': use duckdb or spark"),
    ],
)
def test_bad_settings_are_clear_errors(variable, value, message, monkeypatch):
    from assets.resources import SettingsError, settings_from_env

    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        settings_from_env()
