"""pandera models of the published tables (the marts), with the column descriptions shown in the Dagster UI."""

from typing import Annotated

import pandera.polars as pa
import polars as pl

MONEY = Annotated[pl.Decimal, 38, 2]
BILLING_12M = "Net billing over the trailing 12 months in the reporting currency, exact to the cent (credit notes net)."


class Accounts(pa.DataFrameModel):
    """One row per deduplicated account, ranked top-down by 12-month billing, with its key flag."""

    account_id: str = pa.Field(
        unique=True, description="Account id: the smallest source_system:source_client_id of its records."
    )
    account_name: str = pa.Field(nullable=True, description="Name from the primary record (survivorship rule).")
    owner_id: str = pa.Field(nullable=True, description="Owning seller (survivorship rule); null: unassigned.")
    segment: str = pa.Field(nullable=True, isin=["local", "national"], description="local or national.")
    industry: str = pa.Field(nullable=True, description="Industry (survivorship rule).")
    country: str = pa.Field(nullable=True, description="Country (survivorship rule), as the source writes it.")
    primary_record: str = pa.Field(description="source_system:source_client_id of the record whose attributes won.")
    client_record_count: int = pa.Field(ge=1, description="Source client records combined into this account.")
    source_system_count: int = pa.Field(ge=1, description="Distinct source systems that know this account.")
    billing_12m: MONEY = pa.Field(description=BILLING_12M)
    billing_line_count: int = pa.Field(ge=0, description="Clean billing lines in the window that make up billing_12m.")
    engagement_events_12m: int = pa.Field(ge=0, description="Engagement events in the window (sum of quantity).")
    billing_rank: int = pa.Field(
        ge=1, unique=True, description="Position in the top-down list: billing desc, then account_id."
    )
    cumulative_billing_share: float = pa.Field(
        nullable=True,
        ge=0,
        le=1.000001,
        description="Share of all positive billing held by this account and those above it; null for zero or negative billing.",
    )
    is_key_account: bool = pa.Field(description="Billing >= key level (and positive): a key account; else secondary.")
    key_level: MONEY = pa.Field(gt=0, description="The key level applied (reporting currency).")
    as_of_date: pl.Date = pa.Field(description="Last day of the 12-month window.")

    class Config:
        strict = True


class KeyLevels(pa.DataFrameModel):
    """The key level of the as-of date: how it was computed and what it gives."""

    as_of_date: pl.Date = pa.Field(unique=True, description="Last day of the 12-month window.")
    window_start_date: pl.Date = pa.Field(description="First day of the 12-month window.")
    reporting_currency: str = pa.Field(str_matches=r"^[A-Z]{3}$", description="Currency of all amounts.")
    key_share: float = pa.Field(
        gt=0, le=1, description="Share of ranked accounts counted down to find the level (0.25)."
    )
    ranked_accounts: int = pa.Field(ge=1, description="n: accounts with positive 12-month billing.")
    key_count_rule: int = pa.Field(ge=1, description="k = ceil(key_share * n).")
    key_accounts: int = pa.Field(
        ge=1, description="Accounts at or above the key level (>= k when several tie at the level)."
    )
    key_level: MONEY = pa.Field(gt=0, description="12-month billing of the k-th account: the key level.")
    total_billing_12m: MONEY = pa.Field(gt=0, description="Sum of positive 12-month billing over ranked accounts.")
    key_billing_12m: MONEY = pa.Field(gt=0, description="12-month billing of the key accounts.")
    key_billing_share: float = pa.Field(gt=0, le=1, description="key_billing_12m / total_billing_12m.")
    computed_at: pl.Datetime("us", "UTC") = pa.Field(description="When this level was computed (UTC).")

    class Config:
        strict = True


