"""DuckDB SQL as Spark SQL: one SQL source (`sql/<layer>/<model>.sql`), transpiled with sqlglot when a model is loaded
on the Spark engine (assets/spark.py).

sqlglot translates the dialect (functions, casts, `$name` parameters into Spark's `:name` markers); the rewrites below
cover what it leaves with another meaning in Spark, each keeping DuckDB's:

- `a / b` divides as doubles, as DuckDB does whatever the operands (Spark keeps decimals decimal);
- `to_months(n)` is `make_ym_interval(0, n)`;
- `regexp_full_match(value, pattern)` matches the whole value (Spark's `rlike` finds the pattern anywhere);
- `array_agg` over no row (or none its filter keeps) is null, not an empty array;
- several `unnest`s in one select zip parallel lists (Spark allows one generator per select);
- `median(x) over w` with a frame (Spark allows none for median) is the middle of the window's sorted values;
- `cast(unnest(list) as t)` casts the elements (Spark allows no generator inside an expression).

Every `<layer>.<table>` the model reads is read from the Parquet folder it is given (`parquet.`<folder>``), so Spark
needs no metastore.
"""

import sqlglot
from sqlglot import exp

LAYERS = ("raw", "staging", "intermediate", "marts")


def to_spark_sql(sql: str, table_paths: dict[tuple[str, str], str]) -> str:
    """The model's DuckDB SQL as Spark SQL, every `<layer>.<table>` read from its Parquet folder."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = _spark_rewrites(tree)
    for table in list(tree.find_all(exp.Table)):
        key = (table.db, table.name)
        if table.db in LAYERS and key in table_paths:
            alias = table.alias or table.name
            table.replace(
                exp.Table(
                    this=exp.to_identifier(table_paths[key], quoted=True),
                    db=exp.to_identifier("parquet"),
                    alias=exp.TableAlias(this=exp.to_identifier(alias)),
                )
            )
    for column in list(tree.find_all(exp.Column)):  # `staging.x.a`: the table now goes by its name alone
        if column.args.get("db") is not None and column.db in LAYERS and (column.db, column.table) in table_paths:
            column.set("db", None)
    return tree.sql(dialect="spark")


def _spark_rewrites(tree: exp.Expression) -> exp.Expression:
    """What sqlglot does not translate on its own, rewritten to Spark SQL of the same meaning."""

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name.lower() == "to_months":  # an interval of n months
            return exp.Anonymous(this="make_ym_interval", expressions=[exp.Literal.number(0), node.expressions[0]])
        if isinstance(node, exp.RegexpFullMatch) or (
            isinstance(node, exp.Anonymous) and node.name.lower() == "regexp_full_match"
        ):  # the whole value matches (Spark's regexp_like finds the pattern anywhere)
            value, pattern = (node.this, node.expression) if isinstance(node, exp.RegexpFullMatch) else node.expressions
            anchored = exp.Concat(expressions=[exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$")])
            return exp.RegexpLike(this=value, expression=anchored)
        if isinstance(node, exp.Div) and not (
            isinstance(node.this, exp.Cast) and node.this.to.this == exp.DataType.Type.DOUBLE
        ):  # DuckDB's `/` divides as doubles, whatever the operands (Spark keeps decimals decimal)
            node.set("this", exp.Cast(this=node.this, to=exp.DataType.build("double")))
            return node
        if isinstance(node, exp.Cast) and isinstance(node.this, exp.Explode | exp.Unnest):
            # cast(unnest(list) as t): Spark allows no generator inside an expression; cast the elements instead
            inner = node.this
            array = inner.this if isinstance(inner, exp.Explode) else inner.expressions[0]
            each = exp.Lambda(
                this=exp.Cast(this=exp.column("v"), to=node.to.copy()), expressions=[exp.to_identifier("v")]
            )
            return exp.Explode(this=exp.Anonymous(this="transform", expressions=[array.copy(), each]))
        return node

    tree = tree.transform(rewrite)
    for window in [node for node in tree.find_all(exp.Window) if isinstance(node.this, exp.Median)]:
        window.replace(_median_over(window))
    # array_agg over no row (or none that passes its filter) is null in DuckDB, an empty array in Spark
    aggregates = [node for node in tree.find_all(exp.ArrayAgg) if not isinstance(node.parent, exp.Filter)]
    aggregates += [node for node in tree.find_all(exp.Filter) if isinstance(node.this, exp.ArrayAgg)]
    for node in aggregates:
        size = exp.Anonymous(this="size", expressions=[node.copy()])
        node.replace(
            exp.Case(
                ifs=[exp.If(this=exp.EQ(this=size, expression=exp.Literal.number(0)), true=exp.null())],
                default=node.copy(),
            )
        )
    for select in list(tree.find_all(exp.Select)):
        _zip_parallel_unnests(select)
    return tree


def _median_over(window: exp.Window) -> exp.Expression:
    """`median(x) over w` (Spark allows no frame for median): the middle of the window's sorted values, or the mean
    of the two middle ones (a double for integers, as DuckDB's median; decimals: see the completeness models)."""
    values = window.copy()
    values.set("this", exp.Anonymous(this="collect_list", expressions=[window.this.this.copy()]))

    def sorted_values() -> exp.Expression:
        return exp.Anonymous(this="array_sort", expressions=[values.copy()])

    def size() -> exp.Expression:
        return exp.Anonymous(this="size", expressions=[values.copy()])

    def at(offset: int) -> exp.Expression:  # element_at(sorted, size div 2 + offset), 1-based
        half = exp.Cast(
            this=exp.Floor(this=exp.Div(this=size(), expression=exp.Literal.number(2))), to=exp.DataType.build("int")
        )
        return exp.Anonymous(
            this="element_at", expressions=[sorted_values(), exp.Add(this=half, expression=exp.Literal.number(offset))]
        )

    odd = exp.EQ(this=exp.Mod(this=size(), expression=exp.Literal.number(2)), expression=exp.Literal.number(1))
    mean = exp.Div(this=exp.Paren(this=exp.Add(this=at(0), expression=at(1))), expression=exp.Literal.number(2))
    return exp.Case(
        ifs=[
            exp.If(this=exp.EQ(this=size(), expression=exp.Literal.number(0)), true=exp.null()),
            exp.If(this=odd, true=at(1)),
        ],
        default=mean,
    )


def _zip_parallel_unnests(select: exp.Select) -> None:
    """DuckDB unnests several lists of one select side by side (the lists are parallel); Spark allows one generator
    per select: `inline(transform(first, (x, i) -> named_struct('a', x, 'b', element_at(second, i + 1), ...)))`."""
    if len(select.expressions) < 2:
        return
    names, arrays = [], []
    for projection in select.expressions:
        if not (isinstance(projection, exp.Alias) and isinstance(projection.this, exp.Explode | exp.Unnest)):
            return
        inner = projection.this
        names.append(projection.alias)
        arrays.append(inner.this if isinstance(inner, exp.Explode) else inner.expressions[0])
    x, i = exp.to_identifier("x"), exp.to_identifier("i")
    fields = []
    for index, (name, array) in enumerate(zip(names, arrays, strict=True)):
        value = (
            exp.column("x")
            if index == 0
            else exp.Anonymous(
                this="element_at",
                expressions=[array.copy(), exp.Add(this=exp.column("i"), expression=exp.Literal.number(1))],
            )
        )
        fields += [exp.Literal.string(name), value]
    rows = exp.Anonymous(
        this="transform",
        expressions=[
            arrays[0].copy(),
            exp.Lambda(this=exp.Anonymous(this="named_struct", expressions=fields), expressions=[x, i]),
        ],
    )
    select.set("expressions", [exp.Anonymous(this="inline", expressions=[rows])])
