"""Monthly partitions of billing and engagement ingest: a month's run reads that month's files again (and files that
name no month), a 13-month backfill is one run, changed and removed files replace their rows."""

import datetime as dt

import dagster as dg
import duckdb
import pytest
from conftest import BILLING_COLUMNS, ENGAGEMENT_COLUMNS, line, write_csv

from assets.common import monthly_partitions
from pipelines.automation import RANGE_END, RANGE_START, full_refresh_tags, months_of
from pipelines.definitions import ALMS_JOB, build_definitions


def run(tags: dict) -> dg.ExecuteInProcessResult:
    """A run of the billing lines' ingest alone (what the partitions are about) over the tags' partition range."""
    job = build_definitions().resolve_job_def(ALMS_JOB)
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            tags=tags,
            asset_selection=[dg.AssetKey(["raw", "billing_lines"])],
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )
    assert result.success
    return result


def ingest_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key.path == ["raw", asset]][:1]
    return {k: getattr(v, "value", v) for k, v in event.step_materialization_data.materialization.metadata.items()}


def raw_lines(env) -> dict[str, int]:
    path = f"{env['ALMS_OUTPUT_DIR']}/work/warehouse.duckdb"
    with duckdb.connect(path, read_only=True) as conn:
        return dict(conn.sql("select source_file, count(*) from raw.billing_lines group by 1").fetchall())


def month_file(inputs_dir, month: str, amount: str, lines: int = 2):
    rows = [line("nat", f"M{month}-{i}", 1, "N2", f"{month}-15", amount) for i in range(lines)]
    return write_csv(inputs_dir / "billing" / f"nat_{month}.csv", BILLING_COLUMNS, rows)


@pytest.mark.slow
def test_a_month_run_reads_only_that_month_and_a_backfill_is_one_run(pipeline_env, inputs_dir):
    for month in (
        "2025-10",
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
        "2026-03",
        "2026-04",
        "2026-05",
        "2026-06",
        "2026-07",
        "2026-08",
        "2026-09",
        "2026-10",
    ):
        month_file(inputs_dir, month, "10.00")
    tags = full_refresh_tags(inputs_dir)
    # every partition: from the first month the files name to the current month (none left missing in the UI)
    today = dt.datetime.now(dt.UTC).date()
    assert (tags[RANGE_START], tags[RANGE_END]) == ("2025-10", f"{today:%Y-%m}")
    months = (today.year - 2025) * 12 + today.month - 10 + 1
    backfill = run(tags)  # one run for them all
    materialized = [
        e for e in backfill.get_asset_materialization_events() if e.asset_key.path == ["raw", "billing_lines"]
    ]
    assert len({e.partition for e in materialized}) == months and len({backfill.run_id}) == 1
    before = raw_lines(pipeline_env)
    assert before["billing/nat_2026-03.csv"] == 2 and before["billing/nat.csv"] == 7

    month_file(inputs_dir, "2026-11", "20.00", lines=3)  # a new month arrives
    (inputs_dir / "billing" / "nat_2026-03.csv").unlink()  # and a month is withdrawn
    month_file(inputs_dir, "2026-10", "30.00", lines=1)  # and a month is corrected
    assert months_of(
        ["billing/nat_2026-11.csv", "billing/nat_2026-10.csv", "clients/nat.csv"], monthly_partitions(inputs_dir)
    ) == [
        "2026-10",
        "2026-11",
    ]
    result = run({RANGE_START: "2026-10", RANGE_END: "2026-11"})
    meta = ingest_metadata(result, "billing_lines")
    read = set(meta["files"])
    # that month's files and the files naming no month were read; the other months were not touched
    assert read == {"billing/nat_2026-10.csv", "billing/nat_2026-11.csv", "billing/nat.csv", "billing/loc.csv"}
    assert meta["files_removed"] == ["billing/nat_2026-03.csv"]
    after = raw_lines(pipeline_env)
    assert after["billing/nat_2026-11.csv"] == 3 and after["billing/nat_2026-10.csv"] == 1  # replaced, not added
    assert "billing/nat_2026-03.csv" not in after
    assert after["billing/nat_2026-01.csv"] == before["billing/nat_2026-01.csv"]
    assert sum(after.values()) == sum(before.values()) - 2 + 3 - 1


def test_partitions_start_with_the_first_month_the_files_name(tmp_path):
    data = tmp_path / "inputs"
    today = dt.date(2026, 11, 30)
    assert monthly_partitions(data, today).get_partition_keys(dt.datetime(2026, 11, 30)) == [
        "2026-10",
        "2026-11",
    ]  # no folder, or no file naming a month: the month the monthly refresh reads and this one
    write_csv(data / "billing" / "nat.csv", BILLING_COLUMNS, [])
    write_csv(data / "billing" / "2024-03" / "late.csv", BILLING_COLUMNS, [])  # a month folder
    write_csv(data / "billing" / "nat_1999-12.csv", BILLING_COLUMNS, [])  # before 2000: not a start
    write_csv(data / "clients" / "export_2020-01.csv", ["source_system"], [])  # clients are not partitioned
    assert monthly_partitions(data, today).get_partition_keys(dt.datetime(2026, 11, 30))[0] == "2024-03"
    write_csv(data / "engagement" / "events_2023-07.csv", ENGAGEMENT_COLUMNS, [])
    keys = monthly_partitions(data, today).get_partition_keys(dt.datetime(2026, 11, 30))
    assert (keys[0], keys[-1], len(keys)) == ("2023-07", "2026-11", 41)


def test_the_definitions_partition_the_raw_ingest_from_the_data(pipeline_env, inputs_dir):
    from pipelines.definitions import build_definitions

    write_csv(inputs_dir / "billing" / "nat_2025-06.csv", BILLING_COLUMNS, [])
    defs = build_definitions()
    for asset in ("billing_lines", "engagement_events"):
        partitions = defs.resolve_assets_def(dg.AssetKey(["raw", asset])).partitions_def
        assert partitions.get_first_partition_key() == "2025-06"
