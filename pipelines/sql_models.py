"""The SQL-model-to-asset factory: every `sql/<layer>/<model>.sql` becomes the asset `<layer>/<model>`.

The model is one `select`; the factory owns the DDL (`create or replace table <layer>.<model> as ...`, or a view
when the model has a line `-- materialize: view`: cheap filters that are read once need not be stored again). The
SQL is read by a parser (assets/rules/sql_lineage.py, sqlglot): the model's dependencies are exactly the tables it
reads (CTEs excluded), and a table that is not an asset stops the definitions with the file and the table named;
its `$name` parameters are bound from the settings; every output column's upstream columns are published as
`dagster/column_lineage` on each materialization and, readable, as the definition's `column_lineage` table. Its
description is its leading comment. A model whose table has a pandera model in `schemas` is validated on an eager
frame before the run goes on. With ALMS_ENGINE=spark the same file runs on Spark, transpiled, its table stored as
Parquet and seen here through a view (assets/spark.py).
"""

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import dagster as dg
from sqlglot import exp

from assets.metadata import column_schema_for, table_metadata
from assets.resources import LAYERS, REPO_ROOT, AlmsSettings, Warehouse
from assets.rules.incremental import build_checked_lines
from assets.rules.progress import progress
from assets.rules.sql_lineage import (
    ColumnLineage,
    SqlModelError,
    lineage_of_models,
    parameters_used,
    parse_model,
    tables_read,
    trace_to_inputs,
)
from assets.spark import SparkEngine, run_sql_model_on_spark
from schemas import SCHEMAS_BY_TABLE

SQL_DIR = REPO_ROOT / "sql"


@dataclass(frozen=True)
class SqlModel:
    layer: str
    name: str
    sql: str

    @property
    def path(self) -> str:
        return f"sql/{self.layer}/{self.name}.sql"

    @cached_property
    def tree(self) -> exp.Query:
        """The parsed select (parsed once per model)."""
        return parse_model(self.sql, self.path)

    @property
    def description(self) -> str:
        lines = []
        for line in self.sql.splitlines():
            if not line.startswith("--"):
                break
            if not line[2:].strip().startswith("materialize:"):
                lines.append(line[2:].strip())
        return " ".join(lines)

    @property
    def materialization(self) -> str:
        return "view" if re.search(r"^--\s*materialize:\s*view\s*$", self.sql, re.MULTILINE) else "table"

    @cached_property
    def reads(self) -> list[tuple[str, str]]:
        """Every `(layer, table)` the SQL reads, CTEs excluded."""
        return tables_read(self.tree, self.path)

    @cached_property
    def parameters(self) -> list[str]:
        return parameters_used(self.tree)


def load_sql_models(sql_dir: Path = SQL_DIR) -> list[SqlModel]:
    models = []
    for layer in LAYERS:
        for path in sorted((sql_dir / layer).glob("*.sql")):
            models.append(SqlModel(layer=layer, name=path.stem, sql=path.read_text()))
    return models


# models a run builds again only where their inputs changed (a monthly run brings a month of files), by a Dagster-free
# builder of the same SQL: (layer, name) -> builder(conn, table, sql, bound parameters, run id, reuse allowed)
INCREMENTAL = {("staging", "stg_billing__checked_lines"): build_checked_lines}


def run_sql_model(conn, model: SqlModel, parameters: dict, run_id: str = "", reuse: bool = False) -> int:
    """Build the model's table and return its row count. `reuse`: an incremental model (`INCREMENTAL`) builds
    again only what changed since the run that built it (the result is the same table)."""
    return build_sql_model(conn, model, parameters, run_id, reuse)["rows"]


def build_sql_model(conn, model: SqlModel, parameters: dict, run_id: str = "", reuse: bool = False) -> dict:
    """`run_sql_model`, with what was done: `rows`, and an incremental model's report (`how`, lines checked...)."""
    bound = {name: parameters[name] for name in model.parameters}
    existing = conn.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
        [model.layer, model.name],
    ).fetchall()
    kind = "view" if model.materialization == "view" else "table"
    if existing and existing[0][0] != ("VIEW" if kind == "view" else "BASE TABLE"):
        conn.execute(f"drop {'table' if kind == 'view' else 'view'} {model.layer}.{model.name}")
    if kind == "view" and bound:
        raise ValueError(f"{model.layer}.{model.name}: a view cannot bind parameters ({', '.join(bound)})")
    incremental = INCREMENTAL.get((model.layer, model.name))
    if incremental is not None and kind == "table":
        return incremental(conn, f"{model.layer}.{model.name}", model.sql, bound, run_id, reuse)
    conn.execute(f"create or replace {kind} {model.layer}.{model.name} as\n{model.sql}", bound or None)
    return {"rows": conn.sql(f"select count(*) from {model.layer}.{model.name}").fetchall()[0][0]}


