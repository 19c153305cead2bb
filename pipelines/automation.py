"""When runs happen: a monthly refresh, a review at the start of every review period, and a sensor for new files.

- `monthly_refresh` (cron `0 6 2 * *`: 06:00 UTC on the 2nd, after month-end extracts land) runs the job for the month
  just closed: its billing and engagement files (and files naming no month) are read again, the rest is recomputed.
- `review_schedule` runs the job at 05:00 UTC on the 2nd of each month that opens a review period
  (ALMS_REVIEW_MONTHS / ALMS_REVIEW_START_MONTH: `0 5 2 1,7 *` for 6 months from January, `0 5 2 1 *` for 12).
  The first run of a new period records its review, so this run *is* the review; re-running it is idempotent. It
  reads every input file again (a full refresh).
- `new_input_files` (every 60 s) starts a run when files in the input folder are new or changed since the last run it
  requested; its cursor keeps path, size and modification time of every file it has handed over, so each file version
  starts exactly one run (the run key is a digest of the new files, so a repeated tick cannot start it twice), over
  the months the new billing and engagement files name.
- `alert_on_run_failure` (only when ALMS_ALERT_WEBHOOK is set, and then on by default): when a run of the job fails,
  posts the job, run id, failing step, cause in one line and the run's link (ALMS_UI_URL) to the webhook
  (assets/rules/alerts.py). The daemon evaluates it (`make dev` starts one): runs launched from the UI, the
  schedules and the sensor are watched; `make run`'s own run prints its failure on the terminal instead.
Schedules and the file sensor are off by default; turn them on in the UI (Automation) or `dagster schedule start`.
Their runs are tagged `alms/trigger` = schedule or sensor (Dagster adds `dagster/schedule_name` / `dagster/sensor_name`).
"""

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import dagster as dg

from assets.common import monthly_partitions
from assets.resources import AlmsSettings
from assets.rules.alerts import AlertError, failure_alert, post_alert, shown_url
from assets.rules.causes import innermost_error_line
from assets.rules.inputs import ALL_INPUTS, BILLING, ENGAGEMENT, SUPPORTED_SUFFIXES, file_month

MONTHLY_CRON = "0 6 2 * *"


def review_cron(months: int, start_month: int) -> str:
    """Cron of the runs that open review periods: day 2 of each period's first month, 05:00 UTC."""
    firsts = sorted({(start_month - 1 + step) % 12 + 1 for step in range(0, 12, months)})
    return f"0 5 2 {','.join(str(m) for m in firsts)} *"


def input_files(data_dir: Path) -> dict[str, list[int]]:
    """Every input file of the contract (and scoring.yaml) by relative path: [size, modification time in ns]."""
    found = {}
    names = {spec.name for spec in ALL_INPUTS}
    for path in sorted(Path(data_dir).rglob("*")):
        relative = path.relative_to(data_dir)
        if not path.is_file() or any(part.startswith((".", "_")) for part in relative.parts):
            continue
        top = relative.parts[0] if len(relative.parts) > 1 else path.stem
        if top in names and path.suffix.lower() in SUPPORTED_SUFFIXES or relative.as_posix() == "scoring.yaml":
            stat = path.stat()
            found[relative.as_posix()] = [stat.st_size, stat.st_mtime_ns]
    return found


RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def months_of(paths: list[str], monthly: dg.MonthlyPartitionsDefinition) -> list[str]:
    """The partition months that billing and engagement files name (files naming no known month: none)."""
    known = set(monthly.get_partition_keys())
    folders = (f"{BILLING.name}/", f"{ENGAGEMENT.name}/")
    return sorted({m for p in paths if p.startswith(folders) and (m := file_month(p)) in known})


def range_tags(months: list[str], monthly: dg.MonthlyPartitionsDefinition) -> dict[str, str]:
    """Tags of one run over the months min .. max (a single run, whatever the number of months); with no month, the
    latest partition (files naming no month are read by every run anyway). Months outside the partitions are left
    out (a month closed before the first month of the data)."""
    known = set(monthly.get_partition_keys())
    months = sorted(m for m in months if m in known)
    last = monthly.get_last_partition_key()
    start, end = (months[0], months[-1]) if months else (last, last)
    return {RANGE_START: start, RANGE_END: end}


def full_refresh_tags(data_dir: Path, monthly: dg.MonthlyPartitionsDefinition | None = None) -> dict[str, str]:
    """A run that reads every input file again: the range over every partition (they start with the first month
    the files name, assets/common.py `monthly_partitions`), so no month is left unmaterialized."""
    monthly = monthly or monthly_partitions(data_dir)
    keys = monthly.get_partition_keys()
    return {RANGE_START: keys[0], RANGE_END: keys[-1]}


