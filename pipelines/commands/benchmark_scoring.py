"""Benchmark of the scoring layer: 1,000,000 accounts with their engagement and opportunities.

    python -m pipelines.commands.benchmark_scoring           # 1M accounts, 5M events, 400k deals, 150k prospects
    python -m pipelines.commands.benchmark_scoring --accounts 100000

Synthetic, seeded inputs in the shapes the pipeline hands over (client records with their account, engagement events,
checked deals, prospects, sellers, picks, overrides), then the real code, timed: the two SQL models that aggregate
events and deals per account (`sql/intermediate/int_account_engagement_monthly.sql`, `int_account_pipeline.sql`, on
an in-memory DuckDB) and the polars scoring (`assets.rules.scoring_run.run_scoring`: criteria, normalisation,
contributions, tiers, health, targets, leads, picks, overrides, seller lists). Prints seconds per part, rows per second and peak
memory. Target on this 2-core machine: scoring 1M accounts in under 10 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time

import duckdb
import numpy as np
import polars as pl

from assets.rules.scoring_config import load_scoring_config
from assets.rules.scoring_run import ScoringInputs, run_scoring
from pipelines.sql_models import load_sql_models, run_sql_model

AS_OF = dt.date(2026, 10, 31)
INDUSTRIES = ["Healthcare", "Manufacturing", "Technology", "Retail", "Financial Services", "Construction", "Education"]
EVENT_TYPES = ["email", "web_visit", "product_usage", "meeting", "support_ticket", "survey"]
STAGES = ["prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"]


def synthetic(accounts: int, seed: int = 3) -> dict[str, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    n, sellers = accounts, max(10, accounts // 2000)
    ids = pl.Series([f"A{i:07d}" for i in range(n)])
    billing = np.round(np.exp(rng.normal(8, 1.6, n)) * (rng.random(n) > 0.1), 2)
    recent = np.round(billing * rng.uniform(0.2, 0.8, n), 2)
    order = np.argsort(-billing, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    frame = pl.DataFrame(
        {
            "account_id": ids,
            "account_name": pl.Series([f"Org {i}" for i in range(n)]),
            "owner_id": pl.Series([f"S{i:04d}" for i in rng.integers(0, sellers, n)]),
            "industry": pl.Series(INDUSTRIES).gather(rng.integers(0, len(INDUSTRIES), n)),
            "employee_count": np.exp(rng.normal(4, 1.5, n)).astype(np.int64),
            "customer_since": pl.Series(AS_OF - dt.timedelta(days=int(d)) for d in rng.integers(30, 7000, n)),
            "segments": pl.Series([["national"] if x else ["local"] for x in rng.random(n) < 0.3]),
            "billing_12m": billing,
            "billing_recent_6m": recent,
            "billing_earlier_6m": np.round(billing - recent, 2),
            "billing_rank": rank,
            "as_of_date": pl.Series([AS_OF] * n),
        }
    ).with_columns(
        pl.col("billing_12m", "billing_recent_6m", "billing_earlier_6m").cast(pl.Decimal(38, 2)),
        (pl.col("billing_rank") <= n // 4).alias("is_key_account"),
    )
    records = frame.select(
        pl.lit("sys").alias("source_system"),
        pl.col("account_id").alias("source_client_id"),
        "account_id",
        pl.col("account_name").alias("name"),
        (pl.col("account_id").str.to_lowercase() + ".com").alias("domain"),
        pl.lit(None, pl.String).alias("phone"),
        pl.lit(None, pl.String).alias("postal_code"),
    )
    n_events = 5 * n
    days = rng.integers(0, 365, n_events)
    events = pl.DataFrame(
        {
            "source_system": pl.Series(["sys"] * n_events),
            "source_client_id": ids.gather(rng.integers(0, n, n_events)),
            "event_date": (np.datetime64(AS_OF) - days.astype("timedelta64[D]")).astype("datetime64[D]"),
            "event_type": pl.Series(EVENT_TYPES).gather(rng.choice(6, n_events, p=[0.3, 0.25, 0.25, 0.08, 0.08, 0.04])),
            "quantity": rng.integers(1, 10, n_events),
        }
    )
    events = events.with_columns(
        pl.when(pl.col("event_type") == "survey").then(pl.col("quantity") + 1).otherwise(pl.col("quantity")),
        pl.lit("").alias("quarantine_reason"),
        pl.lit(True).alias("is_in_window"),
    )
    n_deals = int(0.4 * n)
    probability = np.where(rng.random(n_deals) < 0.7, rng.integers(5, 95, n_deals).astype(float), np.nan)
    stage = pl.Series(STAGES).gather(rng.integers(0, len(STAGES), n_deals))
    deals = pl.DataFrame(
        {
            "source_system": pl.Series(["sys"] * n_deals),
            "source_client_id": ids.gather(rng.integers(0, n, n_deals)),
            "stage": stage,
            "amount_reporting": np.round(np.exp(rng.normal(9, 1, n_deals)), 2),
            "probability": probability,
        }
    ).with_columns(
        pl.col("amount_reporting").cast(pl.Decimal(18, 2)),
        pl.col("probability").fill_nan(None),
        (~pl.col("stage").str.starts_with("closed")).alias("is_open"),
        pl.lit("").alias("quarantine_reason"),
    )
    n_prospects = int(0.15 * n)
    prospects = pl.DataFrame(
        {
            "prospect_id": pl.Series([f"P{i:07d}" for i in range(n_prospects)]),
            "name": pl.Series([f"Prospect {i}" for i in range(n_prospects)]),
            "domain": pl.Series([f"prospect{i}.com" for i in range(n_prospects)]),
            "phone": pl.Series([None] * n_prospects, dtype=pl.String),
            "postal_code": pl.Series([None] * n_prospects, dtype=pl.String),
            "industry": pl.Series(INDUSTRIES).gather(rng.integers(0, len(INDUSTRIES), n_prospects)),
            "employee_count": np.exp(rng.normal(4, 1.5, n_prospects)).astype(np.int64),
            "owner_id": pl.Series([f"S{i:04d}" for i in rng.integers(0, sellers, n_prospects)]),
        }
    )
    seller_frame = pl.DataFrame(
        {
            "owner_id": [f"S{i:04d}" for i in range(sellers)],
            "seller_name": [f"Seller {i}" for i in range(sellers)],
            "team": ["East"] * sellers,
        }
    )
    text = {"source_file": pl.String, "source_row": pl.Int64}
    picks = pl.DataFrame(
        schema={**text, "owner_id": pl.String, "pick_type": pl.String, "reference": pl.String, "note": pl.String}
    )
    overrides = pl.DataFrame(
        schema={
            **text,
            **{
                c: pl.String
                for c in ("source_system", "source_client_id", "field", "value", "set_by", "reason", "valid_until")
            },
        }
    )
    return {
        "accounts": frame,
        "records": records,
        "events": events,
        "deals": deals,
        "prospects": prospects,
        "sellers": seller_frame,
        "picks": picks,
        "overrides": overrides,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = synthetic(args.accounts)
    print(
        f"synthetic inputs: {args.accounts:,} accounts, {data['events'].height:,} events, "
        f"{data['deals'].height:,} deals, {data['prospects'].height:,} prospects ({time.perf_counter() - started:.1f} s)"
    )
    models = {m.name: m for m in load_sql_models()}
    conn = duckdb.connect(config={"preserve_insertion_order": False})
    conn.execute("create schema intermediate")
    tables = {
        "intermediate.int_engagement_events_windowed": data["events"],
        "intermediate.int_clients_matched": data["records"],
        "intermediate.int_deals_checked": data["deals"],
        "intermediate.int_reporting_windows_resolved": pl.DataFrame({"as_of_date": [AS_OF]}),
    }
    for name, frame in tables.items():
        conn.register("frame", frame)
        conn.execute(f"create table {name} as select * from frame")
        conn.unregister("frame")
    started = time.perf_counter()
    for name in ("int_account_engagement_monthly", "int_account_pipeline"):
        run_sql_model(conn, models[name], {})
    engagement = conn.sql("select * from intermediate.int_account_engagement_monthly").pl()
    pipeline = conn.sql("select * from intermediate.int_account_pipeline").pl()
    sql_seconds = time.perf_counter() - started
    conn.close()
    config = load_scoring_config()
    inputs = ScoringInputs(
        accounts=data["accounts"],
        engagement=engagement,
        pipeline=pipeline,
        records=data["records"],
        prospects=data["prospects"],
        sellers=data["sellers"],
        picks=data["picks"],
        overrides=data["overrides"],
        as_of=AS_OF,
    )
    started = time.perf_counter()
    result = run_scoring(inputs, config)
    polars_seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"SQL aggregation (events + deals per account): {sql_seconds:6.2f} s  "
        f"({(data['events'].height + data['deals'].height) / sql_seconds:,.0f} rows/s; "
        f"{engagement.height:,} account-month rows, {pipeline.height:,} account-stage rows)"
    )
    print(
        f"polars scoring, tiers, targets, leads:        {polars_seconds:6.2f} s  "
        f"({args.accounts / polars_seconds:,.0f} accounts/s)"
    )
    print(f"scoring total:                                {sql_seconds + polars_seconds:6.2f} s  (target < 10 s at 1M)")
    print(f"peak memory:                                  {peak:,.0f} MB")
    print(f"tiers: {result.report['tiers']}; targets {result.report['targets']:,}; leads {result.report['leads']:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
