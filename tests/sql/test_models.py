"""SQL models on an in-memory DuckDB: quarantine reasons, the window, conversion, survivorship, column lineage."""

import datetime as dt
from decimal import Decimal

import duckdb
import polars as pl

from assets.resources import LAYERS
from assets.rules.completeness import completeness_parameters
from assets.rules.feedback import parse_seller_feedback
from assets.rules.inputs import (
    ACCOUNT_OVERRIDES,
    BILLING,
    ENGAGEMENT,
    FX_RATES,
    INVENTORY_SCHEMA,
    MATCH_OVERRIDES,
    OPPORTUNITIES,
    PROSPECTS,
    SELLER_FEEDBACK,
    SELLER_PICKS,
)
from assets.rules.inputs import CLIENTS as CLIENTS_SPEC
from assets.rules.parsing import (
    parse_account_overrides,
    parse_billing_lines,
    parse_client_records,
    parse_engagement_events,
    parse_fx_rates,
    parse_match_overrides,
    parse_opportunities,
    parse_prospects,
    parse_seller_picks,
    parse_sellers,
)
from assets.rules.resolution import match_client_records
from pipelines.sql_models import in_dependency_order, load_sql_models, run_sql_model, sql_column_lineage
from schemas import SCHEMAS_BY_TABLE

PARAMETERS = {
    "as_of": None,
    "today": dt.date(2026, 11, 22),
    "reporting_currency": "USD",
    "max_line_amount": 1e9,
    "min_date": dt.date(2000, 1, 1),
    "min_month_share": 0.5,
    **completeness_parameters([]),
}
CLIENT_FIELDS = list(CLIENTS_SPEC.columns)


def text_frame(rows: list[dict], columns: list[str]) -> pl.DataFrame:
    frame = pl.DataFrame([{c: r.get(c) for c in columns} for r in rows], schema={c: pl.String for c in columns})
    return frame.with_columns(
        pl.lit("f.csv").alias("source_file"), pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("source_row")
    )


def warehouse(
    billing: list[dict], clients: list[dict], fx: list[dict] | None = None, events=None, deals=None, **parameters
):
    conn = duckdb.connect()
    for layer in LAYERS:
        conn.execute(f"create schema {layer}")
    tables = {
        "billing_lines": parse_billing_lines(
            text_frame(
                billing,
                list(BILLING.columns),
            )
        ),
        "clients": parse_client_records(text_frame(clients, CLIENT_FIELDS)),
        "fx_rates": parse_fx_rates(
            text_frame(
                fx or [{"currency": "CAD", "month": "2026-01", "rate_to_reporting": "0.75"}],
                list(FX_RATES.columns),
            )
        ),
        "engagement_events": parse_engagement_events(
            text_frame(
                events
                or [
                    {
                        "source_system": "nat",
                        "source_client_id": "N1",
                        "event_date": "2026-01-05",
                        "event_type": "meeting",
                    }
                ],
                list(ENGAGEMENT.columns),
            )
        ),
        "sellers": parse_sellers(
            text_frame([{"owner_id": "S1", "seller_name": "Sam", "team": "East"}], ["owner_id", "seller_name", "team"])
        ),
        "opportunities": parse_opportunities(text_frame(deals or [], list(OPPORTUNITIES.columns))),
        "prospects": parse_prospects(text_frame([], list(PROSPECTS.columns))),
        "match_overrides": parse_match_overrides(text_frame([], list(MATCH_OVERRIDES.columns))),
        "seller_picks": parse_seller_picks(text_frame([], list(SELLER_PICKS.columns))),
        "account_overrides": parse_account_overrides(text_frame([], list(ACCOUNT_OVERRIDES.columns))),
        "seller_feedback": parse_seller_feedback(text_frame([], list(SELLER_FEEDBACK.columns))),
        "input_files": pl.DataFrame(schema=INVENTORY_SCHEMA),
    }
    for name, frame in tables.items():
        conn.register("frame", frame)
        conn.execute(f"create table raw.{name} as select * from frame")
        conn.unregister("frame")
    params = {**PARAMETERS, **parameters}
    models = load_sql_models()
    by_sql = {(m.layer, m.name) for m in models}
    for model in in_dependency_order(models):
        if any(layer == "marts" and (layer, name) not in by_sql for layer, name in model.reads):
            continue  # reads a mart the Python assets build (marts.sellers: the seller lists); tests/test_postgres.py
        if ("intermediate", "int_clients_matched") in model.reads and not conn.sql(
            "select * from information_schema.tables where table_name = 'int_clients_matched'"
        ).fetchall():
            records = conn.sql("select * from staging.stg_clients__records").pl()
            matched, review, _ = match_client_records(records)
            for name, frame in (
                ("int_clients_matched", matched.with_columns(pl.lit(0).alias("filled_field_count"))),
                ("int_match_pairs_reviewed", review),
            ):
                conn.register("frame", frame)
                conn.execute(f"create table intermediate.{name} as select * from frame")
                conn.unregister("frame")
        run_sql_model(conn, model, params)
    return conn


