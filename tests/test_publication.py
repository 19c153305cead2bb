"""All-or-nothing publication: a process killed (SIGKILL) after any step of a publication leaves the previous or the
new publication, whole, behind every path a reader uses; the next start removes the leftovers. Retention, the
adoption of the layout before publications, and the run lock between two processes."""

import contextlib
import csv
import datetime as dt
import io
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import copy_run_output, parquet_files, parquet_location, run_in_memory

from assets.resources import REPO_ROOT, replace_rows, take_output_folder
from assets.rules.backtest import BACKTEST_INPUTS_BY, backtest_input_selects
from assets.rules.documentation import TableDoc
from assets.rules.publish import (
    BUILDING,
    PUBLICATIONS,
    STABLE_PATHS,
    STEPS,
    current_publication,
    publish,
    read_manifest,
    remove_leftovers,
)
from assets.rules.scoring_run import scoring_input_selects
from pipelines.commands.cli import main as cli_main
from schemas import PUBLISHED_TABLES, table_documentation
from schemas.renamed import OLD_NAMES, OLD_NAMES_REMOVED_IN, RENAMED_IN

SCORING_SELECTS = scoring_input_selects()

# A second publication of the same warehouse with every account name marked, so a mix of the two is visible.
PUBLISHER = r"""
import os
import duckdb
from assets.rules.publish import KILL_AFTER, publish

if kill_after:
    os.environ[KILL_AFTER] = kill_after
conn = duckdb.connect(f"{output_dir}/work/warehouse.duckdb")
conn.execute("update marts.accounts set account_name = account_name || ' v2'")
conn.execute("update marts.seller_account_lists set name = name || ' v2' where row_type = 'account'")
publish(conn, output_dir, tables, run_id="second-run-0000", as_of="2026-10-31", make_current=True, keep=2,
        scoring_inputs=scoring)
"""


@pytest.fixture(scope="module")
def first_publication(small_run) -> Path:
    """The output folder of one run on the small inputs, with its first publication (tests copy it before writing)."""
    return small_run.output


def version_seen_by_readers(output: Path) -> str:
    """Which publication every reader path shows ("v1" the first, "v2" the second), asserting they all show the same
    one, whole: the DuckDB file, each Parquet file, the CRM file and the manifest."""
    publication = current_publication(output)
    assert publication is not None and publication.parent == output / PUBLICATIONS
    for name in STABLE_PATHS:  # every path BI tools use resolves into the current publication
        assert Path(os.path.realpath(output / name)).parent == publication, name
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["publication"] == publication.name
    with duckdb.connect(str(output / "alms.duckdb"), read_only=True) as conn:
        counts = {
            f"marts.{t}": conn.sql(f"select count(*) from marts.{t}").fetchall()[0][0] for _, t in PUBLISHED_TABLES
        }
        names = conn.sql("select account_name from marts.accounts").pl()["account_name"].to_list()
    assert counts == manifest["tables"]
    for _, table in PUBLISHED_TABLES:
        assert pl.read_parquet(parquet_location(output, table)).height == counts[f"marts.{table}"]
    parquet_names = pl.read_parquet(output / "parquet" / "accounts.parquet")["account_name"].to_list()
    with (output / "crm" / "alms_crm_import_latest.csv").open(newline="") as handle:
        crm_names = [row["name"] for row in csv.DictReader(handle) if row["record_type"] == "account"]
    marked = {name.endswith(" v2") for name in names + parquet_names + crm_names}
    assert len(marked) == 1, "a reader would mix two publications"
    version = "v2" if marked == {True} else "v1"
    assert (manifest["run_id"] == "second-run-0000") == (version == "v2")
    assert not (output / "alms.duckdb.wal").exists()
    return version


