"""Shared test helpers: tiny input folders written from Python rows, and a pipeline runner into tmp folders."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from assets.rules.inputs import BILLING, CLIENTS, ENGAGEMENT

CLIENT_COLUMNS = list(CLIENTS.columns)
BILLING_COLUMNS = list(BILLING.columns)
ENGAGEMENT_COLUMNS = list(ENGAGEMENT.columns)


def write_csv(path: Path, columns: list[str], rows: list[dict | list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns] if isinstance(row, dict) else row)
    return path


def client(system: str, client_id: str, name: str, **fields) -> dict:
    return {"source_system": system, "source_client_id": client_id, "name": name, **fields}


def line(system: str, invoice: str, number: int, client_id: str, date: str, amount: str, currency: str = "USD") -> dict:
    return {
        "source_system": system,
        "invoice_id": invoice,
        "line_number": str(number),
        "source_client_id": client_id,
        "invoice_date": date,
        "amount": amount,
        "currency": currency,
    }


SMALL_INPUT_GAPS = "nat:2015-01..,loc:2015-01.."


def small_inputs(data_dir: Path) -> Path:
    """Six client records of four organisations in two systems, a dozen billing lines in two currencies.

    nat:N1 and loc:L1 are one organisation (same name key and domain); loc:L9 shares Acme's address and phone but has
    another name, so it stays apart. Window: 2025-11-01 .. 2026-10-31 (the latest invoice is mid-November 2026).
    """
    write_csv(
        data_dir / "clients" / "nat.csv",
        CLIENT_COLUMNS,
        [
            client(
                "nat",
                "N1",
                "Acme Holdings, Inc.",
                domain="acme.com",
                phone="415-555-0100",
                postal_code="94105",
                owner_id="S1",
                segment="national",
                employee_count="500",
            ),
            client("nat", "N2", "Globex Corporation", domain="globex.com", owner_id="S2", segment="national"),
            client("nat", "N3", "Initech LLC", owner_id="S1", segment="national"),
        ],
    )
    write_csv(
        data_dir / "clients" / "loc.csv",
        CLIENT_COLUMNS,
        [
            client(
                "loc",
                "L1",
                "ACME HOLDINGS",
                domain="www.acme.com",
                phone="(415) 555-0100",
                owner_id="S2",
                segment="local",
            ),
            client("loc", "L2", "Umbrella Ltd", owner_id="S2", segment="local"),
            client("loc", "L9", "Acme Holdings West", phone="415 555 0100", postal_code="94105", segment="local"),
        ],
    )
    write_csv(
        data_dir / "billing" / "nat.csv",
        BILLING_COLUMNS,
        [
            line("nat", "I1", 1, "N1", "2026-01-15", "1000.00"),
            line("nat", "I1", 2, "N1", "2026-01-15", "500.00"),
            line("nat", "I2", 1, "N2", "2026-03-01", "800.00"),
            line("nat", "I3", 1, "N3", "2026-05-01", "300.00"),
            line("nat", "I4", 1, "N3", "2026-06-01", "-350.00"),
            line("nat", "I5", 1, "N1", "2024-06-01", "99999.00"),
            line("nat", "I6", 1, "N2", "2026-11-12", "50.00"),
        ],
    )
    write_csv(
        data_dir / "billing" / "loc.csv",
        BILLING_COLUMNS,
        [
            line("loc", "A1", 1, "L1", "2026-02-01", "200.00", "CAD"),
            line("loc", "A2", 1, "L2", "2026-02-01", "100.00", "CAD"),
            line("loc", "A3", 1, "L9", "2026-04-30", "400.00"),
        ],
    )
    write_csv(
        data_dir / "sellers.csv",
        ["owner_id", "seller_name", "team"],
        [
            ["S1", "Sam Seller", "East"],
            ["S2", "Alex Account", "West"],
        ],
    )
    write_csv(
        data_dir / "fx_rates.csv",
        ["currency", "month", "rate_to_reporting"],
        [
            ["CAD", "2026-02", "0.75"],
        ],
    )
    write_csv(
        data_dir / "engagement" / "events.csv",
        ENGAGEMENT_COLUMNS,
        [
            ["nat", "N1", "2026-02-01", "meeting", "2"],
            ["loc", "L2", "2026-03-01", "email", ""],
        ],
    )
    return data_dir


@pytest.fixture
def inputs_dir(tmp_path: Path) -> Path:
    return small_inputs(tmp_path / "inputs")


@pytest.fixture
def pipeline_env(tmp_path: Path, inputs_dir: Path, monkeypatch) -> dict:
    """Environment for a pipeline run into tmp folders, with its own Dagster instance home."""
    env = {
        "ALMS_DATA_DIR": str(inputs_dir),
        "ALMS_OUTPUT_DIR": str(tmp_path / "output"),
        # the small inputs bill in a few months only: every month without billing is a gap, accepted here on purpose
        # (tests/test_bad_inputs_pipeline.py runs without it and sees the run stop)
        "ALMS_ACCEPT_GAPS": SMALL_INPUT_GAPS,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return env
