"""Benchmark: generate a large input folder, time the full materialization and the core job's reference.

    python -m pipelines.commands benchmark                       # 1,000,000 client records, ~10M lines, ~5M events
    python -m pipelines.commands benchmark --clients 3000000     # ~30M lines
    python -m pipelines.commands benchmark --months 12           # 12 consecutive monthly as-of dates
    python -m pipelines.commands benchmark --months 12 --history-months 24   # the same, every run in steady state
    python -m pipelines.commands benchmark --clients 100000 --format csv
    python -m pipelines.commands benchmark --engine spark --clients 100000   # the SQL models on local Spark

One invocation prints, on the same input folder:
- the full refresh: seconds per step, wall time, rows per second, peak memory (RSS of the run's process, DuckDB's
  native memory included);
- a monthly run that reads only the latest month's files (what the `monthly_refresh` schedule does), and its time as
  a share of the full refresh;
- the reference implementation of the core job (`reference_core.py`: exact-name dedup, window, FX, key level, one
  DuckDB file and one Parquet file) and alms's full refresh as a multiple of it;
- with `--months N`: N consecutive monthly runs (as-of the last day of each month, the first one a full refresh, the
  others reading their new month), each run's time and the last one's as a multiple of the first. By default the
  data starts a year before the first as-of date, so the runs also carry a growing past of the data itself (the month
  ends alms reconstructs grow from 3 to 14, and windows start to complete); `--history-months 24` adds two earlier
  years of billing and engagement (the generator's `--history-months`; the other months' files are the same), so
  every run keeps the most month ends alms keeps (ALMS_OUTCOME_MONTHS, 24) and three of their windows complete in
  each: what grows from the first run to the last is then only what the runs leave (the recorded snapshots).
Generation runs in its own process and is timed apart; the deduplication and the scoring have their own benchmarks
(pipelines/commands/evaluate_matching.py, pipelines/commands/benchmark_scoring.py). Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# the steps whose work could grow with the snapshots kept (printed for each of --months N runs)
GROWING_STEPS = (
    "account_snapshots",
    "prioritization_outcomes",
    "marts__scoring_backtest",
    "seller_feedback",
    "marts__publication",
)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _children_peak_rss_mb() -> float:
    """Peak RSS of this process's live children (the Spark engine's JVM), from /proc; 0 where there is none."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid():
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def run_tags(data_dir: Path, month: str = "") -> dict[str, str]:
    """The partition range of a benchmark run: every month (a full refresh), or only `month` (the monthly run)."""
    from assets.common import monthly_partitions
    from pipelines.automation import full_refresh_tags, range_tags

    return range_tags([month], monthly_partitions(data_dir)) if month else full_refresh_tags(data_dir)


def _count_step_cpu(instance, peaks: dict[str, float]) -> dict[str, float]:
    """CPU seconds of this process (every thread: DuckDB's and polars' too) from each step's start to its end, read
    as the in-process run hands its events to `instance`; the steps run one after the other in this process. `peaks`
    gets the step in which the process's peak memory rose, with the peak (MB) it rose to."""
    import dagster as dg

    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    handle = instance.handle_new_event
    peak = [_peak_rss_mb()]

    ends = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)

    def counting(event, **kwargs):
        step = event.dagster_event.step_key if event.dagster_event is not None else None
        if step and event.dagster_event.event_type == dg.DagsterEventType.STEP_START:
            started[step] = time.process_time()
        elif step in started and event.dagster_event.event_type in ends:
            seconds[step] = time.process_time() - started[step]
            if _peak_rss_mb() > peak[0] + 64:  # rose by more than noise in this step
                peak[0] = peaks[step] = _peak_rss_mb()
        return handle(event, **kwargs)

    instance.handle_new_event = counting
    return seconds


