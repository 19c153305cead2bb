"""What the outcomes step keeps from the last run, and how it stores the rest (assets/outcomes.py feeds it).

The outcome tables hold one part per as-of date: the rows of `marts.account_outcomes`, `marts.lead_outcomes` and
`marts.prioritization_outcomes` with that date. A run computes again only the dates whose part would differ, and
writes only those (`OutcomeTables`), so its cost does not grow with the snapshots a year of monthly runs records.

- A reconstructed month end is kept (not reconstructed again) when everything it is computed from is unchanged (a
  monthly run brings a month of billing: the month ends before it read none of it): its fingerprint
  (assets/rules/reuse.py) covers the client records known then, the clean deals and prospects created by then, the
  monthly billing and engagement up to then, the first reconstructed month end, the scoring config, the key share
  and review settings, the code and its libraries. Only the oldest month ends are kept, up to the first that differs
  (a snapshot takes owners and key levels from the ones before it).
- A date's part (its accounts' and leads' billing before and after it, and its groups) is kept when its
  reconstructed snapshot is kept, its recorded snapshot (`marts.account_snapshots`) is unchanged, and which windows
  are complete, the billing its rows read (the 12 months up to it, the months of its complete windows), today's
  deduplication, the prospects that are clients today and which of its snapshots the groups use (`outcomes.chosen`)
  are unchanged too. An incomplete window is null whatever billing its months hold, so a new month changes only the
  dates whose 3-, 6- or 12-month window it completes.
- Of a date whose part changed only in its windows after the date (everything but a window's completeness and the
  billing of its months unchanged: what a new month does to the dates whose window it completes), only those
  windows are computed again, in the rows the tables hold (`changed_windows`; outcomes.window_sums,
  `OutcomeTables.update_windows`), and their groups.

The tables carry the fingerprints as their comment (`reuse.record_by_part`): the reconstruction's as `<date>`, the
part's as `rows <date>`, `before <date>` and `after <horizon> <date>` (`Part`). Writing clears them first and a run
records them once all three tables are written, so a run that stops half-way leaves no fingerprint and the next one
computes every date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple

import duckdb
import polars as pl

from assets.rules import outcomes, reuse, snapshots
from assets.rules.reviews import review_period
from assets.rules.tables import transaction, write_frame

ACCOUNTS, LEADS, GROUPS = "marts.account_outcomes", "marts.lead_outcomes", "marts.prioritization_outcomes"
OUTCOME_TABLES = (ACCOUNTS, LEADS, GROUPS)  # they carry each date's fingerprints
RECORDED_TABLE = "marts.account_snapshots"
RECONSTRUCTION_LIBRARIES = ("polars", "duckdb")  # the libraries whose change can change a month end
ROWS = "rows "  # the fingerprint of a date's part: its name is ROWS + the date
BEFORE, AFTER = "before ", "after "  # Part.before: BEFORE + the date; Part.after: AFTER + the horizon, ' ', the date


def reconstruction_fingerprints(
    code: str, settings: dict, data: snapshots.History, dates: list[dt.date]
) -> dict[dt.date, str]:
    """The fingerprint of each reconstructed month end: everything its snapshot and the ones before it are computed
    from (snapshots.iter_known_digests), the `settings` (scoring config, key share, review cadence) and the `code` (a
    reuse.source_digest of what computes it; assets/rules/reuse.py)."""
    common = {"first_month_end": min(dates, default=None), **settings}
    return {
        as_of: reuse.fingerprint(
            known["frames"],
            {**common, "as_of_date": as_of, "monthly": known["monthly"]},
            code,
            RECONSTRUCTION_LIBRARIES,
        )
        for as_of, known in snapshots.iter_known_digests(data, dates)
    }


def stored(conn: duckdb.DuckDBPyConnection) -> tuple[dict[str, str], str] | None:
    """The fingerprints the outcome tables carry (one per part) and the run that recorded them, or None."""
    return reuse.stored_by_part(conn, OUTCOME_TABLES)


def kept_reconstruction(
    conn: duckdb.DuckDBPyConnection,
    found: tuple[dict[str, str], str] | None,
    fingerprints: dict[dt.date, str],
    review_months: int,
    review_start_month: int,
) -> snapshots.Kept | None:
    """The oldest month ends whose stored fingerprint (`found`: `stored()`) is this run's, none missing in between
    and each with its rows in the table, as a snapshots.Kept (the rows of the first of each review period and of the
    last one); None when there is none."""
    if found is None:
        return None
    counts = dict(
        conn.sql(
            f"select as_of_date, count(*) from {ACCOUNTS} where snapshot_source = $source group by as_of_date",
            params={"source": snapshots.RECONSTRUCTED},
        ).fetchall()
    )
    same = []
    for as_of in sorted(fingerprints):
        if found[0].get(str(as_of)) != fingerprints[as_of] or not counts.get(as_of):
            break
        same.append(as_of)
    if not same:
        return None
    firsts = {}
    for day in same:
        firsts.setdefault(review_period(day, review_months, review_start_month).start, day)
    needed = sorted({*firsts.values(), same[-1]})
    accounts = conn.sql(
        f"select as_of_date, account_id, owner_id, billing_12m from {ACCOUNTS} "
        "where snapshot_source = $source and as_of_date in (select unnest($days))",
        params={"source": snapshots.RECONSTRUCTED, "days": needed},
    ).pl()
    return snapshots.Kept(dates=same, accounts=accounts)


def reconstructed_rows_digests(conn: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """as_of_date (as text) -> what identifies the reconstructed snapshot's rows of that date in the account outcomes
    (the publication's copy of them for `alms backtest`, backtest.backtest_input_selects): the fingerprint of the
    date's part the outcome tables carry (`record`; the rows are what it describes, as a run that keeps them
    assumes), else, for a date that carries none, `reuse.rows_digest` of its rows. So a monthly run's publication
    does not hash every month end's rows again to find the one file it writes."""
    parts = (stored(conn) or ({}, ""))[0]
    source = {"source": snapshots.RECONSTRUCTED}
    days = [
        row[0]
        for row in conn.sql(
            f"select distinct as_of_date from {ACCOUNTS} where snapshot_source = $source", params=source
        ).fetchall()
    ]
    digests: dict[str, object] = {str(day): [ROWS, parts[f"{ROWS}{day}"]] for day in days if f"{ROWS}{day}" in parts}
    missing = [day for day in days if str(day) not in digests]
    if missing:
        computed = reuse.rows_digest(
            conn,
            f"select * from {ACCOUNTS} where snapshot_source = $source and as_of_date in (select unnest($days))",
            by="as_of_date",
            params={**source, "days": missing},
        )
        digests |= {str(day): digest for day, digest in computed.items()}
    return digests