def line(invoice="I1", number="1", client="N1", date="2026-01-15", amount="10.00", currency="USD", system="nat"):
    return {
        "source_system": system,
        "invoice_id": invoice,
        "line_number": number,
        "source_client_id": client,
        "invoice_date": date,
        "amount": amount,
        "currency": currency,
    }


CLIENTS = [
    {"source_system": "nat", "source_client_id": "N1", "name": "Acme"},
    {"source_system": "loc", "source_client_id": "L1", "name": "Beta"},
]


def reasons(conn) -> dict:
    rows = conn.sql(
        "select invoice_id, quarantine_reason, quarantine_column from staging.stg_billing__checked_lines "
        "join raw.billing_lines using (source_file, source_row)"
    ).fetchall()
    return {invoice: (reason, column) for invoice, reason, column in rows}


def test_each_billing_fault_gets_its_reason_and_column():
    conn = warehouse(
        [
            line("OK"),
            line("DATE", date="31/01/2026"),
            line("FUTURE", date="2027-01-01"),
            line("AMOUNT", amount="12,50"),
            line("ABSURD", amount="9999999999.00"),
            line("CURRENCY", currency="XYZ"),
            line("NORATE", currency="CAD", date="2026-03-01"),
            line("CLIENT", client="N404"),
            line("MISSING", client=""),
            line("OK"),  # same invoice + line number as the first: a duplicate
            line("CAD", currency="cad", date="2026-01-31"),
        ],
        CLIENTS,
    )
    found = reasons(conn)
    assert found == {
        "OK": ("duplicate_line", "line_number"),  # the dict keeps the second OK; check the first below
        "DATE": ("unparseable_date", "invoice_date"),
        "FUTURE": ("future_date", "invoice_date"),
        "AMOUNT": ("unparseable_amount", "amount"),
        "ABSURD": ("absurd_amount", "amount"),
        "CURRENCY": ("unknown_currency", "currency"),
        "NORATE": ("missing_fx_rate", "currency"),
        "CLIENT": ("unknown_client", "source_client_id"),
        "MISSING": ("missing_value", "source_client_id"),
        "CAD": ("", ""),
    }
    first_ok = conn.sql(
        "select quarantine_reason from staging.stg_billing__checked_lines join raw.billing_lines "
        "using (source_file, source_row) where invoice_id = 'OK' order by source_row"
    ).fetchall()
    assert first_ok == [("",), ("duplicate_line",)]
    quarantined = conn.sql("select count(*) from marts.quarantined_rows where input_name = 'billing'").fetchall()[0][0]
    assert quarantined == 9
    clean = conn.sql(
        "select invoice_id, billing_amount from intermediate.int_billing_lines_windowed "
        "join raw.billing_lines using (source_file, source_row) where quarantine_reason = '' and is_in_window "
        "order by 1"
    ).fetchall()
    assert clean == [("CAD", Decimal("7.50")), ("OK", Decimal("10.00"))]


