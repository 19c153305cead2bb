"""The pictures (assets/rules/pictures.py): what they are drawn from, on frames of a few rows, and that they are
PNGs of the intended size embedded as data URIs."""

import base64
import datetime as dt
import struct

import duckdb
import polars as pl
import pytest

from assets.rules import pictures


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


def test_the_pareto_curve_is_the_cumulative_share_of_positive_billing_largest_first():
    points = pictures.pareto_points(pl.Series([20.0, 50.0, -5.0, 0.0, 30.0]))
    assert points["account_share"].to_list() == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert points["billing_share"].to_list() == pytest.approx([0, 0.5, 0.8, 1.0])  # 50, 50+30, 50+30+20 of 100
    assert pictures.pareto_points(pl.Series([0.0, -1.0])).height == 1  # nothing bills: the origin only


def test_pictures_are_pngs_of_800_by_450():
    billing = pl.Series([float(1000 // (i + 1)) for i in range(500)])
    assert png_size(pictures.pareto_png(billing, 125, 8.0, "USD")) == (800, 450)
    assert png_size(pictures.pareto_png(pl.Series([0.0]), 0, None, "USD")) == (800, 450)  # nothing to cut
    mix = pictures.tier_mix(
        pl.DataFrame({"row_type": ["account"], "owner_id": ["S1"], "seller_name": ["Sam"], "tier": ["high"]})
    )
    assert png_size(pictures.tier_mix_png(mix)) == (800, 450)


def test_a_picture_of_the_same_data_is_drawn_once(monkeypatch):
    """The assets draw each picture and the publication's report draws it again from the published tables: the second
    is the first PNG. Other data or other labels draw anew."""
    drawn = []
    monkeypatch.setattr(pictures, "_png", lambda figure: drawn.append(figure) or b"png %d" % len(drawn))
    monkeypatch.setattr(pictures, "_LAST_DRAWN", {})
    billing = pl.Series([30.0, 10.0, 20.0])
    first = pictures.pareto_png(billing, 1, 30.0, "USD")
    assert pictures.pareto_png(billing.reverse(), 1, 30.0, "USD") == first and len(drawn) == 1  # order: same curve
    assert pictures.pareto_png(billing, 1, 30.0, "EUR") != first and len(drawn) == 2  # another label
    assert pictures.pareto_png(billing * 2, 1, 60.0, "EUR") and len(drawn) == 3  # other data
    assert pictures.pareto_png(billing * 2, 1, 60.0, "EUR") and len(drawn) == 3


def test_tier_mix_counts_each_sellers_accounts_by_tier_and_folds_the_long_tail():
    lists = pl.DataFrame(
        {
            "row_type": ["account", "account", "account", "account", "lead"],
            "owner_id": ["S1", "S1", "S2", None, "S1"],
            "seller_name": ["Sam", "Sam", "Alex", "(unassigned)", "Sam"],
            "tier": ["high", "low", "medium", None, "high"],
        }
    )
    mix = pictures.tier_mix(lists)
    assert mix.rows(named=True) == [
        {"seller": "Sam", "high": 1, "medium": 0, "low": 1, "none": 0, "accounts": 2},
        {"seller": "Alex", "high": 0, "medium": 1, "low": 0, "none": 0, "accounts": 1},
        {"seller": "(unassigned)", "high": 0, "medium": 0, "low": 0, "none": 1, "accounts": 1},
    ]  # the lead is not an account
    many = pl.DataFrame(
        {
            "row_type": ["account"] * 40,
            "owner_id": [f"S{i:02}" for i in range(40)],
            "seller_name": [f"Seller {i:02}" for i in range(40)],
            "tier": ["low"] * 40,
        }
    )
    folded = pictures.tier_mix(many)
    assert folded.height == pictures.MAX_SELLERS and folded["seller"][-1] == "(16 other sellers)"
    assert folded["accounts"].sum() == 40


def warehouse(as_of: dt.date, reviewed_on: dt.date, snapshot: bool = True) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("create schema marts")
    conn.execute(
        "create table marts.key_levels as select 100.00::decimal(18,2) as key_level, ?::date as as_of_date, "
        "true as is_current",
        [reviewed_on],
    )
    conn.execute(
        "create table marts.accounts (account_id varchar, account_name varchar, billing_12m decimal(18,2), "
        "is_key_account boolean, as_of_date date, reporting_currency varchar)"
    )
    conn.executemany(
        "insert into marts.accounts values (?, ?, ?, ?, ?, 'USD')",
        [
            ["A", "Up Inc", 150, True, as_of],  # 80 at the review: crossed up
            ["B", "Down Ltd", 60, False, as_of],  # 120 at the review: crossed down
            ["C", "Still Key", 300, True, as_of],  # key then and now
            ["D", "Still Small", 10, False, as_of],
            ["E", "New Co", 500, True, as_of],  # not there at the review: up
        ],
    )
    conn.execute(
        "create table marts.account_snapshots (as_of_date date, account_id varchar, billing_12m decimal(18,2), "
        "is_key_account boolean)"
    )
    if snapshot:
        conn.executemany(
            "insert into marts.account_snapshots values (?, ?, ?, ?)",
            [
                [reviewed_on, "A", 80, False],
                [reviewed_on, "B", 120, True],
                [reviewed_on, "C", 280, True],
                [reviewed_on, "D", 12, False],
                [dt.date(2025, 1, 31), "A", 500, True],
            ],
        )
    return conn


def test_crossings_are_the_accounts_on_the_other_side_of_the_frozen_level_than_at_the_review():
    conn = warehouse(dt.date(2026, 10, 31), dt.date(2026, 6, 30))
    crossed = pictures.crossings_data(conn)
    assert sorted(crossed.select("account_id", "was_key", "is_key").rows()) == [
        ("A", False, True),
        ("B", True, False),
        ("E", False, True),
    ]
    assert crossed["account_id"][0] == "E"  # the largest move first
    png, caption = pictures.crossings_from(conn)
    assert png_size(png) == (800, 450) and "2026-06-30" in caption


def test_no_crossings_on_the_review_run_itself_and_none_without_the_reviews_snapshot():
    assert pictures.crossings_data(warehouse(dt.date(2026, 6, 30), dt.date(2026, 6, 30))).height == 0
    assert pictures.crossings_data(warehouse(dt.date(2026, 10, 31), dt.date(2026, 6, 30), snapshot=False)) is None
    assert pictures.crossings_data(duckdb.connect()) is None  # no marts yet


def test_embedded_images_are_the_png_itself():
    png = pictures.pareto_png(pl.Series([3.0, 2.0, 1.0]), 1, 3.0, "EUR")
    markdown = pictures.markdown_image(png, "Billing concentration")
    assert markdown.startswith("![Billing concentration](data:image/png;base64,")
    assert base64.b64decode(markdown.split(",", 1)[1].rstrip(")")) == png
    figure = pictures.html_figure(png, 'a "quoted" <alt>', "caption & more")
    assert 'alt="a &quot;quoted&quot; &lt;alt&gt;"' in figure and "caption &amp; more" in figure