def recorded_digests(conn: duckdb.DuckDBPyConnection) -> dict[dt.date, list[int]]:
    """as_of_date -> a digest of its recorded snapshot's rows (reuse.rows_digest of every column, so more than the
    outcomes read), the ones the snapshots' writer recorded not computed again (reuse.table_value_digests)."""
    return reuse.table_value_digests(conn, RECORDED_TABLE, "as_of_date")


class Part(NamedTuple):
    """The fingerprints of a date's part: `rows`, of all of it; `before`, of all but its windows after the date (the
    snapshots, today's deduplication, the 12 months of billing up to it); `after`, of each window (horizon -> whether
    it is complete and the billing of its months). A part whose `before` is unchanged computes again only the windows
    whose `after` changed."""

    rows: str
    before: str
    after: dict[int, str]


def part_fingerprints(
    code: str,
    reconstruction: dict[dt.date, str],
    recorded: dict[dt.date, list[int]],
    monthly: snapshots.Monthly,
    now: pl.DataFrame,
    matched_now: pl.DataFrame,
    as_of: dt.date,
) -> dict[dt.date, Part]:
    """The fingerprints of each date's part: its reconstructed snapshot's fingerprint, its recorded snapshot's digest,
    whether the reconstructed one is used (no recorded snapshot in its month), today's deduplication and the prospects
    that are clients today, the billing of the 12 months up to it, and for each window whether it is complete and the
    billing of its months (an incomplete window is null whatever its months hold), and the `code`. So a monthly run's
    new month changes only the dates whose window it completes (3, 6 and 12 months back), and in them only that
    window, and the new ones, not every date whose 12 months after it are still open."""
    end = snapshots.last_complete_month(as_of)
    billing = monthly.month_digests()["billing"]
    recorded_months = {snapshots.month_index(day) for day in recorded}
    common = {"now": reuse.frame_digest(now), "matched_now": reuse.frame_digest(matched_now)}

    def read(first: int, last: int) -> list:
        return sorted([month, *billing[month]] for month in billing if first <= month <= last)

    parts = {}
    for day in sorted({*reconstruction, *recorded}):
        m = snapshots.month_index(day)
        before = {
            **common,
            "reconstructed": reconstruction.get(day),
            "recorded": recorded.get(day),
            "reconstructed_used": day in reconstruction and m not in recorded_months,
            "billing": read(m - 11, m),
        }
        after = {
            n: reuse.fingerprint(
                {},
                {"complete": m + n <= end, "billing": read(m + 1, m + n) if m + n <= end else []},
                code,
                RECONSTRUCTION_LIBRARIES,
            )
            for n in outcomes.HORIZONS
        }
        before_fingerprint = reuse.fingerprint({}, before, code, RECONSTRUCTION_LIBRARIES)
        rows = reuse.fingerprint({}, {"before": before_fingerprint, "after": sorted(after.items())}, code, [])
        parts[day] = Part(rows, before_fingerprint, after)
    return parts


