"""The generator's hard profile: variations real records have, large clusters, hard negatives and their truth.

Every check recomputes what it checks from the written files (names, addresses, phones as a reader sees them),
so a wrong flag in the truth files or a variation that does not show fails a test."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import polars as pl
import pytest

from assets.rules.matching import normalise_name
from pipelines.commands.demo_data import CITIES, SYSTEMS, generate_demo_data, main

CLIENTS, SEED = 4000, 5
KEY = ["source_system", "source_client_id"]
NAME_KINDS = {
    "legal_form",
    "abbreviation",
    "ampersand",
    "the_prefix",
    "punctuation",
    "accents",
    "typo",
    "case",
    "parent_prefix",
    "location_qualifier",
    "department_suffix",
    "inverted_name",
    "word_abbreviation",
    "acronym",
    "encoding_damage",
    "words_dropped_added",
}
FIELD_KINDS = {
    "domain_missing",
    "phone_missing",
    "phone_changed",
    "phone_local",
    "postal_missing",
    "address_missing",
    "address_moved",
    "address_garbled",
    "neighbourhood_city",
}
# name kinds that leave the matcher's normalised name as it was (case, punctuation, "&"/and, "The", accents, Inc)
INVISIBLE = {"legal_form", "case", "punctuation", "ampersand", "the_prefix", "accents"}
LEGAL_FORMS = {"inc", "incorporated", "llc", "l.l.c", "ltd", "limited", "corp", "corporation", "co", "company", "gmbh"}
HARD_NEGATIVE_KINDS = {"branch", "chain_other_city", "franchise", "generic_name", "same_building", "parent_subsidiary"}


def read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


@pytest.fixture(scope="module")
def hard(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("hard")
    return out, generate_demo_data(out, clients=CLIENTS, seed=SEED, profile="hard", faults=False)


@pytest.fixture(scope="module")
def records(hard) -> pl.DataFrame:
    """Every client record with its entity, its variation kinds (a list) and the matcher's normalised name."""
    out, _ = hard
    clients = pl.concat([read(p) for p in sorted((out / "clients").glob("*.csv"))])
    variations = read(out / "_truth" / "record_variations.csv")
    return (
        clients.join(variations, on=KEY)
        .with_columns(
            kinds=pl.col("variations").fill_null("").str.split(";").list.eval(pl.element().filter(pl.element() != ""))
        )
        .with_columns(name_key=normalise_name(pl.col("name")))
    )


@pytest.fixture(scope="module")
def groups(hard) -> pl.DataFrame:
    """One row per (hard-negative group, entity)."""
    out, _ = hard
    return read(out / "_truth" / "hard_negatives.csv").with_columns(pl.col("entity_ids").str.split(";"))


def canonical_names(records: pl.DataFrame) -> pl.DataFrame:
    """Per entity, the name of its records that carry no name variation (entities without one are left out)."""
    untouched = records.filter(~pl.col("kinds").list.eval(pl.element().is_in(list(NAME_KINDS))).list.any())
    return untouched.group_by("entity_id").agg(reference=pl.col("name").unique())


# --------------------------------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_files(tmp_path, hard):
    out, _ = hard
    again = tmp_path / "again"
    generate_demo_data(again, clients=CLIENTS, seed=SEED, profile="hard", faults=False)
    assert tree_bytes(again) == tree_bytes(out)


def test_the_truth_files_are_consistent(hard, records, groups):
    out, summary = hard
    truth = read(out / "_truth" / "client_entities.csv")
    variations = read(out / "_truth" / "record_variations.csv")
    assert variations.columns == ["source_system", "source_client_id", "entity_id", "variations"]
    # every record once, in both files, with the same entity
    assert truth.height == variations.height == records.height == CLIENTS == summary["client_records"]
    assert truth.select(pl.struct(KEY).is_unique().all()).item()
    assert truth.equals(variations.drop("variations"))
    kinds = set(records["kinds"].explode().drop_nulls())
    assert kinds == NAME_KINDS | FIELD_KINDS | {"large_cluster"}, kinds ^ (NAME_KINDS | FIELD_KINDS | {"large_cluster"})
    # hard-negative groups: unique ids, known kinds, two or more organisations of the truth each
    assert groups["group_id"].is_unique().all()
    assert set(groups["kind"]) == HARD_NEGATIVE_KINDS
    assert (groups["entity_ids"].list.n_unique() == groups["entity_ids"].list.len()).all()
    assert (groups["entity_ids"].list.len() >= 2).all()
    assert groups["entity_ids"].explode().is_in(truth["entity_id"].implode()).all()
    assert summary["hard_negative_groups"] == dict(groups.group_by("kind").len().sort("kind").iter_rows())


