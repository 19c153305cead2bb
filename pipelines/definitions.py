"""The Dagster definitions: every asset, check, resource and the job `make run` executes."""

import dagster as dg

from assets import feedback, history, intermediate, marts, outcomes, postgres, publish, raw, scoring
from assets.checks import CHECKS
from assets.common import monthly_partitions
from assets.resources import build_resources
from pipelines.automation import build_automation
from pipelines.sql_models import build_sql_assets

ALMS_JOB = "alms"

# Every asset built in Python but the raw ingest, whose monthly partitions each build_definitions reads from the input
# folder (assets/common.py monthly_partitions)
processing_assets = [
    feedback.seller_feedback_raw,
    intermediate.clients_matched,
    marts.accounts_and_key_levels,
    scoring.account_scores,
    history.account_snapshots,
    outcomes.prioritization_outcomes,
    outcomes.scoring_backtest,
    feedback.seller_feedback,
    publish.publication,
]
# The SQL models may read only assets, checked once against every Python asset (the raw assets' keys do not depend on
# their partitions)
python_assets = [*raw.build_raw_assets(dg.MonthlyPartitionsDefinition("2000-01", fmt="%Y-%m")), *processing_assets]
sql_assets = build_sql_assets(python_assets)


def build_job(settings):
    """The job `make run`, the schedules and the sensor run. Its tags say where it reads and writes, so the UI tells
    a run into a test folder from the published one; a run's own tags (trigger cli / schedule / sensor, as-of date
    once known) are added on top (assets/common.py `tag_run`)."""
    return dg.define_asset_job(
        ALMS_JOB,
        selection=dg.AssetSelection.all(),
        description="Ingest, deduplicate, rank, cut and publish: the whole account list from the input folder.",
        tags={
            "alms/trigger": "ui",
            "alms/input_dir": str(settings.data_dir),
            "alms/output_dir": str(settings.output_dir),
            "alms/as_of_date": settings.as_of or "inferred",
        },
    )


def build_definitions(environ: dict | None = None) -> dg.Definitions:
    resources = build_resources(environ)
    settings = resources["settings"]
    alms_job = build_job(settings)
    monthly = monthly_partitions(settings.data_dir)  # from the first month the input files name
    schedules, sensors = build_automation(alms_job, settings, monthly)
    # PostgreSQL is a publication target only when ALMS_POSTGRES_DSN is set (assets/postgres.py)
    targets = [postgres.postgres_publication] if settings.postgres_dsn else []
    return dg.Definitions(
        assets=[*raw.build_raw_assets(monthly), *processing_assets, *sql_assets, *targets],
        asset_checks=[*CHECKS, *outcomes.OUTCOME_CHECKS],
        jobs=[alms_job],
        schedules=schedules,
        sensors=sensors,
        resources=resources,
        executor=dg.in_process_executor,
    )


defs = build_definitions()
