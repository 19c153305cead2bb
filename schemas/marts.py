"""pandera models of the published tables (the marts), with the column descriptions shown in the Dagster UI."""

from typing import Annotated

import pandera.polars as pa
import polars as pl

MONEY = Annotated[pl.Decimal, 38, 2]
BILLING_12M = "Net billing over the trailing 12 months in the reporting currency, exact to the cent (credit notes net)."
CURRENCY = "ISO 4217 code of the amounts in this row ({}): ALMS_REPORTING_CURRENCY of the run that computed them."


def currency_field(amounts: str, nullable: bool = False):
    return pa.Field(str_matches=r"^[A-Z]{3}$", nullable=nullable, description=CURRENCY.format(amounts))


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
    is_key_account: bool = pa.Field(
        description="Billing >= the frozen key level of the review period (and positive): a key account; else secondary."
    )
    is_key_at_next_review: bool = pa.Field(
        description="Key under a level recomputed from today's data: differs from is_key_account for accounts that "
        "crossed the frozen level either way since the review."
    )
    key_level: MONEY = pa.Field(gt=0, description="The key level applied: the frozen level of the review period.")
    reporting_currency: str = currency_field("billing_12m, key_level")
    review_period_start_date: pl.Date = pa.Field(description="First day of the review period the level belongs to.")
    as_of_date: pl.Date = pa.Field(description="Last day of the 12-month window.")

    class Config:
        strict = True


class KeyLevels(pa.DataFrameModel):
    """The key level of every review period, frozen until the next review, and how it was computed."""

    review_period_start_date: pl.Date = pa.Field(unique=True, description="First day of the review period.")
    review_period_end_date: pl.Date = pa.Field(description="Last day of the review period.")
    review_kind: str = pa.Field(
        isin=["bootstrap", "review", "rerun"],
        description="bootstrap: the first level of this data set; review: a new period; rerun: computed again "
        "(see marts.key_level_reruns).",
    )
    as_of_date: pl.Date = pa.Field(description="As-of date of the data the level was computed from.")
    window_start_date: pl.Date = pa.Field(description="First day of that 12-month window.")
    reporting_currency: str = pa.Field(str_matches=r"^[A-Z]{3}$", description="Currency of all amounts.")
    key_share: float = pa.Field(
        gt=0, le=1, description="Share of ranked accounts counted down to find the level (0.25)."
    )
    ranked_accounts: int = pa.Field(ge=1, description="n: accounts with positive 12-month billing at the review.")
    key_count_rule: int = pa.Field(ge=1, description="k = ceil(key_share * n).")
    key_accounts: int = pa.Field(
        ge=1, description="Accounts at or above the level at the review (>= k when several tie at the level)."
    )
    key_level: MONEY = pa.Field(gt=0, description="12-month billing of the k-th account at the review: the key level.")
    total_billing_12m: MONEY = pa.Field(gt=0, description="Positive 12-month billing of ranked accounts at the review.")
    key_billing_12m: MONEY = pa.Field(gt=0, description="12-month billing of the key accounts at the review.")
    key_billing_share: float = pa.Field(gt=0, le=1, description="key_billing_12m / total_billing_12m.")
    computed_at: pl.Datetime("us", "UTC") = pa.Field(description="When this level was computed (UTC).")
    run_id: str = pa.Field(description="Dagster run that computed it.")
    is_current: bool = pa.Field(description="The period of the latest run: the level accounts are classified by.")

    class Config:
        strict = True


