"""raw: typed, validated ingest of each input file, every row kept with where it came from.

Transactional inputs (billing lines, client records, engagement events) are read, typed and validated in batches of
whole files (about 2M rows) and appended to a loading table that replaces `raw.<name>` only once every file has
passed, so memory holds one batch and a failed ingest leaves the previous table as it was. Reference inputs (sellers, FX rates) are small and
checked as a whole (a key repeated across two files is an error). With ALMS_ENGINE=spark the transactional inputs are
read, typed and validated by Spark with the same rules (`_ingest_on_spark`, docs/spark.md).
"""

import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pandera.polars as pa
import polars as pl

import assets.common
from assets.common import errors_as_dagster_failures, metadata_recorded_with, validate
from assets.metadata import column_schema_for, table_metadata
from assets.resources import AlmsSettings, Warehouse
from assets.rules import inputs, parsing, reuse
from assets.rules.progress import progress
from assets.rules.tables import write_frame
from assets.spark import SparkEngine, clear_folder, is_spark_view, point_view_at
from schemas import raw as raw_schemas
from schemas import validate_frame
from schemas.raw import (
    RawAccountOverrides,
    RawBillingLines,
    RawClients,
    RawEngagementEvents,
    RawFxRates,
    RawInputFiles,
    RawMatchOverrides,
    RawOpportunities,
    RawProspects,
    RawSellerPicks,
    RawSellers,
)

BATCH_ROWS = 2_000_000  # files are typed, validated and written in batches of about this many rows


def _batched(frames: Iterator[pl.DataFrame], rows: int) -> Iterator[pl.DataFrame]:
    """Small files gathered into batches of about `rows` rows (a large file is a batch on its own)."""
    batch: list[pl.DataFrame] = []
    size = 0
    for frame in frames:
        batch.append(frame)
        size += frame.height
        if size >= rows:
            yield pl.concat(batch, how="vertical")
            batch, size = [], 0
    if batch:
        yield pl.concat(batch, how="vertical")


def _files_replaced(
    settings: AlmsSettings, spec: inputs.InputSpec, report: dict, existing: set[str], months
) -> tuple[list[str], list[str], object]:
    """The files this ingest read (their rows replace the table's rows of those files), the files the table holds
    that are no longer on disk, and `months`: None when the ingest read every file the table holds (the new rows are
    then the whole table: swapping it is faster than replacing rows)."""
    replaced, gone = sorted(report["files"]), []
    if months is not None:
        on_disk = {
            p.relative_to(settings.data_dir).as_posix() for p in inputs.find_input_files(settings.data_dir, spec)
        }
        gone = sorted(existing - on_disk)
        if existing <= set(replaced) | set(gone):
            months = None
    return replaced, gone, months


