"""Deduplication quality and speed, measured on labelled sets nobody on the team wrote, beside Splink.

    make benchmark-matching                                       # every set, Splink, the reviewer, then speed
    python -m pipelines.commands.evaluate_matching --sets febrl3 generator --labels 0 10 25 50 --no-splink --quality-only
    python -m pipelines.commands.evaluate_matching --sizes 100000  # speed at one size only

Sets (`--sets` takes set names, groups or name prefixes: generator, generator-hard, febrl, stoxx50, dupehell; see
pipelines/commands/evaluation_sets.py): the demo generator at noise 1 / 2 / 3 in its demo and its hard profile
(docs/generator.md), febrl1-4, stoxx50 and dupehell's CRM accounts. For each set:

- quality: records, true pairs; for alms's probabilistic matcher, the deterministic one and Splink (unsupervised,
  pipelines/commands/splink_comparison/), pairwise precision / recall / F1 over the final clusters and, for alms and Splink,
  blocking recall (the share of true pairs among the pairs the matcher compared);
- calibration of alms's match probability over its compared pairs: observed match share per 0.05-wide bin, the
  calibration error (pair-weighted mean |mean predicted - observed| over the bins) and the share of pairs left
  uncertain (0.05 < p < 0.95);
- a simulated reviewer: rounds of the top 5 unlabelled pairs of the review queue (by `review_rank` when the queue
  has one, else by match probability), labelled from the truth as must_link / cannot_link overrides, the matcher
  re-run with every label so far; F1 and the queue's size after 0 / 10 / 25 / 50 labels;
- on the hard generator's sets: recall per variation kind and falsely merged pairs per hard-negative kind.

Speed: seconds and peak memory of `resolve_clients` alone, each size in its own process so the peak is its own.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.commands.evaluation_sets import MissingEvaluationPackages, labelled_sets

KEYS = ["source_system", "source_client_id"]
REVIEW_BATCH = 5
CALIBRATION_BINS = 20
UNCERTAIN = (0.05, 0.95)


def load_records(data_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    frames = []
    for path in sorted((data_dir / "clients").iterdir()):
        frame = pl.read_csv(path, infer_schema=False) if path.suffix == ".csv" else pl.read_parquet(path)
        frames.append(frame.select(pl.all().cast(pl.String)))
    truth = pl.read_csv(data_dir / "_truth" / "client_entities.csv", infer_schema=False)
    return pl.concat(frames, how="vertical"), truth


def pairwise_scores(truth: pl.DataFrame, crosswalk: pl.DataFrame) -> dict:
    joined = truth.join(
        crosswalk.select("source_system", "source_client_id", "account_id"), on=["source_system", "source_client_id"]
    )

    def pairs(columns) -> int:
        sizes = joined.group_by(columns).len()["len"]
        return int((sizes * (sizes - 1) // 2).sum())

    both, true_pairs, found = pairs(["entity_id", "account_id"]), pairs("entity_id"), pairs("account_id")
    precision = both / found if found else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": true_pairs, "found_pairs": found}


def entities_by_record(truth: pl.DataFrame, crosswalk: pl.DataFrame) -> pl.DataFrame:
    """record_id -> entity_id, through the crosswalk's source keys."""
    return (
        crosswalk.select("record_id", *KEYS)
        .join(truth.select(*KEYS, "entity_id"), on=KEYS)
        .select("record_id", "entity_id")
    )


def true_pairs(entities: pl.DataFrame) -> pl.DataFrame:
    """Every (left_id, right_id), left < right, of two records of one entity."""
    return (
        entities.join(entities, on="entity_id", suffix="_right")
        .filter(pl.col("record_id") < pl.col("record_id_right"))
        .select(pl.col("record_id").alias("left_id"), pl.col("record_id_right").alias("right_id"))
    )


def label_pairs(pairs: pl.DataFrame, entities: pl.DataFrame) -> pl.DataFrame:
    """The pairs with `is_match`: both records belong to one entity."""
    return (
        pairs.join(entities.rename({"record_id": "left_id", "entity_id": "_left"}), on="left_id", how="left")
        .join(entities.rename({"record_id": "right_id", "entity_id": "_right"}), on="right_id", how="left")
        .with_columns((pl.col("_left") == pl.col("_right")).fill_null(False).alias("is_match"))
        .drop("_left", "_right")
    )


