"""The Spark engine (ALMS_ENGINE=spark, docs/spark.md): the whole demo on local Spark against the DuckDB engine, and
the transpiler's rewrites on the smallest SQL that shows each. `make test-spark` runs these (pyspark, Java)."""

import json
import os
import random
import subprocess
import sys

import duckdb
import polars as pl
import pytest
from conftest import new_dagster_home

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


def test_a_lambda_index_counts_from_one_as_in_duckdb():
    sql = spark_sql("select list_transform(xs, lambda x, i: x * i + t.i) from t")
    assert "(x, i_from_zero) -> x * (i_from_zero + 1) + t.i" in sql


def test_list_folds_skip_nulls_as_in_duckdb():
    sql = spark_sql("select list_bit_or(xs), list_sum(ys) from t")
    assert "AGGREGATE(xs, CAST(NULL AS BIGINT)" in sql and "fold_acc | fold_x" in sql
    assert "AGGREGATE(ys, CAST(NULL AS DOUBLE)" in sql and "fold_acc + fold_x" in sql


def test_a_similarity_screen_is_computed_once():
    sql = spark_sql(
        "select case when jaro_winkler_similarity(a, b, 0.87) = 0 then false "
        "else jaro_winkler_similarity(a, b) >= 0.88 end from t"
    )
    assert sql.count("ENCODE(a, 'UTF-8')") == 1 and "JAROWINKLER" not in sql.upper().replace("JARO_WINKLER", "")


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
    home = new_dagster_home(tmp_path / f"dagster_home_{name}")
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


# --- the client matcher's pairs on Spark (assets/rules/spark_resolution.py) -----------------------------------------


@pytest.fixture(scope="module")
def session():
    pytest.importorskip("pyspark", reason="make install-spark")
    from assets.spark import start_session

    return start_session("local[2]", "2g", 4)


def random_strings(count: int, seed: int) -> list[tuple[str | None, str | None]]:
    """Pairs of words and names as the matcher compares them: typos, transpositions, insertions, shared prefixes,
    empty and one-letter strings, non-ASCII letters (DuckDB compares bytes), names past 64 bytes, nulls."""
    rng = random.Random(seed)
    alphabet = "abcdeéfghijklmnopqrstuvwxyz0 ß"
    pairs = [(None, "a"), ("a", None), ("", ""), ("a", ""), ("a", "a"), ("a", "b"), ("ab", "ba"), ("martha", "marhta")]
    while len(pairs) < count:
        left = "".join(rng.choice(alphabet) for _ in range(rng.choice([1, 2, 3, 4, 5, 6, 8, 12, 20, 70])))
        right = list(left)
        for _ in range(rng.randint(0, 3)):
            if right and rng.random() < 0.5:
                right[rng.randrange(len(right))] = rng.choice(alphabet)
            else:
                right.insert(rng.randint(0, len(right)), rng.choice(alphabet))
        pairs.append((left, "".join(right)))
    return pairs


def test_jaro_winkler_in_spark_sql_is_duckdbs_to_the_bit(session, tmp_path):
    """Spark has no Jaro-Winkler: the transpiler writes DuckDB's out in Spark SQL (spark_sql.jaro_winkler_sql).
    Every value equal to DuckDB's, with and without a cutoff, both argument orders."""
    from assets.rules.spark_sql import jaro_winkler_sql

    pairs = pl.DataFrame(random_strings(4000, seed=7), schema=["a", "b"], orient="row").with_row_index("n")
    pairs.write_parquet(tmp_path / "pairs.parquet")
    calls = {"plain": ("a", "b", None), "cutoff": ("a", "b", 0.87), "reversed": ("b", "a", None)}
    duck = duckdb.sql(
        "select n, "
        + ", ".join(
            f"jaro_winkler_similarity({x}, {y}{'' if c is None else f', {c}'}) as {name}"
            for name, (x, y, c) in calls.items()
        )
        + " from pairs order by n"
    ).pl()
    spark = pl.from_arrow(
        session.sql(
            "select n, "
            + ", ".join(
                f"{jaro_winkler_sql(x, y, '0.0D' if c is None else f'{c}D')} as {name}"
                for name, (x, y, c) in calls.items()
            )
            + f" from parquet.`{tmp_path / 'pairs.parquet'}` order by n"
        ).toArrow()
    )
    assert spark.equals(duck)
    assert duck.filter(pl.col("plain").is_between(0.0, 1.0, closed="none")).height > 2000  # not all 0 or 1


def test_the_matchers_pairs_on_spark_are_duckdbs(both_engines, session):
    """On the demo's client records: the same candidate pairs and blocking report, the same comparison levels, and
    the same scored pairs (weights and probabilities to the bit), labelled pairs included, as the DuckDB engine's."""
    from assets.rules.resolution import (
        ResolutionSettings,
        _PhaseClock,
        candidate_pairs,
        compare_pairs,
        prepare_records,
        score_candidate_pairs,
    )
    from assets.rules.spark_resolution import (
        candidate_pairs_on_spark,
        compare_on_spark,
        spark_records,
        spark_scorer,
        to_polars,
        to_spark,
    )

    (duck_dir, _), _ = both_engines
    with duckdb.connect(str(duck_dir / "work" / "warehouse.duckdb"), read_only=True) as conn:
        records = conn.sql("select * from staging.stg_clients__records").pl()
    settings = ResolutionSettings()
    prepared, _ = prepare_records(records, settings)
    pairs, report = candidate_pairs(prepared, settings)
    on_spark = spark_records(session, prepared)
    spark_pairs, spark_report = candidate_pairs_on_spark(on_spark, settings)
    assert spark_report == report and report["candidate_pairs"] > 4000
    assert to_polars(spark_pairs).sort("left_id", "right_id").equals(pairs)
    with duckdb.connect() as conn:
        levels = compare_pairs(conn, prepared, pairs)
    spark_levels = to_polars(compare_on_spark(session, on_spark, to_spark(session, pairs)))
    assert spark_levels.sort("left_id", "right_id").equals(levels)
    assert levels["name_level"].n_unique() >= 8 and levels["location_level"].n_unique() >= 5  # many levels seen
    # two labels: one pair blocking found, one it did not (the labelled pairs are compared too)
    far = (
        pairs.select(pl.col("left_id"), pl.col("right_id") + 1)
        .filter(pl.col("right_id") < prepared.height)
        .join(pairs, on=["left_id", "right_id"], how="anti")
    )
    decided = pl.concat(
        [
            pairs.head(1).select("left_id", "right_id", pl.lit("cannot_link").alias("decision")),
            far.head(1).with_columns(pl.lit("must_link").alias("decision")),
        ]
    ).sort("left_id", "right_id")
    duck_scored, duck_report, duck_estimates = score_candidate_pairs(prepared, decided, settings, _PhaseClock(None))
    spark_scored, spark_report, spark_estimates = spark_scorer(session)(prepared, decided, settings, _PhaseClock(None))
    assert spark_scored.equals(duck_scored) and spark_estimates == duck_estimates and spark_report == duck_report
