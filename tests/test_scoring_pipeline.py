"""The scoring layer through the whole pipeline: deals, prospects, picks, overrides, config errors, what-if.

Accounts of the small inputs (tests/conftest.py): loc:L1 (Acme, key, S1), nat:N2 (Globex, S2), loc:L9 (Acme West,
no owner), loc:L2 (Umbrella, S2), nat:N3 (Initech, net credit, S1).
"""

import hashlib
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import (
    SMALL_INPUT_GAPS,
    SharedRun,
    copy_run_output,
    instance_without_event_log,
    new_dagster_home,
    run_environment,
    run_in_memory,
    small_inputs,
    write_csv,
)

from assets.rules.inputs import ACCOUNT_OVERRIDES, OPPORTUNITIES, PROSPECTS, SELLER_PICKS
from pipelines.commands.cli import execute_pipeline
from pipelines.commands.cli import main as cli_main


def published(env: dict, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(Path(env["ALMS_OUTPUT_DIR"]) / "alms.duckdb"), read_only=True) as conn:
        return conn.sql(sql).pl()


def add_scoring_inputs(data_dir: Path) -> None:
    write_csv(
        data_dir / "opportunities" / "crm.csv",
        list(OPPORTUNITIES.columns),
        [
            {
                "source_system": "nat",
                "opportunity_id": "O1",
                "source_client_id": "N3",
                "stage": "Negotiation",
                "amount": "20000.00",
                "currency": "USD",
                "expected_close_date": "2027-01-15",
            },
            {
                "source_system": "loc",
                "opportunity_id": "O2",
                "source_client_id": "L2",
                "stage": "proposal",
                "amount": "1000.00",
                "currency": "CAD",
                "probability": "40",
            },
            {
                "source_system": "nat",
                "opportunity_id": "O3",
                "source_client_id": "N2",
                "stage": "closed_won",
                "amount": "5000.00",
                "currency": "USD",
            },
            {
                "source_system": "nat",
                "opportunity_id": "O4",
                "source_client_id": "N2",
                "stage": "proposal",
                "amount": "-5.00",
                "currency": "USD",
            },  # negative: quarantined
            {
                "source_system": "nat",
                "opportunity_id": "O5",
                "source_client_id": "N404",
                "stage": "proposal",
                "amount": "5.00",
                "currency": "USD",
            },  # unknown client: quarantined
        ],
    )
    write_csv(
        data_dir / "prospects.csv",
        list(PROSPECTS.columns),
        [
            {
                "prospect_id": "P1",
                "name": "Hooli Inc",
                "industry": "Technology",
                "employee_count": "800",
                "owner_id": "S2",
            },
            {
                "prospect_id": "P2",
                "name": "Vandelay Industries",
                "industry": "Retail",
                "employee_count": "40",
                "owner_id": "S2",
            },
            {"prospect_id": "P3", "name": "ACME Holdings", "domain": "acme.com", "owner_id": "S1"},  # already a client
            {"prospect_id": "P4", "name": "Massive Dynamic", "employee_count": "many", "owner_id": "S1"},
        ],
    )


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> SharedRun:
    """One run on the small inputs with deals, prospects and two picks of Alex (S2): read by the first test, copied by
    the what-if tests."""
    base = tmp_path_factory.mktemp("scored")
    data_dir = small_inputs(base / "inputs")
    add_scoring_inputs(data_dir)
    write_csv(
        data_dir / "seller_picks.csv",
        list(SELLER_PICKS.columns),
        [
            # Umbrella, the lower-ranked of Alex's two active accounts (a pick of Globex would stop the what-if's
            # key share 0.5, which makes Globex key)
            {"owner_id": "S2", "pick_type": "target", "reference": "loc:L2", "note": "renewal due"},
            {"owner_id": "S2", "pick_type": "lead", "reference": "P2"},
        ],
    )
    env = {
        "ALMS_DATA_DIR": str(data_dir),
        "ALMS_OUTPUT_DIR": str(base / "output"),
        "ALMS_ACCEPT_GAPS": SMALL_INPUT_GAPS,
    }
    home = new_dagster_home(base / "dagster_home")
    with run_environment(env, home), instance_without_event_log() as instance:  # no test reads its Dagster records
        success, errors, run_id = execute_pipeline(quiet=True, log_level="WARNING", instance=instance)
    assert success, errors
    return SharedRun(env=env, output=base / "output", home=home, run_id=run_id)