def test_missing_values_and_local_phones_are_what_the_truth_says(records):
    digits = pl.col("phone").str.replace_all(r"[^0-9]", "").str.len_chars()
    has = pl.col("kinds").list.contains
    shown = records.select(
        postal=(pl.col("postal_code").is_null() == has("postal_missing")).all(),
        domain=(pl.col("domain").is_null() == has("domain_missing")).all(),
        phone=(pl.col("phone").is_null() == has("phone_missing")).all(),
        local=((digits == 7).fill_null(False) == has("phone_local")).all(),
        address=(pl.col("address").is_null() == has("address_missing")).all(),
    )
    assert shown.row(0, named=True) == dict.fromkeys(shown.columns, True)
    assert set(records["phone"].drop_nulls().str.replace_all(r"[^0-9]", "").str.len_chars()) == {7, 10, 11}


def test_missing_values_follow_the_source_system(records):
    share = records.group_by("source_system").agg(
        postal=pl.col("postal_code").is_null().mean(),
        domain=pl.col("domain").is_null().mean(),
        local=(pl.col("phone").str.replace_all(r"[^0-9]", "").str.len_chars() == 7).mean(),
    )
    by = {row["source_system"]: row for row in share.iter_rows(named=True)}
    assert 0.3 <= by["crm_legacy"]["postal"] <= 0.5  # "up to 40% missing on one source system"
    assert by["nat_erp"]["postal"] <= 0.06 and 0.03 <= by["loc_billing"]["postal"] <= 0.15
    assert by["nat_erp"]["domain"] < by["loc_billing"]["domain"] <= 0.6
    assert by["nat_erp"]["local"] < 0.05 < by["loc_billing"]["local"] < 0.3


def test_neighbourhoods_and_garbled_addresses_show_in_the_records(records):
    cities = {plain(c[0]) for c in CITIES}
    city = records["city"].map_elements(lambda c: plain(c) in cities, return_dtype=pl.Boolean)
    flagged = records["kinds"].list.contains("neighbourhood_city")
    assert (city != flagged).all()  # a neighbourhood is written exactly where the truth says so
    written = set(records.filter(flagged)["city"].str.to_lowercase())
    assert {"brooklyn", "scarborough"} & written and len(written) >= 15
    # a garbled address does not start with its house number or ends with the city; the others never do
    present = records.filter(pl.col("address").is_not_null())
    ends_with_city = (
        pl.col("address")
        .str.to_lowercase()
        .str.contains("(" + "|".join(re.escape(c[0].lower()) for c in CITIES) + ")$")
    )
    odd = present.select(~pl.col("address").str.contains(r"^[0-9]+ ") | ends_with_city).to_series()
    assert (odd == present["kinds"].list.contains("address_garbled")).all()


def test_each_name_variation_appears_at_a_plausible_rate(records):
    duplicates = records.height - records["entity_id"].n_unique()  # records beyond an organisation's first
    counts = dict(records.select(pl.col("kinds").explode()).to_series().value_counts().iter_rows())
    bounds = {  # share of duplicate records at noise 1
        "parent_prefix": (0.01, 0.1),
        "location_qualifier": (0.02, 0.2),
        "department_suffix": (0.02, 0.2),
        "inverted_name": (0.003, 0.1),
        "word_abbreviation": (0.03, 0.3),
        "acronym": (0.005, 0.06),
        "encoding_damage": (0.005, 0.1),
        "words_dropped_added": (0.02, 0.15),
        "typo": (0.02, 0.15),
    }
    for kind, (low, high) in bounds.items():
        assert low <= counts.get(kind, 0) / duplicates <= high, (kind, counts.get(kind, 0) / duplicates)


