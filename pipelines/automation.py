"""When runs happen: a monthly refresh, a review at the start of every review period, and a sensor for new files.

- `monthly_refresh` (cron `0 6 2 * *`: 06:00 UTC on the 2nd, after month-end extracts land) runs the whole job.
- `review_schedule` runs the job at 05:00 UTC on the 2nd of each month that opens a review period
  (ALMS_REVIEW_MONTHS / ALMS_REVIEW_START_MONTH: `0 5 2 1,7 *` for 6 months from January, `0 5 2 1 *` for 12).
  The first run of a new period records its review, so this run *is* the review; re-running it is idempotent.
- `new_input_files` (every 60 s) starts a run when files in the input folder are new or changed since the last run it
  requested; its cursor keeps path, size and modification time of every file it has handed over, so each file version
  starts exactly one run (the run key is a digest of the new files, so a repeated tick cannot start it twice).
Schedules and the sensor are off by default; turn them on in the UI (Automation) or with `dagster schedule start`.
"""

import hashlib
import json
from pathlib import Path

import dagster as dg

from assets.logic.inputs import ALL_INPUTS, SUPPORTED_SUFFIXES
from pipelines.resources import AlmsSettings

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


def new_files(seen: dict, current: dict) -> list[str]:
    return sorted(path for path, version in current.items() if seen.get(path) != version)


def build_automation(job, settings: AlmsSettings) -> tuple[list, list]:
    monthly = dg.ScheduleDefinition(
        name="monthly_refresh",
        job=job,
        cron_schedule=MONTHLY_CRON,
        execution_timezone="UTC",
        description="Refresh everything on the 2nd of each month: new billing, engagement and CRM files are read, "
        "accounts re-scored and re-classified against the frozen key level.",
        tags={"alms/trigger": "monthly_refresh"},
    )
    review = dg.ScheduleDefinition(
        name="review_schedule",
        job=job,
        cron_schedule=review_cron(settings.review_months, settings.review_start_month),
        execution_timezone="UTC",
        description=f"Open each {settings.review_months}-month review period (starting in month "
        f"{settings.review_start_month}): the first run of a period computes and records its key level.",
        tags={"alms/trigger": "review"},
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
            tags={"alms/trigger": "new_input_files", "alms/new_files": shown[:250]},
        )

    return [monthly, review], [new_input_files]
