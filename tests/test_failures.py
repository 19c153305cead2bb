"""Every failure caused by the environment says its cause in one line (the same line the Dagster UI shows as the
step's failure), and leaves the current publication as it was."""

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from conftest import downstream_of, run_in_memory

from assets.resources import REPO_ROOT
from assets.rules.publish import BUILDING, PUBLICATIONS, current_publication
from pipelines.commands.cli import run_pipeline


def failed_run(recorded: bool = False, selection=None) -> list[str]:
    """A run that must fail, on an in-memory Dagster instance unless `recorded` (in DAGSTER_HOME, for its events);
    `selection`: only those steps (see conftest.run_in_memory)."""
    if recorded:
        success, errors = run_pipeline(quiet=True, log_level="CRITICAL")
    else:
        success, errors = run_in_memory(selection=selection)
    assert not success
    assert errors and all("\n" not in error for error in errors), errors
    return errors


def test_a_symlink_loop_in_the_input_folder(pipeline_env, inputs_dir):
    loop = inputs_dir / "billing" / "loop.csv"
    loop.symlink_to(loop)
    (error,) = failed_run()
    assert "billing/loop.csv: cannot be read: Too many levels of symbolic links (ELOOP)" in error, error
    assert f"(a symbolic link to {loop})" in error and "Error occurred while executing" not in error


def test_an_unreadable_input_file(pipeline_env, inputs_dir):
    broken = inputs_dir / "clients" / "gone.csv"
    broken.symlink_to(inputs_dir / "clients" / "moved-away.csv")
    (error,) = failed_run()
    assert "clients/gone.csv: cannot be read: No such file or directory (ENOENT)" in error, error


def test_a_bi_tool_holding_the_working_warehouse(published_env):
    pipeline_env = published_env
    warehouse = Path(pipeline_env["ALMS_OUTPUT_DIR"]) / "work" / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); print('ok', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        errors = failed_run()
    finally:
        holder.kill()
        holder.wait()
    assert len(errors) == 1, errors
    assert f"{warehouse} is locked by another process (python" in errors[0] and f"pid {holder.pid})" in errors[0]


def test_the_published_file_left_open_for_writing(published_env):
    pipeline_env = published_env
    output = Path(pipeline_env["ALMS_OUTPUT_DIR"])
    before = current_publication(output)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(output / 'alms.duckdb')!r}); "
            "c.execute('create table main.scratch (a int)'); print('ok', flush=True); time.sleep(120)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "ok"
        (error,) = failed_run(selection=downstream_of("marts/publication"))  # after published_env: the last step
    finally:
        writer.kill()
        writer.wait()
    assert error.startswith("step marts__publication failed: ") and "alms.duckdb.wal exists" in error, error
    assert f"pid {writer.pid})" in error and "connect read-only" in error
    assert current_publication(output) == before


def test_a_full_disk_while_publishing(published_env, monkeypatch):
    pipeline_env = published_env
    output = Path(pipeline_env["ALMS_OUTPUT_DIR"])
    before = current_publication(output)
    import assets.rules.publish

    def disk_full(folder):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "parquet" / "accounts.parquet"))

    monkeypatch.setattr(assets.rules.publish, "_seal", disk_full)
    (error,) = failed_run(selection=downstream_of("marts/publication"))  # after published_env: the last step
    assert error.startswith("step marts__publication failed: ") and "accounts.parquet: no space left on device" in error
    assert error.endswith(f"(ALMS_OUTPUT_DIR={output})"), error
    assert current_publication(output) == before
    assert not [p for p in (output / PUBLICATIONS).iterdir() if p.name.startswith(BUILDING)]


