"""Deduplication quality and speed, measured: the labelled evaluation the README quotes.

    python -m pipelines.evaluate_matching                 # quality at noise 0.5 / 1.0 / 2.0, speed at 100k/300k/1M
    python -m pipelines.evaluate_matching --sizes 100000  # speed at one size only
    python -m pipelines.evaluate_matching --quality-only

Quality: the generator's true organisations behind each client record, scored as pairwise precision, recall and F1
over the final clusters (pairs of records put in one account vs pairs of records of one organisation), for the
probabilistic and the deterministic matcher. Speed: seconds and peak memory of `resolve_clients` alone, each size
in its own process so the peak is its own.
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


def generate(data_dir: Path, clients: int, noise: float, file_format: str = "csv") -> None:
    from assets.logic.demo_data import generate_demo_data

    if not (data_dir / "_truth" / "client_entities.csv").exists():
        generate_demo_data(data_dir, clients=clients, noise=noise, faults=False, file_format=file_format)


def quality(work_dir: Path, clients: int, noises: list[float]) -> None:
    from assets.logic.matching import match_clients
    from assets.logic.resolution import resolve_clients

    print(f"quality at {clients:,} client records (pairwise over final clusters)")
    print(f"{'noise':>6} {'matcher':14} {'precision':>9} {'recall':>7} {'F1':>6} {'seconds':>8}")
    for noise in noises:
        data_dir = work_dir / f"quality-{clients}-noise{noise}"
        generate(data_dir, clients, noise)
        records, truth = load_records(data_dir)
        for name, run in (("probabilistic", lambda r: resolve_clients(r).crosswalk),
                          ("deterministic", lambda r: match_clients(r)[0])):  # fmt: skip
            started = time.perf_counter()
            scores = pairwise_scores(truth, run(records))
            seconds = time.perf_counter() - started
            print(f"{noise:>6} {name:14} {scores['precision']:9.4f} {scores['recall']:7.4f} {scores['f1']:6.4f} "
                  f"{seconds:8.1f}", flush=True)  # fmt: skip


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


def speed(work_dir: Path, sizes: list[int]) -> None:
    print("\nspeed of resolve_clients (records already in memory; peak RSS includes loading them)")
    print(f"{'records':>10} {'pairs':>10} {'seconds':>8} {'records/s':>10} {'peak MB':>8} {'F1':>6} {'review':>7}")
    for size in sizes:
        data_dir = work_dir / f"speed-{size}"
        generate(data_dir, size, 1.0, file_format="parquet")
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
    parser.add_argument("--noise", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--quality-only", action="store_true")
    parser.add_argument("--speed-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.speed_child:
        speed_child(args.speed_child)
        return 0
    quality(args.work_dir, args.clients, args.noise)
    if not args.quality_only:
        speed(args.work_dir, args.sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
