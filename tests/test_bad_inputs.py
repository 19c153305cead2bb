"""The bad-input suite: one fault per case, against a small good input folder, each with the class it must get.

- `Error`: the run stops with one line naming the file and the row or column (InputError), or the setting
  (SettingsError); the test asserts the message text.
- `Quarantined`: the rows go to marts.quarantined_rows with this reason, column and action, and no other row does.
- `Accepted`: the input is read, and the assertion says what it becomes.

Each case runs the ingest layer without Dagster: the input files are read, typed and validated as the raw assets do
(`assets.rules.inputs`, `assets.rules.parsing`, the pandera models), then the staging models and the marts models that
need no Python step (quarantine, input_files, billing and engagement completeness) run on an in-memory DuckDB. Every
case that is not an error also proves the per-file accounting: rows read = loaded + quarantined + outside the window.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from assets.resources import LAYERS, SettingsError, settings_from_env
from assets.rules import feedback, inputs, parsing
from assets.rules.completeness import describe_gaps
from assets.rules.inputs import InputError
from pipelines.sql_models import in_dependency_order, load_sql_models
from schemas import SCHEMAS_BY_TABLE, validate_frame

TODAY = dt.date(2026, 11, 22)
BILLING = list(inputs.BILLING.columns)
CLIENTS = list(inputs.CLIENTS.columns)
ENGAGEMENT = list(inputs.ENGAGEMENT.columns)
OPPORTUNITIES = list(inputs.OPPORTUNITIES.columns)
PROSPECTS = list(inputs.PROSPECTS.columns)
# 6 months before the window (2025-11 .. 2026-10) and the window, one line per system and month; a November line
# makes the inferred as-of date 2026-10-31
MONTHS = [f"{y}-{m:02d}" for y, m in [(2025, m) for m in range(5, 13)] + [(2026, m) for m in range(1, 12)]]
RAW = {  # raw table -> (input, parse, whole input at once as the reference inputs are)
    "billing_lines": (inputs.BILLING, parsing.parse_billing_lines),
    "clients": (inputs.CLIENTS, parsing.parse_client_records),
    "engagement_events": (inputs.ENGAGEMENT, parsing.parse_engagement_events),
    "sellers": (inputs.SELLERS, parsing.parse_sellers),
    "fx_rates": (inputs.FX_RATES, parsing.parse_fx_rates),
    "match_overrides": (inputs.MATCH_OVERRIDES, parsing.parse_match_overrides),
    "opportunities": (inputs.OPPORTUNITIES, parsing.parse_opportunities),
    "prospects": (inputs.PROSPECTS, parsing.parse_prospects),
    "seller_picks": (inputs.SELLER_PICKS, parsing.parse_seller_picks),
    "account_overrides": (inputs.ACCOUNT_OVERRIDES, parsing.parse_account_overrides),
    "seller_feedback": (inputs.SELLER_FEEDBACK, feedback.parse_seller_feedback),
}
VALIDATED = ("billing_lines", "clients", "engagement_events", "opportunities", "prospects")
MODELS = [
    m
    for m in in_dependency_order(load_sql_models())
    if m.layer == "staging"
    or (m.layer, m.name)
    in {
        ("intermediate", "int_reporting_windows_resolved"),
        ("intermediate", "int_billing_lines_windowed"),
        ("intermediate", "int_engagement_events_windowed"),
        ("intermediate", "int_deals_checked"),
        ("marts", "quarantined_rows"),
        ("marts", "input_files"),
        ("marts", "billing_completeness"),
        ("marts", "engagement_completeness"),
    }
]


# --- the good input folder -----------------------------------------------------------------------------------------


def write_csv(path: Path, columns: list[str], rows: list[dict | list], newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator=newline)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns] if isinstance(row, dict) else row)
    return path


def line(system="nat", invoice="F1", number="1", client="N1", date="2026-03-10", amount="100.00", currency="USD"):
    return dict(zip(BILLING, (system, invoice, number, client, date, amount, currency), strict=True))


def event(system="nat", client="N1", date="2026-03-10", kind="meeting", quantity=""):
    return dict(zip(ENGAGEMENT, (system, client, date, kind, quantity), strict=True))


def deal(**values):
    row = {
        "source_system": "nat",
        "opportunity_id": "O9",
        "source_client_id": "N1",
        "stage": "proposal",
        "amount": "1000.00",
        "currency": "USD",
        "expected_close_date": "2026-12-31",
        "probability": "",
        "created_date": "2026-01-05",
    }
    return {**row, **values}


def good_inputs(data_dir: Path) -> Path:
    clients = [
        {"source_system": "nat", "source_client_id": "N1", "name": "Acme Corp", "employee_count": "50"},
        {"source_system": "nat", "source_client_id": "N2", "name": "Globex"},
        {"source_system": "loc", "source_client_id": "L1", "name": "Initech"},
    ]
    write_csv(data_dir / "clients" / "clients.csv", CLIENTS, clients)
    for system, client in (("nat", "N1"), ("loc", "L1")):
        rows = [line(system, f"{system}-{m}", "1", client, f"{m}-10", "100.00") for m in MONTHS[:-1]]
        rows.append(line(system, f"{system}-{MONTHS[-1]}", "1", client, f"{MONTHS[-1]}-05", "100.00"))
        write_csv(data_dir / "billing" / f"{system}.csv", BILLING, rows)
        write_csv(
            data_dir / "engagement" / f"{system}.csv",
            ENGAGEMENT,
            [event(system, client, f"{m}-10") for m in MONTHS[:-1]],
        )
    write_csv(data_dir / "fx_rates.csv", ["currency", "month", "rate_to_reporting"], [["CAD", "2026-03", "0.75"]])
    write_csv(data_dir / "sellers.csv", ["owner_id", "seller_name", "team"], [["S1", "Sam", "East"]])
    write_csv(data_dir / "opportunities" / "crm.csv", OPPORTUNITIES, [deal(opportunity_id="O1")])
    write_csv(
        data_dir / "prospects.csv",
        PROSPECTS,
        [{"prospect_id": "P1", "name": "Hooli", "created_date": "2026-02-01", "employee_count": "10"}],
    )
    return data_dir


# --- running the ingest layer --------------------------------------------------------------------------------------


def ingest(data_dir: Path, env: dict | None = None) -> duckdb.DuckDBPyConnection:
    """Read, type and validate every input as the raw assets do, then run the staging and marts SQL models."""
    settings = settings_from_env({"ALMS_DATA_DIR": str(data_dir), "ALMS_OUTPUT_DIR": "/nonexistent", **(env or {})})
    conn = duckdb.connect(config={"threads": 1})  # tiny tables: one thread plans and runs them fastest
    for layer in LAYERS:
        conn.execute(f"create schema {layer}")
    tables = {name: parse(inputs.read_input(data_dir, spec)[0]) for name, (spec, parse) in RAW.items()}
    for name in VALIDATED:  # the transactional inputs, whose rows the faults reach (reference inputs stop the run)
        validate_frame(SCHEMAS_BY_TABLE[("raw", name)], tables[name])
    tables["input_files"] = inputs.list_input_files(data_dir)
    for name, frame in tables.items():
        conn.register("frame", frame)
        conn.execute(f"create table raw.{name} as select * from frame")
        conn.unregister("frame")
    parameters = {**settings.sql_parameters(), "today": TODAY}
    for model in MODELS:  # what run_sql_model does, without its bookkeeping queries
        bound = {name: parameters[name] for name in model.parameters}
        conn.execute(f"create {model.materialization} {model.layer}.{model.name} as\n{model.sql}", bound or None)
    return conn


def rows(conn, sql: str, *params) -> list[tuple]:
    return conn.execute(sql, list(params)).fetchall()


def assert_every_row_accounted(conn) -> None:
    """Per file: rows read = loaded + quarantined + outside the window, rows read = the raw table's rows, and the
    quarantined rows are the file's excluded rows in marts.quarantined_rows (what the blocking check proves)."""
    unbalanced = rows(
        conn,
        "select source_file from marts.input_files "
        "where rows_read <> rows_loaded + rows_quarantined + rows_outside_window "
        "or rows_quarantined <> (select count(*) from marts.quarantined_rows q where q.source_file = input_files.source_file "
        "and q.input_name = input_files.input_name and q.action = 'excluded')",
    )
    assert unbalanced == []
    raw_rows = sum(rows(conn, f"select count(*) from raw.{name}")[0][0] for name in RAW)
    assert rows(conn, "select sum(rows_read) from marts.input_files")[0][0] == raw_rows
    listed = {r[0] for r in rows(conn, "select source_file from raw.input_files")}
    assert listed == {r[0] for r in rows(conn, "select source_file from marts.input_files where is_in_folder")}


