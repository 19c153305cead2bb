import polars as pl
import pytest

from assets.rules.matching import (
    match_clients,
    normalise_domain,
    normalise_name,
    normalise_phone,
    normalise_postal_code,
)


def apply(expression, values):
    return pl.DataFrame({"x": values}, schema={"x": pl.String}).select(expression(pl.col("x")))["x"].to_list()


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme Holdings, Inc.", "acme holdings"),
        ("ACME HOLDINGS INCORPORATED", "acme holdings"),
        ("The Acme Holdings L.L.C.", "acme holdings"),
        ("Acmé Intl Ltd", "acme international"),
        ("Smith & Sons Mfg Co", "smith and sons manufacturing"),
        ("Zeta & Co", "zeta"),
        ("Inc.", None),
        ("", None),
    ],
)
def test_name_key(name, key):
    assert apply(normalise_name, [name]) == [key]


def test_domain_phone_postal_normalisers():
    assert apply(normalise_domain, ["https://www.Acme.com/about", "acme.com.", "gmail.com", "not a domain", None]) == [
        "acme.com",
        "acme.com",
        None,
        None,
        None,
    ]
    assert apply(normalise_phone, ["(415) 555-0132", "+1 415 555 0132", "415.555.0132", "12345", None]) == [
        "4155550132",
        "4155550132",
        "4155550132",
        None,
        None,
    ]
    assert apply(normalise_postal_code, ["k1a 0b1", "94105-1234", " ", None]) == ["K1A0B1", "94105", None, None]


def records(rows):
    columns = ["source_system", "source_client_id", "name", "domain", "phone", "postal_code"]
    return pl.DataFrame([dict(zip(columns, r, strict=True)) for r in rows], schema={c: pl.String for c in columns})


def test_same_name_and_one_shared_identifier_merge_across_systems():
    matched, report = match_clients(
        records(
            [
                ("nat", "N1", "Acme Inc", "acme.com", None, None),
                ("loc", "L1", "ACME", "www.acme.com", "4155550100", None),
                ("crm", "C1", "Acme Incorporated", None, "(415) 555-0100", "94105"),
            ]
        )
    )
    assert matched["account_id"].unique().to_list() == ["crm:C1"]  # the smallest key; chained via domain then phone
    assert report["accounts_out"] == 1
    assert report["records_by_rule"] == {"name+domain": 2, "name+phone": 1}


def test_branches_at_one_address_and_switchboard_stay_apart():
    matched, report = match_clients(
        records(
            [
                ("nat", "N1", "Acme Holdings East", "acme.com", "4155550100", "94105"),
                ("nat", "N2", "Acme Holdings West", "acme.com", "4155550100", "94105"),
                ("loc", "L1", "Acme Holdings East LLC", None, None, "94105"),
            ]
        )
    )
    ids = dict(zip(matched["source_client_id"], matched["account_id"], strict=True))
    assert ids["N1"] == ids["L1"] != ids["N2"]
    assert report["accounts_out"] == 2


def test_same_name_without_shared_evidence_is_not_merged_and_missing_fields_do_not_crash():
    matched, report = match_clients(
        records(
            [
                ("nat", "N1", "Summit Services", None, None, None),
                ("loc", "L1", "Summit Services", None, None, None),
                ("loc", "L2", None, None, None, None),
            ]
        )
    )
    assert report["accounts_out"] == 3
    assert set(matched["match_rule"]) == {"unmatched"}


def test_matching_is_deterministic_under_row_order():
    rows = records(
        [
            ("nat", "N1", "Acme Inc", "acme.com", None, None),
            ("loc", "L1", "ACME", "acme.com", "4155550100", None),
            ("loc", "L2", "Beta", None, "4155550199", "1"),
            ("nat", "N2", "beta ltd", None, "415-555-0199", None),
        ]
    )
    first, _ = match_clients(rows)
    second, _ = match_clients(rows.reverse())
    assert first.sort("source_client_id").equals(second.sort("source_client_id"))