def publish_in_subprocess(output: Path, kill_after: str | None) -> int:
    """The second publication in a process of its own, killed (SIGKILL) after the step `kill_after`; its exit code.
    The process is forked from a server that imported the publication's code once (multiprocessing's forkserver), so
    each of these processes costs the publication, not another 1.2 s of imports."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["duckdb", "assets.rules.publish"])
    names = {"output_dir": str(output), "tables": PUBLISHED_TABLES, "scoring": SCORING_SELECTS}
    process = context.Process(target=exec, args=(PUBLISHER, {**names, "kill_after": kill_after}))
    process.start()
    process.join(timeout=120)
    if process.exitcode is None:
        process.kill()
        pytest.fail(f"the publication killed after {kill_after} did not end in 120 s")
    return process.exitcode


@pytest.mark.slow
@pytest.mark.parametrize("step", [*STEPS, None])
def test_a_kill_after_any_step_leaves_one_whole_publication(first_publication, tmp_path, step):
    output = copy_run_output(first_publication, tmp_path / "output")
    assert version_seen_by_readers(output) == "v1"
    before = current_publication(output)
    exit_code = publish_in_subprocess(output, step)
    assert exit_code == (0 if step is None else -signal.SIGKILL)  # None: published; else died right there
    expected = "v2" if step in ("switched", "pruned", None) else "v1"
    assert version_seen_by_readers(output) == expected
    removed = remove_leftovers(output)  # what the next run does first
    assert version_seen_by_readers(output) == expected  # cleaning never changes what readers see
    publications = sorted(p.name for p in (output / PUBLICATIONS).iterdir())
    assert not [name for name in publications if name.startswith(BUILDING)]
    assert not list(output.glob(".current.*")) and not list(output.glob(".*.link"))
    if expected == "v1":
        assert publications == [before.name]  # the interrupted publication is gone entirely
        assert step == "folder" or removed, "a killed publication left nothing to clean?"
    else:
        assert current_publication(output).name in publications and before.name in publications  # keep=2


@pytest.mark.slow
def test_retention_and_a_not_current_publication(first_publication, tmp_path):
    output = copy_run_output(first_publication, tmp_path / "output")
    first = current_publication(output)
    conn = duckdb.connect(str(output / "work" / "warehouse.duckdb"))
    made = []
    # publication names carry the second they were started: a clock a second apart each (instead of waiting)
    start = dt.datetime.now(dt.UTC)
    for number in range(3):
        made.append(
            publish(
                conn,
                output,
                PUBLISHED_TABLES,
                run_id=f"run-{number}",
                as_of="2026-10-31",
                make_current=True,
                keep=2,
                scoring_inputs=SCORING_SELECTS,
                now=lambda seconds=number + 1: start + dt.timedelta(seconds=seconds),
            )
        )
    names = sorted(p.name for p in (output / PUBLICATIONS).iterdir())
    assert names == sorted([made[1].path.name, made[2].path.name])  # keep=2: the two newest
    assert first.name not in names and made[0].removed == [] and str(first) in made[1].removed
    backfill = publish(
        conn,
        output,
        PUBLISHED_TABLES,
        run_id="older-as-of",
        as_of="2026-09-30",
        make_current=False,
        keep=2,
        scoring_inputs=SCORING_SELECTS,
        now=lambda: start + dt.timedelta(seconds=4),
    )
    conn.close()
    assert not backfill.is_current and current_publication(output) == made[2].path  # current never removed
    assert read_manifest(backfill.path)["role"] == "not_current"
    assert sorted(p.name for p in (output / PUBLICATIONS).iterdir()) == sorted([made[2].path.name, backfill.path.name])
    assert remove_leftovers(output) == []  # a publication built not to be current is not a leftover
    with duckdb.connect(str(backfill.path / "alms.duckdb"), read_only=True) as reader:
        assert reader.sql("select count(*) from marts.accounts").fetchall()[0][0] > 0


def test_the_layout_before_publications_is_adopted(first_publication, tmp_path):
    """An output folder written by the version before publications (alms.duckdb, parquet/, crm/, manifest.json as
    plain files) keeps showing the same data at the same paths, now through `current`."""
    output = tmp_path / "output"
    publication = current_publication(first_publication)
    output.mkdir()
    shutil.copytree(first_publication / "work", output / "work")
    for name in ("alms.duckdb", "manifest.json"):
        shutil.copy(publication / name, output / name)
    for name in ("parquet", "crm"):
        shutil.copytree(publication / name, output / name)
    (output / ".alms.duckdb.abc.tmp").write_text("a killed run of the old version")
    (output / "parquet" / ".accounts.abc.tmp").write_text("")
    legacy_bytes = (output / "alms.duckdb").read_bytes()
    assert sorted(remove_leftovers(output)) == sorted(
        [str(output / ".alms.duckdb.abc.tmp"), str(output / "parquet" / ".accounts.abc.tmp")]
    )
    conn = duckdb.connect(str(output / "work" / "warehouse.duckdb"))
    from assets.rules.publish import ensure_layout

    ensure_layout(output)
    assert (output / "alms.duckdb").is_symlink() and (output / "alms.duckdb").read_bytes() == legacy_bytes
    assert current_publication(output).name.endswith("-legacy")
    made = publish(
        conn,
        output,
        PUBLISHED_TABLES,
        run_id="after-upgrade",
        as_of="2026-10-31",
        make_current=True,
        keep=3,
        scoring_inputs=SCORING_SELECTS,
    )
    conn.close()
    assert current_publication(output) == made.path
    assert version_seen_by_readers(output) == "v1"


HOLDER = r"""
import sys, time
from assets.resources import take_output_folder
take_output_folder(sys.argv[1], "holder")
print("held", flush=True)
time.sleep(120)
"""


@pytest.mark.slow
def test_a_second_run_on_the_same_output_folder_is_refused(pipeline_env, tmp_path):
    output = Path(pipeline_env["ALMS_OUTPUT_DIR"])
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(output)], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = subprocess.run(
            [sys.executable, "-m", "pipelines.commands", "run"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert refused.returncode == 1
        lines = refused.stderr.strip().splitlines()
        assert lines[-1].startswith(f"alms: another run (pid {holder.pid}, started at 20") and str(output) in lines[-1]
        # a run started another way (the UI, a schedule) is refused by its first step, with the same line
        success, errors = run_in_memory()
        assert not success and errors and all(f"another run (pid {holder.pid}, started at" in e for e in errors)
        assert len(errors) == 1  # steps failing for one cause are one line
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding the lock: a stale lock
        holder.wait()
    notes = take_output_folder(output, "after")
    from assets.rules import run_lock

    run_lock.release(output, "after")
    assert any(f"took over the run lock of pid {holder.pid}" in note for note in notes), notes


PUBLICATION_RUN = """
import dagster as dg
from pipelines.commands.cli import run_pipeline
run_pipeline(quiet=True, log_level="CRITICAL", selection=[dg.AssetKey(["marts", "publication"])])
"""


@pytest.mark.slow
def test_a_run_killed_while_publishing_is_cleaned_up_by_the_next_run(published_env):
    output = Path(published_env["ALMS_OUTPUT_DIR"])
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    first = current_publication(output)
    killed = subprocess.run(  # a run of the publication alone (after published_env), killed while it publishes
        [sys.executable, "-c", PUBLICATION_RUN],
        cwd=REPO_ROOT,
        env={**env, "ALMS_TEST_KILL_AFTER": "crm"},
        capture_output=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL
    assert current_publication(output) == first
    assert [p for p in (output / PUBLICATIONS).iterdir() if p.name.startswith(BUILDING)]
    with contextlib.redirect_stdout(io.StringIO()) as printed:  # the next `alms run` (in this process)
        code = cli_main(["run"])
    assert code == 0, printed.getvalue()
    said = printed.getvalue()
    assert "took over the run lock of pid" in said and "removed what killed or failed publications left" in said
    assert not [p for p in (output / PUBLICATIONS).iterdir() if p.name.startswith(BUILDING)]
    assert current_publication(output) != first


def test_the_old_names_answer_for_one_release_with_the_new_tables_rows(first_publication):
    """BI readers get one release to move: in alms.duckdb every renamed table has a view under its old name with the
    old column names, a table that kept its name repeats its renamed columns under their old names (last), each says
    it is deprecated; the rows read through an old name are the new table's rows, in order. Parquet has new names."""
    publication = current_publication(first_publication)
    with duckdb.connect(str(publication / "alms.duckdb"), read_only=True) as conn:
        views = dict(conn.sql("select view_name, comment from duckdb_views() where schema_name = 'marts'").fetchall())
        # renames.sed: keep old names
        assert sorted(views) == [
            "account_history",
            "key_level_audit",
            "match_review",
            "override_status",
            "quarantine",
            "seller_feedback_summary",
        ]
        # renames.sed: end
        for new, old in OLD_NAMES.items():
            columns = [
                c for c in conn.sql(f"select * from marts.{new} limit 0").columns if c not in old.columns.values()
            ]
            old_columns = [old.columns.get(column, column) for column in columns]
            if old.table != new:
                assert conn.sql(f"select * from marts.{old.table} limit 0").columns == old_columns, new
                assert views[old.table].startswith(f"Deprecated: renamed marts.{new} in alms {RENAMED_IN}"), new
                assert OLD_NAMES_REMOVED_IN in views[old.table]
            else:
                assert conn.sql(f"select * from marts.{new} limit 0").columns == columns + list(old.columns.values())
            through_old = conn.sql(f"select {', '.join(old_columns)} from marts.{old.table}").fetchall()
            assert through_old == conn.sql(f"select {', '.join(columns)} from marts.{new}").fetchall(), new
            undocumented = conn.sql(
                "select column_name from duckdb_columns() where schema_name = 'marts' and table_name = ? "
                "and coalesce(comment, '') = ''",
                params=[old.table],
            ).fetchall()
            assert undocumented == [], old.table
        deprecated = conn.sql(
            "select comment from duckdb_columns() where schema_name = 'marts' and table_name = 'accounts' "
            "and column_name = ?",
            params=[OLD_NAMES["accounts"].columns["is_key_at_next_review"]],
        ).fetchall()[0][0]
        assert deprecated.startswith(f"Deprecated: renamed is_key_at_next_review in alms {RENAMED_IN}")
    parquet = {
        path.name.removesuffix(".parquet"): pl.scan_parquet(path).collect_schema()
        for path in (publication / "parquet").iterdir()
    }
    assert set(parquet) == {table for _, table in PUBLISHED_TABLES}  # no file under an old table name
    for new, old in OLD_NAMES.items():
        assert not set(old.columns.values()) & set(parquet[new]), new  # nor an old column name
    assert read_manifest(publication)["old_names"]["removed_in"] == OLD_NAMES_REMOVED_IN


