from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from assets.rules.inputs import InputError
from assets.rules.parsing import (
    parse_billing_lines,
    parse_client_records,
    parse_engagement_events,
    parse_fx_rates,
    parse_sellers,
)


def text_frame(rows: list[dict]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={k: pl.String for k in rows[0]})
    return frame.with_columns(
        pl.lit("f.csv").alias("source_file"), pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("source_row")
    )


def billing(**overrides) -> dict:
    row = {
        "source_system": "nat",
        "invoice_id": "I1",
        "line_number": "1",
        "source_client_id": "N1",
        "invoice_date": "2026-01-15",
        "amount": "10.00",
        "currency": "usd",
    }
    return {**row, **overrides}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-15", date(2026, 1, 15)),
        (" 2026-01-15 ", date(2026, 1, 15)),
        ("2026-01-15T23:59:00", date(2026, 1, 15)),
        ("2026-02-30", None),
        ("31/01/2026", None),
        ("01/31/2026", None),
        ("yesterday", None),
        ("2026-13-01", None),
    ],
)
def test_dates_are_iso_only(text, expected):
    assert parse_billing_lines(text_frame([billing(invoice_date=text)]))["invoice_date"].item() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.00", Decimal("10")),
        ("-120.5", Decimal("-120.5")),
        ("+3", Decimal("3")),
        ("0.123456", Decimal("0.123456")),
        ("12,50", None),
        ("1,234.00", None),
        ("abc", None),
        ("1.2.3", None),
        ("0.1234567", None),
        ("1e5", None),
    ],
)
def test_amounts_are_plain_decimals(text, expected):
    parsed = parse_billing_lines(text_frame([billing(amount=text)]))
    assert parsed["amount"].item() == expected
    assert parsed["amount_text"].item() == text.strip()


def test_billing_text_is_trimmed_and_currency_upper_cased_and_blank_is_null():
    parsed = parse_billing_lines(text_frame([billing(invoice_id="  ", source_client_id=" N1 ")])).row(0, named=True)
    assert parsed["invoice_id"] is None
    assert parsed["source_client_id"] == "N1"
    assert parsed["currency"] == "USD"


def test_client_optional_values_that_do_not_parse_are_nulled_and_listed():
    row = {
        "source_system": "nat",
        "source_client_id": "N1",
        "name": "Acme",
        "domain": None,
        "address": None,
        "city": None,
        "postal_code": None,
        "country": None,
        "phone": None,
        "industry": None,
        "employee_count": "lots",
        "owner_id": None,
        "segment": "National",
        "customer_since": "2020-02-30",
    }
    parsed = parse_client_records(text_frame([row])).row(0, named=True)
    assert parsed["employee_count"] is None and parsed["customer_since"] is None
    assert parsed["segment"] == "national"
    assert parsed["invalid_fields"] == "employee_count,customer_since"


def test_engagement_quantity_defaults_to_one_and_bad_quantity_stays_null():
    rows = [
        {
            "source_system": "s",
            "source_client_id": "c",
            "event_date": "2026-01-01",
            "event_type": "Meeting",
            "quantity": q,
        }
        for q in (None, "3", "x")
    ]
    parsed = parse_engagement_events(text_frame(rows))
    assert parsed["quantity"].to_list() == [1, 3, None]
    assert parsed["event_type"].to_list() == ["meeting"] * 3


def test_fx_rates_parse_and_reject_bad_rows_by_row_and_column():
    good = parse_fx_rates(text_frame([{"currency": "cad", "month": "2026-02", "rate_to_reporting": "0.7312"}]))
    assert good.row(0, named=True)["month"] == date(2026, 2, 1)
    assert good.row(0, named=True)["currency"] == "CAD"
    with pytest.raises(InputError, match=r"f.csv: row 2, column rate_to_reporting: '-1' is not a positive number"):
        parse_fx_rates(
            text_frame(
                [
                    {"currency": "CAD", "month": "2026-02", "rate_to_reporting": "0.7"},
                    {"currency": "EUR", "month": "2026-02", "rate_to_reporting": "-1"},
                ]
            )
        )
    with pytest.raises(InputError, match=r"row 1, column month: 'Feb 2026' is not a month"):
        parse_fx_rates(text_frame([{"currency": "CAD", "month": "Feb 2026", "rate_to_reporting": "0.7"}]))
    with pytest.raises(InputError, match=r"f.csv: row 1 and f.csv: row 2 have the same currency \+ month_start"):
        parse_fx_rates(
            text_frame(
                [
                    {"currency": "CAD", "month": "2026-02", "rate_to_reporting": "0.7"},
                    {"currency": "CAD", "month": "2026-02-01", "rate_to_reporting": "0.8"},
                ]
            )
        )


def test_sellers_need_a_name_and_a_unique_id():
    with pytest.raises(InputError, match=r"row 2, column seller_name: None is empty"):
        parse_sellers(
            text_frame(
                [
                    {"owner_id": "S1", "seller_name": "Sam", "team": None},
                    {"owner_id": "S2", "seller_name": " ", "team": None},
                ]
            )
        )
    with pytest.raises(InputError, match=r"have the same owner_id \(S1\)"):
        parse_sellers(
            text_frame(
                [
                    {"owner_id": "S1", "seller_name": "Sam", "team": None},
                    {"owner_id": "S1", "seller_name": "Sue", "team": None},
                ]
            )
        )
