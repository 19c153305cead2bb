"""The `alms` command: run the pipeline, generate demo data, benchmark.

    python -m pipelines.commands run        # what `make run` does: demo data if needed, whole graph, summary
    python -m pipelines.commands generate DIR --clients 4000
    python -m pipelines.commands benchmark  # what `make benchmark` does (see pipelines/commands/benchmark.py)
    python -m pipelines.commands whatif --config other_scoring.yaml [--key-share 0.3]   # nothing published changes
    python -m pipelines.commands review     # decide pairs of client records; the next run applies and learns from them
    python -m pipelines.commands backtest [--config candidate.yaml]   # rank past snapshots; nothing published changes

`alms <command>` is the same (the script pyproject.toml installs).

Every run goes to the project's Dagster instance (DAGSTER_HOME defaults to <repo>/dagster_home), so it shows up in
the UI that `make dev` opens.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from assets.resources import REPO_ROOT, SettingsError
from assets.rules.reuse import source_digest

DEFAULT_DAGSTER_HOME = REPO_ROOT / "dagster_home"
DEMO_DIR = REPO_ROOT / "data" / "demo"
DEMO_CLIENTS = 4000
DEMO_HISTORY_MONTHS = 10  # billing history before the demo's window, so outcomes and the backtest have a past
DEMO_STAMP = ".generator"  # in the demo folder (ignored as input: a dot file): what built it (_demo_stamp)
DEMO_GENERATOR = (  # the code that writes the demo folder: a change of it builds the folder again
    "pipelines/commands/demo_data.py",
    "pipelines/commands/demo_data_hard.py",
    "pipelines/commands/demo_history.py",
    "assets/rules/inputs.py",
)


def use_project_instance() -> None:
    os.environ.setdefault("DAGSTER_HOME", str(DEFAULT_DAGSTER_HOME))
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)


def _demo_stamp(clients: int) -> str:
    """What the demo folder was built from: its size, its history and the generator's code."""
    code = source_digest(REPO_ROOT / path for path in DEMO_GENERATOR)
    return f"clients={clients} history_months={DEMO_HISTORY_MONTHS} generator={code}"


def ensure_demo_data(data_dir: Path = DEMO_DIR, clients: int = DEMO_CLIENTS) -> bool:
    """Generate the bundled demo input folder when it is not there yet, or was built by another version of the
    generator (`DEMO_STAMP`: else `make run` after an update would show figures of data the generator no longer
    writes). Built beside it and swapped in, so a stopped build leaves the old folder. Returns True when it built."""
    stamp = _demo_stamp(clients)
    present = (data_dir / "clients").is_dir() and (data_dir / "billing").is_dir()
    stamp_file = data_dir / DEMO_STAMP
    if present and stamp_file.is_file() and stamp_file.read_text().strip() == stamp:
        return False
    from pipelines.commands.demo_data import generate_demo_data

    if present:
        print(
            f"the demo data set in {data_dir} was built by another version of the generator: building it again "
            f"({clients:,} client records) ...",
            flush=True,
        )
    else:
        print(f"generating the demo data set ({clients:,} client records) in {data_dir} ...", flush=True)
    building, old = (data_dir.with_name(f".{data_dir.name}.{suffix}") for suffix in ("building", "old"))
    for leftover in (building, old):
        shutil.rmtree(leftover, ignore_errors=True)
    generate_demo_data(building, clients=clients, history_months=DEMO_HISTORY_MONTHS)
    (building / DEMO_STAMP).write_text(stamp + "\n")
    if data_dir.exists():
        data_dir.rename(old)
    building.rename(data_dir)
    shutil.rmtree(old, ignore_errors=True)
    return True


def run_pipeline(
    environ: dict | None = None, quiet: bool = False, log_level: str = "INFO", instance=None, selection=None
) -> tuple[bool, list[str]]:
    """Materialize the whole asset graph in-process on the project instance (or on `instance`: a test's in-memory
    one, `dg.DagsterInstance.ephemeral()`, when nothing reads the run's events afterwards). `selection`: only these
    asset keys (and their checks), as the UI's "Materialize selected" does, on the tables the last run left. Returns
    (success, error messages)."""
    success, errors, _ = execute_pipeline(environ, quiet, log_level, instance, selection)
    return success, errors


_NOT_KEPT = threading.local()


