"""Past snapshots: what alms said at a past as-of date (recorded), or would have said from the data known then
(reconstructed). The outcomes (`assets/rules/outcomes.py`) and the backtest (`assets/rules/backtest.py`) measure them.

**Recorded** snapshots are the rows of `marts.account_snapshots`: the key flag, tier, designation and owner each run
published, picks and overrides included. They are the truth of what sellers were shown.

**Reconstructed** snapshots let a data set with more than 12 months of billing answer on its first run: at every
month end T whose 12-month window lies inside the billing data (the last `limit` of them, T up to the run's as-of
date), the rules of a run are applied again to the data *known at T*, and to nothing later:

- client records known at T: `customer_since` on or before T, or billing in a month up to T's (a record with
  neither date is known always); an account exists at T when one of its records does, with today's deduplication
  (which record belongs to which account is not dated in the inputs);
- billing and engagement of the 12 months ending with T's month, from `int_client_billing_monthly` and
  `int_client_engagement_monthly` (every month of the data, not only the current window), asked in DuckDB
  (`Monthly`): only sums per record or account at T come back into polars;
- attributes by the survivorship rule over the records known at T, ordered by their billing at T; the owner by the
  ownership rule against the previous reconstructed snapshot (`assets/rules/ownership.py`);
- the key level of each review period computed at the period's first reconstructed month end and frozen for its
  other month ends (`assets/rules/reviews.py`), as monthly runs would have done;
- deals created on or before T (or without a creation date); a deal closed now whose expected close date is after T
  was open at T: the inputs keep no stage history, so it counts at the open stage of median probability in
  `scoring.yaml` (`replay_stage`) and without a probability of its own; deals open now keep their stage;
- prospects created on or before T (or without a creation date), a lead only if no client record known at T is
  that organisation (the prospect matching of `assets/rules/designations.py`);
- scores, tiers, targets and leads by the current `scoring.yaml`; no picks and no overrides (neither is dated).

A change to data dated after T therefore changes no group of the snapshot at T (tests/rules/test_outcomes.py).
Not dated in the inputs, and therefore taken as they are today: which records form an account, a record's
attributes (employee count, industry, segment, owner field), a deal's stage while it is open, the prospects' data.

Snapshots are whole calendar months: T's month and the 11 before it are "the 12 months before"; the months after
T's month are "the following months". For month-end as-of dates (what alms infers) this is exact; a recorded
mid-month as-of date counts its own month as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb
import polars as pl

from assets.rules import designations, reuse, scoring
from assets.rules.key_accounts import NoBillingError, designate_key_accounts
from assets.rules.ownership import keep_owners
from assets.rules.reviews import review_period
from assets.rules.scoring_config import CRITERIA, ScoringConfig
from assets.rules.tables import scratch

RECORDED, RECONSTRUCTED = "recorded", "reconstructed"
MONEY = pl.Decimal(38, 2)
DEFAULT_LIMIT = 24  # the most recent month ends reconstructed (and those before them in their review period)

# One row per (as_of_date, account_id): the groups an outcome is measured for.
SNAPSHOT_SCHEMA = {
    "as_of_date": pl.Date,
    "snapshot_source": pl.String,
    "account_id": pl.String,
    "owner_id": pl.String,
    "billing_12m": MONEY,
    "is_key_account": pl.Boolean,
    "tier": pl.String,
    "priority_score": pl.Float64,
    "designation": pl.String,
    "target_source": pl.String,
}
CRITERIA_COLUMNS = [f"{c}_raw" for c in CRITERIA] + [f"{c}_score" for c in CRITERIA]
# A reconstructed snapshot also carries every criterion's raw value and score (the backtest re-scores the raw values).
RECONSTRUCTED_SCHEMA = {**SNAPSHOT_SCHEMA, **{c: pl.Float64 for c in CRITERIA_COLUMNS}}
LEAD_SCHEMA = {
    "as_of_date": pl.Date,
    "prospect_id": pl.String,
    "owner_id": pl.String,
    "lead_score": pl.Float64,
    "is_client_then": pl.Boolean,
    "is_recommended": pl.Boolean,
    "lead_rank": pl.Int64,
}


@dataclass
class History:
    """The data of every month, as frames (the warehouse tables the asset reads, or a test's tiny frames).

    records: source_system, source_client_id, account_id, name, domain, phone, postal_code, owner_id, industry,
      employee_count, segment, customer_since, filled_field_count (every usable client record, today's accounts).
    billing: source_system, source_client_id, month (first day), billing_amount (decimal); or a `Monthly` (the
      warehouse's tables, asked in DuckDB), which then also answers for the engagement.
    engagement: source_system, source_client_id, month, event_type, events, quantity; None: no engagement input.
    deals: source_system, source_client_id, stage, amount_reporting, probability, created_date, expected_close_date,
      is_open (clean deals), and with `fx_rates` also amount and currency; None: no opportunities input.
    fx_rates: currency, month (first day), rate_to_reporting (raw.fx_rates). Given, a month end converts each deal's
      amount at the latest rate of a month up to it (`deals_then`): a later month's rate changes no past month end.
      None: every month end takes `amount_reporting`, converted at the run's as-of date.
    prospects: prospect_id, name, domain, phone, postal_code, industry, employee_count, owner_id, created_date.
    prospect_matches: designations.match_prospects(prospects, records) when the caller has it; else matched once here.
    """

    records: pl.DataFrame
    billing: pl.DataFrame | Monthly
    engagement: pl.DataFrame | None = None
    deals: pl.DataFrame | None = None
    prospects: pl.DataFrame | None = None
    prospect_matches: pl.DataFrame | None = None
    fx_rates: pl.DataFrame | None = None


@dataclass
class Reconstruction:
    accounts: pl.DataFrame  # RECONSTRUCTED_SCHEMA
    leads: pl.DataFrame  # LEAD_SCHEMA
    skipped: list[str] = field(default_factory=list)  # as-of dates left out, with why


@dataclass
class Kept:
    """The oldest month ends a previous reconstruction made from the same inputs, not computed again: `dates`, and
    `accounts` (as_of_date, account_id, owner_id, billing_12m) of at least the first of them in each review period
    (its key level) and the last one (the owners the next month end starts from). Only the oldest dates of a
    reconstruction are kept, none missing in between: the others are computed again."""

    dates: list[dt.date]
    accounts: pl.DataFrame

    def kept_of(self, dates: list[dt.date]) -> list[dt.date]:
        """The oldest of `dates` that are kept, up to the first that is not."""
        out = []
        for day in sorted(dates):
            if day not in self.dates:
                break
            out.append(day)
        return out


# ---- calendar months ----------------------------------------------------------------------------------------------


def month_index(value: pl.Expr | dt.date) -> pl.Expr | int:
    """Months since year 0 (2026-10 -> 24321): whole-month arithmetic as integer arithmetic."""
    if isinstance(value, dt.date):
        return value.year * 12 + value.month - 1
    return (value.dt.year().cast(pl.Int32) * 12 + value.dt.month().cast(pl.Int32) - 1).alias("month_index")


def month_end(index: int) -> dt.date:
    following = index + 1
    return dt.date(following // 12, following % 12 + 1, 1) - dt.timedelta(days=1)


def is_month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).day == 1


def last_complete_month(as_of: dt.date) -> int:
    """The last month whose billing is complete at `as_of`: its own month when it is a month end, else the one before."""
    return month_index(as_of) if is_month_end(as_of) else month_index(as_of) - 1


# ---- the monthly tables, asked in DuckDB ---------------------------------------------------------------------------


def _by_record_sql(table: str) -> str:
    return (
        f"(select source_system || ':' || source_client_id as record, "
        f'cast(year("month") * 12 + month("month") - 1 as integer) as month_index, '
        f"cast(billing_amount as decimal(38, 2)) as billing from {table})"
    )


def _engagement_sql(table: str) -> str:
    return (
        f"(select source_system || ':' || source_client_id as record, "
        f'cast(year("month") * 12 + month("month") - 1 as integer) as month_index, '
        f"event_type, events, quantity from {table})"
    )


WINDOW_CACHE_ROWS = 2_000_000  # Monthly.account_windows' answers kept (about 100 MB)


class Monthly:
    """The monthly billing (and engagement) by client record, asked in DuckDB: every answer is one row per record or
    per account (and month end), so the monthly tables (tens of millions of rows at 1M client records) are never
    whole in Python memory. The same questions over a test's frames run in an in-memory DuckDB (`of_frames`).

    `billing`: a relation with record ('system:id'), month_index, billing (decimal); `engagement`: record,
    month_index, event_type, events, quantity, or None."""

    def __init__(
        self,
        conn: duckdb.DuckDBPyConnection,
        billing: str,
        engagement: str | None,
        frames: tuple = (),
        after_answer: Callable[[], None] | None = None,
    ):
        self.conn, self.billing, self.engagement = conn, billing, engagement
        self._frames = frames  # registered in `conn`: alive as long as it is
        self._after_answer = after_answer  # called when an answer is a polars frame (a run frees DuckDB's memory)
        self._windows: dict[tuple, tuple[pl.DataFrame, pl.DataFrame]] = {}  # account_windows' latest answers

    @classmethod
    def of_tables(
        cls,
        conn: duckdb.DuckDBPyConnection,
        billing: str,
        engagement: str | None = None,
        after_answer: Callable[[], None] | None = None,
    ) -> Monthly:
        """Tables shaped like `intermediate.int_client_billing_monthly` and `int_client_engagement_monthly`.
        `after_answer`: called after each answer is fetched (the outcomes step hands DuckDB's freed memory back)."""
        return cls(conn, _by_record_sql(billing), _engagement_sql(engagement) if engagement else None, (), after_answer)

    @classmethod
    def of_frames(cls, billing: pl.DataFrame, engagement: pl.DataFrame | None = None) -> Monthly:
        """Frames shaped like those tables; `billing` may also be billing_by_record()'s frame."""
        conn = scratch()
        conn.register("billing_frame", billing)
        if "record" in billing.columns:
            relation = "(select record, month_index, cast(billing as decimal(38, 2)) as billing from billing_frame)"
        else:
            relation = _by_record_sql("billing_frame")
        if engagement is not None:
            conn.register("engagement_frame", engagement)
        return cls(
            conn,
            relation,
            _engagement_sql("engagement_frame") if engagement is not None else None,
            (billing, engagement),
        )

    def _frame(self, sql: str, parameters: dict, mapping: pl.DataFrame | None = None) -> pl.DataFrame:
        if mapping is not None:
            self.conn.register("record_accounts", mapping)
        try:
            return self.conn.sql(sql, params=parameters).pl()
        finally:
            if mapping is not None:
                self.conn.unregister("record_accounts")
            if self._after_answer is not None:
                self._after_answer()

    def first_month(self) -> int | None:
        """The month_index of the first month with a billing row; None without billing."""
        return self.conn.sql(f"select min(month_index) from {self.billing}").fetchall()[0][0]

    def first_billing_months(self) -> pl.DataFrame:
        """record, first_billing_month (Int32): each record's first month with a billing row (asked once)."""
        if getattr(self, "_first_billing", None) is None:
            self._first_billing = self._frame(
                f"select record, cast(min(month_index) as integer) as first_billing_month from {self.billing} "
                "group by record",
                {},
            )
        return self._first_billing

    def month_digests(self) -> dict[str, dict[int, list[int]]]:
        """For the billing and the engagement, each month's rows as [row count, two sums of 32-bit halves of each
        row's hash] by month_index: the same rows in any order give the same digest, a changed value, a row more or
        fewer another (assets/rules/reuse.py, frame_digest, for frames). Asked once."""
        if getattr(self, "_digests", None) is not None:
            return self._digests
        relations = {
            "billing": (self.billing, "record, month_index, billing"),
            "engagement": (self.engagement, "record, month_index, event_type, events, quantity"),
        }
        digests = {}
        for name, (relation, columns) in relations.items():
            if relation is None:
                digests[name] = {}
                continue
            digests[name] = reuse.rows_digest(self.conn, f"select * from {relation}", columns, by="month_index")
        self._digests = digests
        return digests

    def record_billing(self, m: int) -> pl.DataFrame:
        """record, billing_12m, billing_recent_6m: each record's billing in month m and the 11 (5) before it."""
        return self._frame(
            f"""
            select record, sum(billing) as billing_12m,
                sum(billing) filter (where month_index >= $m - 5) as billing_recent_6m
            from {self.billing}
            where month_index between $m - 11 and $m
            group by record
            """,
            {"m": m},
        )

    def account_engagement(self, m: int, mapping: pl.DataFrame) -> pl.DataFrame:
        """account_id, event_type, months_ago (Int32), events, quantity (Int64) of month m and the 11 before it,
        through `mapping` (record, account_id)."""
        return self._frame(
            f"""
            select record_accounts.account_id, engagement.event_type,
                cast($m - engagement.month_index as integer) as months_ago,
                cast(coalesce(sum(engagement.events), 0) as bigint) as events,
                cast(coalesce(sum(engagement.quantity), 0) as bigint) as quantity
            from {self.engagement} as engagement
            join record_accounts on engagement.record = record_accounts.record
            where engagement.month_index between $m - 11 and $m
            group by all
            """,
            {"m": m},
            mapping.select("record", "account_id"),
        )

    def account_windows(self, m: int, mapping: pl.DataFrame, horizons: tuple[int, ...]) -> pl.DataFrame:
        """account_id, billing_before_12m, billing_after_<n>m for n in `horizons` (decimal, 0 without billing) of
        every account (by `mapping`: record, account_id) with billing from month m - 11 to m + max(horizons)
        (`windows_after`: the windows after some months alone).

        The latest answers are kept (up to WINDOW_CACHE_ROWS rows): a month end's accounts and its leads ask the same
        question of today's accounts (the same `mapping` frame), and at 1M client records each asking costs seconds."""
        cache = self._windows
        key = (m, id(mapping), tuple(horizons))
        if key in cache and cache[key][0] is mapping:
            return cache[key][1]
        answer = self._account_windows(m, mapping, horizons)
        cache[key] = (mapping, answer)  # the mapping kept with it: its id is not reused while the entry lives
        while sum(entry[1].height for entry in cache.values()) > WINDOW_CACHE_ROWS and len(cache) > 1:
            cache.pop(next(iter(cache)))
        return answer

    def _account_windows(self, m: int, mapping: pl.DataFrame, horizons: tuple[int, ...]) -> pl.DataFrame:
        sums = [
            "cast(coalesce(sum(billing.billing) filter (where billing.month_index <= $m), 0) as decimal(38, 2))"
            " as billing_before_12m",
            *(
                f"cast(coalesce(sum(billing.billing) filter (where billing.month_index between $m + 1 and $m + {n}),"
                f" 0) as decimal(38, 2)) as billing_after_{int(n)}m"
                for n in horizons
            ),
        ]
        return self._account_sums(sums, {"m": m, "first": m - 11, "last": m + max(horizons)}, mapping)

    def _account_sums(self, sums: list[str], parameters: dict, mapping: pl.DataFrame) -> pl.DataFrame:
        """account_id and the `sums` (select expressions over `billing`) of every account (by `mapping`: record,
        account_id) with billing from month $first to $last (`parameters` holds them and what `sums` reads)."""
        return self._frame(
            f"""
            select record_accounts.account_id, {", ".join(sums)}
            from {self.billing} as billing
            join record_accounts on billing.record = record_accounts.record
            where billing.month_index between $first and $last
            group by record_accounts.account_id
            """,
            parameters,
            mapping.select("record", "account_id"),
        )

    def windows_after(self, windows: dict[int, tuple[int, ...]], mapping: pl.DataFrame) -> pl.DataFrame:
        """month_index, account_id, horizon_months, billing_after (decimal): for each month m of `windows` (m ->
        horizons) and each horizon n, every account's billing (by `mapping`: record, account_id) from month m + 1 to
        m + n, of every account with billing in any of those windows (0 in a window without). One query, one read of
        the billing the windows span."""
        pairs = sorted((m, n) for m, horizons in windows.items() for n in horizons)
        schema = {"month_index": pl.Int64, "account_id": pl.String, "horizon_months": pl.Int64, "billing_after": MONEY}
        if not pairs:
            return pl.DataFrame(schema=schema)
        sums = [
            f"cast(coalesce(sum(billing.billing) filter (where billing.month_index between {int(m) + 1} and "
            f"{int(m) + int(n)}), 0) as decimal(38, 2)) as w_{i}"
            for i, (m, n) in enumerate(pairs)
        ]
        span = {"first": min(m for m, _ in pairs) + 1, "last": max(m + n for m, n in pairs)}
        wide = self._account_sums(sums, span, mapping)
        return pl.concat(
            [
                wide.select(
                    pl.lit(m, pl.Int64).alias("month_index"),
                    "account_id",
                    pl.lit(n, pl.Int64).alias("horizon_months"),
                    pl.col(f"w_{i}").cast(MONEY).alias("billing_after"),
                )
                for i, (m, n) in enumerate(pairs)
            ]
        )


def monthly(billing: pl.DataFrame | Monthly, engagement: pl.DataFrame | None = None) -> Monthly:
    return billing if isinstance(billing, Monthly) else Monthly.of_frames(billing, engagement)


def reconstruction_dates(
    billing: pl.DataFrame | Monthly,
    as_of: dt.date,
    limit: int = DEFAULT_LIMIT,
    review_months: int = 12,
    review_start_month: int = 1,
) -> list[dt.date]:
    """Month ends T <= `as_of` whose 12-month window lies inside the billing data (T's month at least 11 months
    after the first month with billing): the `limit` most recent, and the earlier ones of the review period the
    oldest of them falls in (`limit` to `limit` + review_months - 1 month ends).

    The reconstruction is a chain (each month end keeps the owners of the one before it, a review period's first
    month end sets its key level): it starts where a review period starts, or where the data does, never at a month
    that slides with every run. A chain that started one month later each month would compute every month end again
    in every run once the data is longer than `limit` (none of them kept) and change their owners each time."""
    first = monthly(billing).first_month() if limit > 0 else None
    if first is None:
        return []
    last = last_complete_month(as_of)
    oldest = max(last - limit + 1, first + 11)  # no earlier than the data's first whole window (any `limit`)
    start = month_index(review_period(month_end(oldest), review_months, review_start_month).start)
    return [month_end(m) for m in range(max(first + 11, start), last + 1)]


# ---- reconstruction -----------------------------------------------------------------------------------------------


def _record_key() -> pl.Expr:
    return (pl.col("source_system") + ":" + pl.col("source_client_id")).alias("record")


def replay_stage(config: ScoringConfig) -> str | None:
    """The open stage a deal that closed after T is counted at, for T: the open stage (not `closed...`, probability
    above 0) of median probability, the lower one of two middles."""
    open_stages = sorted((p, s) for s, p in config.stages.items() if not s.startswith("closed") and p > 0)
    return open_stages[(len(open_stages) - 1) // 2][1] if open_stages else None


def billing_by_record(billing: pl.DataFrame) -> pl.DataFrame:
    """record ('system:id'), month_index, billing (decimal) of the monthly billing table."""
    return billing.select(
        _record_key(), month_index(pl.col("month")), pl.col("billing_amount").cast(MONEY).alias("billing")
    )


def records_now(records: pl.DataFrame) -> pl.DataFrame:
    """record ('system:id'), account_id: today's deduplication."""
    return records.select(_record_key(), "account_id")


def _prepared(history: History) -> dict:
    records = history.records.with_columns(_record_key())
    source = monthly(history.billing, history.engagement)
    first_billing = source.first_billing_months()
    since = month_index(pl.col("customer_since")).alias("since_month")
    records = (
        records.join(first_billing, on="record", how="left")
        .with_columns(since)
        .with_columns(pl.min_horizontal("since_month", "first_billing_month").alias("known_from_month"))
    )
    return {"records": records, "monthly": source}


def _known_then(m: int) -> pl.Expr:
    """A client record known at month m (`_prepared`'s known_from_month: its customer_since or first billing month,
    unknown: always known)."""
    return pl.col("known_from_month").is_null() | (pl.col("known_from_month") <= m)


def _created_by(as_of: dt.date) -> pl.Expr:
    """A deal or prospect created by `as_of` (no creation date: always there)."""
    return pl.col("created_date").is_null() | (pl.col("created_date") <= pl.lit(as_of))


def iter_known_inputs(history: History, dates: list[dt.date]) -> Iterator[tuple[dt.date, dict]]:
    """What the snapshot at each of `dates` is computed from, besides the scoring config, the settings and the code:
    `frames`, the client records known then, the clean deals created by then and open then, the prospects created
    by then (every column); and `monthly`, each month's digest (`Monthly.month_digests`) of the billing and
    engagement up to then. The snapshot at T reads nothing else but the owners and key levels of the snapshots
    before it, which come from records and billing up to T: two runs with equal inputs at T and at every date
    before it (and the same first date) have the same snapshots up to T. One date at a time (each a copy of the
    records, deals and prospects known then); the fingerprints read `iter_known_digests`, their digests."""
    records = _prepared(history)["records"]
    digests = monthly(history.billing, history.engagement).month_digests()
    for as_of in dates:
        m = month_index(as_of)
        known = records.filter(_known_then(m))
        frames = {"records": known.select(history.records.columns)}
        created = _created_by(as_of)
        if history.deals is not None:  # the deals open then, at their amounts then (`_pipeline_at`)
            frames["deals"] = deals_then(history.deals, history.fx_rates, as_of)
        if history.prospects is not None:
            frames["prospects"] = history.prospects.filter(created)
        yield as_of, {"frames": frames, "monthly": _months_up_to(digests, m)}


def _months_up_to(digests: dict[str, dict[int, list[int]]], m: int) -> dict[str, list[list[int]]]:
    """`Monthly.month_digests` of the months up to m, in month order."""
    return {
        name: sorted([month, *digest] for month, digest in by_month.items() if month <= m)
        for name, by_month in digests.items()
    }


def iter_known_digests(history: History, dates: list[dt.date]) -> Iterator[tuple[dt.date, dict]]:
    """`iter_known_inputs` with each frame as its `reuse.frame_digest` (what a fingerprint reads of it), the same
    values, quicker: every record's and prospect's row hash is taken once and each date sums those it knows, instead
    of copying and hashing the records known at each of 24 month ends (at 1M client records about 0.2 s a date).
    The deals are hashed per date: their amounts depend on it (`deals_then`)."""
    records = _prepared(history)["records"]
    kept = records.select(history.records.columns)
    record_hashes = reuse.row_hashes(kept)
    prospects = history.prospects
    prospect_hashes = reuse.row_hashes(prospects) if prospects is not None else None
    digests = monthly(history.billing, history.engagement).month_digests()
    for as_of in dates:
        m = month_index(as_of)
        known = records.select(_known_then(m)).to_series()
        frames = {"records": reuse.hashes_digest(kept.schema, record_hashes.filter(known))}
        if history.deals is not None:
            frames["deals"] = reuse.frame_digest(deals_then(history.deals, history.fx_rates, as_of))
        if prospects is not None:
            created = prospects.select(_created_by(as_of)).to_series()
            frames["prospects"] = reuse.hashes_digest(prospects.schema, prospect_hashes.filter(created))
        yield as_of, {"frames": frames, "monthly": _months_up_to(digests, m)}


def known_inputs(history: History, dates: list[dt.date]) -> dict[dt.date, dict]:
    """`iter_known_inputs` as a dict (every date's frames at once)."""
    return dict(iter_known_inputs(history, dates))


def _accounts_at(records: pl.DataFrame, source: Monthly, m: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Accounts at month m: survivorship over the records known then, ordered by their billing then."""
    known = records.filter(_known_then(m))
    per_record = source.record_billing(m)
    members = known.join(per_record, on="record", how="left").with_columns(
        pl.col("billing_12m", "billing_recent_6m").fill_null(Decimal(0)).cast(MONEY)
    )
    ordered = members.sort(
        ["account_id", "billing_12m", "filled_field_count", "source_system", "source_client_id"],
        descending=[False, True, True, False, False],
        nulls_last=True,
    )
    accounts = ordered.group_by("account_id", maintain_order=True).agg(
        pl.col("owner_id").drop_nulls().first(),
        pl.col("industry").drop_nulls().first(),
        pl.col("employee_count").drop_nulls().first(),
        pl.col("customer_since").min(),
        pl.col("segment").drop_nulls().unique().sort().alias("segments"),
        pl.col("owner_id").drop_nulls().unique().sort().alias("owner_ids"),
        pl.col("billing_12m").sum(),
        pl.col("billing_recent_6m").sum(),
    )
    return known, accounts


def _open_then(as_of: dt.date) -> pl.Expr:
    """A deal open at `as_of`: open now, or closed after its expected close date after `as_of`."""
    return pl.col("is_open") | (pl.col("expected_close_date") > pl.lit(as_of)).fill_null(False)


def deals_then(deals: pl.DataFrame, fx_rates: pl.DataFrame | None, as_of: dt.date) -> pl.DataFrame:
    """The deals created by `as_of` and open then, with `amount_reporting` as it was then: with `fx_rates`, the
    amount in the reporting currency at the latest rate of a month up to `as_of` (rounded to the cent, as
    int_deals_checked converts at the run's as-of date), or as it is when the deal's currency had no rate yet; without
    them (or without the deals' amount and currency), as it is. `amount` and `currency` are dropped: what a month end
    reads of a deal is this amount, so a rate published later changes neither its snapshot nor its fingerprint."""
    created = _created_by(as_of)
    then = deals.filter(created & _open_then(as_of))
    if fx_rates is None or not {"amount", "currency"} <= set(deals.columns):
        return then
    rates = (
        fx_rates.filter(pl.col("month") <= pl.lit(as_of))
        .group_by("currency")
        .agg(pl.col("rate_to_reporting").sort_by("month").last().alias("_rate"))
    )
    amount = pl.col("amount").cast(pl.Float64)
    converted = (amount * pl.col("_rate").cast(pl.Float64)).round(2)
    return (
        then.join(rates, on="currency", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("_rate").is_not_null())
            .then(converted)
            .otherwise(pl.col("amount_reporting").cast(pl.Float64))
            .alias("amount_reporting")
        )
        .drop("_rate", "amount", "currency")
    )


def _pipeline_at(
    deals: pl.DataFrame | None, fx_rates: pl.DataFrame | None, known: pl.DataFrame, as_of: dt.date, stage: str | None
):
    if deals is None:
        return None
    then = deals_then(deals, fx_rates, as_of).with_columns(
        pl.when(pl.col("is_open")).then(pl.col("stage")).otherwise(pl.lit(stage)).alias("stage"),
        pl.when(pl.col("is_open")).then(pl.col("probability").cast(pl.Float64)).alias("probability"),
        pl.col("amount_reporting").cast(pl.Float64),
    )
    then = then.filter(pl.col("stage").is_not_null())
    joined = then.with_columns(_record_key()).join(known.select("record", "account_id"), on="record", how="inner")
    return joined.group_by("account_id", "stage").agg(
        pl.len().cast(pl.Int64).alias("open_deals"),
        (pl.col("amount_reporting") * pl.col("probability") / 100.0).sum().alias("weighted_amount"),
        pl.col("amount_reporting").filter(pl.col("probability").is_null()).sum().alias("unweighted_amount"),
    )


def _engagement_at(source: Monthly, known: pl.DataFrame, m: int) -> pl.DataFrame | None:
    if source.engagement is None:
        return None
    window = source.account_engagement(m, known)
    if window.height == 0:
        return None  # as a run does: no engagement in the window, the criterion is missing for everyone
    return window


def _leads_at(
    prospects: pl.DataFrame | None, matches: pl.DataFrame, known: pl.DataFrame, as_of: dt.date, config: ScoringConfig
):
    if prospects is None or prospects.height == 0:
        return pl.DataFrame(schema=LEAD_SCHEMA)
    dated = prospects.filter(_created_by(as_of))
    clients = known.select("source_system", "source_client_id", "account_id", "name", "domain", "phone", "postal_code")
    # the pairs of every prospect and record (matched once) narrowed to the records known then: the same pairs as
    # matching the prospects known then against those records
    then = matches.join(known.select("source_system", "source_client_id"), on=["source_system", "source_client_id"])
    scored = designations.score_prospects(dated, clients, config, matches=then)
    recommended = designations.recommend_leads(scored, config)
    return (
        scored.select(
            "prospect_id", "owner_id", "lead_score", pl.col("existing_account_id").is_not_null().alias("is_client_then")
        )
        .join(recommended.select("prospect_id", "lead_rank"), on="prospect_id", how="left")
        .with_columns(
            pl.lit(as_of, pl.Date).alias("as_of_date"), pl.col("lead_rank").is_not_null().alias("is_recommended")
        )
        .select(list(LEAD_SCHEMA))
        .cast(LEAD_SCHEMA)
        .sort("prospect_id")
    )


def reconstruct(
    history: History,
    dates: list[dt.date],
    config: ScoringConfig,
    key_share: float = 0.25,
    review_months: int = 12,
    review_start_month: int = 1,
    kept: Kept | None = None,
) -> Reconstruction:
    """The reconstructed snapshot of every date in `dates` (month ends), oldest first (see the module docstring).

    `kept`: the oldest dates as a previous reconstruction from the same inputs up to them made them
    (`known_inputs`; the caller compares): they are not computed again and not returned; the reconstruction goes on
    from the first date it lacks, with the key levels and owners they carry (`Kept`)."""
    prepared = _prepared(history)
    records, source = prepared["records"], prepared["monthly"]
    stage = replay_stage(config)
    matches = history.prospect_matches
    if matches is None and history.prospects is not None:
        matches = designations.match_prospects(history.prospects, history.records)
    levels: dict[dt.date, Decimal] = {}
    previous_owners = None
    accounts_out, leads_out, skipped = [], [], []
    kept_dates = kept.kept_of(dates) if kept is not None else []
    for as_of in sorted(dates):
        if as_of in kept_dates:
            kept_accounts = kept.accounts.filter(pl.col("as_of_date") == as_of)
            if kept_accounts.height:
                period = review_period(as_of, review_months, review_start_month).start
                if period not in levels:  # the level this period's first snapshot set, as when it was computed
                    _, cut = designate_key_accounts(kept_accounts.select("account_id", "billing_12m"), key_share)
                    levels[period] = cut.key_level
                previous_owners = kept_accounts.select("account_id", "owner_id")
            continue
        m = month_index(as_of)
        known, accounts = _accounts_at(records, source, m)
        accounts, _ = keep_owners(accounts, previous_owners)
        period = review_period(as_of, review_months, review_start_month).start
        if period not in levels:
            try:
                _, cut = designate_key_accounts(accounts.select("account_id", "billing_12m"), key_share)
            except NoBillingError:
                skipped.append(f"{as_of}: no account had positive billing in the 12 months then")
                continue
            levels[period] = cut.key_level
        level = pl.lit(levels[period], dtype=MONEY)
        accounts = accounts.with_columns(
            ((pl.col("billing_12m") > 0) & (pl.col("billing_12m") >= level)).alias("is_key_account")
        )
        features = accounts.select(
            "account_id",
            "owner_id",
            "industry",
            pl.col("employee_count").cast(pl.Int64),
            pl.col("customer_since").cast(pl.Date),
            pl.col("segments").cast(pl.List(pl.String)),
            pl.col("billing_12m").cast(pl.Float64),
            pl.col("billing_recent_6m").cast(pl.Float64),
            (pl.col("billing_12m") - pl.col("billing_recent_6m")).cast(pl.Float64).alias("billing_earlier_6m"),
            "is_key_account",
        )
        engagement = _engagement_at(source, known, m)
        pipeline = _pipeline_at(history.deals, history.fx_rates, known, as_of, stage)
        scored = scoring.score(features, engagement, pipeline, config, as_of)
        targets = designations.recommend_targets(scored, config).select("account_id", pl.lit(True).alias("_target"))
        frame = (
            scored.select("account_id", "tier", "priority_score", *CRITERIA_COLUMNS)
            .join(accounts.select("account_id", "owner_id", "billing_12m", "is_key_account"), on="account_id")
            .join(targets, on="account_id", how="left")
            .with_columns(
                pl.lit(as_of, pl.Date).alias("as_of_date"),
                pl.lit(RECONSTRUCTED).alias("snapshot_source"),
                pl.when(pl.col("is_key_account"))
                .then(pl.lit("key"))
                .when(pl.col("_target").fill_null(False))
                .then(pl.lit("target"))
                .otherwise(pl.lit("secondary"))
                .alias("designation"),
                pl.when(pl.col("_target").fill_null(False) & ~pl.col("is_key_account"))
                .then(pl.lit("recommended"))
                .alias("target_source"),
            )
        )
        accounts_out.append(frame.select(list(RECONSTRUCTED_SCHEMA)).cast(RECONSTRUCTED_SCHEMA))
        leads_out.append(_leads_at(history.prospects, matches, known, as_of, config))
        previous_owners = accounts.select("account_id", "owner_id")
    accounts_frame = (pl.concat(accounts_out) if accounts_out else pl.DataFrame(schema=RECONSTRUCTED_SCHEMA)).sort(
        "as_of_date", "account_id"
    )
    leads_frame = pl.concat(leads_out) if leads_out else pl.DataFrame(schema=LEAD_SCHEMA)
    return Reconstruction(accounts=accounts_frame, leads=leads_frame, skipped=skipped)


# ---- recorded snapshots and the choice between the two ------------------------------------------------------------


def member_list() -> pl.Expr:
    """`marts.account_snapshots`' member_records ('system:id;system:id') as a list of 'system:id' (none: empty)."""
    return pl.col("member_records").fill_null("").str.split(";").list.filter(pl.element() != "")


def recorded_snapshots(history: pl.DataFrame | None) -> pl.DataFrame:
    """`marts.account_snapshots` as snapshots (SNAPSHOT_SCHEMA plus `member_records`, a list of 'system:id')."""
    schema = {**SNAPSHOT_SCHEMA, "member_records": pl.List(pl.String)}
    if history is None or history.height == 0:
        return pl.DataFrame(schema=schema)
    target = pl.col("designation") == "target"
    return (
        history.with_columns(
            pl.lit(RECORDED).alias("snapshot_source"),
            pl.when(target & pl.col("is_designation_overridden").fill_null(False))
            .then(pl.lit("override"))
            .when(target & pl.col("is_seller_pick").fill_null(False))
            .then(pl.lit("seller_pick"))
            .when(target)
            .then(pl.lit("recommended"))
            .alias("target_source"),
            member_list(),
        )
        .select(list(schema))
        .cast(schema)
    )


def choose_snapshots(recorded: pl.DataFrame, reconstructed: pl.DataFrame) -> pl.DataFrame:
    """One snapshot per as-of date: every recorded one, and a reconstructed one for each month without a recorded
    snapshot (what sellers were shown wins over what alms would have shown)."""
    recorded_months = recorded.select(month_index(pl.col("as_of_date"))).unique()
    kept = reconstructed.with_columns(month_index(pl.col("as_of_date"))).join(
        recorded_months, on="month_index", how="anti"
    )
    return pl.concat([recorded.select(list(SNAPSHOT_SCHEMA)), kept.select(list(SNAPSHOT_SCHEMA))], how="vertical").sort(
        "as_of_date", "account_id"
    )