def blocking_recall(truth_pairs: pl.DataFrame, compared: pl.DataFrame) -> float:
    """Share of the true pairs among the compared pairs (both as left_id < right_id)."""
    if truth_pairs.height == 0:
        return 1.0
    found = truth_pairs.join(compared.select("left_id", "right_id").unique(), on=["left_id", "right_id"])
    return found.height / truth_pairs.height


@dataclass
class Calibration:
    bins: pl.DataFrame  # bin, low, high, pairs, mean_predicted, observed_share (non-empty bins only)
    error: float  # pair-weighted mean |mean predicted - observed share| over the bins
    uncertain_share: float  # share of pairs with UNCERTAIN[0] < p < UNCERTAIN[1]
    pairs: int


def calibration(labelled: pl.DataFrame, bins: int = CALIBRATION_BINS) -> Calibration:
    """Predicted probability (`match_probability`) against the observed match share (`is_match`) in equal bins
    [0, 1/bins), ..., [1 - 1/bins, 1]."""
    if labelled.height == 0:
        return Calibration(pl.DataFrame(), 0.0, 0.0, 0)
    probability = pl.col("match_probability")
    binned = (
        labelled.with_columns((probability * bins).floor().clip(0, bins - 1).cast(pl.Int64).alias("bin"))
        .group_by("bin")
        .agg(
            pl.len().alias("pairs"),
            probability.mean().alias("mean_predicted"),
            pl.col("is_match").cast(pl.Float64).mean().alias("observed_share"),
        )
        .with_columns((pl.col("bin") / bins).alias("low"), ((pl.col("bin") + 1) / bins).alias("high"))
        .sort("bin")
        .select("bin", "low", "high", "pairs", "mean_predicted", "observed_share")
    )
    error = float(
        (binned["pairs"] * (binned["mean_predicted"] - binned["observed_share"]).abs()).sum() / labelled.height
    )
    uncertain = labelled.filter((probability > UNCERTAIN[0]) & (probability < UNCERTAIN[1])).height
    return Calibration(binned, error, uncertain / labelled.height, labelled.height)


def review_order(review: pl.DataFrame) -> pl.DataFrame:
    """The queue in the matcher's order: `review_rank` (1 = first) when it has one, else by match probability."""
    if "review_rank" in review.columns:
        return review.sort("review_rank", "left_id", "right_id")
    return review.sort(["match_probability", "left_id", "right_id"], descending=[True, False, False])


def overrides_ids(given: list[tuple[int, int, str]]) -> pl.DataFrame:
    return pl.DataFrame([(left, right) for left, right, _ in given], schema=["left_id", "right_id"], orient="row")


@dataclass
class ReviewRound:
    labels: int
    scores: dict
    queue_pairs: int
    queue_true_pairs: int


@dataclass
class ReviewerRun:
    rounds: list[ReviewRound] = field(default_factory=list)
    labels: pl.DataFrame | None = None  # left_id, right_id, decision, is_match (every label given)
    dry_at: int | None = None  # labels given when the queue had no unlabelled pair left


