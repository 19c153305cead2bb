"""Each comparison level of the probabilistic matcher, and the keys it prepares, on one pair at a time."""

import duckdb
import polars as pl
import pytest

from assets.logic.inputs import CLIENTS
from assets.logic.resolution import NAME_LEVELS, ResolutionSettings, compare_pairs, prepare_records


def compare(left: dict, right: dict, common: set[str] | None = None) -> dict:
    rows = [{c: r.get(c) for c in CLIENTS.columns} for r in (left, right)]
    rows[0].update(source_system="a", source_client_id="1")
    rows[1].update(source_system="b", source_client_id="2")
    prepared, found_common = prepare_records(pl.DataFrame(rows, schema={c: pl.String for c in CLIENTS.columns}),
                                             ResolutionSettings())  # fmt: skip
    with duckdb.connect() as conn:
        levels = compare_pairs(conn, prepared, pl.DataFrame({"left_id": [0], "right_id": [1]}),
                               found_common if common is None else common)  # fmt: skip
    return levels.row(0, named=True)


def name_level(left: str, right: str, common: set[str] | None = None) -> str:
    return NAME_LEVELS.get(compare({"name": left}, {"name": right}, common)["name_level"], "missing")


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        ("Trillium Roofing Corp", "TRILLIUM ROOFING, INC.", "exact"),  # case, punctuation, legal form
        ("The Maple Leaf Group", "Maple-Leaf Group Ltd", "exact"),  # "The", hyphen
        ("Northwind Traders", "North Wind Traders", "exact"),  # spacing
        ("Trillium Roofing Incorporated", "Trillium Roofing Incorported", "typo"),  # misspelt legal form
        ("Trillium Roofing", "Trilium Roofing", "typo"),  # one-letter typo in a word
        ("Café Olé Intl", "Cafe Ole International", "exact"),  # accents, abbreviation
        ("Kestrel Analytics", "Kestrel Analytics Group", "similar"),  # only a common word differs
        ("Acme Holdings East", "Acme Holdings West", "weak"),  # branches: a rare word differs
        ("Blue Harbor Logistics", "Granite Peak Dental", "different"),
    ],
)
def test_name_levels(left, right, level):
    assert name_level(left, right, common={"group", "holdings", "logistics", "services"}) == level


def test_missing_name_is_no_evidence_not_disagreement():
    assert compare({"name": "Kestrel"}, {"name": "Inc."})["name_level"] is None  # nothing left after the legal form


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        ("https://www.kestrel.io/about", "kestrel.io", 2),
        ("kestrel.io", "kestrel.com", 1),  # same stem, another top-level domain
        ("kestrel-analytics.com", "kestrelanalytics.com", 1),
        ("kestrel.io", "osprey.io", 0),
        ("gmail.com", "gmail.com", None),  # web mail is no evidence
        (None, "kestrel.io", None),
    ],
)
def test_domain_levels(left, right, level):
    assert compare({"name": "x", "domain": left}, {"name": "y", "domain": right})["domain_level"] == level


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [("(416) 555-0101", "+1 416 555 0101", 1), ("416.555.0101", "416-555-0102", 0), ("555-01", "416-555-0101", None)],
)
def test_phone_levels(left, right, level):
    assert compare({"name": "x", "phone": left}, {"name": "y", "phone": right})["phone_level"] == level


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        ("11 Elmwood Drive, Suite 400", "11 ELMWOOD DR", 2),  # street type abbreviated, suite ignored
        ("11 Elmwood Dr", "11 Elmwod Dr", 1),  # same number, street misspelt
        ("11 Elmwood Dr", "12 Elmwood Dr", 0),
        ("PO Box 7", "11 Elmwood Dr", None),  # no house number: no evidence
    ],
)
def test_address_levels(left, right, level):
    assert compare({"name": "x", "address": left}, {"name": "y", "address": right})["address_level"] == level


def test_postal_city_and_country_levels():
    levels = compare(
        {"name": "x", "postal_code": "m5j 7s1", "city": "Montréal", "country": "Canada"},
        {"name": "y", "postal_code": "M5J7S1", "city": "MONTREAL", "country": "CA"},
    )
    assert (levels["postal_level"], levels["city_level"], levels["country_level"]) == (1, 1, 1)
    levels = compare(
        {"name": "x", "postal_code": "94105", "city": "Austin", "country": "USA"},
        {"name": "y", "postal_code": "94105-1234", "city": "Boston", "country": "Canada"},
    )
    assert (levels["postal_level"], levels["city_level"], levels["country_level"]) == (0, 0, 0)
    levels = compare({"name": "x", "country": "Atlantis"}, {"name": "y", "country": "US"})
    assert levels["country_level"] is None  # an unknown country is no evidence


def test_prepared_keys():
    rows = [
        {"source_system": "a", "source_client_id": "1", "name": "The Kestrel Group, Inc.", "domain": "www.Kestrel-AI.co",
         "address": "120 North Main Street, Suite 5", "city": "Québec", "country": "United States"},
    ]  # fmt: skip
    prepared, _ = prepare_records(pl.DataFrame(rows).with_columns(
        pl.lit(None, pl.String).alias(c) for c in CLIENTS.columns if c not in rows[0]), ResolutionSettings())  # fmt: skip
    row = prepared.row(0, named=True)
    assert row["name_key"] == "kestrel group"
    assert row["domain_stem"] == "kestrelai"
    assert (row["house_number"], row["street_key"]) == ("120", "n main st")
    assert (row["city_key"], row["country_key"]) == ("quebec", "us")
    assert row["name_tokens"] == ["kestrel", "group"]


def test_common_tokens_are_those_many_records_share():
    names = [f"Org{i} Services" for i in range(30)] + ["Kestrel Services", "Kestrel Dental"]
    rows = pl.DataFrame({"source_system": "a", "source_client_id": [str(i) for i in range(len(names))], "name": names})
    rows = rows.with_columns(pl.lit(None, pl.String).alias(c) for c in CLIENTS.columns if c not in rows.columns)
    prepared, common = prepare_records(rows, ResolutionSettings(common_token_min=20))
    assert common == {"services"}
    assert prepared.filter(pl.col("name") == "Kestrel Services")["first_rare_token"].item() == "kestrel"