def batches(days: list[dt.date], rows_per_day: dict[dt.date, int], most: int) -> list[list[dt.date]]:
    """`days` in order, in batches of at most `most` rows (`rows_per_day`: an estimate; a day above it alone)."""
    out: list[list[dt.date]] = []
    size = 0
    for day in sorted(days):
        rows = rows_per_day.get(day, 0)
        if not out or size + rows > most:
            out.append([])
            size = 0
        out[-1].append(day)
        size += rows
    return out


def unchanged_parts(found: tuple[dict[str, str], str] | None, parts: dict[dt.date, Part]) -> list[dt.date]:
    """The dates whose part the tables hold with this run's fingerprint."""
    if found is None:
        return []
    return sorted(day for day, part in parts.items() if found[0].get(f"{ROWS}{day}") == part.rows)


def changed_windows(found: tuple[dict[str, str], str] | None, parts: dict[dt.date, Part]) -> dict[dt.date, list[int]]:
    """The dates whose part the tables hold with this run's `before` fingerprint but another `rows`: date -> the
    windows (horizons) whose `after` fingerprint changed, the only columns of its rows to compute again."""
    if found is None:
        return {}
    stored = found[0]
    out = {}
    for day, part in parts.items():
        if stored.get(f"{ROWS}{day}") in (None, part.rows) or stored.get(f"{BEFORE}{day}") != part.before:
            continue
        windows = [n for n, value in part.after.items() if stored.get(f"{AFTER}{n} {day}") != value]
        if windows:
            out[day] = windows
    return out