def test_name_variations_are_what_the_truth_says(records):
    references = canonical_names(records)
    # records without a name variation carry exactly the organisation's name
    assert (references["reference"].list.len() == 1).all()
    references = references.with_columns(pl.col("reference").list.first()).with_columns(
        reference_key=normalise_name(pl.col("reference"))
    )
    varied = records.join(references, on="entity_id").with_columns(
        name_kinds=pl.col("kinds").list.eval(pl.element().filter(pl.element().is_in(list(NAME_KINDS - INVISIBLE))))
    )
    # only variations the matcher's normaliser undoes: the same normalised name
    invisible = varied.filter(pl.col("name_kinds").list.len() == 0)
    assert invisible.height > 1000 and (invisible["name_key"] == invisible["reference_key"]).all()
    # damaged encodings show, and nothing else shows like one
    damaged = varied["name"].str.contains(r"\?|Ã|â€")
    assert (~damaged | varied["kinds"].list.contains("encoding_damage")).all()

    def shows(kind: str, name: str, words: list[str], reference: list[str], raw: str, raw_reference: str) -> bool:
        longer = len(words) > len(reference)
        if kind == "parent_prefix":
            return longer and words[-len(reference) :] == reference
        if kind in ("location_qualifier", "department_suffix"):
            return longer and words[: len(reference)] == reference
        if kind == "words_dropped_added":
            dropped = any(  # a word, and the "and" it leaves dangling at the end
                reference[:i] + reference[i + 1 :] in (words, [*words, "and"]) for i in range(len(reference))
            )
            return dropped or (longer and words[: len(reference)] == reference)
        if kind == "inverted_name":  # "Grill, The" (the normaliser undoes it) / "Garcia, Maria Consulting"
            return words in ([*reference, "the"], reference) or (
                sorted(words) == sorted(reference) and words != reference
            )
        if kind == "word_abbreviation":  # "deli" for "delicatessen", "saint" for "st"
            pairs = [(a, b) for a, b in zip(words, reference, strict=False) if a != b]
            return len(words) == len(reference) and bool(pairs) and all(a[0] == b[0] for a, b in pairs)
        if kind == "acronym":  # "NBL" or "NB Logistics" for "Northwind Bay Logistics"
            kept = [w.strip(".,") for w in plain(raw_reference).split()]
            kept = [w for w in kept if w not in LEGAL_FORMS | {"&", "and", "of"}]
            initials = "".join(w[0] for w in kept[1:] if kept[0] == "the") or "".join(w[0] for w in kept)
            # read from the name itself: the normaliser drops acronyms that look like legal forms ("AS", "PC")
            acronym = [w.strip(".,") for w in plain(raw).split()]
            acronym = [w for w in acronym[acronym[0] == "the" :] if w not in LEGAL_FORMS]
            return acronym == [initials] or (initials.startswith(acronym[0]) and acronym[-1] == reference[-1])
        if kind == "encoding_damage":
            return bool(re.search(r"\?|Ã|â€", raw)) or (re.search(r"[^\x00-\x7f']|'", raw_reference) and name != raw)
        raise AssertionError(kind)

    checked = {}
    single = varied.filter(pl.col("name_kinds").list.len() == 1).with_columns(kind=pl.col("name_kinds").list.first())
    for kind, name, key, reference, raw_reference in single.select(
        "kind", "name", "name_key", "reference_key", "reference"
    ).iter_rows():
        if kind in ("abbreviation", "typo"):  # the demo's; the normaliser undoes some abbreviations
            continue
        ok = shows(kind, key, key.split(), reference.split(), name, raw_reference)
        checked.setdefault(kind, []).append(ok)
    assert set(checked) == NAME_KINDS - INVISIBLE - {"abbreviation", "typo"}
    for kind, results in checked.items():
        assert len(results) >= 3 and sum(results) / len(results) >= 0.95, (kind, sum(results), len(results))


def test_large_clusters_hold_10_to_20_records_across_and_within_systems(hard, records):
    _, summary = hard
    per_entity = records.group_by("entity_id").agg(
        n=pl.len(),
        systems=pl.col("source_system").n_unique(),
        large=pl.col("kinds").list.contains("large_cluster").all(),
    )
    large = per_entity.filter(pl.col("n") >= 10)
    assert per_entity["n"].max() <= 20 and large.height == summary["large_clusters"] >= 3
    assert 0.001 <= large.height / per_entity.height <= 0.01
    assert large["large"].all() and not per_entity.filter(pl.col("n") < 10)["large"].any()
    assert (large["systems"] >= 2).any() and (large["n"] > large["systems"]).all()  # within-system duplicates too


