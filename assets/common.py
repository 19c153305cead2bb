"""What every asset module shares: turning domain errors into clear Dagster failures, validating frames, the outputs
of multi-assets, the freshness policy and the monthly partitions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
import pandera.errors
import pandera.polars as pa
import polars as pl

from assets.metadata import column_schema_for
from assets.rules.causes import first_line, one_line_cause
from assets.rules.inputs import InputError, first_month
from assets.rules.key_accounts import NoBillingError
from assets.rules.pictures import markdown_image
from assets.rules.publish import PublishError
from assets.rules.run_lock import RunLockBusy
from schemas import validate_frame


@contextmanager
def errors_as_dagster_failures(settings=None) -> Iterator[None]:
    """Input and rule errors become a `dg.Failure` whose description is the message a user needs, nothing more; so
    do operating-system and DuckDB I/O errors, as their cause in one line (the path, the lock holder, the setting
    whose folder it is when `settings` are given)."""
    try:
        yield
    except (InputError, NoBillingError, PublishError, RunLockBusy) as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    except (OSError, duckdb.Error) as error:
        places = {"ALMS_DATA_DIR": settings.data_dir, "ALMS_OUTPUT_DIR": settings.output_dir} if settings else None
        line = one_line_cause(error, places)
        if line is None and not isinstance(error, OSError | duckdb.IOException):
            raise  # a rule or SQL error: its own message and traceback say more
        raise dg.Failure(description=line or first_line(error), allow_retries=False) from None


TRIGGER_TAG = "alms/trigger"


def tag_run(context, settings, as_of=None) -> None:
    """Tag the run with what an operator filters runs by in the UI: as-of date, input and output folder, and the
    trigger (cli, schedule, sensor; a run launched from the UI has none of its own and gets `ui`)."""
    tags = dict(context.run.tags)
    wanted = {"alms/input_dir": str(settings.data_dir), "alms/output_dir": str(settings.output_dir)}
    if as_of is not None:
        wanted["alms/as_of_date"] = str(as_of)
    if TRIGGER_TAG not in tags:
        wanted[TRIGGER_TAG] = (
            "schedule" if "dagster/schedule_name" in tags else "sensor" if "dagster/sensor_name" in tags else "ui"
        )
    missing = {key: value for key, value in wanted.items() if tags.get(key) != value}
    if missing:
        context.instance.add_run_tags(context.run.run_id, missing)


def validate(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> pl.DataFrame:
    """Validate an eager frame with every problem listed in one report (lazy=True)."""
    try:
        return validate_frame(model, frame)
    except pandera.errors.SchemaErrors as errors:
        raise dg.Failure(
            description=f"{model.__name__}: the data breaks its schema; every problem found:\n{errors}",
            allow_retries=False,
        ) from None


# The marts people act on are refreshed monthly (the monthly_refresh schedule): a run older than a month and a few days
# means a refresh was missed. Shown on each asset's page and in the UI's freshness view.
MONTHLY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=35), warn_window=dt.timedelta(days=32))


def table_out(layer: str, table: str, description: str, freshness_policy=None, metadata=None) -> dg.AssetOut:
    """The output `<layer>/<table>` of a multi-asset: in its layer's group, a polars frame stored in DuckDB by the IO
    manager, its columns documented from the table's pandera model (when it has one) before any run."""
    return dg.AssetOut(
        key=[layer, table],
        group_name=layer,
        kinds={"polars", "duckdb"},
        description=description,
        freshness_policy=freshness_policy,
        metadata={**column_schema_for(layer, table), **(metadata or {})},
    )


def monthly_partitions(data_dir, today: dt.date | None = None) -> dg.MonthlyPartitionsDefinition:
    """Billing and engagement arrive as monthly files; their raw ingest is partitioned by that month (key YYYY-MM).

    The partitions start with the first month a billing or engagement file in the input folder names, read when the
    definitions load (a file of an earlier month added later moves the start back at the next load; until then it
    is read by every run, as are files naming no month). With no such file, they start with the month before the
    current one (the month the monthly refresh reads). They end with the current month. The earliest
    start is 2000-01 (ALMS_MIN_DATE's default)."""
    today = today or dt.datetime.now(dt.UTC).date()
    start = first_month(data_dir) or f"{today.replace(day=1) - dt.timedelta(days=1):%Y-%m}"
    return dg.MonthlyPartitionsDefinition(start_date=start, fmt="%Y-%m", end_offset=1)


def recorded_table(context, warehouse, table: str, columns) -> pl.DataFrame | None:
    """What earlier runs recorded in `marts.<table>` (tables that carry their past: key levels, history): None when
    there is none yet, or when it predates the columns this version needs (then it is not carried over, and said)."""
    with warehouse.connect() as conn:
        found = {
            row[0]
            for row in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ?",
                [table],
            ).fetchall()
        }
        if not found:
            return None
        if not set(columns) <= found:
            context.log.warning(f"marts.{table} was written by an older version; its rows are not carried over")
            return None
        return conn.sql(f"select * from marts.{table}").pl()


def reference_owners(warehouse, as_of) -> pl.DataFrame | None:
    """account_id, owner_id of the recorded snapshot nearest to `as_of` (the latest before it, else the earliest
    after it; never `as_of` itself) in marts.account_snapshots, for the ownership rule (assets/rules/ownership.py)."""
    with warehouse.connect() as conn:
        found = conn.execute(
            "select count(*) from information_schema.columns where table_schema = 'marts' "
            "and table_name = 'account_snapshots' and column_name in ('as_of_date', 'account_id', 'owner_id')"
        ).fetchall()[0][0]
        if found < 3:
            return None
        return conn.sql(
            """
            with dates as (select distinct as_of_date from marts.account_snapshots where as_of_date <> $as_of),
            reference as (
                select coalesce(
                    (select max(as_of_date) from dates where as_of_date < $as_of),
                    (select min(as_of_date) from dates where as_of_date > $as_of)
                ) as as_of_date
            )
            select account_id, owner_id from marts.account_snapshots
            where as_of_date = (select as_of_date from reference)
            """,
            params={"as_of": as_of},
        ).pl()


def picture_metadata(context, key: str, alt: str, draw: Callable[[], bytes | tuple | None]) -> dict:
    """`{key: Markdown with the PNG inline}` for an asset's metadata (the asset page shows the picture), drawn by
    `draw` (assets/rules/pictures.py); {} when there is nothing to draw. A picture never stops a run: a drawing error
    is a warning."""
    try:
        drawn = draw()
    except Exception as error:
        context.log.warning(f"{key}: the picture could not be drawn: {first_line(error)}")
        return {}
    if drawn is None:
        return {}
    png = drawn[0] if isinstance(drawn, tuple) else drawn
    return {key: dg.MetadataValue.md(markdown_image(png, alt))}


def metadata_recorded_with(context, key: dg.AssetKey, fingerprint: str) -> dict | None:
    """The metadata of `key`'s latest materialization in this Dagster instance when that materialization recorded
    `fingerprint` as its `input_fingerprint` (the run whose stored result a step keeps, assets/rules/reuse.py); None
    when the instance has no such record."""
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    metadata = dict(event.asset_materialization.metadata)
    if getattr(metadata.get("input_fingerprint"), "value", None) != fingerprint:
        return None
    return metadata