# --- expectations ----------------------------------------------------------------------------------------------------


@dataclass
class Error:
    """The run stops with this message (a regular expression, searched in the one-line message)."""

    message: str
    kind: type[Exception] = InputError


@dataclass
class Quarantined:
    """Exactly these quarantine rows: (input, reason, column, action) -> count."""

    found: dict[tuple[str, str, str | None, str], int]


def excluded(input_name: str, reason: str, column: str | None, count: int = 1) -> Quarantined:
    return Quarantined({(input_name, reason, column, "excluded"): count})


def kept(input_name: str, reason: str, column: str, action: str, count: int = 1) -> Quarantined:
    return Quarantined({(input_name, reason, column, action): count})


@dataclass
class Accepted:
    """Read without a quarantine row; `then` asserts what the input became."""

    then: Callable[[duckdb.DuckDBPyConnection], None] = lambda conn: None
    quarantine: dict = field(default_factory=dict)


@dataclass
class Case:
    id: str
    fault: Callable[[Path], object]
    expect: Error | Quarantined | Accepted
    env: dict = field(default_factory=dict)


# --- faults ----------------------------------------------------------------------------------------------------------


def billing_file(*lines_: dict, name: str = "zz_fault.csv", newline: str = "\n") -> Callable[[Path], Path]:
    """A fault file after the good ones (files are read in name order, so a repeated line here is the duplicate)."""
    return lambda d: write_csv(d / "billing" / name, BILLING, list(lines_), newline)


def raw_billing(text: bytes, name: str = "zz_fault.csv") -> Callable[[Path], None]:
    def fault(d: Path) -> None:
        (d / "billing" / name).write_bytes(text)

    return fault


