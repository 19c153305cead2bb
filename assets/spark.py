"""The Spark engine (ALMS_ENGINE=spark): the SQL models of `sql/` run on Apache Spark and their tables are stored as
Parquet under a warehouse folder (`<layer>/<table>/`); the pipeline's DuckDB file keeps a view over each of them, so
every other step (the matcher, the account rules, the checks, the publication) reads them as it reads any table.

One SQL source: each model's file is transpiled to Spark SQL with sqlglot when it runs (assets/rules/spark_sql.py).
`$name` parameters become Spark's named parameter markers, bound by `spark.sql(..., args=...)`: values are never
formatted into the SQL.

The raw ingest of the transactional inputs runs on Spark too (assets/rules/spark_ingest.py, a view the same way).
Tables the SQL models read that Spark did not build (the reference inputs, the matcher's output) are handed over as
Parquet: written from the DuckDB file into the warehouse folder before the model that reads them runs (docs/spark.md).
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

VIEW_MARKER = "alms-spark"  # the comment on a DuckDB view over a table Spark built

_SESSION_LOCK = threading.Lock()


class SparkEngine(dg.ConfigurableResource):
    """A Spark session (created on first use, one per process) and the warehouse folder its tables live in.

    `master` (ALMS_SPARK_MASTER): `local[2]` runs Spark in a JVM beside this process on 2 cores; `spark://host:7077`,
    `yarn`, `k8s://...` a cluster; `cluster` the one spark-submit or a Databricks cluster configured. `warehouse_dir`: where `<layer>/<table>/` Parquet folders go; on a cluster, a
    folder every executor and this driver see at the same path (docs/spark.md)."""

    master: str = "local[2]"
    warehouse_dir: str = ""
    driver_memory: str = "2g"
    shuffle_partitions: int = 8
    _session: object = PrivateAttr(default=None)
    _handed_over: set = PrivateAttr(default_factory=set)  # DuckDB tables copied to Parquet in this run

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._handed_over = set()

    def session(self):
        """The Spark session, started on first use (about 30 s for local Spark on 2 cores)."""
        if self._session is None:
            with _SESSION_LOCK:
                self._session = start_session(self.master, self.driver_memory, self.shuffle_partitions)
        return self._session

    def table_path(self, layer: str, table: str) -> str:
        return str(Path(self.warehouse_dir) / layer / table)


def start_session(master: str, driver_memory: str, shuffle_partitions: int):
    """The process's Spark session: the one already running when there is one (a Databricks notebook), else a new one
    on `master` (`cluster`: the master spark-submit or the Databricks cluster configured; `sc://...`: a Spark Connect
    server). Cluster-wide settings come from the cluster's own
    configuration (spark-defaults.conf, the Databricks cluster); only what alms's results depend on is set here."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise dg.Failure(
            description="ALMS_ENGINE=spark needs pyspark and Java 17+: `make install-spark` (or pip install 'alms[spark]')",
            allow_retries=False,
        ) from None
    if master.startswith("local"):  # the executors' Python (raw ingest runs the rules there): this one, with alms
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    active = SparkSession.getActiveSession()
    if active is not None:
        session = active
    else:
        builder = SparkSession.builder.appName("alms")
        if master.startswith("sc://"):
            builder = builder.remote(master)
        elif master == "cluster":  # what spark-submit or the Databricks cluster configured
            pass
        else:
            builder = builder.master(master).config("spark.driver.memory", driver_memory)
        if master.startswith("local"):  # one machine: no network name to resolve, few partitions for small data
            builder = (
                builder.config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
                .config("spark.ui.showConsoleProgress", "false")
            )
        session = builder.getOrCreate()
    for key, value in {
        "spark.sql.session.timeZone": "UTC",  # dates and timestamps as DuckDB computes them
        # Parquet timestamps as DuckDB and polars write and read them (microseconds, not the legacy INT96)
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
        "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
        "spark.sql.ansi.enabled": "true",  # a cast that fails is an error, as in DuckDB (Spark 4's default too)
    }.items():
        session.conf.set(key, value)
    if not master.startswith("sc://"):
        session.sparkContext.setLogLevel("ERROR")
    return session


def spark_parameters(parameters: dict) -> dict:
    """Parameter values as Spark binds them: a list becomes an `array(...)` (the SQL casts it to its element type)."""
    from pyspark.sql import functions as F

    return {
        name: F.array(*[F.lit(v) for v in value]) if isinstance(value, list | tuple) else value
        for name, value in parameters.items()
    }


def clear_folder(path: str) -> None:
    target = Path(path)
    if target.exists():
        shutil.rmtree(target)


def run_sql_model_on_spark(engine: SparkEngine, conn, model, parameters: dict) -> int:
    """Build the model's table with Spark as Parquet under the warehouse folder, then point the DuckDB view
    `<layer>.<model>` at it. Returns the row count."""
    from assets.rules.spark_sql import to_spark_sql  # sqlglot: installed with pyspark (make install-spark)

    session = engine.session()
    paths = {(layer, table): hand_over(engine, conn, layer, table) for layer, table in model.reads}
    sql = to_spark_sql(model.sql, paths)
    bound = spark_parameters({name: parameters[name] for name in model.parameters})
    target = engine.table_path(model.layer, model.name)
    session.sql(sql, args=bound).write.mode("overwrite").parquet(target)
    point_view_at(conn, model.layer, model.name, target)
    return conn.sql(f"select count(*) from {model.layer}.{model.name}").fetchall()[0][0]


def point_view_at(conn, layer: str, table: str, folder: str) -> None:
    """`<layer>.<table>` in the DuckDB file becomes a view over the Parquet folder Spark wrote (marked as such)."""
    kind = _duckdb_kind(conn, layer, table)
    if kind == "BASE TABLE":
        conn.execute(f"drop table {layer}.{table}")
    files = (Path(folder) / "*.parquet").as_posix().replace("'", "''")
    conn.execute(f"create or replace view {layer}.{table} as select * from read_parquet('{files}')")
    conn.execute(f"comment on view {layer}.{table} is '{VIEW_MARKER}'")


def hand_over(engine: SparkEngine, conn, layer: str, table: str) -> str:
    """The Parquet folder Spark reads `<layer>.<table>` from: the folder Spark wrote it to, or, for a table the
    DuckDB side built (raw ingest, matcher, account rules), a Parquet copy written now."""
    folder = engine.table_path(layer, table)
    if is_spark_view(conn, layer, table) or (layer, table) in engine._handed_over:
        return folder  # each table is written once in a run, before the models that read it
    clear_folder(folder)
    Path(folder).mkdir(parents=True)
    target = (Path(folder) / "part-00000.parquet").as_posix().replace("'", "''")
    conn.execute(f"copy (select * from {layer}.{table}) to '{target}' (format parquet)")
    engine._handed_over.add((layer, table))
    return folder


def _duckdb_kind(conn, layer: str, table: str) -> str | None:
    found = conn.execute(
        "select table_type from information_schema.tables where table_catalog = current_database() "
        "and table_schema = ? and table_name = ?",
        [layer, table],
    ).fetchall()
    return found[0][0] if found else None


def is_spark_view(conn, layer: str, table: str) -> bool:
    found = conn.execute(
        "select comment from duckdb_views() where database_name = current_database() and schema_name = ? "
        "and view_name = ?",
        [layer, table],
    ).fetchall()
    return bool(found) and found[0][0] == VIEW_MARKER
