"""raw: typed, validated ingest of each input file, every row kept with where it came from."""


from collections.abc import Callable

import dagster as dg
import pandera.polars as pa
import polars as pl

from assets.common import clear_failures, validate
from assets.logic import inputs, parsing
from pipelines.metadata import column_schema_for
from pipelines.resources import AlmsSettings
from schemas.raw import RawBillingLines, RawClients, RawEngagementEvents, RawFxRates, RawSellers


def _ingest(
    context: dg.AssetExecutionContext,
    settings: AlmsSettings,
    spec: inputs.InputSpec,
    parse: Callable[[pl.DataFrame], pl.DataFrame],
    model: type[pa.DataFrameModel],
) -> dg.Output:
    with clear_failures():
        text, report = inputs.read_input(settings.data_dir, spec, progress=context.log.info)
        frame = parse(text)
        del text  # the typed frame replaces the text one: keep one copy of 10M lines in memory, not two
        frame = validate(model, frame)
    for relative, columns in report["ignored_columns"].items():
        context.log.warning(f"{relative}: columns not in the contract were ignored: {', '.join(columns)}")
    for relative in report["files_without_rows"]:
        context.log.warning(f"{relative}: header only, no data rows")
    return dg.Output(
        frame,
        metadata={
            "files": dg.MetadataValue.json(report["files"]),
            "file_count": len(report["files"]),
            "ignored_columns": dg.MetadataValue.json(report["ignored_columns"]),
            "files_without_rows": dg.MetadataValue.json(report["files_without_rows"]),
        },
    )


def _raw_asset(name: str, spec: inputs.InputSpec, parse, model, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        key_prefix="raw",
        group_name="raw",
        kinds={"polars", "duckdb"},
        description=description,
        metadata=column_schema_for("raw", name),
    )
    def _asset(context: dg.AssetExecutionContext, settings: AlmsSettings) -> dg.Output:
        return _ingest(context, settings, spec, parse, model)

    return _asset


billing_lines = _raw_asset(
    "billing_lines",
    inputs.BILLING,
    parsing.parse_billing_lines,
    RawBillingLines,
    "Every invoice line of every file in billing/, as text and typed (null where a value does not parse).",
)
clients = _raw_asset(
    "clients",
    inputs.CLIENTS,
    parsing.parse_client_records,
    RawClients,
    "Every client record of every source system (clients/), typed; unparseable optional values nulled and listed.",
)
engagement_events = _raw_asset(
    "engagement_events",
    inputs.ENGAGEMENT,
    parsing.parse_engagement_events,
    RawEngagementEvents,
    "Every engagement event (engagement/), typed where it parses. Optional input: none gives an empty table.",
)
sellers = _raw_asset(
    "sellers",
    inputs.SELLERS,
    parsing.parse_sellers,
    RawSellers,
    "The sellers who own accounts (sellers.csv or sellers/). Reference data: a bad row stops the run.",
)
fx_rates = _raw_asset(
    "fx_rates",
    inputs.FX_RATES,
    parsing.parse_fx_rates,
    RawFxRates,
    "Monthly rates into the reporting currency (fx_rates.csv). Reference data: a bad row stops the run.",
)

RAW_ASSETS = [billing_lines, clients, engagement_events, sellers, fx_rates]