class KeyLevelReruns(pa.DataFrameModel):
    """Re-runs of reviews: what the level was, what it became, when and why."""

    review_period_start_date: pl.Date = pa.Field(description="The review period re-run.")
    old_key_level: MONEY = pa.Field(description="Level before the re-run.")
    new_key_level: MONEY = pa.Field(description="Level after the re-run.")
    reporting_currency: str = pa.Field(
        str_matches=r"^[A-Z]{3}$",
        description="ISO 4217 code of new_key_level: the currency of the period's level in marts.key_levels. "
        "old_key_level is in it too, unless reason names a change of reporting currency (then it is in the old one).",
    )
    old_as_of_date: pl.Date = pa.Field(description="As-of date of the data behind the old level.")
    new_as_of_date: pl.Date = pa.Field(description="As-of date of the data behind the new level.")
    has_changed: bool = pa.Field(description="The level or its data changed (false: same data, same level).")
    reason: str = pa.Field(description="Why it was re-run (ALMS_REVIEW_REASON).")
    rerun_at: pl.Datetime("us", "UTC") = pa.Field(description="When (UTC).")
    run_id: str = pa.Field(description="Dagster run that re-ran it.")

    class Config:
        strict = True


class SellerAccountLists(pa.DataFrameModel):
    """Per seller, every account they own (key / target / secondary, by 12-month billing) and then their leads."""

    owner_id: str = pa.Field(nullable=True, description="Seller id; null for accounts without an owner.")
    seller_name: str = pa.Field(description="Seller's name; '(unassigned)' or '(unknown seller)' when not in sellers.")
    team: str = pa.Field(nullable=True, description="Sales team.")
    has_known_seller: bool = pa.Field(description="owner_id is in the sellers file.")
    seller_rank: int = pa.Field(ge=1, description="Position in the seller's list: accounts by billing, then leads.")
    row_type: str = pa.Field(isin=["account", "lead"], description="account (a client) or lead (a prospect).")
    account_id: str = pa.Field(nullable=True, description="The account (see marts.accounts); null for a lead.")
    prospect_id: str = pa.Field(nullable=True, description="The prospect of a lead row; null for an account.")
    name: str = pa.Field(nullable=True, description="Account or prospect name.")
    billing_12m: MONEY = pa.Field(nullable=True, description=BILLING_12M + " Null for a lead.")
    reporting_currency: str = currency_field("billing_12m")
    billing_rank: int = pa.Field(nullable=True, ge=1, description="Position in the company-wide top-down list.")
    is_key_account: bool = pa.Field(description="Key account.")
    priority_score: float = pa.Field(
        nullable=True, ge=0, le=100, description="Account: priority score; lead: lead score (0-100)."
    )
    tier: str = pa.Field(nullable=True, isin=["high", "medium", "low"], description="Priority tier (after overrides).")
    designation_computed: str = pa.Field(
        isin=["key", "target", "secondary", "lead", "recommended_lead"], description="Designation before overrides."
    )
    designation: str = pa.Field(
        isin=["key", "target", "secondary", "lead", "recommended_lead"],
        description="key / target / secondary for accounts, lead for leads; recommended_lead: recommended but the "
        "seller picked other leads.",
    )
    designation_override_by: str = pa.Field(nullable=True, description="Who overrode the designation.")
    designation_override_reason: str = pa.Field(nullable=True, description="Why.")
    designation_override_until_date: pl.Date = pa.Field(nullable=True, description="Until when the override applies.")
    is_recommended: bool = pa.Field(description="alms recommends it as target (accounts) or lead (prospects).")
    is_seller_pick: bool = pa.Field(description="The seller picked it (seller_picks).")
    recommendation_rank: int = pa.Field(nullable=True, ge=1, description="Rank among the seller's recommendations.")

    class Config:
        strict = True


CRITERION_SCORE = "{}: {}; 0-100, null when the account lacks the data."
CONTRIBUTION = "Points of the priority score that come from {} (contributions add up to the score)."
CRITERION_HELP = {
    "current_spend": "12-month billing (percentile among accounts)",
    "growth": "last 6 months vs the 6 before, 50 = flat",
    "whitespace": "estimated wallet minus current spend (percentile)",
    "likelihood": "open pipeline x stage probability (percentile)",
    "engagement": "recency-weighted engagement (percentile)",
    "icp_fit": "industry and size against the ideal customer profile",
    "tenure": "years as a customer, capped",
    "strategic": "100 for a strategic segment",
}


