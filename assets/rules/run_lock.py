"""One run at a time per output folder.

Two runs on one output folder would write the same working warehouse and publish over each other; DuckDB would stop
the second one with a lock error deep inside a step. Instead a run takes `<output>/.alms-run.lock` before it touches
anything, and a second run is refused at once, in one line:

    another run (pid 4242, started at 2026-11-02T06:00:03+00:00) is using /data/alms

The lock is an advisory `flock` on that file, and the file holds the holder's pid, start time and run id for that
message. The operating system drops the lock when its process ends, however it ends (a `kill -9`, a power cut on a
local disk), so a stale lock never blocks: the next run takes it over and says whose it was. The file itself stays
(removing it would let two runs lock two different files).

Within one process the lock is shared: the CLI takes it before it starts the Dagster run, and the run's own resources
take it again; it is released when its last holder lets go. It works on local file systems and NFSv4; on a share
without working locks, run one pipeline per output folder by other means.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

LOCK_FILE = ".alms-run.lock"


class RunLockBusy(RuntimeError):
    """Another process holds the output folder; the message says who."""


@dataclass
class Holding:
    path: Path
    fd: int
    holders: set[str] = field(default_factory=set)
    taken_over: dict | None = None  # the previous holder, when it had died without releasing


_HELD: dict[str, Holding] = {}
_GUARD = threading.Lock()


def lock_path(output_dir: str | os.PathLike) -> Path:
    return Path(output_dir) / LOCK_FILE


def acquire(output_dir: str | os.PathLike, holder: str) -> tuple[Holding, bool]:
    """Take the output folder for `holder` (a run id, or "cli"). Returns the holding and whether this call took the
    lock (False: this process already held it). Raises RunLockBusy when another process holds it, OSError when the
    folder cannot be written."""
    output_dir = Path(output_dir)
    key = os.path.realpath(output_dir)
    with _GUARD:
        held = _HELD.get(key)
        if held is not None:
            held.holders.add(holder)
            return held, False
        output_dir.mkdir(parents=True, exist_ok=True)
        path = lock_path(output_dir)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read(fd)
            for _ in range(20):  # the holder may have locked the file a moment ago and not written it yet
                if owner:
                    break
                time.sleep(0.05)
                owner = _read(fd)
            os.close(fd)
            raise RunLockBusy(
                f"another run (pid {owner.get('pid', '?')}, started at {owner.get('started_at', '?')}) is using "
                f"{output_dir}; wait for it to finish, or point ALMS_OUTPUT_DIR elsewhere"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        previous = _read(fd)
        record = {
            "pid": os.getpid(),
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "run": holder,
            "host": socket.gethostname(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        os.fsync(fd)
        taken_over = previous if previous.get("pid") not in (None, os.getpid()) else None
        held = Holding(path=path, fd=fd, holders={holder}, taken_over=taken_over)
        _HELD[key] = held
        return held, True


def release(output_dir: str | os.PathLike, holder: str) -> None:
    """Let go for `holder`; the lock is released when no holder in this process is left."""
    key = os.path.realpath(output_dir)
    with _GUARD:
        held = _HELD.get(key)
        if held is None:
            return
        held.holders.discard(holder)
        if held.holders:
            return
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.ftruncate(held.fd, 0)  # released cleanly: nobody to report as a stale holder
        os.close(held.fd)  # closing the descriptor drops the flock


@contextlib.contextmanager
def holding(output_dir: str | os.PathLike, holder: str) -> Iterator[tuple[Holding, bool]]:
    taken = acquire(output_dir, holder)
    try:
        yield taken
    finally:
        release(output_dir, holder)


def describe_takeover(previous: dict) -> str:
    return (
        f"took over the run lock of pid {previous.get('pid')} (started at {previous.get('started_at')}, run "
        f"{previous.get('run')}), which ended without releasing it"
    )


def _read(fd: int) -> dict:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {}