def test_an_output_folder_that_is_a_file(pipeline_env, tmp_path, monkeypatch):
    not_a_folder = tmp_path / "output-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("ALMS_OUTPUT_DIR", str(not_a_folder))
    errors = failed_run()
    assert len(errors) == 1 and f"{not_a_folder}" in errors[0], errors
    cli = subprocess.run(
        [sys.executable, "-m", "pipelines.commands", "run"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 1
    assert cli.stderr.strip().splitlines() == [
        f"alms: cannot use the output folder: {not_a_folder}: already exists "
        f"and is not a folder (ALMS_OUTPUT_DIR={not_a_folder})"
    ]


def test_the_ui_shows_the_same_line(pipeline_env, inputs_dir):
    """The step failure Dagster records (what the UI shows) carries the one-line cause as its message."""
    loop = inputs_dir / "billing" / "loop.csv"
    loop.symlink_to(loop)
    failed_run(recorded=True)
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(limit=1)
        failures = [e for e in instance.all_logs(run.run_id) if e.dagster_event and e.dagster_event.is_step_failure]
    assert failures
    data = failures[0].dagster_event.step_failure_data
    cause = "billing/loop.csv: cannot be read: Too many levels of symbolic links (ELOOP)"
    assert data.user_failure_data is not None and cause in data.user_failure_data.description
    # the error the run view shows: the Failure with the one-line cause, not "Error occurred while executing op ..."
    assert data.error.message.startswith("dagster._core.definitions.events.Failure: ")
    assert cause in data.error.message and data.error.cause is None


@pytest.mark.parametrize("variable", ["ALMS_KEEP_PUBLICATIONS", "ALMS_PUBLISH_BACKFILL"])
def test_publication_settings_are_checked(variable, monkeypatch):
    from assets.resources import SettingsError, settings_from_env

    monkeypatch.setenv(variable, "0" if variable == "ALMS_KEEP_PUBLICATIONS" else "maybe")
    with pytest.raises(SettingsError, match=variable):
        settings_from_env()


NAMESPACE_SCRIPT = r"""
set -u
out="$1"; report="$2"
mount -t tmpfs -o size=40m tmpfs "$out"
python="$3"
cp -a "$4"/. "$out"/  # the output folder after a first successful run
readlink "$out/current" > "$report/current1"
mount -o remount,ro "$out"
"$python" -m pipelines.commands run > "$report/readonly.out" 2> "$report/readonly.err"; echo $? > "$report/readonly.rc"
mount -o remount,rw "$out"
available=$(df -k --output=avail "$out" | tail -1)
fallocate -l $(( (available - 64) * 1024 )) "$out/filler"
"$python" -m pipelines.commands run > "$report/full.out" 2> "$report/full.err"; echo $? > "$report/full.rc"
readlink "$out/current" > "$report/current2"
ls -a "$out/publications" > "$report/publications"
"""


def can_mount_in_a_namespace(tmp_path) -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("fallocate"):
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    command = ["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs {probe}"]
    return subprocess.run(command, capture_output=True).returncode == 0


@pytest.mark.slow
def test_a_read_only_and_a_full_output_folder_for_real(published_env, tmp_path):
    """The output folder (after a first successful run) on a 40 MB tmpfs in a private mount namespace (root only;
    skipped elsewhere): remounted read-only, then filled up. Each run fails with one line naming the folder, and the
    publication stays."""
    if not can_mount_in_a_namespace(tmp_path):
        pytest.skip("needs root and mount namespaces (unshare -m) for a real read-only / full file system")
    output, report, first = Path(published_env["ALMS_OUTPUT_DIR"]), tmp_path / "report", tmp_path / "first"
    output.rename(first)
    output.mkdir()
    report.mkdir()
    subprocess.run(
        [
            "unshare",
            "-m",
            "bash",
            "-c",
            NAMESPACE_SCRIPT,
            "script",
            str(output),
            str(report),
            sys.executable,
            str(first),
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        check=True,
        timeout=900,
    )
    read = lambda name: (report / name).read_text().strip()  # noqa: E731
    assert read("current1").startswith("publications/")
    assert read("readonly.rc") == "1"
    assert read("readonly.err").splitlines()[-1] == (
        f"alms: cannot use the output folder: {output}/.alms-run.lock: read-only file system (ALMS_OUTPUT_DIR={output})"
    )
    assert read("full.rc") == "1"
    causes = [line for line in read("full.err").splitlines() if line.startswith("  - ")]
    assert len(causes) == 1 and "no space left on device" in causes[0], read("full.err")
    assert causes[0].endswith(f"(ALMS_OUTPUT_DIR={output})") and "Error occurred" not in causes[0]
    assert read("current2") == read("current1")  # the publication readers see did not move
    assert not [name for name in read("publications").split() if name.startswith(BUILDING)]
