"""compare_publications on two tiny output folders: identical ones, one changed cell, a changed column, an ignored
column, scoring inputs compared whatever their row order, and a publication compared with one made before
renames."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.commands.compare_publications import compare_folders, main
from schemas.renamed import OldNames

ACCOUNTS = [
    ("A1", "Acme", Decimal("120.50"), dt.date(2026, 10, 31), 1.5),
    ("A2", "Globex", Decimal("80.00"), dt.date(2026, 10, 31), None),
]


def output_folder(root: Path, accounts=ACCOUNTS, *, run_id="run-1", column_type="decimal(38, 2)", inputs=(1, 2, 3)):
    """An output folder as alms publishes one: publications/<name>/ with alms.duckdb, parquet/, scoring_inputs/ and
    crm/, and `current` pointing at it."""
    publication = root / "publications" / "20261130T000000Z-run"
    for folder in ("parquet", "scoring_inputs", "crm"):
        (publication / folder).mkdir(parents=True)
    with duckdb.connect(str(publication / "alms.duckdb")) as conn:
        conn.execute("create schema marts")
        conn.execute(
            f"create table marts.accounts (account_id varchar, account_name varchar, billing_12m {column_type}, "
            "as_of_date date, score double)"
        )
        conn.executemany("insert into marts.accounts values (?, ?, ?, ?, ?)", accounts)
        conn.execute("create table marts.key_levels as select 1.0 as key_level, ? as run_id", [run_id])
        for table in ("accounts", "key_levels"):
            conn.execute(f"copy marts.{table} to '{publication / 'parquet' / table}.parquet' (format parquet)")
        conn.execute(
            f"copy (select unnest(?::int[]) as source_row) to '{publication / 'scoring_inputs'}/opportunities.parquet' "
            "(format parquet)",
            [list(inputs)],
        )
    (publication / "crm" / "alms_crm_import_2026-10-31.csv").write_text("account_id,designation\nA1,key\n")
    os.symlink(Path("publications") / publication.name, root / "current")
    return root


def test_identical_folders(tmp_path, capsys):
    old, new = output_folder(tmp_path / "old"), output_folder(tmp_path / "new", inputs=(3, 1, 2))
    assert main([str(old), str(new)]) == 0
    out = capsys.readouterr().out
    # accounts 2 + key_levels 1, their Parquet copies 2 + 1, the scoring input 3 (in another order), the CRM file 2 lines
    assert out.strip() == "identical: 6 tables, 11 rows"


def test_a_changed_cell_is_reported_with_its_row_and_column(tmp_path, capsys):
    changed = [ACCOUNTS[0], ("A2", "Globex", Decimal("80.01"), dt.date(2026, 10, 31), None)]
    old, new = output_folder(tmp_path / "old"), output_folder(tmp_path / "new", changed)
    assert main([str(old), str(new)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "marts.accounts: row 2, billing_12m: Decimal('80.00') -> Decimal('80.01')" in lines
    assert "parquet/accounts: row 2, billing_12m: Decimal('80.00') -> Decimal('80.01')" in lines
    assert lines[-1].startswith("different (6 tables compared")


def test_rows_in_another_order_differ_where_the_order_is_published(tmp_path, capsys):
    old, new = output_folder(tmp_path / "old"), output_folder(tmp_path / "new", ACCOUNTS[::-1])
    assert main([str(old), str(new), "--show", "1"]) == 1
    out = capsys.readouterr().out
    assert "marts.accounts: row 1, account_id: 'A1' -> 'A2'" in out
    assert "marts.accounts: ... and 7 more differing cells" in out


def test_a_column_type_or_row_count_difference_is_reported(tmp_path, capsys):
    old = output_folder(tmp_path / "old")
    new = output_folder(tmp_path / "new", ACCOUNTS[:1], column_type="decimal(18, 2)")
    assert main([str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "marts.accounts: columns differ: types: billing_12m DECIMAL(38,2) -> DECIMAL(18,2)" in out
    old2, new2 = output_folder(tmp_path / "old2"), output_folder(tmp_path / "new2", ACCOUNTS[:1])
    assert main([str(old2), str(new2)]) == 1
    assert "marts.accounts: 2 rows in the old publication, 1 in the new" in capsys.readouterr().out


@pytest.mark.parametrize("flags", [["--ignore", "key_levels.run_id"], ["--ignore-run-columns"]])
def test_run_columns_can_be_left_out(tmp_path, capsys, flags):
    old, new = output_folder(tmp_path / "old"), output_folder(tmp_path / "new", run_id="run-2")
    assert main([str(old), str(new)]) == 1
    assert "marts.key_levels: row 1, run_id: 'run-1' -> 'run-2'" in capsys.readouterr().out
    assert main([str(old), str(new), *flags]) == 0
    assert "columns left out: " in capsys.readouterr().out


def test_a_table_only_on_one_side_and_a_missing_folder(tmp_path, capsys):
    old, new = output_folder(tmp_path / "old"), output_folder(tmp_path / "new")
    (Path(os.path.realpath(new / "current")) / "crm" / "extra.csv").write_text("x\n")
    assert main([str(old), str(new)]) == 1
    assert f"crm/extra.csv: only in {new}" in capsys.readouterr().out
    assert main([str(old), str(tmp_path / "nowhere")]) == 2


def renamed_publication(root: Path, accounts=ACCOUNTS) -> Path:
    """`output_folder` as a later version publishes it: marts.accounts is marts.clients_ranked, its score column is
    priority_score, and alms.duckdb still answers to the old names (a view, the column repeated under its old name)."""
    output_folder(root, accounts)
    publication = Path(os.path.realpath(root / "current"))
    with duckdb.connect(str(publication / "alms.duckdb")) as conn:
        conn.execute("alter table marts.accounts rename to clients_ranked")
        conn.execute("alter table marts.clients_ranked rename column score to priority_score")
        conn.execute(
            "create view marts.accounts as select * rename (priority_score as score) from marts.clients_ranked"
        )
        conn.execute("alter table marts.key_levels rename column key_level to key_level_usd")
        conn.execute("alter table marts.key_levels add column key_level decimal(2, 1)")
        conn.execute("update marts.key_levels set key_level = key_level_usd")
        (publication / "parquet" / "accounts.parquet").unlink()
        conn.execute(
            f"copy marts.clients_ranked to '{publication / 'parquet'}/clients_ranked.parquet' (format parquet)"
        )
        conn.execute(
            f"copy (select * exclude (key_level) from marts.key_levels) to '{publication / 'parquet'}/key_levels.parquet' "
            "(format parquet)"
        )
    return root


def test_renamed_compares_an_older_publication_under_the_new_names(tmp_path):
    renamed = {
        "clients_ranked": OldNames("accounts", {"priority_score": "score"}),
        "key_levels": OldNames("key_levels", {"key_level_usd": "key_level"}),
    }
    old, new = output_folder(tmp_path / "old"), renamed_publication(tmp_path / "new")
    differences, compared = compare_folders(old, new)
    assert "marts.accounts: only in " + str(old) in differences  # the view is not a table
    assert compare_folders(old, new, renamed=renamed) == ([], {"tables": 6, "rows": 11, "ignored": []})
    changed = [ACCOUNTS[0], ("A2", "Globex", Decimal("80.00"), dt.date(2026, 10, 31), 2.5)]
    differences, _ = compare_folders(old, renamed_publication(tmp_path / "changed", changed), renamed=renamed)
    assert differences == [
        "marts.clients_ranked: row 2, priority_score: None -> 2.5",
        "parquet/clients_ranked: row 2, priority_score: None -> 2.5",
    ]
