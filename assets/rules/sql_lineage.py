"""What a SQL model reads, from a real SQL parser (sqlglot, DuckDB dialect): its tables, its `$name` parameters and,
for every output column, the upstream columns its value is computed from. Dagster-free: the SQL-model factory
(pipelines/sql_models.py) turns these into asset dependencies and column lineage.

Tables: every table named in a `from` or `join` anywhere in the model (CTEs, subqueries, union branches), as
`(layer, table)`. A name that refers to a CTE is not a table; a qualified name (`staging.x`) always is, even beside a
CTE called `x`. A table named without its layer is an error (STYLE.md: tables always qualified `layer.table`).

Column lineage: each output column maps to the `(layer, table, column)`s its select expression reads, followed
through CTEs, subqueries and union branches. `select *` and `alias.*` are expanded with the upstream's columns (the
`schema` argument: pandera models, or the output columns of the upstream SQL model); a `select *` CTE over a table
whose columns are unknown (a Python-built table without a pandera model) passes each column through by its name.
Columns that only filter, join or group rows (`where`, `on`, `group by`) are not lineage; columns inside the
expression are, window ordering included (`row_number() over (order by billing)` depends on billing). A column
computed from no column (a literal, a `$parameter`, `count(*)`) has no dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import build_scope, traverse_scope
from sqlglot.schema import MappingSchema

from assets.rules.lineage import Column, ColumnLineage, SqlModelError, Table

DIALECT = "duckdb"


def parse_model(sql: str, where: str) -> exp.Query:
    """The model's one `select`, parsed; `where` (its file) names it in the error."""
    try:
        statements = sqlglot.parse(sql, dialect=DIALECT)
    except SqlglotError as error:
        raise SqlModelError(f"{where}: sqlglot cannot parse it: {str(error).splitlines()[0]}") from None
    statements = [s for s in statements if s is not None]
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise SqlModelError(f"{where}: a model is one select statement (found {len(statements)} statements)")
    return statements[0]


def tables_read(tree: exp.Query, where: str) -> list[Table]:
    """Every table the query reads, `(layer, table)`, sorted; CTE references excluded."""
    tables = set()
    try:
        scopes = traverse_scope(tree)
    except SqlglotError as error:
        raise SqlModelError(f"{where}: {str(error).splitlines()[0]}") from None
    for scope in scopes:
        for source in scope.sources.values():
            # a CTE reference is a Scope here; a table function (`from range(3)`) has no name to depend on
            if not isinstance(source, exp.Table) or not isinstance(source.this, exp.Identifier):
                continue
            if not source.db:
                raise SqlModelError(
                    f"{where} reads table {source.name} without its layer: write <layer>.{source.name} "
                    f"(or define a CTE named {source.name})"
                )
            tables.add((source.db, source.name))
    return sorted(tables)


def parameters_used(tree: exp.Query) -> list[str]:
    """The `$name` parameters the query binds (not those inside strings or comments)."""
    return sorted({node.name for node in tree.find_all(exp.Placeholder) if node.name})


def column_lineage(tree: exp.Query, schema: Mapping[Table, Sequence[str]], where: str) -> ColumnLineage:
    """The column lineage of one parsed model; `schema` gives the columns of the tables it reads (for `select *`)."""
    mapping = MappingSchema(_nested(schema), dialect=DIALECT, normalize=False)
    try:
        qualified = qualify(
            tree.copy(),
            dialect=DIALECT,
            schema=mapping,
            validate_qualify_columns=False,
            identify=False,
            quote_identifiers=False,
        )
        nodes = lineage(None, qualified, mapping, dialect=DIALECT, scope=build_scope(qualified), trim_selects=False)
    except SqlglotError as error:
        raise SqlModelError(f"{where}: column lineage: {str(error).splitlines()[0]}") from None
    columns: dict[str, tuple[Column, ...]] = {}
    unresolved: dict[str, tuple[str, ...]] = {}
    for name, node in nodes.items():
        found, unplaced = _leaves(node)
        columns[name] = tuple(sorted(found))
        if unplaced:
            unresolved[name] = tuple(sorted(unplaced))
    return ColumnLineage(columns, unresolved)


def _nested(schema: Mapping[Table, Sequence[str]]) -> dict:
    nested: dict[str, dict[str, dict[str, str]]] = {}
    for (layer, table), columns in schema.items():
        nested.setdefault(layer, {})[table] = {column: "text" for column in columns}  # types play no part here
    return nested


def _leaves(root: Node) -> tuple[set[Column], set[str]]:
    """The table columns at the ends of a column's lineage graph, and the references that end nowhere."""
    found: set[Column] = set()
    unplaced: set[str] = set()
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stars = [child for child in node.downstream if child.name == "*"]
        if stars:
            # `select *` over a table of unknown columns, reached asking for `node`'s column by its name: a star
            # passes every column through unchanged, so it is that column of the one table the select reads
            # (sqlglot lists every source the scope could see, the CTEs before it included: keep those it reads)
            read = _sources_named_in(node.source)
            tables = [s.expression for s in stars if isinstance(s.expression, exp.Table)]
            tables = [t for t in tables if t.alias_or_name in read]
            if len(read) == 1 and len(tables) == 1:
                found.add((tables[0].db, tables[0].name, node.name.rsplit(".", 1)[-1]))
            else:
                unplaced.add(f"{node.name} (* of {', '.join(sorted(read))})")
        for child in node.downstream:
            if child.name == "*":
                continue
            if isinstance(child.expression, exp.Table):  # `alias.column` read from a table
                found.add((child.expression.db, child.expression.name, child.name.rsplit(".", 1)[-1]))
            elif isinstance(child.expression, exp.Placeholder):  # a column sqlglot could not place
                unplaced.add(child.name)
            else:
                stack.append(child)
    return found, unplaced


def _sources_named_in(select: exp.Expr) -> set[str]:
    """The aliases of the tables and CTEs a select's own `from` and `join`s read."""
    clauses = [select.args.get("from_"), *(select.args.get("joins") or [])]
    return {clause.this.alias_or_name for clause in clauses if clause is not None}


def lineage_of_models(
    models: Iterable[tuple[Table, exp.Query, str]], known_columns: Mapping[Table, Sequence[str]]
) -> dict[Table, ColumnLineage]:
    """The column lineage of every model, `(table, parsed query, file)` in dependency order: each model's output
    columns become the schema its readers' `select *` expands with (`known_columns`: the other tables')."""
    schema = dict(known_columns)
    result: dict[Table, ColumnLineage] = {}
    for table, tree, where in models:
        upstream = {read: schema[read] for read in tables_read(tree, where) if read in schema}
        result[table] = column_lineage(tree, upstream, where)
        schema[table] = list(result[table].columns)
    return result
