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
- `cast(unnest(list) as t)` casts the elements (Spark allows no generator inside an expression);
- a lambda's index (`lambda x, i: ...`) counts from 1 (Spark's from 0);
- `list_bit_or` and `list_sum` skip nulls and give null for no value, as DuckDB's (folded with `aggregate`);
- `jaro_winkler_similarity` (Spark has none, and allows no Python or SQL function inside a lambda) is written out in
  Spark SQL, DuckDB's algorithm step by step on the UTF-8 bytes (`jaro_winkler_sql`; proven equal on many pairs).

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
    for node in list(tree.find_all(exp.Lambda)):  # DuckDB's lambda index counts from 1
        if len(node.expressions) == 2:
            _index_from_one(node)
    for case in list(tree.find_all(exp.Case)):
        _drop_similarity_screen(case)
    # list functions and Jaro-Winkler, innermost first (each is rewritten from its arguments' final SQL)
    for node in reversed(list(tree.walk(bfs=False))):
        name = _function_name(node)
        if name in ("list_bit_or", "list_sum"):
            replaced = _fold(name, node)
        elif name in ("jarowinkler_similarity", "jaro_winkler_similarity"):
            arguments = [
                node.this,
                node.expression,
                *(v for k, v in node.args.items() if k not in ("this", "expression")),
            ]
            replaced = sqlglot.parse_one(jaro_winkler_sql(*(a.sql(dialect="spark") for a in arguments)), read="spark")
        else:
            continue
        if node is tree:
            tree = replaced
        else:
            node.replace(replaced)
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


def _function_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    if isinstance(node, exp.Func) and not isinstance(node, exp.Anonymous):
        return node.sql_name().lower()
    return None


def _index_from_one(node: exp.Lambda) -> None:
    """`(x, i) -> body` with `i` counted from 1, as in DuckDB: the body reads `(i_from_zero + 1)` for every `i`
    (in place). Inside a lambda its variables are bare identifiers; `t.i` is a column of a table, left alone."""
    index = node.expressions[1].name
    zero_based = f"{index}_from_zero"
    for identifier in list(node.this.find_all(exp.Identifier)):
        target = identifier
        if isinstance(identifier.parent, exp.Column):
            if identifier.parent.table or identifier.arg_key != "this":
                continue
            target = identifier.parent
        elif isinstance(identifier.parent, exp.Lambda) and identifier.arg_key == "expressions":
            continue  # an inner lambda's own variable
        if identifier.name != index:
            continue
        one_based = exp.Paren(this=exp.Add(this=exp.to_identifier(zero_based), expression=exp.Literal.number(1)))
        if target is node.this:
            node.set("this", one_based)
        else:
            target.replace(one_based)
    node.set("expressions", [node.expressions[0], exp.to_identifier(zero_based)])


def _drop_similarity_screen(case: exp.Case) -> None:
    """`case when jaro_winkler_similarity(a, b, cutoff) = 0 then false else jaro_winkler_similarity(a, b) >= t end`
    with cutoff < t is `jaro_winkler_similarity(a, b) >= t` (a cutoff's 0 says the similarity is below the cutoff,
    so below t): DuckDB's cutoff is a cheap screen, the written-out Spark SQL would compute the similarity twice."""
    ifs = case.args.get("ifs") or []
    default = case.args.get("default")
    if len(ifs) != 1 or not isinstance(default, exp.GTE) or not isinstance(ifs[0].this, exp.EQ):
        return
    screen, full = ifs[0].this.this, default.this
    if not (isinstance(screen, exp.JarowinklerSimilarity) and isinstance(full, exp.JarowinklerSimilarity)):
        return
    cutoff, threshold = screen.args.get("case_insensitive"), default.expression
    if not (
        ifs[0].this.expression == exp.Literal.number(0)
        and ifs[0].args.get("true") == exp.false()
        and isinstance(cutoff, exp.Literal)
        and isinstance(threshold, exp.Literal)
        and float(cutoff.this) < float(threshold.this)
        and screen.this == full.this
        and screen.expression == full.expression
        and full.args.get("case_insensitive") is None
    ):
        return
    case.replace(default.copy())


