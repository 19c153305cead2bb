"""The client matcher's pairs on Spark (ALMS_ENGINE=spark, docs/spark.md): the same steps as
`resolution.score_candidate_pairs`, with the per-pair work on Spark and the per-pattern work on the driver.

- Blocking: each rule of BLOCKING_RULES (and the acronyms within a city) as Spark joins on the blocking keys, blocks
  larger than the rule's limit skipped and counted, a pair found by several rules kept once (a training pair if any
  tight rule found it).
- Comparisons: `resolution.COMPARISONS_SQL`, the DuckDB engine's own SQL, transpiled to Spark SQL by
  `spark_sql.to_spark_sql` (Jaro-Winkler written out in Spark SQL, equal to DuckDB's to the bit), for the candidate
  pairs, the labelled pairs blocking did not find, and the random pairs u is counted on.
- Estimation: the expectation-maximisation reads nothing but the number of pairs of each comparison pattern (four
  levels and an exact name's term frequency), so Spark counts the pairs per pattern and the driver runs the EM on
  those counts: the estimate over every pair, on a table of a few thousand rows whatever the number of pairs. u comes
  from the same random sample of pairs as on DuckDB (`ResolutionSettings.random_pairs`, 500,000), compared on the
  driver by DuckDB while Spark blocks: a fixed-size sample, a few seconds whatever the number of records.
- Scoring: a pair's weights and probability depend on its pattern alone, so the driver scores the distinct patterns
  with `resolution.score_pairs` and Spark joins the scores to the pairs: every value is the DuckDB engine's.

The scored pairs then come to the driver (Arrow) for what follows on both engines: the labels' lessons, the link
rules, the containment guard, connected components (scipy) and the review queue.

Dagster-free like every rule: the asset hands in its session (assets/spark.py starts it).
"""

from __future__ import annotations

from functools import cache

import polars as pl

from assets.rules.resolution import (
    BLOCKING_RULES,
    BROAD_RULES,
    COMPARISONS_SQL,
    FIELDS,
    SMALL_BLOCK_RULES,
    TERM_FREQUENCIES,
    PairScorer,
    ResolutionSettings,
    blocked_beside_u,
    comparison_records,
    estimate_parameters,
    estimate_prior,
    score_pairs,
)

# the columns blocking reads beside those COMPARISONS_SQL reads
BLOCKING_COLUMNS = ["name_sorted", "phone7", "rarest_token", "second_rarest_token"]
_TF = TERM_FREQUENCIES["name_level"][1]  # name_tf: part of a pattern where the name is exact
_PAIR_BASE = 2**32  # a pair as one integer (record ids stay below 2^32), to join the levels back on


@cache
def spark_comparisons_sql() -> str:
    """COMPARISONS_SQL (DuckDB's dialect) as Spark SQL, reading the temporary views `prepared` and `pair_ids`."""
    from assets.rules.spark_sql import to_spark_sql

    return to_spark_sql(COMPARISONS_SQL, {})


def spark_scorer(session) -> PairScorer:
    """The pair scorer of `resolution.resolve_clients` that runs on `session`."""

    def scorer(prepared, decided, settings, clock):
        return score_candidate_pairs_on_spark(session, prepared, decided, settings, clock)

    return scorer


def to_spark(session, frame: pl.DataFrame):
    """A polars frame as a Spark DataFrame (through Arrow)."""
    return session.createDataFrame(frame.to_arrow())


def to_polars(frame) -> pl.DataFrame:
    return pl.from_arrow(frame.toArrow())


def spark_records(session, prepared: pl.DataFrame):
    """The prepared records on Spark: the columns the comparisons and the blocking read."""
    compared = comparison_records(prepared)
    extra = [column for column in BLOCKING_COLUMNS if column not in compared.columns]
    return to_spark(session, pl.concat([compared, prepared.select(extra)], how="horizontal"))