HEADER = ",".join(BILLING).encode()
GOOD_ROW = b"nat,F1,1,N1,2026-03-10,100.00,USD"


def parquet_billing(**columns) -> Callable[[Path], None]:
    def fault(d: Path) -> None:
        values = {**{c: [v] for c, v in line().items()}, **columns}
        pl.DataFrame(values).write_parquet(d / "billing" / "zz_fault.parquet")

    return fault


def clients_file(*records: dict) -> Callable[[Path], Path]:
    return lambda d: write_csv(d / "clients" / "zz_fault.csv", CLIENTS, list(records))


def events_file(*events: dict) -> Callable[[Path], Path]:
    return lambda d: write_csv(d / "engagement" / "zz_fault.csv", ENGAGEMENT, list(events))


def deals_file(*deals: dict) -> Callable[[Path], Path]:
    return lambda d: write_csv(d / "opportunities" / "zz_fault.csv", OPPORTUNITIES, list(deals))


def replace_in(relative: str, old: str, new: str) -> Callable[[Path], None]:
    def fault(d: Path) -> None:
        path = d / relative
        path.write_text(path.read_text().replace(old, new, 1))

    return fault


def drop_billing(system: str, months: list[str]) -> Callable[[Path], None]:
    def fault(d: Path) -> None:
        path = d / "billing" / f"{system}.csv"
        kept_lines = [r for r in path.read_text().splitlines() if not any(f",{m}-" in r for m in months)]
        path.write_text("\n".join(kept_lines) + "\n")

    return fault


def scale_billing(system: str, month: str, amount: str) -> Callable[[Path], None]:
    return replace_in(f"billing/{system}.csv", f",{month}-10,100.00,", f",{month}-10,{amount},")


def symlink(relative: str, target: Callable[[Path], Path]) -> Callable[[Path], None]:
    def fault(d: Path) -> None:
        (d / relative).symlink_to(target(d))

    return fault


def both(*faults: Callable[[Path], object]) -> Callable[[Path], None]:
    def fault(d: Path) -> None:
        for one in faults:
            one(d)

    return fault


def outside_file(d: Path) -> Path:
    outside = d.parent / "elsewhere" / "secret.csv"
    write_csv(outside, BILLING, [line(invoice="X1")])
    return outside


def unreadable(relative: str) -> Callable[[Path], None]:
    """A file the OS refuses to open (the test runs as root, which reads everything: the refusal is simulated at
    the os.open the ingest uses to probe each file, with the error the OS gives)."""

    def fault(d: Path) -> None:
        write_csv(d / relative, BILLING, [line(invoice="U1")])
        real_open = os.open
        target = os.path.realpath(d / relative)

        def refusing_open(path, flags, *args, **kwargs):
            if os.fspath(path) == target:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
            return real_open(path, flags, *args, **kwargs)

        UNDO.append(("open", real_open))  # the autouse fixture below puts it back
        os.open = refusing_open

    return fault


UNDO: list = []


def values(conn, sql: str):
    return [r[0] if len(r) == 1 else r for r in rows(conn, sql)]


def billing_of(conn, client: str) -> Decimal:
    return rows(
        conn,
        "select coalesce(sum(billing_amount), 0) from intermediate.int_billing_lines_windowed "
        "where quarantine_reason = '' and is_in_window and source_client_id = ?",
        client,
    )[0][0]


def gaps(conn, table: str = "billing_completeness") -> list[tuple]:
    return rows(
        conn,
        f"select source_system, strftime(month_start_date, '%Y-%m'), status, accepted_by, is_blocking from marts.{table} "
        "where status not in ('ok') order by 1, 2",
    )


# --- the cases -------------------------------------------------------------------------------------------------------

LONG_NAME = "Acme " + "x" * 100_000