def test_deals_prospects_and_picks_reach_scores_and_lists(scored):
    pipeline_env = scored.env
    scores = published(pipeline_env, "select * from marts.account_scores")
    by_id = {row["account_id"]: row for row in scores.iter_rows(named=True)}
    assert by_id["nat:N3"]["status"] == "pipeline" and by_id["nat:N3"]["open_deals"] == 1
    assert by_id["nat:N3"]["likelihood_score"] == 100  # the largest weighted open deal
    assert by_id["nat:N2"]["likelihood_score"] == 0  # only a closed deal (and a quarantined one)
    for row in by_id.values():  # the contributions explain the whole score
        parts = sum(
            row[f"{c}_contribution"] or 0
            for c in (
                "current_spend",
                "growth",
                "whitespace",
                "likelihood",
                "engagement",
                "icp_fit",
                "tenure",
                "strategic",
            )
        )
        assert abs(parts - row["priority_score"]) < 1e-9
    assert "whitespace" in by_id["nat:N2"]["missing_criteria"]  # no employee count: re-weighted, not zero
    lists = published(pipeline_env, "select * from marts.seller_account_lists")
    alex = lists.filter(pl.col("owner_id") == "S2")
    targets = alex.filter(pl.col("designation") == "target")["account_id"].to_list()
    assert targets == ["loc:L2"]  # Alex's pick wins over the recommendations ...
    globex = alex.filter(pl.col("account_id") == "nat:N2").row(0, named=True)
    assert globex["is_recommended"] and globex["designation"] == "secondary"  # ... which stay visible
    leads = alex.filter(pl.col("row_type") == "lead").select("prospect_id", "designation").rows()
    assert ("P2", "lead") in leads and ("P1", "recommended_lead") in leads
    sam_leads = lists.filter((pl.col("owner_id") == "S1") & (pl.col("row_type") == "lead"))["prospect_id"].to_list()
    assert sam_leads == ["P4"]  # P3 is Acme, already a client
    quarantine = published(
        pipeline_env,
        "select input_name, source_row, reason from marts.quarantined_rows "
        "where input_name in ('opportunities', 'prospects') order by 1, 2",
    ).rows()
    assert quarantine == [
        ("opportunities", 4, "negative_amount"),
        ("opportunities", 5, "unknown_client"),
        ("prospects", 4, "unparseable_value"),
    ]
    crm = pl.read_csv(Path(pipeline_env["ALMS_OUTPUT_DIR"]) / "crm" / "alms_crm_import_2026-10-31.csv")
    assert crm.filter(pl.col("record_type") == "lead")["alms_id"].sort().to_list() == ["P2", "P4"]


BAD_PICKS = [  # (row, what the run's error says about it): each a case of tests/rules/test_designations.py
    ({"owner_id": "S2", "pick_type": "target", "reference": "nat:N3"}, "belongs to S1, not S2"),
    ({"owner_id": "S1", "pick_type": "target", "reference": "loc:L1"}, "already a key account"),
    ({"owner_id": "S9", "pick_type": "target", "reference": "nat:N3"}, "unknown seller 'S9'"),
    ({"owner_id": "S1", "pick_type": "target", "reference": "nat:N99"}, "unknown client record 'nat:N99'"),
    ({"owner_id": "S1", "pick_type": "lead", "reference": "P1"}, "prospect P1 belongs to S2, not S1"),
    ({"owner_id": "S1", "pick_type": "favourite", "reference": "nat:N3"}, "'favourite' is not target or lead"),
]
ELEVEN_LEADS = [{"owner_id": "S2", "pick_type": "lead", "reference": f"P{i}"} for i in range(1, 12)]


@pytest.fixture(scope="module")
def bad_picks_run(tmp_path_factory) -> list[str]:
    """One run whose picks file holds every bad row of BAD_PICKS and then eleven leads of one seller: the errors."""
    base = tmp_path_factory.mktemp("bad_picks")
    data_dir = small_inputs(base / "inputs")
    add_scoring_inputs(data_dir)
    write_csv(
        data_dir / "prospects.csv",
        list(PROSPECTS.columns),
        [{"prospect_id": f"P{i}", "name": f"Prospect {i}", "owner_id": "S2"} for i in range(1, 12)],
    )
    write_csv(data_dir / "seller_picks.csv", list(SELLER_PICKS.columns), [row for row, _ in BAD_PICKS] + ELEVEN_LEADS)
    env = {
        "ALMS_DATA_DIR": str(data_dir),
        "ALMS_OUTPUT_DIR": str(base / "output"),
        "ALMS_ACCEPT_GAPS": SMALL_INPUT_GAPS,
    }
    with run_environment(env, new_dagster_home(base / "dagster_home")):
        success, errors = run_in_memory()
    assert not success
    assert not (base / "output" / "alms.duckdb").exists()  # nothing published
    return errors


@pytest.mark.parametrize(("number", "row", "message"), [(i, row, m) for i, (row, m) in enumerate(BAD_PICKS, start=1)])
def test_a_bad_pick_stops_the_run_naming_row_and_seller(bad_picks_run, number, row, message):
    (line,) = [e for e in bad_picks_run if "seller_picks.csv: sellers' picks rejected" in e]
    assert f"seller_picks.csv row {number} (seller {row['owner_id']}): " in line and message in line, line


def test_too_many_targets_for_one_seller_is_an_error(bad_picks_run):
    rows = ", ".join(str(number) for number in range(len(BAD_PICKS) + 1, len(BAD_PICKS) + 12))
    assert f"seller S2: 11 leads picked (rows {rows}); at most 10 are allowed" in "\n".join(bad_picks_run)