class OutcomeTables:
    """Writes the parts of the account and lead outcome tables that changed: `start` clears their fingerprints and
    removes the dates this run does not have (or empties them when nothing of them is kept, so a new code's columns
    replace the old); `write` replaces one date's rows; `update_windows` writes some windows of some dates' rows in
    place. `record` marks the tables once all three are written."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, schemas: dict[str, dict]):
        self.conn, self.schemas = conn, schemas

    def start(self, dates: list[dt.date], keep: bool) -> None:
        """`dates`: this run's dates; `keep`: whether anything stored is kept (else the tables start empty)."""
        with transaction(self.conn) as conn:
            for table, schema in self.schemas.items():
                if keep:
                    conn.execute(f"comment on table {table} is null")
                    conn.execute(f"delete from {table} where as_of_date not in (select unnest($days))", {"days": dates})
                else:
                    write_frame(conn, table, pl.DataFrame(schema=schema))

    def write(self, table: str, days: list[dt.date], frame: pl.DataFrame) -> None:
        """Replace the rows of `days` in `table` by `frame` (its schema's columns and types), in one transaction."""
        schema = self.schemas[table]
        with transaction(self.conn) as conn:
            conn.execute(f"delete from {table} where as_of_date in (select unnest($days))", {"days": days})
            write_frame(conn, table, frame.select(list(schema)).cast(schema), append=True)

    def update_windows(self, windows: dict[dt.date, list[int]], sums: pl.DataFrame, as_of: dt.date) -> None:
        """Compute again, in place, the windows of `windows` (date -> horizons) of the account and lead outcomes
        those dates hold, from `sums` (outcomes.window_sums): an account's billing in a complete window, 0 without
        any, null while the window is incomplete; a lead converted when its account billed in it. One transaction."""
        end = snapshots.last_complete_month(as_of)
        self.conn.register("window_sums", sums)
        try:
            with transaction(self.conn) as conn:
                for n in outcomes.HORIZONS:
                    days = [day for day, horizons in windows.items() if n in horizons]
                    if not days:
                        continue
                    complete = [day for day in days if snapshots.month_index(day) + n <= end]
                    after, converted = outcomes.AFTER[n], outcomes.CONVERTED[n]
                    conn.execute(
                        f"update {ACCOUNTS} set {after} = case when as_of_date in (select unnest($complete)) "
                        "then 0 end where as_of_date in (select unnest($days))",
                        {"days": days, "complete": complete},
                    )
                    conn.execute(
                        f"update {ACCOUNTS} as t set {after} = s.billing_after from window_sums as s "
                        "where s.horizon_months = $n and s.as_of_date in (select unnest($complete)) "
                        "and t.as_of_date = s.as_of_date and t.snapshot_source = s.snapshot_source "
                        "and t.account_id = s.account_id",
                        {"n": n, "complete": complete},
                    )
                    conn.execute(
                        f"update {LEADS} set {converted} = case when as_of_date in (select unnest($complete)) "
                        "then false end where as_of_date in (select unnest($days))",
                        {"days": days, "complete": complete},
                    )
                    conn.execute(
                        f"update {LEADS} as t set {converted} = s.billing_after > 0 from window_sums as s "
                        "where s.horizon_months = $n and s.as_of_date in (select unnest($complete)) "
                        "and s.snapshot_source = $today "  # a lead's converted account is today's
                        "and t.as_of_date = s.as_of_date and t.converted_account_id = s.account_id",
                        {"n": n, "complete": complete, "today": snapshots.RECONSTRUCTED},
                    )
        finally:
            self.conn.unregister("window_sums")

    def stored_rows(
        self,
        table: str,
        columns: Iterable[str],
        days: list[dt.date],
        where: str = "true",
        order_by: str = "",
        params: dict | None = None,
    ) -> pl.DataFrame:
        """`columns` of the rows of `days` the table holds (and `where`, with its `params`), in `order_by`'s order when
        given."""
        order = f" order by {order_by}" if order_by else ""
        return self.conn.sql(
            f"select {', '.join(columns)} from {table} where as_of_date in (select unnest($days)) and {where}{order}",
            params={**(params or {}), "days": days},
        ).pl()


def record(
    conn: duckdb.DuckDBPyConnection,
    fingerprints: dict[dt.date, str],
    reconstructed_days: Iterable[dt.date],
    parts: dict[dt.date, Part],
    run_id: str,
) -> None:
    """Mark the outcome tables (all three written by now) with the fingerprint of each reconstructed month end they
    hold (`reconstructed_days`) and of each date's part, for the next run."""
    computed = {str(day): fingerprints[day] for day in reconstructed_days if day in fingerprints}
    reuse.record_by_part(conn, OUTCOME_TABLES, {**computed, **part_names(parts)}, run_id)


def part_names(parts: dict[dt.date, Part]) -> dict[str, str]:
    """The fingerprints of `parts` by the names the tables' comment gives them (`stored` reads them back)."""
    named = {}
    for day, part in parts.items():
        named.update({f"{ROWS}{day}": part.rows, f"{BEFORE}{day}": part.before})
        named.update({f"{AFTER}{n} {day}": value for n, value in part.after.items()})
    return named
