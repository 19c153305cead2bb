"""Every asset check fails with its reason in one line (assets/checks.py): the session's shared run of the small
inputs (`small_run`), then each check evaluated on a copy of its warehouse broken in the way the check exists to catch.
A failing blocking check's step stops with that line (tests/test_bad_inputs_pipeline.py shows it through a run)."""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest

from assets import checks
from assets.checks import CHECKS, evaluate
from assets.resources import Warehouse, settings_from_env


@pytest.fixture(scope="module")
def run(small_run) -> dict:
    """The session's shared run of the small inputs (tests/conftest.py): its warehouse is copied, never written."""
    return {"env": small_run.env, "warehouse": small_run.output / "work" / "warehouse.duckdb"}


# check -> SQL that breaks the warehouse the way the check exists to catch, and the one line it must then say
BREAKS = {
    "one_row_per_account": (
        "insert into marts.accounts select * from marts.accounts where account_id = (select min(account_id) from "
        "marts.accounts)",
        "marts.accounts has 6 rows for 5 distinct account ids; the matcher formed 5 accounts",
    ),
    "key_count_rule": (
        "update marts.accounts set is_key_account = true",
        "4 accounts have is_key_account <> (billing_12m >= the applied level 1650.00)",
    ),
    "billing_rows_conserved": (
        "update marts.accounts set billing_12m = billing_12m + 0.01 where account_id = (select min(account_id) "
        "from marts.accounts)",
        "the accounts' billing 2875.01 <> the clean lines' billing 2875.00",
    ),
    "every_client_record_once": (
        "delete from marts.client_crosswalk where source_client_id = 'L2'",
        "6 usable records but 5 crosswalk rows for 5 distinct records",
    ),
    "no_row_dropped_silently": (
        "insert into raw.engagement_events select * from raw.engagement_events limit 1",
        "engagement: 3 rows in <> 2 clean + 0 excluded in marts.quarantined_rows",
    ),
    "reporting_window_is_set": (
        "update intermediate.int_reporting_windows_resolved set as_of_date = null",
        "no billing line has a valid invoice_date up to today, so the as-of date cannot be inferred; check the "
        "billing files or set ALMS_AS_OF=YYYY-MM-DD",
    ),
    "scores_explain_themselves": (
        "update marts.account_scores set priority_score = priority_score + 200 where account_id = (select "
        "min(account_id) from marts.account_scores)",
        "1 scores are not the sum of their criteria's contributions; 1 scores lie outside 0-100",
    ),
    "seller_list_limits": (
        "update marts.seller_account_lists set designation_computed = 'target' where is_key_account",
        "1 key accounts are recommended as targets",
    ),
    "overrides_all_applied": (
        "insert into marts.account_overrides (status) values ('expired'), ('unknown_record')",
        "2 override(s) not applied; see marts.account_overrides",
    ),
    "every_input_row_accounted": (
        "update marts.input_files set rows_read = rows_read + 1 where source_file = 'billing/nat.csv'",
        "billing/nat.csv: 7 rows in the raw table, 8 read = 5 loaded + 0 quarantined + 2 outside the window, 0 "
        "excluded in marts.quarantined_rows",
    ),
    "billing_months_complete": (
        "update marts.billing_completeness set is_blocking = true, status = 'missing' where source_system = 'nat' "
        "and month_start_date = '2026-02-01'",
        "nat has no billing in 2026-02 (it had some in the months before); if the data is complete, accept with "
        "ALMS_ACCEPT_GAPS=nat:2026-02 (a system that stopped: ALMS_ACCEPT_GAPS=<system>:<first month>..)",
    ),
    "engagement_months_complete": (
        "update marts.engagement_completeness set is_blocking = true, status = 'missing' where source_system = "
        "'loc' and month_start_date = '2026-04-01'",
        "loc has no engagement in 2026-04 (it had some in the months before); if the data is complete, accept "
        "with ALMS_ACCEPT_GAPS=loc:2026-04 (a system that stopped: ALMS_ACCEPT_GAPS=<system>:<first month>..)",
    ),
}


def test_every_check_has_a_way_to_fail_here():
    assert sorted(BREAKS) == sorted(spec.name for definition in CHECKS for spec in definition.check_specs)


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_a_failing_check_says_why_in_one_line(run, name, tmp_path):
    definition = getattr(checks, name)
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(run["warehouse"], copy)
    resources = {"warehouse": Warehouse(path=str(copy))}
    if "settings" in definition.required_resource_keys:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in run["env"].items():
                patch.setenv(key, value)
            resources["settings"] = settings_from_env()
    before = evaluate(definition, **resources)
    assert before.passed and before.description is None, before
    sql, reason = BREAKS[name]
    with duckdb.connect(str(copy)) as conn:
        conn.execute(sql)
    after = evaluate(definition, **resources)
    assert not after.passed
    assert after.description == reason


def test_a_failed_blocking_check_stops_its_step_with_its_reason_and_a_warning_does_not(run, tmp_path):
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(run["warehouse"], copy)
    with duckdb.connect(str(copy)) as conn:
        conn.execute(BREAKS["one_row_per_account"][0])
        conn.execute(BREAKS["overrides_all_applied"][0])
    warehouse = Warehouse(path=str(copy))
    step = checks.one_row_per_account(warehouse=warehouse)
    assert not next(step).passed
    with pytest.raises(dg.Failure) as stopped:
        next(step)
    assert stopped.value.description == BREAKS["one_row_per_account"][1]
    assert stopped.value.metadata[checks.FAILED_CHECK].value == "one_row_per_account"
    warning = list(checks.overrides_all_applied(warehouse=warehouse))
    assert len(warning) == 1 and not warning[0].passed
