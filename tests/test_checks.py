"""Every asset check of the Definitions, passing and failing, on a copy of `small_run`'s working warehouse.

Each case damages the copy as little as it takes for its check to fail (a key duplicated, a cent added, a row deleted)
and then evaluates every check: exactly that one fails, with a one-line description naming the reason. No pipeline
runs here beyond the shared `small_run`, so the file takes seconds. A check added to the Definitions without a case
fails `test_every_check_of_the_definitions_has_a_case`.
"""

from __future__ import annotations

import inspect
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from assets.checks import CHECKS
from assets.resources import AlmsSettings, Warehouse
from tests.conftest import SMALL_INPUT_GAPS


@dataclass(frozen=True)
class Case:
    damage: str  # SQL run on the copy: the smallest change that breaks the check's rule
    description: str  # the failed check's description


# The small run's warehouse (tests/conftest.py `small_inputs`): accounts loc:L1 (key, 1,650.00 in 3 lines), nat:N2
# (800.00), loc:L9 (400.00), loc:L2 (75.00), nat:N3 (-50.00); 6 client records; 2 engagement events; no override.
CASES = {
    "one_row_per_account": Case(
        "update marts.accounts set account_id = 'nat:N2' where account_id = 'nat:N3'",
        "marts.accounts has 5 rows for 4 account_ids; the matcher formed 5 accounts, marts.accounts has 4",
    ),
    "key_count_rule": Case(
        "update marts.accounts set is_key_account = true where account_id = 'nat:N2'",
        "1 accounts' is_key_account disagrees with billing >= the level 1650.00",
    ),
    "billing_rows_conserved": Case(
        "update staging.stg_billing__checked_lines set billing_amount = billing_amount + 0.01 "
        "where source_file = 'billing/nat.csv' and source_row = 3",
        "billing of marts.accounts 2875.00 <> billing of the clean lines 2875.01",
    ),
    "every_client_record_once": Case(
        "insert into marts.client_crosswalk "
        "select * from marts.client_crosswalk where source_system = 'nat' and source_client_id = 'N2'",
        "6 usable client records, marts.client_crosswalk has 7 rows for 6 records",
    ),
    "no_row_dropped_silently": Case(
        "delete from staging.stg_engagement__checked_events where source_system = 'loc'",
        "engagement: 2 rows in <> 1 clean + 0 excluded in marts.quarantine",
    ),
    "reporting_window_is_set": Case(
        "update staging.stg_billing__reporting_window set as_of_date = null",
        "no billing line has a valid invoice_date up to today, so the as-of date cannot be inferred; "
        "check the billing files or set ALMS_AS_OF=YYYY-MM-DD",
    ),
    "scores_explain_themselves": Case(
        "update marts.account_scores set priority_score = priority_score + 1 where account_id = 'nat:N2'",
        "1 scores are not the sum of their criteria's contributions",
    ),
    "seller_list_limits": Case(
        "update marts.seller_account_lists set designation_computed = 'target' where account_id = 'loc:L1'",
        "1 key accounts recommended as target",
    ),
    "overrides_all_applied": Case(
        "insert into marts.override_status (source_file, source_row, status) values ('overrides.csv', 1, 'expired')",
        "1 override(s) not applied; see marts.override_status",
    ),
    "every_input_row_accounted": Case(
        "update marts.input_files set rows_loaded = rows_loaded - 1 where source_file = 'billing/loc.csv'",
        "billing/loc.csv: 3 rows in the raw table, 3 read = 2 loaded + 0 quarantined + 0 outside the window, "
        "0 excluded in marts.quarantine",
    ),
    "billing_months_complete": Case(
        "update marts.billing_completeness set is_blocking = true "
        "where source_system = 'nat' and month = date '2026-02-01'",
        "nat has no billing in 2026-02 (it had some in the months before); if the data is complete, accept with "
        "ALMS_ACCEPT_GAPS=nat:2026-02 (a system that stopped: ALMS_ACCEPT_GAPS=<system>:<first month>..)",
    ),
    "engagement_months_complete": Case(
        "update marts.engagement_completeness set is_blocking = true "
        "where source_system = 'loc' and month = date '2026-04-01'",
        "loc has no engagement in 2026-04 (it had some in the months before); if the data is complete, accept with "
        "ALMS_ACCEPT_GAPS=loc:2026-04 (a system that stopped: ALMS_ACCEPT_GAPS=<system>:<first month>..)",
    ),
}


@pytest.fixture
def warehouse(small_run, tmp_path: Path) -> Warehouse:
    """A copy of the small run's working warehouse, free to damage."""
    copy = tmp_path / "work" / "warehouse.duckdb"
    copy.parent.mkdir()
    shutil.copy(small_run.output / "work" / "warehouse.duckdb", copy)
    return Warehouse(path=str(copy), threads=1)  # a few rows: one thread halves the time on a busy machine


def evaluate(warehouse: Warehouse, small_run) -> dict:
    """Every check's result on the warehouse, by check name. Each check's own function is called with the resources
    it names: invoking the check through Dagster would build a throwaway instance per call (0.15 s each)."""
    settings = AlmsSettings(
        data_dir=small_run.env["ALMS_DATA_DIR"], output_dir=str(small_run.output), accept_gaps=SMALL_INPUT_GAPS
    )
    resources = {"warehouse": warehouse, "settings": settings}
    results = {}
    for check in CHECKS:
        function = check.node_def.compute_fn.decorated_fn
        names = inspect.signature(function).parameters
        results[check.check_key.name] = function(**{name: resources[name] for name in names})
    return results


def test_every_check_of_the_definitions_has_a_case():
    from pipelines.definitions import defs

    defined = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    assert defined == set(CASES)
    assert {check.check_key.name for check in CHECKS} == defined


def test_every_check_passes_on_the_small_run(warehouse, small_run):
    results = evaluate(warehouse, small_run)
    assert set(results) == set(CASES)
    assert {name: result.description for name, result in results.items() if not result.passed} == {}
    assert all(result.description is None for result in results.values())


@pytest.mark.parametrize("name", CASES)
def test_the_check_fails_on_its_damage_alone(name, warehouse, small_run):
    with duckdb.connect(warehouse.path) as conn:
        changed = conn.execute(CASES[name].damage).fetchall()[0][0]
    assert changed >= 1, "the damage changed nothing"
    results = evaluate(warehouse, small_run)
    assert sorted(n for n, result in results.items() if not result.passed) == [name]
    description = results[name].description
    assert description is not None and "\n" not in description
    assert description == CASES[name].description