# fmt: off
CASES = [  # a table: one case a line or three, as the formatter would not keep it
    # layout of the input folder
    Case("month-folder-is-read", billing_file(line(invoice="M1", date="2026-03-11"), name="2026-03/extra.csv"),
         Accepted(lambda c: _assert(values(c, "select file_month from marts.input_files where source_file = "
                                              "'billing/2026-03/extra.csv' and rows_loaded = 1") == ["2026-03"]))),
    Case("subfolder-not-a-month", billing_file(line(), name="archive/old.csv"),
         Error(r"^billing/archive/: a subfolder that is not a month folder; billing/ holds files and month folders")),
    Case("folder-inside-month-folder", billing_file(line(), name="2026-03/more/x.csv"),
         Error(r"^billing/2026-03/more/: a folder inside a month folder")),
    Case("underscore-folder-ignored", billing_file(line(invoice="Z9"), name="_old/x.csv"),
         Accepted(lambda c: _assert(values(c, "select count(*) from marts.input_files where source_file like '%_old%'")
                                    == [0]))),
    Case("hidden-file-ignored", raw_billing(b"junk", name=".~lock.nat.csv#"), Accepted()),
    Case("unsupported-file-type", raw_billing(b"PK\x03\x04", name="march.xlsx"),
         Error(r"^billing/march.xlsx: unsupported file type '.xlsx'")),
    Case("link-out-of-the-folder", symlink("billing/linked.csv", outside_file),
         Error(r"^billing/linked.csv: a symbolic link to /.*/elsewhere/secret.csv, outside the input folder /")),
    Case("link-inside-the-folder-doubles-rows", symlink("billing/zz_copy.csv", lambda d: d / "billing" / "nat.csv"),
         excluded("billing", "duplicate_line", "line_number", 19)),
    Case("symlink-loop", both(symlink("billing/loop_a.csv", lambda d: d / "billing" / "loop_b.csv"),
                              symlink("billing/loop_b.csv", lambda d: d / "billing" / "loop_a.csv")),
         Error(r"^billing/loop_a.csv: cannot be read: Too many levels of symbolic links \(ELOOP\)")),
    Case("dangling-link", symlink("billing/gone.csv", lambda d: d / "nowhere.csv"),
         Error(r"^billing/gone.csv: cannot be read: No such file or directory \(ENOENT\) \(a symbolic link to /")),
    Case("unreadable-file", unreadable("billing/locked.csv"),
         Error(r"^billing/locked.csv: cannot be read: Permission denied \(EACCES\)$")),
    Case("empty-file", raw_billing(b""), Error(r"^billing/zz_fault.csv: empty file \(0 bytes\)")),
    Case("header-only", raw_billing(HEADER + b"\n"),
         Accepted(lambda c: _assert(values(c, "select rows_read from marts.input_files where source_file = "
                                              "'billing/zz_fault.csv'") == [0]))),
    Case("missing-required-column", lambda d: write_csv(d / "billing" / "zz.csv", BILLING[:-1], [list(line().values())[:-1]]),
         Error(r"^billing/zz.csv: required column currency is missing \(found: source_system, ")),
    Case("duplicate-header", raw_billing(HEADER + b",amount\n" + GOOD_ROW + b",5\n"),
         Error(r"^billing/zz_fault.csv: column amount appears more than once in the header")),
    Case("extra-column-ignored", raw_billing(HEADER + b",note\n" + GOOD_ROW.replace(b"F1", b"E1") + b",hello\n"),
         Accepted(lambda c: _assert(billing_of(c, "N1") == Decimal("1300.00")))),
    Case("header-case-and-spaces", raw_billing(b" SOURCE_SYSTEM ,Invoice_ID,LINE_NUMBER,source_client_id,"
                                               b"Invoice_Date,AMOUNT,currency\n" + GOOD_ROW.replace(b"F1", b"H1") + b"\n"),
         Accepted(lambda c: _assert(billing_of(c, "N1") == Decimal("1300.00")))),
    Case("semicolon-delimiter", raw_billing(HEADER.replace(b",", b";") + b"\n" + GOOD_ROW.replace(b",", b";") + b"\n"),
         Error(r"^billing/zz_fault.csv: required column .* is missing .*the header looks semicolon-separated")),
    Case("tab-delimiter", raw_billing(HEADER.replace(b",", b"\t") + b"\n" + GOOD_ROW.replace(b",", b"\t") + b"\n"),
         Error(r"the header looks tab-separated, and alms reads comma-separated files")),
    Case("row-with-more-fields", raw_billing(HEADER + b"\n" + GOOD_ROW + b"\n" + GOOD_ROW + b",surplus\n"),
         Error(r"^billing/zz_fault.csv: line 3 \(data row 2\) has 8 fields but the header has 7$")),
    Case("row-with-fewer-fields", raw_billing(HEADER + b"\n" + GOOD_ROW + b"\nnat,F2,1,N1,2026-03-10,100.00\n"),
         Error(r"^billing/zz_fault.csv: line 3 \(data row 2\) has 6 fields but the header has 7$")),
    Case("latin-1-encoding", raw_billing(HEADER + b"\n" + GOOD_ROW.replace(b"F1", "Ï1".encode("latin-1")) + b"\n"),
         Error(r"^billing/zz_fault.csv: line 2 \(data row 1\) is not valid UTF-8 \(byte 0xcf\); save the file as UTF-8")),
    Case("utf-16-with-bom", raw_billing((HEADER + b"\n" + GOOD_ROW + b"\n").decode().encode("utf-16")),
         Error(r"^billing/zz_fault.csv: the file is UTF-16 or UTF-32 \(it starts with a byte-order mark FF FE\)")),
    Case("utf-16-without-bom", raw_billing((HEADER + b"\n" + GOOD_ROW + b"\n").decode().encode("utf-16-le")),
         Error(r"^billing/zz_fault.csv: line 1 \(the header\) holds NUL bytes, as UTF-16 or UTF-32 text does")),
    Case("utf-8-bom", raw_billing(b"\xef\xbb\xbf" + HEADER + b"\n" + GOOD_ROW.replace(b"F1", b"B1") + b"\n"),
         Accepted(lambda c: _assert(billing_of(c, "N1") == Decimal("1300.00")))),
    Case("crlf-line-ends", billing_file(line(invoice="C1"), line(invoice="C2"), newline="\r\n"),
         Accepted(lambda c: _assert(values(c, "select count(*) from raw.billing_lines where currency = 'USD' "
                                              "and source_file = 'billing/zz_fault.csv'") == [2]))),
    Case("mixed-line-ends", raw_billing(HEADER + b"\r\n" + GOOD_ROW + b"\n" + GOOD_ROW.replace(b"F1", b"F2") + b"\r\n"),
         Accepted(lambda c: _assert(billing_of(c, "N1") == Decimal("1400.00")))),
    Case("cr-only-line-ends", raw_billing(HEADER + b"\r" + GOOD_ROW + b"\r"),
         Error(r"^billing/zz_fault.csv: lines end with CR only \(classic Mac line ends\)")),
    Case("unterminated-quote", raw_billing(HEADER + b'\nnat,"F1,1,N1,2026-03-10,100.00,USD\n'),
         Error(r"^billing/zz_fault.csv: line 2 \(data row 1\) has 2 fields but the header has 7; a quote in it may "
               r"not be closed$")),
    Case("stray-quote-inside-a-value", raw_billing(HEADER + b'\nnat,F"1,1,N1,2026-03-10,100.00,USD\n'),
         Error(r"^billing/zz_fault.csv: could not be read as CSV \(.*\); check its quotes")),
    Case("blank-lines", raw_billing(HEADER + b"\n" + GOOD_ROW.replace(b"F1", b"K1") + b"\n\n,,,,,,\n\n"),
         excluded("billing", "blank_row", None, 3)),
    Case("parquet-typed-columns", parquet_billing(line_number=[1], amount=[12.5], invoice_id=["P1"],
                                                  invoice_date=[dt.datetime(2026, 3, 10, 9, 30)]),
         Accepted(lambda c: _assert(billing_of(c, "N1") == Decimal("1212.50")))),
    Case("parquet-float-with-binary-noise", parquet_billing(amount=[0.1 + 0.2], invoice_id=["P2"]),
         excluded("billing", "unparseable_amount", "amount")),
    Case("parquet-list-column", parquet_billing(amount=[[1.0, 2.0]]),
         Error(r"^billing/zz_fault.parquet: column amount has type List\(Float64\), which has no text form")),
    Case("parquet-binary-column", parquet_billing(invoice_id=[b"\xff\x00"]),
         Error(r"^billing/zz_fault.parquet: column invoice_id has type Binary")),
    Case("parquet-broken", lambda d: (d / "billing" / "zz.parquet").write_bytes(b"PAR1 not really"),
         Error(r"^billing/zz.parquet: not a readable Parquet file")),
    Case("parquet-integer-line-number-repeats-csv-01", both(
        billing_file(line(invoice="Q1", number="01"), name="a_fault.csv"), parquet_billing(invoice_id=["Q1"], line_number=[1])),
         excluded("billing", "duplicate_line", "line_number")),
    # dates
    Case("date-with-trailing-garbage", billing_file(line(date="2026-03-01 garbage")),
         excluded("billing", "unparseable_date", "invoice_date")),
    Case("date-with-impossible-time", billing_file(line(date="2026-03-01T99:99:99")),
         excluded("billing", "unparseable_date", "invoice_date")),
    Case("date-with-hour-24", billing_file(line(date="2026-03-01 24:00")),
         excluded("billing", "unparseable_date", "invoice_date")),
    Case("date-with-valid-time-and-zone", billing_file(line(invoice="T1", date="2026-03-01T23:59:59.5+02:00")),
         Accepted(lambda c: _assert(values(c, "select invoice_date from raw.billing_lines where invoice_id = 'T1'")
                                    == [dt.date(2026, 3, 1)]))),
    Case("date-day-month-year", billing_file(line(date="31/01/2026")), excluded("billing", "unparseable_date", "invoice_date")),
    Case("date-february-30", billing_file(line(date="2026-02-30")), excluded("billing", "unparseable_date", "invoice_date")),
    Case("date-excel-serial", billing_file(line(date="46082")), excluded("billing", "unparseable_date", "invoice_date")),
    Case("date-1901", billing_file(line(date="1901-03-01")), excluded("billing", "implausible_date", "invoice_date")),
    Case("date-before-ALMS_MIN_DATE", billing_file(line(date="2024-06-01")),
         excluded("billing", "implausible_date", "invoice_date"), env={"ALMS_MIN_DATE": "2025-01-01"}),
    Case("date-in-the-future", billing_file(line(date="2027-01-01")), excluded("billing", "future_date", "invoice_date")),
    Case("date-outside-the-window", billing_file(line(invoice="W1", date="2024-06-01", amount="99.99")),
         Accepted(lambda c: _assert(rows(c, "select rows_outside_window, billing_outside_window from marts.input_files "
                                           "where source_file = 'billing/zz_fault.csv'") == [(1, Decimal("99.99"))]))),
    # ids in their normal form
    Case("line-number-01-repeats-1", billing_file(line(invoice="nat-2026-03", number="01", date="2026-03-10")),
         excluded("billing", "duplicate_line", "line_number")),
    Case("line-number-1.0-repeats-1", billing_file(line(invoice="nat-2026-03", number="1.0", date="2026-03-10")),
         excluded("billing", "duplicate_line", "line_number")),
    Case("invoice-id-leading-zeros", both(billing_file(line(invoice="42"), name="a_fault.csv"), billing_file(line(invoice="0042"))),
         excluded("billing", "duplicate_line", "line_number")),
    Case("ids-with-spaces", billing_file(line(invoice=" nat-2026-03 ", number=" 1 ", client=" N1 ")),
         excluded("billing", "duplicate_line", "line_number")),
    Case("exact-duplicate-line", billing_file(line(invoice="nat-2026-03")), excluded("billing", "duplicate_line", "line_number")),
    Case("same-line-in-another-system-is-not-a-duplicate", billing_file(line(system="loc", invoice="nat-2026-03", client="L1")),
         Accepted(lambda c: _assert(billing_of(c, "L1") == Decimal("1300.00")))),
    # control characters
    Case("nul-in-client-name", clients_file({"source_system": "nat", "source_client_id": "N3", "name": "Umbrella\x00 Corp"}),
         kept("clients", "control_characters", "name", "kept_cleaned")),
    Case("line-break-in-quoted-name", clients_file({"source_system": "nat", "source_client_id": "N3", "name": "Umbrella\r\nCorp"}),
         Accepted(lambda c: _assert(values(c, "select name from staging.stg_clients__records where source_client_id = 'N3'")
                                    == ["Umbrella Corp"]), quarantine={("clients", "control_characters", "name", "kept_cleaned"): 1})),
    Case("bidi-override-in-name", clients_file({"source_system": "nat", "source_client_id": "N3", "name": "Evil\u202eCorp"}),
         kept("clients", "control_characters", "name", "kept_cleaned")),
    Case("nul-after-a-billing-id", billing_file(line(invoice="N0", client="N1\x00")),
         Accepted(lambda c: _assert(billing_of(c, "N1") == Decimal("1300.00")),
                  quarantine={("billing", "control_characters", "source_client_id", "kept_cleaned"): 1})),
    Case("control-character-inside-an-amount", billing_file(line(amount="12\x0034.00")),
         excluded("billing", "unparseable_amount", "amount")),
    Case("control-character-in-a-seller-name", lambda d: write_csv(d / "sellers.csv", ["owner_id", "seller_name", "team"],
                                                                    [["S1", "Sam\x07", "East"]]),
         Error(r"^sellers.csv: row 1, column seller_name: 'Sam\\x07' holds a control character")),
    # amounts and currencies
    Case("absurd-amount", billing_file(line(amount="5000000000.00")), excluded("billing", "absurd_amount", "amount")),
    Case("absurd-amount-below-a-lower-limit", billing_file(line(amount="20000.00")), excluded("billing", "absurd_amount", "amount"),
         env={"ALMS_MAX_LINE_AMOUNT": "10000"}),
    Case("amount-1e308", billing_file(line(amount="1e308")), excluded("billing", "unparseable_amount", "amount")),
    Case("amount-nan", billing_file(line(amount="NaN")), excluded("billing", "unparseable_amount", "amount")),
    Case("amount-infinity", billing_file(line(amount="-Infinity")), excluded("billing", "unparseable_amount", "amount")),
    Case("amount-thousands-separator", billing_file(line(amount="1,234.00")), excluded("billing", "unparseable_amount", "amount")),
    Case("amount-decimal-comma", billing_file(line(amount="12,50")), excluded("billing", "unparseable_amount", "amount")),
    Case("amount-currency-symbol", billing_file(line(amount="$12.50")), excluded("billing", "unparseable_amount", "amount")),
    Case("amount-seven-decimals", billing_file(line(amount="0.1234567")), excluded("billing", "unparseable_amount", "amount")),
    Case("amount-sixteen-digits", billing_file(line(amount="1234567890123456")), excluded("billing", "unparseable_amount", "amount")),
    Case("credit-note-nets", billing_file(line(invoice="CN1", amount="-40.00")),
         Accepted(lambda c: _assert(billing_of(c, "N1") == Decimal("1160.00")))),
    Case("unknown-currency", billing_file(line(currency="XYZ")), excluded("billing", "unknown_currency", "currency")),
    Case("lower-case-currency", billing_file(line(invoice="CA1", currency="cad", date="2026-03-02")),
         Accepted(lambda c: _assert(billing_of(c, "N1") == Decimal("1275.00")))),
    Case("missing-fx-month", billing_file(line(currency="CAD", date="2026-04-02")), excluded("billing", "missing_fx_rate", "currency")),
    Case("missing-value", billing_file(line(amount="")), excluded("billing", "missing_value", "amount")),
    Case("unknown-client", billing_file(line(client="N404")), excluded("billing", "unknown_client", "source_client_id")),
    Case("whitespace-only-client-id", billing_file(line(client="   ")), excluded("billing", "missing_value", "source_client_id")),
    # engagement, clients, deals, prospects
    Case("negative-quantity", events_file(event(quantity="-2")), excluded("engagement", "unparseable_quantity", "quantity")),
    Case("zero-quantity", events_file(event(quantity="0")), excluded("engagement", "unparseable_quantity", "quantity")),
    Case("fractional-quantity", events_file(event(quantity="1.5")), excluded("engagement", "unparseable_quantity", "quantity")),
    Case("event-dated-1901", events_file(event(date="1901-01-01")), excluded("engagement", "implausible_date", "event_date")),
    Case("event-date-other-format", events_file(event(date="March 3, 2026")), excluded("engagement", "unparseable_date", "event_date")),
    Case("event-unknown-client", events_file(event(client="N404")), excluded("engagement", "unknown_client", "source_client_id")),
    Case("bad-employee-count", clients_file({"source_system": "nat", "source_client_id": "N3", "name": "U", "employee_count": "lots"}),
         kept("clients", "unparseable_value", "employee_count", "kept_with_nulls")),
    Case("negative-employee-count", clients_file({"source_system": "nat", "source_client_id": "N3", "name": "U", "employee_count": "-5"}),
         kept("clients", "unparseable_value", "employee_count", "kept_with_nulls")),
    Case("employee-count-with-separator", clients_file({"source_system": "nat", "source_client_id": "N3", "name": "U",
                                                        "employee_count": "1,200"}),
         kept("clients", "unparseable_value", "employee_count", "kept_with_nulls")),
    Case("whitespace-only-name", clients_file({"source_system": "nat", "source_client_id": "N3", "name": "  \t "}),
         kept("clients", "missing_value", "name", "kept_with_nulls")),
    Case("duplicate-client-record", clients_file({"source_system": "nat", "source_client_id": "N1", "name": "Acme again"}),
         excluded("clients", "duplicate_record", "source_client_id")),
    Case("unknown-segment", clients_file({"source_system": "nat", "source_client_id": "N3", "name": "U", "segment": "global"}),
         kept("clients", "unparseable_value", "segment", "kept_with_nulls")),
    Case("very-long-name-kept-whole", clients_file({"source_system": "nat", "source_client_id": "N3", "name": LONG_NAME}),
         Accepted(lambda c: _assert(values(c, "select length(name) from staging.stg_clients__records "
                                              "where source_client_id = 'N3'") == [len(LONG_NAME)]))),
    Case("deal-negative-amount", deals_file(deal(amount="-5.00")), excluded("opportunities", "negative_amount", "amount")),
    Case("deal-probability-150", deals_file(deal(probability="150")), excluded("opportunities", "invalid_probability", "probability")),
    Case("deal-created-date-unparseable", deals_file(deal(created_date="yesterday")),
         excluded("opportunities", "unparseable_date", "created_date")),
    Case("deal-closing-in-1901", deals_file(deal(expected_close_date="1901-12-31")),
         excluded("opportunities", "implausible_date", "expected_close_date")),
    Case("duplicate-deal", deals_file(deal(opportunity_id="O1")), excluded("opportunities", "duplicate_opportunity", "opportunity_id")),
    Case("prospect-created-date-unparseable", replace_in("prospects.csv", "2026-02-01", "01.02.2026"),
         kept("prospects", "unparseable_value", "created_date", "kept_with_nulls")),
    # reference inputs stop the run
    Case("fx-rate-negative", lambda d: write_csv(d / "fx_rates.csv", ["currency", "month", "rate_to_reporting"], [["CAD", "2026-03", "-1"]]),
         Error(r"^fx_rates.csv: row 1, column rate_to_reporting: '-1' is not a positive number")),
    Case("fx-rate-repeated", lambda d: write_csv(d / "fx_rates.csv", ["currency", "month", "rate_to_reporting"],
                                                 [["CAD", "2026-03", "0.7"], ["CAD", "2026-03-01", "0.8"]]),
         Error(r"^fx_rates.csv: row 1 and fx_rates.csv: row 2 have the same currency \+ month_start")),
    Case("seller-repeated", lambda d: write_csv(d / "sellers.csv", ["owner_id", "seller_name"], [["S1", "Sam"], ["S1", "Sue"]]),
         Error(r"^sellers.csv: row 1 and sellers.csv: row 2 have the same owner_id \(S1\)")),
    # settings
    Case("setting-min-date-not-a-date", lambda d: None, Error(r"^ALMS_MIN_DATE='01/01/2000' is not a date", SettingsError),
         env={"ALMS_MIN_DATE": "01/01/2000"}),
    Case("setting-min-date-in-the-future", lambda d: None, Error(r"^ALMS_MIN_DATE=2999-01-01 must lie between", SettingsError),
         env={"ALMS_MIN_DATE": "2999-01-01"}),
    Case("setting-month-share-above-1", lambda d: None, Error(r"^ALMS_MIN_MONTH_SHARE must be a share from 0 to 1", SettingsError),
         env={"ALMS_MIN_MONTH_SHARE": "1.5"}),
    Case("setting-month-share-not-a-number", lambda d: None, Error(r"^ALMS_MIN_MONTH_SHARE='half' is not a number", SettingsError),
         env={"ALMS_MIN_MONTH_SHARE": "half"}),
    Case("setting-accept-gaps-without-month", lambda d: None,
         Error(r"^ALMS_ACCEPT_GAPS: 'nat' is not system:YYYY-MM, system:YYYY-MM..YYYY-MM or system:YYYY-MM..", SettingsError),
         env={"ALMS_ACCEPT_GAPS": "nat"}),
    Case("setting-accept-gaps-month-13", lambda d: None, Error(r"^ALMS_ACCEPT_GAPS: 'nat:2026-13': 2026-13 is not a month", SettingsError),
         env={"ALMS_ACCEPT_GAPS": "loc:2026-01, nat:2026-13"}),
    Case("setting-accept-gaps-backwards-range", lambda d: None, Error(r"the range ends before it starts", SettingsError),
         env={"ALMS_ACCEPT_GAPS": "nat:2026-05..2026-02"}),
    Case("setting-max-line-amount-negative", lambda d: None, Error(r"^ALMS_MAX_LINE_AMOUNT must be positive", SettingsError),
         env={"ALMS_MAX_LINE_AMOUNT": "-1"}),
    # completeness of billing and engagement per system and month
    Case("month-of-a-system-missing", drop_billing("nat", ["2026-10"]),
         Accepted(lambda c: _assert(gaps(c) == [("nat", "2026-10", "missing", None, True)]))),
    Case("missing-month-accepted", drop_billing("nat", ["2026-10"]),
         Accepted(lambda c: _assert(gaps(c) == [("nat", "2026-10", "missing", "nat:2026-10", False)])),
         env={"ALMS_ACCEPT_GAPS": "nat:2026-10"}),
    Case("month-below-half-the-median", scale_billing("loc", "2026-07", "40.00"),
         Accepted(lambda c: _assert(gaps(c) == [("loc", "2026-07", "below_share", None, True)]))),
    Case("month-below-a-lower-share-passes", scale_billing("loc", "2026-07", "40.00"),
         Accepted(lambda c: _assert(gaps(c) == [])), env={"ALMS_MIN_MONTH_SHARE": "0.3"}),
    Case("system-starting-mid-window", both(clients_file({"source_system": "new", "source_client_id": "W1", "name": "W"}),
                                            billing_file(*[line("new", f"S{m}", "1", "W1", f"{m}-12") for m in MONTHS[11:18]])),
         Accepted(lambda c: _assert(gaps(c) == [("new", m, "not_started", None, False) for m in MONTHS[6:11]]))),
    Case("system-that-stopped-billing", drop_billing("loc", MONTHS[14:]),
         Accepted(lambda c: _assert([g[:3] + (g[4],) for g in gaps(c)] == [("loc", m, "missing", True) for m in MONTHS[14:18]]))),
    Case("stopped-system-accepted-open-ended", drop_billing("loc", MONTHS[14:]),
         Accepted(lambda c: _assert(not any(g[4] for g in gaps(c)))), env={"ALMS_ACCEPT_GAPS": "loc:2026-07.."}),
    Case("engagement-month-missing", replace_in("engagement/nat.csv", "nat,N1,2026-09-10,meeting,\n", ""),
         Accepted(lambda c: _assert(gaps(c, "engagement_completeness") == [("nat", "2026-09", "missing", None, True)]))),
]
# fmt: on


