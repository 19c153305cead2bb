"""Each comparison level of the probabilistic matcher, and the keys it prepares, on one pair at a time."""

import polars as pl
import pytest

from assets.rules.inputs import CLIENTS
from assets.rules.resolution import (
    DOMAIN_LEVELS,
    EXACT_NAME,
    LOCATION_LEVELS,
    NAME_LEVELS,
    PHONE_LEVELS,
    U_PRIOR,
    U_PRIOR_PAIRS,
    ResolutionSettings,
    compare_pairs,
    prepare_records,
)
from assets.rules.tables import scratch

# Words many names carry, so that "common" is decided by the test, not by two records.
FILLER = [f"Filler{i} Group Services Holdings Logistics" for i in range(40)]


def compare(left: dict, right: dict) -> dict:
    rows = [{c: r.get(c) for c in CLIENTS.columns} for r in (left, right)]
    rows[0].update(source_system="a", source_client_id="1")
    rows[1].update(source_system="b", source_client_id="2")
    rows += [
        {c: None for c in CLIENTS.columns} | {"source_system": "f", "source_client_id": f"f{i}", "name": name}
        for i, name in enumerate(FILLER)
    ]
    prepared, _ = prepare_records(
        pl.DataFrame(rows, schema={c: pl.String for c in CLIENTS.columns}), ResolutionSettings(common_token_min=20)
    )
    ids = dict(zip(prepared["source_client_id"], prepared["record_id"], strict=True))
    pair = pl.DataFrame({"left_id": [min(ids["1"], ids["2"])], "right_id": [max(ids["1"], ids["2"])]})
    with scratch() as conn:
        return compare_pairs(conn, prepared, pair).row(0, named=True)


def level(left: dict, right: dict, field: str, names: dict) -> str | None:
    value = compare(left, right)[field]
    return None if value is None else names[value]


def name_level(left: str, right: str) -> str | None:
    return level({"name": left}, {"name": right}, "name_level", NAME_LEVELS)


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("Trillium Roofing Corp", "TRILLIUM ROOFING, INC.", "exact"),  # case, punctuation, legal form
        ("The Maple Leaf Group", "Maple-Leaf Group Ltd", "exact"),  # "The", hyphen
        ("Northwind Traders", "North Wind Traders", "exact"),  # spacing
        ("Café Olé Intl", "Cafe Ole International", "exact"),  # accents, known abbreviation
        ("CafÃ© Olé", "Café Olé", "exact"),  # UTF-8 read as Latin-1
        ("Children?s Hospital", "Children's Hospital", "exact"),  # a lost apostrophe
        ("Ρacific\u200b Grill", "Pacific Grill", "exact"),  # a Greek capital rho, a zero-width space
        ("Grill, The", "The Grill", "exact"),  # inverted article
        ("Trillium Roofing Incorporated", "Trillium Roofing Incorported", "same_words"),  # misspelt legal form
        ("Trillium Roofing", "Trilium Roofing", "same_words"),  # a typo in one word
        ("Smith, John", "John Smith", "same_words"),  # an inverted person's name
        ("Art's Deli", "Arts Delicatessen", "same_words"),  # an abbreviated word
        ("Dining Room at the Ritz", "Ritz Dining Room", "same_words"),  # stop words and order
        ("Kestrel Analytics", "Kestrel Analytics Group", "contained"),  # one name adds a word
        ("Mercy Hospital", "St Louis Mercy Hospital Outpatient Services", "contained"),  # prefix and programme
        ("Services Group", "Filler3 Group Services Holdings Logistics", "contained_common_words"),
        ("IBM", "International Business Machines", "acronym"),
        ("Kestrel Analytics Denver", "Kestrel Analytics Boston", "partial"),  # both add a word
        ("Kestrel Analytics Denver Roofing", "Kestrel Boston Plumbing Supply", "shares_rare_word"),
        ("Blue Group", "Green Group", "shares_common_word_or_spelling"),
        ("Acme Holdings East", "Acme Holdings West", "conflicting_qualifiers"),  # sites of one organisation
        ("Acme Store 12", "Acme Store 15", "conflicting_qualifiers"),
        ("Blue Harbor", "Granite Peak Dental", "different"),
    ],
)
def test_name_levels(left, right, expected):
    assert name_level(left, right) == expected


