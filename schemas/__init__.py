"""pandera models, one per validated or published table, found by their warehouse table name."""

import pandera.polars as pa

from schemas.marts import (
    AccountChanges,
    AccountHistory,
    Accounts,
    AccountScores,
    BillingCompleteness,
    ClientCrosswalk,
    EngagementCompleteness,
    InputFiles,
    KeyLevelAudit,
    KeyLevels,
    MatchReview,
    OverrideStatus,
    Quarantine,
    SellerAccountLists,
    Sellers,
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
    ("marts", "accounts"): Accounts,
    ("marts", "key_levels"): KeyLevels,
    ("marts", "key_level_audit"): KeyLevelAudit,
    ("marts", "seller_account_lists"): SellerAccountLists,
    ("marts", "client_crosswalk"): ClientCrosswalk,
    ("marts", "quarantine"): Quarantine,
    ("marts", "match_review"): MatchReview,
    ("marts", "account_scores"): AccountScores,
    ("marts", "override_status"): OverrideStatus,
    ("marts", "account_history"): AccountHistory,
    ("marts", "account_changes"): AccountChanges,
    ("marts", "input_files"): InputFiles,
    ("marts", "billing_completeness"): BillingCompleteness,
    ("marts", "engagement_completeness"): EngagementCompleteness,
    ("marts", "sellers"): Sellers,
}


def column_descriptions(layer: str, name: str) -> dict[str, str]:
    model = SCHEMAS_BY_TABLE.get((layer, name))
    if model is None:
        return {}
    return {column: (spec.description or "") for column, spec in model.to_schema().columns.items()}


def table_documentation(layer: str, name: str) -> tuple[str, dict[str, str]]:
    """(table description, column -> description) of a table with a pandera model: the model's docstring and its
    fields' descriptions, the one source of the comments a publication carries (assets/logic/documentation.py)."""
    model = SCHEMAS_BY_TABLE.get((layer, name))
    if model is None:
        return "", {}
    return " ".join((model.__doc__ or "").split()), column_descriptions(layer, name)