def run_once(data_dir: str, output_dir: str, month: str = "", as_of: str = "") -> dict:
    """Runs in the child process: the pipeline (a full refresh, or only `month`'s files), timed per step from the
    run's own events."""
    os.environ["ALMS_DATA_DIR"] = data_dir
    os.environ["ALMS_OUTPUT_DIR"] = output_dir
    if as_of:
        os.environ["ALMS_AS_OF"] = as_of
    import dagster as dg

    from pipelines.commands.cli import execute_in_process
    from pipelines.commands.instance import project_instance
    from pipelines.definitions import ALMS_JOB, build_definitions

    started = time.perf_counter()
    job = build_definitions().resolve_job_def(ALMS_JOB)
    tags = run_tags(Path(data_dir), month)
    with project_instance() as instance:
        peaks: dict[str, float] = {}
        steps_cpu = _count_step_cpu(instance, peaks)
        result = execute_in_process(
            job,
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            tags={**tags, "alms/trigger": "benchmark"},
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
        "steps_cpu": steps_cpu,
        "peak_rss_mb_by_step": peaks,
        "rows": counts,
        "peak_rss_mb": _peak_rss_mb(),
        "children_peak_rss_mb": _children_peak_rss_mb(),
    }


class ChildFailed(Exception):
    """A benchmark process that did not finish: its cause in one line (`str`), and what it printed (`output`)."""

    def __init__(self, cause: str, output: str = "") -> None:
        super().__init__(cause)
        self.output = output


def failure_cause(returncode: int) -> str:
    """Why a child process ended with `returncode`, in one line."""
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        cause = f"killed by {name}"
        if -returncode == signal.SIGKILL:
            cause += " (on Linux most often the kernel's out-of-memory killer: see `dmesg` or `journalctl -k`)"
        return cause
    return f"exited with status {returncode}"