def _ingest(
    context: dg.AssetExecutionContext,
    settings: AlmsSettings,
    warehouse: Warehouse,
    name: str,
    spec: inputs.InputSpec,
    parse: Callable[[pl.DataFrame], pl.DataFrame],
    model: type[pa.DataFrameModel],
    per_file: bool,
    months: set[str] | None = None,
    known_months: set[str] = frozenset(),
) -> dg.MaterializeResult:
    """Read, type, validate and store one input. `months` (a monthly-partitioned input): only files whose path names
    one of those months are read again, plus files that name no month (they cannot be placed, so every run reads
    them); their old rows, and the rows of files no longer in the folder, are replaced in one transaction."""
    report = inputs.new_report()
    loading = f"raw.{name}__loading"
    rows = cleaned = 0
    schema = None
    fingerprint = None
    with (
        errors_as_dagster_failures(),
        warehouse.connect() as conn,
        progress(f"raw.{name}", context.log.info, conn) as step,
    ):
        if is_spark_view(conn, "raw", name):  # left by a run on the Spark engine: this engine reads every file again
            conn.execute(f"drop view raw.{name}")
        if months is None and known_months == frozenset():  # an input without partitions: every run reads it all
            fingerprint = _files_fingerprint(settings, spec)
            kept = _kept(context, settings, conn, name, fingerprint)
            if kept is not None:
                return kept
        existing = _existing_files(conn, name, model) if months is not None else None
        if existing is None:
            months = None  # first ingest, or a table from an older layout: read everything
        only = None if months is None else _selector(months, known_months)
        conn.execute(f"drop table if exists {loading}")
        if per_file:
            files = (
                frame for _, frame in inputs.iter_input_files(settings.data_dir, spec, report, context.log.info, only)
            )
            chunks = _batched(files, BATCH_ROWS)
        else:
            whole, report = inputs.read_input(settings.data_dir, spec, context.log.info)
            chunks = iter([whole])
            del whole
        step.update("reading the first files")
        for text in chunks:
            step.update(f"{rows:,} rows written; typing and validating {text.height:,} more")
            frame = validate(model, parse(text))
            del text
            write_frame(conn, loading, frame, append=schema is not None)
            rows += frame.height
            step.update(f"{rows:,} rows written; reading the next files")
            if "cleaned_fields" in frame.columns:
                cleaned += frame.height - frame["cleaned_fields"].null_count()
            schema = frame.schema
        if schema is None:  # no file at all (an optional input): an empty table of the right shape
            frame = validate(model, parse(inputs.empty_text_frame(spec)))
            write_frame(conn, loading, frame)
            schema = frame.schema
        replaced, gone, months = _files_replaced(settings, spec, report, existing, months)
        step.update(f"{rows:,} rows written; replacing raw.{name}")
        if months is None:
            conn.execute(f"drop table if exists raw.{name}")
            conn.execute(f"alter table {loading} rename to {name}")
            if fingerprint is not None:  # what the table was read from, for the next run (assets/rules/reuse.py)
                reuse.record(conn, [f"raw.{name}"], fingerprint, context.run.run_id)
        else:
            conn.execute("begin transaction")
            conn.execute(
                f"delete from raw.{name} where source_file in (select unnest(?::varchar[]))", [replaced + gone]
            )
            conn.execute(f"insert into raw.{name} select * from {loading}")
            conn.execute("commit")
            conn.execute(f"drop table {loading}")
            rows = conn.sql(f"select count(*) from raw.{name}").fetchall()[0][0]
    result = _ingested(context, name, schema, rows, report, cleaned, months, replaced, gone)
    if fingerprint is None:
        return result
    return dg.MaterializeResult(
        metadata={**result.metadata, "ingest_result": "computed", "input_fingerprint": fingerprint}
    )


# the code whose change can change an ingested table
INGEST_CODE = tuple(
    Path(module.__file__) for module in (sys.modules[__name__], inputs, parsing, raw_schemas, assets.common)
)


def _files_fingerprint(settings: AlmsSettings, spec: inputs.InputSpec) -> str:
    """Everything an unpartitioned input's table is read from: its files (path, size, SHA-256), the code that reads,
    types and validates them, and the libraries it calls."""
    files = reuse.files_digest(settings.data_dir, inputs.find_input_files(settings.data_dir, spec))
    return reuse.fingerprint(
        {}, {"files": files}, reuse.source_digest(INGEST_CODE), ("polars", "pandera", "duckdb", "pyarrow")
    )


def _kept(context, settings: AlmsSettings, conn, name: str, fingerprint: str) -> dg.MaterializeResult | None:
    """raw.<name> kept as it is when it was read from exactly these files by this code (its comment carries the same
    fingerprint) and this Dagster instance recorded that ingest (its metadata is recorded again); else None."""
    if not settings.reuse_unchanged:
        return None
    computed_by = reuse.stored_run(conn, [f"raw.{name}"], fingerprint)
    metadata = metadata_recorded_with(context, dg.AssetKey(["raw", name]), fingerprint)
    if computed_by is None or metadata is None:
        return None
    _warn(
        context,
        name,
        metadata["ignored_columns"].value,
        metadata["files_without_rows"].value,
        metadata["rows_with_control_characters_cleaned"].value,
    )  # what the ingest that read these files warned about
    context.log.info(f"raw.{name}: its files and the ingest code unchanged since run {computed_by[:8]}: table kept")
    return dg.MaterializeResult(metadata={**metadata, "ingest_result": "reused", "computed_by_run": computed_by})


