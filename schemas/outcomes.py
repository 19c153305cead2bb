"""pandera models of the review tables: outcomes of past snapshots, the backtest of the decision matrix and the
sellers' feedback (docs/outcomes.md)."""

from typing import Annotated

import pandera.polars as pa
import polars as pl

from schemas.marts import currency_field

MONEY = Annotated[pl.Decimal, 38, 2]
SHARE_OF_1 = "A share of 1 (0.25 = 25%)"
VERDICTS = ["agree", "disagree", "already_working", "not_reachable"]


class PrioritizationOutcomes(pa.DataFrameModel):
    """Per past snapshot, group and window: how the group's billing moved after the snapshot, its churn, and how
    many of its leads became clients (docs/outcomes.md, "Reading the outcomes")."""

    as_of_date: pl.Date = pa.Field(description="As-of date of the snapshot the groups come from.")
    snapshot_source: str = pa.Field(
        isin=["recorded", "reconstructed"],
        description="recorded: what a run published then (marts.account_snapshots); reconstructed: what the rules "
        "give on the data known then (no run was recorded that month).",
    )
    population: str = pa.Field(isin=["accounts", "prospects"], description="accounts, or prospects (leads).")
    group_kind: str = pa.Field(
        isin=["all", "tier", "designation", "target", "target_source", "lead"],
        description="all; tier; designation (key/target/secondary); target (target/not_target); target_source of "
        "the targets (recommended/seller_pick/override); lead (recommended/not_recommended prospects).",
    )
    group_value: str = pa.Field(description="The group within its kind (high, target, seller_pick, ...).")
    horizon_months: int = pa.Field(isin=[3, 6, 12], description="Length of the window after the snapshot, months.")
    window_start_date: pl.Date = pa.Field(description="First day of the window (the month after the snapshot's).")
    window_end_date: pl.Date = pa.Field(description="Last day of the window.")
    is_complete: bool = pa.Field(
        description="The window's months are all in the data; when false every outcome column is null (not zero)."
    )
    members: int = pa.Field(ge=1, description="Accounts (or prospects) in the group at the snapshot.")
    is_small_group: bool = pa.Field(description="Fewer members than the minimum (30): its shares are mostly noise.")
    active_members: int = pa.Field(nullable=True, description="Members with positive billing in the 12 months before.")
    billing_before_12m: MONEY = pa.Field(nullable=True, description="The group's billing in the 12 months before.")
    billing_after: MONEY = pa.Field(nullable=True, description="The group's billing in the window.")
    billing_change_share: float = pa.Field(
        nullable=True,
        description="billing_after against the same length of the 12 months before, minus 1 (0.10 = +10%). "
        + SHARE_OF_1,
    )
    median_account_change_share: float = pa.Field(
        nullable=True, description="The same per active member, median (a few large accounts do not decide it)."
    )
    grown_share: float = pa.Field(nullable=True, description="Share of the active members whose billing grew.")
    churned_members: int = pa.Field(
        nullable=True, description="Active members with no (or net negative) billing in the window."
    )
    churn_share: float = pa.Field(nullable=True, description="churned_members / active_members.")
    converted_members: int = pa.Field(
        nullable=True,
        description="Prospects that are now a client record (by the prospect matching) whose account billed in the "
        "window.",
    )
    conversion_share: float = pa.Field(nullable=True, description="converted_members / members.")
    reporting_currency: str = currency_field("billing_before_12m, billing_after")

    class Config:
        strict = True
        unique = ["as_of_date", "snapshot_source", "population", "group_kind", "group_value", "horizon_months"]