def new_files(seen: dict, current: dict) -> list[str]:
    return sorted(path for path, version in current.items() if seen.get(path) != version)


def build_automation(job, settings: AlmsSettings, partitions: dg.MonthlyPartitionsDefinition) -> tuple[list, list]:
    @dg.schedule(
        name="monthly_refresh",
        job=job,
        cron_schedule=MONTHLY_CRON,
        execution_timezone="UTC",
        description="On the 2nd of each month: read the month just closed (its billing and engagement files) and "
        "everything that depends on it; accounts are re-scored and re-classified against the frozen key level.",
    )
    def monthly(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time
        closed = (tick.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
        return dg.RunRequest(
            run_key=f"monthly-{closed}", tags={**range_tags([closed], partitions), "alms/trigger": "schedule"}
        )

    @dg.schedule(
        name="review_schedule",
        job=job,
        cron_schedule=review_cron(settings.review_months, settings.review_start_month),
        execution_timezone="UTC",
        description=f"Open each {settings.review_months}-month review period (starting in month "
        f"{settings.review_start_month}): a full refresh whose run records the new period's key level.",
    )
    def review(context: dg.ScheduleEvaluationContext):
        tags = full_refresh_tags(Path(settings.data_dir), partitions)
        return dg.RunRequest(
            run_key=f"review-{context.scheduled_execution_time:%Y-%m}", tags={**tags, "alms/trigger": "schedule"}
        )

    @dg.sensor(
        name="new_input_files",
        job=job,
        minimum_interval_seconds=60,
        description="Starts a run when files in the input folder are new or changed; each file version once.",
    )
    def new_input_files(context: dg.SensorEvaluationContext):
        seen = json.loads(context.cursor) if context.cursor else {}
        data_dir = Path(settings.data_dir)
        if not data_dir.is_dir():
            return dg.SkipReason(f"input folder {data_dir} does not exist")
        current = input_files(data_dir)
        fresh = new_files(seen, current)
        if not fresh:
            return dg.SkipReason(f"no new or changed files among {len(current)} in {data_dir}")
        digest = hashlib.sha256(json.dumps({p: current[p] for p in fresh}, sort_keys=True).encode()).hexdigest()[:16]
        context.update_cursor(json.dumps(current, sort_keys=True))
        shown = ", ".join(fresh[:5]) + (f" and {len(fresh) - 5} more" if len(fresh) > 5 else "")
        return dg.RunRequest(
            run_key=f"files-{digest}",
            tags={
                **range_tags(months_of(fresh, partitions), partitions),
                "alms/trigger": "sensor",
                "alms/new_files": shown[:250],
            },
        )

    sensors = [new_input_files]
    if settings.alert_webhook:
        sensors.append(build_failure_alert(job, settings))
    return [monthly, review], sensors


def failure_of(context: dg.RunFailureSensorContext) -> tuple[str | None, str]:
    """The first failing step of the run and its cause in one line (a dg.Failure's description, else the innermost
    error's first line); no step failed: None and the run's own failure message."""
    for event in context.get_step_failure_events():
        failure = event.step_failure_data
        described = failure.user_failure_data.description if failure.user_failure_data else None
        return event.step_key, described or innermost_error_line(failure.error)
    error = getattr(context.failure_event.event_specific_data, "error", None)
    return None, innermost_error_line(error) if error is not None else (context.failure_event.message or "failed")


def send_failure_alert(context: dg.RunFailureSensorContext, webhook: str, ui_url: str) -> str:
    """Post the alert of the failed run to `webhook`; what was done, in a line that never holds the URL's secret."""
    run = context.dagster_run
    step, cause = failure_of(context)
    payload = failure_alert(run.job_name, run.run_id, step, cause, f"{ui_url}/runs/{run.run_id}")
    status = post_alert(webhook, payload)
    return f"alert for run {run.run_id[:8]} posted to {shown_url(webhook)} (HTTP {status})"


def build_failure_alert(job, settings: AlmsSettings) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="alert_on_run_failure",
        monitored_jobs=[job],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="When a run fails: posts job, run id, failing step, the cause in one line and the run's link "
        "to ALMS_ALERT_WEBHOOK (its value is never shown).",
    )
    def alert_on_run_failure(context: dg.RunFailureSensorContext):
        webhook = os.environ.get("ALMS_ALERT_WEBHOOK", "").strip()  # read at each tick: the value is never stored
        if not webhook:
            return dg.SkipReason("ALMS_ALERT_WEBHOOK is not set in the daemon's environment")
        try:
            context.log.info(send_failure_alert(context, webhook, settings.ui_url))
        except AlertError as error:
            raise AlertError(str(error)) from None  # the tick fails with the scrubbed line; the next failure retries
        return None

    return alert_on_run_failure
