"""The SQL reader (assets/rules/sql_lineage.py) against expectations written by hand: the tables a query reads
(CTEs, subqueries, joins, unions, a CTE named like a table, names in strings and comments), its parameters, and
the upstream columns of each output column."""

import pytest

from assets.rules.lineage import SqlModelError, trace_to_inputs
from assets.rules.sql_lineage import column_lineage, lineage_of_models, parameters_used, parse_model, tables_read


def reads(sql: str) -> set[tuple[str, str]]:
    return set(tables_read(parse_model(sql, "test.sql"), "test.sql"))


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param("select a from raw.clients", {("raw", "clients")}, id="one table"),
        pytest.param(
            "with lines as (select * from raw.billing_lines), rates as (select * from raw.fx_rates) "
            "select lines.amount * rates.rate from lines join rates on rates.currency = lines.currency",
            {("raw", "billing_lines"), ("raw", "fx_rates")},
            id="import CTEs and a join of the CTEs",
        ),
        pytest.param(
            "select x.a from (select a from staging.t1) as x "
            "where x.a in (select a from staging.t2) and exists (select 1 from marts.t3 where marts.t3.a = x.a)",
            {("staging", "t1"), ("staging", "t2"), ("marts", "t3")},
            id="subqueries in from, in and exists",
        ),
        pytest.param(
            "with billing_lines as (select * from raw.billing_lines where amount > 0) select * from billing_lines",
            {("raw", "billing_lines")},
            id="a CTE named like the table it reads",
        ),
        pytest.param(
            "with stg_clients__records as (select 1 as a) "
            "select * from stg_clients__records cross join staging.stg_clients__records",
            {("staging", "stg_clients__records")},
            id="a CTE and the table of its name, qualified",
        ),
        pytest.param(
            "with a as (select * from raw.clients), b as (select * from a) select * from b",
            {("raw", "clients")},
            id="a CTE reading a CTE",
        ),
        pytest.param(
            "select a from raw.prospects union all select a from raw.sellers",
            {("raw", "prospects"), ("raw", "sellers")},
            id="union branches",
        ),
        pytest.param(
            "select 'was raw.old_table' as note, x from raw.clients -- reads marts.nothing\n/* staging.gone */",
            {("raw", "clients")},
            id="names in a string and in comments are not tables",
        ),
        pytest.param(
            "select x from raw.clients left join lateral (select 1 as y from raw.sellers) as s on true",
            {("raw", "clients"), ("raw", "sellers")},
            id="lateral join",
        ),
        pytest.param("select range as n from range(3)", set(), id="a table function reads no table"),
    ],
)
def test_tables_read(sql, expected):
    assert reads(sql) == expected


def test_a_table_without_its_layer_is_an_error_naming_the_file_and_table():
    with pytest.raises(SqlModelError, match=r"^sql/marts/x\.sql reads table clients without its layer"):
        tables_read(parse_model("select * from clients", "sql/marts/x.sql"), "sql/marts/x.sql")


@pytest.mark.parametrize("sql", ["select from where", "select 1; select 2", "create table raw.x (a int)"])
def test_a_model_that_is_not_one_select_is_a_one_line_error(sql):
    with pytest.raises(SqlModelError, match=r"^sql/staging/y\.sql: ") as error:
        parse_model(sql, "sql/staging/y.sql")
    assert "\n" not in str(error.value)


def test_parameters_are_read_from_the_code_not_from_strings_or_comments():
    tree = parse_model("select $as_of as d, '$price' as s from raw.a where b < $today -- $nothing", "t.sql")
    assert parameters_used(tree) == ["as_of", "today"]


SCHEMA = {
    ("raw", "lines"): ["line_id", "client_id", "amount", "currency"],
    ("raw", "rates"): ["currency", "rate"],
}


def lineage(sql: str, schema=SCHEMA) -> dict[str, set[str]]:
    result = column_lineage(parse_model(sql, "t.sql"), schema, "t.sql")
    assert not result.unresolved
    return {column: {".".join(dep) for dep in deps} for column, deps in result.columns.items()}


def test_lineage_follows_ctes_expressions_and_aggregates():
    sql = """
    with lines as (select * from raw.lines), rates as (select * from raw.rates),
    converted as (
        select lines.client_id, lines.amount * coalesce(rates.rate, 1) as amount_usd
        from lines left join rates on rates.currency = lines.currency
    )
    select client_id, sum(amount_usd) as billing, count(*) as line_count, 'usd' as unit, $as_of as as_of
    from converted where amount_usd > 0 group by client_id
    """
    assert lineage(sql) == {
        "client_id": {"raw.lines.client_id"},
        "billing": {"raw.lines.amount", "raw.rates.rate"},  # not currency: it joins, it computes nothing
        "line_count": set(),
        "unit": set(),
        "as_of": set(),
    }


def test_star_and_alias_star_expand_with_the_upstream_columns():
    sql = """
    with joined as (select lines.*, rates.rate from raw.lines left join raw.rates on rates.currency = lines.currency)
    select * from joined
    """
    assert lineage(sql) == {
        "line_id": {"raw.lines.line_id"},
        "client_id": {"raw.lines.client_id"},
        "amount": {"raw.lines.amount"},
        "currency": {"raw.lines.currency"},
        "rate": {"raw.rates.rate"},
    }


def test_a_star_over_a_table_of_unknown_columns_passes_columns_through_by_name():
    sql = """
    with matched as (select * from intermediate.matched), lines as (select * from raw.lines)
    select matched.account_id, lines.amount from lines join matched on matched.client_id = lines.client_id
    """
    assert lineage(sql) == {"account_id": {"intermediate.matched.account_id"}, "amount": {"raw.lines.amount"}}


def test_union_branches_subqueries_and_window_order():
    sql = """
    select 'lines' as source, line_id as id, row_number() over (order by amount) as amount_rank from raw.lines
    union all
    select 'rates', currency, (select count(*) from raw.lines) from raw.rates
    """
    assert lineage(sql) == {
        "source": set(),
        "id": {"raw.lines.line_id", "raw.rates.currency"},
        "amount_rank": {"raw.lines.amount"},
    }


def test_an_unqualified_column_between_two_unknown_tables_is_reported_unresolved():
    sql = "select account_id from intermediate.a cross join intermediate.b"
    result = column_lineage(parse_model(sql, "t.sql"), {}, "t.sql")
    assert set(result.unresolved) == {"account_id"}


def test_models_in_order_pass_their_columns_to_their_readers_and_trace_back_to_the_inputs():
    models = [
        (("staging", "converted"), "select line_id, amount * 2 as amount_doubled from raw.lines"),
        (("marts", "totals"), "with c as (select * from staging.converted) select sum(amount_doubled) as total from c"),
    ]
    parsed = [(table, parse_model(sql, "t.sql"), "t.sql") for table, sql in models]
    result = lineage_of_models(parsed, SCHEMA)
    assert result[("marts", "totals")].columns == {"total": (("staging", "converted", "amount_doubled"),)}
    assert trace_to_inputs(result, ("marts", "totals", "total")) == {("raw", "lines", "amount")}