def _fold(name: str, node: exp.Expression) -> exp.Expression:
    """list_bit_or / list_sum as DuckDB computes them: nulls skipped, null when no value is left."""
    (values,) = node.expressions
    kind, combine = ("bigint", "fold_acc | fold_x") if name == "list_bit_or" else ("double", "fold_acc + fold_x")
    return sqlglot.parse_one(
        f"aggregate({values.sql(dialect='spark')}, cast(null as {kind}), (fold_acc, fold_x) -> case when fold_x is null "
        f"then fold_acc when fold_acc is null then cast(fold_x as {kind}) else {combine} end)",
        read="spark",
    )


def jaro_winkler_sql(left: str, right: str, cutoff: str = "0.0D") -> str:
    """Spark SQL for DuckDB's `jaro_winkler_similarity(left, right[, cutoff])` (third_party/jaro_winkler in DuckDB),
    step by step on the UTF-8 bytes so that every value is DuckDB's to the last bit: the common prefix (at most 4
    bytes, weight 0.1), Jaro's cutoff raised for the prefix, the length and common-character filters, greedy matching
    in the window max(len) / 2 - 1 (each byte of `right` takes the first free equal byte of `left`), half the
    transpositions, ((c / p + c / t) + (c - half) / c) / 3 as DuckDB adds them, then the Winkler boost above 0.7;
    below the cutoff, 0. Empty strings give 0, a null gives null. Spark allows no Python or SQL function inside a
    lambda (the comparisons call this inside one), hence an expression; each `let` below is a one-element
    `transform`."""
    stages = [
        ("a", f"encode({left}, 'UTF-8')"),
        ("b", f"encode({right}, 'UTF-8')"),
        ("c", f"cast({cutoff} as double)"),
        ("p", "length(jw1.a)"),
        ("t", "length(jw1.b)"),
        # the common prefix, at most 4 bytes
        (
            "prefix",
            "cast(array_position(transform(sequence(1, least(jw2.p, jw2.t, 4) + 1), jw_k -> jw_k > least(jw2.p, "
            "jw2.t, 4) or substring(jw2.a, jw_k, 1) != substring(jw2.b, jw_k, 1)), true) - 1 as double)",
        ),
        ("bound", "cast(greatest(jw2.p, jw2.t) div 2 - 1 as int)"),
        # each string's bytes, cut once (the matching below reads each many times)
        ("left_bytes", "transform(sequence(1, jw2.p), jw_k -> substring(jw2.a, jw_k, 1))"),
        ("right_bytes", "transform(sequence(1, jw2.t), jw_k -> substring(jw2.b, jw_k, 1))"),
    ]
    # Jaro's own cutoff, lowered by what the prefix will add
    jaro_cutoff = (
        "case when jw3.c > 0.7D then greatest(0.7D, (jw3.prefix * 0.1D - jw3.c) / (jw3.prefix * 0.1D - 1.0D)) "
        "else jw3.c end"
    )
    stages.append(("jaro_cutoff", jaro_cutoff))
    low, high = "greatest(1, jw_j - jw4.bound)", "least(jw4.p, jw_j + jw4.bound)"
    first_free = (
        f"case when {low} <= {high} then array_min(filter(sequence({low}, {high}), jw_i -> "
        "element_at(jw4.left_bytes, jw_i) = element_at(jw4.right_bytes, jw_j) "
        "and not array_contains(jw_acc.used, jw_i))) end"
    )
    step = (
        f"element_at(transform(array({first_free}), jw_f -> named_struct("
        "'used', case when jw_f is null then jw_acc.used else concat(jw_acc.used, array(jw_f)) end, "
        "'found', case when jw_f is null then jw_acc.found else concat(jw_acc.found, array(jw_j)) end)), 1)"
    )
    common = "cast(size(jw_acc.used) as double)"
    half_transpositions = (
        "cast(size(filter(sequence(1, size(jw_acc.used)), jw_n -> element_at(jw4.left_bytes, "
        "element_at(array_sort(jw_acc.used), jw_n)) != element_at(jw4.right_bytes, element_at(jw_acc.found, jw_n)))) "
        "div 2 as double)"
    )
    sides = f"({common} / cast(jw4.p as double) + {common} / cast(jw4.t as double))"
    similarity = f"(({sides} + ({common} - {half_transpositions}) / {common}) / 3.0D)"
    finish = (
        f"jw_acc -> case when size(jw_acc.used) = 0 then 0.0D when not (({sides} + 1.0D) / 3.0D >= jw4.jaro_cutoff) "
        f"then 0.0D else element_at(transform(array({similarity}), jw_s -> case when jw_s >= jw4.jaro_cutoff "
        "then jw_s else 0.0D end), 1) end"
    )
    shorter = "cast(least(jw4.p, jw4.t) as double)"
    jaro = (
        "case when jw4.p = 0 or jw4.t = 0 then 0.0D "
        f"when not ((({shorter} / cast(jw4.p as double) + {shorter} / cast(jw4.t as double)) + 1.0D) / 3.0D "
        ">= jw4.jaro_cutoff) then 0.0D when jw4.p = 1 and jw4.t = 1 then cast(jw4.a = jw4.b as double) "
        "else aggregate(sequence(1, jw4.t), named_struct('used', cast(array() as array<int>), 'found', "
        f"cast(array() as array<int>)), (jw_acc, jw_j) -> {step}, {finish}) end"
    )
    stages.append(("jaro", jaro))
    # DuckDB's build fuses the Winkler step into one fused multiply-add (one rounding): jaro + (prefix * 0.1) *
    # (1 - jaro) is computed exactly in integers (jaro and 1 - jaro are multiples of 2^-53 in (0.7, 1], prefix * 0.1
    # one of 2^-56) and rounded once, half to even, to a multiple of 2^-53
    exact = (
        "cast(cast(jw5.jaro * 9007199254740992.0D as bigint) as decimal(38, 0)) * 72057594037927936 "
        "+ cast(cast(jw5.prefix * 0.1D * 72057594037927936.0D as bigint) as decimal(38, 0)) "
        "* cast(cast((1.0D - jw5.jaro) * 9007199254740992.0D as bigint) as decimal(38, 0))"
    )
    fused = (
        f"element_at(transform(array({exact}), jw_e -> element_at(transform(array(named_struct('q', "
        "cast(jw_e div 72057594037927936 as bigint), 'r', jw_e - cast(jw_e div 72057594037927936 as decimal(38, 0)) "
        "* 72057594037927936)), jw_h -> cast(jw_h.q + case when jw_h.r > 36028797018963968 or (jw_h.r = 36028797018963968 "
        "and jw_h.q % 2 = 1) then 1 else 0 end as double) / 9007199254740992.0D), 1)), 1)"
    )
    winkler = f"case when jw5.jaro > 0.7D then {fused} else jw5.jaro end"
    result = f"element_at(transform(array({winkler}), jw_w -> case when jw_w >= jw5.c then jw_w else 0.0D end), 1)"
    # stage n binds the fields so far as `jw<n>` (1: a, b, c; 2: + p, t; 3: + prefix, bound, the bytes;
    # 4: + jaro_cutoff; 5: + jaro)
    groups = [["a", "b", "c"], ["p", "t"], ["prefix", "bound", "left_bytes", "right_bytes"], ["jaro_cutoff"], ["jaro"]]
    values = dict(stages)
    expression, known = result, []
    nested = []
    for number, group in enumerate(groups, start=1):
        previous = f"jw{number - 1}"
        fields = [f"'{name}', {previous}.{name}" for name in known] + [f"'{name}', {values[name]}" for name in group]
        nested.append((f"jw{number}", ", ".join(fields)))
        known += group
    for variable, fields in reversed(nested):
        expression = f"element_at(transform(array(named_struct({fields})), {variable} -> {expression}), 1)"
    return f"case when ({left}) is null or ({right}) is null then cast(null as double) else {expression} end"
