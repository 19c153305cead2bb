"""The Spark engine (ALMS_ENGINE=spark, docs/spark.md): the whole demo on local Spark against the DuckDB engine, and
the transpiler's rewrites on the smallest SQL that shows each. `make test-spark` runs these (pyspark, Java)."""

import json
import os
import subprocess
import sys

import duckdb
import polars as pl
import pytest

from assets.resources import REPO_ROOT
from schemas import PUBLISHED_TABLES

pytestmark = pytest.mark.spark

sqlglot = pytest.importorskip("sqlglot", reason="make install-spark")

# What differs between any two runs, whatever the engine: when and by which run a row was computed
RUN_COLUMNS = {"computed_at", "rerun_at", "run_id"}


# --- the transpiler (assets/rules/spark_sql.py): strings only, no Spark ------------------------------------------------


def spark_sql(sql: str, paths: dict | None = None) -> str:
    from assets.rules.spark_sql import to_spark_sql

    return to_spark_sql(sql, paths or {})


def test_tables_are_read_from_their_parquet_folders_under_their_own_names():
    sql = spark_sql(
        "select staging.x.a, y.b from staging.x join marts.y on x.k = y.k",
        {("staging", "x"): "/w/staging/x", ("marts", "y"): "/w/marts/y"},
    )
    assert "parquet.`/w/staging/x` AS x" in sql and "parquet.`/w/marts/y` AS y" in sql
    assert "staging.x" not in sql.replace("`/w/staging/x`", "")


def test_parameters_stay_parameters():
    sql = spark_sql("select * from t where d >= $min_date and c = $reporting_currency")
    assert ":min_date" in sql and ":reporting_currency" in sql


def test_full_match_is_anchored():
    sql = spark_sql(r"select regexp_full_match(v, '[0-9]+(\.0+)?') from t")
    assert "RLIKE CONCAT('^(?:', '[0-9]+(\\\\.0+)?', ')$')" in sql


def test_array_agg_of_nothing_is_null_as_in_duckdb():
    sql = spark_sql("select list_sort(array_agg(distinct o) filter (where o is not null)) as os from t group by g")
    assert "CASE WHEN SIZE(COLLECT_LIST(DISTINCT o) FILTER(WHERE NOT o IS NULL)) = 0 THEN NULL" in sql


def test_parallel_unnests_are_zipped_into_one_generator():
    sql = spark_sql("select unnest(cast($a as varchar[])) as entry, unnest(cast($b as date[])) as month")
    assert sql.count("INLINE(") == 1 and "EXPLODE" not in sql
    assert "NAMED_STRUCT('entry', x, 'month', ELEMENT_AT(CAST(:b AS ARRAY<DATE>), i + 1))" in sql


def test_a_cast_unnest_casts_the_elements():
    sql = spark_sql("select s, cast(unnest(generate_series(a, b, interval 1 month)) as date) as month from t")
    assert "EXPLODE(TRANSFORM(SEQUENCE(a, b, INTERVAL '1' MONTH), v -> CAST(v AS DATE))) AS month" in sql


def test_division_is_in_doubles_as_in_duckdb():
    assert "CAST(a AS DOUBLE) / b" in spark_sql("select a / b from t")


def test_a_windowed_median_is_the_middle_of_the_sorted_window():
    sql = spark_sql("select median(x) over w from t window w as (order by m rows between 6 preceding and 1 preceding)")
    assert "MEDIAN" not in sql and "ARRAY_SORT(COLLECT_LIST(x) OVER w)" in sql


def test_to_months_is_a_year_month_interval():
    assert "MAKE_YM_INTERVAL(0, :n)" in spark_sql("select d - to_months($n) from t")


def test_every_model_transpiles():
    from assets.rules.spark_sql import to_spark_sql
    from pipelines.sql_models import load_sql_models

    for model in load_sql_models():
        paths = {table: f"/w/{table[0]}/{table[1]}" for table in model.reads}
        sql = to_spark_sql(model.sql, paths)
        for name in model.parameters:
            assert f":{name}" in sql, (model.name, name)


# --- the whole demo on both engines --------------------------------------------------------------------------------


def run_cli(tmp_path, name: str, engine: str, data_dir):
    home = tmp_path / f"dagster_home_{name}"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "ALMS_DATA_DIR": str(data_dir),
        "ALMS_OUTPUT_DIR": str(tmp_path / name),
        "DAGSTER_HOME": str(home),
        "ALMS_ENGINE": engine,
    }
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.commands", "run"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return tmp_path / name, result.stdout


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory):
    pytest.importorskip("pyspark", reason="make install-spark")
    tmp_path = tmp_path_factory.mktemp("engines")
    data_dir = tmp_path / "demo"
    subprocess.run(
        [sys.executable, "-m", "pipelines.commands", "generate", str(data_dir)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    duck = run_cli(tmp_path, "duckdb", "duckdb", data_dir)
    spark = run_cli(tmp_path, "spark", "spark", data_dir)
    return duck, spark


def published(output_dir, table: tuple[str, str]) -> pl.DataFrame:
    with duckdb.connect(str(output_dir / "alms.duckdb"), read_only=True) as conn:
        return conn.sql(f"select * from {table[0]}.{table[1]}").pl()


def test_spark_says_it_built_the_publication(both_engines):
    (duck_dir, duck_out), (spark_dir, spark_out) = both_engines
    assert json.loads((spark_dir / "manifest.json").read_text())["engine"] == "spark"
    assert json.loads((duck_dir / "manifest.json").read_text())["engine"] == "duckdb"
    assert "engine:    spark" in spark_out and "engine:    duckdb" in duck_out
    # the SQL models' tables are Parquet under the Spark warehouse folder
    warehouse = spark_dir / "work" / "spark-warehouse"
    assert list((warehouse / "staging" / "stg_billing__checked_lines").glob("*.parquet"))
    assert list((warehouse / "marts" / "quarantined_rows").glob("*.parquet"))


@pytest.mark.parametrize("table", list(PUBLISHED_TABLES), ids=lambda t: t[1])
def test_every_published_table_is_the_same_on_both_engines(both_engines, table):
    (duck_dir, _), (spark_dir, _) = both_engines
    duck, spark = published(duck_dir, table), published(spark_dir, table)
    assert spark.schema == duck.schema  # same columns, same types: decimals keep their scale, so cents are cents
    columns = [c for c in duck.columns if c not in RUN_COLUMNS]
    # the published row order is part of the contract (schemas.PUBLISHED): compared row by row, in that order
    assert spark.select(columns).equals(duck.select(columns)), table


def test_what_people_act_on_is_identical(both_engines):
    """The bar of the Spark engine, said in the business's words (the table comparison above implies it)."""
    (duck_dir, _), (spark_dir, _) = both_engines
    key = ["account_id"]
    for table, columns in {
        ("marts", "accounts"): ["is_key_account", "billing_12m", "billing_rank", "key_level"],
        ("marts", "account_scores"): ["tier", "priority_score"],
        ("marts", "seller_account_lists"): ["designation", "owner_id"],
    }.items():
        duck = published(duck_dir, table).select(*key, *columns).sort(key)
        spark = published(spark_dir, table).select(*key, *columns).sort(key)
        assert spark.equals(duck), table
    duck_level, spark_level = (
        published(duck_dir, ("marts", "key_levels")),
        published(spark_dir, ("marts", "key_levels")),
    )
    assert spark_level["key_level"].to_list() == duck_level["key_level"].to_list()
    assert str(duck_level["key_level"].dtype).startswith("Decimal")  # money in cents, never a float
