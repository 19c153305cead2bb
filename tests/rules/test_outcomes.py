"""Past snapshots and their outcomes on a history small enough that every figure is known by construction.

Five organisations billing monthly from 2024-11 to 2026-10 (the run's as-of date 2026-10-31):
- s:A 1,000 a month, 2,000 from 2025-11; a second record s:F of the same account bills 300 a month from 2026-03 (it
  did not exist before: customer_since 2026-03-01);
- s:B 1,000 a month throughout; s:C 500 a month until 2025-10, nothing after (churn); s:D 100 a month;
- s:E a new client from 2026-01 (customer_since 2026-01-01); prospect P1 is that organisation, P2 never buys.
"""

import datetime as dt
import random
from decimal import Decimal

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from assets.rules import reuse
from assets.rules.kept_month_ends import (
    ACCOUNTS,
    LEADS,
    OUTCOME_TABLES,
    OutcomeTables,
    changed_windows,
    part_fingerprints,
    part_names,
    reconstructed_rows_digests,
    unchanged_parts,
)
from assets.rules.outcomes import (
    account_outcomes,
    chosen,
    group_outcomes,
    lead_outcomes,
    recorded_mapping,
    window_sums,
)
from assets.rules.reviews import review_period
from assets.rules.scoring_config import load_scoring_config
from assets.rules.snapshots import (
    RECONSTRUCTED_SCHEMA,
    SNAPSHOT_SCHEMA,
    History,
    Kept,
    Monthly,
    Reconstruction,
    billing_by_record,
    choose_snapshots,
    deals_then,
    iter_known_digests,
    known_inputs,
    month_end,
    month_index,
    reconstruct,
    reconstruction_dates,
    recorded_snapshots,
    records_now,
    replay_stage,
)
from assets.rules.tables import write_frame