def test_unchanged_parquet_files_are_linked_from_the_current_publication(first_publication, tmp_path):
    """A file whose rows, order, columns and descriptions are those of the current publication's file is a hard
    link to it; a changed table is written again, and every file reads as the warehouse's table."""
    output = copy_run_output(first_publication, tmp_path / "output")
    first = current_publication(output)
    documentation = {table: TableDoc(*table_documentation(*table)) for table in PUBLISHED_TABLES}
    with duckdb.connect(str(output / "work" / "warehouse.duckdb")) as conn:
        conn.execute("update marts.accounts set account_name = account_name || ' v2'")
        made = publish(
            conn,
            output,
            PUBLISHED_TABLES,
            run_id="second-run-0000",
            as_of="2026-10-31",
            make_current=True,
            scoring_inputs=SCORING_SELECTS,
            documentation=documentation,
        )
        for (schema, table), order_by in PUBLISHED_TABLES.items():
            new, old = parquet_location(made.path, table), parquet_location(first, table)
            assert parquet_files(new) and len(parquet_files(new)) == len(parquet_files(old)), table
            for new_file, old_file in zip(parquet_files(new), parquet_files(old), strict=True):
                assert os.path.samefile(new_file, old_file) == (table != "accounts"), table
            fresh = tmp_path / f"{table}.parquet"
            conn.execute(f"copy (select * from {schema}.{table} order by {order_by}) to '{fresh}' (format parquet)")
            assert pl.read_parquet(new).equals(pl.read_parquet(fresh)), table
        # the descriptions are part of a file: without them every file is written again
        third = publish(
            conn,
            output,
            PUBLISHED_TABLES,
            run_id="third-run-0000",
            as_of="2026-10-31",
            make_current=True,
            scoring_inputs=SCORING_SELECTS,
        )
    assert not any(
        os.path.samefile(new_file, old_file)
        for _, t in PUBLISHED_TABLES
        for new_file, old_file in zip(
            parquet_files(parquet_location(third.path, t)), parquet_files(parquet_location(made.path, t)), strict=True
        )
    )
    recorded = read_manifest(made.path)["file_digests"].keys()
    assert recorded >= {
        str(path.relative_to(made.path))
        for _, t in PUBLISHED_TABLES
        for path in parquet_files(parquet_location(made.path, t))
    }


