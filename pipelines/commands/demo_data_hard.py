"""The `hard` profile of the demo-data generator: client records as messy as real ones.

The `demo` profile is easy for a matcher: duplicates have exact or typo-level names, every name is unique, every
record has a postal code, an organisation has one to three records and the only confusable organisations are
"<Base> East/West" branches. `generate_demo_data(..., profile="hard")` starts from the same organisations and adds,
each part on its own random stream (the demo profile's files never move):

- organisations: sole traders ("Maria Garcia Consulting"), names starting with "The", hospitals, delis,
  universities and associations ("St. Mary's Hospital", "Miller's Delicatessen"), local businesses without a website;
- large clusters: a few organisations (0.3%) with 10-20 records within and across systems, many at other sites;
- hard negatives (distinct organisations in the truth, `HARD_NEGATIVE_KINDS`): the same name in another city
  (chains), franchisees (the brand's name and usually its domain), common generic names ("Quality Auto Repair"), tenants of
  one building (one address, sometimes one switchboard), a parent and its subsidiaries at one address with one
  domain ("Acme" / "Acme Financial Services"), and the demo's "<Base> East/West" branches;
- name variations of true duplicates (`NAME_KINDS`, rates in `NAME_RATES`) and field variations (`FIELD_KINDS`:
  missing postal codes and domains per source system, 7-digit local phones, a neighbourhood written as the city,
  missing or garbled addresses);
- the truth of every record's variations (`_truth/record_variations.csv`) and of the hard-negative groups
  (`_truth/hard_negatives.csv`).

Rates are given at noise 1 (realistic); `noise` multiplies them (capped at 1), except missing values, where noise
n means the missing-value draw is made n times (1 - (1 - rate)^n). Structure (large clusters, sole traders, name
kinds of organisations) does not depend on noise. See `docs/generator.md`.

This module is Dagster-free: only numpy, polars and the standard library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.commands.demo_data import (
    ACCENTS,
    CITIES,
    CRM,
    FIRST_NAMES,
    INDUSTRY_LABELS,
    NOUN_INDUSTRY,
    NOUNS,
    PLACES,
    SURNAMES,
    WORDS1,
    _domains,
    _pick,
    _rng,
    _s,
    _strip_accents,
)

__all__ = [
    "FIELD_KINDS",
    "HARD_NEGATIVE_KINDS",
    "HardProfile",
    "NAME_KINDS",
    "VARIATION_KINDS",
    "extra_records_per_organisation",
    "harden_organisations",
]

# Random streams (the demo generator uses 0-11).
ORG_STREAM, NAME_STREAM, DAMAGE_STREAM, DOMAIN_STREAM, MOVE_STREAM, FIELD_STREAM = 12, 13, 14, 15, 16, 17

# Variation kinds, in the order `record_variations.csv` lists them. The demo's kinds come first.
DEMO_NAME_KINDS = ("legal_form", "abbreviation", "ampersand", "the_prefix", "punctuation", "accents", "typo", "case")
HARD_NAME_KINDS = (
    "parent_prefix",
    "location_qualifier",
    "department_suffix",
    "inverted_name",
    "word_abbreviation",
    "acronym",
    "encoding_damage",
    "words_dropped_added",
)
NAME_KINDS = DEMO_NAME_KINDS + HARD_NAME_KINDS
FIELD_KINDS = (
    "domain_missing",
    "phone_missing",
    "phone_changed",
    "phone_local",
    "postal_missing",
    "address_missing",
    "address_moved",
    "address_garbled",
    "neighbourhood_city",
)
VARIATION_KINDS = NAME_KINDS + FIELD_KINDS + ("large_cluster",)
HARD_NEGATIVE_KINDS = ("branch", "chain_other_city", "franchise", "generic_name", "same_building", "parent_subsidiary")

# ---- organisations (shares of organisations; structure, independent of noise)
SOLE_TRADER_SHARE = 0.06  # of local organisations: "Maria Garcia", "Maria Garcia Consulting"
ARTICLE_SHARE = 0.04  # names starting with "The"
SPECIAL_NAME_SHARE = 0.06  # hospitals, delis, universities, associations, saints, possessives
NO_WEBSITE_SHARE = 0.15  # of local organisations (outside hard-negative groups)
LARGE_CLUSTER_SHARE = 0.003
LARGE_CLUSTER_EXTRA = (9, 17)  # more records per large-cluster organisation (10-20 with a cross/dup record)
LARGE_CLUSTER_MOVED = 0.4  # share of a large cluster's other records at another site of the organisation
NEIGHBOURHOOD_SHARE = 0.6  # of organisations in a city with neighbourhoods: located in one of them
# hard negatives: share of organisations in groups of each kind at noise 1 (branches: the demo's 1.5%)
HARD_NEGATIVE_SHARES = {
    "chain_other_city": 0.015,
    "franchise": 0.01,
    "generic_name": 0.012,
    "same_building": 0.02,
    "parent_subsidiary": 0.01,
}

# ---- records: name variations of duplicate records (not the first record of an organisation), at noise 1
NAME_RATES = {
    "acronym": 0.03,  # of names of 3+ words
    "inverted_name": 0.35,  # of names that can be inverted (starting with "The", a sole trader's)
    "word_abbreviation": 0.25,  # of names (changes those with a word to abbreviate)
    "words_dropped_added": 0.08,
    "department_suffix": 0.05,
    "location_qualifier": 0.06,
    "parent_prefix": 0.04,
    "encoding_damage": 0.25,  # of names with an accent or apostrophe (crm_legacy: ENCODING_DAMAGE_CRM)
}
LARGE_CLUSTER_QUALIFIERS = 3.0  # records of large clusters carry department / location qualifiers 3x as often
ENCODING_DAMAGE_CRM = 0.5  # every crm_legacy record, primary ones too: the legacy system mangles encodings
# field variations per source system (nat_erp, loc_billing, crm_legacy), on every record
MISSING_POSTAL = (0.02, 0.08, 0.40)
MISSING_DOMAIN = (0.25, 0.40, 0.35)
MISSING_ADDRESS = (0.01, 0.03, 0.08)
LOCAL_PHONE = (0.02, 0.15, 0.10)  # 7 digits without the area code
NEIGHBOURHOOD_AS_CITY = (0.10, 0.40, 0.25)  # of records of organisations located in a neighbourhood
GARBLED_ADDRESS = 0.05  # of duplicate records

# ---- vocabulary
SPECIAL_NOUNS = (
    ("Delicatessen", "Hospitality"),
    ("Grill", "Hospitality"),
    ("Bistro", "Hospitality"),
    ("Hospital", "Healthcare"),
    ("Children's Hospital", "Healthcare"),
    ("Community Hospital", "Healthcare"),
    ("Medical Association", "Healthcare"),
    ("Women's Health Center", "Healthcare"),
    ("University", "Education"),
    ("Children's Academy", "Education"),
    ("Institute of Technology", "Education"),
    ("Homeowners Association", "Real Estate"),
    ("Business Association", "Professional Services"),
    ("Farmers' Market", "Retail"),
    ("Men's Wear", "Retail"),
    ("Distribution Center", "Transportation & Logistics"),
)
SAINTS = [
    "Mary's",
    "Joseph's",
    "Luke's",
    "Paul's",
    "Anne's",
    "Michael's",
    "John's",
    "Vincent's",
    "Jude's",
    "Francis",
    "Catherine's",
    "Andrew's",
    "Thomas",
    "Elizabeth's",
    "Patrick's",
    "Gabriel's",
]
GENERIC_WORDS = (  # most common first
    "City",
    "Quality",
    "Main Street",
    "Family",
    "A1",
    "American",
    "Premier",
    "First Choice",
    "ABC",
    "Metro",
    "Central",
    "United",
    "Professional",
    "Superior",
    "Advanced",
    "Elite",
    "Express",
    "Golden",
    "Royal",
    "Hometown",
    "Discount",
    "Best",
    "National",
    "Downtown",
    "Community",
    "All Star",
    "Reliable",
    "Precision",
    "General",
    "Pro",
)
NOUNS_PER_INDUSTRY = len(NOUNS) // len(INDUSTRY_LABELS)
PARENT_WORDS = (
    "Health",
    "Group",
    "Holdings",
    "Partners",
    "Enterprises",
    "Healthcare",
    "Brands",
    "Companies",
    "Family of Companies",
    "Hospitality Group",
)
DIVISIONS = (
    "Financial Services",
    "Leasing",
    "Logistics",
    "Properties",
    "Capital",
    "Insurance Agency",
    "Foundation",
    "Realty",
    "Technologies",
    "Medical Group",
    "Construction",
    "Staffing",
    "Consulting",
    "Distribution",
)
DEPARTMENTS = (
    "Outpatient Services",
    "Sales Dept",
    "Sales Department",
    "Accounts Payable",
    "Billing Dept",
    "Head Office",
    "Purchasing",
    "Maintenance Dept",
    "Corporate Office",
    "Service Department",
    "Parts Dept",
    "Warehouse",
    "Finance Dept",
    "Shipping & Receiving",
    "IT Department",
    "Facilities",
    "Admin Office",
    "Main Office",
)
DEPARTMENT_JOINERS = (" ", " - ", ", ", " / ")
VENUES = (
    "the Mall",
    "Union Station",
    "the Airport",
    "City Centre",
    "Riverside Plaza",
    "the Galleria",
    "the Marketplace",
    "Harbourfront Centre",
    "the Convention Center",
    "Town Square",
    "the University",
    "Main Street Station",
)
AREAS = (
    "Downtown",
    "Uptown",
    "Midtown",
    "Westside",
    "Eastside",
    "Airport",
    "Old Town",
    "Harbourfront",
    "North End",
    "South End",
    "Mall Location",
    "Main Branch",
)
PARENT_JOINERS = (" ", " - ", ": ", " / ")
PARENT_NAMES = [f"{word} {kind}" for word in WORDS1[::3] + SURNAMES[::5] for kind in PARENT_WORDS]
ADDED_WORDS = (
    "& Heating",
    "& Sons",
    "Group",
    "Services",
    "Solutions",
    "Enterprises",
    "& Associates",
    "Supply",
    "& Repair",
    "& Design",
    "Co-op",
    "Plus",
    "Pro",
    "& More",
)
# words the matcher's normaliser does not expand (assets/rules/matching.py ABBREVIATIONS), long form -> short form;
# "St." is the canonical form of its names and is written out as "Saint"
WORD_ABBREVIATIONS = {
    "Delicatessen": "Deli",
    "University": "Univ",
    "Hospital": "Hosp",
    "Association": "Assn",
    "St.": "Saint",
    "Medical": "Med",
    "Institute": "Inst",
    "Academy": "Acad",
    "Properties": "Props",
    "Financial": "Finl",
    "Insurance": "Ins",
    "Engineering": "Engrg",
    "Consulting": "Consult",
    "Construction": "Constr",
    "Contracting": "Contr",
    "Hardware": "Hdwe",
    "Furniture": "Furn",
    "Market": "Mkt",
    "Bakery": "Bkry",
    "Pharmacy": "Pharm",
    "Industries": "Inds",
    "Motors": "Mtrs",
    "Veterinary": "Vet",
    "Health": "Hlth",
    "Realty": "Rlty",
    "Management": "Mgt",
    "Investments": "Invest",
    "Transport": "Transp",
    "Distribution": "Distrib",
    "Development": "Devel",
    "Restaurant": "Rest",
    "Physiotherapy": "Physio",
    "Electrical": "Elec",
    "Precision": "Prec",
    "Fabrication": "Fab",
    "Community": "Comm",
    "Mortgage": "Mtg",
    "Trucking": "Trkg",
    "Excavating": "Excav",
    "Builders": "Bldrs",
    "Center": "Cntr",
    "Services": "Srvcs",
    "Holdings": "Hldg",
    "Trading": "Trdg",
}
WEBMAIL_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com")
CARE_OF = ("c/o Accounts Payable, ", "Attn: Finance, ", "ATTN BILLING ", "c/o ")
NEIGHBOURHOODS = {
    "New York": ("Brooklyn", "Queens", "Bronx", "Staten Island", "Manhattan", "Harlem", "Flushing", "Astoria"),
    "Los Angeles": ("Hollywood", "Van Nuys", "North Hollywood", "Encino", "San Pedro", "Venice", "Westwood"),
    "Chicago": ("Lincoln Park", "Hyde Park", "Wicker Park", "Lakeview", "Pilsen"),
    "Houston": ("The Heights", "Montrose", "Kingwood", "Clear Lake"),
    "Philadelphia": ("Germantown", "Manayunk", "Fishtown", "Roxborough"),
    "San Diego": ("La Jolla", "Pacific Beach", "Mira Mesa"),
    "Dallas": ("Oak Cliff", "Deep Ellum", "Lake Highlands"),
    "San Francisco": ("Mission District", "SoMa", "Sunset District"),
    "Seattle": ("Ballard", "Capitol Hill", "West Seattle", "Fremont"),
    "Washington": ("Georgetown", "Anacostia", "Foggy Bottom"),
    "Boston": ("Dorchester", "Roxbury", "Jamaica Plain", "South Boston", "Charlestown"),
    "Atlanta": ("Buckhead", "Midtown", "Inman Park"),
    "Miami": ("Little Havana", "Coconut Grove", "Wynwood"),
    "Denver": ("Highlands", "Five Points", "Cherry Creek"),
    "Las Vegas": ("Summerlin", "Spring Valley"),
    "Phoenix": ("Ahwatukee", "Maryvale", "Arcadia"),
    "Toronto": ("Scarborough", "Etobicoke", "North York", "East York", "York", "The Beaches"),
    "Montréal": ("Verdun", "Lachine", "LaSalle", "Saint-Laurent", "Outremont", "Rosemont", "Plateau-Mont-Royal"),
    "Vancouver": ("Kitsilano", "Mount Pleasant", "Kerrisdale"),
    "Calgary": ("Beltline", "Bowness", "Forest Lawn"),
    "Ottawa": ("Kanata", "Nepean", "Orléans", "Gloucester", "Vanier"),
    "Québec": ("Sainte-Foy", "Charlesbourg", "Beauport", "Sillery"),
    "Hamilton": ("Stoney Creek", "Dundas", "Ancaster", "Waterdown"),
    "Edmonton": ("Strathcona", "Mill Woods"),
    "Winnipeg": ("St. Boniface", "Transcona", "St. Vital"),
    "Halifax": ("Dartmouth", "Bedford"),
}


def _mojibake(text: str) -> str:
    """UTF-8 bytes read as Windows-1252 (Latin-1 where 1252 has no character): "é" -> "Ã©"."""
    out = []
    for byte in text.encode("utf-8"):
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(bytes([byte]).decode("latin-1"))
    return "".join(out)


# characters encoding damage hits: accented letters and the apostrophe (a typographic one in the source system)
DAMAGED_CHARACTERS = [*ACCENTS, "'"]
MOJIBAKE = [_mojibake(ch) for ch in ACCENTS] + [_mojibake("\u2019")]
INDUSTRY_OF = {label: i for i, label in enumerate(INDUSTRY_LABELS)}
CITY_NAMES = [c[0] for c in CITIES]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def extra_records_per_organisation() -> float:
    """Mean number of large-cluster records per organisation (sizes the organisation count)."""
    return LARGE_CLUSTER_SHARE * (LARGE_CLUSTER_EXTRA[0] + LARGE_CLUSTER_EXTRA[1]) / 2


def _on(
    values: pl.Series, mask: np.ndarray, change: Callable[[pl.Series, np.ndarray], pl.Series]
) -> tuple[pl.Series, np.ndarray]:
    """`change(masked values, their positions)` written back into `values`; and which values it changed."""
    idx = np.flatnonzero(mask)
    changed = np.zeros(len(values), bool)
    if len(idx) == 0:
        return values, changed
    before = values.gather(idx)
    after = change(before, idx).cast(pl.String)
    changed[idx[(after != before).fill_null(True).to_numpy()]] = True
    return values.clone().scatter(idx, after), changed


def _put(series: pl.Series, idx: np.ndarray, values) -> pl.Series:
    """`series` with `values` (a Series, or None for missing) at positions `idx`; unchanged when `idx` is empty."""
    return series.scatter(idx, values) if len(idx) else series


def _name_key(names: pl.Series) -> pl.Series:
    """What makes two names the same name: case, accents, a leading "The" and punctuation aside."""
    return _strip_accents(names.str.to_lowercase()).str.replace(r"^the ", "").str.replace_all(r"[^a-z0-9]", "")


def _frame(**columns) -> pl.DataFrame:
    return pl.DataFrame(columns)


def _groups(rng: np.random.Generator, pool: np.ndarray, size_p: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive members of `pool` cut into groups of 2, 3, ... (probabilities `size_p`): (members, group)."""
    if len(pool) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    sizes = 2 + _pick(rng, size_p, len(pool) // 2)
    sizes = sizes[np.cumsum(sizes) <= len(pool)]
    members = pool[: int(sizes.sum())]
    return members, np.repeat(np.arange(len(sizes)), sizes)


def _leaders(members: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each member's group leader (its group's first member) and rank in the group (groups sorted)."""
    first = np.searchsorted(group, group, side="left")
    return members[first], np.arange(len(members)) - first


def _one_per_city(members: np.ndarray, group: np.ndarray, city: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first member of each city per group, and groups of 2 or more (renumbered)."""
    keep = np.zeros(len(members), bool)
    keep[np.unique(group * len(CITIES) + city[members], return_index=True)[1]] = True
    members, group = members[keep], group[keep]
    big_enough = np.bincount(group, minlength=1)[group] >= 2 if len(group) else np.zeros(0, bool)
    members, group = members[big_enough], group[big_enough]
    return members, np.unique(group, return_inverse=True)[1].astype(np.int64)


# --------------------------------------------------------------------------------------------
# Organisations
# --------------------------------------------------------------------------------------------


@dataclass
class HardProfile:
    """The hard profile's organisations and the hooks `_make_records` calls (each on its own random stream)."""

    seed: int
    noise: float
    extra_org: np.ndarray  # organisation of each large-cluster record
    extra_sys: np.ndarray  # and its source system
    large: np.ndarray  # per organisation: has a large cluster
    sole: np.ndarray  # per organisation: a sole trader ("Maria Garcia Consulting")
    city: np.ndarray  # per organisation: city index
    parent: np.ndarray  # per organisation: its parent organisation's name ("Sequoia Health"), in PARENT_NAMES
    neighbourhood: pl.Series  # per organisation: the neighbourhood it is in, or null
    groups: pl.DataFrame  # hard negatives: group (int), kind, org

    def rate(self, rate: float | np.ndarray) -> float | np.ndarray:
        return np.minimum(1.0, np.asarray(rate) * self.noise)

    def missing(self, rate: float | np.ndarray) -> float | np.ndarray:
        return 1.0 - (1.0 - np.asarray(rate)) ** self.noise

    # ---- names ---------------------------------------------------------------------------------
    def vary_names(
        self, base: pl.Series, rec_org: np.ndarray, rec_sys: np.ndarray, rec_kind: np.ndarray
    ) -> tuple[pl.Series, dict[str, np.ndarray]]:
        """Structural name variations of duplicate records, applied to the base name (before the legal form)."""
        rng = _rng(self.seed, NAME_STREAM)
        nr = len(rec_org)
        u = {kind: rng.random(nr) for kind in NAME_RATES if kind != "encoding_damage"}
        form, where, pick = rng.random(nr), rng.random(nr), rng.integers(0, 1 << 30, nr)
        variant = rec_kind > 0
        qualifier_boost = np.where(self.large[rec_org], LARGE_CLUSTER_QUALIFIERS, 1.0)
        kinds: dict[str, np.ndarray] = {}

        def draw(kind: str, boost: float | np.ndarray = 1.0) -> np.ndarray:
            return variant & (u[kind] < self.rate(NAME_RATES[kind] * boost))

        def acronym(v: pl.Series, idx: np.ndarray) -> pl.Series:
            # "NBL" or "NB Logistics" for "Northwind Bay Logistics"; names of fewer than 3 words stay
            words = pl.col("v").str.replace_all(r" (&|and|of|the) ", " ").str.replace(r"^The ", "").str.split(" ")
            initials = pl.col("w").list.eval(pl.element().str.slice(0, 1)).list.join("").str.to_uppercase()
            head = pl.col("w").list.head(pl.col("w").list.len() - 1)
            head_initials = head.list.eval(pl.element().str.slice(0, 1)).list.join("").str.to_uppercase()
            return (
                _frame(v=v, f=form[idx] < 0.5)
                .with_columns(w=words)
                .select(
                    pl.when(pl.col("w").list.len() < 3)
                    .then(pl.col("v"))
                    .when(pl.col("f"))
                    .then(initials)
                    .otherwise(head_initials + " " + pl.col("w").list.last())
                )
                .to_series()
            )

        def inverted(v: pl.Series, idx: np.ndarray) -> pl.Series:
            # "Grill, The" for "The Grill"; "Garcia, Maria Consulting" for a sole trader's "Maria Garcia Consulting"
            return (
                _frame(v=v)
                .select(
                    pl.when(pl.col("v").str.starts_with("The "))
                    .then(pl.col("v").str.replace(r"^The (.+)$", "${1}, The"))
                    .otherwise(pl.col("v").str.replace(r"^(\S+) (\S+)", "${2}, ${1}"))
                )
                .to_series()
            )

        def abbreviated(v: pl.Series, idx: np.ndarray) -> pl.Series:
            # whole words only: pad with spaces, doubled so that neighbouring words both match
            long = [f" {w} " for w in WORD_ABBREVIATIONS]
            short = [f" {w} " for w in WORD_ABBREVIATIONS.values()]
            dotted = [f" {w}. " if w != "Saint" else " Saint " for w in WORD_ABBREVIATIONS.values()]
            padded = pl.lit(" ") + pl.col("v").str.replace_all(" ", "  ", literal=True) + pl.lit(" ")
            return (
                _frame(v=v, dot=form[idx] < 0.4)
                .select(
                    pl.when(pl.col("dot"))
                    .then(padded.str.replace_many(long, dotted))
                    .otherwise(padded.str.replace_many(long, short))
                    .str.replace_all(" +", " ")
                    .str.strip_chars()
                )
                .to_series()
            )

        def dropped_added(v: pl.Series, idx: np.ndarray) -> pl.Series:
            # drop a word after the first one (a leading "The" aside; names of 3+ words, half the time) or add one
            # ("Smith Plumbing & Heating"; never the name's own last word again)
            words = pl.col("v").str.split(" ")
            n = words.list.len()
            first = pl.col("v").str.starts_with("The ").cast(pl.Int64)  # index of the first distinctive word
            at = first + 1 + (pl.col("where") * (n - first - 1)).floor().cast(pl.Int64)
            added = _s(ADDED_WORDS).gather(pick[idx] % len(ADDED_WORDS))
            other = _s(ADDED_WORDS).gather((pick[idx] + 1) % len(ADDED_WORDS))
            return (
                _frame(v=v, drop=form[idx] < 0.5, where=where[idx], add=added, other=other)
                .select(
                    pl.when(pl.col("drop") & (n - first >= 3))
                    .then(
                        pl.concat_list(words.list.slice(0, at), words.list.slice(at + 1))
                        .list.join(" ")
                        .str.replace(r" &$", "")  # "Moving & Storage" without "Storage" is "Moving"
                    )
                    .when(pl.col("v").str.ends_with(pl.col("add")))
                    .then(pl.col("v") + " " + pl.col("other"))
                    .otherwise(pl.col("v") + " " + pl.col("add"))
                )
                .to_series()
            )

        def department(v: pl.Series, idx: np.ndarray) -> pl.Series:
            joiner = _s(DEPARTMENT_JOINERS).gather((pick[idx] // 32) % len(DEPARTMENT_JOINERS))
            return v + joiner + _s(DEPARTMENTS).gather(pick[idx] % len(DEPARTMENTS))

        def location(v: pl.Series, idx: np.ndarray) -> pl.Series:
            # "X at the Mall", "X (Tacoma)", "X - Downtown", "X of Tacoma", "X #112", "X - Tacoma"
            city = _s(CITY_NAMES).gather(self.city[rec_org[idx]])
            return (
                _frame(
                    v=v,
                    f=(form[idx] * 6).astype(np.int64),
                    city=city,
                    venue=_s(VENUES).gather(pick[idx] % len(VENUES)),
                    area=_s(AREAS).gather(pick[idx] % len(AREAS)),
                    store=1 + pick[idx] % 250,
                )
                .select(
                    pl.col("v")
                    + pl.when(pl.col("f") == 0)
                    .then(" at " + pl.col("venue"))
                    .when(pl.col("f") == 1)
                    .then(" (" + pl.col("city") + ")")
                    .when(pl.col("f") == 2)
                    .then(" - " + pl.col("area"))
                    .when(pl.col("f") == 3)
                    .then(" of " + pl.col("city"))
                    .when(pl.col("f") == 4)
                    .then(" #" + pl.col("store").cast(pl.String))
                    .otherwise(" - " + pl.col("city"))
                )
                .to_series()
            )

        def parent(v: pl.Series, idx: np.ndarray) -> pl.Series:
            joiner = _s(PARENT_JOINERS).gather(pick[idx] % len(PARENT_JOINERS))
            return _s(PARENT_NAMES).gather(self.parent[rec_org[idx]]) + joiner + v

        base, kinds["acronym"] = _on(base, draw("acronym"), acronym)
        whole = ~kinds["acronym"]  # an acronym is not varied further here
        can_invert = base.str.starts_with("The ").to_numpy() | self.sole[rec_org]
        base, kinds["inverted_name"] = _on(base, draw("inverted_name") & whole & can_invert, inverted)
        base, kinds["word_abbreviation"] = _on(base, draw("word_abbreviation") & whole, abbreviated)
        base, kinds["words_dropped_added"] = _on(base, draw("words_dropped_added") & whole, dropped_added)
        base, kinds["department_suffix"] = _on(base, draw("department_suffix", qualifier_boost), department)
        base, kinds["location_qualifier"] = _on(base, draw("location_qualifier", qualifier_boost), location)
        base, kinds["parent_prefix"] = _on(base, draw("parent_prefix"), parent)
        return base, kinds

    def damage_names(self, names: pl.Series, rec_sys: np.ndarray, rec_kind: np.ndarray) -> tuple[pl.Series, np.ndarray]:
        """`Children?s`, `CafÃ©`, `Caf` for names with an accent or apostrophe: every crm_legacy record at
        ENCODING_DAMAGE_CRM, other duplicate records at NAME_RATES["encoding_damage"]."""
        rng = _rng(self.seed, DAMAGE_STREAM)
        nr = len(names)
        u, form = rng.random(nr), rng.integers(0, 3, nr)
        duplicate = np.where(rec_kind > 0, self.rate(NAME_RATES["encoding_damage"]), 0.0)
        p = np.where(rec_sys == CRM, self.rate(ENCODING_DAMAGE_CRM), duplicate)

        def damage(v: pl.Series, idx: np.ndarray) -> pl.Series:
            name = pl.col("v")
            return (
                _frame(v=v, f=form[idx])
                .select(
                    pl.when(pl.col("f") == 0)
                    .then(name.str.replace_many(DAMAGED_CHARACTERS, ["?"] * len(DAMAGED_CHARACTERS)))
                    .when(pl.col("f") == 1)
                    .then(name.str.replace_many(DAMAGED_CHARACTERS, MOJIBAKE))
                    .otherwise(name.str.replace_many(DAMAGED_CHARACTERS, [""] * len(DAMAGED_CHARACTERS)))
                )
                .to_series()
            )

        return _on(names, u < p, damage)

    # ---- fields --------------------------------------------------------------------------------
    def domain_present(self, rec_sys: np.ndarray) -> np.ndarray:
        """Whether each record carries its organisation's domain (missing per source system)."""
        rng = _rng(self.seed, DOMAIN_STREAM)
        return rng.random(len(rec_sys)) >= self.missing(np.array(MISSING_DOMAIN))[rec_sys]

    def large_cluster_moves(self, rec_org: np.ndarray, rec_kind: np.ndarray) -> np.ndarray:
        """Records of large clusters at another site of their organisation (a new street address)."""
        rng = _rng(self.seed, MOVE_STREAM)
        return self.large[rec_org] & (rec_kind > 0) & (rng.random(len(rec_org)) < LARGE_CLUSTER_MOVED)

    def vary_fields(
        self,
        geo: pl.DataFrame,
        domain: pl.Series,
        phone: pl.Series,
        rec_org: np.ndarray,
        rec_sys: np.ndarray,
        rec_kind: np.ndarray,
        exch: np.ndarray,
        line: np.ndarray,
    ) -> tuple[pl.DataFrame, pl.Series, pl.Series, dict[str, np.ndarray]]:
        """Missing postal codes and addresses per source system, 7-digit local phones, a neighbourhood as the city,
        garbled addresses; and the field kinds of every record."""
        rng = _rng(self.seed, FIELD_STREAM)
        nr = len(rec_org)
        u = {k: rng.random(nr) for k in ("postal", "phone", "city", "address", "garble")}
        form, number = rng.integers(0, 5, nr), rng.integers(1, 10000, nr)
        local_form, care_of = rng.integers(0, 3, nr), rng.integers(0, len(CARE_OF), nr)
        kinds: dict[str, np.ndarray] = {}

        no_postal = u["postal"] < self.missing(np.array(MISSING_POSTAL))[rec_sys]
        no_address = u["address"] < self.missing(np.array(MISSING_ADDRESS))[rec_sys]
        local = phone.is_not_null().to_numpy() & (u["phone"] < self.rate(np.array(LOCAL_PHONE))[rec_sys])
        neighbourhood = self.neighbourhood.gather(rec_org)
        in_neighbourhood = neighbourhood.is_not_null().to_numpy()
        as_city = in_neighbourhood & (u["city"] < self.rate(np.array(NEIGHBOURHOOD_AS_CITY))[rec_sys])
        garble = (rec_kind > 0) & ~no_address & (u["garble"] < self.rate(GARBLED_ADDRESS))

        def local_phone(v: pl.Series, idx: np.ndarray) -> pl.Series:
            e, ln = pl.col("e").cast(pl.String), pl.col("l").cast(pl.String).str.zfill(4)
            return (
                _frame(e=exch[idx], l=line[idx], f=local_form[idx])
                .select(
                    pl.when(pl.col("f") == 0)
                    .then(e + "-" + ln)
                    .when(pl.col("f") == 1)
                    .then(e + " " + ln)
                    .otherwise(e + ln)
                )
                .to_series()
            )

        phone, kinds["phone_local"] = _on(phone, local, local_phone)

        def city_as_neighbourhood(v: pl.Series, idx: np.ndarray) -> pl.Series:
            upper = v == v.str.to_uppercase()
            hood = neighbourhood.gather(idx)
            return (
                _frame(v=hood, up=upper)
                .select(pl.when(pl.col("up")).then(pl.col("v").str.to_uppercase()).otherwise(pl.col("v")))
                .to_series()
            )

        city, kinds["neighbourhood_city"] = _on(geo["city"], as_city, city_as_neighbourhood)

        def garbled(v: pl.Series, idx: np.ndarray) -> pl.Series:
            # a PO box, the suite first, no house number, the city glued on, a care-of line in front
            address = pl.col("v")
            suite_first = address.str.replace(r"^(.*?),? (Suite|Ste|Unit|#) ?(\S+)$", "${2} ${3}, ${1}")
            return (
                _frame(
                    v=v,
                    f=form[idx],
                    box=number[idx],
                    city=_s(CITY_NAMES).gather(self.city[rec_org[idx]]),
                    co=_s(CARE_OF).gather(care_of[idx]),
                )
                .select(
                    pl.when(pl.col("f") == 0)
                    .then(
                        pl.when(pl.col("box") % 2 == 0).then(pl.lit("PO Box ")).otherwise(pl.lit("P.O. Box "))
                        + pl.col("box").cast(pl.String)
                    )
                    .when(pl.col("f") == 1)
                    .then(
                        pl.when(suite_first != address)
                        .then(suite_first)
                        .otherwise("Unit " + (pl.col("box") % 20 + 1).cast(pl.String) + ", " + address)
                    )
                    .when(pl.col("f") == 2)
                    .then(address.str.replace(r"^[0-9]+[A-Za-z]? ", ""))
                    .when(pl.col("f") == 3)
                    .then(address + " " + pl.col("city"))
                    .otherwise(pl.col("co") + address)
                )
                .to_series()
            )

        address, kinds["address_garbled"] = _on(geo["address"], garble, garbled)
        address = _put(address.clone(), np.flatnonzero(no_address), None)
        postal = geo["postal_code"]
        postal = _put(postal.clone(), np.flatnonzero(no_postal), None)
        geo = geo.with_columns(address=address, city=city, postal_code=postal)
        kinds["domain_missing"] = domain.is_null().to_numpy()
        kinds["phone_missing"] = phone.is_null().to_numpy()
        kinds["postal_missing"] = postal.is_null().to_numpy()
        kinds["address_missing"] = address.is_null().to_numpy()
        return geo, domain, phone, kinds

    # ---- truth ---------------------------------------------------------------------------------
    def describe(self, kinds: dict[str, np.ndarray], rec_org: np.ndarray) -> pl.Series:
        """Each record's variation kinds, `;`-separated in VARIATION_KINDS order ("" for none)."""
        kinds = {**kinds, "large_cluster": self.large[rec_org]}
        unknown = set(kinds) - set(VARIATION_KINDS)
        assert not unknown, unknown
        code = np.zeros(len(rec_org), np.int64)  # one bit per kind, so that only distinct codes become text
        for bit, kind in enumerate(VARIATION_KINDS):
            if kind in kinds:
                code |= kinds[kind].astype(np.int64) << bit
        distinct, index = np.unique(code, return_inverse=True)
        text = [";".join(k for bit, k in enumerate(VARIATION_KINDS) if c >> bit & 1) for c in distinct.tolist()]
        return _s(text).gather(index).alias("variations")

    def hard_negatives(self, entity_width: int) -> pl.DataFrame:
        """One row per hard-negative group: group_id, kind, entity_ids (`;`-separated, sorted)."""
        entity = pl.lit("ORG-") + (pl.col("org") + 1).cast(pl.String).str.zfill(entity_width)
        return (
            self.groups.with_columns(entity_id=entity)
            .group_by("group", "kind")
            .agg(pl.col("entity_id").unique().sort())
            .filter(pl.col("entity_id").list.len() >= 2)
            .sort("group")
            .select(
                group_id=pl.lit("HN-") + pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(6),
                kind="kind",
                entity_ids=pl.col("entity_id").list.join(";"),
            )
        )


def harden_organisations(seed: int, o: dict, noise: float, max_extra_records: int) -> HardProfile:
    """Rewrite the organisations `o` (in place) for the hard profile and return the profile's record hooks."""
    rng = _rng(seed, ORG_STREAM)
    n = o["n"]
    base, domain, industry, city = o["base"].clone(), o["domain"].clone(), o["industry"], o["city"]
    city_names = _s(CITY_NAMES)
    branch = o["group"] >= 0
    grouped = branch.copy()
    frames = []

    def add_groups(kind: str, members: np.ndarray, group: np.ndarray) -> None:
        if len(members) == 0:
            return
        offset = int(frames[-1]["group"].max()) + 1 if frames else 0
        frames.append(pl.DataFrame({"group": group + offset, "kind": kind, "org": members}, strict=False))
        grouped[members] = True

    if branch.any():
        members = np.flatnonzero(branch)
        add_groups("branch", members, np.unique(o["group"][members], return_inverse=True)[1].astype(np.int64))

    # ---- organisations real data is full of: sole traders, "The ...", hospitals, delis, saints, possessives
    u = rng.random(n)
    sole = ~branch & ~o["national"] & (u < SOLE_TRADER_SHARE)
    article = ~branch & ~sole & (rng.random(n) < ARTICLE_SHARE)
    special = ~branch & ~sole & ~article & (rng.random(n) < SPECIAL_NAME_SHARE)
    given, surname = rng.integers(0, len(FIRST_NAMES), n), rng.integers(0, len(SURNAMES), n)
    with_noun, noun = rng.random(n) < 0.7, rng.integers(0, len(NOUNS), n)
    pattern, word = _pick(rng, (0.35, 0.25, 0.2, 0.2), n), rng.integers(0, 1 << 30, n)
    special_noun = rng.integers(0, len(SPECIAL_NOUNS), n)
    candidate = base.clone()
    i = np.flatnonzero(sole)
    person = _s(FIRST_NAMES).gather(given[i]) + " " + _s(SURNAMES).gather(surname[i])
    candidate = _put(
        candidate,
        i,
        _frame(p=person, n=_s(NOUNS).gather(noun[i]), w=with_noun[i])
        .select(pl.when("w").then(pl.col("p") + " " + pl.col("n")).otherwise("p"))
        .to_series(),
    )
    i = np.flatnonzero(article)
    candidate = _put(candidate, i, "The " + base.gather(i))
    i = np.flatnonzero(special)
    prefix = (
        _frame(
            f=pattern[i],
            w1=_s(WORDS1).gather(word[i] % len(WORDS1)),
            place=_s(PLACES).gather(word[i] % len(PLACES)),
            saint=_s(SAINTS).gather(word[i] % len(SAINTS)),
            surname=_s(SURNAMES).gather(word[i] % len(SURNAMES)),
        )
        .select(
            pl.when(pl.col("f") == 0)
            .then("w1")
            .when(pl.col("f") == 1)
            .then("place")
            .when(pl.col("f") == 2)
            .then("St. " + pl.col("saint"))
            .otherwise(pl.col("surname") + "'s")
        )
        .to_series()
    )
    candidate = _put(candidate, i, prefix + " " + _s([s for s, _ in SPECIAL_NOUNS]).gather(special_noun[i]))
    renamed = sole | article | special
    keep = renamed & ~_name_key(candidate).is_duplicated().to_numpy()  # one that would be shared stays as it was
    sole, article, special = sole & keep, article & keep, special & keep
    i = np.flatnonzero(keep)
    base = _put(base, i, candidate.gather(i))
    industry[sole & with_noun] = NOUN_INDUSTRY[noun[sole & with_noun]]
    industry[special] = np.array([INDUSTRY_OF[label] for _, label in SPECIAL_NOUNS])[special_noun[special]]
    # domains: a special name its own; a sole trader a web-mail address (40%), none (40%) or its own (20%)
    mail, kind_u = rng.integers(0, len(WEBMAIL_DOMAINS), n), rng.random(n)
    i = np.flatnonzero(special | (sole & (kind_u >= 0.8)))
    domain = _put(domain, i, _domains(rng, base.gather(i), o["ca"][i]))
    i = np.flatnonzero(sole & (kind_u < 0.4))
    domain = _put(domain, i, _s(WEBMAIL_DOMAINS).gather(mail[i]))
    domain = _put(domain, np.flatnonzero(sole & (kind_u >= 0.4) & (kind_u < 0.8)), None)

    # ---- hard negatives, from one shuffled pool (no organisation in two groups)
    pool = rng.permutation(np.flatnonzero(~branch & ~sole))
    counts = {kind: int(round(min(1.0, share * noise) * n)) for kind, share in HARD_NEGATIVE_SHARES.items()}
    scale = min(1.0, 0.6 * len(pool) / max(1, sum(counts.values())))
    starts = np.cumsum([0] + [int(c * scale) for c in counts.values()])
    segment = {kind: pool[starts[k] : starts[k + 1]] for k, kind in enumerate(counts)}

    def own_domains(members: np.ndarray, names: pl.Series) -> pl.Series:
        """A local site's domain: the name and the city ("summitdentaltacoma.com")."""
        return _domains(rng, names + " " + city_names.gather(city[members]), o["ca"][members])

    # same name in another city (a chain's stores, separately owned or billed); half share the chain's domain
    members, group = _one_per_city(*_groups(rng, segment["chain_other_city"], (0.5, 0.3, 0.2)), city)
    leader, rank = _leaders(members, group)
    brand = base.gather(leader)
    base = _put(base, members, brand)
    o["sfx"][members], industry[members] = o["sfx"][leader], industry[leader]
    shared = (rng.random(len(members)) < 0.5)[group] if len(members) else np.zeros(0, bool)
    mine = ~shared & (rank > 0)
    domain = _put(domain, members[shared], domain.gather(leader[shared]))
    domain = _put(domain, members[mine], own_domains(members[mine], brand.filter(pl.Series(mine))))
    add_groups("chain_other_city", members, group)

    # franchisees: the brand's name, half with a location ("Brand - Tacoma", "Brand #112"), 80% the brand's domain
    members, group = _one_per_city(*_groups(rng, segment["franchise"], (0.3, 0.3, 0.2, 0.1, 0.1)), city)
    leader, rank = _leaders(members, group)
    brand = base.gather(leader)
    m = len(members)
    qualified = (rank > 0) & (rng.random(m) < 0.5)
    where_ = city_names.gather(city[members])
    qualifier = (
        _frame(f=rng.integers(0, 4, m), c=where_, s=rng.integers(1, 400, m))
        .select(
            pl.when(pl.col("f") == 0)
            .then(" - " + pl.col("c"))
            .when(pl.col("f") == 1)
            .then(" of " + pl.col("c"))
            .when(pl.col("f") == 2)
            .then(" #" + pl.col("s").cast(pl.String))
            .otherwise(" " + pl.col("c"))
        )
        .to_series()
    )
    base = _put(
        base,
        members,
        _frame(b=brand, q=qualifier, x=qualified)
        .select(pl.when("x").then(pl.col("b") + pl.col("q")).otherwise("b"))
        .to_series(),
    )
    industry[members] = industry[leader]
    brand_domain = (rank > 0) & (rng.random(m) < 0.8)
    mine = (rank > 0) & ~brand_domain
    domain = _put(domain, members[brand_domain], domain.gather(leader[brand_domain]))
    domain = _put(domain, members[mine], own_domains(members[mine], brand.filter(pl.Series(mine))))
    add_groups("franchise", members, group)

    # common generic names ("Quality Auto Repair": a generic word, Zipf-distributed, and a noun of the industry),
    # each given to a group of 2-6 organisations anywhere (two in one city too); groups that draw the same name
    # become one; half without a website, the others a local domain
    members, group = _groups(rng, segment["generic_name"], (0.4, 0.25, 0.15, 0.1, 0.1))
    leader, _ = _leaders(members, group)
    n_groups = int(group.max()) + 1 if len(group) else 0
    word = _pick(rng, np.arange(1, len(GENERIC_WORDS) + 1, dtype=np.float64) ** -1.0, n_groups)
    noun = industry[leader] * NOUNS_PER_INDUSTRY + rng.integers(0, NOUNS_PER_INDUSTRY, n_groups)[group]
    names = _s(GENERIC_WORDS).gather(word[group]) + " " + _s(NOUNS).gather(noun)
    base = _put(base, members, names)
    industry[members] = industry[leader]
    no_site = rng.random(len(members)) < 0.5
    domain = _put(domain, members, own_domains(members, names))
    domain = _put(domain, members[no_site], None)
    # (their groups are formed below, with every other name that different organisations share)

    # tenants of one building: one address, a suite each; 40% of buildings share a switchboard phone
    members, group = _groups(rng, segment["same_building"], (0.4, 0.3, 0.15, 0.1, 0.05))
    leader, rank = _leaders(members, group)
    for key in ("city", "ca", "num", "street", "stype"):
        o[key][members] = o[key][leader]
    floor = rng.integers(1, 20, len(members))[group] if len(members) else np.zeros(0, np.int64)
    o["suite"][members] = (floor + rank) * 100 + rng.integers(0, 3, len(members))
    for key in ("postal", "plus4", "area"):
        o[key] = _put(o[key], members, o[key].gather(leader))
    switchboard = (rng.random(len(members)) < 0.4)[group] if len(members) else np.zeros(0, bool)
    o["exch"][members[switchboard]] = o["exch"][leader[switchboard]]
    o["line"][members[switchboard]] = o["line"][leader[switchboard]]
    add_groups("same_building", members, group)
    building_members, building_leaders = members, leader

    # a parent and its subsidiaries ("Acme", "Acme Financial Services"): one address, one domain, half one phone
    members, group = _groups(rng, segment["parent_subsidiary"], (0.7, 0.3))
    leader, rank = _leaders(members, group)
    m = len(members)
    offset = rng.integers(0, len(DIVISIONS), m)[group] if m else np.zeros(0, np.int64)
    division = _s(DIVISIONS).gather((offset + rank - 1) % len(DIVISIONS))
    child = rank > 0
    base = _put(base, members[child], (base.gather(leader) + " " + division).filter(pl.Series(child)))
    for key in ("city", "ca", "num", "street", "stype", "suite"):
        o[key][members] = o[key][leader]
    for key in ("postal", "plus4", "area"):
        o[key] = _put(o[key], members, o[key].gather(leader))
    domain = _put(domain, members, domain.gather(leader))
    one_phone = (rng.random(m) < 0.5)[group] if m else np.zeros(0, bool)
    o["exch"][members[one_phone]] = o["exch"][leader[one_phone]]
    o["line"][members[one_phone]] = o["line"][leader[one_phone]]
    add_groups("parent_subsidiary", members, group)
    # organisations at one address: tenants, subsidiaries, branches (a branch group's leader: its first member)
    branch_members = np.flatnonzero(branch)
    branch_group = o["group"][branch_members]
    order = np.argsort(branch_group, kind="stable")
    branch_leaders, _ = _leaders(branch_members[order], branch_group[order])
    address_members = np.concatenate([building_members, members, branch_members[order]])
    address_leaders = np.concatenate([building_leaders, leader, branch_leaders])

    # a name shared by organisations that are not one chain or franchise (every generic name; also two name
    # patterns meeting, "Riverside" the word and "Riverside" the place): one generic_name group per name
    alone = n + np.arange(n)  # an organisation outside chains and franchises is its own key
    for frame in frames:
        if frame["kind"][0] in ("chain_other_city", "franchise"):
            alone[frame["org"].to_numpy()] = frame["group"].to_numpy()
    shared = (
        pl.DataFrame({"org": np.arange(n), "name": _name_key(base), "key": alone})
        .filter(pl.col("key").n_unique().over("name") >= 2)
        .sort("name", "org")
        .with_columns(which=pl.col("name").rank("dense").cast(pl.Int64) - 1)
    )
    add_groups("generic_name", shared["org"].to_numpy(), shared["which"].to_numpy())

    # ---- large clusters: national organisations first, outside every group
    candidates = np.flatnonzero(~grouped & ~sole)
    k = min(int(round(LARGE_CLUSTER_SHARE * n)), len(candidates))
    large = np.zeros(n, bool)
    extra_org = extra_sys = np.zeros(0, np.int64)
    if k:
        weight = np.where(o["national"][candidates], 5.0, 1.0)
        chosen = np.sort(rng.choice(candidates, size=k, replace=False, p=weight / weight.sum()))
        extra = rng.integers(LARGE_CLUSTER_EXTRA[0], LARGE_CLUSTER_EXTRA[1] + 1, k)
        fits = np.cumsum(extra) <= max_extra_records
        chosen, extra = chosen[fits], extra[fits]
        large[chosen] = True
        extra_org = np.repeat(chosen, extra).astype(np.int64)
        prim = o["primary_sys"][extra_org]
        other = (prim + 1 + rng.integers(0, 2, len(extra_org))) % 3
        extra_sys = np.where(rng.random(len(extra_org)) < 0.5, prim, other).astype(np.int64)

    # ---- neighbourhoods (tenants and subsidiaries in their building's), parents' names, no website
    flat = [(c, hood) for c, name in enumerate(CITY_NAMES) for hood in NEIGHBOURHOODS.get(name, ())]
    hoods_of = np.bincount([c for c, _ in flat], minlength=len(CITIES))
    first_hood = np.concatenate([[0], np.cumsum(hoods_of)[:-1]])
    located = (hoods_of[city] > 0) & (rng.random(n) < NEIGHBOURHOOD_SHARE)
    hood = first_hood[city] + np.floor(rng.random(n) * hoods_of[city]).astype(np.int64)
    hood[address_members] = hood[address_leaders]
    located[address_members] = located[address_leaders]
    neighbourhood = (
        _frame(h=_s([h for _, h in flat]).gather(np.minimum(hood, len(flat) - 1)), x=located)
        .select(pl.when("x").then("h"))
        .to_series()
    )
    # a parent organisation's name: a word or surname and "Health", "Group" ... (index into PARENT_NAMES)
    parent = rng.integers(0, len(PARENT_NAMES), n)
    no_website = ~o["national"] & ~grouped & ~sole & ~large & (rng.random(n) < NO_WEBSITE_SHARE)
    domain = _put(domain, np.flatnonzero(no_website), None)

    groups = (
        pl.concat(frames) if frames else pl.DataFrame(schema={"group": pl.Int64, "kind": pl.String, "org": pl.Int64})
    )
    o["base"], o["domain"], o["industry"] = base, domain, industry
    group_of = np.full(n, -1, np.int64)
    group_of[groups["org"].to_numpy()] = groups["group"].to_numpy()
    o["group"] = group_of  # every grouped organisation: never a "safe" account for picks and overrides
    profile = HardProfile(
        seed=seed,
        noise=noise,
        extra_org=extra_org,
        extra_sys=extra_sys,
        large=large,
        sole=sole,
        city=o["city"].copy(),
        parent=parent,
        neighbourhood=neighbourhood,
        groups=groups,
    )
    return profile