def execute_in_process(job, **kwargs):
    """`job.execute_in_process(**kwargs)` without Dagster keeping every step's output value in memory until the run
    ends. `execute_in_process` holds each output (a polars frame of every table) in a dict for the result's
    `output_for_node`, which alms never calls: at 1M client records that held about 1.5 GB through the run, and
    raised its peak (docs/benchmarks.md, "Peak memory"). A run that `dagster dev` or a schedule launches keeps
    nothing either. Dagster's API has no switch for it, so the private function the method calls is wrapped
    once, and only this thread's runs started here leave the capture off (a test's `materialize()` keeps it)."""
    from dagster._core.execution import execute_in_process as in_process

    if not getattr(in_process.core_execute_in_process, "_alms_wrapped", False):
        original = in_process.core_execute_in_process

        def core_execute_in_process(**arguments):
            if getattr(_NOT_KEPT, "active", False):
                arguments["output_capturing_enabled"] = False
            return original(**arguments)

        core_execute_in_process._alms_wrapped = True
        in_process.core_execute_in_process = core_execute_in_process
    _NOT_KEPT.active = True
    try:
        return job.execute_in_process(**kwargs)
    finally:
        _NOT_KEPT.active = False


def execute_pipeline(
    environ: dict | None = None, quiet: bool = False, log_level: str = "INFO", instance=None, selection=None
):
    """`run_pipeline`, also returning the run id."""

    from assets.resources import settings_from_env
    from pipelines.automation import full_refresh_tags
    from pipelines.commands.instance import project_instance
    from pipelines.definitions import ALMS_JOB, build_definitions

    use_project_instance()
    definitions = build_definitions(environ)
    job = definitions.resolve_job_def(ALMS_JOB)
    tags = {**full_refresh_tags(Path(settings_from_env(environ).data_dir)), "alms/trigger": "cli"}
    with contextlib.nullcontext(instance) if instance is not None else project_instance() as instance:
        result = execute_in_process(
            job,
            instance=instance,
            raise_on_error=False,
            asset_selection=selection,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            tags=tags,
        )
        errors = describe_failures(result)
        if not quiet:
            print(f"run {result.run_id} ({'succeeded' if result.success else 'failed'}); see it with `make dev`")
    return result.success and not errors, errors, result.run_id


def describe_failures(result) -> list[str]:
    """What went wrong, in the words a user needs, one line per cause: failed steps' messages (a `dg.Failure`'s
    description, else the innermost error's first line), failed blocking checks, a run that failed before any step.
    Steps that failed for the same cause are one line."""
    from assets.checks import FAILED_CHECK
    from assets.rules.causes import innermost_error_line

    errors: dict[str, list[str]] = {}
    checks: list[str] = []
    run_failures = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            failure = event.step_failure_data
            if failure.user_failure_data and FAILED_CHECK in (failure.user_failure_data.metadata or {}):
                continue  # a blocking check stopped its step with its reason: the check's own line says it
            message = failure.user_failure_data.description if failure.user_failure_data else None
            errors.setdefault(message or innermost_error_line(failure.error), []).append(event.step_key)
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed and evaluation.severity.value != "WARN":  # warnings are in the log and the UI
                detail = evaluation.description or ", ".join(
                    f"{k}={getattr(v, 'value', v)}" for k, v in evaluation.metadata.items()
                )
                checks.append(f"check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} failed: {detail}")
        elif event.event_type_value in ("RESOURCE_INIT_FAILURE", "PIPELINE_FAILURE", "RUN_FAILURE"):
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:
                run_failures.append(innermost_error_line(error))
    lines = []
    for message, where in errors.items():
        if len(where) == 1:
            lines.append(f"step {where[0]} failed: {message}")
        else:
            lines.append(f"steps {', '.join(where[:3])}{' ...' if len(where) > 3 else ''} failed: {message}")
    lines += checks
    if not lines:
        lines = [f"run failed: {message}" for message in dict.fromkeys(run_failures)]
    return lines


def _wrapped(label: str, items: list[str], width: int = 116) -> list[str]:
    """`label` then the items, comma-separated, wrapped under the label."""
    lines, line = [], label
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if len(line) + len(piece) > width and line.strip():
            lines.append(line.rstrip())
            line = " " * len(label)
        line += piece + " "
    return [*lines, line.rstrip()]