def published_matches_warehouse(conn: duckdb.DuckDBPyConnection, publication: Path) -> None:
    """Every table of `publication`'s alms.duckdb holds the warehouse's rows in the published order, with comments."""
    conn.execute(f"attach '{publication / 'alms.duckdb'}' as shown (read_only)")
    try:
        for (schema, table), order_by in PUBLISHED_TABLES.items():
            expected = conn.sql(f"select * from {schema}.{table} order by {order_by}").fetchall()
            shown_columns = conn.sql(f"select * from shown.{schema}.{table} limit 0").columns
            columns = conn.sql(f"select * from {schema}.{table} limit 0").columns
            assert shown_columns[: len(columns)] == columns, table
            assert conn.sql(f"select {', '.join(columns)} from shown.{schema}.{table}").fetchall() == expected, table
        comments = conn.sql(
            "select count(*), count(comment) from duckdb_tables() where database_name = 'shown'"
        ).fetchall()[0]
        assert comments == (len(PUBLISHED_TABLES), len(PUBLISHED_TABLES))
        old = OLD_NAMES["account_snapshots"]
        through_old = conn.sql(f"select count(*) from shown.marts.{old.table}").fetchall()[0][0]  # the view is back
        assert through_old == conn.sql("select count(*) from marts.account_snapshots").fetchall()[0][0]
    finally:
        conn.execute("detach shown")


