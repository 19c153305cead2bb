"""Splink 5 (DuckDB backend), unsupervised, on raw client records: the off-the-shelf reference beside alms's matcher.

    make install-evaluation     # Splink is an evaluation package (requirements-evaluation.lock), not a dependency
    .venv/bin/python -m pipelines.commands.evaluate_matching --sets febrl3     # alms and Splink side by side

A standard unsupervised set-up, the same for every data set, on the same input columns alms reads:
- light cleaning only (what a Splink user writes first): lower case, accents and punctuation removed, spaces
  collapsed; phone digits (7 or more); postal code without spaces; web domain without scheme, `www.` and path; the
  house number (first number of the address) for blocking. No legal-form or abbreviation handling: that is alms's.
- comparisons: name Jaro-Winkler at 0.95 / 0.88 / 0.70 with term-frequency adjustment; address Jaro-Winkler at
  0.95 / 0.88; city exact with term-frequency adjustment; postal code, phone, domain and country exact. A column
  that is empty or constant in a data set (febrl has no phone or domain and one country) is left out.
- blocking (predictions): name; phone; domain; postal code + house number; postal code + first 4 letters of the
  name; city + first 4 letters of the name.
- training: the prior with `estimate_probability_two_random_records_match` (name + postal code, name + city;
  recall 0.8; 1 / records when no pair agrees on those), u by random sampling (1M pairs), m by EM blocked on name and then on postal code (city without one).
- clusters: connected components of pairs at match probability >= 0.9.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import duckdb
import polars as pl

from pipelines.commands.evaluation_sets import import_evaluation_packages

MATCH_THRESHOLD = 0.9
COLUMNS = ("name", "address", "city", "postal_code", "phone", "domain", "country")


@dataclass
class SplinkResult:
    # source_system, source_client_id, account_id (Splink's cluster)
    clusters: pl.DataFrame
    # every pair Splink compared: left/right source keys and match_probability
    pairs: pl.DataFrame
    seconds: float
    notes: list[str] = field(default_factory=list)


def _text(column: str) -> pl.Expr:
    return (
        pl.col(column)
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^a-z0-9]+", " ")
        .str.strip_chars()
        .replace("", None)
    )


def clean_records(records: pl.DataFrame) -> pl.DataFrame:
    """The records as Splink sees them: a unique_id and lightly cleaned columns."""
    digits = pl.col("phone").str.replace_all(r"[^0-9]", "")
    domain = (
        pl.col("domain")
        .str.to_lowercase()
        .str.strip_chars()
        .str.replace(r"^[a-z]+://", "")
        .str.replace(r"^www\.", "")
        .str.replace(r"[/?#].*$", "")
        .replace("", None)
    )
    return records.with_row_index("unique_id").select(
        pl.col("unique_id").cast(pl.Int64),
        "source_system",
        "source_client_id",
        _text("name").alias("name"),
        _text("address").alias("address"),
        _text("city").alias("city"),
        pl.col("postal_code").str.to_uppercase().str.replace_all(r"[\s-]", "").replace("", None).alias("postal_code"),
        pl.when(digits.str.len_chars() >= 7).then(digits).alias("phone"),
        domain.alias("domain"),
        _text("country").alias("country"),
        _text("address").str.extract(r"^([0-9]+)", 1).alias("house_number"),
    )


def splink_unsupervised(records: pl.DataFrame, threshold: float = MATCH_THRESHOLD, seed: int = 1) -> SplinkResult:
    """Splink's clusters and compared pairs for raw client records (the clients input contract's columns)."""
    import_evaluation_packages()
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    cleaned = clean_records(records)
    usable = {c for c in COLUMNS if cleaned[c].drop_nulls().n_unique() >= 2}
    left_out = [c for c in COLUMNS if c not in usable]
    notes = [f"left out (empty or constant): {', '.join(left_out)}"] if left_out else []
    comparisons = {
        "name": cl.JaroWinklerAtThresholds("name", [0.95, 0.88, 0.7]).configure(term_frequency_adjustments=True),
        "address": cl.JaroWinklerAtThresholds("address", [0.95, 0.88]),
        "city": cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        "postal_code": cl.ExactMatch("postal_code"),
        "phone": cl.ExactMatch("phone"),
        "domain": cl.ExactMatch("domain"),
        "country": cl.ExactMatch("country"),
    }
    prefix = "substr(name, 1, 4)"
    blocking = [
        (("name",), block_on("name")),
        (("phone",), block_on("phone")),
        (("domain",), block_on("domain")),
        (("postal_code", "address"), block_on("postal_code", "house_number")),
        (("postal_code", "name"), block_on("postal_code", prefix)),
        (("city", "name"), block_on("city", prefix)),
    ]
    deterministic = [("name", c) for c in ("postal_code", "city") if c in usable] or [("name",)]
    agreeing = sum(
        int(
            cleaned.drop_nulls(list(keys))
            .group_by(list(keys))
            .len()
            .select((pl.col("len") * (pl.col("len") - 1) // 2).sum())
            .item()
        )
        for keys in deterministic
    )
    db_api = DuckDBAPI(connection=duckdb.connect())
    settings = SettingsCreator(
        link_type="dedupe_only",
        # used only when the deterministic rules find no pair at all (their estimate would be 0)
        probability_two_random_records_match=1 / max(cleaned.height, 2),
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=[rule for needs, rule in blocking if usable.issuperset(needs)],
        comparisons=[comparison for column, comparison in comparisons.items() if column in usable],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(db_api.register(cleaned.to_arrow()), settings, log_level=logging.ERROR)
    if agreeing:
        linker.training.estimate_probability_two_random_records_match(
            [block_on(*keys) for keys in deterministic], recall=0.8
        )
    else:
        notes.append("no pair agrees on the deterministic rules: prior left at 1 / records")
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=seed)
    second = "postal_code" if "postal_code" in usable else "city" if "city" in usable else None
    for column in ("name", second):
        if column is None or column not in usable:
            continue
        if usable == {column}:  # EM blocked on the only column would have nothing left to estimate
            notes.append(f"only {column} is usable: its m-probabilities stay at Splink's defaults")
            continue
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(column))
        except Exception as error:  # noqa: BLE001 - a training block without pairs must not end the evaluation
            notes.append(f"EM blocked on {column} failed: {error}")
    predictions = linker.inference.predict()
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    keys = cleaned.select("unique_id", "source_system", "source_client_id")
    clusters = (
        pl.from_arrow(clustered.as_pyarrow_table())
        .select(pl.col("unique_id").cast(pl.Int64), pl.col("cluster_id").cast(pl.String).alias("account_id"))
        .join(keys, on="unique_id")
        .select("source_system", "source_client_id", "account_id")
    )
    compared = pl.from_arrow(predictions.as_pyarrow_table()).select(
        pl.col("unique_id_l").cast(pl.Int64), pl.col("unique_id_r").cast(pl.Int64), "match_probability"
    )
    pairs = (
        compared.join(keys.rename(lambda c: f"{c}_l"), on="unique_id_l")
        .join(keys.rename(lambda c: f"{c}_r"), on="unique_id_r")
        .select("source_system_l", "source_client_id_l", "source_system_r", "source_client_id_r", "match_probability")
    )
    return SplinkResult(clusters=clusters, pairs=pairs, seconds=time.perf_counter() - started, notes=notes)