def test_window_is_the_latest_complete_month_and_twelve_months_back():
    conn = warehouse(
        [
            line("A", date="2025-10-31"),
            line("B", date="2025-11-01"),
            line("C", date="2026-10-31"),
            line("D", date="2026-11-10"),
        ],
        CLIENTS,
    )
    window = conn.sql(
        "select as_of_date, window_start_date from intermediate.int_reporting_windows_resolved"
    ).fetchall()
    assert window == [(dt.date(2026, 10, 31), dt.date(2025, 11, 1))]
    in_window = conn.sql(
        "select invoice_id from intermediate.int_billing_lines_windowed join raw.billing_lines "
        "using (source_file, source_row) where is_in_window order by 1"
    )
    assert [r[0] for r in in_window.fetchall()] == ["B", "C"]


def test_a_latest_invoice_on_a_month_end_closes_that_month_and_as_of_overrides():
    conn = warehouse([line("A", date="2026-02-28")], CLIENTS)
    assert conn.sql(
        "select as_of_date, window_start_date from intermediate.int_reporting_windows_resolved"
    ).fetchall() == [(dt.date(2026, 2, 28), dt.date(2025, 3, 1))]
    conn = warehouse([line("A", date="2026-02-28")], CLIENTS, as_of=dt.date(2026, 1, 15))
    assert conn.sql(
        "select as_of_date, window_start_date, is_as_of_set from intermediate.int_reporting_windows_resolved"
    ).fetchall() == [(dt.date(2026, 1, 15), dt.date(2025, 1, 16), True)]


def test_conversion_rounds_each_line_to_the_cent():
    conn = warehouse(
        [line("A", currency="CAD", amount="0.01"), line("B", currency="CAD", amount="0.03")],
        CLIENTS,
        fx=[{"currency": "CAD", "month": "2026-01", "rate_to_reporting": "0.5"}],
        as_of=dt.date(2026, 10, 31),
    )
    amounts = conn.sql(
        "select invoice_id, billing_amount from intermediate.int_billing_lines_windowed "
        "join raw.billing_lines using (source_file, source_row) where quarantine_reason = '' and is_in_window "
        "order by 1"
    ).fetchall()
    assert amounts == [("A", Decimal("0.01")), ("B", Decimal("0.02"))]  # 0.005 and 0.015 round half away from zero


def test_client_records_without_key_or_repeated_are_excluded_and_reported():
    conn = warehouse(
        [line()],
        [
            *CLIENTS,
            {"source_system": "nat", "source_client_id": "N1", "name": "Acme again"},
            {"source_system": "nat", "source_client_id": None, "name": "Nobody"},
            {"source_system": "loc", "source_client_id": "L2", "name": None, "employee_count": "x"},
        ],
    )
    rows = conn.sql(
        "select source_row, reason, action, column_name from marts.quarantined_rows where input_name = 'clients' "
        "order by source_row"
    ).fetchall()
    assert rows == [
        (3, "duplicate_record", "excluded", "source_client_id"),
        (4, "missing_value", "excluded", "source_client_id"),
        (5, "missing_value", "kept_with_nulls", "name"),
    ]
    assert conn.sql("select count(*) from staging.stg_clients__records").fetchall()[0][0] == 3