def _warn(context, name: str, ignored_columns: dict, files_without_rows: list, cleaned: int) -> None:
    for relative, columns in ignored_columns.items():
        context.log.warning(f"{relative}: columns not in the contract were ignored: {', '.join(columns)}")
    for relative in files_without_rows:
        context.log.warning(f"{relative}: header only, no data rows")
    if cleaned:
        context.log.warning(
            f"{name}: {cleaned:,} rows held control characters, replaced by spaces (marts.quarantined_rows)"
        )


def _ingested(context, name: str, schema, rows: int, report: dict, cleaned: int, months, replaced, gone):
    """What an ingest logs and records, whichever engine read the files."""
    _warn(context, name, report["ignored_columns"], report["files_without_rows"], cleaned)
    if months is not None:
        context.log.info(
            f"{name}: months {', '.join(sorted(months)) or '-'}: {len(replaced)} files read again, "
            f"{len(gone)} gone; {rows:,} rows in raw.{name}"
        )
    return dg.MaterializeResult(
        metadata={
            **table_metadata("raw", name, schema, rows),
            "files": dg.MetadataValue.json(report["files"]),
            "file_count": len(report["files"]),
            "files_removed": dg.MetadataValue.json(gone),
            "ingest": "full" if months is None else "months " + ", ".join(sorted(months)),
            "ignored_columns": dg.MetadataValue.json(report["ignored_columns"]),
            "files_without_rows": dg.MetadataValue.json(report["files_without_rows"]),
            "rows_with_control_characters_cleaned": cleaned,
        },
    )


def _ingest_on_spark(
    context: dg.AssetExecutionContext,
    settings: AlmsSettings,
    warehouse: Warehouse,
    spark: SparkEngine,
    name: str,
    spec: inputs.InputSpec,
    parse: Callable[[pl.DataFrame], pl.DataFrame],
    model: type[pa.DataFrameModel],
    months: set[str] | None = None,
    known_months: set[str] = frozenset(),
) -> dg.MaterializeResult:
    """`_ingest` on Spark (ALMS_ENGINE=spark): the files are read, typed and validated by Spark's executors with the
    same rules (assets/rules/spark_ingest.py) into Parquet under the warehouse (`raw/<name>/`), and `raw.<name>` here
    becomes a view over it, as a SQL model's table does. The new folder replaces the old one only once every file has
    passed; a month's run keeps the old folder's rows of the files it does not read again."""
    from assets.rules.spark_ingest import ingest_on_spark

    report = inputs.new_report()
    folder = spark.table_path("raw", name)
    loading, merged = f"{folder}__loading", f"{folder}__merged"
    with (
        errors_as_dagster_failures(),
        warehouse.connect() as conn,
        progress(f"raw.{name}", context.log.info, conn) as step,
    ):
        existing = None
        if months is not None and is_spark_view(conn, "raw", name):
            existing = _existing_files(conn, name, model)
        if existing is None:
            months = None  # first ingest on Spark, or a table from an older layout: read everything
        only = None if months is None else _selector(months, known_months)
        files = [
            p
            for p in inputs.find_input_files(settings.data_dir, spec)
            if only is None or only(p.relative_to(settings.data_dir).as_posix())
        ]
        step.update(f"reading, typing and validating {len(files)} files on Spark")
        clear_folder(loading)
        session = spark.session()
        ingest_on_spark(session, settings.data_dir, spec, parse, model, files, report, loading, BATCH_ROWS)
        read = conn.execute(
            "select source_file, count(*), count(cleaned_fields) from read_parquet(?) group by all",
            [(Path(loading) / "*.parquet").as_posix()],
        ).fetchall()
        cleaned = sum(c for _, _, c in read)
        report["files"].update({f: n for f, n, _ in read})
        report["files_without_rows"] = [f for f, n in report["files"].items() if n == 0]
        replaced, gone, months = _files_replaced(settings, spec, report, existing, months)
        step.update(f"replacing raw.{name}")
        if months is not None:  # the old rows of the files not read again, and the new ones, in a new folder
            from pyspark.sql import functions as F

            kept = session.read.parquet(folder).where(~F.col("source_file").isin(replaced + gone))
            clear_folder(merged)
            kept.unionByName(session.read.parquet(loading)).write.parquet(merged)
            clear_folder(loading)
            loading = merged
        clear_folder(folder)
        Path(loading).rename(folder)
        point_view_at(conn, "raw", name, folder)
        rows = conn.sql(f"select count(*) from raw.{name}").fetchall()[0][0]
    schema = validate_frame(model, parse(inputs.empty_text_frame(spec))).schema
    return _ingested(context, name, schema, rows, report, cleaned, months, replaced, gone)


