"""Single assets materialized on their own with `dg.materialize()`, on a copy of the session's shared run
(`small_run`): an asset reads its inputs from the warehouse, calls its rule, validates and writes its table; run
again on the same inputs it writes the same rows, and its materialization carries the row count and the columns."""

from __future__ import annotations

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
    """small_run's settings with an output folder that is a copy of its own."""
    env = {**small_run.env, "ALMS_OUTPUT_DIR": str(copy_run_output(small_run.output, tmp_path / "output"))}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def table(env: dict, layer: str, name: str, order_by: str) -> pl.DataFrame:
    warehouse = Path(settings_from_env(env).output_dir) / "work" / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.sql(f"select * from {layer}.{name} order by {order_by}").pl()


@pytest.mark.parametrize("key", list(ASSETS), ids="/".join)
def test_an_asset_materialized_alone_rebuilds_its_table(copied, key):
    before = table(copied, *key, ASSETS[key])
    definitions = build_definitions(copied)
    asset_key = dg.AssetKey(list(key))
    (node,) = [a for a in definitions.assets if isinstance(a, dg.AssetsDefinition) and asset_key in a.keys]
    result = dg.materialize(  # the asset's node: a node that writes several tables is run whole
        [*definitions.assets],
        selection=dg.AssetSelection.assets(*node.keys),
        resources=definitions.resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == asset_key]
    metadata = event.materialization.metadata
    assert metadata["dagster/row_count"].value == before.height > 0
    assert [c.name for c in metadata["dagster/column_schema"].schema.columns] == before.columns
    after = table(copied, *key, ASSETS[key])
    assert after.drop("computed_at", strict=False).equals(before.drop("computed_at", strict=False))