def summarize(output_dir: Path) -> str:
    """The short summary of what is published: read from the published file itself, as a BI reader would."""
    import duckdb

    from assets.rules.outcomes_report import summary_lines as outcome_summary_lines
    from assets.rules.publish import PUBLISHED_FILE, current_publication, read_manifest
    from schemas import PUBLISHED_TABLES

    path = output_dir / PUBLISHED_FILE
    publication = current_publication(output_dir)
    manifest = read_manifest(publication) if publication is not None else {}
    with duckdb.connect(str(path), read_only=True) as conn:
        level = conn.sql("select * from marts.key_levels where is_current").pl().row(0, named=True)
        key_now, crossing, positive, total, key_total, as_of, window_start = conn.sql(
            "select count(*) filter (where is_key_account), "
            "count(*) filter (where is_key_account <> is_key_at_next_review), "
            "count(*) filter (where billing_12m > 0), sum(billing_12m) filter (where billing_12m > 0), "
            "sum(billing_12m) filter (where is_key_account), max(as_of_date), "
            "cast(max(as_of_date) - interval 12 month + interval 1 day as date) from marts.accounts"
        ).fetchall()[0]
        key_share = float(key_total / total) if total else 0.0
        accounts = conn.sql("select count(*) from marts.accounts").fetchall()[0][0]
        records = conn.sql("select count(*) from marts.client_crosswalk").fetchall()[0][0]
        quarantine = conn.sql(
            "select input_name, reason, count(*) from marts.quarantined_rows group by all order by 1, 2"
        ).fetchall()
        tiers = dict(conn.sql("select tier, count(*) from marts.account_scores group by all").fetchall())
        designations = dict(
            conn.sql("select designation, count(*) from marts.seller_account_lists group by all").fetchall()
        )
        overrides = dict(conn.sql("select status, count(*) from marts.account_overrides group by all").fetchall())
        outcomes = outcome_summary_lines(conn)
    currency = level["reporting_currency"]
    lines = [
        f"published: {path}",
        f"           {output_dir / 'parquet'}/<table>.parquet (account_snapshots/: a file per as-of date), crm/, "
        "manifest.json",
        f"           (publication {publication}: run {str(manifest.get('run_id', '?'))[:8]}, "
        f"as of {manifest.get('as_of_date')})",
        f"report:    {output_dir / 'current' / 'report.html'} (open in a browser)",
        f"engine:    {manifest.get('engine', 'duckdb')}",
        *_wrapped("tables:    ", [f"{schema}.{table}" for schema, table in PUBLISHED_TABLES]),
        f"window:    {window_start} .. {as_of}",
        f"accounts:  {accounts:,} (from {records:,} client records); {positive:,} with positive billing",
        f"key level: {level['key_level']:,} {currency}, frozen for the review period {level['review_period_start_date']} .."
        f" {level['review_period_end_date']} (reviewed on data as of {level['as_of_date']}: k = ceil({level['key_share']} x "
        f"{level['ranked_accounts']:,}) = {level['key_count_rule']:,})",
        f"key accounts: {key_now:,}, holding {key_share:.1%} of {total:,} {currency} billed; {crossing:,} would change "
        "at a review today",
    ]
    lines.append(
        f"tiers:     high {tiers.get('high', 0):,}, medium {tiers.get('medium', 0):,}, low {tiers.get('low', 0):,}; "
        f"targets {designations.get('target', 0):,}, leads {designations.get('lead', 0):,}"
    )
    if overrides:
        lines.append("overrides: " + ", ".join(f"{status} {count}" for status, count in sorted(overrides.items())))
    if quarantine:
        lines.append(
            "quarantine: "
            + ", ".join(f"{name}/{reason} {count:,}" for name, reason, count in quarantine)
            + " (see marts.quarantined_rows)"
        )
    else:
        lines.append("quarantine: none")
    return "\n".join(lines + outcomes)


def publication_of_run(output_dir: Path, run_id: str) -> tuple[Path, dict] | None:
    """The publication a run made (current or not), from the manifests."""
    from assets.rules.publish import PUBLICATIONS, read_manifest

    for manifest_file in sorted((output_dir / PUBLICATIONS).glob("*/manifest.json"), reverse=True):
        manifest = read_manifest(manifest_file.parent)
        if manifest.get("run_id") == run_id:
            return manifest_file.parent, manifest
    return None


