"""The core job alone, as a yardstick for `make benchmark`: what a minimal program needs to produce the key list.

    python -m pipelines.commands.reference_core DATA_DIR OUT_DIR [--as-of 2026-10-31]

Not part of the product and not its rules: no fuzzy matching, no quarantine reasons, no checks, no scores, no
history, one table. It reads clients, billing and engagement (CSV or Parquet folders), groups client records on an
exact normalised name key, keeps the billing lines of the 12-month window (duplicate lines dropped, amounts converted
by month with `fx_rates`, summed in cents), computes each account's 12-month billing, k = ceil(0.25 n) over the
accounts with positive billing and the key level, counts engagement events, and writes one new DuckDB file and one
Parquet file. The benchmark runs it on the same input in the same invocation and prints alms's time as a multiple of
this one's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

import duckdb

LEGAL_FORMS = "inc|incorporated|llc|llp|lp|ltd|limited|corp|corporation|co|company|gmbh|ag|sa|plc|bv|nv|pty"


def _source(folder: Path) -> str:
    """A DuckDB table function over every file of an input folder (all values as text, as alms reads them). CSV files
    are matched by column name only when their headers differ (DuckDB then reads every file twice)."""
    if any(folder.rglob("*.parquet")):
        return f"read_parquet('{folder}/**/*.parquet', union_by_name = true)"
    headers = set()
    for path in folder.rglob("*.csv"):
        with path.open(encoding="utf-8", errors="replace") as handle:
            headers.add(handle.readline().strip())
    by_name = "true" if len(headers) > 1 else "false"
    return f"read_csv('{folder}/**/*.csv', all_varchar = true, header = true, union_by_name = {by_name})"


def _file(path: Path) -> str:
    """A DuckDB table function over one file (CSV as text)."""
    if path.suffix == ".parquet":
        return f"read_parquet('{path}')"
    return f"read_csv('{path}', all_varchar = true, header = true)"


def run(data_dir: Path, out_dir: Path, as_of: dt.date | None = None) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "reference.duckdb"
    temporary = out_dir / "reference.duckdb.tmp"
    temporary.unlink(missing_ok=True)
    conn = duckdb.connect(str(temporary))
    conn.execute("set preserve_insertion_order = false")
    conn.execute(f"""
        create temp table clients as
        select
            source_system,
            source_client_id,
            nullif(trim(regexp_replace(regexp_replace(lower(strip_accents(name)), '[^a-z0-9]+', ' ', 'g'),
                '\\b({LEGAL_FORMS})\\b', '', 'g')), '') as name_key
        from {_source(data_dir / "clients")}
    """)
    conn.execute("""
        create temp table client_accounts as
        select
            source_system,
            source_client_id,
            case
                when name_key is null then source_system || ':' || source_client_id
                else min(source_system || ':' || source_client_id) over (partition by name_key)
            end as account_id
        from clients
    """)
    conn.execute(f"""
        create temp table lines as
        select source_system, invoice_id, line_number, source_client_id,
               try_cast(left(invoice_date, 10) as date) as invoice_date,
               try_cast(amount as decimal(18, 6)) as amount, upper(trim(currency)) as currency
        from {_source(data_dir / "billing")}
    """)
    if as_of is None:
        latest = conn.sql("select max(invoice_date) from lines where invoice_date <= current_date").fetchall()[0][0]
        month_end = (latest.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        as_of = latest if latest == month_end else latest.replace(day=1) - dt.timedelta(days=1)
    window_start = (as_of.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    for _ in range(10):
        window_start = (window_start - dt.timedelta(days=1)).replace(day=1)
    fx_files = sorted(data_dir.glob("fx_rates.*"))
    if fx_files:
        conn.execute(f"""
            create temp table fx as
            select upper(trim(currency)) as currency, left(cast(month as varchar), 7) as month,
                   cast(rate_to_reporting as decimal(18, 10)) as rate
            from {_file(fx_files[0])}
        """)
    else:
        conn.execute("create temp table fx (currency varchar, month varchar, rate decimal(18, 10))")
    conn.execute(
        """
        create temp table account_billing as
        with windowed as (
            select distinct on (source_system, invoice_id, line_number) *
            from lines
            where invoice_date between $start and $as_of and amount is not null
        ),
        converted as (
            select
                windowed.source_system,
                windowed.source_client_id,
                cast(round(windowed.amount * coalesce(fx.rate, 1), 2) * 100 as bigint) as cents
            from windowed
            left join fx
                on fx.currency = windowed.currency and fx.month = strftime(windowed.invoice_date, '%Y-%m')
            where windowed.currency = 'USD' or fx.rate is not null
        )
        select client_accounts.account_id, sum(converted.cents) as billing_cents
        from converted
        join client_accounts using (source_system, source_client_id)
        group by client_accounts.account_id
        """,
        {"start": window_start, "as_of": as_of},
    )
    if (data_dir / "engagement").is_dir():
        conn.execute(f"""
            create temp table engagement as
            select client_accounts.account_id, count(*) as events
            from {_source(data_dir / "engagement")} as events
            join client_accounts using (source_system, source_client_id)
            group by client_accounts.account_id
        """)
    else:
        conn.execute("create temp table engagement (account_id varchar, events bigint)")
    conn.execute("""
        create table accounts as
        with accounts as (
            select distinct account_id from client_accounts
        ),
        ranked as (
            select accounts.account_id, coalesce(billing.billing_cents, 0) as billing_cents,
                   coalesce(engagement.events, 0) as events,
                   row_number() over (order by coalesce(billing.billing_cents, 0) desc, accounts.account_id)
                       as billing_rank
            from accounts
            left join account_billing as billing using (account_id)
            left join engagement using (account_id)
        ),
        cut as (
            select ceil(0.25 * count(*) filter (where billing_cents > 0)) as k from ranked
        ),
        level as (
            select min(billing_cents) as key_level_cents from ranked, cut where billing_rank <= cut.k
        )
        select ranked.*, ranked.billing_cents >= level.key_level_cents and ranked.billing_cents > 0 as is_key_account,
               level.key_level_cents
        from ranked, level
    """)
    conn.execute(f"copy accounts to '{out_dir / 'accounts.parquet'}' (format parquet)")
    summary = conn.sql(
        "select count(*), count(*) filter (where is_key_account), max(key_level_cents) from accounts"
    ).fetchall()[0]
    conn.close()
    temporary.rename(target)
    key_level = summary[2] / 100 if summary[2] is not None else None
    return {"as_of": str(as_of), "accounts": summary[0], "key_accounts": summary[1], "key_level": key_level}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--as-of", type=dt.date.fromisoformat)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(args.data_dir, args.out_dir, args.as_of)
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
