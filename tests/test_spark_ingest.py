"""Raw ingest on the Spark engine (assets/rules/spark_ingest.py): bad-input cases of tests/test_bad_inputs.py run with
the transactional inputs read, typed and validated by Spark, and must end as they do on the DuckDB engine: the same
one-line error, or the same quarantine rows and the same raw tables. One local Spark session for the module."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import polars as pl
import pytest

from assets.rules import inputs
from tests import test_bad_inputs as bad

pytestmark = pytest.mark.spark

SPARK_READ = ("billing_lines", "clients", "engagement_events", "opportunities")  # per_file inputs (assets/raw.py)
CASE_IDS = [
    "row-with-fewer-fields",
    "missing-required-column",
    "latin-1-encoding",
    "unterminated-quote",
    "stray-quote-inside-a-value",
    "blank-lines",
    "mixed-line-ends",
    "utf-8-bom",
    "extra-column-ignored",
    "header-only",
    "parquet-float-with-binary-noise",
    "parquet-list-column",
    # values: a bad date, a bad amount, control characters, a bad quantity, a bad optional value
    "date-february-30",
    "amount-decimal-comma",
    "missing-value",
    "nul-in-client-name",
    "control-character-inside-an-amount",
    "fractional-quantity",
    "bad-employee-count",
    "deal-probability-150",
]
BY_ID = {case.id: case for case in bad.CASES}
# a file name Spark spells as a URI (space, plus, accent): its rows must still be that file's
BY_ID["file-name-with-space-plus-accent"] = bad.Case(
    "file-name-with-space-plus-accent",
    bad.billing_file(bad.line(invoice="Q1", date="2026-03-11"), name="zz odd+name é.csv"),
    bad.Accepted(
        lambda c: bad._assert(
            bad.values(c, "select rows_loaded from marts.input_files where source_file = 'billing/zz odd+name é.csv'")
            == [1]
        )
    ),
)
CASE_IDS.append("file-name-with-space-plus-accent")
SPECS = {name: bad.RAW[name][0] for name in SPARK_READ}
PARSE = {name: bad.RAW[name][1] for name in SPARK_READ}


@pytest.fixture(scope="module")
def session():
    pytest.importorskip("pyspark", reason="make install-spark")
    from assets.spark import start_session

    return start_session("local[2]", "1g", 2)


def spark_ingest(session, data_dir: Path, monkeypatch, warehouse: Path):
    """tests/test_bad_inputs.py's `ingest`, with the transactional raw tables read by Spark."""
    from assets.rules.spark_ingest import ingest_on_spark

    original = bad.inputs.read_input
    read_by_spark = []

    def read_input(data_dir_, spec, progress=None):
        name = next((n for n in SPARK_READ if SPECS[n] is spec), None)
        if name is None:
            return original(data_dir_, spec, progress)
        parse = PARSE[name]
        folder = warehouse / name
        read_by_spark.append(name)
        ingest_on_spark(
            session,
            Path(data_dir_),
            spec,
            parse,
            bad.SCHEMAS_BY_TABLE[("raw", name)],
            inputs.find_input_files(Path(data_dir_), spec),
            inputs.new_report(),
            str(folder),
            batch_rows=5,  # several files per batch, and batches that end inside a partition
        )
        typed = pl.read_parquet(folder / "*.parquet").sort("source_file", "source_row")
        return typed, inputs.new_report()

    with monkeypatch.context() as patch:
        # the typed Spark table goes through the harness unchanged: its "parse" is the identity for these inputs
        patch.setattr(bad.inputs, "read_input", read_input)
        patch.setattr(bad, "RAW", {n: (s, (lambda f: f) if n in SPARK_READ else p) for n, (s, p) in bad.RAW.items()})
        try:
            return bad.ingest(data_dir)
        finally:
            assert read_by_spark == list(SPARK_READ)[: len(read_by_spark)] and read_by_spark, read_by_spark


def duckdb_raw(data_dir: Path) -> dict[str, pl.DataFrame]:
    return {n: PARSE[n](inputs.read_input(data_dir, SPECS[n])[0]) for n in SPARK_READ}


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_a_bad_input_ends_as_on_the_duckdb_engine(session, case_id, monkeypatch):
    case = BY_ID[case_id]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = bad.good_inputs(Path(tmp) / "inputs")
        case.fault(data_dir)
        warehouse = Path(tmp) / "warehouse"
        if isinstance(case.expect, bad.Error):
            with pytest.raises(case.expect.kind) as raised:
                spark_ingest(session, data_dir, monkeypatch, warehouse)
            message = str(raised.value)
            assert "\n" not in message, message
            assert re.search(case.expect.message, message), message
            with pytest.raises(case.expect.kind) as on_duckdb:  # the very same line as the DuckDB engine's
                bad.ingest(data_dir)
            assert message == str(on_duckdb.value)
            return
        conn = spark_ingest(session, data_dir, monkeypatch, warehouse)
        found = {
            (i, r, c, a): n
            for i, r, c, a, n in bad.rows(
                conn,
                "select input_name, reason, column_name, action, count(*) from marts.quarantined_rows group by all",
            )
        }
        expected = case.expect.found if isinstance(case.expect, bad.Quarantined) else case.expect.quarantine
        assert found == expected
        if isinstance(case.expect, bad.Accepted):
            case.expect.then(conn)
        bad.assert_every_row_accounted(conn)
        for name, duck in duckdb_raw(data_dir).items():  # the raw tables themselves, row by row
            spark = conn.sql(f"select * from raw.{name} order by source_file, source_row").pl()
            assert spark.schema == duck.schema, name
            assert spark.equals(duck.sort("source_file", "source_row")), name