def command_run(args: argparse.Namespace) -> int:
    if not os.environ.get("ALMS_DATA_DIR"):
        ensure_demo_data()
    from assets.resources import settings_from_env, take_output_folder
    from assets.rules import run_lock
    from assets.rules.causes import first_line, one_line_cause
    from assets.rules.publish import current_publication, read_manifest

    try:
        settings = settings_from_env()
    except SettingsError as error:
        print(f"alms: {error}", file=sys.stderr)
        return 2
    output_dir = Path(settings.output_dir)
    print(f"input:  {settings.data_dir}\noutput: {output_dir}", flush=True)
    try:  # refused at once when another run has the output folder (the run itself takes the lock again)
        notes = take_output_folder(output_dir, "cli")
    except run_lock.RunLockBusy as error:
        print(f"alms: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        places = {"ALMS_OUTPUT_DIR": output_dir}
        print(
            f"alms: cannot use the output folder: {one_line_cause(error, places) or first_line(error)}", file=sys.stderr
        )
        return 1
    try:
        for note in notes:
            print(f"note:   {note}", flush=True)
        started = time.perf_counter()
        success, errors, run_id = execute_pipeline()
        elapsed = time.perf_counter() - started
        if not success:
            print(
                f"alms: the run failed after {elapsed:.1f} s; the published tables were left as they were.",
                file=sys.stderr,
            )
            for error in errors:
                print(f"  - {error}", file=sys.stderr)
            return 1
        print(f"done in {elapsed:.1f} s")
        current = current_publication(output_dir)
        if current is None or read_manifest(current).get("run_id") != run_id:
            made = publication_of_run(output_dir, run_id)
            current_manifest = read_manifest(current) if current is not None else {}
            print(
                f"not made current: as-of {made[1].get('as_of_date') if made else '?'} is earlier than the current "
                f"publication's {current_manifest.get('as_of_date')}; its snapshot is in the history and it is "
                f"published to {made[0] if made else '?'}; ALMS_PUBLISH_BACKFILL=1 makes such a run current"
            )
        print(summarize(output_dir))
        return 0
    finally:
        run_lock.release(output_dir, "cli")


def command_generate(args: argparse.Namespace) -> int:
    from pipelines.commands.demo_data import generate_demo_data

    summary = generate_demo_data(
        args.out_dir,
        clients=args.clients,
        seed=args.seed,
        file_format=args.format,
        faults=not args.no_faults,
        history_months=args.history_months,
        progress=lambda message: print(message, flush=True),
    )
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def command_whatif(args: argparse.Namespace) -> int:
    from assets.resources import settings_from_env
    from assets.rules.inputs import InputError
    from pipelines.commands.whatif import run_whatif

    try:
        settings = settings_from_env()
        result = run_whatif(Path(settings.output_dir), Path(settings.data_dir), args.config, args.key_share, args.name)
    except (SettingsError, InputError) as error:
        print(f"alms whatif: {error}", file=sys.stderr)
        return 2
    print(
        f"what-if on the publication as of {result.as_of_date} (run {result.run_id[:8]}, {result.publication}): "
        f"{result.accounts:,} accounts, {result.changes.height:,} would change tier or designation"
    )
    for row in result.per_seller.head(args.show).iter_rows(named=True):
        print(
            f"  {row['seller_name'] or row['owner_id'] or '(unassigned)'}: {row['accounts_changing']:,} accounts "
            f"({row['tier_changes']} tier, {row['designation_changes']} designation; +{row['new_key']} / "
            f"-{row['no_longer_key']} key)"
        )
    print(f"written: {result.out_dir}/changes.csv, per_seller.csv (published tables untouched)")
    return 0


def command_backtest(args: argparse.Namespace) -> int:
    from assets.resources import settings_from_env
    from assets.rules.inputs import InputError
    from pipelines.commands.backtest import BacktestError, report_lines, run

    try:
        settings = settings_from_env()
        result = run(
            Path(settings.output_dir),
            Path(settings.data_dir),
            args.config,
            args.horizon,
            args.name,
            search=not args.no_search,
        )
    except (SettingsError, BacktestError, InputError) as error:
        print(f"alms backtest: {error}", file=sys.stderr)
        return 2
    print("\n".join(report_lines(result)))
    return 0


def command_review(args: argparse.Namespace) -> int:
    from assets.resources import settings_from_env
    from pipelines.commands.review import (
        ReviewError,
        append_decisions,
        export_pairs,
        import_decisions,
        interactive,
        pending_pairs,
    )

    try:
        settings = settings_from_env()
        overrides = Path(settings.data_dir) / "match_overrides.csv"
        if args.import_file:
            written = append_decisions(overrides, import_decisions(args.import_file, args.by, args.reason))
        else:
            pairs = pending_pairs(Path(settings.output_dir), Path(settings.data_dir), args.limit)
            if args.export_file:
                count = export_pairs(pairs, args.export_file)
                print(
                    f"{count:,} pairs written to {args.export_file}: fill `decision` with same or different, then "
                    f"alms review --import {args.export_file}"
                )
                return 0
            if pairs.height == 0:
                print("nothing to review: every pair in marts.match_review_pairs is decided")
                return 0
            print(f"{pairs.height:,} pairs to review, most instructive first (decisions go to {overrides})")
            decisions = []
            try:
                for row in interactive(pairs, input, print, args.by, args.reason):
                    decisions.append(row)
                    append_decisions(overrides, [row])  # each answer is kept at once: quitting loses nothing
            except (EOFError, KeyboardInterrupt):
                print()
            written = len(decisions)
    except (SettingsError, ReviewError) as error:
        print(f"alms review: {error}", file=sys.stderr)
        return 2
    print(
        f"{written:,} decisions written to {overrides}; run the pipeline again (the same as-of date is fine) to "
        "apply them and teach the matcher"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["benchmark"]:  # its options are its own (see pipelines/commands/benchmark.py)
        from pipelines.commands.benchmark import main as benchmark_main

        return benchmark_main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="alms", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the whole pipeline (ALMS_DATA_DIR, ALMS_OUTPUT_DIR, ALMS_AS_OF, ...)")
    generate = commands.add_parser("generate", help="write a demo / benchmark input folder")
    generate.add_argument("out_dir", type=Path)
    generate.add_argument("--clients", type=int, default=DEMO_CLIENTS, help="client records (billing lines ~10x)")
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--format", choices=["csv", "parquet"], default="csv")
    generate.add_argument("--no-faults", action="store_true", help="no deliberately faulty billing lines")
    generate.add_argument(
        "--history-months",
        type=int,
        default=0,
        help="months of billing history before the window (outcomes, backtest; make run: 10)",
    )
    commands.add_parser("benchmark", help="generate benchmark data and time the full materialization (--help)")
    whatif = commands.add_parser("whatif", help="score the last run under another config; publishes nothing")
    whatif.add_argument("--config", type=Path, required=True, help="a scoring.yaml (sections merge over the default)")
    whatif.add_argument("--key-share", type=float, help="cut the key level again at this share (e.g. 0.3)")
    whatif.add_argument("--name", default="latest", help="sub-folder of $ALMS_OUTPUT_DIR/whatif for the result")
    whatif.add_argument("--show", type=int, default=15, help="sellers to print")
    backtest = commands.add_parser("backtest", help="score past snapshots with a config; publishes nothing")
    backtest.add_argument("--config", type=Path, help="a candidate scoring.yaml (default: the config in force)")
    backtest.add_argument("--horizon", type=int, help="months of growth after each snapshot: 3, 6 or 12 (default 6)")
    backtest.add_argument("--name", default="latest", help="sub-folder of $ALMS_OUTPUT_DIR/backtest for the result")
    backtest.add_argument("--no-search", action="store_true", help="no weight suggestion (faster)")
    review = commands.add_parser("review", help="decide pairs of client records (match_overrides.csv)")
    review.add_argument("--limit", type=int, help="at most this many pairs")
    review.add_argument("--by", default=None, help="who decides (default: the login name)")
    review.add_argument("--reason", default="reviewed with alms review", help="the reason recorded with each row")
    review.add_argument("--export", dest="export_file", type=Path, help="write the pairs to this CSV instead")
    review.add_argument("--import", dest="import_file", type=Path, help="append the decisions of a filled CSV")
    args = parser.parse_args(argv)
    if args.command == "review" and args.by is None:
        from pipelines.commands.review import default_reviewer

        args.by = default_reviewer()
    handlers = {
        "run": command_run,
        "generate": command_generate,
        "whatif": command_whatif,
        "review": command_review,
        "backtest": command_backtest,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
