"""What-if: score the last run's accounts under another config (weights, thresholds, key share) without publishing.

    python -m pipelines.cli whatif --config my_scoring.yaml
    python -m pipelines.cli whatif --config my_scoring.yaml --key-share 0.3 --name wider-key

Reads the last run's working tables from the warehouse (`$ALMS_OUTPUT_DIR/work/warehouse.duckdb`) read-only, scores
them under the given config (sections merge over the default like an input folder's scoring.yaml) and, with
`--key-share`, cuts the key level again. The published file, the Parquet copies and the warehouse are not written:
the result goes to `$ALMS_OUTPUT_DIR/whatif/<name>/`: `changes.csv` (accounts whose tier or designation would
change, before and after) and `per_seller.csv` (those changes counted per seller), and a summary is printed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.logic.inputs import InputError
from assets.logic.key_accounts import designate_key_accounts
from assets.logic.scoring_config import load_scoring_config


class WhatIfError(InputError):
    """The what-if cannot run (no finished run to start from, the warehouse is busy, a bad config)."""


@dataclass
class WhatIf:
    changes: pl.DataFrame
    per_seller: pl.DataFrame
    out_dir: Path
    accounts: int


def _read_tables(warehouse: Path) -> dict[str, pl.DataFrame]:
    if not warehouse.is_file():
        raise WhatIfError(f"{warehouse}: no warehouse yet; run the pipeline once (make run) before a what-if")
    try:
        conn = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as error:
        raise WhatIfError(
            f"{warehouse}: busy ({str(error).splitlines()[0]}); retry when the current run ends"
        ) from None
    names = {
        "accounts": "marts.accounts",
        "aggregated": "intermediate.int_accounts_aggregated",
        "engagement": "intermediate.int_account_engagement_monthly",
        "pipeline": "intermediate.int_account_pipeline",
        "opportunities": "raw.opportunities",
        "records": "intermediate.int_clients_matched",
        "prospects": "raw.prospects",
        "sellers": "raw.sellers",
        "picks": "raw.seller_picks",
        "overrides": "raw.account_overrides",
        "scores": "marts.account_scores",
        "lists": "marts.seller_account_lists",
    }
    try:
        return {key: conn.sql(f"select * from {table}").pl() for key, table in names.items()}
    except duckdb.CatalogException as error:
        raise WhatIfError(f"{warehouse}: the last run did not finish scoring ({str(error).splitlines()[0]})") from None
    finally:
        conn.close()


def run_whatif(output_dir: Path, data_dir: Path, config_path: Path, key_share: float | None, name: str) -> WhatIf:
    from assets.scoring import run_scoring, scoring_inputs

    tables = _read_tables(Path(output_dir) / "work" / "warehouse.duckdb")
    config = load_scoring_config(data_dir, path=config_path)
    accounts = tables["accounts"]
    if key_share is not None:
        as_of = accounts["as_of_date"][0]
        ranked, _ = designate_key_accounts(tables["aggregated"], key_share)
        accounts = ranked.with_columns(pl.lit(as_of).alias("as_of_date"))
    inputs = scoring_inputs(accounts, tables["aggregated"], tables["engagement"], tables["pipeline"],
                            tables["opportunities"].height > 0, tables["records"], tables["prospects"],
                            tables["sellers"], tables["picks"], tables["overrides"])  # fmt: skip
    result = run_scoring(inputs, config)
    before = tables["scores"].select("account_id", "account_name", "owner_id", pl.col("tier").alias("tier_before"),
                                     pl.col("priority_score").alias("score_before"))  # fmt: skip
    before = before.join(_designations(tables["lists"], "designation_before"), on="account_id", how="left")
    after = result.scores.select("account_id", pl.col("tier").alias("tier_after"),
                                 pl.col("priority_score").alias("score_after"),
                                 pl.col("is_key_account").alias("is_key_after"))  # fmt: skip
    after = after.join(_designations(result.seller_lists, "designation_after"), on="account_id", how="left")
    both = before.join(after, on="account_id", how="full", coalesce=True)
    changes = both.filter(
        (pl.col("tier_before") != pl.col("tier_after")).fill_null(True)
        | (pl.col("designation_before") != pl.col("designation_after")).fill_null(True)
    ).sort("owner_id", "account_id", nulls_last=True)
    sellers = tables["sellers"].select("owner_id", "seller_name")
    changes = changes.join(sellers, on="owner_id", how="left")
    per_seller = (
        changes.group_by("owner_id", "seller_name")
        .agg(
            pl.len().alias("accounts_changing"),
            (pl.col("tier_before") != pl.col("tier_after")).sum().alias("tier_changes"),
            (pl.col("designation_before") != pl.col("designation_after")).sum().alias("designation_changes"),
            ((pl.col("designation_after") == "key") & (pl.col("designation_before") != "key")).sum().alias("new_key"),
            ((pl.col("designation_before") == "key") & (pl.col("designation_after") != "key")).sum().alias("no_longer_key"),
        )
        .sort("accounts_changing", "owner_id", descending=[True, False], nulls_last=True)
    )  # fmt: skip
    out_dir = Path(output_dir) / "whatif" / name
    out_dir.mkdir(parents=True, exist_ok=True)
    changes.write_csv(out_dir / "changes.csv")
    per_seller.write_csv(out_dir / "per_seller.csv")
    (out_dir / "config.txt").write_text(
        f"config: {config.source}\nversion: {config.label}\nkey_share: {key_share or 'as published'}\n"
        f"computed_at: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n" + "".join(f"note: {n}\n" for n in config.notes)
    )  # fmt: skip
    return WhatIf(changes=changes, per_seller=per_seller, out_dir=out_dir, accounts=result.scores.height)


def _designations(lists: pl.DataFrame, name: str) -> pl.DataFrame:
    return lists.filter(pl.col("row_type") == "account").select("account_id", pl.col("designation").alias(name))
