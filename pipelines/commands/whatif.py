"""What-if: score the published accounts under another config (weights, thresholds, key share) without publishing.

    python -m pipelines.commands whatif --config my_scoring.yaml
    python -m pipelines.commands whatif --config my_scoring.yaml --key-share 0.3 --name wider-key

Reads the current publication (`$ALMS_OUTPUT_DIR/current`: its marts and the scoring inputs published with them),
never the working warehouse, which after a failed run may hold tables of two different runs; it says which as-of
date and run it used. It scores them under the given config (sections merge over the default like an input
folder's scoring.yaml) and, with `--key-share`, cuts the key level again. Nothing published is written: the result
goes to `$ALMS_OUTPUT_DIR/whatif/<name>/`: `changes.csv` (accounts whose tier or designation would change, before
and after), `per_seller.csv` (those changes counted per seller) and `config.txt` (what was compared with what).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.rules.inputs import InputError
from assets.rules.key_accounts import designate_key_accounts
from assets.rules.publish import PARQUET, current_publication, read_manifest
from assets.rules.publish import SCORING_INPUTS as SCORING_INPUTS_DIR
from assets.rules.scoring_config import load_scoring_config
from assets.rules.scoring_run import SCORING_INPUTS, run_scoring, scoring_inputs


class WhatIfError(InputError):
    """The what-if cannot run (nothing published yet, a publication without its scoring inputs, a bad config)."""


@dataclass
class WhatIf:
    changes: pl.DataFrame
    per_seller: pl.DataFrame
    out_dir: Path
    accounts: int
    publication: Path
    as_of_date: str
    run_id: str


PUBLISHED = {"accounts": "accounts", "scores": "account_scores", "lists": "seller_account_lists"}


def _read_tables(output_dir: Path) -> tuple[Path, dict, dict[str, pl.DataFrame]]:
    """The current publication's folder, manifest and the tables the scoring needs, all of that one publication."""
    publication = current_publication(output_dir)  # resolved once: a switch meanwhile does not mix publications
    if publication is None:
        raise WhatIfError(f"{output_dir}: nothing published yet; run the pipeline once (make run) before a what-if")
    manifest = read_manifest(publication)
    files = {key: publication / PARQUET / f"{table}.parquet" for key, table in PUBLISHED.items()}
    files |= {key: publication / SCORING_INPUTS_DIR / f"{key}.parquet" for key in SCORING_INPUTS}
    missing = sorted(str(path.relative_to(publication)) for path in files.values() if not path.is_file())
    if missing:
        raise WhatIfError(
            f"{publication}: the publication has no {', '.join(missing)} (published by an older "
            "version); run the pipeline once more"
        )
    with duckdb.connect() as conn:
        tables = {
            key: conn.sql("select * from read_parquet(?)", params=[str(path)]).pl() for key, path in files.items()
        }
    return publication, manifest, tables


def run_whatif(output_dir: Path, data_dir: Path, config_path: Path, key_share: float | None, name: str) -> WhatIf:
    publication, manifest, tables = _read_tables(Path(output_dir))
    config = load_scoring_config(data_dir, path=config_path)
    accounts = tables["accounts"]
    if key_share is not None:
        as_of = accounts["as_of_date"][0]
        ranked, _ = designate_key_accounts(tables["aggregated"], key_share)
        owners = accounts.select("account_id", "owner_id")  # the published owners (the ownership rule applied)
        ranked = ranked.drop("owner_id").join(owners, on="account_id", how="left")
        accounts = ranked.with_columns(pl.lit(as_of).alias("as_of_date"))
    inputs = scoring_inputs(
        accounts,
        tables["aggregated"],
        tables["engagement"],
        tables["pipeline"],
        tables["opportunities"].height > 0,
        tables["records"],
        tables["prospects"],
        tables["sellers"],
        tables["picks"],
        tables["overrides"],
    )
    result = run_scoring(inputs, config)
    before = tables["scores"].select(
        "account_id",
        "account_name",
        "owner_id",
        pl.col("tier").alias("tier_before"),
        pl.col("priority_score").alias("score_before"),
    )
    before = before.join(_designations(tables["lists"], "designation_before"), on="account_id", how="left")
    after = result.scores.select(
        "account_id",
        pl.col("tier").alias("tier_after"),
        pl.col("priority_score").alias("score_after"),
        pl.col("is_key_account").alias("is_key_after"),
    )
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
            ((pl.col("designation_before") == "key") & (pl.col("designation_after") != "key"))
            .sum()
            .alias("no_longer_key"),
        )
        .sort("accounts_changing", "owner_id", descending=[True, False], nulls_last=True)
    )
    out_dir = Path(output_dir) / "whatif" / name
    out_dir.mkdir(parents=True, exist_ok=True)
    changes.write_csv(out_dir / "changes.csv")
    per_seller.write_csv(out_dir / "per_seller.csv")
    (out_dir / "config.txt").write_text(
        f"publication: {publication}\nas_of_date: {manifest.get('as_of_date')}\nrun_id: {manifest.get('run_id')}\n"
        f"config: {config.source}\nversion: {config.label}\nkey_share: {key_share or 'as published'}\n"
        f"computed_at: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n"
        + "".join(f"note: {n}\n" for n in config.notes)
    )
    return WhatIf(
        changes=changes,
        per_seller=per_seller,
        out_dir=out_dir,
        accounts=result.scores.height,
        publication=publication,
        as_of_date=str(manifest.get("as_of_date")),
        run_id=str(manifest.get("run_id")),
    )


def _designations(lists: pl.DataFrame, name: str) -> pl.DataFrame:
    return lists.filter(pl.col("row_type") == "account").select("account_id", pl.col("designation").alias(name))