def test_the_backtests_month_ends_are_a_file_each_and_a_new_one_links_the_others(first_publication, tmp_path):
    """scoring_inputs/account_outcomes/ holds a file per reconstructed month end: a publication writes the month ends
    whose rows are new or changed and links the others to the current publication's files (a monthly run wrote every
    month end's rows again before, up to 24 x 1M accounts); the folder reads as the select, in its order. Without
    any month end, one file without rows keeps the columns."""
    output = copy_run_output(first_publication, tmp_path / "output")
    as_of = read_manifest(current_publication(output))["as_of_date"]
    selects = {**SCORING_SELECTS, **backtest_input_selects()}
    (select,) = backtest_input_selects().values()
    select += f" order by {BACKTEST_INPUTS_BY['account_outcomes'][1]}"  # the files' order

    def again(conn, run_id):
        made = publish(
            conn,
            output,
            PUBLISHED_TABLES,
            run_id=run_id,
            as_of=as_of,
            make_current=True,
            scoring_inputs=selects,
            scoring_inputs_by=BACKTEST_INPUTS_BY,
        )
        folder = made.path / "scoring_inputs" / "account_outcomes"
        files = sorted(folder.glob("*.parquet"))
        assert pl.read_parquet(files).equals(conn.sql(select).pl())
        return {path.name: path for path in files}

    with duckdb.connect(str(output / "work" / "warehouse.duckdb")) as conn:
        conn.execute(
            "create or replace table marts.account_outcomes (as_of_date date, account_id varchar, "
            "snapshot_source varchar, billing_after_6m decimal(18, 2))"
        )
        assert list(again(conn, "empty-run-0000")) == ["account_outcomes.parquet"]
        conn.execute(
            "insert into marts.account_outcomes values ('2026-01-31', 'A2', 'reconstructed', 5), "
            "('2026-01-31', 'A1', 'reconstructed', 7), ('2026-02-28', 'A1', 'reconstructed', null), "
            "('2026-02-28', 'A1', 'recorded', 9)"
        )
        first = again(conn, "first-run-0000")
        assert list(first) == ["account_outcomes_2026-01-31.parquet", "account_outcomes_2026-02-28.parquet"]
        conn.execute("insert into marts.account_outcomes values ('2026-03-31', 'A1', 'reconstructed', 1)")
        second = again(conn, "second-run-0000")
        assert list(second) == [*first, "account_outcomes_2026-03-31.parquet"]
        assert all(os.path.samefile(second[name], first[name]) for name in first)  # linked, not written again
        conn.execute("update marts.account_outcomes set billing_after_6m = 6 where as_of_date = '2026-02-28'")
        third = again(conn, "third-run-0000")  # a month end whose window completed: its file alone is new
        linked = [name for name in third if os.path.samefile(third[name], second[name])]
        assert linked == ["account_outcomes_2026-01-31.parquet", "account_outcomes_2026-03-31.parquet"]