def _selector(months: set[str], known: set[str]) -> Callable[[str], bool]:
    """Files a run of `months` reads: those naming one of the months, and those naming no month of the partitions
    `known` (no month at all, or one outside them), which no partition owns and every run therefore reads."""

    def only(relative: str) -> bool:
        month = inputs.file_month(relative)
        return month in months or month not in known

    return only


def _existing_files(conn, name: str, model: type[pa.DataFrameModel]) -> set[str] | None:
    """Files whose rows raw.<name> holds now; None when there is no table yet, or when it has other columns than
    this version writes (then every file is read again)."""
    columns = [
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ? "
            "order by ordinal_position",
            [name],
        ).fetchall()
    ]
    if columns != list(model.to_schema().columns):
        return None
    return {row[0] for row in conn.sql(f"select distinct source_file from raw.{name}").fetchall()}


def _raw_asset(name: str, spec: inputs.InputSpec, parse, model, per_file: bool, description: str, monthly=None):
    """The ingest asset of one input; `monthly`: its monthly partitions (assets/common.py `monthly_partitions`)."""

    def _asset(context: dg.AssetExecutionContext, settings: AlmsSettings, warehouse: Warehouse, spark: SparkEngine):
        months = None if monthly is None else set(context.partition_keys)
        known = frozenset() if monthly is None else set(monthly.get_partition_keys())
        if per_file and settings.engine == "spark":  # the transactional inputs: read by Spark (docs/spark.md)
            return _ingest_on_spark(context, settings, warehouse, spark, name, spec, parse, model, months, known)
        return _ingest(context, settings, warehouse, name, spec, parse, model, per_file, months, known)

    _asset.__name__ = name
    with warnings.catch_warnings():  # backfill_policy is marked beta; a single-run backfill is what 12+ months need
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.asset(
            name=name,
            key_prefix="raw",
            group_name="raw",
            kinds={"polars", "duckdb"},
            description=description,
            metadata=column_schema_for("raw", name),
            partitions_def=monthly,
            backfill_policy=dg.BackfillPolicy.single_run() if monthly is not None else None,
        )(_asset)


def billing_lines(monthly: dg.MonthlyPartitionsDefinition) -> dg.AssetsDefinition:
    return _raw_asset(
        "billing_lines",
        inputs.BILLING,
        parsing.parse_billing_lines,
        RawBillingLines,
        True,
        "Every invoice line of every file in billing/, as text and typed (null where a value does not parse). "
        "Monthly partitions: a month's run reads again the files named with that month (billing/<system>_YYYY-MM.csv) "
        "and files that name no month.",
        monthly=monthly,
    )


clients = _raw_asset(
    "clients",
    inputs.CLIENTS,
    parsing.parse_client_records,
    RawClients,
    True,
    "Every client record of every source system (clients/), typed; unparseable optional values nulled and listed.",
)