def test_overrides_apply_until_they_expire_and_unknown_ones_are_reported(pipeline_env, inputs_dir):
    write_csv(
        inputs_dir / "overrides.csv",
        list(ACCOUNT_OVERRIDES.columns),
        [
            {
                "source_system": "nat",
                "source_client_id": "N3",
                "field": "tier",
                "value": "high",
                "set_by": "sam@example.com",
                "reason": "board-level relationship",
                "valid_until": "2027-03-31",
            },
            {
                "source_system": "nat",
                "source_client_id": "N1",
                "field": "designation",
                "value": "secondary",
                "set_by": "sam@example.com",
                "reason": "in dispute",
                "valid_until": "2026-06-30",
            },  # expired
            {
                "source_system": "nat",
                "source_client_id": "N2",
                "field": "designation",
                "value": "key",
                "set_by": "alex",
                "reason": "strategic logo",
                "valid_until": "2027-01-01",
            },
            {
                "source_system": "nat",
                "source_client_id": "N77",
                "field": "tier",
                "value": "low",
                "set_by": "alex",
                "reason": "typo in the id",
                "valid_until": "2027-01-01",
            },
        ],
    )
    success, errors = run_in_memory()
    assert success, errors  # not applying an override warns; it does not fail the run
    initech = published(
        pipeline_env,
        "select tier_computed, tier, tier_override_by from marts.account_scores where account_id = 'nat:N3'",
    ).row(0)
    assert initech[1:] == ("high", "sam@example.com") and initech[0] != "high"
    designations = dict(
        published(
            pipeline_env, "select account_id, designation from marts.seller_account_lists where row_type = 'account'"
        ).rows()
    )
    assert designations["loc:L1"] == "key" and designations["nat:N2"] == "key"
    status = published(pipeline_env, "select source_row, status, computed_value from marts.account_overrides").rows()
    assert status == [
        (1, "applied", initech[0]),
        (2, "expired", "key"),
        (3, "applied", "target"),
        (4, "unknown_record", None),
    ]


def test_bad_scoring_config_names_file_and_key(pipeline_env, inputs_dir):
    (inputs_dir / "scoring.yaml").write_text("criteria:\n  current_spend: {weight: 1.0}\n  loyalty: {weight: 0.2}\n")
    success, errors = run_in_memory()
    assert not success
    text = "\n".join(errors)
    assert f"{inputs_dir / 'scoring.yaml'}: criteria: unknown criterion loyalty" in text, text


def test_whatif_reports_changes_without_touching_published_tables(scored, tmp_path, monkeypatch, capsys):
    output = copy_run_output(scored.output, tmp_path / "output")
    monkeypatch.setenv("ALMS_DATA_DIR", scored.env["ALMS_DATA_DIR"])  # read only
    monkeypatch.setenv("ALMS_OUTPUT_DIR", str(output))
    monkeypatch.setenv("ALMS_ACCEPT_GAPS", SMALL_INPUT_GAPS)
    monkeypatch.setenv("DAGSTER_HOME", str(new_dagster_home(tmp_path / "dagster_home")))
    watched = [
        output / "alms.duckdb",
        output / "work" / "warehouse.duckdb",
        *sorted((output / "parquet").rglob("*.parquet")),
    ]
    before = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in watched}
    # a failed run since: the working warehouse holds tables of two runs; the what-if reads the publication instead
    with duckdb.connect(str(output / "work" / "warehouse.duckdb")) as conn:
        conn.execute("update marts.accounts set owner_id = 'S-FAILED-RUN'")
        conn.execute("drop table marts.account_scores")
    before = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in watched}
    config = tmp_path / "everyone_high.yaml"
    config.write_text("tiers: {high: 0.5, medium: 0.1}\ntargets: {per_seller: 1}\n")
    assert cli_main(["whatif", "--config", str(config), "--key-share", "0.5", "--name", "test"]) == 0
    out = capsys.readouterr().out
    assert "would change tier or designation" in out
    manifest = json.loads((output / "manifest.json").read_text())
    assert f"what-if on the publication as of 2026-10-31 (run {manifest['run_id'][:8]}, " in out
    assert {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in watched} == before
    changes = pl.read_csv(output / "whatif" / "test" / "changes.csv")
    globex = changes.filter(pl.col("account_id") == "nat:N2").row(0, named=True)
    assert globex["designation_after"] == "key"  # key share 0.5 of 4 positive billers: the top 2 are key
    assert set(changes["tier_after"].drop_nulls()) <= {"high"}
    per_seller = pl.read_csv(output / "whatif" / "test" / "per_seller.csv")
    assert per_seller["accounts_changing"].sum() == changes.height
    assert "S-FAILED-RUN" not in set(changes["owner_id"].drop_nulls())


def test_whatif_before_any_run_is_a_clear_error(pipeline_env, tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("tiers: {high: 70, medium: 50}\n")
    assert cli_main(["whatif", "--config", str(config)]) == 2
    assert "run the pipeline once" in capsys.readouterr().err
