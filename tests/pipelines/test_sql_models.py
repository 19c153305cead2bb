"""The SQL-model factory: every model's declared dependencies against the tables DuckDB's own parser finds in its SQL,
a model reading a table that is not an asset, and column lineage checked by hand on a few columns and for coverage."""

import json
import shutil

import dagster as dg
import pytest

from assets.rules.lineage import SqlModelError, trace_to_inputs
from assets.rules.tables import scratch
from pipelines import sql_models
from pipelines.definitions import defs, python_assets
from pipelines.sql_models import build_sql_assets, load_sql_models, sql_column_lineage


def tables_duckdb_reads(sql: str) -> set[tuple[str, str]]:
    """The qualified tables in DuckDB's own parse tree of the SQL (json_serialize_sql): an independent parser. A CTE
    reference has no schema there; every table of a model is qualified (sqlglot's reader refuses one that is not)."""
    with scratch() as conn:
        tree = json.loads(conn.execute("select json_serialize_sql(?)", [sql]).fetchone()[0])
    assert not tree["error"], tree
    found = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and node.get("schema_name"):
                found.add((node["schema_name"], node["table_name"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def test_declared_dependencies_are_the_tables_duckdb_finds_in_the_sql():
    graph = defs.resolve_asset_graph()
    models = load_sql_models()
    assert len(models) >= 17
    for model in models:
        declared = {tuple(parent.path) for parent in graph.get(dg.AssetKey([model.layer, model.name])).parent_keys}
        assert declared == tables_duckdb_reads(model.sql), model.path


def test_a_model_reading_a_table_that_is_not_an_asset_is_a_one_line_error(tmp_path):
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "stg_typo.sql").write_text(
        "-- reads a table nobody builds\nwith lines as (select * from raw.billing_line)\nselect * from lines\n"
    )
    with pytest.raises(SqlModelError) as error:
        build_sql_assets(python_assets, tmp_path)
    assert str(error.value) == (
        "sql/staging/stg_typo.sql reads raw.billing_line, which is not an asset (did you mean raw.billing_lines?)"
    )


@pytest.fixture(scope="module")
def lineage():
    return sql_column_lineage(load_sql_models())


def deps(lineage, table: str, column: str) -> set[str]:
    layer, name = table.split(".")
    return {".".join(dep) for dep in lineage[(layer, name)].columns[column]}


def inputs(lineage, table: str, column: str) -> set[str]:
    return {".".join(dep) for dep in trace_to_inputs(lineage, (*table.split("."), column))}


def test_lineage_of_named_columns_checked_by_hand(lineage):
    # stg_billing__checked_lines: billing_amount = round(amount) in the reporting currency, else amount x the rate
    assert deps(lineage, "staging.stg_billing__checked_lines", "billing_amount") == {
        "raw.billing_lines.amount",
        "raw.billing_lines.currency",
        "raw.fx_rates.rate_to_reporting",
    }
    # billing_12m sums the billing_amount of the clean lines in the window (the view int_billing_lines_windowed over
    # the checked lines); the window decides which lines, so it is not lineage, but it is the in-window flag's
    assert deps(lineage, "intermediate.int_billing_lines_windowed", "billing_amount") == {
        "staging.stg_billing__checked_lines.billing_amount"
    }
    assert deps(lineage, "intermediate.int_billing_lines_windowed", "is_in_window") == {
        "staging.stg_billing__checked_lines.invoice_date",
        "intermediate.int_reporting_windows_resolved.window_start_date",
        "intermediate.int_reporting_windows_resolved.as_of_date",
    }
    assert deps(lineage, "intermediate.int_accounts_aggregated", "billing_12m") == {
        "intermediate.int_billing_lines_windowed.billing_amount"
    }
    assert inputs(lineage, "intermediate.int_accounts_aggregated", "billing_12m") == {
        "raw.billing_lines.amount",
        "raw.billing_lines.currency",
        "raw.fx_rates.rate_to_reporting",
    }
    # the quarantine reason: each input's checked reason, a client's missing name or unusable value, a prospect's
    # unusable value; the kept_cleaned branches write a literal
    assert deps(lineage, "marts.quarantined_rows", "reason") == {
        "staging.stg_billing__checked_lines.quarantine_reason",
        "staging.stg_clients__checked_records.quarantine_reason",
        "staging.stg_clients__checked_records.name",
        "staging.stg_clients__checked_records.invalid_fields",
        "staging.stg_engagement__checked_events.quarantine_reason",
        "intermediate.int_deals_checked.quarantine_reason",
        "raw.prospects.invalid_fields",
    }
    # int_clients_matched has no pandera model: `select * from` it passes its columns through by name
    assert deps(lineage, "marts.client_crosswalk", "is_primary_record") == {
        "intermediate.int_accounts_aggregated.primary_record",
        "intermediate.int_clients_matched.source_system",
        "intermediate.int_clients_matched.source_client_id",
    }
    assert deps(lineage, "marts.match_review_pairs", "name_2") == {"intermediate.int_clients_matched.name"}


# Output columns computed from no column of a table: documented here, so a new one fails until someone looks at it.
NO_COLUMN = {
    "intermediate.int_reporting_windows_resolved.is_as_of_set": "the parameter $as_of",
    "intermediate.int_account_engagement_monthly.events": "count(*)",
    "intermediate.int_account_pipeline.open_deals": "count(*)",
    "intermediate.int_client_billing_monthly.billing_line_count": "count(*)",
    "intermediate.int_client_engagement_monthly.events": "count(*)",
    "intermediate.int_accounts_aggregated.client_record_count": "count(*)",
    "intermediate.int_accounts_aggregated.billing_line_count": "sum of count(*)",
    "marts.billing_completeness.billing_rows": "count(*)",
    "marts.engagement_completeness.events": "count(*)",
    "marts.quarantined_rows.input_name": "a literal per input",
    "marts.input_files.rows_read": "count(*)",
    "marts.input_files.reporting_currency": "the parameter $reporting_currency",
    "marts.billing_completeness.reporting_currency": "the parameter $reporting_currency",
    "marts.sellers.reporting_currency": "the parameter $reporting_currency",
    "marts.sellers.has_known_seller": "a literal per branch (a seller of the input, or an unknown or no owner)",
}


def test_every_output_column_has_a_source_column_or_is_a_documented_constant(lineage):
    unresolved = {table: result.unresolved for table, result in lineage.items() if result.unresolved}
    assert not unresolved
    without = {
        f"{layer}.{name}.{column}"
        for (layer, name), result in lineage.items()
        for column, sources in result.columns.items()
        if not sources
    }
    assert without == set(NO_COLUMN)


def test_sql_assets_carry_their_lineage_table():
    node = defs.resolve_asset_graph().get(dg.AssetKey(["intermediate", "int_accounts_aggregated"]))
    table = node.metadata["column_lineage"].value
    assert (
        "| `billing_12m` | intermediate.int_billing_lines_windowed.billing_amount | raw.billing_lines.amount, "
        "raw.billing_lines.currency, raw.fx_rates.rate_to_reporting |"
    ) in table.splitlines()


def test_a_stored_parse_gives_the_same_models_and_lineage_without_parsing(tmp_path, monkeypatch):
    """The parse is stored after a successful parse (pipelines/sql_models.py, PARSE_STORE) and read back, unparsed, by
    the next process; a changed SQL file parses again; a store that cannot be written only means parsing again."""
    sql_dir = tmp_path / "sql"
    shutil.copytree(sql_models.SQL_DIR, sql_dir)
    monkeypatch.setattr(sql_models, "PARSE_STORE", tmp_path / "store")
    parsed_models = load_sql_models(sql_dir)
    parsed_lineage = sql_column_lineage(parsed_models)
    assert len(list((tmp_path / "store").glob("sql-parse-*.json"))) == 1

    def no_parse(sql, path):
        raise AssertionError(f"{path} parsed again")

    with monkeypatch.context() as patch:
        patch.setattr(sql_models, "_parsed", no_parse)
        stored_models = load_sql_models(sql_dir)
        assert stored_models == parsed_models
        assert sql_column_lineage(stored_models) == parsed_lineage
        # a changed model is parsed again: its stored parse is not the one read
        model = sql_dir / "marts" / "billing_completeness.sql"
        model.write_text(model.read_text() + "\n-- changed\n")
        with pytest.raises(AssertionError, match="parsed again"):
            load_sql_models(sql_dir)
    changed = load_sql_models(sql_dir)
    assert [m.reads for m in changed] == [m.reads for m in parsed_models]
    assert sql_column_lineage(changed) == parsed_lineage
    assert len(list((tmp_path / "store").glob("sql-parse-*.json"))) == 2

    for stored in (tmp_path / "store").glob("sql-parse-*.json"):  # a store in another shape (hand-edited, say)
        stored.write_text(json.dumps({"models": [{"reads": 1}] * len(changed), "lineage": {"x": 2}}))
    assert load_sql_models(sql_dir) == changed and sql_column_lineage(changed) == parsed_lineage  # parsed again
    (tmp_path / "store-is-a-file").write_text("")
    monkeypatch.setattr(sql_models, "PARSE_STORE", tmp_path / "store-is-a-file")
    assert sql_column_lineage(load_sql_models(sql_dir)) == parsed_lineage  # parsed, nothing stored, no error