def sql_model_asset(model: SqlModel, lineage: dict[tuple[str, str], ColumnLineage]) -> dg.AssetsDefinition:
    """The model's asset; `lineage`: the column lineage of every SQL model (the model's own, and its upstreams' to
    trace a column back to the inputs)."""
    column_lineage = dg.TableColumnLineage(
        deps_by_column={
            column: [
                dg.TableColumnDep(asset_key=dg.AssetKey([layer, table]), column_name=name)
                for layer, table, name in deps
            ]
            for column, deps in lineage[(model.layer, model.name)].columns.items()
        }
    )

    @dg.asset(
        key=[model.layer, model.name],
        deps=[dg.AssetKey([layer, table]) for layer, table in model.reads],
        group_name=model.layer,
        kinds={"duckdb", "sql", model.materialization},
        description=model.description,
        metadata={
            **column_schema_for(model.layer, model.name),
            "sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```"),
            "column_lineage": dg.MetadataValue.md(lineage_table(model, lineage)),
        },
    )
    def _sql_asset(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: AlmsSettings, spark: SparkEngine):
        table = f"{model.layer}.{model.name}"
        report = {}
        with warehouse.connect() as conn, progress(table, context.log.info, conn) as step:
            step.update(f"building the {model.materialization}" + (" on Spark" if settings.engine == "spark" else ""))
            if settings.engine == "spark":  # Parquet under the Spark warehouse, a view over it here (assets/spark.py)
                row_count = run_sql_model_on_spark(spark, conn, model, settings.sql_parameters())
            else:
                built = build_sql_model(
                    conn, model, settings.sql_parameters(), context.run.run_id, settings.reuse_unchanged
                )
                row_count, report = built.pop("rows"), built
            relation = conn.sql(f"select * from {table}")
            schema_model = SCHEMAS_BY_TABLE.get((model.layer, model.name))
            if schema_model is not None:
                step.update(f"validating {row_count:,} rows")
                frame = relation.pl()
                schema_model.validate(frame, lazy=True)
                schema = frame.schema
            else:
                schema = dict(zip(relation.columns, [str(t) for t in relation.types], strict=True))
        context.log.info(f"{table}: {row_count:,} rows" + (f" ({report['how']})" if report else ""))
        return dg.MaterializeResult(
            metadata={
                **table_metadata(model.layer, model.name, schema, row_count),
                "dagster/column_lineage": column_lineage,
                **{f"incremental_{key}": value for key, value in report.items()},
            }
        )

    return _sql_asset


def lineage_table(model: SqlModel, lineage: dict[tuple[str, str], ColumnLineage]) -> str:
    """The model's column lineage as a Markdown table (the Dagster UI of open-source Dagster does not draw
    `dagster/column_lineage`): each column, the upstream columns it is computed from, and the input columns (raw
    tables and Python-built tables) those trace back to through the SQL models."""
    rows = ["| column | computed from | traced back to the inputs |", "| --- | --- | --- |"]
    for column, deps in lineage[(model.layer, model.name)].columns.items():
        inputs = trace_to_inputs(lineage, (model.layer, model.name, column))
        direct = ", ".join(".".join(dep) for dep in deps) or "no column (a literal, a parameter or a row count)"
        rows.append(f"| `{column}` | {direct} | {', '.join('.'.join(dep) for dep in sorted(inputs))} |")
    return "\n".join(rows)


def build_sql_assets(other_assets: Sequence[dg.AssetsDefinition], sql_dir: Path = SQL_DIR) -> list[dg.AssetsDefinition]:
    """An asset per SQL model. Every table a model reads must be an asset: a SQL model or one of `other_assets`."""
    models = load_sql_models(sql_dir)
    assets = {tuple(key.path) for definition in other_assets for key in definition.keys}
    assets |= {(model.layer, model.name) for model in models}
    for model in models:
        for table in model.reads:
            if table not in assets:
                near = difflib.get_close_matches(".".join(table), sorted(".".join(a) for a in assets), n=1)
                hint = f" (did you mean {near[0]}?)" if near else ""
                raise SqlModelError(f"{model.path} reads {'.'.join(table)}, which is not an asset{hint}")
    lineage = sql_column_lineage(models)
    return [sql_model_asset(model, lineage) for model in models]


def sql_column_lineage(models: list[SqlModel]) -> dict[tuple[str, str], ColumnLineage]:
    """Every model's column lineage; `select *` expands with the pandera models' columns and the upstream models'."""
    known_columns = {table: list(model.to_schema().columns) for table, model in SCHEMAS_BY_TABLE.items()}
    return lineage_of_models([((m.layer, m.name), m.tree, m.path) for m in in_dependency_order(models)], known_columns)


def in_dependency_order(models: list[SqlModel]) -> list[SqlModel]:
    """The models ordered so each comes after the models it reads (tables not built by a model are inputs)."""
    by_table = {(m.layer, m.name): m for m in models}
    ordered: list[SqlModel] = []
    done: set[tuple[str, str]] = set()

    def visit(model: SqlModel, path: tuple) -> None:
        key = (model.layer, model.name)
        if key in done:
            return
        if key in path:
            raise ValueError(f"SQL models read each other in a cycle: {' -> '.join('.'.join(k) for k in (*path, key))}")
        for table in model.reads:
            if table in by_table:
                visit(by_table[table], (*path, key))
        done.add(key)
        ordered.append(model)

    for model in models:
        visit(model, ())
    return ordered
