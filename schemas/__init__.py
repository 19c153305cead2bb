"""pandera models, one per validated or published table, found by their warehouse table name; the published tables;
`validate_frame`, how every frame is validated."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pandera.polars as pa
import polars as pl
from polars.lazyframe import engine_config

from schemas.marts import (
    AccountChanges,
    AccountOverrides,
    Accounts,
    AccountScores,
    AccountSnapshots,
    BillingCompleteness,
    ClientCrosswalk,
    EngagementCompleteness,
    InputFiles,
    KeyLevelReruns,
    KeyLevels,
    MatchReviewPairs,
    QuarantinedRows,
    SellerAccountLists,
    Sellers,
)
from schemas.outcomes import (
    PrioritizationOutcomes,
    RawSellerFeedback,
    ScoringBacktest,
    SellerFeedback,
    SellerFeedbackCounts,
)
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

# The published tables, in publishing order, each with its pandera model and the row order BI readers get from a
# plain `select *` (the working tables have none). Each order ends in a unique key of its table, so identical runs give
# identical files (tests/test_publication.py). The publisher (assets/publish.py), the registry below and the summary
# of `alms run` derive from this list.
PUBLISHED: dict[tuple[str, str], tuple[type[pa.DataFrameModel], str]] = {
    ("marts", "accounts"): (Accounts, "billing_rank"),
    ("marts", "key_levels"): (KeyLevels, "review_period_start_date"),
    ("marts", "key_level_reruns"): (KeyLevelReruns, "rerun_at, review_period_start_date, run_id"),
    ("marts", "seller_account_lists"): (SellerAccountLists, "owner_id nulls last, seller_rank"),
    ("marts", "client_crosswalk"): (ClientCrosswalk, "account_id, source_system, source_client_id"),
    ("marts", "quarantined_rows"): (QuarantinedRows, "input_name, source_file, source_row"),
    ("marts", "match_review_pairs"): (MatchReviewPairs, "review_rank"),
    ("marts", "account_scores"): (AccountScores, "priority_score desc, account_id"),
    ("marts", "account_overrides"): (AccountOverrides, "source_file, source_row"),
    ("marts", "account_snapshots"): (AccountSnapshots, "as_of_date, account_id"),
    ("marts", "account_changes"): (AccountChanges, "to_as_of_date, account_id, field"),
    ("marts", "input_files"): (InputFiles, "input_name, source_file"),
    ("marts", "billing_completeness"): (BillingCompleteness, "source_system, month_start_date"),
    ("marts", "engagement_completeness"): (EngagementCompleteness, "source_system, month_start_date"),
    ("marts", "sellers"): (Sellers, "owner_id nulls last, seller_name"),
    ("marts", "prioritization_outcomes"): (
        PrioritizationOutcomes,
        "as_of_date, snapshot_source, population, group_kind, group_value, horizon_months",
    ),
    ("marts", "scoring_backtest"): (ScoringBacktest, "horizon_months, ranking, as_of_date nulls last"),
    ("marts", "seller_feedback"): (SellerFeedback, "source_file, source_row"),
    ("marts", "seller_feedback_counts"): (SellerFeedbackCounts, "dimension, group_value, verdict"),
}
# (layer, table) -> the row order it is published in
PUBLISHED_TABLES: dict[tuple[str, str], str] = {table: order for table, (_, order) in PUBLISHED.items()}
# The published tables that carry their past, each with the column a run adds its own rows by (its order's first
# column): a publication takes the previous one's alms.duckdb and appends the new values' rows to them where the rows
# it had are unchanged, and publishes them in Parquet as a file per value, so a monthly run's cost does not grow with
# the snapshots kept (assets/rules/publish.py).
APPENDED_TABLES: dict[tuple[str, str], str] = {("marts", "account_snapshots"): "as_of_date"}

SCHEMAS_BY_TABLE: dict[tuple[str, str], type[pa.DataFrameModel]] = {
    ("raw", "billing_lines"): RawBillingLines,
    ("raw", "clients"): RawClients,
    ("raw", "engagement_events"): RawEngagementEvents,
    ("raw", "sellers"): RawSellers,
    ("raw", "fx_rates"): RawFxRates,
    ("raw", "match_overrides"): RawMatchOverrides,
    ("raw", "opportunities"): RawOpportunities,
    ("raw", "prospects"): RawProspects,
    ("raw", "seller_picks"): RawSellerPicks,
    ("raw", "account_overrides"): RawAccountOverrides,
    ("raw", "input_files"): RawInputFiles,
    ("raw", "seller_feedback"): RawSellerFeedback,
    **{table: model for table, (model, _) in PUBLISHED.items()},
}


def column_descriptions(layer: str, name: str) -> dict[str, str]:
    model = SCHEMAS_BY_TABLE.get((layer, name))
    if model is None:
        return {}
    return {column: (spec.description or "") for column, spec in model.to_schema().columns.items()}


def polars_schema(model: type[pa.DataFrameModel]) -> dict[str, pl.DataType]:
    """The model's columns and their polars types, in order: the frame schema a rule builds or casts to."""
    return {column: spec.dtype.type for column, spec in model.to_schema().columns.items()}


def table_documentation(layer: str, name: str) -> tuple[str, dict[str, str]]:
    """(table description, column -> description) of a table with a pandera model: the model's docstring and its
    fields' descriptions, the one source of the comments a publication carries (assets/rules/documentation.py)."""
    model = SCHEMAS_BY_TABLE.get((layer, name))
    if model is None:
        return "", {}
    return " ".join((model.__doc__ or "").split()), column_descriptions(layer, name)


_ENGINE_LOCK = threading.Lock()
_ENGINE_USERS = [0, None]  # validations running, and the engine override in force before the first of them


@contextmanager
def _in_memory_engine() -> Iterator[None]:
    """polars' in-memory engine for the `collect()` calls in the block that name none (pandera's). It is polars'
    engine override, a Python setting of the process (`collect()` consults it before the environment's
    POLARS_ENGINE_AFFINITY, which is left alone: changing the environment while polars' threads read it is a race),
    set while any thread validates and set back after the last; another thread's query in that time gives the same
    result on either engine."""
    with _ENGINE_LOCK:
        if _ENGINE_USERS[0] == 0:
            _ENGINE_USERS[1] = engine_config.get_engine_affinity_override()
            engine_config.set_engine_affinity_override(pl.InMemoryEngine())
        _ENGINE_USERS[0] += 1
    try:
        yield
    finally:
        with _ENGINE_LOCK:
            _ENGINE_USERS[0] -= 1
            if _ENGINE_USERS[0] == 0:
                engine_config.set_engine_affinity_override(_ENGINE_USERS[1])


def validate_frame(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> pl.DataFrame:
    """`model.validate(frame, lazy=True)` (every problem in one report: pandera's SchemaErrors) on polars' in-memory
    engine. pandera runs each check of each column as a query of its own (about 65 for a mart of 20 columns); polars
    2 runs a `collect()` on its streaming engine unless told otherwise, 0.36 ms a query on a small frame against 0.14
    ms in memory: a mart of 20 rows validated in 25 -> 10 ms, about 24 validations a run. On frames of 0.8M-5M rows
    (marts.accounts, raw.clients, raw.engagement_events at 1M client records) the two engines took the same time
    and peak memory (0.30-0.65 s)."""
    with _in_memory_engine():
        return model.validate(frame, lazy=True)
