"""Single assets materialized on their own with `dg.materialize()`, on a copy of the session's shared run
(`small_run`): an asset reads its inputs from the warehouse, calls its rule, validates and writes its table; run
again on the same inputs it writes the same rows, and its materialization carries the row count and the columns."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from conftest import copy_run_output

from assets.resources import settings_from_env
from pipelines.definitions import build_definitions

# asset -> the column its rows are ordered by for the comparison
ASSETS = {
    ("intermediate", "int_clients_matched"): "source_system, source_client_id",
    ("marts", "accounts"): "account_id",
    ("marts", "account_scores"): "account_id",
}


@pytest.fixture
def copied(small_run, tmp_path, monkeypatch) -> dict:
    """small_run's settings with an output folder that is a copy of its own; every asset computes its table again
    (ALMS_REUSE_UNCHANGED=0: the matcher would otherwise keep small_run's result, its inputs being unchanged)."""
    env = {
        **small_run.env,
        "ALMS_OUTPUT_DIR": str(copy_run_output(small_run.output, tmp_path / "output")),
        "ALMS_REUSE_UNCHANGED": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def materialize_alone(env: dict, key: tuple[str, str], instance=None) -> dg.ExecuteInProcessResult:
    """The node that writes `key` (a node writing several tables is run whole), on its own, with `env`'s settings."""
    definitions = build_definitions(env)
    asset_key = dg.AssetKey(list(key))
    (node,) = [a for a in definitions.assets if isinstance(a, dg.AssetsDefinition) and asset_key in a.keys]
    result = dg.materialize(
        [*definitions.assets],
        selection=dg.AssetSelection.assets(*node.keys),
        resources=definitions.resources,
        instance=instance or dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return result


def metadata_of(result: dg.ExecuteInProcessResult, key: tuple[str, str]) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(list(key))]
    return event.materialization.metadata


def table(env: dict, layer: str, name: str, order_by: str) -> pl.DataFrame:
    warehouse = Path(settings_from_env(env).output_dir) / "work" / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.sql(f"select * from {layer}.{name} order by {order_by}").pl()


@pytest.mark.parametrize("key", list(ASSETS), ids="/".join)
def test_an_asset_materialized_alone_rebuilds_its_table(copied, key):
    before = table(copied, *key, ASSETS[key])
    metadata = metadata_of(materialize_alone(copied, key), key)
    assert metadata["dagster/row_count"].value == before.height > 0
    assert [c.name for c in metadata["dagster/column_schema"].schema.columns] == before.columns
    after = table(copied, *key, ASSETS[key])
    assert after.drop("computed_at", strict=False).equals(before.drop("computed_at", strict=False))


MATCHED = ("intermediate", "int_clients_matched")
REVIEWED = ("intermediate", "int_match_pairs_reviewed")


def test_the_matcher_keeps_its_result_while_its_inputs_are_unchanged(copied, small_run):
    env = {**copied, "ALMS_REUSE_UNCHANGED": "1"}
    before = table(env, *MATCHED, ASSETS[MATCHED])
    result = materialize_alone(env, MATCHED)
    metadata = metadata_of(result, MATCHED)
    assert metadata["matcher_result"].value == "reused"
    assert metadata["computed_by_run"].value == small_run.run_id
    assert metadata["dagster/row_count"].value == before.height
    assert metadata_of(result, REVIEWED)["matcher_result"].value == "reused"
    assert table(env, *MATCHED, ASSETS[MATCHED]).equals(before)
    # the run that computed it recorded the same fingerprint on its materialization
    with small_run.instance() as instance:
        computed = instance.get_latest_materialization_event(dg.AssetKey(list(MATCHED))).asset_materialization
    assert computed.metadata["matcher_result"].value == "computed"
    assert computed.metadata["input_fingerprint"].value == metadata["input_fingerprint"].value


def test_a_changed_client_record_or_setting_matches_again(copied):
    env = {**copied, "ALMS_REUSE_UNCHANGED": "1"}
    warehouse = Path(env["ALMS_OUTPUT_DIR"]) / "work" / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(
            "update staging.stg_clients__checked_records set name = 'Renamed Holdings' "
            "where source_client_id = (select min(source_client_id) from staging.stg_clients__records)"
        )
    result = materialize_alone(env, MATCHED)
    assert metadata_of(result, MATCHED)["matcher_result"].value == "computed"
    assert "Renamed Holdings" in table(env, *MATCHED, ASSETS[MATCHED])["name"].to_list()
    # computed again, then kept; another threshold computes it again
    assert metadata_of(materialize_alone(env, MATCHED), MATCHED)["matcher_result"].value == "reused"
    changed = {**env, "ALMS_MATCH_THRESHOLD": "0.6"}
    assert metadata_of(materialize_alone(changed, MATCHED), MATCHED)["matcher_result"].value == "computed"


def test_the_fingerprint_covers_overrides_settings_and_engine(small_run):
    from assets.intermediate import matcher_fingerprint

    settings = settings_from_env(small_run.env)
    records = pl.DataFrame({"source_system": ["a"], "source_client_id": ["1"], "name": ["Acme"]})
    overrides = pl.DataFrame({"source_system_1": ["a"], "decision": ["match"]})
    base = matcher_fingerprint(settings, records, overrides, on_spark=False)
    assert matcher_fingerprint(settings, records, overrides.clear(), on_spark=False) != base
    assert matcher_fingerprint(settings, records, overrides, on_spark=True) != base
    for changed in ({"matcher": "deterministic"}, {"review_threshold": 0.1}, {"match_threshold": 0.7}):
        assert matcher_fingerprint(settings.model_copy(update=changed), records, overrides, False) != base


def test_the_fingerprint_covers_every_rule_module_the_matcher_imports():
    import ast

    import assets.rules
    from assets.intermediate import MATCHER_CODE

    covered = {Path(path).resolve() for path in MATCHER_CODE}
    for path in MATCHER_CODE:
        tree = ast.parse(Path(path).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {
            f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "assets.rules"
            for alias in node.names
        }
        # what the matcher computes with (the reuse bookkeeping and progress lines compute nothing of the result)
        rules = {name.rsplit(".", 1)[1] for name in imported if name.startswith("assets.rules.")} - {
            "reuse",
            "progress",
        }
        files = {(Path(assets.rules.__file__).parent / f"{name}.py").resolve() for name in rules}
        assert files <= covered, (path, files - covered)


def test_an_unchanged_input_is_not_read_again(copied, tmp_path):
    data = shutil.copytree(copied["ALMS_DATA_DIR"], tmp_path / "inputs")
    env = {**copied, "ALMS_REUSE_UNCHANGED": "1", "ALMS_DATA_DIR": str(data)}
    key, order = ("raw", "clients"), "source_file, source_row"
    instance = dg.DagsterInstance.ephemeral()

    def ingest() -> dict:
        return metadata_of(materialize_alone(env, key, instance), key)

    first = ingest()  # the copied table carries small_run's fingerprint, but this instance has no record of it
    assert first["ingest_result"].value == "computed"
    before = table(env, *key, order)
    again = ingest()
    assert again["ingest_result"].value == "reused"
    assert again["dagster/row_count"].value == first["dagster/row_count"].value == before.height
    assert again["files"].value == first["files"].value
    assert table(env, *key, order).equals(before)
    clients = data / "clients" / "nat.csv"
    clients.write_text(clients.read_text().replace("Acme", "Acme Renamed", 1))  # one value in one file changed
    assert ingest()["ingest_result"].value == "computed"
    assert "Acme Renamed Holdings, Inc." in table(env, *key, order)["name"].to_list()
    assert ingest()["ingest_result"].value == "reused"
    assert (
        metadata_of(materialize_alone({**env, "ALMS_REUSE_UNCHANGED": "0"}, key, instance), key)["ingest_result"].value
        == "computed"
    )
