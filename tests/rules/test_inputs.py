"""The file-level contract: every bad file gives an InputError naming the file (and row or column)."""

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import BILLING_COLUMNS, line, write_csv

from assets.rules.inputs import BILLING, CLIENTS, FX_RATES, InputError, find_input_files, read_input


def billing_file(data_dir: Path, name: str = "b.csv", rows=None) -> Path:
    rows = rows if rows is not None else [line("nat", "I1", 1, "N1", "2026-01-15", "10.00")]
    return write_csv(data_dir / "billing" / name, BILLING_COLUMNS, rows)


def test_reads_several_files_with_source_file_and_row(tmp_path):
    billing_file(
        tmp_path,
        "a.csv",
        [line("nat", "I1", 1, "N1", "2026-01-15", "1"), line("nat", "I2", 1, "N1", "2026-01-15", "2")],
    )
    billing_file(tmp_path, "b.csv")
    frame, report = read_input(tmp_path, BILLING)
    assert frame.height == 3
    assert frame.select("source_file", "source_row").rows() == [
        ("billing/a.csv", 1),
        ("billing/a.csv", 2),
        ("billing/b.csv", 1),
    ]
    assert report["files"] == {"billing/a.csv": 2, "billing/b.csv": 1}
    assert all(frame.schema[c] == pl.String for c in BILLING_COLUMNS)


def test_parquet_input_is_read_as_text(tmp_path):
    (tmp_path / "billing").mkdir()
    pl.DataFrame(
        {
            "source_system": ["nat"],
            "invoice_id": ["I1"],
            "line_number": [1],
            "source_client_id": ["N1"],
            "invoice_date": [date(2026, 1, 15)],
            "amount": [12.5],
            "currency": ["USD"],
        }
    ).write_parquet(tmp_path / "billing" / "b.parquet")
    frame, _ = read_input(tmp_path, BILLING)
    assert frame.row(0, named=True)["invoice_date"] == "2026-01-15"
    assert frame.row(0, named=True)["line_number"] == "1"
    assert frame.row(0, named=True)["amount"] == "12.5"


def test_missing_required_column_names_file_and_column(tmp_path):
    write_csv(
        tmp_path / "billing" / "b.csv",
        [c for c in BILLING_COLUMNS if c != "currency"],
        [["nat", "I1", "1", "N1", "2026-01-01", "1"]],
    )
    with pytest.raises(InputError, match=r"billing/b.csv: required column currency is missing"):
        read_input(tmp_path, BILLING)


def test_optional_columns_may_be_absent(tmp_path):
    write_csv(tmp_path / "clients" / "c.csv", ["source_system", "source_client_id", "name"], [["nat", "N1", "Acme"]])
    frame, _ = read_input(tmp_path, CLIENTS)
    assert frame["domain"].to_list() == [None]


def test_extra_columns_are_reported(tmp_path):
    write_csv(
        tmp_path / "billing" / "b.csv",
        [*BILLING_COLUMNS, "note"],
        [["nat", "I1", "1", "N1", "2026-01-01", "1", "USD", "x"]],
    )
    frame, report = read_input(tmp_path, BILLING)
    assert "note" not in frame.columns
    assert report["ignored_columns"] == {"billing/b.csv": ["note"]}


def test_header_names_are_trimmed_and_case_insensitive(tmp_path):
    write_csv(
        tmp_path / "billing" / "b.csv",
        [f" {c.upper()} " for c in BILLING_COLUMNS],
        [["nat", "I1", "1", "N1", "2026-01-01", "1", "USD"]],
    )
    frame, _ = read_input(tmp_path, BILLING)
    assert frame.height == 1


def test_empty_file_is_an_error(tmp_path):
    (tmp_path / "billing").mkdir()
    (tmp_path / "billing" / "b.csv").write_bytes(b"")
    with pytest.raises(InputError, match=r"billing/b.csv: empty file"):
        read_input(tmp_path, BILLING)


def test_header_only_file_is_reported_not_an_error(tmp_path):
    billing_file(tmp_path, "a.csv")
    billing_file(tmp_path, "empty.csv", rows=[])
    frame, report = read_input(tmp_path, BILLING)
    assert frame.height == 1
    assert report["files_without_rows"] == ["billing/empty.csv"]


def test_broken_encoding_names_the_line(tmp_path):
    path = billing_file(
        tmp_path,
        "b.csv",
        [line("nat", "I1", 1, "N1", "2026-01-15", "1"), line("nat", "I2", 1, "N1", "2026-01-15", "2")],
    )
    path.write_bytes(path.read_bytes().replace(b"I2", "Ï2".encode("latin-1")))
    with pytest.raises(InputError, match=r"billing/b.csv: line 3 \(data row 2\) is not valid UTF-8"):
        read_input(tmp_path, BILLING)


def test_row_with_too_many_fields_names_the_line(tmp_path):
    path = billing_file(tmp_path)
    path.write_text(path.read_text() + "nat,I2,1,N1,2026-01-15,2.00,USD,surplus\n")
    with pytest.raises(InputError, match=r"billing/b.csv: line 3 \(data row 2\) has 8 fields but the header has 7"):
        read_input(tmp_path, BILLING)


def test_duplicated_header_column_is_an_error(tmp_path):
    write_csv(
        tmp_path / "billing" / "b.csv",
        [*BILLING_COLUMNS, "amount"],
        [["nat", "I1", "1", "N1", "2026-01-01", "1", "USD", "2"]],
    )
    with pytest.raises(InputError, match="column amount appears more than once"):
        read_input(tmp_path, BILLING)


def test_unsupported_file_type_is_an_error_and_hidden_files_are_ignored(tmp_path):
    billing_file(tmp_path)
    (tmp_path / "billing" / ".~lock.b.csv#").write_text("x")
    (tmp_path / "billing" / "_notes.txt").write_text("x")
    assert [p.name for p in find_input_files(tmp_path, BILLING)] == ["b.csv"]
    (tmp_path / "billing" / "march.xlsx").write_bytes(b"PK")
    with pytest.raises(InputError, match=r"billing/march.xlsx: unsupported file type '.xlsx'"):
        find_input_files(tmp_path, BILLING)


def test_broken_parquet_is_an_error(tmp_path):
    (tmp_path / "billing").mkdir()
    (tmp_path / "billing" / "b.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"billing/b.parquet: not a readable Parquet file"):
        read_input(tmp_path, BILLING)


def test_missing_required_input_and_missing_folder_are_errors(tmp_path):
    with pytest.raises(InputError, match="no billing files in"):
        read_input(tmp_path, BILLING)
    with pytest.raises(InputError, match="does not exist"):
        read_input(tmp_path / "nowhere", BILLING)


def test_optional_input_may_be_absent(tmp_path):
    frame, report = read_input(tmp_path, FX_RATES)
    assert frame.height == 0
    assert set(frame.columns) >= {"currency", "month", "rate_to_reporting", "source_file", "source_row"}