def test_a_new_snapshot_is_appended_to_the_current_file_and_a_changed_past_builds_it_whole(first_publication, tmp_path):
    """A run whose recorded snapshots are unchanged starts alms.duckdb from the current publication's file and appends
    its new snapshot: the same tables, rows, order, comments and old names as a file built whole, and no larger than
    it by more than a few blocks (the dropped tables' space is reused). A backfilled earlier date or a change of an
    earlier date builds the table whole; a date gone, or a re-run that changed the
    latest date's rows, removes them from the copy."""
    from schemas import APPENDED_TABLES

    output = copy_run_output(first_publication, tmp_path / "output")
    first = current_publication(output)
    assert read_manifest(first)["appended_digests"]["marts.account_snapshots"]
    documentation = {table: TableDoc(*table_documentation(*table)) for table in PUBLISHED_TABLES}

    def again(conn, run_id, as_of, target=output):
        return publish(
            conn,
            target,
            PUBLISHED_TABLES,
            run_id=run_id,
            as_of=as_of,
            make_current=True,
            documentation=documentation,
            appended=APPENDED_TABLES,
        )

    def add_snapshot(conn, months: int) -> str:
        conn.execute(
            "insert into marts.account_snapshots select * replace ((as_of_date + to_months($months))::date as "
            "as_of_date) from marts.account_snapshots where as_of_date = (select min(as_of_date) from "
            "marts.account_snapshots)",
            {"months": months},
        )
        return conn.sql("select max(as_of_date)::varchar from marts.account_snapshots").fetchall()[0][0]

    def rewrite(conn, date: str, tier: str) -> None:
        """A run of an as-of date again that changed its snapshot (the IO manager's write, which records its digest)."""
        frame = conn.sql(
            "select * replace ($tier as tier) from marts.account_snapshots where as_of_date = $date",
            params={"tier": tier, "date": date},
        ).pl()
        replace_rows(conn, "marts.account_snapshots", frame, "as_of_date")

    with duckdb.connect(str(output / "work" / "warehouse.duckdb")) as conn:
        first_date = conn.sql("select min(as_of_date)::varchar from marts.account_snapshots").fetchall()[0][0]
        new_date = add_snapshot(conn, 1)
        conn.execute("update marts.accounts set account_name = account_name || ' v2'")  # another table changes
        appended = again(conn, "second-run-0000", new_date)
        assert appended.manifest["appended_rows_of"] == {"marts.account_snapshots": [new_date]}
        published_matches_warehouse(conn, appended.path)
        # Parquet: a file per as-of date, the unchanged one linked; the folder reads as the table, in its order
        folder = parquet_location(appended.path, "account_snapshots")
        assert [path.name for path in parquet_files(folder)] == [
            f"account_snapshots_{first_date}.parquet",
            f"account_snapshots_{new_date}.parquet",
        ]
        previous = parquet_location(first, "account_snapshots")
        assert os.path.samefile(folder / f"account_snapshots_{first_date}.parquet", parquet_files(previous)[0])
        in_order = conn.sql("select * from marts.account_snapshots order by as_of_date, account_id").pl()
        assert pl.read_parquet(folder).equals(in_order)
        assert conn.sql(f"select count(*) from '{folder}/*.parquet'").fetchall()[0][0] == in_order.height
        whole = publish(
            conn,
            copy_run_output(first_publication, tmp_path / "whole"),
            PUBLISHED_TABLES,
            run_id="whole-run-0000",
            as_of=new_date,
            make_current=True,
            documentation=documentation,
            appended={},
        )
        assert "appended_rows_of" not in whole.manifest
        size, whole_size = ((p.path / "alms.duckdb").stat().st_size for p in (appended, whole))
        assert size <= whole_size + 2 * 262_144 * 4, (size, whole_size)  # a few blocks of 256 kB at most

        unchanged = again(conn, "third-run-0000", new_date)  # the same rows again: nothing to append
        assert unchanged.manifest["appended_rows_of"] == {"marts.account_snapshots": []}
        published_matches_warehouse(conn, unchanged.path)

        rewrite(conn, first_date, "high")
        changed = again(conn, "fourth-run-0000", new_date)  # a past snapshot changed: built whole
        assert "appended_rows_of" not in changed.manifest
        published_matches_warehouse(conn, changed.path)

        later = add_snapshot(conn, 2)
        assert again(conn, "fifth-run-0000", later).manifest["appended_rows_of"] == {"marts.account_snapshots": [later]}
        backfill = add_snapshot(conn, -1)  # earlier than every published date: built whole
        rebuilt = again(conn, "sixth-run-0000", backfill)
        assert "appended_rows_of" not in rebuilt.manifest
        published_matches_warehouse(conn, rebuilt.path)
        conn.execute("delete from marts.account_snapshots where as_of_date = $date", {"date": later})
        removed = again(conn, "seventh-run-0000", backfill)  # a published date is gone: its rows removed
        assert removed.manifest["removed_rows_of"] == {"marts.account_snapshots": [later]}
        assert removed.manifest["appended_rows_of"] == {"marts.account_snapshots": []}
        published_matches_warehouse(conn, removed.path)

        # a re-run of the latest date that changed its rows (the review loop: label, run the same date again)
        rewrite(conn, new_date, "low")
        rerun = again(conn, "eighth-run-0000", new_date)
        assert (
            rerun.manifest["removed_rows_of"]
            == rerun.manifest["appended_rows_of"]
            == {"marts.account_snapshots": [new_date]}
        )
        published_matches_warehouse(conn, rerun.path)


def test_a_damaged_current_file_is_not_appended_to_but_built_whole(first_publication, tmp_path):
    """The current publication's alms.duckdb cannot be read (damaged on disk): the next publication says so in one
    line and builds every table whole, with the warehouse's rows, instead of failing."""
    output = copy_run_output(first_publication, tmp_path / "output")
    damaged = current_publication(output) / "alms.duckdb"
    damaged.chmod(0o644)
    damaged.write_bytes(b"not a DuckDB file" * 1000)
    told: list[str] = []
    with duckdb.connect(str(output / "work" / "warehouse.duckdb")) as conn:
        made = publish(
            conn,
            output,
            PUBLISHED_TABLES,
            run_id="second-run-0000",
            as_of="2026-10-31",
            make_current=True,
            progress=told.append,
            documentation={table: TableDoc(*table_documentation(*table)) for table in PUBLISHED_TABLES},
        )
        assert "appended_rows_of" not in made.manifest
        published_matches_warehouse(conn, made.path)
    reasons = [line for line in told if "could not be reused" in line]
    assert len(reasons) == 1 and "\n" not in reasons[0], told