class AccountScores(pa.DataFrameModel):
    """One row per account: priority score with every criterion's contribution, tier, status, health and churn risk."""

    account_id: str = pa.Field(unique=True, description="The account (see marts.accounts).")
    account_name: str = pa.Field(nullable=True, description="Account name.")
    owner_id: str = pa.Field(nullable=True, description="Owning seller.")
    billing_12m: MONEY = pa.Field(description=BILLING_12M)
    reporting_currency: str = currency_field("billing_12m, estimated_wallet")
    is_key_account: bool = pa.Field(description="Key account (marts.accounts).")
    status: str = pa.Field(
        isin=["active", "pipeline", "inactive"],
        description="active: positive 12-month billing; pipeline: none but an open deal; inactive: neither.",
    )
    priority_score: float = pa.Field(ge=0, le=100, description="Weighted score over the criteria present (0-100).")
    tier_computed: str = pa.Field(isin=["high", "medium", "low"], description="Tier from the score and thresholds.")
    tier: str = pa.Field(isin=["high", "medium", "low"], description="Tier after front-line overrides.")
    tier_override_by: str = pa.Field(nullable=True, description="Who overrode the tier (overrides file).")
    tier_override_reason: str = pa.Field(nullable=True, description="Why.")
    tier_override_until_date: pl.Date = pa.Field(nullable=True, description="Until when.")
    weight_coverage: float = pa.Field(
        gt=0, le=1.000001, description="Share of the configured weight whose criteria had data for this account."
    )
    missing_criteria: str = pa.Field(description="Criteria without data for this account (re-weighted over the rest).")
    current_spend_score: float = pa.Field(
        nullable=True,
        ge=0,
        le=100,
        description=CRITERION_SCORE.format("current_spend", "12-month billing (percentile among accounts)"),
    )
    current_spend_contribution: float = pa.Field(
        nullable=True, ge=0, le=100, description=CONTRIBUTION.format("current_spend")
    )
    growth_score: float = pa.Field(
        nullable=True,
        ge=0,
        le=100,
        description=CRITERION_SCORE.format("growth", "last 6 months vs the 6 before, 50 = flat"),
    )
    growth_contribution: float = pa.Field(nullable=True, ge=0, le=100, description=CONTRIBUTION.format("growth"))
    whitespace_score: float = pa.Field(
        nullable=True,
        ge=0,
        le=100,
        description=CRITERION_SCORE.format("whitespace", "estimated wallet minus current spend (percentile)"),
    )
    whitespace_contribution: float = pa.Field(
        nullable=True, ge=0, le=100, description=CONTRIBUTION.format("whitespace")
    )
    likelihood_score: float = pa.Field(
        nullable=True,
        ge=0,
        le=100,
        description=CRITERION_SCORE.format("likelihood", "open pipeline x stage probability (percentile)"),
    )
    likelihood_contribution: float = pa.Field(
        nullable=True, ge=0, le=100, description=CONTRIBUTION.format("likelihood")
    )
    engagement_score: float = pa.Field(
        nullable=True,
        ge=0,
        le=100,
        description=CRITERION_SCORE.format("engagement", "recency-weighted engagement (percentile)"),
    )
    engagement_contribution: float = pa.Field(
        nullable=True, ge=0, le=100, description=CONTRIBUTION.format("engagement")
    )
    icp_fit_score: float = pa.Field(
        nullable=True,
        ge=0,
        le=100,
        description=CRITERION_SCORE.format("icp_fit", "industry and size against the ideal customer profile"),
    )
    icp_fit_contribution: float = pa.Field(nullable=True, ge=0, le=100, description=CONTRIBUTION.format("icp_fit"))
    tenure_score: float = pa.Field(
        nullable=True, ge=0, le=100, description=CRITERION_SCORE.format("tenure", "years as a customer, capped")
    )
    tenure_contribution: float = pa.Field(nullable=True, ge=0, le=100, description=CONTRIBUTION.format("tenure"))
    strategic_score: float = pa.Field(
        nullable=True, ge=0, le=100, description=CRITERION_SCORE.format("strategic", "100 for a strategic segment")
    )
    strategic_contribution: float = pa.Field(nullable=True, ge=0, le=100, description=CONTRIBUTION.format("strategic"))
    estimated_wallet: float = pa.Field(
        nullable=True, ge=0, description="Employees x spend per employee of the industry."
    )
    open_deals: int = pa.Field(ge=0, description="Open opportunities.")
    health_score: float = pa.Field(nullable=True, ge=0, le=100, description="Customer-success health (0-100).")
    health_usage_trend_score: float = pa.Field(
        nullable=True, ge=0, le=100, description="Usage, last 3 months vs the 3 before; 50 = flat."
    )
    health_usage_trend_contribution: float = pa.Field(
        nullable=True, ge=0, le=100, description="Health points from usage trend."
    )
    health_satisfaction_score: float = pa.Field(
        nullable=True, ge=0, le=100, description="Mean survey score, 1-10 mapped to 0-100."
    )
    health_satisfaction_contribution: float = pa.Field(
        nullable=True, ge=0, le=100, description="Health points from satisfaction."
    )
    health_support_load_score: float = pa.Field(
        nullable=True, ge=0, le=100, description="100 / (1 + support tickets per month)."
    )
    health_support_load_contribution: float = pa.Field(
        nullable=True, ge=0, le=100, description="Health points from support load."
    )
    is_churn_risk: bool = pa.Field(description="Active account with low health or a steep usage drop.")
    churn_risk_reason: str = pa.Field(description="Why it is at risk; empty when not.")
    is_upsell_candidate: bool = pa.Field(description="Healthy (>= 60) with large whitespace (score >= 70).")
    config_version: str = pa.Field(description="scoring.yaml version and content digest used.")
    as_of_date: pl.Date = pa.Field(description="Last day of the 12-month window.")

    class Config:
        strict = True


