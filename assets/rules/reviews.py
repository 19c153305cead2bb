"""Review periods and the frozen key level.

The method freezes the key level between reviews. Reviews happen every `review_months` (6 or 12) months, periods
starting on the first day of `review_start_month` (1 = January): with 6 and 1, the periods are January-June and
July-December. The period of a run is the one containing its as-of date.

- The first run whose as-of date falls in a period without a level computes the level from that run's data (a
  *review*; the very first one on a data set is the *bootstrap*) and records it in `marts.key_levels`.
- Every later run in that period classifies accounts against that recorded dollar level (frozen), however the
  billing moves; `is_key_at_next_review` says what a review held today would decide.
- Re-running the review of a period (`ALMS_REVIEW_REASON="why"`) computes the level again from the run's data and
  records the old and new level, when and why in `marts.key_level_reruns`. With the same data it gives the same level
  (the audit row then says `has_changed = false`).
- Re-running the review's own as-of date on changed data (a missing FX month added, a truncated file fixed, client
  records relabelled in match_overrides) re-runs the review by itself: the level recorded for that date no longer
  describes that date's data, and freezing it would classify the date against a level computed from data that is
  gone. The audit row's reason is automatic and names what changed in the cut (`automatic: ... ranked accounts
  2,791 -> 2,785; total billing ... -> ...; key level ... -> ...`). The same data gives the same cut, and then
  nothing is recomputed or audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from assets.rules.key_accounts import KeyCut
from schemas import polars_schema
from schemas.marts import KeyLevelReruns, KeyLevels

REVIEW_CADENCES = (6, 12)


@dataclass(frozen=True)
class ReviewPeriod:
    start: dt.date
    end: dt.date  # inclusive


def review_period(as_of: dt.date, months: int, start_month: int) -> ReviewPeriod:
    """The review period containing `as_of`."""
    if months not in REVIEW_CADENCES:
        raise ValueError(f"review cadence must be 6 or 12 months; got {months}")
    if not 1 <= start_month <= 12:
        raise ValueError(f"review start month must be 1-12; got {start_month}")
    index = as_of.year * 12 + (as_of.month - 1)  # months since year 0
    offset = (index - (start_month - 1)) % months
    first = index - offset
    start = dt.date(first // 12, first % 12 + 1, 1)
    after = first + months
    end = dt.date(after // 12, after % 12 + 1, 1) - dt.timedelta(days=1)
    return ReviewPeriod(start, end)


# The columns and types of marts.key_levels and marts.key_level_reruns, as their pandera models define them.
LEVEL_SCHEMA = polars_schema(KeyLevels)
# an audit row's own columns; its reporting_currency (the period's level's) is added by the asset
AUDIT_SCHEMA = {
    column: dtype for column, dtype in polars_schema(KeyLevelReruns).items() if column != "reporting_currency"
}


@dataclass(frozen=True)
class Decision:
    levels: pl.DataFrame  # every period's level, `is_current` on this run's period
    audit: pl.DataFrame  # every re-review so far
    applied_level: object  # Decimal: the level this run classifies against
    kind: str  # frozen, bootstrap, review, rerun
    reason: str | None = None  # why a recorded level was recomputed (the operator's, or automatic)


# What a recorded cut is compared on when its as-of date is run again: (key_levels column, label).
CUT_FIELDS = (
    ("key_share", "key share"),
    ("reporting_currency", "reporting currency"),
    ("window_start_date", "window start"),
    ("ranked_accounts", "ranked accounts"),
    ("key_count_rule", "k"),
    ("total_billing_12m", "total billing"),
    ("key_billing_12m", "key billing"),
    ("key_accounts", "key accounts"),
    ("key_level", "key level"),
)


def cut_changes(recorded: dict, fresh: dict) -> list[str]:
    """What differs between a recorded level row and the same row computed from this run's data, as `label old ->
    new` texts; empty when the data gives the same cut."""
    return [
        f"{label} {_show(recorded[column])} -> {_show(fresh[column])}"
        for column, label in CUT_FIELDS
        if recorded[column] != fresh[column]
    ]


def _show(value) -> str:
    return f"{value:,}" if isinstance(value, int | Decimal) else str(value)


def decide_level(
    previous: pl.DataFrame | None,
    previous_audit: pl.DataFrame | None,
    period: ReviewPeriod,
    cut: KeyCut,
    as_of: dt.date,
    window_start: dt.date,
    currency: str,
    reason: str | None,
    run_id: str,
    now: dt.datetime | None = None,
) -> Decision:
    """The level of `period`: the recorded one (frozen), or a new review; and the updated history and audit."""
    now = now or dt.datetime.now(dt.UTC)
    levels = previous if previous is not None else pl.DataFrame(schema=LEVEL_SCHEMA)
    audit = previous_audit if previous_audit is not None else pl.DataFrame(schema=AUDIT_SCHEMA)
    levels = levels.select(list(LEVEL_SCHEMA)).cast(LEVEL_SCHEMA)
    audit = audit.select(list(AUDIT_SCHEMA)).cast(AUDIT_SCHEMA)
    recorded = levels.filter(pl.col("review_period_start_date") == period.start)
    fresh = {
        "review_period_start_date": period.start,
        "review_period_end_date": period.end,
        "as_of_date": as_of,
        "window_start_date": window_start,
        "reporting_currency": currency,
        "key_share": cut.key_share,
        "ranked_accounts": cut.ranked_accounts,
        "key_count_rule": cut.key_count_rule,
        "key_accounts": cut.key_accounts,
        "key_level": cut.key_level,
        "total_billing_12m": cut.total_billing,
        "key_billing_12m": cut.key_billing,
        "key_billing_share": cut.key_billing_share,
        "computed_at": now,
        "run_id": run_id,
        "is_current": True,
    }
    if recorded.height and not reason:
        old = recorded.row(0, named=True)
        changes = cut_changes(old, fresh) if old["as_of_date"] == as_of else []
        if changes:  # the review's own date on other data: the recorded level no longer describes it
            reason = f"automatic: the review's as-of date {as_of} was run again on changed data: " + "; ".join(changes)
    if recorded.height and not reason:
        applied = recorded["key_level"][0]
        kind = "frozen"
    else:
        kind = "rerun" if recorded.height else ("bootstrap" if levels.height == 0 else "review")
        row = pl.DataFrame([{**fresh, "review_kind": kind}], schema=LEVEL_SCHEMA)
        if recorded.height:
            old = recorded.row(0, named=True)
            rerun = {
                "review_period_start_date": period.start,
                "old_key_level": old["key_level"],
                "new_key_level": cut.key_level,
                "old_as_of_date": old["as_of_date"],
                "new_as_of_date": as_of,
                "has_changed": old["key_level"] != cut.key_level or old["as_of_date"] != as_of,
                "reason": reason,
                "rerun_at": now,
                "run_id": run_id,
            }
            audit = pl.concat([audit, pl.DataFrame([rerun], schema=AUDIT_SCHEMA)])
        levels = pl.concat([levels.filter(pl.col("review_period_start_date") != period.start), row])
        applied = cut.key_level
    levels = levels.with_columns((pl.col("review_period_start_date") == period.start).alias("is_current")).sort(
        "review_period_start_date"
    )
    return Decision(
        levels=levels, audit=audit, applied_level=applied, kind=kind, reason=reason if kind == "rerun" else None
    )
