"""What every asset module shares: turning domain errors into clear Dagster failures, validating frames."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import pandera.errors
import pandera.polars as pa
import polars as pl

from assets.logic.inputs import InputError
from assets.logic.key_accounts import NoBillingError


@contextmanager
def clear_failures() -> Iterator[None]:
    """Input and rule errors become a `dg.Failure` whose description is the message a user needs, nothing more."""
    try:
        yield
    except (InputError, NoBillingError) as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None


def validate(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> pl.DataFrame:
    """Validate an eager frame with every problem listed in one report (lazy=True)."""
    try:
        return model.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        raise dg.Failure(
            description=f"{model.__name__}: the data breaks its schema; every problem found:\n{errors}",
            allow_retries=False,
        ) from None


# The marts people act on are refreshed monthly (the monthly_refresh schedule): a run older than a month and a few days
# means a refresh was missed. Shown on each asset's page and in the UI's freshness view.
MONTHLY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=35), warn_window=dt.timedelta(days=32))


# Billing and engagement arrive as monthly files; their raw ingest is partitioned by that month (key YYYY-MM). The
# range starts early enough for any history a customer brings and ends with the current month.
MONTHLY = dg.MonthlyPartitionsDefinition(start_date="2015-01", fmt="%Y-%m", end_offset=1)


def recorded_table(context, warehouse, table: str, columns) -> pl.DataFrame | None:
    """What earlier runs recorded in `marts.<table>` (tables that carry their past: key levels, history): None when
    there is none yet, or when it predates the columns this version needs (then it is not carried over, and said)."""
    with warehouse.connect() as conn:
        found = {row[0] for row in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ?",
            [table]).fetchall()}  # fmt: skip
        if not found:
            return None
        if not set(columns) <= found:
            context.log.warning(f"marts.{table} was written by an older version; its rows are not carried over")
            return None
        return conn.sql(f"select * from marts.{table}").pl()