def _child(command: list[str], env: dict) -> tuple[float, float, str]:
    """Runs `command` in its own process: its wall seconds, its CPU seconds (user + system, every thread: the figure
    that moves least when other processes share the machine) and its output. ChildFailed when it fails."""
    from assets.resources import REPO_ROOT

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise ChildFailed(
            f"{' '.join(command[2:4])} {failure_cause(completed.returncode)} after {elapsed:.0f} s",
            f"{completed.stdout}\n{completed.stderr}",
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, completed.stdout


def _shift_month(month: str, months: int) -> str:
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _month_end(month: str) -> str:
    """The last day of `month` (YYYY-MM)."""
    return str(dt.date.fromisoformat(_shift_month(month, 1) + "-01") - dt.timedelta(days=1))


def _months_back(month: str, count: int) -> list[str]:
    """`count` months ending with `month`, oldest first."""
    return [_shift_month(month, -back) for back in range(count - 1, -1, -1)]


def _run_alms(data_dir: Path, output_dir: Path, env: dict, month: str = "", as_of: str = "") -> dict:
    """One pipeline run in its own process; its report with the process's wall and CPU seconds."""
    command = [sys.executable, "-m", "pipelines.commands.benchmark", "--child", str(data_dir), str(output_dir)]
    command += ["--child-month", month] if month else []
    command += ["--child-as-of", as_of] if as_of else []
    elapsed, cpu, stdout = _child(command, env)
    report = json.loads(stdout.strip().splitlines()[-1])
    if not report["success"]:
        raise SystemExit("benchmark: the run failed; see the Dagster UI with DAGSTER_HOME=" + env["DAGSTER_HOME"])
    return report | {"elapsed": elapsed, "cpu": cpu}


def _print_steps(report: dict, label: str) -> None:
    rows = report["rows"]
    lines = rows.get("raw/billing_lines", 0)
    print(
        f"\n{label}: {rows.get('raw/clients', 0):,} client records, {lines:,} billing lines, "
        f"{rows.get('raw/engagement_events', 0):,} engagement events, {rows.get('marts/accounts', 0):,} accounts"
    )
    cpu = report.get("steps_cpu", {})
    print(f"{'step':60} {'seconds':>8} {'CPU s':>8}")
    for step, seconds in sorted(report["steps"].items(), key=lambda item: -cpu.get(item[0], item[1])):
        print(f"{step:60} {seconds:8.2f} {cpu.get(step, float('nan')):8.2f}")
    print(f"{'sum of steps':60} {sum(report['steps'].values()):8.2f} {sum(cpu.values()):8.2f}")
    print(f"pipeline wall time (definitions + run): {report['wall_seconds']:.1f} s")
    print(f"process wall time (interpreter start to exit): {report['elapsed']:.1f} s, CPU {report['cpu']:.1f} s")
    if lines:
        print(f"billing lines per second (end to end): {lines / report['elapsed']:,.0f}")
    print(f"peak memory (RSS of the run process): {report['peak_rss_mb']:,.0f} MB")
    rises = report.get("peak_rss_mb_by_step", {})
    if rises:
        print("steps that raised it: " + ", ".join(f"{step} {mb:,.0f} MB" for step, mb in rises.items()))
    if report.get("children_peak_rss_mb"):
        print(f"peak memory of its child processes (Spark's JVM): {report['children_peak_rss_mb']:,.0f} MB")


def _generate(
    data_dir: Path, clients: int, file_format: str, span: int, end_month: str, env: dict, history_months: int = 0
) -> None:
    if (data_dir / ".complete").exists():
        print(f"reusing {data_dir}", flush=True)
        return
    print(f"generating {clients:,} client records over {span} months ({file_format}) in {data_dir} ...", flush=True)
    command = [sys.executable, "-m", "pipelines.commands.demo_data", str(data_dir), "--clients", str(clients)]
    command += ["--format", file_format, "--no-faults", "--months", str(span), "--end-month", end_month, "--quiet"]
    command += ["--history-months", str(history_months)] if history_months else []
    seconds, _, _ = _child(command, env)
    (data_dir / ".complete").write_text("")
    print(f"generated in {seconds:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="alms benchmark", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=1_000_000, help="client records (billing lines ~10x)")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "alms-benchmark")
    parser.add_argument(
        "--engine", choices=["duckdb", "spark"], default="duckdb", help="what runs the SQL models (ALMS_ENGINE)"
    )
    parser.add_argument("--months", type=int, default=1, help="consecutive monthly as-of dates to run (default 1)")
    parser.add_argument("--end-month", default="2026-10", help="the last as-of month (default 2026-10)")
    parser.add_argument(
        "--history-months",
        type=int,
        default=0,
        help="months of billing history before the data (default 0; 24: every run keeps as many month ends)",
    )
    parser.add_argument("--no-monthly", action="store_true", help="with --months 1: skip the monthly run")
    parser.add_argument("--no-reference", action="store_true", help="skip the core job's reference implementation")
    parser.add_argument("--child", nargs=2, metavar=("DATA_DIR", "OUTPUT_DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--child-month", default="", help=argparse.SUPPRESS)
    parser.add_argument("--child-as-of", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_once(*args.child, month=args.child_month, as_of=args.child_as_of)))
        return 0
    if args.months < 1:
        parser.error("--months must be at least 1")
    if args.history_months < 0:
        parser.error("--history-months must be 0 or more")
    try:
        return _benchmark(args)
    except ChildFailed as error:  # generating the input, the full refresh or the reference: nothing to sum up
        print(_last_output(error), file=sys.stderr)
        print(f"benchmark: {error}", file=sys.stderr)
        return 1


def _last_output(error: ChildFailed) -> str:
    """The end of what the failed process printed (its last log lines, a traceback's last frames)."""
    return error.output.strip()[-3000:]


def _benchmark(args: argparse.Namespace) -> int:
    env = {**os.environ, "DAGSTER_HOME": str(args.work_dir / "dagster_home"), "ALMS_ENGINE": args.engine}
    Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    (Path(env["DAGSTER_HOME"]) / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # a full 12-month window before the first as-of date, and the month after the last one (as the demo has)
    span = 13 + args.months
    history = f"-h{args.history_months}" if args.history_months else ""
    data_dir = args.work_dir / f"data-{args.clients}-{args.format}-{span}m{history}-{args.end_month}"
    _generate(data_dir, args.clients, args.format, span, _shift_month(args.end_month, 1), env, args.history_months)

    as_of_months = _months_back(args.end_month, args.months)
    output_dir = args.work_dir / "output"
    shutil.rmtree(output_dir, ignore_errors=True)
    summary: list[tuple[str, str]] = [("engine running the SQL models", args.engine)]
    full = _run_alms(data_dir, output_dir, env, as_of=_month_end(as_of_months[0]))
    _print_steps(full, f"full refresh as of {_month_end(as_of_months[0])}")
    summary.append(("alms full refresh, end to end", f"{full['elapsed']:.1f} s (CPU {full['cpu']:.1f} s)"))
    summary.append(("alms full refresh, peak memory", f"{full['peak_rss_mb'] / 1024:.2f} GB"))
    if args.months == 1 and not args.no_monthly:
        month = as_of_months[0]
        monthly = _run_alms(data_dir, output_dir, env, month=month, as_of=_month_end(month))
        _print_steps(monthly, f"monthly run of {month} (its files only)")
        summary.append(("monthly run (one month of files)", f"{monthly['elapsed']:.1f} s (CPU {monthly['cpu']:.1f} s)"))
        summary.append(
            (
                "monthly run / full refresh",
                f"{monthly['elapsed'] / full['elapsed']:.2f} (CPU {monthly['cpu'] / full['cpu']:.2f})",
            )
        )
    runs = [full]
    failed = ""
    for month in as_of_months[1:]:
        try:
            runs.append(_run_alms(data_dir, output_dir, env, month=month, as_of=_month_end(month)))
        except ChildFailed as error:  # the runs before it are measured: their summary is still printed
            print(_last_output(error), file=sys.stderr)
            failed = f"monthly run as of {_month_end(month)}: {error}"
            print(failed, flush=True)
            summary.append((f"monthly run as of {_month_end(month)}", f"FAILED ({len(runs) - 1} before it measured)"))
            break
        print(
            f"monthly run as of {_month_end(month)}: {runs[-1]['elapsed']:.1f} s (CPU {runs[-1]['cpu']:.1f} s), "
            f"peak {runs[-1]['peak_rss_mb']:,.0f} MB; steps that carry the past: "
            + ", ".join(f"{step} {runs[-1]['steps'].get(step, 0):.1f} s" for step in GROWING_STEPS),
            flush=True,
        )
    if len(runs) > 1:
        monthly_runs = runs[1:]
        mean = sum(run["elapsed"] for run in monthly_runs) / len(monthly_runs)
        mean_cpu = sum(run["cpu"] for run in monthly_runs) / len(monthly_runs)
        summary.append((f"{len(monthly_runs)} monthly runs after it: first", f"{monthly_runs[0]['elapsed']:.1f} s"))
        summary.append(("last monthly run", f"{monthly_runs[-1]['elapsed']:.1f} s"))
        summary.append(("last / first monthly run", f"{monthly_runs[-1]['elapsed'] / monthly_runs[0]['elapsed']:.2f}"))
        summary.append(
            ("mean monthly run / full refresh", f"{mean / full['elapsed']:.2f} (CPU {mean_cpu / full['cpu']:.2f})")
        )
    if not args.no_reference:
        reference_out = args.work_dir / "reference"
        shutil.rmtree(reference_out, ignore_errors=True)
        command = [sys.executable, "-m", "pipelines.commands.reference_core", str(data_dir), str(reference_out)]
        elapsed, cpu, stdout = _child(command + ["--as-of", _month_end(as_of_months[0])], env)
        reference = json.loads(stdout.strip().splitlines()[-1])
        print(
            f"\nreference core job (pipelines/commands/reference_core.py): {reference['accounts']:,} accounts, "
            f"{reference['key_accounts']:,} key, key level {reference['key_level']:,.2f}"
        )
        summary.append(("reference core job, end to end", f"{elapsed:.1f} s (CPU {cpu:.1f} s)"))
        summary.append(("reference core job, peak memory", f"{reference['peak_mb'] / 1024:.2f} GB"))
        summary.append(
            ("alms full refresh / reference", f"{full['elapsed'] / elapsed:.2f} (CPU {full['cpu'] / cpu:.2f})")
        )
    print(f"\n{'summary':44} {'':>24}")
    for label, value in summary:
        print(f"{label:44} {value:>24}")
    if failed:
        print(f"benchmark: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