def engagement_events(monthly: dg.MonthlyPartitionsDefinition) -> dg.AssetsDefinition:
    return _raw_asset(
        "engagement_events",
        inputs.ENGAGEMENT,
        parsing.parse_engagement_events,
        RawEngagementEvents,
        True,
        "Every engagement event (engagement/), typed where it parses. Optional input: none gives an empty table. "
        "Monthly partitions, as for billing lines.",
        monthly=monthly,
    )


sellers = _raw_asset(
    "sellers",
    inputs.SELLERS,
    parsing.parse_sellers,
    RawSellers,
    False,
    "The sellers who own accounts (sellers.csv or sellers/). Reference data: a bad row stops the run.",
)
fx_rates = _raw_asset(
    "fx_rates",
    inputs.FX_RATES,
    parsing.parse_fx_rates,
    RawFxRates,
    False,
    "Monthly rates into the reporting currency (fx_rates.csv). Reference data: a bad row stops the run.",
)

match_overrides = _raw_asset(
    "match_overrides",
    inputs.MATCH_OVERRIDES,
    parsing.parse_match_overrides,
    RawMatchOverrides,
    False,
    "People's must-link / cannot-link decisions on pairs of client records (match_overrides.csv), with who and why.",
)

opportunities = _raw_asset(
    "opportunities",
    inputs.OPPORTUNITIES,
    parsing.parse_opportunities,
    RawOpportunities,
    True,
    "Every open and closed deal (opportunities/), typed where it parses. Optional input: none gives an empty table "
    "and the likelihood criterion is missing for every account.",
)
prospects = _raw_asset(
    "prospects",
    inputs.PROSPECTS,
    parsing.parse_prospects,
    RawProspects,
    False,
    "Organisations that do not bill yet (prospects.csv or prospects/): the lead candidates.",
)
seller_picks = _raw_asset(
    "seller_picks",
    inputs.SELLER_PICKS,
    parsing.parse_seller_picks,
    RawSellerPicks,
    False,
    "Sellers' own targets and leads (seller_picks.csv), checked against the accounts when scoring.",
)
account_overrides = _raw_asset(
    "account_overrides",
    inputs.ACCOUNT_OVERRIDES,
    parsing.parse_account_overrides,
    RawAccountOverrides,
    False,
    "Front-line overrides of tier or designation (overrides.csv) with who, why and until when.",
)


@dg.asset(
    key_prefix="raw",
    group_name="raw",
    kinds={"polars", "duckdb"},
    metadata=column_schema_for("raw", "input_files"),
)
def input_files(context: dg.AssetExecutionContext, settings: AlmsSettings, warehouse: Warehouse):
    """Every file of every input in the input folder (month folders included), with its size and modification
    time: what marts.input_files accounts for, row by row. The layout is checked as the ingest checks it."""
    with errors_as_dagster_failures():
        frame = validate(RawInputFiles, inputs.list_input_files(settings.data_dir))
    with warehouse.connect() as conn:
        write_frame(conn, "raw.input_files", frame)
    per_input = dict(frame.group_by("input_name").len().sort("input_name").iter_rows())
    context.log.info(f"input_files: {frame.height:,} files ({', '.join(f'{k} {v}' for k, v in per_input.items())})")
    return dg.MaterializeResult(
        metadata={
            **table_metadata("raw", "input_files", frame.schema, frame.height),
            "files_per_input": dg.MetadataValue.json(per_input),
            "bytes": int(frame["size_bytes"].sum()),
        }
    )


def build_raw_assets(monthly: dg.MonthlyPartitionsDefinition) -> list[dg.AssetsDefinition]:
    """Every raw asset; billing lines and engagement events with the monthly partitions `monthly`."""
    return [billing_lines(monthly), engagement_events(monthly), *UNPARTITIONED]


UNPARTITIONED = [
    clients,
    sellers,
    fx_rates,
    match_overrides,
    opportunities,
    prospects,
    seller_picks,
    account_overrides,
    input_files,
]
