"""Schedules with the intended cron, and the sensor that starts one run per new or changed input file."""

import datetime as dt
import json
import os

import dagster as dg
import pytest
from conftest import BILLING_COLUMNS, line, write_csv

from pipelines.automation import RANGE_END, RANGE_START, review_cron
from pipelines.definitions import build_definitions


@pytest.mark.parametrize(
    ("months", "start", "cron"),
    [
        (12, 1, "0 5 2 1 *"),
        (6, 1, "0 5 2 1,7 *"),
        (6, 4, "0 5 2 4,10 *"),
        (12, 10, "0 5 2 10 *"),
        (6, 9, "0 5 2 3,9 *"),
    ],
)
def test_review_cron_follows_the_cadence(months, start, cron):
    assert review_cron(months, start) == cron


def test_monthly_refresh_reads_the_month_just_closed(pipeline_env):
    schedule = build_definitions().resolve_schedule_def("monthly_refresh")
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 12, 2, 6, tzinfo=dt.UTC)
        )
        (request,) = schedule.evaluate_tick(context).run_requests
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2026-11", "2026-11")
    assert request.tags["alms/trigger"] == "schedule"


def test_the_job_says_where_it_reads_and_writes(pipeline_env):
    job = build_definitions().resolve_job_def("alms")
    assert job.tags["alms/input_dir"] == pipeline_env["ALMS_DATA_DIR"]
    assert job.tags["alms/output_dir"] == pipeline_env["ALMS_OUTPUT_DIR"]
    assert job.tags["alms/trigger"] == "ui" and job.tags["alms/as_of_date"] == "inferred"  # a run's own tags win


def test_schedules_are_defined_with_the_intended_cron(pipeline_env, monkeypatch):
    monkeypatch.setenv("ALMS_REVIEW_MONTHS", "6")
    monkeypatch.setenv("ALMS_REVIEW_START_MONTH", "4")
    defs = build_definitions()
    monthly = defs.resolve_schedule_def("monthly_refresh")
    review = defs.resolve_schedule_def("review_schedule")
    assert monthly.cron_schedule == "0 6 2 * *" and monthly.job_name == "alms"
    assert review.cron_schedule == "0 5 2 4,10 *" and review.execution_timezone == "UTC"


def evaluate(sensor, cursor, instance):
    context = dg.build_sensor_context(cursor=cursor, instance=instance)
    result = sensor.evaluate_tick(context)
    return result.run_requests, result.skip_message, result.cursor


def test_sensor_starts_one_run_per_new_or_changed_file(pipeline_env, inputs_dir):
    # the partitions start with the first month a file names (assets/common.py monthly_partitions): 2026-08 here
    write_csv(
        inputs_dir / "billing" / "nat_2026-08.csv", BILLING_COLUMNS, [line("nat", "Z0", 1, "N1", "2026-08-01", "5")]
    )
    sensor = build_definitions().resolve_sensor_def("new_input_files")
    with dg.instance_for_test() as instance:
        requests, _, cursor = evaluate(sensor, None, instance)
        assert len(requests) == 1  # first tick: every file is new
        assert set(json.loads(cursor)) == {
            "billing/loc.csv",
            "billing/nat.csv",
            "billing/nat_2026-08.csv",
            "clients/loc.csv",
            "clients/nat.csv",
            "engagement/events.csv",
            "fx_rates.csv",
            "sellers.csv",
        }
        requests, skip, cursor_again = evaluate(sensor, cursor, instance)
        assert requests == [] and "no new or changed files" in skip and cursor_again in (None, cursor)
        write_csv(
            inputs_dir / "billing" / "nat_2026-09.csv",
            BILLING_COLUMNS,
            [line("nat", "Z1", 1, "N1", "2026-09-01", "5.00")],
        )
        (inputs_dir / "notes.txt").write_text("not an input")  # ignored: not part of the contract
        (inputs_dir / "billing" / ".~lock.nat.csv#").write_text("")  # editor droppings are ignored
        requests, _, cursor = evaluate(sensor, cursor, instance)
        assert len(requests) == 1 and requests[0].tags["alms/new_files"] == "billing/nat_2026-09.csv"
        assert requests[0].tags["alms/trigger"] == "sensor"
        # only that month's partition is ingested again
        assert (requests[0].tags[RANGE_START], requests[0].tags[RANGE_END]) == ("2026-09", "2026-09")
        run_key = requests[0].run_key
        requests, _, _ = evaluate(sensor, cursor, instance)
        assert requests == []  # processed once
        path = inputs_dir / "billing" / "nat_2026-09.csv"
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # the same file delivered again, changed
        requests, _, _ = evaluate(sensor, cursor, instance)
        assert len(requests) == 1 and requests[0].run_key != run_key


class _Instance:
    def __init__(self):
        self.added = {}

    def add_run_tags(self, run_id, tags):
        self.added.update(tags)


class _Run:
    def __init__(self, tags):
        self.tags, self.run_id = tags, "r1"


class _Context:
    def __init__(self, tags):
        self.run, self.instance = _Run(tags), _Instance()


@pytest.mark.parametrize(
    ("tags", "trigger"),
    [
        ({}, "ui"),
        ({"dagster/schedule_name": "monthly_refresh"}, "schedule"),
        ({"dagster/sensor_name": "new_input_files"}, "sensor"),
        ({"alms/trigger": "cli"}, None),
    ],
)
def test_runs_are_tagged_with_trigger_folders_and_as_of(tags, trigger, pipeline_env):
    from assets.common import tag_run
    from assets.resources import settings_from_env

    context = _Context(tags)
    tag_run(context, settings_from_env(), dt.date(2026, 10, 31))
    assert context.instance.added.get("alms/trigger") == trigger
    assert context.instance.added["alms/as_of_date"] == "2026-10-31"
    assert context.instance.added["alms/output_dir"] == pipeline_env["ALMS_OUTPUT_DIR"]