def candidate_pairs_on_spark(records, settings: ResolutionSettings):
    """Spark's `resolution.candidate_pairs`: (left_id, right_id, is_training) pairs sharing a blocking key, not
    sorted; and the same report (pairs per rule, blocks skipped per rule, candidate pairs). Blocks are keyed by the
    key values themselves (polars hashes them to one integer: the same blocks unless two hashes collide)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    frame = records.select(
        "record_id",
        *{column for columns in BLOCKING_RULES.values() for column in columns} - {"word", "word_start", "name_prefix"},
        F.substring("name_key", 1, 4).alias("name_prefix"),
        "rarest_token",
        "second_rarest_token",
    )
    members = None
    for rule, keys in BLOCKING_RULES.items():
        word = next((key for key in keys if key in ("word", "word_start")), None)
        if word:
            others = [key for key in keys if key != word]

            def shape(column: str, word=word):
                return F.col(column) if word == "word" else F.substring(column, 1, 3)

            rarest, second = shape("rarest_token"), shape("second_rarest_token")
            rows = (
                frame.select("record_id", *others, rarest.alias(word))
                .unionByName(frame.filter(second != rarest).select("record_id", *others, second.alias(word)))
                .filter(F.length(word) >= 3)
            )
        else:
            rows = frame.select("record_id", *keys)
        limit = settings.max_word_block_size if rule in SMALL_BLOCK_RULES else settings.max_block_size
        block = rows.dropna(subset=keys).select(
            F.lit(rule).alias("rule"),
            F.lit(limit).alias("limit"),
            F.array(*[F.col(key).cast("string") for key in keys]).alias("block"),
            "record_id",
        )
        members = block if members is None else members.unionByName(block)
    sized = members.withColumn("size", F.count("*").over(Window.partitionBy("rule", "block"))).filter("size > 1")
    sized = sized.persist()
    skipped = dict(sized.filter("size > limit").groupBy("rule").agg(F.countDistinct("block").alias("blocks")).collect())
    kept = sized.filter("size <= limit").select("rule", "block", "record_id")
    right = kept.withColumnRenamed("record_id", "right_id")
    pairs = (
        kept.join(right, ["rule", "block"])
        .filter(F.col("record_id") < F.col("right_id"))
        .select("rule", F.col("record_id").alias("left_id"), "right_id")
    )
    # acronyms: a one-word name equal to the initials of another name in the same city
    short = records.select("record_id", F.col("acronym_token").alias("acronym"), "city_key").dropna()
    long = records.select(F.col("record_id").alias("other_id"), F.col("initials").alias("acronym"), "city_key")
    acronyms = (
        short.join(long.dropna(), ["acronym", "city_key"])
        .filter(F.col("record_id") != F.col("other_id"))
        .select(
            F.lit("acronym+city").alias("rule"),
            F.least("record_id", "other_id").alias("left_id"),
            F.greatest("record_id", "other_id").alias("right_id"),
        )
    )
    found = pairs.unionByName(acronyms).persist()
    counts = {
        row["rule"]: row
        for row in found.groupBy("rule")
        .agg(F.count("*").alias("rows"), F.countDistinct("left_id", "right_id").alias("pairs"))
        .collect()
    }
    word_rules = {rule for rule, keys in BLOCKING_RULES.items() if {"word", "word_start"} & set(keys)}
    report = {
        # a pair that shares both rare words is joined twice by a word rule: counted once
        "pairs_by_rule": {
            rule: (counts[rule]["pairs"] if rule in word_rules else counts[rule]["rows"]) if rule in counts else 0
            for rule in [*BLOCKING_RULES, "acronym+city"]
        },
        "blocks_skipped": {rule: skipped.get(rule, 0) for rule in BLOCKING_RULES},
    }
    training = ~F.col("rule").isin(*BROAD_RULES)
    unique = found.groupBy("left_id", "right_id").agg(F.max(training).alias("is_training")).persist()
    report["candidate_pairs"] = unique.count()
    sized.unpersist()
    found.unpersist()
    return unique, report


def compare_on_spark(session, records, pairs):
    """Spark's `resolution.compare_pairs`: `pairs` (left_id, right_id and any other columns) with the comparison
    levels (int), name_tf and contained_id, computed by COMPARISONS_SQL transpiled."""
    from pyspark.sql import functions as F

    code = (F.col("left_id") * _PAIR_BASE + F.col("right_id")).alias("pair_index")
    records.createOrReplaceTempView("prepared")
    pairs.select(code, "left_id", "right_id").createOrReplaceTempView("pair_ids")
    levels = session.sql(spark_comparisons_sql())
    others = [column for column in pairs.columns if column not in ("left_id", "right_id")]
    return (
        pairs.select(code, "left_id", "right_id", *others)
        .join(levels, "pair_index")
        .select(
            "left_id",
            "right_id",
            *(F.col(column).cast("int").alias(column) for column in FIELDS),
            _TF,
            F.when(F.col("left_is_contained"), F.col("left_id")).otherwise(F.col("right_id")).alias("contained_id"),
            *others,
        )
    )


def score_candidate_pairs_on_spark(session, prepared: pl.DataFrame, decided: pl.DataFrame, settings, clock):
    """`resolution.score_candidate_pairs` with blocking, comparisons, pattern counts and scoring on Spark (see the
    module docstring); the same result, to the bit."""
    from pyspark.sql import functions as F

    records = spark_records(session, prepared).persist()
    # u from a fixed number of random pairs, on the driver (DuckDB) while Spark blocks: the sample does not grow with
    # the data, and DuckDB compares it in a few seconds
    pairs, report, u = blocked_beside_u(
        prepared, settings, clock, lambda: candidate_pairs_on_spark(records, settings), engine="Spark"
    )
    # the labelled pairs too, where blocking did not find them (last, as on DuckDB)
    labelled = to_spark(session, decided.select("left_id", "right_id", "decision"))
    unblocked = labelled.select("left_id", "right_id").join(pairs, ["left_id", "right_id"], "left_anti")
    compared = pairs.withColumn("is_blocked", F.lit(True)).unionByName(
        unblocked.select("left_id", "right_id", F.lit(False).alias("is_training"), F.lit(False).alias("is_blocked"))
    )
    levels = (
        compare_on_spark(session, records, compared)
        .join(F.broadcast(labelled), ["left_id", "right_id"], "left")
        .withColumn("pattern_tf", F.when(F.col("name_level") == TERM_FREQUENCIES["name_level"][0], F.col(_TF)))
        .persist()
    )
    # pairs per comparison pattern (the EM's only input), and the labelled pairs themselves (a few)
    counts = to_polars(
        levels.groupBy(*FIELDS, "pattern_tf", "is_training", F.col("decision").isNull().alias("is_undecided"))
        .count()
        .withColumnRenamed("count", "pairs")
    ).with_columns(pl.col(column).cast(pl.Int32) for column in FIELDS)
    clock.done(f"compared {sum(counts['pairs']):,} pairs (Spark)")
    patterns = counts.rename({"pattern_tf": _TF})
    labels = to_polars(levels.filter(F.col("decision").isNotNull()).select(*FIELDS, _TF, "decision")).with_columns(
        *(pl.col(column).cast(pl.Int32) for column in FIELDS), (pl.col("decision") == "must_link").alias("is_match")
    )
    undecided = patterns.filter("is_undecided")
    m, prior = estimate_parameters(undecided.filter("is_training"), u, prepared.height, settings, labels, count="pairs")
    prior = estimate_prior(undecided, m, u, prior, prepared.height, count="pairs")
    clock.done("estimated m and the prior (EM, on Spark's pattern counts)")
    # a pair's scores are its pattern's: scored once per pattern here, joined to the pairs there
    keys = [*FIELDS, "pattern_tf"]
    scores = score_pairs(patterns.select(*FIELDS, _TF).unique(), m, u, prior).rename({_TF: "pattern_tf"})
    score_columns = ["name_weight", "place_weight", "match_weight", "match_probability"]
    scored_on_spark = levels.alias("pair").join(
        F.broadcast(to_spark(session, scores.select(*keys, *score_columns)).alias("pattern")),
        [F.col(f"pair.{key}").eqNullSafe(F.col(f"pattern.{key}")) for key in keys],
        "left",
    )
    scored = (
        to_polars(
            scored_on_spark.select(
                *(F.col(f"pair.{column}") for column in ["left_id", "right_id", *FIELDS, _TF, "contained_id"]),
                "is_training",
                "decision",
                *score_columns,
                "is_blocked",
            )
        )
        .with_columns(pl.col(column).cast(pl.Int32) for column in FIELDS)
        # the DuckDB engine's order: the candidate pairs by (left_id, right_id), then the labelled pairs not found
        .sort(~pl.col("is_blocked"), "left_id", "right_id")
        .drop("is_blocked")
    )
    levels.unpersist()
    records.unpersist()
    return scored, report, (m, u, prior)
