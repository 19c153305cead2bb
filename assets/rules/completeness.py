"""Completeness of billing and engagement per source system and month: the rules the SQL models
`sql/marts/billing_completeness.sql` / `engagement_completeness.sql` apply, the gaps an operator accepts on purpose
(`ALMS_ACCEPT_GAPS`), and what a publisher reads back from the published table.

A month of the window is a **gap** of a source system when the system billed before it (it has a clean line in an
earlier month of the look-back: the window and the `LOOKBACK_MONTHS` months before it) and, in that month:
- has no clean line at all (`missing`), or
- bills less than `ALMS_MIN_MONTH_SHARE` (0.5) of the median of its previous `TRAILING_MONTHS` months, counted from
  its first month with billing, with at least `MIN_TRAILING_MONTHS` such months (`below_share`).
Months before a system's first billing month are `not_started` (a system that starts mid-window is not a gap); a
system that stopped billing (churned, migrated) is a gap in every month after its last one until accepted with an
open range (`legacy:2026-05..`) or until its last billing leaves the look-back.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

LOOKBACK_MONTHS = 6  # months before the window whose billing counts as "billed before" and feeds the median
TRAILING_MONTHS = 6  # the median is over at most this many previous months
MIN_TRAILING_MONTHS = 3  # the share test needs at least this many previous months of the system
COMPLETENESS_TABLES = ("billing_completeness", "engagement_completeness")
SHOWN_GAPS = 5  # a failure describes this many gaps, then counts the others

_ENTRY = re.compile(r"^(?P<system>[^:\s]+):(?P<start>[0-9]{4}-[0-9]{2})(?P<range>\.\.(?P<end>[0-9]{4}-[0-9]{2})?)?$")


@dataclass(frozen=True)
class AcceptedGap:
    """One entry of ALMS_ACCEPT_GAPS: a source system's months (first .. last, last None: open-ended)."""

    text: str
    source_system: str
    first_month: dt.date
    last_month: dt.date | None

    def covers(self, source_system: str, month: dt.date) -> bool:
        return (
            source_system == self.source_system
            and self.first_month <= month
            and (self.last_month is None or month <= self.last_month)
        )


def _month(text: str, entry: str) -> dt.date:
    try:
        return dt.date.fromisoformat(f"{text}-01")
    except ValueError:
        raise ValueError(f"{entry!r}: {text} is not a month (YYYY-MM)") from None


def parse_accepted_gaps(text: str) -> list[AcceptedGap]:
    """`nat_erp:2026-10, legacy:2026-05..2026-07, old_erp:2026-03..` -> entries; a malformed entry is a ValueError
    naming it. Entries are comma-separated; a range is inclusive; a range without an end accepts every later month
    (a system that stopped billing)."""
    gaps = []
    for raw in (text or "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        found = _ENTRY.match(entry)
        if not found:
            raise ValueError(
                f"{entry!r} is not system:YYYY-MM, system:YYYY-MM..YYYY-MM or system:YYYY-MM.. (comma-separated)"
            )
        first = _month(found["start"], entry)
        last = _month(found["end"], entry) if found["end"] else (None if found["range"] else first)
        if last is not None and last < first:
            raise ValueError(f"{entry!r}: the range ends before it starts")
        gaps.append(AcceptedGap(entry, found["system"], first, last))
    return gaps


def completeness_parameters(gaps: list[AcceptedGap]) -> dict:
    """What the completeness models bind: the look-back and trailing lengths, and the accepted gaps as parallel
    lists (DuckDB unnests them together)."""
    return {
        "lookback_months": LOOKBACK_MONTHS,
        "trailing_months": TRAILING_MONTHS,
        "min_trailing_months": MIN_TRAILING_MONTHS,
        "accepted_gap_entries": [g.text for g in gaps],
        "accepted_gap_systems": [g.source_system for g in gaps],
        "accepted_gap_first_months": [g.first_month for g in gaps],
        "accepted_gap_last_months": [g.last_month for g in gaps],
    }


def accepted_gaps_in_use(conn) -> list[dict]:
    """The gaps this data set has that an operator accepted (ALMS_ACCEPT_GAPS), from the completeness tables
    behind `conn` (the warehouse or the published file): one dict per input, system and month, for a manifest or a
    summary. Empty when nothing was accepted (or the tables do not exist yet)."""
    found = []
    for table in COMPLETENESS_TABLES:
        exists = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = ?", [table]
        ).fetchall()[0][0]
        if not exists:
            continue
        rows = conn.sql(
            f"select source_system, strftime(month_start_date, '%Y-%m'), status, accepted_by from marts.{table} "
            "where accepted_by is not null and status in ('missing', 'below_share') order by 1, 2"
        ).fetchall()
        input_name = table.removesuffix("_completeness")
        found += [
            {"input": input_name, "source_system": s, "month": m, "status": st, "accepted_by": by}
            for s, m, st, by in rows
        ]
    return found


def describe_gaps(gaps: list[tuple], unit: str, min_share: float, input_name: str = "billing") -> str:
    """One line for the gaps nobody accepted: each system and month with what it had against its median, then the
    setting that accepts them. `gaps`: (source_system, month 'YYYY-MM', status, amount, trailing median)."""
    parts = []
    for system, month, status, amount, median in gaps[:SHOWN_GAPS]:
        if status == "missing":
            parts.append(f"{system} has no {input_name} in {month} (it had some in the months before)")
        else:
            parts.append(
                f"{system} has {amount:,} {unit} of {input_name} in {month}, below {min_share:.0%} "
                f"(ALMS_MIN_MONTH_SHARE) of its trailing median {median:,} {unit}"
            )
    if len(gaps) > SHOWN_GAPS:
        parts.append(f"and {len(gaps) - SHOWN_GAPS} more gaps (marts.{input_name}_completeness)")
    entries = ",".join(f"{system}:{month}" for system, month, *_ in gaps)
    return (
        "; ".join(parts) + f"; if the data is complete, accept with ALMS_ACCEPT_GAPS={entries} "
        "(a system that stopped: ALMS_ACCEPT_GAPS=<system>:<first month>..)"
    )
