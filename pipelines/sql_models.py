"""The SQL-model-to-asset factory: every `sql/<layer>/<model>.sql` becomes the asset `<layer>/<model>`.

The model is one `select`; the factory owns the DDL (`create or replace table <layer>.<model> as ...`, or a view when
the model has a line `-- materialize: view`: cheap filters that are read once need not be stored again). The SQL is
read by a parser (assets/rules/sql_lineage.py, sqlglot): the model's dependencies are exactly the tables it reads
(CTEs excluded), and a table that is not an asset stops the definitions with the file and the table named; its `$name`
parameters are bound from the settings (the parse is stored under `$XDG_CACHE_HOME/alms`, by default `~/.cache/alms`,
keyed by the SQL, the parser and the pandera models, so a new process does not parse again); every output column's
upstream columns are published as `dagster/column_lineage` on each materialization and, readable, as the definition's
`column_lineage` table. Its description is its leading comment. A model whose table has a pandera model in `schemas`
is validated on an eager frame before the run goes on. With ALMS_ENGINE=spark the same file runs on Spark, transpiled,
its table stored as Parquet and seen here through a view (assets/spark.py).
"""

import contextlib
import difflib
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from assets import rules
from assets.metadata import column_schema_for, table_metadata
from assets.resources import LAYERS, REPO_ROOT, AlmsSettings, Warehouse
from assets.rules.incremental import build_checked_lines
from assets.rules.lineage import ColumnLineage, SqlModelError, Table, trace_to_inputs
from assets.rules.progress import progress
from assets.spark import SparkEngine, run_sql_model_on_spark
from schemas import SCHEMAS_BY_TABLE, validate_frame

if TYPE_CHECKING:
    from sqlglot import exp

SQL_DIR = REPO_ROOT / "sql"


@dataclass(frozen=True)
class SqlModel:
    layer: str
    name: str
    sql: str
    reads: tuple[Table, ...]  # every (layer, table) the SQL reads, CTEs excluded
    parameters: tuple[str, ...]  # its `$name` parameters

    @property
    def path(self) -> str:
        return f"sql/{self.layer}/{self.name}.sql"

    @property
    def tree(self) -> "exp.Query":
        """The parsed select (parsed once per SQL text)."""
        return _parsed(self.sql, self.path)

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


@cache
def _parsed(sql: str, path: str) -> "exp.Query":
    from assets.rules.sql_lineage import parse_model  # sqlglot: imported only when a parse is not stored

    return parse_model(sql, path)


def load_sql_models(sql_dir: Path = SQL_DIR) -> list[SqlModel]:
    """Every model under `sql_dir`, in layer order, with the tables and parameters its SQL reads (from the stored
    parse when the SQL, the parser and the pandera models are the ones it was stored for)."""
    texts = [
        (layer, path.stem, path.read_text()) for layer in LAYERS for path in sorted((sql_dir / layer).glob("*.sql"))
    ]
    stored = _stored_parse(texts)
    if stored is not None:
        with contextlib.suppress(KeyError, TypeError, ValueError):  # a store in another shape: parse again
            return [
                SqlModel(layer, name, sql, *((tuple(map(tuple, found["reads"])), tuple(found["parameters"]))))
                for (layer, name, sql), found in zip(texts, stored["models"], strict=True)
            ]
    from assets.rules.sql_lineage import parameters_used, tables_read

    models = []
    for layer, name, sql in texts:
        where = f"sql/{layer}/{name}.sql"
        tree = _parsed(sql, where)
        models.append(SqlModel(layer, name, sql, tuple(tables_read(tree, where)), tuple(parameters_used(tree))))
    return models


# The parse of the SQL models (tables read, parameters, column lineage) is stored after a successful parse, so a process
# that loads the definitions (the CLI, the code server, a test worker) neither imports sqlglot nor parses 20 models
# again: about 1 s of every start. It is keyed by everything the parse depends on; any change parses again.
PARSE_STORE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alms"


def _parse_key(texts: list[tuple[str, str, str]]) -> str:
    digest = hashlib.sha256(metadata.version("sqlglot").encode())
    rules_dir = Path(rules.__file__).parent
    for source in (rules_dir / "sql_lineage.py", rules_dir / "lineage.py", Path(__file__)):
        digest.update(source.read_bytes())
    digest.update(json.dumps(sorted((list(t), c) for t, c in _known_columns().items())).encode())
    digest.update(json.dumps(texts).encode())
    return digest.hexdigest()[:32]


def _stored_parse(texts: list[tuple[str, str, str]]) -> dict | None:
    try:
        stored = json.loads((PARSE_STORE / f"sql-parse-{_parse_key(texts)}.json").read_text())
    except (OSError, ValueError):
        return None
    return stored if len(stored.get("models", ())) == len(texts) else None


def _store_parse(models: list[SqlModel], lineage: dict[Table, ColumnLineage]) -> None:
    """Write the parse for the next process; a folder that cannot be written only means parsing again next time."""
    texts = [(m.layer, m.name, m.sql) for m in models]
    content = {
        "models": [{"reads": m.reads, "parameters": m.parameters} for m in models],
        "lineage": [[table, found.columns, found.unresolved] for table, found in lineage.items()],
    }
    path = PARSE_STORE / f"sql-parse-{_parse_key(texts)}.json"
    try:
        PARSE_STORE.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(content))
        os.replace(partial, path)
    except OSError:
        pass


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
                validate_frame(schema_model, frame)
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


def _known_columns() -> dict[Table, list[str]]:
    return {table: list(model.to_schema().columns) for table, model in SCHEMAS_BY_TABLE.items()}


def sql_column_lineage(models: list[SqlModel]) -> dict[Table, ColumnLineage]:
    """Every model's column lineage; `select *` expands with the pandera models' columns and the upstream models'."""
    stored = _stored_parse([(m.layer, m.name, m.sql) for m in models])
    if stored is not None:
        with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError):  # another shape: parse again
            return {
                tuple(table): ColumnLineage(
                    {column: tuple(map(tuple, deps)) for column, deps in columns.items()},
                    {column: tuple(refs) for column, refs in unresolved.items()},
                )
                for table, columns, unresolved in stored["lineage"]
            }
    from assets.rules.sql_lineage import lineage_of_models

    ordered = in_dependency_order(models)
    lineage = lineage_of_models([((m.layer, m.name), m.tree, m.path) for m in ordered], _known_columns())
    _store_parse(models, lineage)
    return lineage


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