class AccountOverrides(pa.DataFrameModel):
    """Every row of the overrides file and what became of it this run."""

    source_file: str = pa.Field(description="Input file.")
    source_row: int = pa.Field(ge=1, description="Row in that file.")
    source_system: str = pa.Field(description="Client record named: source system.")
    source_client_id: str = pa.Field(description="Client record named: client id.")
    account_id: str = pa.Field(nullable=True, description="Its account; null when the record is unknown.")
    field: str = pa.Field(isin=["tier", "designation"], description="What is overridden.")
    value: str = pa.Field(description="The value set.")
    computed_value: str = pa.Field(nullable=True, description="What alms computed for that field.")
    set_by: str = pa.Field(description="Who set it.")
    reason: str = pa.Field(description="Why.")
    valid_until_date: pl.Date = pa.Field(description="Last day it applies.")
    status: str = pa.Field(
        isin=["applied", "expired", "unknown_record"],
        description="applied; expired (valid_until_date before the as-of date, not applied); unknown_record (not applied).",
    )

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


class QuarantinedRows(pa.DataFrameModel):
    """Input rows that did not reach the marts as they were, with the reason."""

    input_name: str = pa.Field(
        isin=["billing", "clients", "engagement", "opportunities", "prospects"],
        description="Which input the row belongs to.",
    )
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
            "negative_amount",
            "invalid_probability",
            "duplicate_opportunity",
            "blank_row",
            "implausible_date",
            "control_characters",
        ],
        description="Why (see docs/inputs.md: every reason).",
    )
    action: str = pa.Field(
        isin=["excluded", "kept_with_nulls", "kept_cleaned"],
        description="excluded: left out; kept_with_nulls: used with the value emptied; kept_cleaned: used after "
        "control characters in the named columns were replaced by spaces.",
    )
    record: str = pa.Field(description="The row's values (trimmed, control characters replaced), ' | ' separated.")

    class Config:
        strict = True
        unique = ["input_name", "source_file", "source_row"]


