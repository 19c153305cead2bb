"""The SQL-model-to-asset factory: every `sql/<layer>/<model>.sql` becomes the asset `<layer>/<model>`.

The model is one `select`; the factory owns the DDL (`create or replace table <layer>.<model> as ...`, or a view
when the model has a line `-- materialize: view`: cheap filters that are read once need not be stored again). Its
dependencies are exactly the `<layer>.<table>` names its SQL reads (comments ignored), its description is its leading
comment, and it binds the `$name` parameters it uses from the settings. A model whose table has a pandera model in
`schemas` is validated on an eager frame before the run goes on.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from assets.metadata import column_schema_for, table_metadata
from assets.resources import LAYERS, REPO_ROOT, AlmsSettings, Warehouse
from assets.rules.progress import progress
from schemas import SCHEMAS_BY_TABLE

SQL_DIR = REPO_ROOT / "sql"
_TABLE_REFERENCE = re.compile(r"\b(" + "|".join(LAYERS) + r")\.([a-z_][a-z0-9_]*)\b")
_PARAMETER = re.compile(r"\$([a-z_][a-z0-9_]*)")


@dataclass(frozen=True)
class SqlModel:
    layer: str
    name: str
    sql: str

    @property
    def code(self) -> str:
        """The SQL without comments (what dependencies and parameters are read from)."""
        return re.sub(r"--[^\n]*", "", self.sql)

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

    @property
    def reads(self) -> list[tuple[str, str]]:
        return sorted(set(_TABLE_REFERENCE.findall(self.code)))

    @property
    def parameters(self) -> list[str]:
        return sorted(set(_PARAMETER.findall(self.code)))


def load_sql_models(sql_dir: Path = SQL_DIR) -> list[SqlModel]:
    models = []
    for layer in LAYERS:
        for path in sorted((sql_dir / layer).glob("*.sql")):
            models.append(SqlModel(layer=layer, name=path.stem, sql=path.read_text()))
    return models


def run_sql_model(conn, model: SqlModel, parameters: dict) -> int:
    """Build the model's table and return its row count."""
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
    conn.execute(f"create or replace {kind} {model.layer}.{model.name} as\n{model.sql}", bound or None)
    return conn.sql(f"select count(*) from {model.layer}.{model.name}").fetchall()[0][0]


def sql_model_asset(model: SqlModel) -> dg.AssetsDefinition:
    @dg.asset(
        key=[model.layer, model.name],
        deps=[dg.AssetKey([layer, table]) for layer, table in model.reads],
        group_name=model.layer,
        kinds={"duckdb", "sql", model.materialization},
        description=model.description,
        metadata={
            **column_schema_for(model.layer, model.name),
            "sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```"),
        },
    )
    def _sql_asset(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: AlmsSettings):
        table = f"{model.layer}.{model.name}"
        with warehouse.connect() as conn, progress(table, context.log.info, conn) as step:
            step.update(f"building the {model.materialization}")
            row_count = run_sql_model(conn, model, settings.sql_parameters())
            relation = conn.sql(f"select * from {table}")
            schema_model = SCHEMAS_BY_TABLE.get((model.layer, model.name))
            if schema_model is not None:
                step.update(f"validating {row_count:,} rows")
                frame = relation.pl()
                schema_model.validate(frame, lazy=True)
                schema = frame.schema
            else:
                schema = dict(zip(relation.columns, [str(t) for t in relation.types], strict=True))
        context.log.info(f"{table}: {row_count:,} rows")
        return dg.MaterializeResult(metadata=table_metadata(model.layer, model.name, schema, row_count))

    return _sql_asset


def build_sql_assets(sql_dir: Path = SQL_DIR) -> list[dg.AssetsDefinition]:
    return [sql_model_asset(model) for model in load_sql_models(sql_dir)]


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
