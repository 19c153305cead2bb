"""Deduplication quality and speed, measured: the labelled evaluation the README quotes.

    python -m pipelines.evaluate_matching                 # hard profile: quality at noise 1 / 2 / 3, speed at 100k/300k/1M
    python -m pipelines.evaluate_matching --profile demo  # the easy demo data the README's older figures used
    python -m pipelines.evaluate_matching --sizes 100000  # speed at one size only
    python -m pipelines.evaluate_matching --quality-only

Quality: the generator's true organisations behind each client record, scored as pairwise precision, recall and F1
over the final clusters (pairs of records put in one account vs pairs of records of one organisation), for the
probabilistic and the deterministic matcher. On the hard profile (docs/generator.md) two more tables: the recall of
true pairs per variation kind (a pair counts for every kind either record carries) and the falsely merged record
pairs per hard-negative kind (records of different organisations of one group put in one account). Speed: seconds
and peak memory of `resolve_clients` alone, each size in its own process so the peak is its own.

Generated data sets are kept in --work-dir and reused (named by profile, size and noise): use a fresh --work-dir
after the generator changes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

KEY = ["source_system", "source_client_id"]


def load_records(data_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    frames = []
    for path in sorted((data_dir / "clients").iterdir()):
        frame = pl.read_csv(path, infer_schema=False) if path.suffix == ".csv" else pl.read_parquet(path)
        frames.append(frame.select(pl.all().cast(pl.String)))
    truth = pl.read_csv(data_dir / "_truth" / "client_entities.csv", infer_schema=False)
    return pl.concat(frames, how="vertical"), truth


def pairwise_scores(truth: pl.DataFrame, crosswalk: pl.DataFrame) -> dict:
    joined = truth.join(crosswalk.select("source_system", "source_client_id", "account_id"),
                        on=["source_system", "source_client_id"])  # fmt: skip

    def pairs(columns) -> int:
        sizes = joined.group_by(columns).len()["len"]
        return int((sizes * (sizes - 1) // 2).sum())

    both, true_pairs, found = pairs(["entity_id", "account_id"]), pairs("entity_id"), pairs("account_id")
    precision = both / found if found else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": true_pairs, "found_pairs": found}


def recall_by_variation(truth: pl.DataFrame, variations: pl.DataFrame, crosswalk: pl.DataFrame) -> pl.DataFrame:
    """Per variation kind: true pairs (records of one organisation) in which either record carries the kind, and
    how many of them the matcher put in one account. Pairs whose records carry no kind count as `none`; `all` is
    every true pair, `outside_large_clusters` every pair of an organisation with fewer than 10 records."""
    records = (
        truth.join(crosswalk.select(*KEY, "account_id"), on=KEY)
        .join(variations.select(*KEY, "variations"), on=KEY, how="left")
        .with_columns(kinds=pl.col("variations").str.split(";").fill_null([]).list.eval(pl.element().filter(pl.element() != "")))
        .with_row_index("record")
        .select("record", "entity_id", "account_id", "kinds")
    )  # fmt: skip
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
        truth.join(crosswalk.select(*KEY, "account_id"), on=KEY), on="entity_id"
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


def generate(data_dir: Path, clients: int, noise: float, file_format: str = "csv", profile: str = "hard") -> None:
    from assets.logic.demo_data import generate_demo_data

    if not (data_dir / "_truth" / "client_entities.csv").exists():
        generate_demo_data(
            data_dir, clients=clients, noise=noise, faults=False, file_format=file_format, profile=profile
        )


def quality(work_dir: Path, clients: int, noises: list[float], profile: str = "hard") -> None:
    from assets.logic.matching import match_clients
    from assets.logic.resolution import resolve_clients

    print(f"quality at {clients:,} client records, profile {profile} (pairwise over final clusters)")
    print(f"{'noise':>6} {'matcher':14} {'precision':>9} {'recall':>7} {'F1':>6} {'seconds':>8}")
    by_kind, merges = [], []
    for noise in noises:
        data_dir = work_dir / f"quality-{profile}-{clients}-noise{noise}"
        generate(data_dir, clients, noise, profile=profile)
        records, truth = load_records(data_dir)
        for name, run in (("probabilistic", lambda r: resolve_clients(r).crosswalk),
                          ("deterministic", lambda r: match_clients(r)[0])):  # fmt: skip
            started = time.perf_counter()
            crosswalk = run(records)
            scores = pairwise_scores(truth, crosswalk)
            seconds = time.perf_counter() - started
            print(f"{noise:>6} {name:14} {scores['precision']:9.4f} {scores['recall']:7.4f} {scores['f1']:6.4f} "
                  f"{seconds:8.1f}", flush=True)  # fmt: skip
            column = f"{name[:4]}@{noise:g}"
            if (data_dir / "_truth" / "record_variations.csv").exists():
                variations = pl.read_csv(data_dir / "_truth" / "record_variations.csv", infer_schema=False)
                hard_negatives = pl.read_csv(data_dir / "_truth" / "hard_negatives.csv", infer_schema=False)
                by_kind.append((noise, column, recall_by_variation(truth, variations, crosswalk)))
                merges.append((noise, column, false_merges_by_kind(truth, hard_negatives, crosswalk)))
    if by_kind:
        print_kind_tables(by_kind, merges)


def print_kind_tables(by_kind: list, merges: list) -> None:
    """Two small tables: recall per variation kind, falsely merged pairs per hard-negative kind (per noise and
    matcher: `prob@2` is the probabilistic matcher at noise 2, `pairs@2` the pairs at that noise)."""
    from assets.logic.demo_data_hard import HARD_NEGATIVE_KINDS, VARIATION_KINDS

    def table(title: str, rows: list[str], results: list, count: str, value: str, fmt: str) -> None:
        columns, cells = [], {}
        for noise, column, frame in results:
            if f"{count}@{noise:g}" not in columns:
                columns.append(f"{count}@{noise:g}")
            columns.append(column)
            for row in frame.iter_rows(named=True):
                cells[(row["kind"], f"{count}@{noise:g}")] = f"{row[count]:,}"
                cells[(row["kind"], column)] = format(row[value], fmt)
        print(f"\n{title}")
        print(f"{'kind':22}" + "".join(f"{c:>{max(9, len(c) + 1)}}" for c in columns))
        for kind in rows:
            if any((kind, c) in cells for c in columns):
                print(f"{kind:22}" + "".join(f"{cells.get((kind, c), '-'):>{max(9, len(c) + 1)}}" for c in columns))

    table("recall per variation kind (true pairs in which either record carries the kind)",
          [*VARIATION_KINDS, "none", "outside_large_clusters", "all"], by_kind, "true_pairs", "recall", ".3f")  # fmt: skip
    table("falsely merged record pairs per hard-negative kind (records of different organisations of one group)",
          list(HARD_NEGATIVE_KINDS), merges, "record_pairs", "merged_pairs", ",")  # fmt: skip


def speed_child(data_dir: str) -> None:
    from assets.logic.resolution import resolve_clients

    records, truth = load_records(Path(data_dir))
    started = time.perf_counter()
    resolution = resolve_clients(records)
    seconds = time.perf_counter() - started
    scores = pairwise_scores(truth, resolution.crosswalk)
    print(json.dumps({
        "records": records.height, "seconds": seconds, "pairs": resolution.report["candidate_pairs"],
        "review": resolution.report["review_pairs"], "f1": scores["f1"],
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))  # fmt: skip


def speed(work_dir: Path, sizes: list[int], profile: str = "hard") -> None:
    print(f"\nspeed of resolve_clients, profile {profile} (records already in memory; peak RSS includes loading them)")
    print(f"{'records':>10} {'pairs':>10} {'seconds':>8} {'records/s':>10} {'peak MB':>8} {'F1':>6} {'review':>7}")
    for size in sizes:
        data_dir = work_dir / f"speed-{profile}-{size}"
        generate(data_dir, size, 1.0, file_format="parquet", profile=profile)
        completed = subprocess.run(
            [sys.executable, "-m", "pipelines.evaluate_matching", "--speed-child", str(data_dir)],
            capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
        )  # fmt: skip
        r = json.loads(completed.stdout.strip().splitlines()[-1])
        print(f"{r['records']:>10,} {r['pairs']:>10,} {r['seconds']:8.1f} {r['records'] / r['seconds']:>10,.0f} "
              f"{r['peak_mb']:>8,.0f} {r['f1']:6.4f} {r['review']:>7,}", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "alms-matching")
    parser.add_argument("--clients", type=int, default=20_000, help="records for the quality table")
    parser.add_argument("--noise", type=float, nargs="+", default=[1.0, 2.0, 3.0])
    parser.add_argument("--profile", choices=("hard", "demo"), default="hard", help="generator profile (default hard)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--quality-only", action="store_true")
    parser.add_argument("--speed-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.speed_child:
        speed_child(args.speed_child)
        return 0
    quality(args.work_dir, args.clients, args.noise, args.profile)
    if not args.quality_only:
        speed(args.work_dir, args.sizes, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