def _assert(condition: bool) -> None:
    assert condition


@pytest.fixture(autouse=True)
def _undo_os_patches():
    yield
    while UNDO:
        name, original = UNDO.pop()
        setattr(os, name, original)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path):
    data_dir = good_inputs(tmp_path / "inputs")
    case.fault(data_dir)
    if isinstance(case.expect, Error):
        with pytest.raises(case.expect.kind) as raised:
            ingest(data_dir, case.env)
        message = str(raised.value)
        assert "\n" not in message, message
        assert re.search(case.expect.message, message), message
        return
    conn = ingest(data_dir, case.env)
    found = {
        (i, r, c, a): n
        for i, r, c, a, n in rows(
            conn, "select input_name, reason, column_name, action, count(*) from marts.quarantined_rows group by all"
        )
    }
    expected = case.expect.found if isinstance(case.expect, Quarantined) else case.expect.quarantine
    assert found == expected
    if isinstance(case.expect, Accepted):
        case.expect.then(conn)
    assert_every_row_accounted(conn)


def test_the_suite_has_sixty_cases_or_more():
    assert len(CASES) >= 60 and len({c.id for c in CASES}) == len(CASES)


def test_the_good_folder_is_clean_and_complete(tmp_path):
    conn = ingest(good_inputs(tmp_path))
    assert rows(conn, "select count(*) from marts.quarantined_rows") == [(0,)]
    assert gaps(conn) == [] and gaps(conn, "engagement_completeness") == []
    assert rows(conn, "select as_of_date, window_start_date from intermediate.int_reporting_windows_resolved") == [
        (dt.date(2026, 10, 31), dt.date(2025, 11, 1))
    ]
    assert_every_row_accounted(conn)


def test_a_gap_is_described_in_one_line_with_the_setting_that_accepts_it():
    text = describe_gaps(
        [
            ("nat_erp", "2026-10", "missing", Decimal("0"), Decimal("3461452.61")),
            ("loc", "2026-07", "below_share", Decimal("40.00"), Decimal("100.00")),
        ],
        "USD",
        0.5,
    )
    assert text == (
        "nat_erp has no billing in 2026-10 (it had some in the months before); loc has 40.00 USD of billing in "
        "2026-07, below 50% (ALMS_MIN_MONTH_SHARE) of its trailing median 100.00 USD; if the data is complete, accept "
        "with ALMS_ACCEPT_GAPS=nat_erp:2026-10,loc:2026-07 (a system that stopped: ALMS_ACCEPT_GAPS=<system>:<first "
        "month>..)"
    )