def test_hard_negative_groups_share_what_their_kind_says(records, groups):
    address_kinds = ["address_missing", "address_moved", "address_garbled", "neighbourhood_city", "postal_missing"]
    clean_address = ~pl.col("kinds").list.eval(pl.element().is_in(address_kinds)).list.any()
    clean_name = ~pl.col("kinds").list.eval(pl.element().is_in(list(NAME_KINDS - INVISIBLE))).list.any()
    address_key = pl.concat_str(
        pl.col("address")
        .str.to_lowercase()
        .str.extract(
            r"^([0-9]+) ([a-z0-9' -]+?) (st|street|ave|avenue|rd|road|"
            r"blvd|boulevard|dr|drive|ln|lane|way|ct|court|pl|place|"
            r"pkwy|parkway|cres|crescent|hwy|highway)\b",
            0,
        ),
        pl.col("postal_code").str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "").str.slice(0, 5),
        separator="|",
    )
    address_key = address_key.str.replace(
        r" (street|avenue|road|boulevard|drive|lane|court|place|parkway|crescent|"
        r"highway)\b",
        " x",
    ).str.replace(
        r" (st|ave|rd|blvd|dr|ln|ct|pl|pkwy|cres|"
        r"hwy)\b",
        " x",
    )
    domain_key = pl.col("domain").str.to_lowercase().str.replace(r"^https?://", "").str.replace(r"^www\.", "")
    facts = records.select(
        "entity_id",
        address=pl.when(clean_address).then(address_key),
        city=pl.when(clean_address).then(pl.col("city").map_elements(plain, return_dtype=pl.String)),
        name=pl.when(clean_name).then(pl.col("name_key")),
        domain=domain_key.str.strip_chars("/"),
    )
    per_entity = facts.group_by("entity_id").agg(pl.all().drop_nulls().unique())
    members = groups.explode("entity_ids").rename({"entity_ids": "entity_id"}).join(per_entity, on="entity_id")
    tested: dict[str, int] = {}
    for (group_id, kind), group in members.group_by("group_id", "kind"):
        sets = {column: [set(v) for v in group[column]] for column in ("address", "city", "name", "domain")}

        def common(column: str, sets: dict = sets) -> bool | None:
            known = [s for s in sets[column] if s]
            return None if len(known) < 2 else bool(set.intersection(*known))

        if kind in ("same_building", "parent_subsidiary", "branch"):
            checks = [common("address")]
            if kind == "same_building":  # tenants: different organisations, different names
                names = [s for s in sets["name"] if s]
                checks.append(None if len(names) < 2 else not set.intersection(*names))
            if kind == "parent_subsidiary":
                checks.append(common("domain"))
        elif kind in ("chain_other_city", "generic_name"):
            checks = [common("name")]
            if kind == "chain_other_city":  # every store in its own city
                cities = [s for s in sets["city"] if len(s) == 1]
                checks.append(None if len(cities) < 2 else len(set.union(*cities)) == len(cities))
        else:  # franchise: the brand's name starts every franchisee's name; every franchisee in its own city
            names = [min(s, key=len) for s in sets["name"] if s]
            brand = min(names, key=len) if names else ""
            checks = [None if len(names) < 2 else all(n.split()[: len(brand.split())] == brand.split() for n in names)]
            cities = [s for s in sets["city"] if len(s) == 1]
            checks.append(None if len(cities) < 2 else len(set.union(*cities)) == len(cities))
        if any(c is not None for c in checks):
            assert all(c is not False for c in checks), (group_id, kind, group)
            tested[kind] = tested.get(kind, 0) + 1
    assert set(tested) == HARD_NEGATIVE_KINDS and min(tested.values()) >= 3, tested


def test_names_are_shared_only_inside_hard_negative_groups(records, groups):
    names = (
        records.filter(~pl.col("kinds").list.eval(pl.element().is_in(list(NAME_KINDS - INVISIBLE))).list.any())
        .group_by("name_key")
        .agg(pl.col("entity_id").unique().sort())
        .filter(pl.col("entity_id").list.len() >= 2)
    )
    assert names.height >= 10  # chains, franchise brands, generic names
    together = [set(ids) for ids in groups["entity_ids"]]
    for key, entities in names.iter_rows():
        assert any(set(entities) <= group for group in together), (key, entities)


def test_noise_makes_the_hard_profile_harder(tmp_path, records, groups):
    generate_demo_data(tmp_path, clients=CLIENTS, seed=SEED, profile="hard", faults=False, noise=3.0)
    harsh = read(tmp_path / "_truth" / "record_variations.csv")
    hard_kinds = NAME_KINDS - INVISIBLE - {"abbreviation", "typo"}

    def share(kinds: pl.Series) -> float:
        return kinds.list.eval(pl.element().is_in(list(hard_kinds))).list.any().mean()

    assert share(harsh["variations"].fill_null("").str.split(";")) > 1.8 * share(records["kinds"])
    harsh_groups = read(tmp_path / "_truth" / "hard_negatives.csv").filter(pl.col("kind") != "branch")
    assert harsh_groups.height > 2 * groups.filter(pl.col("kind") != "branch").height


def test_the_command_line_takes_a_profile(tmp_path, capsys):
    assert main([str(tmp_path), "--clients", "400", "--profile", "hard", "--no-faults", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "profile: hard" in printed and "client_records: 400" in printed
    assert (tmp_path / "_truth" / "record_variations.csv").is_file()
    with pytest.raises(ValueError, match="profile"):
        generate_demo_data(tmp_path / "bad", clients=100, profile="easy")
    assert {p.stem for p in (tmp_path / "clients").iterdir()} == set(SYSTEMS)
