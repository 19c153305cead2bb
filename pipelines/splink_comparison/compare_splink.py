"""Step 2 of the Splink comparison: Splink 5 (DuckDB backend) on the records prepare.py wrote; pairwise P/R/F1.

Splink is not a dependency of alms; run this in its own environment:

    python3 -m venv /tmp/splink-venv
    /tmp/splink-venv/bin/pip install splink==5.0.0 duckdb==2.0.0 polars==2.1.0 pyarrow numpy pandas
    /tmp/splink-venv/bin/python pipelines/splink_comparison/compare_splink.py /tmp/prep-100000.parquet [gated]

Same blocking rules as alms; Jaro-Winkler name levels with term-frequency adjustment; u by random sampling, m by EM
on two blocking rules; clusters at match probability 0.9. `gated` keeps only links whose names score a positive
weight before clustering (alms's name rule, approximated with Splink's own name levels).
"""

import logging
import resource
import sys
import time

import duckdb
import polars as pl
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.internals.duckdb.database_api import DuckDBAPI

path = sys.argv[1]
records = pl.read_parquet(path)
truth = pl.read_parquet(path.replace(".parquet", "_truth.parquet"))
t0 = time.perf_counter()
db_api = DuckDBAPI(connection=duckdb.connect())
df = db_api.register(records.to_arrow())
settings = SettingsCreator(
    link_type="dedupe_only",
    blocking_rules_to_generate_predictions=[
        block_on("name_key"),
        block_on("domain_stem"),
        block_on("phone_key"),
        block_on("postal_code_key", "house_number"),
        block_on("postal_code_key", "first_rare_token"),
        block_on("postal_code_key", "name_prefix"),
    ],
    comparisons=[
        cl.JaroWinklerAtThresholds("name_key", [0.95, 0.88]).configure(term_frequency_adjustments=True),
        cl.ExactMatch("domain_key"),
        cl.ExactMatch("phone_key"),
        cl.ExactMatch("postal_code_key"),
        cl.ExactMatch("house_number"),
        cl.JaroWinklerAtThresholds("street_key", [0.9]),
        cl.ExactMatch("city_key"),
        cl.ExactMatch("country_key"),
    ],
    retain_intermediate_calculation_columns=True,
    retain_matching_columns=False,
)
linker = Linker(df, settings, log_level=logging.WARNING)
linker.training.estimate_probability_two_random_records_match([block_on("name_key"), block_on("phone_key")], recall=0.9)
linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_key"))
linker.training.estimate_parameters_using_expectation_maximisation(block_on("phone_key"))
t_train = time.perf_counter()
pred = linker.inference.predict(threshold_match_probability=0.5)
t_pred = time.perf_counter()
GATED = len(sys.argv) > 2
if GATED:  # alms's rule on top of Splink's scores: a link needs the names to agree (JW >= 0.88 level or exact)
    from splink.clustering import cluster_pairwise_predictions_at_threshold

    edges = pl.from_arrow(
        pred.as_duckdbpyrelation().arrow()
        if hasattr(pred.as_duckdbpyrelation(), "arrow")
        else pred.as_duckdbpyrelation().fetch_arrow_table()
    )
    edges = edges.filter(pl.col("mw_name_key") > 0).select("unique_id_l", "unique_id_r", "match_probability")
    clusters = cluster_pairwise_predictions_at_threshold(
        records.select("unique_id", "source_system", "source_client_id").to_arrow(),
        edges.to_arrow(),
        db_api,
        "unique_id",
        "unique_id_l",
        "unique_id_r",
        threshold_match_probability=0.9,
    )
    cl_df = (
        pl.from_arrow(clusters.as_duckdbpyrelation().fetch_arrow_table()).join(
            records.select("unique_id", "source_system", "source_client_id"), on="unique_id", how="left", suffix="_x"
        )
        if "source_system" not in clusters.columns
        else None
    )
else:
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pred, threshold_match_probability=0.9)
if not GATED:
    cl_df = (
        clusters.as_polars_dataframe()
        if hasattr(clusters, "as_polars_dataframe")
        else pl.from_pandas(clusters.as_pandas_dataframe())
    )
t_cluster = time.perf_counter()
joined = cl_df.select("source_system", "source_client_id", "cluster_id").join(
    truth, on=["source_system", "source_client_id"]
)


def pairs(cols):
    sizes = joined.group_by(cols).len()["len"]
    return int((sizes * (sizes - 1) // 2).sum())


both, tp, found = pairs(["entity_id", "cluster_id"]), pairs("entity_id"), pairs("cluster_id")
p, r = both / found, both / tp
print(
    f"records={records.height} P={p:.4f} R={r:.4f} F1={2 * p * r / (p + r):.4f} train={t_train - t0:.1f}s predict={t_pred - t_train:.1f}s "
    f"cluster={t_cluster - t_pred:.1f}s total={t_cluster - t0:.1f}s peak_MB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
)