def simulate_reviewer(
    records: pl.DataFrame,
    truth: pl.DataFrame,
    max_labels: int,
    resolve: Callable | None = None,
    batch: int = REVIEW_BATCH,
    checkpoints: list[int] | None = None,
    initial=None,
) -> ReviewerRun:
    """A person working the review queue: the top `batch` unlabelled pairs of the current queue, labelled from the
    truth, fed back as overrides, the matcher re-run with every label so far; a round per batch until `max_labels`
    (batches shrink so each checkpoint is reached exactly). `initial` is the run without labels, when already made."""
    if resolve is None:
        from assets.rules.resolution import resolve_clients as resolve
    stops = sorted({c for c in (checkpoints or []) if 0 < c < max_labels} | {max_labels})
    run = ReviewerRun()
    given: list[tuple[int, int, str]] = []
    keys = None
    while True:
        overrides = None
        if given:
            decided = pl.DataFrame(given, schema=["left_id", "right_id", "decision"], orient="row")
            overrides = (
                decided.with_row_index("source_row", offset=1)
                .join(
                    keys.rename(
                        {
                            "record_id": "left_id",
                            "source_system": "source_system_1",
                            "source_client_id": "source_client_id_1",
                        }
                    ),
                    on="left_id",
                )
                .join(
                    keys.rename(
                        {
                            "record_id": "right_id",
                            "source_system": "source_system_2",
                            "source_client_id": "source_client_id_2",
                        }
                    ),
                    on="right_id",
                )
                .select(
                    "source_system_1",
                    "source_client_id_1",
                    "source_system_2",
                    "source_client_id_2",
                    "decision",
                    pl.lit("simulated_reviewer").alias("source_file"),
                    pl.col("source_row").cast(pl.Int64),
                )
            )
        resolution = initial if initial is not None and not given else resolve(records, overrides=overrides)
        keys = resolution.crosswalk.select("record_id", *KEYS)
        entities = entities_by_record(truth, resolution.crosswalk)
        queue = label_pairs(review_order(resolution.review).select("left_id", "right_id"), entities)
        if given:  # a decided pair leaves the queue; make sure of it
            queue = queue.join(overrides_ids(given), on=["left_id", "right_id"], how="anti", maintain_order="left")
        run.rounds.append(
            ReviewRound(
                len(given), pairwise_scores(truth, resolution.crosswalk), queue.height, int(queue["is_match"].sum())
            )
        )
        if len(given) >= max_labels:
            break
        if queue.height == 0:
            run.dry_at = len(given)
            break
        target = next(stop for stop in stops if stop > len(given))
        for left, right, is_match in queue.head(min(batch, target - len(given))).iter_rows():
            given.append((left, right, "must_link" if is_match else "cannot_link"))
    if given:
        decided = pl.DataFrame(given, schema=["left_id", "right_id", "decision"], orient="row")
        run.labels = label_pairs(decided, entities)
    return run


@dataclass
class SetResult:
    name: str
    records: int
    true_pairs: int
    scores: dict[str, dict] = field(default_factory=dict)  # matcher -> P/R/F1, blocking recall, seconds
    calibration: Calibration | None = None
    reviewer: ReviewerRun | None = None
    notes: list[str] = field(default_factory=list)
    kinds: list = field(default_factory=list)  # hard generator: (set, matcher, recall per kind, false merges)
    missed: pl.DataFrame | None = None  # the true pairs never compared, counted by what they share (--missed)
    ceilings: dict[str, dict] | None = None  # what learning at the level of patterns / pairs could reach (--ceilings)


def recall_by_variation(truth: pl.DataFrame, variations: pl.DataFrame, crosswalk: pl.DataFrame) -> pl.DataFrame:
    """Per variation kind: true pairs (records of one organisation) in which either record carries the kind, and
    how many of them the matcher put in one account. Pairs whose records carry no kind count as `none`; `all` is
    every true pair, `outside_large_clusters` every pair of an organisation with fewer than 10 records."""
    records = (
        truth.join(crosswalk.select(*KEYS, "account_id"), on=KEYS)
        .join(variations.select(*KEYS, "variations"), on=KEYS, how="left")
        .with_columns(
            kinds=pl.col("variations").str.split(";").fill_null([]).list.eval(pl.element().filter(pl.element() != ""))
        )
        .with_row_index("record")
        .select("record", "entity_id", "account_id", "kinds")
    )
    pairs = records.join(records, on="entity_id", suffix="_other").filter(pl.col("record") < pl.col("record_other"))
    kinds = pl.concat_list("kinds", "kinds_other").list.unique()
    outside = pl.when(~kinds.list.contains("large_cluster")).then(pl.lit(["outside_large_clusters"]))
    return (
        pairs.select(
            kind=pl.concat_list(
                pl.when(kinds.list.len() > 0).then(kinds).otherwise(pl.lit(["none"])),
                pl.lit(["all"]),
                outside.otherwise(pl.lit([], pl.List(pl.String))),
            ),
            found=pl.col("account_id") == pl.col("account_id_other"),
        )
        .explode("kind")
        .group_by("kind")
        .agg(true_pairs=pl.len(), found_pairs=pl.col("found").sum())
        .with_columns(recall=pl.col("found_pairs") / pl.col("true_pairs"))
        .sort("kind")
    )


