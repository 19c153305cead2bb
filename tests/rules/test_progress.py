"""Progress lines of long steps (assets/rules/progress.py): on a fake clock, and on a slow DuckDB statement."""

import time

import duckdb
import pytest

from assets.rules.progress import LOG_EVERY, Progress, progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_step_is_heard_from_at_least_every_five_seconds_and_no_more_often():
    clock, lines = FakeClock(), []
    step = Progress("raw.billing_lines", lines.append, clock=clock)
    logged_at = []
    rows = 0
    while clock.now < 160:  # a minute of a loop that writes a batch every 0.3 s and a poll every 0.5 s
        clock.now += 0.3
        rows += 1000
        before = len(lines)
        step.update(f"{rows:,} rows written")  # logs when a line is due
        step.tick()  # what the polling thread does
        if len(lines) > before:
            logged_at.append(clock.now)
    gaps = [b - a for a, b in zip([100.0, *logged_at], logged_at, strict=False)]
    assert len(lines) == len(logged_at) and 11 <= len(lines) <= 12
    assert all(LOG_EVERY <= gap <= LOG_EVERY + 0.3 + 1e-9 for gap in gaps), gaps
    assert lines[0] == "raw.billing_lines: 17,000 rows written (5 s)"
    assert lines[-1].startswith("raw.billing_lines: ") and "rows written (" in lines[-1]


def test_a_short_step_says_nothing_and_a_phase_is_said_at_once():
    clock, lines = FakeClock(), []
    step = Progress("intermediate.int_clients_matched", lines.append, clock=clock)
    clock.now += 4.9
    step.update("matching 6 client records")
    step.tick()
    assert lines == []
    step.say("matcher: blocked: 3 candidate pairs (0.2 s)")
    assert lines == ["intermediate.int_clients_matched: matcher: blocked: 3 candidate pairs (0.2 s)"]
    clock.now += 4.0
    step.tick()  # the phase was said 4 s ago: nothing yet
    assert len(lines) == 1
    clock.now += 1.0
    step.tick()
    assert lines[-1] == (
        "intermediate.int_clients_matched: matcher: blocked: 3 candidate pairs (0.2 s); still running (10 s)"
    )


@pytest.mark.parametrize("value", [-1.0, None])
def test_no_statement_running_gives_no_percentage(value):
    class Connection:
        def query_progress(self):
            return value

    clock, lines = FakeClock(), []
    step = Progress("marts.publication", lines.append, Connection(), clock=clock)
    clock.now += 6
    step.tick()
    assert lines == ["marts.publication: running (6 s)"]


def test_a_slow_query_reports_its_percentage_while_it_runs():
    lines = []
    with duckdb.connect(config={"threads": 1}) as conn:
        started = time.monotonic()
        with progress("staging.slow_model", lines.append, conn, every=0.1, poll=0.02) as step:
            step.update("building the table")
            conn.execute(
                "create table slow as select i % 977 as k, sum(i * random()) over (partition by i % 977 order by i "
                "rows between 50 preceding and current row) as s from range(2500000) as r(i)"
            )
        elapsed = time.monotonic() - started
    with_percent = [line for line in lines if ", SQL " in line]
    # a line is due every 0.1 s: a query of 0.3 s or more (0.4-0.9 s on the 2-core machines measured) has room for several
    assert elapsed > 0.3, f"the query was too quick ({elapsed:.2f} s) to show progress on this machine"
    assert with_percent, lines
    percents = [float(line.split(", SQL ")[1].split("%")[0]) for line in with_percent]
    assert all(0 <= p <= 100 for p in percents)
    assert percents == sorted(percents)  # DuckDB's progress only goes forward
    assert all(line.startswith("staging.slow_model: building the table, SQL ") for line in with_percent)
    assert len(lines) <= elapsed / 0.1 + 1  # never more often than `every`


def test_the_polling_thread_stops_with_the_block():
    import threading

    with progress("marts.accounts", lambda line: None, every=0.1, poll=0.01):
        assert any(t.name == "progress marts.accounts" for t in threading.enumerate())
    assert not any(t.name == "progress marts.accounts" for t in threading.enumerate())
