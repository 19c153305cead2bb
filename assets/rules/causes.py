"""Failures in one line: the root cause of an operating-system, file or database error, as an operator reads it.

A run that fails because of its environment (a symlink loop in the input folder, an unreadable file, a read-only or
full output folder, a file another process holds) must say so in one line, with the path and, when the path belongs
to a setting, the setting's name: `billing/loop.csv: a symbolic link loop (ALMS_DATA_DIR=/data/in)`. The same line
is the failure message in the Dagster UI and in `make run`'s output.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Mapping
from pathlib import Path

import duckdb

_ERRNO_TEXT = {
    errno.ELOOP: "a symbolic link loop (too many levels of symbolic links)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (a file size limit of this process or file system)",
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "a path component is not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.EIO: "input/output error (the disk or network share failed)",
    errno.EMFILE: "too many open files in this process",
    errno.ENAMETOOLONG: "file name too long",
    errno.EEXIST: "already exists and is not a folder",
}
_DUCKDB_LOCK = re.compile(
    r'Could not set lock on file "(?P<path>[^"]+)": Conflicting lock is held in (?P<program>.+?)'
    r" \(PID (?P<pid>\d+)\)"
)
_DUCKDB_FILE = re.compile(
    r"(?:Cannot open|Could not (?:write|read|open|truncate|sync|create)[a-z ]*) (?:file|directory)"
    r' "(?P<path>[^"]+)": (?P<reason>[^."\n]+)'
)
_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")
_NOISE = re.compile(r"^(IO|Out of Memory|Permission|Invalid Input|Catalog|Binder) Error: ")


def one_line_cause(error: BaseException, places: Mapping[str, str | os.PathLike] | None = None) -> str | None:
    """The cause of `error` in one line, or None when it is not an environment error this module knows (the caller
    keeps its own message then). `places`: setting name -> folder, to name the setting a failing path is under."""
    for link in _chain(error):
        if isinstance(link, OSError):
            return _os_error(link, places)
        if isinstance(link, duckdb.Error):
            line = _duckdb_error(link, places)
            if line is not None:
                return line
    return None


def first_line(error: BaseException) -> str:
    """The first non-empty line of an error's message, without DuckDB's 'See also <url>' tail."""
    text = str(error).strip() or type(error).__name__
    line = next((part.strip() for part in text.splitlines() if part.strip()), text)
    return re.sub(r"\s*See also https?://\S+", "", line).strip()


def _chain(error: BaseException):
    seen = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def _os_error(error: OSError, places) -> str:
    code = error.errno
    if code is None and (rust := _RUST_OS_ERROR.search(str(error))):  # polars: "File too large (os error 27)"
        code = int(rust[1])
    reason = _ERRNO_TEXT.get(code) or (error.strerror or first_line(error)).lower()
    paths = [p for p in (error.filename, error.filename2) if p is not None]
    where = " -> ".join(str(p) for p in paths)
    line = f"{where}: {reason}" if where else reason
    return line + _setting_of(paths[0] if paths else None, places)


def _duckdb_error(error: duckdb.Error, places) -> str | None:
    text = str(error).replace('\\"', '"')  # an async write error nests its message as JSON
    lock = _DUCKDB_LOCK.search(text)
    if lock:
        return (
            f"{lock['path']} is locked by another process ({Path(lock['program']).name}, pid {lock['pid']}): close "
            "that program's connection; only the pipeline may open its working file, BI tools read alms.duckdb "
            "read-only" + _setting_of(lock["path"], places)
        )
    found = _DUCKDB_FILE.search(text)
    if found:
        reason = found["reason"].strip().rstrip(".").lower()
        return f"{found['path']}: {reason}" + _setting_of(found["path"], places)
    if isinstance(error, duckdb.OutOfMemoryException):
        return f"DuckDB ran out of memory ({_NOISE.sub('', first_line(error))}); raise ALMS_DUCKDB_MEMORY_LIMIT"
    if isinstance(error, duckdb.IOException):
        return _NOISE.sub("", first_line(error))
    return None


def _setting_of(path, places) -> str:
    if path is None or not places:
        return ""
    resolved = Path(os.path.abspath(path))
    for setting, folder in places.items():
        folder = Path(os.path.abspath(folder))
        if resolved == folder or folder in resolved.parents:
            return f" ({setting}={folder})"
    return ""


def innermost_error_line(error) -> str:
    """The first line of the innermost cause of a serialized error (Dagster's `SerializableErrorInfo`, read by its
    attributes: what Dagster wraps as 'Error occurred while executing op ...'), with its type."""
    if error is None:
        return "unknown error"
    while getattr(error, "cause", None) is not None:
        error = error.cause
    text = (error.message or "").strip()
    first = next((line for line in text.splitlines() if line.strip()), error.cls_name or "error").strip()
    name = error.cls_name or ""
    return first if first.startswith(name) or ": " in first[:60] else f"{name}: {first}"
