"""The checked billing lines built again only where they can have changed (assets/rules/incremental.py): after any
change of the raw lines, the table equals the model built from scratch on them."""

import datetime as dt
import random

import duckdb
import polars as pl
import pytest

from assets.rules.incremental import build_checked_lines
from assets.rules.inputs import BILLING, FX_RATES
from assets.rules.parsing import parse_billing_lines, parse_fx_rates
from pipelines.sql_models import load_sql_models

MODEL = next(m for m in load_sql_models() if m.name == "stg_billing__checked_lines")
TABLE = "staging.stg_billing__checked_lines"
TODAY = dt.date(2026, 11, 22)
PARAMETERS = {"today": TODAY, "reporting_currency": "USD", "max_line_amount": 1e9, "min_date": dt.date(2000, 1, 1)}
FILES = [f"billing/nat_2026-{m:02d}.csv" for m in range(1, 7)]


def lines(rng: random.Random, file: str, count: int) -> list[dict]:
    """Random lines of one file: invoice ids and line numbers that often repeat in another spelling (07, 7, 7.0),
    unknown clients, CAD and unknown currencies, unparseable and future dates."""
    month = int(file[-6:-4])
    out = []
    for _ in range(count):

        def pick(*values):  # the first value half of the time
            return rng.choice([values[0]] * len(values) + list(values))

        out.append(
            {
                "source_file": file,
                "source_system": rng.choice(["nat", "nat", "loc"]),
                "invoice_id": rng.choice(["7", "07", "8", "A-1", "0", "00", str(rng.randrange(30))]),
                "line_number": rng.choice(["1", "1.0", "01", "2", "x", None]),
                "source_client_id": pick("N1", "N2", "N9"),
                "invoice_date": pick(f"2026-{month:02d}-{rng.randrange(1, 28):02d}", "2026-12-01", "garbage"),
                "amount": pick("100.00", "-5", "12.345", "oops"),
                "currency": pick("USD", "CAD", "XXX"),
            }
        )
    return out


def set_raw(conn: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    columns = list(BILLING.columns)
    text = pl.DataFrame(rows, schema={"source_file": pl.String, **{c: pl.String for c in columns}}).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("source_file").alias("source_row")
    )
    conn.register("frame", parse_billing_lines(text))
    conn.execute("create or replace table raw.billing_lines as select * from frame")
    conn.unregister("frame")


def set_fx(conn: duckdb.DuckDBPyConnection, rate: str = "0.75") -> None:
    text = pl.DataFrame(
        [{"currency": "CAD", "month": f"2026-{m:02d}", "rate_to_reporting": rate} for m in (1, 2, 3)]
    ).select(list(FX_RATES.columns))
    frame = parse_fx_rates(text.with_columns(pl.lit("fx.csv").alias("source_file"), pl.lit(1).alias("source_row")))
    conn.register("frame", frame)
    conn.execute("create or replace table raw.fx_rates as select * from frame")
    conn.unregister("frame")


@pytest.fixture
def conn():
    conn = duckdb.connect()
    for layer in ("raw", "staging"):
        conn.execute(f"create schema {layer}")
    conn.execute(
        "create table staging.stg_clients__records as "
        "select * from (values ('nat', 'N1'), ('nat', 'N2'), ('loc', 'N1')) as t(source_system, source_client_id)"
    )
    set_fx(conn)
    return conn


def build(conn, reuse_ok=True, today=TODAY) -> dict:
    return build_checked_lines(conn, TABLE, MODEL.sql, {**PARAMETERS, "today": today}, "run", reuse_ok)


def from_scratch(conn, today=TODAY) -> pl.DataFrame:
    bound = {name: {**PARAMETERS, "today": today}[name] for name in MODEL.parameters}
    return conn.sql(f"select * from ({MODEL.sql}) order by all", params=bound).pl()


def table(conn) -> pl.DataFrame:
    return conn.sql(f"select * from {TABLE} order by all").pl()


@pytest.mark.parametrize("seed", range(8))
def test_changed_added_and_removed_files_give_what_building_from_scratch_gives(conn, seed):
    rng = random.Random(seed)
    by_file = {file: lines(rng, file, 40) for file in FILES[:5]}
    set_raw(conn, [row for rows in by_file.values() for row in rows])
    assert build(conn)["how"] == "built"
    assert table(conn).equals(from_scratch(conn))
    assert table(conn).filter(pl.col("quarantine_reason") == "duplicate_line").height > 5  # not vacuous
    assert build(conn) == {"how": "kept", "lines_checked": 0, "rows": 200}
    changed = rng.choice(FILES[:5])
    by_file[changed] = lines(rng, changed, 30)  # its lines now, another month's first lines may be gone
    del by_file[rng.choice([f for f in FILES[:5] if f != changed])]
    by_file[FILES[5]] = lines(rng, FILES[5], 20)  # a new month
    set_raw(conn, [row for rows in by_file.values() for row in rows])
    report = build(conn)
    assert report["how"] == "rechecked" and (report["files_changed"], report["files_gone"]) == (2, 1)
    assert report["lines_checked"] < report["rows"]
    assert table(conn).equals(from_scratch(conn))


def test_fx_rates_clients_or_the_sql_build_everything_again(conn):
    set_raw(conn, lines(random.Random(1), FILES[0], 30) + lines(random.Random(2), FILES[1], 30))
    build(conn)
    set_fx(conn, "0.80")
    assert build(conn)["how"] == "built" and table(conn).equals(from_scratch(conn))
    conn.execute("delete from staging.stg_clients__records where source_client_id = 'N2'")
    assert build(conn)["how"] == "built" and table(conn).equals(from_scratch(conn))
    assert build(conn, reuse_ok=False)["how"] == "built"  # ALMS_REUSE_UNCHANGED=0


def test_a_new_day_counts_only_when_a_kept_line_is_dated_between(conn):
    rows = [{**row, "invoice_date": "2026-01-10"} for row in lines(random.Random(3), FILES[0], 10)]
    set_raw(conn, rows)
    build(conn, today=dt.date(2026, 1, 5))  # every line is in the future then
    assert "future_date" in table(conn)["quarantine_reason"].to_list()
    assert build(conn, today=dt.date(2026, 1, 8))["how"] == "kept"  # nothing dated between the two days
    report = build(conn, today=dt.date(2026, 1, 12))
    assert report["how"] == "built" and table(conn).equals(from_scratch(conn, dt.date(2026, 1, 12)))