class SellerAccountLists(pa.DataFrameModel):
    """Per seller, their accounts ordered by 12-month billing with key / secondary."""

    owner_id: str = pa.Field(nullable=True, description="Seller id; null for accounts without an owner.")
    seller_name: str = pa.Field(description="Seller's name; '(unassigned)' or '(unknown seller)' when not in sellers.")
    team: str = pa.Field(nullable=True, description="Sales team.")
    has_known_seller: bool = pa.Field(description="owner_id is in the sellers file.")
    seller_rank: int = pa.Field(ge=1, description="Position in the seller's list: billing desc, then account_id.")
    account_id: str = pa.Field(unique=True, description="The account (see marts.accounts).")
    account_name: str = pa.Field(nullable=True, description="Account name.")
    segment: str = pa.Field(nullable=True, description="local or national.")
    billing_12m: MONEY = pa.Field(description=BILLING_12M)
    billing_rank: int = pa.Field(ge=1, description="Position in the company-wide top-down list.")
    is_key_account: bool = pa.Field(description="Key account.")
    designation: str = pa.Field(isin=["key", "secondary"], description="key or secondary.")

    class Config:
        strict = True


class ClientCrosswalk(pa.DataFrameModel):
    """Every usable input client record, once, with the account it belongs to."""

    source_system: str = pa.Field(description="Source system.")
    source_client_id: str = pa.Field(description="Client id in that system.")
    account_id: str = pa.Field(description="The deduplicated account (see marts.accounts).")
    match_rule: str = pa.Field(
        description="How the record joined its account: probabilistic, must_link_override, unmatched (alone), or "
        "with ALMS_MATCHER=deterministic the rule (name+domain, ...)."
    )
    match_confidence: float = pa.Field(
        nullable=True, ge=0, le=1, description="Match probability of the record's strongest link; null when alone."
    )
    match_evidence: str = pa.Field(
        nullable=True, description="Fields that agreed on that link, e.g. 'name=exact, domain, phone'."
    )
    is_primary_record: bool = pa.Field(description="This record's attributes won the survivorship rule.")
    client_name: str = pa.Field(nullable=True, description="Name as the source system holds it.")
    source_file: str = pa.Field(description="Input file of the record.")

    class Config:
        strict = True
        unique = ["source_system", "source_client_id"]


class Quarantine(pa.DataFrameModel):
    """Input rows that did not reach the marts as they were, with the reason."""

    input_name: str = pa.Field(isin=["billing", "clients", "engagement"], description="Which input the row belongs to.")
    source_file: str = pa.Field(description="Input file, relative to the input folder.")
    source_row: int = pa.Field(ge=1, description="1-based data row in that file.")
    column_name: str = pa.Field(nullable=True, description="Column(s) at fault.")
    reason: str = pa.Field(
        isin=[
            "missing_value",
            "unparseable_date",
            "unparseable_amount",
            "unparseable_quantity",
            "unparseable_value",
            "absurd_amount",
            "unknown_currency",
            "missing_fx_rate",
            "unknown_client",
            "duplicate_line",
            "duplicate_record",
            "future_date",
        ],
        description="Why (see the README's quarantine table).",
    )
    action: str = pa.Field(
        isin=["excluded", "kept_with_nulls"],
        description="excluded: left out; kept_with_nulls: used with the value emptied.",
    )
    record: str = pa.Field(description="The row's original values, ' | ' separated.")

    class Config:
        strict = True
        unique = ["input_name", "source_file", "source_row"]


class MatchReview(pa.DataFrameModel):
    """Pairs of client records for a person to confirm (must_link) or reject (cannot_link) in match_overrides."""

    source_system_1: str = pa.Field(description="First record: source system.")
    source_client_id_1: str = pa.Field(description="First record: client id.")
    name_1: str = pa.Field(nullable=True, description="First record: name.")
    account_id_1: str = pa.Field(description="First record's account now.")
    source_system_2: str = pa.Field(description="Second record: source system.")
    source_client_id_2: str = pa.Field(description="Second record: client id.")
    name_2: str = pa.Field(nullable=True, description="Second record: name.")
    account_id_2: str = pa.Field(description="Second record's account now (differs from account_id_1).")
    match_probability: float = pa.Field(
        ge=0, le=1, description="The matcher's probability that both are one organisation."
    )
    review_reason: str = pa.Field(isin=["near_threshold", "names_disagree"], description="Why it needs a person.")
    name_level: str = pa.Field(description="How the names compare: exact, typo, similar, weak, different.")
    evidence: str = pa.Field(description="Fields that agreed.")

    class Config:
        strict = True