def test_missing_name_is_no_evidence_not_disagreement():
    assert compare({"name": "Kestrel"}, {"name": "Inc."})["name_level"] is None  # nothing left after the legal form


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("https://www.kestrel.io/about", "kestrel.io", "same"),
        ("kestrel.io", "kestrel.com", "same_stem"),  # same stem, another top-level domain
        ("kestrel-analytics.com", "kestrelanalytics.com", "same_stem"),
        ("kestrel.io", "osprey.io", "different"),
        ("gmail.com", "gmail.com", None),  # web mail is no evidence
        (None, "kestrel.io", None),
    ],
)
def test_domain_levels(left, right, expected):
    assert level({"name": "x", "domain": left}, {"name": "y", "domain": right}, "domain_level", DOMAIN_LEVELS) == (
        expected
    )


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("(416) 555-0101", "+1 416 555 0101", "same"),
        ("555-0101", "416-555-0101", "same_local_number"),  # a 7-digit local number
        ("416-555-0101", "905-555-0101", "different"),  # same last 7 digits, other area codes
        ("416.555.0101", "416-555-0102", "different"),
        ("555-01", "416-555-0101", None),  # too short to be a number
    ],
)
def test_phone_levels(left, right, expected):
    assert level({"name": "x", "phone": left}, {"name": "y", "phone": right}, "phone_level", PHONE_LEVELS) == expected


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (
            {"address": "11 Elmwood Drive, Suite 400", "postal_code": "M5J 7S1"},
            {"address": "11 ELMWOOD DR", "postal_code": "m5j7s1"},
            "same_address",
        ),  # type abbreviated, suite ignored
        (
            {"address": "11 Elmwood Dr", "city": "Toronto"},
            {"address": "11 Elmwod Dr", "city": "TORONTO"},
            "same_address",
        ),  # street misspelt
        (
            {"address": "11 Elmwood Dr", "postal_code": "M5J 7S1"},
            {"address": "11 Elmwood Dr", "postal_code": "M4K 1A1"},
            "same_address_other_postal",
        ),
        (
            {"address": "11 Elmwood Dr", "city": "Toronto"},
            {"address": "12 Elmwood Dr", "city": "Toronto"},
            "same_street",
        ),
        (
            {"address": "11 Elmwood Dr", "postal_code": "94105"},
            {"address": "9 Main St", "postal_code": "94105"},
            "same_postal",
        ),
        ({"city": "Montréal"}, {"city": "MONTREAL"}, "same_city_no_postal"),
        (
            {"city": "Austin", "postal_code": "78701"},
            {"city": "Dallas", "postal_code": "78701"},
            "same_city_or_postal_only",
        ),  # a postal code that disagrees with the city is weak evidence
        ({"city": "Austin", "country": "USA"}, {"city": "Austin", "country": "Canada"}, "different"),
        ({"city": "Austin", "country": "Atlantis"}, {"city": "Austin", "country": "US"}, "same_city_no_postal"),
        ({"address": "PO Box 7"}, {"address": "11 Elmwood Dr"}, None),  # nothing comparable
    ],
)
def test_location_levels(left, right, expected):
    assert level({"name": "x", **left}, {"name": "y", **right}, "location_level", LOCATION_LEVELS) == expected


def prepared_row(**fields) -> dict:
    row = {c: None for c in CLIENTS.columns} | {"source_system": "a", "source_client_id": "1"} | fields
    prepared, _ = prepare_records(
        pl.DataFrame([row], schema={c: pl.String for c in CLIENTS.columns}), ResolutionSettings()
    )
    return prepared.row(0, named=True)


def test_prepared_keys():
    row = prepared_row(
        name="The Kestrel Group of Denver, Inc.",
        domain="www.Kestrel-AI.co",
        phone="555-0101",
        address="120 North Main Street, Suite 5",
        city="Québec",
        country="United States",
    )
    assert row["name_key"] == "kestrel group of denver"
    assert row["tokens"] == ["kestrel", "group", "denver"]  # stop words out, order kept
    assert row["name_sorted"] == "denver group kestrel"
    assert row["initials"] == "kgd"
    assert row["domain_stem"] == "kestrelai"
    assert (row["house_number"], row["street_key"]) == ("120", "n main st")
    assert (row["city_key"], row["country_key"], row["phone7"]) == ("quebec", "us", "5550101")


def test_word_weights_count_distinct_names_not_records():
    """An organisation with many records keeps its words distinctive: weights come from distinct names."""
    names = ["Kestrel Services"] * 30 + [f"Org{i} Services" for i in range(30)]
    rows = pl.DataFrame({"source_system": "a", "source_client_id": [str(i) for i in range(len(names))], "name": names})
    rows = rows.with_columns(pl.lit(None, pl.String).alias(c) for c in CLIENTS.columns if c not in rows.columns)
    prepared, common = prepare_records(rows, ResolutionSettings(common_token_min=20))
    assert common == {"services"}  # in 31 distinct names; "kestrel" is in one name, however many records
    row = prepared.filter(pl.col("name") == "Kestrel Services").row(0, named=True)
    weights = dict(zip(row["tokens"], row["token_weights"], strict=True))
    assert weights["kestrel"] == pytest.approx(__import__("math").log(32 / 1))
    assert weights["services"] == pytest.approx(__import__("math").log(32 / 31))
    assert row["rarest_token"] == "kestrel"


def test_an_exact_names_term_frequency_counts_sites():
    """A chain's name (many cities) is common; one organisation's many records in one city count once."""
    names = [("Blue Bottle", city) for city in ("Austin", "Boston", "Denver", "Miami")]
    names += [("Kestrel Dental", "Austin")] * 4 + [("Org Two", "Austin"), ("Org Three", "Boston")]
    rows = pl.DataFrame(
        {
            "source_system": "a",
            "source_client_id": [str(i) for i in range(len(names))],
            "name": [n for n, _ in names],
            "city": [c for _, c in names],
        }
    )
    rows = rows.with_columns(pl.lit(None, pl.String).alias(c) for c in CLIENTS.columns if c not in rows.columns)
    prepared, _ = prepare_records(rows, ResolutionSettings())
    tf = dict(prepared.select("name", "name_tf").unique().iter_rows())
    sites = 4 + 1 + 2  # distinct (name, city); the prior's share is worth U_PRIOR_PAIRS sites
    prior = U_PRIOR_PAIRS * U_PRIOR["name_level"][EXACT_NAME]
    assert tf["Blue Bottle"] == pytest.approx((4 + prior) / (sites + U_PRIOR_PAIRS))
    assert tf["Kestrel Dental"] == pytest.approx((1 + prior) / (sites + U_PRIOR_PAIRS))
    assert tf["Blue Bottle"] > 3.9 * tf["Kestrel Dental"]