def test_survivorship_takes_attributes_from_the_biggest_biller_first():
    clients = [
        {
            "source_system": "nat",
            "source_client_id": "N1",
            "name": "Acme Inc",
            "domain": "acme.com",
            "owner_id": None,
            "segment": "national",
        },
        {
            "source_system": "loc",
            "source_client_id": "L1",
            "name": "ACME",
            "domain": "acme.com",
            "owner_id": "S1",
            "segment": "local",
        },
    ]
    conn = warehouse(
        [line("I1", client="N1", amount="10"), line("I2", client="L1", amount="90", system="loc")],
        clients,
        as_of=dt.date(2026, 10, 31),
    )
    row = conn.sql("select * from intermediate.int_accounts_aggregated").pl().row(0, named=True)
    assert row["account_id"] == "loc:L1"
    assert row["primary_record"] == "loc:L1"
    assert (row["account_name"], row["owner_id"], row["segment"]) == ("ACME", "S1", "local")
    assert row["owner_ids"] == ["S1"]  # every owner the records name (the ownership rule reads it)
    assert row["billing_12m"] == Decimal("100.00")
    assert row["client_record_count"] == 2 and row["billing_line_count"] == 2


def test_column_lineage_names_the_columns_duckdb_builds():
    """The lineage's output columns (select * expanded from the pandera models and the upstream SQL) are the
    columns of the tables and views DuckDB builds, in order."""
    conn = warehouse([line()], CLIENTS)
    models = {(model.layer, model.name): model for model in load_sql_models()}
    built_here = set(conn.sql("select table_schema, table_name from information_schema.tables").fetchall())
    for (layer, name), model in models.items():
        if (layer, name) in built_here:
            continue
        # the harness leaves out models reading a mart the Python assets build (marts.sellers): built here over that
        # mart, empty, with the columns of its pandera model
        for mart in set(model.reads) - built_here - set(models):
            columns = SCHEMAS_BY_TABLE[mart].to_schema().columns
            conn.register("frame", pl.DataFrame(schema={column: spec.dtype.type for column, spec in columns.items()}))
            conn.execute(f"create table {mart[0]}.{mart[1]} as select * from frame")
            conn.unregister("frame")
        run_sql_model(conn, model, PARAMETERS)
    for (layer, name), result in sql_column_lineage(list(models.values())).items():
        built = conn.sql(f"select * from {layer}.{name} limit 0").columns
        assert list(result.columns) == built, f"{layer}.{name}"


def test_monthly_billing_history_keeps_every_month_up_to_the_as_of_date():
    """int_client_billing_monthly: clean lines of every month (also before the window), none after the as-of date."""
    conn = warehouse(
        [
            line("A", date="2024-03-05", amount="100.00"),  # two years back: outside the window, in the history
            line("B", date="2024-03-20", amount="50.00"),
            line("C", date="2026-10-31", amount="7.00"),
            line("D", date="2026-11-10", amount="999.00"),  # after the as-of date (the month is not complete)
            line("E", date="2026-10-02", amount="abc"),  # quarantined
            line("F", date="2026-01-10", amount="10.00", currency="CAD", system="loc", client="L1"),
        ],
        CLIENTS,
    )
    rows = conn.sql(
        "select source_system, source_client_id, month, billing_amount, billing_line_count "
        "from intermediate.int_client_billing_monthly order by 1, 3"
    ).fetchall()
    assert rows == [
        ("loc", "L1", dt.date(2026, 1, 1), Decimal("7.50"), 1),
        ("nat", "N1", dt.date(2024, 3, 1), Decimal("150.00"), 2),
        ("nat", "N1", dt.date(2026, 10, 1), Decimal("7.00"), 1),
    ]


def test_monthly_engagement_history_counts_events_and_quantities_per_type():
    events = [
        {"source_system": "nat", "source_client_id": "N1", "event_date": "2024-06-03", "event_type": "email"},
        {
            "source_system": "nat",
            "source_client_id": "N1",
            "event_date": "2024-06-20",
            "event_type": "email",
            "quantity": "3",
        },
        {"source_system": "nat", "source_client_id": "N1", "event_date": "2026-11-02", "event_type": "email"},
    ]
    conn = warehouse([line("A", date="2026-10-31")], CLIENTS, events=events)
    rows = conn.sql(
        "select month, event_type, events, quantity from intermediate.int_client_engagement_monthly"
    ).fetchall()
    assert rows == [(dt.date(2024, 6, 1), "email", 2, 4)]  # November 2026 is after the as-of date
