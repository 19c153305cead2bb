"""Step 1 of the Splink comparison (README, "Deduplication"): alms's own normalised keys for a generated data set.

    .venv/bin/python -m pipelines.splink_comparison.prepare /tmp/alms-matching/speed-100000 /tmp/prep-100000.parquet

Writes the prepared records (the same keys alms's matcher compares) and the truth beside them, so both matchers see
identical inputs. Step 2 (compare_splink.py) runs in a separate environment with Splink installed.
"""

import sys
from pathlib import Path

import polars as pl

from assets.logic.resolution import ResolutionSettings, prepare_records
from pipelines.evaluate_matching import load_records


def main() -> None:
    data_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    records, truth = load_records(data_dir)
    prepared, _ = prepare_records(records, ResolutionSettings())
    prepared.select(
        pl.col("record_id").alias("unique_id"), "source_system", "source_client_id", "name_key", "domain_key",
        "domain_stem", "phone_key", "postal_code_key", "house_number", "street_key", "city_key", "country_key",
        "first_rare_token", pl.col("name_key").str.slice(0, 4).alias("name_prefix"),
    ).write_parquet(out)  # fmt: skip
    truth.write_parquet(str(out).replace(".parquet", "_truth.parquet"))


if __name__ == "__main__":
    main()