def false_merges_by_kind(truth: pl.DataFrame, hard_negatives: pl.DataFrame, crosswalk: pl.DataFrame) -> pl.DataFrame:
    """Per hard-negative kind: groups, pairs of records of different organisations of one group, and how many of
    those pairs (and of the organisation pairs) the matcher put in one account."""
    members = hard_negatives.with_columns(entity_id=pl.col("entity_ids").str.split(";")).explode("entity_id")
    records = members.select("group_id", "kind", "entity_id").join(
        truth.join(crosswalk.select(*KEYS, "account_id"), on=KEYS), on="entity_id"
    )
    pairs = records.join(records.drop("kind"), on="group_id", suffix="_other").filter(
        pl.col("entity_id") < pl.col("entity_id_other")
    )
    merged = pl.col("account_id") == pl.col("account_id_other")
    organisation_pairs = pairs.group_by("kind", "group_id", "entity_id", "entity_id_other").agg(merged=merged.any())
    return (
        pairs.group_by("kind")
        .agg(groups=pl.col("group_id").n_unique(), record_pairs=pl.len(), merged_pairs=merged.sum())
        .join(
            organisation_pairs.group_by("kind").agg(
                organisation_pairs=pl.len(), merged_organisation_pairs=pl.col("merged").sum()
            ),
            on="kind",
        )
        .sort("kind")
    )


MISSED_KEYS = {
    "phone": "phone7",
    "postal code": "postal_code_key",
    "house number": "house_number",
    "street": "street_key",
    "city": "city_key",
    "domain": "domain_stem",
}


def missed_by_evidence(records: pl.DataFrame, truth_pairs: pl.DataFrame, compared: pl.DataFrame) -> pl.DataFrame:
    """The true pairs no blocking rule brought, counted by what the two records share (the matcher's keys: last 7
    phone digits, postal code, house number, street, city, domain stem, a name word) and which of postal code and
    phone is missing on a side: what a new blocking rule would have to meet them on. Largest groups first."""
    from assets.rules.resolution import ResolutionSettings, prepare_records

    prepared = prepare_records(records, ResolutionSettings())[0].select("record_id", *MISSED_KEYS.values(), "tokens")
    missed = truth_pairs.join(compared.select("left_id", "right_id"), on=["left_id", "right_id"], how="anti")
    sides = missed.join(prepared, left_on="left_id", right_on="record_id").join(
        prepared, left_on="right_id", right_on="record_id", suffix="_right"
    )
    return (
        sides.select(
            *(
                (pl.col(key) == pl.col(f"{key}_right")).fill_null(False).alias(shared)
                for shared, key in MISSED_KEYS.items()
            ),
            (pl.col("tokens").list.set_intersection(pl.col("tokens_right")).list.len() > 0).alias("name word"),
            (pl.col("postal_code_key").is_null() | pl.col("postal_code_key_right").is_null()).alias("no postal code"),
            (pl.col("phone7").is_null() | pl.col("phone7_right").is_null()).alias("no phone"),
        )
        .group_by(pl.all())
        .len("missed_pairs")
        .sort("missed_pairs", descending=True)
    )


def label_ceilings(truth: pl.DataFrame, resolution, entities: pl.DataFrame) -> dict[str, dict]:
    """P / R / F1 that learning could reach at best with the matcher's blocking and comparison levels, from the truth:
    `pattern`: every compared pair linked where most pairs of its comparison pattern (the four levels) are true
    pairs, what a perfect learner of patterns reaches (people's labels move a pattern as one, learn_from_labels);
    `compared`: every compared true pair linked, what perfect knowledge of each pair reaches (blocking unchanged).
    Neither has the name rules, the containment guard or the overrides: links straight to connected components."""
    from assets.rules.resolution import FIELDS, cluster

    pairs = label_pairs(resolution.pairs, entities)
    share = pairs.group_by(FIELDS).agg(pl.col("is_match").mean().alias("_share"))
    by_pattern = pairs.join(share, on=list(FIELDS), nulls_equal=True).filter(pl.col("_share") > 0.5)

    def scores(links: pl.DataFrame) -> dict:
        accounts = cluster(resolution.crosswalk.height, links.select("left_id", "right_id"))
        crosswalk = resolution.crosswalk.sort("record_id").with_columns(
            pl.Series("account_id", accounts).cast(pl.String)
        )
        return pairwise_scores(truth, crosswalk)

    return {"pattern": scores(by_pattern), "compared": scores(pairs.filter("is_match"))}


