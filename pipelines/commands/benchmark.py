"""Benchmark: generate a large input folder and time the full materialization.

    python -m pipelines.commands benchmark                       # 1,000,000 client records, ~10M lines, ~5M events
    python -m pipelines.commands benchmark --clients 100000      # a smaller run
    python -m pipelines.commands benchmark --format csv          # CSV inputs instead of Parquet

Prints seconds per asset, total wall time, rows per second and peak memory (RSS of the run's process, DuckDB's
native memory included). Generation runs in its own process and is timed apart. Measured on a 2-core machine at
the default size: 95 s end to end and 4.5 GB peak (docs/benchmarks.md); the deduplication and the scoring have their
own benchmarks (pipelines/commands/evaluate_matching.py, pipelines/commands/benchmark_scoring.py).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_once(data_dir: str, output_dir: str) -> dict:
    """Runs in the child process: the pipeline, timed per step from the run's own events."""
    os.environ["ALMS_DATA_DIR"] = data_dir
    os.environ["ALMS_OUTPUT_DIR"] = output_dir
    import dagster as dg

    from pipelines.automation import full_refresh_tags
    from pipelines.definitions import ALMS_JOB, build_definitions

    started = time.perf_counter()
    job = build_definitions().resolve_job_def(ALMS_JOB)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            tags=full_refresh_tags(Path(data_dir)),
        )
        wall = time.perf_counter() - started
        starts, steps = {}, {}
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type_value == "STEP_START":
                starts[event.step_key] = entry.timestamp
            elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
                steps[event.step_key] = entry.timestamp - starts[event.step_key]
        counts = {}
        for key in (["raw", "billing_lines"], ["raw", "clients"], ["raw", "engagement_events"], ["marts", "accounts"]):
            record = instance.get_latest_materialization_event(dg.AssetKey(key))
            if record is not None:
                counts["/".join(key)] = record.asset_materialization.metadata["dagster/row_count"].value
    return {
        "success": result.success,
        "wall_seconds": wall,
        "steps": steps,
        "rows": counts,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _child(command: list[str], env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    from assets.resources import REPO_ROOT

    completed = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"benchmark: {' '.join(command[:4])} failed:\n{completed.stdout}\n{completed.stderr}")
    return elapsed, completed.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="alms benchmark", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=1_000_000, help="client records (billing lines ~10x)")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "alms-benchmark")
    parser.add_argument("--runs", type=int, default=1, help="pipeline runs on the same data (figures of each)")
    parser.add_argument("--child", nargs=2, metavar=("DATA_DIR", "OUTPUT_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_once(*args.child)))
        return 0

    data_dir = args.work_dir / f"data-{args.clients}-{args.format}"
    env = {**os.environ, "DAGSTER_HOME": str(args.work_dir / "dagster_home")}
    Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    (Path(env["DAGSTER_HOME"]) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    if not (data_dir / ".complete").exists():
        print(f"generating {args.clients:,} client records ({args.format}) in {data_dir} ...", flush=True)
        seconds, _ = _child(
            [
                sys.executable,
                "-m",
                "pipelines.commands",
                "generate",
                str(data_dir),
                "--clients",
                str(args.clients),
                "--format",
                args.format,
                "--no-faults",
            ],
            env,
        )
        (data_dir / ".complete").write_text("")
        print(f"generated in {seconds:.1f} s", flush=True)
    else:
        print(f"reusing {data_dir}", flush=True)

    for run in range(1, args.runs + 1):
        output_dir = args.work_dir / "output"
        elapsed, stdout = _child(
            [sys.executable, "-m", "pipelines.commands.benchmark", "--child", str(data_dir), str(output_dir)], env
        )
        report = json.loads(stdout.strip().splitlines()[-1])
        if not report["success"]:
            print("benchmark: the run failed; see the Dagster UI with DAGSTER_HOME=" + env["DAGSTER_HOME"])
            return 1
        lines = report["rows"].get("raw/billing_lines", 0)
        print(
            f"\nrun {run}: {args.clients:,} client records, {lines:,} billing lines, "
            f"{report['rows'].get('raw/engagement_events', 0):,} engagement events, "
            f"{report['rows'].get('marts/accounts', 0):,} accounts"
        )
        print(f"{'step':52} {'seconds':>8}")
        for step, seconds in sorted(report["steps"].items(), key=lambda item: -item[1]):
            print(f"{step:52} {seconds:8.2f}")
        print(f"{'sum of steps':52} {sum(report['steps'].values()):8.2f}")
        print(f"pipeline wall time (definitions + run): {report['wall_seconds']:.1f} s")
        print(f"process wall time (interpreter start to exit): {elapsed:.1f} s")
        print(f"billing lines per second (end to end): {lines / elapsed:,.0f}")
        print(f"peak memory (RSS of the run process): {report['peak_rss_mb']:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