class MatchReviewPairs(pa.DataFrameModel):
    """Pairs of client records for a person to decide (same organisation or not), most instructive first."""

    review_rank: int = pa.Field(ge=1, unique=True, description="Order of review: 1 teaches the most.")
    source_system_1: str = pa.Field(description="First record: source system.")
    source_client_id_1: str = pa.Field(description="First record: client id.")
    name_1: str = pa.Field(nullable=True, description="First record: name.")
    address_1: str = pa.Field(nullable=True, description="First record: address.")
    city_1: str = pa.Field(nullable=True, description="First record: city.")
    postal_code_1: str = pa.Field(nullable=True, description="First record: postal code.")
    phone_1: str = pa.Field(nullable=True, description="First record: phone.")
    domain_1: str = pa.Field(nullable=True, description="First record: web domain.")
    account_id_1: str = pa.Field(description="First record's account now.")
    source_system_2: str = pa.Field(description="Second record: source system.")
    source_client_id_2: str = pa.Field(description="Second record: client id.")
    name_2: str = pa.Field(nullable=True, description="Second record: name.")
    address_2: str = pa.Field(nullable=True, description="Second record: address.")
    city_2: str = pa.Field(nullable=True, description="Second record: city.")
    postal_code_2: str = pa.Field(nullable=True, description="Second record: postal code.")
    phone_2: str = pa.Field(nullable=True, description="Second record: phone.")
    domain_2: str = pa.Field(nullable=True, description="Second record: web domain.")
    account_id_2: str = pa.Field(description="Second record's account now (differs from account_id_1).")
    match_probability: float = pa.Field(
        ge=0, le=1, description="The matcher's calibrated probability that both are one organisation."
    )
    teaching_value: float = pa.Field(
        ge=0, description="How much a decision on this pair would teach: the uncertainty its comparison pattern holds."
    )
    review_reason: str = pa.Field(
        isin=["uncertain", "names_disagree", "evidence_disagrees", "shared_evidence"],
        description="Why it needs a person: uncertain; names_disagree (probable, held back by a name rule); "
        "evidence_disagrees (name and place argue opposite ways); shared_evidence (shares an address, phone, "
        "domain or words).",
    )
    name_level: str = pa.Field(
        description="How the names compare: exact, same_words, contained, contained_common_words, acronym, partial, "
        "shares_rare_word, shares_common_word_or_spelling, conflicting_qualifiers, different (missing: no name)."
    )
    evidence: str = pa.Field(description="Every compared field with its agreement level.")

    class Config:
        strict = True


class AccountSnapshots(pa.DataFrameModel):
    """One snapshot per as-of date of every account (re-running a date replaces its snapshot)."""

    as_of_date: pl.Date = pa.Field(description="As-of date of the run that took the snapshot.")
    account_id: str = pa.Field(description="The account.")
    account_name: str = pa.Field(nullable=True, description="Name then.")
    owner_id: str = pa.Field(nullable=True, description="Owner then.")
    billing_12m: MONEY = pa.Field(description=BILLING_12M)
    is_key_account: bool = pa.Field(description="Key then (against the level of its review period).")
    key_level: MONEY = pa.Field(description="The key level applied then.")
    reporting_currency: str = pa.Field(
        nullable=True,
        str_matches=r"^[A-Z]{3}$",
        description="ISO 4217 code of billing_12m and key_level in this snapshot (ALMS_REPORTING_CURRENCY of its run); "
        "null for snapshots recorded before alms stored it (then they are in the currency of that run).",
    )
    review_period_start_date: pl.Date = pa.Field(description="Review period of that level.")
    priority_score: float = pa.Field(nullable=True, description="Priority score then.")
    tier: str = pa.Field(nullable=True, description="Tier then (after overrides).")
    is_tier_overridden: bool = pa.Field(nullable=True, description="The tier came from an override.")
    designation: str = pa.Field(nullable=True, description="key / target / secondary then (after overrides).")
    is_designation_overridden: bool = pa.Field(nullable=True, description="The designation came from an override.")
    is_seller_pick: bool = pa.Field(nullable=True, description="The seller had picked it as a target.")
    config_version: str = pa.Field(nullable=True, description="Scoring config then.")
    member_records: str = pa.Field(nullable=True, description="Its client records then, 'system:id' joined by ';'.")

    class Config:
        strict = True
        unique = ["as_of_date", "account_id"]