class ScoringBacktest(pa.DataFrameModel):
    """How well the scoring config in force (and the suggested weights, never applied) ranked past snapshots by the
    growth that followed, overall and per criterion (docs/outcomes.md, "The backtest")."""

    horizon_months: int = pa.Field(
        isin=[3, 6, 12], description="Growth measured over this many months after each snapshot."
    )
    ranking: str = pa.Field(
        description="score (the config in force), suggested_score (the weights that ranked best), nearby_score (the "
        "best within 0.10 of today's weights), or a criterion alone. Suggestions are never applied."
    )
    as_of_date: pl.Date = pa.Field(nullable=True, description="The snapshot; null: the mean over the snapshots.")
    config_version: str = pa.Field(description="The scoring config backtested (version@digest).")
    snapshots: int = pa.Field(ge=0, description="Snapshots with a complete window behind this row.")
    accounts: int = pa.Field(ge=0, description="Account rows (summed over the snapshots of a mean row).")
    spearman: float = pa.Field(
        nullable=True, ge=-1.000001, le=1.000001, description="Spearman rank correlation of the ranking with growth."
    )
    top_accounts: float = pa.Field(
        nullable=True, description="Size of the top group: the high tier; for a criterion, as many accounts."
    )
    gain_share: float = pa.Field(
        nullable=True, description="Share of all gains (growth above 0) earned by the top group."
    )
    precision: float = pa.Field(nullable=True, description="Share of the top group whose billing grew.")
    base_rate: float = pa.Field(nullable=True, description="Share of all accounts whose billing grew.")
    lift: float = pa.Field(nullable=True, description="precision / base_rate.")
    weights: str = pa.Field(nullable=True, description="The weights of the ranking ('current_spend 0.25, ...').")

    class Config:
        strict = True
        unique = ["horizon_months", "ranking", "as_of_date"]


class RawSellerFeedback(pa.DataFrameModel):
    """Sellers' verdicts on the accounts and prospects alms put in front of them (seller_feedback.csv), as text."""

    source_file: str = pa.Field(description="Input file the row came from, relative to the input folder.")
    source_row: int = pa.Field(ge=1, description="1-based data row in that file.")
    owner_id: str = pa.Field(nullable=True, description="The seller who gives the feedback.")
    reference: str = pa.Field(
        nullable=True,
        description="An account as one of its client records (source_system:source_client_id) or a prospect_id.",
    )
    verdict: str = pa.Field(nullable=True, description="agree, disagree, already_working or not_reachable.")
    reason: str = pa.Field(nullable=True, description="Why (required with disagree).")
    date: str = pa.Field(nullable=True, description="When the feedback was given (YYYY-MM-DD).")

    class Config:
        strict = True


class SellerFeedback(pa.DataFrameModel):
    """Every feedback row with the score and tier the account (or prospect) had in the snapshot in force that day."""

    source_file: str = pa.Field(description="Input file the row came from.")
    source_row: int = pa.Field(ge=1, description="1-based data row in that file.")
    owner_id: str = pa.Field(description="The seller.")
    seller_name: str = pa.Field(nullable=True, description="The seller's name (sellers).")
    reference: str = pa.Field(description="As written in the file.")
    reference_type: str = pa.Field(isin=["account", "prospect"], description="account or prospect.")
    account_id: str = pa.Field(nullable=True, description="The account (today's id) of an account reference.")
    prospect_id: str = pa.Field(nullable=True, description="The prospect of a prospect reference.")
    verdict: str = pa.Field(isin=VERDICTS, description="agree, disagree, already_working or not_reachable.")
    reason: str = pa.Field(nullable=True, description="Why.")
    feedback_date: pl.Date = pa.Field(description="When it was given.")
    snapshot_as_of_date: pl.Date = pa.Field(
        nullable=True, description="The snapshot in force that day: the latest on or before it; null: none yet."
    )
    snapshot_source: str = pa.Field(nullable=True, description="recorded or reconstructed.")
    priority_score: float = pa.Field(
        nullable=True, description="The account's priority score (a prospect's lead score) then."
    )
    tier: str = pa.Field(nullable=True, description="The account's tier then.")
    designation: str = pa.Field(
        nullable=True, description="key / target / secondary then; lead / prospect for a prospect."
    )
    top_criterion: str = pa.Field(
        nullable=True, description="The criterion that contributed most to the score then (under the config in force)."
    )

    class Config:
        strict = True


class SellerFeedbackCounts(pa.DataFrameModel):
    """Feedback counted per seller and per criterion (the criterion that drove each score), by verdict."""

    dimension: str = pa.Field(isin=["seller", "criterion", "tier", "all"], description="What the rows are grouped by.")
    group_value: str = pa.Field(description="The seller (owner_id), the criterion, the tier, or all.")
    verdict: str = pa.Field(isin=[*VERDICTS, "all"], description="A verdict, or all verdicts.")
    feedback_rows: int = pa.Field(ge=0, description="Feedback rows.")
    share_of_group: float = pa.Field(ge=0, le=1, description="Share of the group's feedback rows with this verdict.")
    mean_priority_score: float = pa.Field(nullable=True, description="Mean priority score of those accounts then.")

    class Config:
        strict = True
        unique = ["dimension", "group_value", "verdict"]