def evaluate_set(
    name: str,
    records: pl.DataFrame,
    truth: pl.DataFrame,
    splink: bool,
    labels: list[int],
    details=None,
    missed: bool = False,
    ceilings: bool = False,
) -> SetResult:
    from assets.rules.matching import match_clients
    from assets.rules.resolution import resolve_clients

    started = time.perf_counter()
    resolution = resolve_clients(records)
    seconds = time.perf_counter() - started
    entities = entities_by_record(truth, resolution.crosswalk)
    truth_pairs = true_pairs(entities)
    result = SetResult(name, records.height, truth_pairs.height)
    result.scores["alms"] = pairwise_scores(truth, resolution.crosswalk) | {
        "blocking_recall": blocking_recall(truth_pairs, resolution.pairs),
        "seconds": seconds,
        "compared_pairs": resolution.pairs.height,
    }
    result.calibration = calibration(label_pairs(resolution.pairs, entities))
    if missed:
        result.missed = missed_by_evidence(records, truth_pairs, resolution.pairs)
    if ceilings:
        result.ceilings = label_ceilings(truth, resolution, entities)
    started = time.perf_counter()
    deterministic = match_clients(records)[0]
    result.scores["deterministic"] = pairwise_scores(truth, deterministic) | {"seconds": time.perf_counter() - started}
    if details is not None:  # the hard generator's truth: variation kinds and hard negatives
        variations, hard_negatives = details()
        for matcher, crosswalk in (("prob", resolution.crosswalk), ("det", deterministic)):
            result.kinds.append(
                (
                    name,
                    matcher,
                    recall_by_variation(truth, variations, crosswalk),
                    false_merges_by_kind(truth, hard_negatives, crosswalk),
                )
            )
    if splink:
        from pipelines.commands.splink_comparison.compare_splink import splink_unsupervised

        try:
            outcome = splink_unsupervised(records)
        except Exception as error:  # noqa: BLE001 - one set's Splink failure is reported, the others still run
            result.notes.append(f"Splink failed: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
        else:
            ids = resolution.crosswalk.select("record_id", *KEYS)
            compared = (
                outcome.pairs.join(
                    ids.rename(
                        {"record_id": "a", "source_system": "source_system_l", "source_client_id": "source_client_id_l"}
                    ),
                    on=["source_system_l", "source_client_id_l"],
                )
                .join(
                    ids.rename(
                        {"record_id": "b", "source_system": "source_system_r", "source_client_id": "source_client_id_r"}
                    ),
                    on=["source_system_r", "source_client_id_r"],
                )
                .select(pl.min_horizontal("a", "b").alias("left_id"), pl.max_horizontal("a", "b").alias("right_id"))
            )
            result.scores["splink"] = pairwise_scores(truth, outcome.clusters) | {
                "blocking_recall": blocking_recall(truth_pairs, compared),
                "seconds": outcome.seconds,
                "compared_pairs": compared.height,
            }
            result.notes += [f"Splink: {note}" for note in outcome.notes]
    if labels and max(labels) > 0:
        result.reviewer = simulate_reviewer(records, truth, max(labels), checkpoints=labels, initial=resolution)
    elif labels:
        result.reviewer = ReviewerRun(rounds=[ReviewRound(0, result.scores["alms"], resolution.review.height, 0)])
    return result


def _f(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def print_quality(results: list[SetResult]) -> None:
    print(
        "\nquality: pairwise precision / recall / F1 over the final clusters; blocking recall = share of the true "
        "pairs the matcher compared"
    )
    print(
        f"{'set':19} {'records':>8} {'true pairs':>10}  {'matcher':13} {'blocking':>8} {'precision':>9} "
        f"{'recall':>7} {'F1':>7} {'seconds':>7}"
    )
    for result in results:
        first = True
        for matcher, scores in result.scores.items():
            head = f"{result.name:19} {result.records:>8,} {result.true_pairs:>10,}" if first else " " * 39
            print(
                f"{head}  {matcher:13} {_f(scores.get('blocking_recall')):>8} {_f(scores['precision']):>9} "
                f"{_f(scores['recall']):>7} {_f(scores['f1']):>7} {scores['seconds']:>7.1f}"
            )
            first = False
        for note in result.notes:
            print(" " * 41 + note)


def print_calibration(results: list[SetResult], per_table: int = 6) -> None:
    results = [r for r in results if r.calibration and r.calibration.pairs]
    if not results:
        return
    print(
        "\ncalibration of alms's match probability over the pairs it compared: observed match share per bin "
        "of predicted probability (pairs in the bin; bins no set uses are left out)"
    )
    width = max(len(r.name) for r in results) + 2
    for start in range(0, len(results), per_table):
        chunk = results[start : start + per_table]
        print(f"{'predicted':11}" + "".join(f"{r.name:>{width}}" for r in chunk))
        for b in range(CALIBRATION_BINS):
            rows = [r.calibration.bins.filter(pl.col("bin") == b) for r in chunk]
            if not any(row.height for row in rows):
                continue
            cells = [f"{row['observed_share'][0]:.3f} ({row['pairs'][0]:,})" if row.height else "" for row in rows]
            label = f"{b / CALIBRATION_BINS:.2f}-{(b + 1) / CALIBRATION_BINS:.2f}"
            print(f"{label:11}" + "".join(f"{cell:>{width}}" for cell in cells))
        print(f"{'pairs':11}" + "".join(f"{r.calibration.pairs:>{width},}" for r in chunk))
        print(f"{'cal. error':11}" + "".join(f"{r.calibration.error:>{width}.4f}" for r in chunk))
        print(f"{'uncertain':11}" + "".join(f"{r.calibration.uncertain_share:>{width}.1%}" for r in chunk))
    print(
        f"(cal. error: pair-weighted mean |mean predicted - observed| over the bins; uncertain: share of pairs "
        f"with {UNCERTAIN[0]} < p < {UNCERTAIN[1]})"
    )


def print_reviewer(results: list[SetResult], checkpoints: list[int]) -> None:
    results = [r for r in results if r.reviewer]
    if not results:
        return
    print(
        f"\nsimulated reviewer: rounds of the top {REVIEW_BATCH} unlabelled pairs of the review queue, labelled "
        "from the truth, re-run with every label so far"
    )
    print(
        f"{'set':19} {'labels':>6} {'F1':>7} {'precision':>9} {'recall':>7} {'missed pairs':>12} "
        f"{'queue':>6} {'true in queue':>13}"
    )
    for result in results:
        run = result.reviewer
        by_labels = {r.labels: r for r in run.rounds}
        for i, labels in enumerate(sorted(checkpoints)):
            name = result.name if i == 0 else ""
            this = by_labels.get(labels)
            if this is None:
                last = run.rounds[-1]
                print(
                    f"{name:19} {labels:>6} {'queue empty after ' + str(run.dry_at) + ' labels':>49} "
                    f"(F1 stays {last.scores['f1']:.4f})"
                )
                continue
            missed = this.scores["true_pairs"] - round(this.scores["recall"] * this.scores["true_pairs"])
            queue = "empty" if this.queue_pairs == 0 else f"{this.queue_pairs:,}"
            print(
                f"{name:19} {labels:>6} {this.scores['f1']:>7.4f} {this.scores['precision']:>9.4f} "
                f"{this.scores['recall']:>7.4f} {missed:>12,} {queue:>6} {this.queue_true_pairs:>13,}"
            )
        wrong = (
            0
            if run.labels is None
            else run.labels.filter((pl.col("decision") == "must_link") != pl.col("is_match")).height
        )
        sizes = ", ".join(f"{r.queue_pairs:,}" for r in run.rounds)
        print(f"{'':19} queue per round: {sizes}" + (f"; {wrong} labels disagree with the truth" if wrong else ""))


def quality(
    work_dir: Path,
    clients: int,
    noises: list[float],
    selected: list[str] | None,
    splink: bool,
    labels: list[int],
    missed: bool = False,
    ceilings: bool = False,
) -> list[SetResult]:
    if splink:
        try:
            from pipelines.commands.evaluation_sets import import_evaluation_packages

            import_evaluation_packages()
        except MissingEvaluationPackages as error:
            print(f"Splink skipped: {error}")
            splink = False
    sets = labelled_sets(work_dir, clients, noises)
    if selected:
        unknown = set(selected) - {s.name for s in sets} - {s.group for s in sets}
        if unknown:
            raise SystemExit(
                f"unknown set(s): {', '.join(sorted(unknown))}; known: "
                f"{', '.join(dict.fromkeys([s.group for s in sets] + [s.name for s in sets]))}"
            )
        sets = [
            s
            for s in sets
            if s.name in selected or s.group in selected or any(s.name.startswith(f"{chosen}-") for chosen in selected)
        ]
    results = []
    for labelled in sets:
        try:
            records, truth = labelled.load()
        except MissingEvaluationPackages as error:
            print(f"{labelled.name} skipped: {error}")
            continue
        started = time.perf_counter()
        results.append(evaluate_set(labelled.name, records, truth, splink, labels, labelled.details, missed, ceilings))
        print(
            f"measured {labelled.name} ({records.height:,} records) in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    print_quality(results)
    kinds = [kind for result in results for kind in result.kinds]
    if kinds:
        print_kind_tables(kinds)
    print_calibration(results)
    print_reviewer(results, labels)
    print_missed(results)
    print_ceilings(results)
    return results


def print_ceilings(results: list[SetResult]) -> None:
    """Per set, alms's F1 beside what learning at the level of patterns and of pairs could reach (label_ceilings)."""
    results = [r for r in results if r.ceilings]
    if not results:
        return
    print(
        "\nceilings: F1 if every compared pair were linked by its comparison pattern's majority (what labels can teach "
        "a pattern) or by its truth (blocking unchanged)"
    )
    print(f"{'set':<28} {'alms F1':>8} {'pattern':>8} {'compared':>9}")
    for r in results:
        print(
            f"{r.name:<28} {r.scores['alms']['f1']:8.4f} {r.ceilings['pattern']['f1']:8.4f} "
            f"{r.ceilings['compared']['f1']:9.4f}"
        )


def print_missed(results: list[SetResult], rows: int = 12) -> None:
    """Per set, the true pairs never compared by what they share (true = the two records agree on it)."""
    for result in results:
        if result.missed is None or result.missed.height == 0:
            continue
        print(f"\n{result.name}: {result.missed['missed_pairs'].sum():,} true pairs never compared, by what they share")
        with pl.Config(
            tbl_rows=rows, tbl_width_chars=160, tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True
        ):
            print(result.missed.head(rows))


def print_kind_tables(kinds: list) -> None:
    """Two small tables for the hard generator's sets: recall per variation kind and falsely merged record pairs per
    hard-negative kind (columns: `pairs@noise1` the pairs of that set, `prob@noise1` / `det@noise1` the
    probabilistic and the deterministic matcher on it)."""
    from pipelines.commands.demo_data_hard import HARD_NEGATIVE_KINDS, VARIATION_KINDS

    def table(title: str, rows: list[str], position: int, count: str, value: str, fmt: str) -> None:
        columns, cells = [], {}
        for set_name, matcher, *frames in kinds:
            short = set_name.removeprefix("generator-hard-")
            if f"pairs@{short}" not in columns:
                columns.append(f"pairs@{short}")
            columns.append(f"{matcher}@{short}")
            for row in frames[position].iter_rows(named=True):
                cells[(row["kind"], f"pairs@{short}")] = f"{row[count]:,}"
                cells[(row["kind"], f"{matcher}@{short}")] = format(row[value], fmt)
        print(f"\n{title}")
        print(f"{'kind':22}" + "".join(f"{c:>{max(9, len(c) + 1)}}" for c in columns))
        for kind in rows:
            if any((kind, c) in cells for c in columns):
                print(f"{kind:22}" + "".join(f"{cells.get((kind, c), '-'):>{max(9, len(c) + 1)}}" for c in columns))

    table(
        "recall per variation kind (true pairs in which either record carries the kind)",
        [*VARIATION_KINDS, "none", "outside_large_clusters", "all"],
        0,
        "true_pairs",
        "recall",
        ".3f",
    )
    table(
        "falsely merged record pairs per hard-negative kind (records of different organisations of one group)",
        list(HARD_NEGATIVE_KINDS),
        1,
        "record_pairs",
        "merged_pairs",
        ",",
    )


def speed_child(data_dir: str) -> None:
    from assets.rules.resolution import resolve_clients

    records, truth = load_records(Path(data_dir))
    started = time.perf_counter()
    resolution = resolve_clients(records)
    seconds = time.perf_counter() - started
    scores = pairwise_scores(truth, resolution.crosswalk)
    print(
        json.dumps(
            {
                "records": records.height,
                "seconds": seconds,
                "pairs": resolution.report["candidate_pairs"],
                "review": resolution.report["review_pairs"],
                "f1": scores["f1"],
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def generate(data_dir: Path, clients: int, noise: float, file_format: str = "csv", profile: str = "hard") -> None:
    from pipelines.commands.demo_data import generate_demo_data

    if not (data_dir / "_truth" / "client_entities.csv").exists():
        generate_demo_data(
            data_dir, clients=clients, noise=noise, faults=False, file_format=file_format, profile=profile
        )


def speed(work_dir: Path, sizes: list[int]) -> None:
    print(
        "\nspeed of resolve_clients on the hard generator at noise 1 (records already in memory; peak RSS includes "
        "loading them)"
    )
    print(f"{'records':>10} {'pairs':>10} {'seconds':>8} {'records/s':>10} {'peak MB':>8} {'F1':>6} {'review':>7}")
    for size in sizes:
        data_dir = work_dir / f"speed-hard-{size}"
        generate(data_dir, size, 1.0, file_format="parquet")
        completed = subprocess.run(
            [sys.executable, "-m", "pipelines.commands.evaluate_matching", "--speed-child", str(data_dir)],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        r = json.loads(completed.stdout.strip().splitlines()[-1])
        print(
            f"{r['records']:>10,} {r['pairs']:>10,} {r['seconds']:8.1f} {r['records'] / r['seconds']:>10,.0f} "
            f"{r['peak_mb']:>8,.0f} {r['f1']:6.4f} {r['review']:>7,}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "alms-matching")
    parser.add_argument(
        "--sets", nargs="+", help="set names or groups (generator, febrl, stoxx50, dupehell); default: all"
    )
    parser.add_argument("--clients", type=int, default=20_000, help="records of each generator set")
    parser.add_argument("--noise", type=float, nargs="+", default=[1.0, 2.0, 3.0], help="generator noise levels")
    parser.add_argument(
        "--labels",
        type=int,
        nargs="*",
        default=[0, 10, 25, 50],
        help="simulated reviewer: report F1 after these many labels (none: no reviewer)",
    )
    parser.add_argument("--no-splink", action="store_true", help="leave Splink out")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--quality-only", action="store_true", help="no speed section")
    parser.add_argument("--speed-only", action="store_true", help="no quality sections")
    parser.add_argument(
        "--missed", action="store_true", help="list the true pairs no blocking rule brought, by what they share"
    )
    parser.add_argument(
        "--ceilings",
        action="store_true",
        help="the F1 that learning per comparison pattern, or per pair, could reach at best (from the truth)",
    )
    parser.add_argument("--speed-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.speed_child:
        speed_child(args.speed_child)
        return 0
    if any(n < 0 for n in args.labels):
        parser.error("--labels must be 0 or more")
    if not args.speed_only:
        labels = sorted(set(args.labels) | ({0} if args.labels else set()))
        quality(
            args.work_dir, args.clients, args.noise, args.sets, not args.no_splink, labels, args.missed, args.ceilings
        )
    if not args.quality_only:
        speed(args.work_dir, args.sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