class AccountChanges(pa.DataFrameModel):
    """What changed between consecutive snapshots, and why (reason codes: docs/operations.md, "Read the change log")."""

    from_as_of_date: pl.Date = pa.Field(description="Earlier snapshot.")
    to_as_of_date: pl.Date = pa.Field(description="Later snapshot.")
    account_id: str = pa.Field(description="The account.")
    owner_id: str = pa.Field(nullable=True, description="Owner in the later snapshot (or the earlier, if gone).")
    field: str = pa.Field(
        isin=["is_key_account", "tier", "designation", "owner_id", "account"], description="What changed."
    )
    old_value: str = pa.Field(nullable=True, description="Value in the earlier snapshot.")
    new_value: str = pa.Field(nullable=True, description="Value in the later snapshot.")
    reason: str = pa.Field(
        isin=[
            "billing_crossed_level",
            "new_review_level",
            "score_crossed_threshold",
            "config_changed",
            "override_applied",
            "override_expired",
            "seller_pick",
            "targets_reselected",
            "owner_changed",
            "account_merged",
            "account_split",
            "new_account",
            "account_removed",
        ],
        description="Why (first match wins): see the reason codes in docs/operations.md.",
    )

    class Config:
        strict = True


class InputFiles(pa.DataFrameModel):
    """One row per input file: every row it held, loaded, quarantined or outside the window (see docs/inputs.md)."""

    input_name: str = pa.Field(description="Input the file belongs to (billing, clients, engagement, sellers, ...).")
    source_file: str = pa.Field(description="The file, relative to the input folder.")
    file_month: str = pa.Field(nullable=True, description="Month its path names (YYYY-MM): its monthly partition.")
    size_bytes: int = pa.Field(nullable=True, ge=0, description="Size in bytes when the run listed it.")
    modified_at: pl.Datetime("us") = pa.Field(nullable=True, description="Last modification time (UTC).")
    is_in_folder: bool = pa.Field(description="The file is in the input folder now (false: only its rows are left).")
    rows_read: int = pa.Field(ge=0, description="Data rows read from the file (0: header only).")
    rows_loaded: int = pa.Field(
        ge=0,
        description="Rows that reached the marts: billing lines and events clean and inside the window; client "
        "records and deals usable; every row of a reference input.",
    )
    rows_quarantined: int = pa.Field(ge=0, description="Rows excluded, each in marts.quarantined_rows with its reason.")
    rows_outside_window: int = pa.Field(
        ge=0, description="Clean billing lines and events dated before the window or after the as-of date."
    )
    rows_loaded_altered: int = pa.Field(
        ge=0,
        description="Loaded rows with a value emptied (kept_with_nulls) or cleaned of control characters "
        "(kept_cleaned), each in marts.quarantined_rows.",
    )
    quarantine_reasons: str = pa.Field(
        nullable=True,
        description="Rows in marts.quarantined_rows by reason ('unknown_client 2, duplicate_line 1'; "
        "'(kept)': loaded with a value emptied or cleaned).",
    )
    billing_loaded: MONEY = pa.Field(
        nullable=True, description="Billing files: billing of the loaded lines in the reporting currency."
    )
    billing_outside_window: MONEY = pa.Field(
        nullable=True, description="Billing files: billing of the clean lines outside the window (reporting currency)."
    )
    reporting_currency: str = currency_field("billing_loaded, billing_outside_window")

    class Config:
        strict = True
        unique = ["input_name", "source_file"]


COMPLETENESS_STATUS = ["ok", "missing", "below_share", "not_started", "partial_month"]
COMPLETENESS_STATUS_TEXT = (
    "ok; missing: nothing in a month though the system had some before; below_share: less than ALMS_MIN_MONTH_SHARE "
    "of its trailing median; not_started: before its first month; partial_month: the window covers part of it."
)


