"""Environment errors become one line with the path, the lock holder and the setting."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from assets.rules.causes import first_line, one_line_cause

PLACES = {"ALMS_DATA_DIR": "/data/in", "ALMS_OUTPUT_DIR": "/data/out"}


@pytest.mark.parametrize(
    ("code", "path", "expected"),
    [
        (errno.ELOOP, "/data/in/billing/loop.csv", "/data/in/billing/loop.csv: a symbolic link loop"),
        (errno.EACCES, "/data/in/clients/c.csv", "/data/in/clients/c.csv: permission denied (ALMS_DATA_DIR=/data/in)"),
        (errno.EROFS, "/data/out/work", "/data/out/work: read-only file system (ALMS_OUTPUT_DIR=/data/out)"),
        (errno.ENOSPC, "/data/out/publications/x/alms.duckdb", "alms.duckdb: no space left on device (ALMS_OUTPUT_DIR"),
        (errno.EDQUOT, "/elsewhere/file", "/elsewhere/file: disk quota exceeded"),
    ],
)
def test_os_errors_name_path_reason_and_setting(code, path, expected):
    line = one_line_cause(OSError(code, os.strerror(code), path), PLACES)
    assert expected in line and "\n" not in line


def test_the_cause_is_found_under_wrappers():
    try:
        try:
            Path("/nonexistent-folder/x").read_text()
        except OSError as error:
            raise RuntimeError("Error occurred while executing op raw__clients") from error
    except RuntimeError as wrapped:
        assert one_line_cause(wrapped) == "/nonexistent-folder/x: no such file or directory"


def test_a_real_symlink_loop(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OSError) as caught:
        (tmp_path / "a").stat()
    assert one_line_cause(caught.value, {"ALMS_DATA_DIR": tmp_path}) == (
        f"{tmp_path / 'a'}: a symbolic link loop (too many levels of symbolic links) (ALMS_DATA_DIR={tmp_path})"
    )


def test_polars_os_error_without_errno_attribute():
    assert one_line_cause(OSError("File too large (os error 27)")).startswith("file too large")


def test_duckdb_lock_names_the_holder(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(duckdb.IOException) as caught:
            duckdb.connect(str(path))
    finally:
        holder.kill()
        holder.wait()
    line = one_line_cause(caught.value, {"ALMS_OUTPUT_DIR": tmp_path})
    assert line.startswith(f"{path} is locked by another process (python") and f"pid {holder.pid})" in line
    assert line.endswith(f"(ALMS_OUTPUT_DIR={tmp_path})") and "\n" not in line


def test_duckdb_write_errors_with_nested_json():
    error = duckdb.IOException(
        'IO Error: Async write failed for range [offset=1, size=2]: {"exception_type":"IO","exception_message":'
        '"Could not write file \\"/data/out/p/accounts.parquet\\": No space left on device","errno":"28"}'
    )
    assert one_line_cause(error, PLACES) == (
        "/data/out/p/accounts.parquet: no space left on device (ALMS_OUTPUT_DIR=/data/out)"
    )
    error = duckdb.IOException('IO Error: Could not write file "/data/out/work/warehouse.duckdb": File too large')
    assert one_line_cause(error) == "/data/out/work/warehouse.duckdb: file too large"


def test_other_errors_are_left_to_the_caller():
    assert one_line_cause(ValueError("a rule broke")) is None
    assert one_line_cause(duckdb.ConversionException("Conversion Error: bad")) is None
    assert first_line(duckdb.IOException("IO Error: x\nmore\nSee also https://duckdb.org/x")) == "IO Error: x"
