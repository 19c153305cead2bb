"""`make benchmark`: the reference implementation of the core job on a hand-made input, and the table it prints."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from pipelines.commands import benchmark, reference_core
from tests.conftest import BILLING_COLUMNS, CLIENT_COLUMNS, client, line, write_csv

AS_OF = dt.date(2026, 10, 31)  # window 2025-11-01 .. 2026-10-31


def hand_made_inputs(data_dir: Path) -> Path:
    """Five accounts; every trap below, if fallen into, moves the key level away from 1,200.00.

    Acme = a:A1 + b:B1 (same name once legal forms and punctuation go): 1,000.00 USD + 500.00 EUR at 1.1 = 1,550.00.
    Bolt: 1,200.00 (its line sent twice counts once). Cedar: 300.00 (5,000.00 before the window and 999.00 in a
    currency without a rate do not count). a:A4 and b:B2 have no name: two accounts, 100.00 and 50.00.
    n = 5 positive billers, k = ceil(0.25 x 5) = 2, the key level is the second billing: Bolt's 1,200.00.
    """
    write_csv(
        data_dir / "clients" / "a.csv",
        CLIENT_COLUMNS,
        [
            client("a", "A1", "Acme Inc"),
            client("a", "A2", "Bolt LLC"),
            client("a", "A3", "Cedar"),
            client("a", "A4", ""),
        ],
    )
    write_csv(data_dir / "clients" / "b.csv", CLIENT_COLUMNS, [client("b", "B1", "ACME, inc."), client("b", "B2", "")])
    write_csv(
        data_dir / "billing" / "a_2026-03.csv",
        BILLING_COLUMNS,
        [
            line("a", "I1", 1, "A1", "2026-03-10", "1000.00"),
            line("a", "I2", 1, "A2", "2026-03-11", "1200.00"),
            line("a", "I2", 1, "A2", "2026-03-11", "1200.00"),
            line("a", "I3", 1, "A3", "2026-05-02", "300.00"),
            line("a", "I4", 1, "A3", "2025-10-31", "5000.00"),
            line("a", "I5", 1, "A3", "2026-05-02", "999.00", "GBP"),
            line("a", "I6", 1, "A4", "2026-06-01", "100.00"),
            line("a", "I7", 1, "A4", "2026-06-01", "n/a"),
        ],
    )
    write_csv(
        data_dir / "billing" / "b_2026-03.csv",
        BILLING_COLUMNS,
        [line("b", "J1", 1, "B1", "2026-03-15", "500.00", "EUR"), line("b", "J2", 1, "B2", "2026-04-01", "50.00")],
    )
    write_csv(data_dir / "fx_rates.csv", ["currency", "month", "rate_to_reporting"], [["EUR", "2026-03", "1.1"]])
    return data_dir


def test_reference_core_job_key_level(tmp_path):
    data_dir = hand_made_inputs(tmp_path / "data")
    result = reference_core.run(data_dir, tmp_path / "out", AS_OF)
    assert result == {"as_of": "2026-10-31", "accounts": 5, "key_accounts": 2, "key_level": 1200.0}
    billing = dict(
        duckdb.sql(f"select account_id, billing_cents from '{tmp_path / 'out' / 'accounts.parquet'}'").fetchall()
    )
    assert billing == {"a:A1": 155_000, "a:A2": 120_000, "a:A3": 30_000, "a:A4": 10_000, "b:B2": 5_000}
    assert (tmp_path / "out" / "reference.duckdb").exists()


def fake_report(elapsed: float) -> dict:
    return {
        "success": True,
        "wall_seconds": elapsed - 1,
        "steps": {"raw__billing_lines": elapsed / 2, "marts__publication": elapsed / 4},
        "steps_cpu": {"raw__billing_lines": elapsed / 3, "marts__publication": elapsed / 5},
        "peak_rss_mb_by_step": {"raw__billing_lines": 400.0, "marts__publication": 512.0},
        "rows": {"raw/billing_lines": 9, "raw/clients": 6, "raw/engagement_events": 0, "marts/accounts": 5},
        "peak_rss_mb": 512.0,
        "elapsed": elapsed,
        "cpu": elapsed * 1.5,
    }


@pytest.fixture
def fake_runs(monkeypatch, tmp_path):
    """The pipeline runs replaced by canned reports (the pipeline has its own tests); generation writes the hand-made
    input; the reference implementation runs for real on it."""
    calls = []

    def generate(data_dir, clients, file_format, span, end_month, env, history_months=0):
        calls.append(("generate", span, end_month, history_months, data_dir.name))
        hand_made_inputs(data_dir)

    def run_alms(data_dir, output_dir, env, month="", as_of=""):
        calls.append(("run", month, as_of))
        return fake_report(40.0 if not month else 10.0 + len(calls))

    monkeypatch.setattr(benchmark, "_generate", generate)
    monkeypatch.setattr(benchmark, "_run_alms", run_alms)
    return calls


def test_benchmark_prints_its_table(fake_runs, tmp_path, capsys):
    assert benchmark.main(["--clients", "6", "--work-dir", str(tmp_path / "work")]) == 0
    out = capsys.readouterr().out
    assert fake_runs == [
        ("generate", 14, "2026-11", 0, "data-6-parquet-14m-2026-10"),
        ("run", "", "2026-10-31"),
        ("run", "2026-10", "2026-10-31"),
    ]
    assert "raw__billing_lines" in out and "peak memory (RSS of the run process): 512 MB" in out
    summary = dict(
        (line[:44].strip(), line[44:].strip()) for line in out.split("\nsummary")[1].splitlines()[1:] if line.strip()
    )
    assert summary["alms full refresh, end to end"] == "40.0 s (CPU 60.0 s)"
    assert summary["monthly run / full refresh"] == "0.33 (CPU 0.33)"  # 13 s / 40 s
    assert f"{'raw__billing_lines':60} {20.0:8.2f} {40 / 3:8.2f}" in out  # wall and CPU seconds of the step
    assert "steps that raised it: raw__billing_lines 400 MB, marts__publication 512 MB" in out
    assert float(summary["alms full refresh / reference"].split()[0]) > 0
    assert "key level 1,200.00" in out


def test_benchmark_consecutive_months(fake_runs, tmp_path, capsys):
    work = ["--clients", "6", "--work-dir", str(tmp_path / "work"), "--no-reference"]
    assert benchmark.main([*work, "--months", "3", "--end-month", "2027-01", "--history-months", "24"]) == 0
    out = capsys.readouterr().out
    assert fake_runs == [
        ("generate", 16, "2027-02", 24, "data-6-parquet-16m-h24-2027-01"),  # the same months, two years more before
        ("run", "", "2026-11-30"),
        ("run", "2026-12", "2026-12-31"),
        ("run", "2027-01", "2027-01-31"),
    ]
    assert "last / first monthly run" in out and "reference" not in out.split("summary")[1]


def test_the_runs_partition_ranges(tmp_path):
    """The child's tags (run_once): the monthly run reads only its month; the full refresh every month from the first
    month a file names. The fake runs above skip run_once, so this is what keeps its tags honest."""
    from pipelines.automation import RANGE_END, RANGE_START

    data = tmp_path / "data"
    write_csv(data / "clients" / "nat.csv", CLIENT_COLUMNS, [client("nat", "N1", "Acme")])
    for month in ("2026-08", "2026-09", "2026-10"):
        write_csv(
            data / "billing" / f"nat_{month}.csv", BILLING_COLUMNS, [line("nat", month, 1, "N1", f"{month}-15", "1")]
        )
    monthly = benchmark.run_tags(data, "2026-10")
    assert (monthly[RANGE_START], monthly[RANGE_END]) == ("2026-10", "2026-10")
    full = benchmark.run_tags(data)
    assert full[RANGE_START] == "2026-08" and full[RANGE_END] >= "2026-10"


def test_a_killed_run_says_why_and_the_runs_before_it_are_summed_up(fake_runs, monkeypatch, tmp_path, capsys):
    """The twelfth monthly run at 1M client records was killed by the kernel's out-of-memory killer (2026-12-01):
    the benchmark says so in one line and still prints what the runs before it measured."""
    assert "SIGKILL" in benchmark.failure_cause(-9) and "out-of-memory" in benchmark.failure_cause(-9)
    assert benchmark.failure_cause(-15) == "killed by SIGTERM"
    assert benchmark.failure_cause(2) == "exited with status 2"
    ran = benchmark._run_alms

    def run_alms(data_dir, output_dir, env, month="", as_of=""):
        if month == "2027-01":
            raise benchmark.ChildFailed("--child /data " + benchmark.failure_cause(-9) + " after 200 s", "a log line")
        return ran(data_dir, output_dir, env, month, as_of)

    monkeypatch.setattr(benchmark, "_run_alms", run_alms)
    work = ["--clients", "6", "--work-dir", str(tmp_path / "work"), "--no-reference"]
    assert benchmark.main([*work, "--months", "3", "--end-month", "2027-01"]) == 1
    captured = capsys.readouterr()
    summary = captured.out.split("\nsummary")[1]
    assert "monthly run as of 2027-01-31" in summary and "FAILED (1 before it measured)" in summary
    assert "1 monthly runs after it: first" in summary  # the December run, measured
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("benchmark: monthly run as of 2027-01-31: --child /data killed by SIGKILL")
    assert "a log line" in captured.err


def test_a_failed_full_refresh_is_one_line_not_a_traceback(fake_runs, monkeypatch, tmp_path, capsys):
    def run_alms(data_dir, output_dir, env, month="", as_of=""):
        raise benchmark.ChildFailed("--child /data exited with status 1 after 3 s", "Traceback ...\nValueError: x")

    monkeypatch.setattr(benchmark, "_run_alms", run_alms)
    assert benchmark.main(["--clients", "6", "--work-dir", str(tmp_path / "work"), "--no-reference"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "benchmark: --child /data exited with status 1 after 3 s"