class BillingCompleteness(pa.DataFrameModel):
    """Clean billing per source system and month of the window, against the system's trailing median."""

    source_system: str = pa.Field(description="Billing system.")
    month_start_date: pl.Date = pa.Field(description="First day of the month.")
    billing_rows: int = pa.Field(ge=0, description="Clean billing lines dated in the month.")
    billing_amount: MONEY = pa.Field(description="Their billing in the reporting currency (credit notes net).")
    trailing_median: MONEY = pa.Field(
        nullable=True, description="Median monthly billing of the system's previous months (up to 6, from its first)."
    )
    trailing_months: int = pa.Field(ge=0, description="How many previous months that median is over.")
    share_of_trailing_median: float = pa.Field(nullable=True, description="billing_amount / trailing_median.")
    status: str = pa.Field(isin=COMPLETENESS_STATUS, description=COMPLETENESS_STATUS_TEXT)
    accepted_by: str = pa.Field(nullable=True, description="The ALMS_ACCEPT_GAPS entry covering this month, if any.")
    is_blocking: bool = pa.Field(description="A gap (missing or below_share) nobody accepted: the run stops.")
    reporting_currency: str = currency_field("billing_amount, trailing_median")

    class Config:
        strict = True
        unique = ["source_system", "month_start_date"]


class EngagementCompleteness(pa.DataFrameModel):
    """Clean engagement events per source system and month of the window, against the system's trailing median."""

    source_system: str = pa.Field(description="System that recorded the events.")
    month_start_date: pl.Date = pa.Field(description="First day of the month.")
    events: int = pa.Field(ge=0, description="Clean events (rows) dated in the month.")
    event_quantity: int = pa.Field(ge=0, description="Sum of their quantity.")
    trailing_median: float = pa.Field(
        nullable=True, description="Median monthly events of the system's previous months (up to 6, from its first)."
    )
    trailing_months: int = pa.Field(ge=0, description="How many previous months that median is over.")
    share_of_trailing_median: float = pa.Field(nullable=True, description="events / trailing_median.")
    status: str = pa.Field(isin=COMPLETENESS_STATUS, description=COMPLETENESS_STATUS_TEXT)
    accepted_by: str = pa.Field(nullable=True, description="The ALMS_ACCEPT_GAPS entry covering this month, if any.")
    is_blocking: bool = pa.Field(description="A gap nobody accepted (engagement: a warning, the run goes on).")

    class Config:
        strict = True
        unique = ["source_system", "month_start_date"]


class Sellers(pa.DataFrameModel):
    """One row per seller: accounts owned, key accounts, 12-month billing, targets and leads. Every seller of the
    sellers input, with or without accounts; accounts whose owner is not in it are summed per owner_id as
    '(unknown seller)', accounts without an owner as '(unassigned)': the rows add up to every account once."""

    owner_id: str = pa.Field(
        nullable=True, unique=True, description="Seller id; null: the row of the accounts without an owner."
    )
    seller_name: str = pa.Field(description="Seller's name; '(unassigned)' or '(unknown seller)' when not in sellers.")
    team: str = pa.Field(nullable=True, description="Sales team (from the sellers input).")
    has_known_seller: bool = pa.Field(description="owner_id is in the sellers input.")
    accounts: int = pa.Field(ge=0, description="Accounts the seller owns (marts.accounts.owner_id).")
    key_accounts: int = pa.Field(ge=0, description="Of those, key accounts (is_key_account).")
    billing_12m: MONEY = pa.Field(description="Sum of the owned accounts' billing_12m: " + BILLING_12M)
    reporting_currency: str = currency_field("billing_12m")
    targets: int = pa.Field(ge=0, description="Accounts designated target (after picks and overrides).")
    leads: int = pa.Field(ge=0, description="Prospects designated lead (after picks).")

    class Config:
        strict = True