AS_OF = dt.date(2026, 10, 31)
T = dt.date(2025, 10, 31)
MONTHS = [dt.date(2024 + (10 + i) // 12, (10 + i) % 12 + 1, 1) for i in range(24)]  # 2024-11 .. 2026-10


def record(client_id, account, name, since=None, domain=None):
    return {
        "source_system": "s",
        "source_client_id": client_id,
        "account_id": account,
        "name": name,
        "domain": domain,
        "phone": None,
        "postal_code": None,
        "owner_id": "S1",
        "industry": "Technology",
        "employee_count": 100,
        "segment": "national",
        "customer_since": since,
        "filled_field_count": 3,
    }


def monthly(client_id, amount_of) -> list[dict]:
    return [
        {"source_system": "s", "source_client_id": client_id, "month": m, "billing_amount": Decimal(amount_of(m))}
        for m in MONTHS
        if amount_of(m)
    ]


def history(billing_rows=None) -> History:
    records = pl.DataFrame(
        [
            record("A", "s:A", "Alpha Inc"),
            record("F", "s:A", "Alpha Inc", since=dt.date(2026, 3, 1)),
            record("B", "s:B", "Bravo Inc"),
            record("C", "s:C", "Charlie Inc"),
            record("D", "s:D", "Delta Inc"),
            record("E", "s:E", "Echo Ltd", since=dt.date(2026, 1, 1), domain="echo.com"),
        ]
    ).cast(
        {
            "customer_since": pl.Date,
            "employee_count": pl.Int64,
            "filled_field_count": pl.Int32,
            "domain": pl.String,
            "phone": pl.String,
            "postal_code": pl.String,
        }
    )
    rows = billing_rows or [
        *monthly("A", lambda m: 2000 if m > dt.date(2025, 10, 1) else 1000),
        *monthly("F", lambda m: 300 if m >= dt.date(2026, 3, 1) else 0),
        *monthly("B", lambda m: 1000),
        *monthly("C", lambda m: 500 if m <= dt.date(2025, 10, 1) else 0),
        *monthly("D", lambda m: 100),
        *monthly("E", lambda m: 800 if m >= dt.date(2026, 1, 1) else 0),
    ]
    billing = pl.DataFrame(rows).cast({"billing_amount": pl.Decimal(38, 2)})
    prospects = pl.DataFrame(
        {
            "prospect_id": ["P1", "P2"],
            "name": ["Echo Ltd", "Foxtrot Corp"],
            "domain": ["echo.com", "foxtrot.com"],
            "phone": [None, None],
            "postal_code": [None, None],
            "industry": ["Technology", "Technology"],
            "employee_count": [120, 80],
            "owner_id": ["S1", "S1"],
            "created_date": [dt.date(2025, 1, 15), dt.date(2025, 1, 15)],
        },
        schema_overrides={"phone": pl.String, "postal_code": pl.String, "employee_count": pl.Int64},
    )
    return History(records=records, billing=billing, prospects=prospects)


@pytest.fixture(scope="module")
def config():
    return load_scoring_config()


def rebuild(data: History, config):
    dates = reconstruction_dates(data.billing, AS_OF)
    built = reconstruct(data, dates, config)
    billing, now = billing_by_record(data.billing), records_now(data.records)
    outcomes = account_outcomes(recorded_snapshots(None), built.accounts, billing, now, AS_OF)
    return built, outcomes


def one(frame: pl.DataFrame, as_of: dt.date, account: str) -> dict:
    return frame.filter((pl.col("as_of_date") == as_of) & (pl.col("account_id") == account)).row(0, named=True)


def test_snapshots_start_when_a_whole_12_month_window_exists(config):
    dates = reconstruction_dates(history().billing, AS_OF)
    assert dates[0] == T and dates[-1] == AS_OF and len(dates) == 13
    assert reconstruction_dates(history().billing, dt.date(2026, 10, 15))[-1] == dt.date(2026, 9, 30)  # partial month


def test_the_month_ends_start_where_a_review_period_does_not_one_month_later_each_run():
    """With more data than the limit, the month ends start with the review period of the oldest of the `limit` most
    recent: the same first month end for every as-of date of a period (so a monthly run keeps the ones before it),
    a new one once a period; with the data's first whole window when that comes later."""
    billing = pl.DataFrame(
        {"source_system": "s", "source_client_id": "A", "month": [dt.date(2023, 1, 1)], "billing_amount": [1.0]}
    )
    billing = pl.concat(
        [billing.with_columns(pl.lit(dt.date(2023 + m // 12, m % 12 + 1, 1)).alias("month")) for m in range(48)]
    )  # 2023-01 .. 2026-12

    def dates(as_of: dt.date, limit: int, months: int = 12, start: int = 1) -> tuple[dt.date, int]:
        found = reconstruction_dates(billing, as_of, limit, months, start)
        assert found[-1] == as_of and found == sorted(set(found))
        return found[0], len(found)

    # limit 3: the 3 most recent are in 2026, a calendar review period's first month end is 2026-01-31
    assert dates(dt.date(2026, 8, 31), 3) == (dt.date(2026, 1, 31), 8)
    assert dates(dt.date(2026, 9, 30), 3) == (dt.date(2026, 1, 31), 9)  # the next run: the same start
    assert dates(dt.date(2026, 2, 28), 3) == (dt.date(2025, 1, 31), 14)  # the oldest of the 3 is in 2025
    assert dates(dt.date(2026, 8, 31), 3, months=6, start=4) == (dt.date(2026, 4, 30), 5)  # April-September
    # limit 24 (the default): 24 to 35 month ends, the start moving once a year
    assert dates(dt.date(2026, 10, 31), 24) == (dt.date(2024, 1, 31), 34)
    assert dates(dt.date(2026, 11, 30), 24, start=7) == (dt.date(2024, 7, 31), 29)  # July-June
    assert dates(dt.date(2024, 6, 30), 24) == (dt.date(2023, 12, 31), 7)  # the data's first whole window
    assert dates(dt.date(2026, 10, 31), 10**6) == (dt.date(2023, 12, 31), 35)  # any limit: no month before year 1
    starts = {dates(month_end(month_index(dt.date(2026, 1, 31)) + m), 13)[0] for m in range(12)}
    assert starts == {dt.date(2025, 1, 31)}  # one start for the twelve as-of dates of 2026


def test_a_client_that_did_not_exist_yet_is_not_in_the_snapshot(config):
    built, _ = rebuild(history(), config)
    at_t = built.accounts.filter(pl.col("as_of_date") == T)
    assert sorted(at_t["account_id"]) == ["s:A", "s:B", "s:C", "s:D"]  # s:E starts in 2026
    assert "s:E" in built.accounts.filter(pl.col("as_of_date") == AS_OF)["account_id"].to_list()


def test_outcomes_are_the_billing_of_the_following_months(config):
    _, outcomes = rebuild(history(), config)
    a = one(outcomes, T, "s:A")
    assert a["billing_before_12m"] == Decimal("12000.00")
    assert a["billing_after_3m"] == Decimal("6000.00")  # Nov-Jan at 2,000
    assert a["billing_after_6m"] == Decimal("12600.00")  # + s:F in March and April: a new record of the account
    assert a["billing_after_12m"] == Decimal("26400.00")
    c = one(outcomes, T, "s:C")
    assert (c["billing_before_12m"], c["billing_after_12m"]) == (Decimal("6000.00"), Decimal("0.00"))


def test_windows_not_complete_yet_are_null_not_zero(config):
    _, outcomes = rebuild(history(), config)
    may = one(outcomes, dt.date(2026, 5, 31), "s:B")
    assert may["billing_after_3m"] == Decimal("3000.00")  # June-August: complete
    assert may["billing_after_6m"] is None and may["billing_after_12m"] is None  # would need November 2026
    last = one(outcomes, AS_OF, "s:B")
    assert last["billing_after_3m"] is None


def test_changing_billing_after_the_as_of_date_changes_its_outcomes_not_its_groups(config):
    base, base_outcomes = rebuild(history(), config)
    changed_rows = [
        {**row, "billing_amount": row["billing_amount"] * 7 if row["month"] > T else row["billing_amount"]}
        for row in history().billing.to_dicts()
        if not (row["source_client_id"] == "D" and row["month"] > T)  # D stops right after the snapshot
    ]
    changed, changed_outcomes = rebuild(history(changed_rows), config)
    groups = list(RECONSTRUCTED_SCHEMA)
    before = base.accounts.filter(pl.col("as_of_date") == T).select(groups)
    after = changed.accounts.filter(pl.col("as_of_date") == T).select(groups)
    assert before.equals(after)  # tier, designation, key flag, owner, score and every criterion: unchanged
    assert one(changed_outcomes, T, "s:A")["billing_after_3m"] == Decimal("42000.00")  # 7 x 6,000
    assert one(changed_outcomes, T, "s:D")["billing_after_3m"] == Decimal("0.00")
    assert one(base_outcomes, T, "s:D")["billing_after_3m"] == Decimal("300.00")
    # and a later snapshot does see the changed billing
    later = dt.date(2026, 4, 30)
    assert (
        not base.accounts.filter(pl.col("as_of_date") == later)
        .select(groups)
        .equals(changed.accounts.filter(pl.col("as_of_date") == later).select(groups))
    )


def test_truncating_the_data_at_the_as_of_date_gives_the_same_snapshot(config):
    """The stronger form: the snapshot at T from all the data equals the one from only what existed at T."""
    full = history()
    known = History(
        records=full.records.filter(pl.col("customer_since").is_null() | (pl.col("customer_since") <= T)),
        billing=full.billing.filter(pl.col("month") <= T),
        prospects=full.prospects.filter(pl.col("created_date") <= T),
    )
    everything = reconstruct(full, [T], config)
    then = reconstruct(known, [T], config)
    assert everything.accounts.equals(then.accounts)
    assert everything.leads.equals(then.leads)


def test_leads_that_became_clients_count_as_converted(config):
    data = history()
    built, _ = rebuild(data, config)
    at_t = built.leads.filter(pl.col("as_of_date") == T)
    assert at_t.filter(pl.col("is_client_then")).height == 0  # Echo did not exist as a client in October 2025
    later = built.leads.filter(pl.col("as_of_date") == dt.date(2026, 2, 28))
    assert later.filter(pl.col("prospect_id") == "P1")["is_client_then"].item() is True
    matched = pl.DataFrame({"prospect_id": ["P1"], "account_id": ["s:E"]})
    leads = lead_outcomes(built.leads, matched, billing_by_record(data.billing), records_now(data.records), AS_OF)
    p1 = one(leads.rename({"prospect_id": "account_id"}), T, "P1")
    p2 = one(leads.rename({"prospect_id": "account_id"}), T, "P2")
    assert p1["is_converted_3m"] is True  # Echo billed from January 2026, within three months of October 2025
    assert p2["is_converted_12m"] is False
    assert leads.filter(pl.col("as_of_date") == dt.date(2026, 2, 28))["prospect_id"].to_list() == ["P2"]


def test_group_outcomes_add_up_the_accounts(config):
    _, outcomes = rebuild(history(), config)
    groups = group_outcomes(chosen(outcomes), min_group_size=4)
    everyone = groups.filter(
        (pl.col("as_of_date") == T) & (pl.col("group_kind") == "all") & (pl.col("horizon_months") == 12)
    ).row(0, named=True)
    # before: 12,000 + 12,000 + 6,000 + 1,200; after: 26,400 + 12,000 + 0 + 1,200
    assert everyone["members"] == 4 and everyone["active_members"] == 4 and not everyone["is_small_group"]
    assert everyone["billing_before_12m"] == Decimal("31200.00")
    assert everyone["billing_after"] == Decimal("39600.00")
    assert everyone["billing_change_share"] == pytest.approx(39600 / 31200 - 1)
    assert everyone["churned_members"] == 1 and everyone["churn_share"] == pytest.approx(0.25)
    assert everyone["grown_share"] == pytest.approx(0.25)  # only A grew
    assert everyone["median_account_change_share"] == pytest.approx(0.0)  # -1, 0, 0, 1.2
    assert (everyone["window_start_date"], everyone["window_end_date"]) == (dt.date(2025, 11, 1), AS_OF)
    tiers = groups.filter(
        (pl.col("as_of_date") == T) & (pl.col("group_kind") == "tier") & (pl.col("horizon_months") == 3)
    )
    assert tiers["members"].sum() == 4
    small = groups.filter(pl.col("members") < 4)
    assert (
        small.height > 0
        and small["is_small_group"].all()
        and not groups.filter(pl.col("members") >= 4)["is_small_group"].any()
    )
    incomplete = groups.filter((pl.col("as_of_date") == AS_OF) & (pl.col("group_kind") == "all"))
    assert not incomplete["is_complete"].any() and incomplete["billing_after"].null_count() == 3
    # one window's groups alone (what a date whose window alone changed computes again): that window's rows
    six = group_outcomes(chosen(outcomes), min_group_size=4, horizons=(6,))
    assert six.height > 0 and six.equals(groups.filter(pl.col("horizon_months") == 6))


def recorded_at_t(members_of_a: str = "s:A") -> pl.DataFrame:
    """The rows of marts.account_snapshots of a run at T: s:A (a seller's pick, holding `members_of_a`) and s:B."""
    return pl.DataFrame(
        {
            "as_of_date": [T, T],
            "account_id": ["s:A", "s:B"],
            "owner_id": ["S1", "S1"],
            "billing_12m": [Decimal(12000), Decimal(12000)],
            "is_key_account": [True, True],
            "tier": ["low", "high"],
            "priority_score": [10.0, 90.0],
            "designation": ["target", "key"],
            "is_designation_overridden": [False, False],
            "is_seller_pick": [True, False],
            "member_records": [members_of_a, "s:B"],
        }
    )


def test_a_recorded_snapshot_wins_over_the_reconstructed_one_of_its_month(config):
    data = history()
    built, _ = rebuild(data, config)
    recorded = recorded_at_t()
    snapshots = recorded_snapshots(recorded)
    assert one(snapshots, T, "s:A")["target_source"] == "seller_pick"
    combined = choose_snapshots(snapshots, built.accounts)
    assert combined.filter(pl.col("as_of_date") == T)["snapshot_source"].unique().to_list() == ["recorded"]
    assert combined.filter(pl.col("as_of_date") == T).height == 2
    assert combined.filter(pl.col("as_of_date") == dt.date(2025, 11, 30))["snapshot_source"].unique().to_list() == [
        "reconstructed"
    ]
    outcomes = account_outcomes(
        snapshots, built.accounts, billing_by_record(data.billing), records_now(data.records), AS_OF
    )
    used = chosen(outcomes)
    assert used.filter(pl.col("as_of_date") == T)["snapshot_source"].unique().to_list() == ["recorded"]
    # s:F did not exist at T: today it is in s:A's account, so its billing counts for the recorded s:A
    assert one(used, T, "s:A")["billing_after_12m"] == Decimal("26400.00")
    assert list(used.columns)[: len(SNAPSHOT_SCHEMA)] == list(SNAPSHOT_SCHEMA)


def test_recorded_mapping_follows_records_that_joined_later():
    snapshot = pl.DataFrame({"account_id": ["s:A", "s:B"], "member_records": [["s:A"], ["s:B", "s:C"]]})
    now = pl.DataFrame(
        {"record": ["s:A", "s:F", "s:B", "s:C", "s:X"], "account_id": ["s:A", "s:A", "s:B", "s:C", "s:X"]}
    )
    mapping = dict(recorded_mapping(snapshot, now).iter_rows())
    # s:F joined s:A's account later; s:C left s:B but was s:B's then; s:X is a new organisation: nobody's
    assert mapping == {"s:A": "s:A", "s:B": "s:B", "s:C": "s:B", "s:F": "s:A"}


def test_the_windows_of_several_months_are_asked_at_once():
    """Monthly.windows_after sums each (month, horizon) window in one query: an account with billing in one window
    only has 0 in the others, and each window is what account_windows gives for that month."""
    billing = pl.DataFrame(
        {"record": ["r1", "r1", "r2", "r3"], "month_index": [10, 13, 16, 30], "billing": [100.0, 50.0, 7.0, 1.0]}
    )
    mapping = pl.DataFrame({"record": ["r1", "r2", "r3"], "account_id": ["A", "B", "C"]})
    source = Monthly.of_frames(billing)
    out = source.windows_after({9: (3,), 12: (3, 6)}, mapping)
    sums = {(m, n, a): float(v) for m, a, n, v in out.iter_rows()}
    # months 10-12, 13-15 and 13-18; C billed in month 30 alone: in no window
    assert sums == {
        (9, 3, "A"): 100.0,
        (9, 3, "B"): 0.0,
        (12, 3, "A"): 50.0,
        (12, 3, "B"): 0.0,
        (12, 6, "A"): 50.0,
        (12, 6, "B"): 7.0,
    }
    for m, horizons in {9: (3,), 12: (3, 6)}.items():
        one = source.account_windows(m, mapping, horizons)
        for account, *after in one.select("account_id", *(f"billing_after_{n}m" for n in horizons)).iter_rows():
            assert [sums[(m, n, account)] for n in horizons] == [float(v) for v in after]
    assert source.windows_after({}, mapping).height == 0


def test_a_deal_closed_after_the_snapshot_was_open_then(config):
    assert replay_stage(config) == "qualification"
    data = history()
    deals = pl.DataFrame(
        {
            "source_system": ["s", "s"],
            "source_client_id": ["B", "C"],
            "stage": ["closed_won", "closed_lost"],
            "amount_reporting": [50000.0, 50000.0],
            "probability": [100, 0],
            "created_date": [dt.date(2025, 6, 1), dt.date(2025, 6, 1)],
            "expected_close_date": [dt.date(2026, 2, 1), dt.date(2025, 9, 1)],
            "is_open": [False, False],
        }
    )
    built = reconstruct(History(data.records, data.billing, deals=deals), [T], config)
    likelihood = dict(built.accounts.select("account_id", "likelihood_raw").iter_rows())
    # B's deal closed (won) in 2026: at T it was open, at the replay stage's 0.2 and not at its final 100%
    assert likelihood["s:B"] == pytest.approx(50000 * 0.2)
    assert likelihood["s:C"] == 0  # closed before T


def test_the_monthly_tables_asked_in_duckdb_answer_as_polars_sums_them():
    """snapshots.Monthly (the warehouse's monthly tables, asked in DuckDB) against the same sums in polars, on a
    random history with negative amounts, null quantities and records without an account."""
    rng = random.Random(11)
    billing_rows, engagement_rows = [], []
    for i in range(60):
        for month in MONTHS[rng.randrange(24) :]:
            if rng.random() < 0.7:
                amount = Decimal(rng.randrange(-5_000, 90_000)) / 100
                billing_rows.append(
                    {"source_system": "s", "source_client_id": str(i), "month": month, "billing_amount": amount}
                )
            if rng.random() < 0.5:
                engagement_rows.append(
                    {
                        "source_system": "s",
                        "source_client_id": str(i),
                        "month": month,
                        "event_type": rng.choice(["login", "ticket"]),
                        "events": rng.randrange(1, 9),
                        "quantity": rng.choice([None, rng.randrange(50)]),
                    }
                )
    billing = pl.DataFrame(billing_rows).cast({"billing_amount": pl.Decimal(38, 2)})
    engagement = pl.DataFrame(engagement_rows).cast({"quantity": pl.Int64, "events": pl.Int64})
    mapping = pl.DataFrame({"record": [f"s:{i}" for i in range(50)], "account_id": [f"a{i // 4}" for i in range(50)]})
    source = Monthly.of_frames(billing, engagement)
    by_record = billing_by_record(billing)
    m = month_index(dt.date(2025, 10, 1))

    def same(got: pl.DataFrame, expected: pl.DataFrame, keys: list[str]):
        assert_frame_equal(got.sort(keys), expected.sort(keys), check_dtypes=False, check_column_order=False)

    assert source.first_month() == month_index(MONTHS[0]) == Monthly.of_frames(by_record).first_month()
    window = by_record.filter(pl.col("month_index").is_between(m - 11, m))
    same(
        source.record_billing(m).with_columns(pl.col("billing_recent_6m").fill_null(Decimal(0))),
        window.group_by("record").agg(
            pl.col("billing").sum().alias("billing_12m"),
            pl.col("billing").filter(pl.col("month_index") >= m - 5).sum().alias("billing_recent_6m"),
        ),
        ["record"],
    )
    events = engagement.with_columns(
        (pl.col("source_system") + ":" + pl.col("source_client_id")).alias("record"),
        (m - month_index(pl.col("month"))).alias("months_ago"),
    ).filter(pl.col("months_ago").is_between(0, 11))
    same(
        source.account_engagement(m, mapping),
        events.join(mapping, on="record")
        .group_by("account_id", "event_type", "months_ago")
        .agg(pl.col("events").sum(), pl.col("quantity").sum()),
        ["account_id", "event_type", "months_ago"],
    )
    joined = by_record.join(mapping, on="record").filter(pl.col("month_index").is_between(m - 11, m + 12))
    same(
        source.account_windows(m, mapping, (3, 6, 12)),
        joined.group_by("account_id").agg(
            pl.col("billing").filter(pl.col("month_index") <= m).sum().alias("billing_before_12m"),
            *(
                pl.col("billing")
                .filter(pl.col("month_index").is_between(m + 1, m + n))
                .sum()
                .alias(f"billing_after_{n}m")
                for n in (3, 6, 12)
            ),
        ),
        ["account_id"],
    )
    # a kept answer is given again for the same mapping frame only: another mapping of the same month is asked anew
    assert source.account_windows(m, mapping, (3, 6, 12)) is source.account_windows(m, mapping, (3, 6, 12))
    merged = mapping.with_columns(pl.lit("one").alias("account_id"))
    assert source.account_windows(m, merged, (3, 6, 12))["account_id"].to_list() == ["one"]


def owners_changing() -> History:
    """history() where s:A's second record (s:F, from 2026-03) names another owner and bills more: survivorship
    proposes S2 from then, the ownership rule keeps S1 (s:A still names it)."""
    rows = [
        {**row, "billing_amount": Decimal(50000)} if row["source_client_id"] == "F" else row
        for row in history().billing.to_dicts()
    ]
    data = history(rows)
    records = data.records.with_columns(
        pl.when(pl.col("source_client_id") == "F").then(pl.lit("S2")).otherwise("owner_id").alias("owner_id")
    )
    return History(records, data.billing, prospects=data.prospects)


def with_deals(data: History) -> History:
    deals = pl.DataFrame(
        {
            "source_system": ["s", "s", "s"],
            "source_client_id": ["B", "C", "D"],
            "stage": ["closed_won", "proposal", "qualification"],
            "amount_reporting": [50000.0, 9000.0, 4000.0],
            "probability": [100, 60, 20],
            "created_date": [dt.date(2025, 6, 1), dt.date(2025, 12, 1), None],
            "expected_close_date": [dt.date(2026, 2, 1), dt.date(2026, 12, 1), None],
            "is_open": [False, True, True],
        }
    )
    return History(data.records, data.billing, deals=deals, prospects=data.prospects)


def as_kept(built: Reconstruction, dates: list[dt.date], review_months: int = 12) -> Kept:
    """What the outcomes step keeps of `built` at `dates` (kept_month_ends.kept_reconstruction): the rows of the
    first month end of each review period and of the last one, no more."""
    firsts = {}
    for day in dates:
        firsts.setdefault(review_period(day, review_months, 1).start, day)
    needed = {*firsts.values(), dates[-1]}
    accounts = built.accounts.filter(pl.col("as_of_date").is_in(needed))
    return Kept(dates=list(dates), accounts=accounts.select("as_of_date", "account_id", "owner_id", "billing_12m"))


@pytest.fixture(scope="module")
def computed_every_month_end(config):
    """review months -> every month end computed, for the cases below (one reconstruction per review period)."""
    data = with_deals(owners_changing())
    dates = reconstruction_dates(data.billing, AS_OF)
    return {months: reconstruct(data, dates, config, review_months=months) for months in (6, 12)}


@pytest.mark.parametrize("review_months", [6, 12])
@pytest.mark.parametrize("kept_count", [1, 5, 8, 12])
def test_kept_month_ends_give_what_computing_them_gives(config, computed_every_month_end, review_months, kept_count):
    """The oldest month ends kept from a previous reconstruction (only the rows that carry their key levels and
    owners), the rest computed from them: the same snapshots and lead outcomes as computing every one."""
    data = with_deals(owners_changing())
    dates = reconstruction_dates(data.billing, AS_OF)
    full = computed_every_month_end[review_months]
    assert full.accounts.filter(pl.col("account_id") == "s:A")["owner_id"].unique().to_list() == ["S1"]
    kept = as_kept(full, dates[:kept_count], review_months)
    assert kept.accounts["as_of_date"].n_unique() < kept_count or kept_count == 1  # not every kept month end's rows
    resumed = reconstruct(data, dates, config, review_months=review_months, kept=kept)
    rest = pl.col("as_of_date").is_in(dates[kept_count:])
    assert resumed.accounts["as_of_date"].unique().sort().to_list() == dates[kept_count:]
    assert_frame_equal(resumed.accounts, full.accounts.filter(rest))
    matched, billing, now = (
        pl.DataFrame({"prospect_id": ["P1"], "account_id": ["s:E"]}),
        billing_by_record(data.billing),
        records_now(data.records),
    )
    assert_frame_equal(
        lead_outcomes(resumed.leads, matched, billing, now, AS_OF),
        lead_outcomes(full.leads.filter(rest), matched, billing, now, AS_OF),
    )


def test_a_kept_month_end_after_a_gap_is_computed_again(config):
    data = history()
    dates = reconstruction_dates(data.billing, AS_OF)
    full = reconstruct(data, dates, config)
    gap = Kept(dates=dates[:2] + dates[3:5], accounts=as_kept(full, dates[:2]).accounts)
    resumed = reconstruct(data, dates, config, kept=gap)
    assert resumed.accounts["as_of_date"].unique().sort().to_list() == dates[2:]  # the two after the gap too
    assert_frame_equal(resumed.accounts, full.accounts.filter(pl.col("as_of_date").is_in(dates[2:])))


def fingerprints(data: History) -> dict[dt.date, str]:
    dates = reconstruction_dates(data.billing, AS_OF)
    return {
        day: reuse.fingerprint(known["frames"], {"monthly": known["monthly"]}, "code", [])
        for day, known in iter_known_digests(data, dates)  # what the outcomes step's fingerprints read
    }


def test_a_month_ends_digests_are_those_of_the_frames_it_knows():
    """The fingerprints digest each month end's records, deals and prospects from row hashes taken once: the same
    digests as the frames known then (`known_inputs`), hashed one by one, and so the same fingerprints."""
    data = with_deals(history())
    late = data.prospects.with_columns(
        pl.lit("P3").alias("prospect_id"), pl.lit(dt.date(2026, 2, 1)).alias("created_date")
    )
    undated = data.prospects.with_columns(
        pl.lit("P4").alias("prospect_id"), pl.lit(None, pl.Date).alias("created_date")
    )
    data = History(data.records, data.billing, deals=data.deals, prospects=pl.concat([data.prospects, late, undated]))
    dates = reconstruction_dates(data.billing, AS_OF)
    frames = known_inputs(data, dates)
    digests = dict(iter_known_digests(data, dates))
    assert list(digests) == dates
    for day in dates:
        assert digests[day]["monthly"] == frames[day]["monthly"], day
        assert digests[day]["frames"] == {name: reuse.frame_digest(f) for name, f in frames[day]["frames"].items()}, day
    seen = {name: {str(digests[day]["frames"][name]) for day in dates} for name in ("records", "deals", "prospects")}
    assert all(len(values) > 1 for values in seen.values()), seen  # what a month end knows changes over the dates


def test_the_inputs_of_a_month_end_change_with_its_past_not_with_later_data(config):
    base = fingerprints(with_deals(history()))
    later = history(
        [
            {**row, "billing_amount": row["billing_amount"] + 1} if row["month"] > T else row
            for row in history().billing.to_dicts()
        ]
    )
    changed = fingerprints(with_deals(later))
    assert {day for day in base if base[day] == changed[day]} == {day for day in base if day <= T}
    # a backfill of the oldest month (a late invoice) changes every month end, and a reconstruction from it differs
    rows = history().billing.to_dicts() + [
        {"source_system": "s", "source_client_id": "D", "month": MONTHS[0], "billing_amount": Decimal("50000.00")}
    ]
    backfilled = fingerprints(with_deals(history(rows)))
    assert all(backfilled[day] != base[day] for day in base)
    # a deal created after T, a prospect created after T or a record that joined after T leave T's inputs alone
    data = with_deals(history())
    new_deal = (
        data.deals.filter(pl.col("is_open")).head(1).with_columns(pl.lit(dt.date(2026, 5, 1)).alias("created_date"))
    )
    more = History(data.records, data.billing, deals=pl.concat([data.deals, new_deal]), prospects=data.prospects)
    after_deal = fingerprints(more)
    assert after_deal[T] == base[T] and after_deal[dt.date(2026, 5, 31)] != base[dt.date(2026, 5, 31)]
    stage = data.deals.with_columns(pl.lit("negotiation").alias("stage"))  # an open deal moved on: it counts at T
    assert fingerprints(History(data.records, data.billing, deals=stage, prospects=data.prospects))[T] != base[T]
    # a deal closed before the first month end: its amount (converted at today's FX rate) is read by none
    closed = data.deals.head(1).with_columns(
        pl.lit(dt.date(2025, 1, 1)).alias("created_date"), pl.lit(dt.date(2025, 6, 1)).alias("expected_close_date")
    )
    with_closed = History(data.records, data.billing, deals=pl.concat([data.deals, closed]), prospects=data.prospects)
    doubled = History(
        data.records,
        data.billing,
        prospects=data.prospects,
        deals=pl.concat([data.deals, closed.with_columns(pl.col("amount_reporting") * 2)]),
    )
    assert fingerprints(with_closed) == fingerprints(doubled) == base


def in_euros(data: History, rates: dict[dt.date, str]) -> History:
    """`data` with its deals in EUR (amount_reporting as int_deals_checked converts them at the run's as-of date: 1.50)
    and the monthly rates `rates` (first day of the month -> rate)."""
    deals = data.deals.with_columns(
        (pl.col("amount_reporting") / 1.5).cast(pl.Decimal(38, 6)).alias("amount"), pl.lit("EUR").alias("currency")
    )
    fx_rates = pl.DataFrame(
        {"currency": ["EUR"] * len(rates), "month": list(rates), "rate_to_reporting": list(rates.values())},
        schema={"currency": pl.String, "month": pl.Date, "rate_to_reporting": pl.Decimal(38, 10)},
    )
    return History(data.records, data.billing, deals=deals, prospects=data.prospects, fx_rates=fx_rates)


def test_a_month_end_converts_its_deals_at_the_rates_known_then(config):
    """A month end reads each deal's amount at the latest rate of a month up to it: a rate published later changes
    neither its snapshot nor its fingerprint (so a monthly run can keep it), the rate of its own month does."""
    rates = {dt.date(2025, 1, 1): "1.1000000000", dt.date(2025, 10, 1): "1.2000000000", dt.date(2026, 6, 1): "1.5"}
    data = in_euros(with_deals(history()), rates)
    open_then = deals_then(data.deals, data.fx_rates, T).sort("source_client_id")
    # the deals open at T (B closes later, D has no dates): 50000 and 4000 reporting units at today's 1.50 are
    # 33333.33 and 2666.67 euros; at T, October 2025's 1.20
    assert open_then["amount_reporting"].to_list() == [40000.0, 3200.0]
    assert "amount" not in open_then.columns and "currency" not in open_then.columns
    assert deals_then(data.deals, data.fx_rates, dt.date(2026, 6, 30))["amount_reporting"].to_list() == [9000.0, 4000.0]
    # without a rate up to the month end, the amount as the run converted it
    early = in_euros(with_deals(history()), {dt.date(2026, 1, 1): "1.3"})
    assert deals_then(early.deals, early.fx_rates, T).sort("source_client_id")["amount_reporting"].to_list() == [
        50000.0,
        4000.0,
    ]

    base = fingerprints(data)
    published_later = fingerprints(in_euros(with_deals(history()), {**rates, dt.date(2026, 7, 1): "1.6"}))
    assert {day for day in base if base[day] == published_later[day]} == {
        day for day in base if day < dt.date(2026, 7, 1)
    }
    assert fingerprints(in_euros(with_deals(history()), {**rates, dt.date(2025, 10, 1): "1.25"}))[T] != base[T]
    # a January rate: the month ends from January to May read it (June brings its own rate), the others do not
    january = fingerprints(in_euros(with_deals(history()), {**rates, dt.date(2026, 1, 1): "1.3"}))
    assert sorted(day for day in base if base[day] != january[day]) == [
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 31),
        dt.date(2026, 4, 30),
        dt.date(2026, 5, 31),
    ]
    # and the snapshot: the pipeline criterion of the account with the open deals follows the rate of its month end
    at_t = rebuild(data, config)[0].accounts.filter(pl.col("as_of_date") == T)
    at_t_revised = rebuild(in_euros(with_deals(history()), {**rates, dt.date(2025, 10, 1): "1.25"}), config)[0]
    assert not at_t.equals(at_t_revised.accounts.filter(pl.col("as_of_date") == T))
    later_rate = rebuild(in_euros(with_deals(history()), {**rates, dt.date(2026, 7, 1): "1.6"}), config)[0]
    assert at_t.equals(later_rate.accounts.filter(pl.col("as_of_date") == T))


def test_a_date_s_outcomes_are_computed_again_when_the_billing_they_read_changes():
    """kept_month_ends.part_fingerprints: a date's outcome rows read the billing of its 12 months and of its complete
    windows, nothing else (an incomplete window is null). A new month therefore changes the dates whose 3-, 6- or
    12-month window it completes, not every date of the year before it; a late invoice changes the dates that read
    its month, a recorded snapshot's too."""
    data = history()
    dates = reconstruction_dates(data.billing, AS_OF)
    end = month_index(AS_OF)
    late = month_end(end - 8)
    recorded = {month_end(end - 6): [1, 2, 3], month_end(end - 22): [4, 5, 6]}

    def parts(billing: pl.DataFrame) -> dict[dt.date, str]:
        return part_fingerprints(
            "code",
            {day: "reconstructed" for day in dates},
            recorded,
            Monthly.of_frames(billing),
            records_now(data.records),
            pl.DataFrame({"prospect_id": ["P1"], "account_id": ["s:E"]}),
            AS_OF,
        )

    def changed(month: dt.date) -> set[dt.date]:
        more = data.billing.with_columns(
            pl.when(pl.col("month") == month.replace(day=1))
            .then(pl.col("billing_amount") + 1)
            .otherwise(pl.col("billing_amount"))
            .alias("billing_amount")
        )
        after = parts(more)
        return {day for day in base if base[day] != after[day]}

    base = parts(data.billing)
    assert changed(AS_OF) == {month_end(end - k) for k in (0, 3, 6, 12)} & set(dates)
    # the 12 months up to each date, and the complete windows after the dates before it
    reading_late = {day for day in base if month_index(day) - 11 <= end - 8 <= month_index(day)} | {
        day
        for day in base
        if month_index(day) < end - 8
        and any(month_index(day) + n <= end and end - 8 <= month_index(day) + n for n in (3, 6, 12))
    }
    assert changed(late) == reading_late
    assert month_end(end - 6) in reading_late and month_end(end - 22) not in reading_late


def test_the_monthly_tables_call_after_answer_once_per_answer_fetched():
    """The outcomes step hands DuckDB's freed memory back after each answer (`after_answer`); the answers are the
    same with it, and a mapping registered for an answer is gone after it."""
    conn = duckdb.connect()
    conn.execute(
        "create table billing as select 's' as source_system, (i % 7)::varchar as source_client_id, "
        "date '2025-01-01' + to_months(i % 12) as month, (i * 3.5)::decimal(38, 2) as billing_amount from range(84) t(i)"
    )
    conn.execute(
        "create table engagement as select 's' as source_system, (i % 7)::varchar as source_client_id, "
        "date '2025-01-01' + to_months(i % 12) as month, 'login' as event_type, 1 as events, null::bigint as quantity "
        "from range(30) t(i)"
    )
    answers = []
    source = Monthly.of_tables(conn, "billing", "engagement", after_answer=lambda: answers.append(1))
    plain = Monthly.of_tables(conn, "billing", "engagement")
    mapping = pl.DataFrame({"record": [f"s:{i}" for i in range(7)], "account_id": ["a"] * 7})
    m = month_index(dt.date(2025, 12, 31))

    assert_frame_equal(source.record_billing(m).sort("record"), plain.record_billing(m).sort("record"))
    assert len(answers) == 1
    engagement = source.account_engagement(m, mapping)
    assert len(answers) == 2 and engagement["events"].sum() == 30
    names = conn.sql("select table_name from duckdb_tables() union all select view_name from duckdb_views()")
    assert "record_accounts" not in set(names.pl().to_series())


def test_a_new_month_computes_again_only_the_windows_it_completes(config):
    """kept_month_ends.changed_windows names, of the dates a run before the last month held, those whose windows
    alone changed and which windows (the ones the new month completes); outcomes.window_sums and
    OutcomeTables.update_windows compute those windows again in the rows held: the same rows as computing every
    column, the recorded snapshot's and the leads' too."""
    data = history()
    last = month_index(AS_OF)
    before_it = History(data.records, data.billing.filter(pl.col("month") < MONTHS[-1]), prospects=data.prospects)
    # s:D was in s:A's account then: its billing counts for the recorded s:A (recorded_mapping), not today's
    recorded, now = recorded_snapshots(recorded_at_t(members_of_a="s:A;s:D")), records_now(data.records)
    matched = pl.DataFrame({"prospect_id": ["P1"], "account_id": ["s:E"]})

    def run(known: History, as_of: dt.date):
        dates = reconstruction_dates(known.billing, as_of)
        built = reconstruct(known, dates, config)
        billing = billing_by_record(known.billing)
        accounts = account_outcomes(recorded, built.accounts, billing, now, as_of)
        leads = lead_outcomes(built.leads, matched, billing, now, as_of)
        parts = part_fingerprints(
            "code",
            {day: f"reconstructed {day}" for day in dates},
            {T: [1, 2, 3]},
            Monthly.of_frames(known.billing),
            now,
            matched,
            as_of,
        )
        return accounts, leads, parts

    old_accounts, old_leads, old_parts = run(before_it, month_end(last - 1))
    new_accounts, new_leads, new_parts = run(data, AS_OF)
    found = (part_names(old_parts), "run")
    windows = changed_windows(found, new_parts)
    completed = {month_end(last - n): [n] for n in (3, 6, 12)}  # T (recorded and reconstructed) is last - 12
    assert windows == completed
    assert set(unchanged_parts(found, new_parts)) == set(old_parts) - set(completed)
    conn = duckdb.connect()
    conn.execute("create schema marts")
    for table, frame in ((ACCOUNTS, old_accounts), (LEADS, old_leads)):
        write_frame(conn, table, frame)
    held_then = recorded.filter(pl.col("as_of_date").is_in(list(windows)))
    OutcomeTables(conn, {}).update_windows(
        windows, window_sums(windows, held_then, billing_by_record(data.billing), now), AS_OF
    )
    accounts = conn.sql(f"select * from {ACCOUNTS} order by as_of_date, snapshot_source, account_id").pl()
    leads = conn.sql(f"select * from {LEADS} order by as_of_date, prospect_id").pl()
    held = pl.col("as_of_date").is_in(list(old_parts))
    assert_frame_equal(accounts, new_accounts.filter(held))  # the three dates updated, the others as they were
    assert_frame_equal(leads, new_leads.filter(held))
    days = pl.col("as_of_date").is_in(list(completed))
    assert not new_accounts.filter(days).equals(old_accounts.filter(days))  # not vacuous: the windows were null
    assert not new_leads.filter(days).equals(old_leads.filter(days))
    assert accounts.filter(days & (pl.col("snapshot_source") == "recorded")).height == 2
    # and back: a run as of the month before on these tables (a backfill) finds those windows incomplete again
    back_accounts, back_leads, back_parts = run(data, month_end(last - 1))
    assert changed_windows((part_names(new_parts), "run"), back_parts) == completed
    OutcomeTables(conn, {}).update_windows(
        completed, window_sums(completed, held_then, billing_by_record(data.billing), now), month_end(last - 1)
    )
    again = conn.sql(f"select * from {ACCOUNTS} order by as_of_date, snapshot_source, account_id").pl()
    assert_frame_equal(again, back_accounts)
    assert_frame_equal(conn.sql(f"select * from {LEADS} order by as_of_date, prospect_id").pl(), back_leads)


def test_the_published_month_ends_are_known_by_their_fingerprints_not_hashed_again():
    """kept_month_ends.reconstructed_rows_digests: what tells the publication whether a reconstructed month end's rows
    changed (`alms backtest`'s input files) is the fingerprint of the date's part the outcome tables carry; a date
    without one has its rows hashed; dates with a recorded snapshot alone have no reconstructed rows to publish."""
    conn = duckdb.connect()
    conn.execute("create schema marts")
    for table in OUTCOME_TABLES:
        conn.execute(f"create table {table} (as_of_date date, snapshot_source varchar, account_id varchar, x int)")
    jan, feb, mar = dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31)
    conn.execute(
        "insert into marts.account_outcomes values ('2026-01-31', 'reconstructed', 'A', 1), "
        "('2026-02-28', 'reconstructed', 'A', 2), ('2026-02-28', 'recorded', 'A', 3), ('2026-03-31', 'recorded', 'A', 4)"
    )
    select = "select * from marts.account_outcomes where snapshot_source = 'reconstructed'"
    hashed = {str(day): digest for day, digest in reuse.rows_digest(conn, select, by="as_of_date").items()}
    assert reconstructed_rows_digests(conn) == hashed and set(hashed) == {str(jan), str(feb)}
    reuse.record_by_part(conn, OUTCOME_TABLES, {f"rows {jan}": "f-jan", f"rows {mar}": "f-mar"}, "run-1")
    assert reconstructed_rows_digests(conn) == {str(jan): ["rows ", "f-jan"], str(feb): hashed[str(feb)]}
    conn.execute("update marts.account_outcomes set x = 5 where as_of_date = '2026-02-28'")
    assert reconstructed_rows_digests(conn)[str(feb)] != hashed[str(feb)]
    conn.execute("comment on table marts.lead_outcomes is null")  # a step that stopped half-way: trusted nowhere
    assert reconstructed_rows_digests(conn)[str(jan)] == hashed[str(jan)]
