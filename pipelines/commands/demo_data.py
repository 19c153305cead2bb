"""Seeded, realistic demo and benchmark input generator for alms.

``generate_demo_data(out_dir, clients=...)`` writes a complete input folder:

    clients/<source_system>.<ext>                  one file per source system
    billing/<source_system>_<YYYY-MM>.<ext>        invoice lines, one file per system per month
    engagement/<source_system>_<YYYY-MM>.<ext>     engagement events, one file per system per month
    opportunities/<source_system>.<ext>            deals on client records, one file per system
    prospects/prospects.<ext>                      organisations not billing yet (lead candidates)
    sellers.<ext>, fx_rates.<ext>
    seller_picks.csv                               a few sellers' own targets and leads (all valid)
    overrides.csv                                  front-line tier / designation overrides (one expired)
    _truth/client_entities.csv                     true organisation behind every client record
    _truth/faults.csv                              every deliberately faulty billing line
    _truth/prospect_entities.csv                   the organisation of each prospect that is a client
    _truth/record_variations.csv                   profile "hard" only: the variation kinds of every record
    _truth/hard_negatives.csv                      profile "hard" only: groups of confusable organisations

``ext`` is ``csv`` or ``parquet``; ``seller_picks``, ``overrides`` and the ``_truth`` files are
always CSV.  ``clients`` (the number of client records over all source systems) is the single
scale knob: billing lines are about 10x, engagement events about 5x, deals 0.4x and prospects
0.15x (at least 30) that number.  Everything is vectorised (numpy + polars) and a pure function
of the arguments: the same arguments give the same bytes.  Each part draws from its own random
stream, so the scoring inputs (deals, prospects, picks, overrides, the survey and health signals
in the engagement) never move the clients, billing, sellers or fx rates.

Data model: organisations are the truth.  Each organisation has a primary record in one source
system (``nat_erp`` for national accounts, ``loc_billing`` for local ones, a few in the small
``crm_legacy``), about a quarter also have a record in a second system and ~1.5% a duplicate
record inside their primary system.  Secondary records carry realistic variations (legal suffix,
case, punctuation, abbreviations, "The", accents, 1-character typos, different address/phone
formats).  Hard cases are included: branches that share a head-office address, switchboard phone
and domain ("Acme Holdings East" / "Acme Holdings West"), and distinct organisations with similar
common-word names.

Scoring signals: deals are more frequent and larger for large, national and growing (new)
organisations, ~60% open; about a tenth of the steady organisations and every churning one are
"at risk" (product usage fading, support tickets piling up, low survey scores), a sixth plus the
new ones are growing (usage rising).  A few organisations without billing have an open deal
(pipeline accounts).  ~3% of the prospects are existing clients under a variant name.

Profiles: ``demo`` (the default, described above) and ``hard`` (``pipelines/commands/demo_data_hard.py``, built on the
same organisations: the name and field variations, large clusters and hard negatives real records have; see
docs/generator.md).

This module is Dagster-free: only numpy, polars and the standard library.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from assets.rules import inputs

if TYPE_CHECKING:
    from pipelines.commands.demo_data_hard import HardProfile

__all__ = ["generate_demo_data", "main", "SYSTEMS", "FAULT_REASONS", "REPORTING_CURRENCY", "PROFILES"]

SYSTEMS = ("nat_erp", "loc_billing", "crm_legacy")
NAT, LOC, CRM = 0, 1, 2
REPORTING_CURRENCY = "USD"
PROFILES = ("demo", "hard")
CURRENCIES = ("USD", "CAD", "EUR")
USD, CAD, EUR = 0, 1, 2
FX_BASE = {"CAD": 0.73, "EUR": 1.08}

FAULT_REASONS = (
    "unparseable_date",
    "unparseable_amount",
    "unknown_currency",
    "unknown_client",
    "missing_value",
    "duplicate_line",
    "absurd_amount",
)

CLIENT_COLUMNS = list(inputs.CLIENTS.columns)
BILLING_COLUMNS = list(inputs.BILLING.columns)
ENGAGEMENT_COLUMNS = list(inputs.ENGAGEMENT.columns)
SELLER_COLUMNS = list(inputs.SELLERS.columns)
FX_COLUMNS = list(inputs.FX_RATES.columns)
OPPORTUNITY_COLUMNS = list(inputs.OPPORTUNITIES.columns)
PROSPECT_COLUMNS = list(inputs.PROSPECTS.columns)
PICK_COLUMNS = list(inputs.SELLER_PICKS.columns)
OVERRIDE_COLUMNS = list(inputs.ACCOUNT_OVERRIDES.columns)
TRUTH_CLIENT_COLUMNS = ["source_system", "source_client_id", "entity_id"]
TRUTH_PROSPECT_COLUMNS = ["prospect_id", "entity_id"]
TRUTH_FAULT_COLUMNS = ["input", "source_file", "source_row", "expected_reason"]

# Shares of the organisation population / records (tuned so records = clients exactly).
CROSS_SHARE = 0.25  # organisations with a record in a second system
DUP_SHARE = 0.015  # organisations with a duplicate record inside their primary system
LINES_PER_CLIENT = 10.0
EVENTS_PER_CLIENT = 5.0

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------


def _words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


WORDS1 = _words(
    "Northwind Bluebird Summit Acme Pioneer Evergreen Redwood Silverline Ironwood Keystone "
    "Lakeside Riverbend Cedar Maple Granite Horizon Atlas Beacon Cobalt Crescent Falcon Harbor "
    "Highland Liberty Meridian Nova Orion Pinnacle Prairie Quantum Sterling Trident Vanguard "
    "Vertex Westwind Apex Aspen Bayview Birch Brightwater Cardinal Cascade Centennial Clearwater "
    "Coastal Compass Copper Cornerstone Cypress Eagle Eastgate Echo Emerald Empire Everest "
    "Frontier Gateway Golden Greenfield Guardian Heritage Hillcrest Hudson Imperial Jade Juniper "
    "Kestrel Lighthouse Lincoln Magnolia Majestic Marigold Milestone Monarch Mosaic Northstar "
    "Oakridge Olympic Omega Onyx Pacific Paramount Patriot Peregrine Phoenix Polaris Premier "
    "Prestige Radiant Raven Regal Reliance Ridgeline Rockwell Royal Sapphire Sentinel Sequoia "
    "Shoreline Sierra Skyline Solstice Spartan Spruce Starlight Stonebridge Sunrise Sunset "
    "Superior Tamarack Titan Topaz Trillium Tristar Unity Valley Victory Vista Wavecrest Willow "
    "Windsor Zenith Alder Amber Arrow Aurora Birchwood Blackstone Bluewater Boulder Bridgeport "
    "Brookside Canyon Capstone Catalyst Chinook Citadel Clover Condor Crestview Crystal Delta "
    "Driftwood Elm Ember Fairview Fernwood Firefly Foxglove Glacier Greystone Harvest Hawthorne "
    "Heron Hickory Iris Ivory Kingfisher Lakeshore Laurel Legacy Lodestar Lotus Mariner Meadow "
    "Mesa Midland Mistral Noble Oasis Osprey Parkside Pebble Pelican Pinecrest Quarry Rainier "
    "Redstone Riverside Rosewood Saffron Sagebrush Seaside Shamrock Silverado Sparrow Stellar "
    "Stonegate Sycamore Thistle Timber Torrent Tundra Upland Valor Verdant Westbrook Wildflower "
    "Woodland Élan Boréal Crème Étoile"
)

WORDS2 = _words(
    "Bay Creek Ridge Point Peak Hill Rock Field Brook Lake River Grove Springs Falls Forge Gate "
    "Bridge Crest Park Star Wind Wave Light Line Path Trail Port Haven Shore Glen Dale Wood "
    "Mountain Mill Sky Sun Moon Cloud Fire Stone Hawk Wolf Bear Fox Elk Bison Orca Lynx Otter "
    "Crane Arc Key Loop Mark North South West East Coast"
)

SURNAMES = _words(
    "Smith Johnson Williams Brown Jones Miller Davis Garcia Rodriguez Wilson Martinez Anderson "
    "Taylor Thomas Hernandez Moore Martin Jackson Thompson White Lopez Lee Gonzalez Harris Clark "
    "Lewis Robinson Walker Perez Hall Young Allen Sanchez Wright King Scott Green Baker Adams "
    "Nelson Hill Ramirez Campbell Mitchell Roberts Carter Phillips Evans Turner Torres Parker "
    "Collins Edwards Stewart Flores Morris Nguyen Murphy Rivera Cook Rogers Morgan Peterson "
    "Cooper Reed Bailey Bell Gomez Kelly Howard Ward Cox Diaz Richardson Wood Watson Brooks "
    "Bennett Gray James Reyes Cruz Hughes Price Myers Long Foster Sanders Ross Morales Powell "
    "Sullivan Russell Ortiz Jenkins Gutierrez Perry Butler Barnes Fisher Henderson Coleman "
    "Simmons Patterson Jordan Reynolds Hamilton Graham Kim Gonzales Alexander Ramos Wallace "
    "Griffin West Cole Hayes Chavez Gibson Bryant Ellis Stevens Murray Ford Marshall Owens "
    "McDonald Harrison Ruiz Kennedy Wells Alvarez Woods Mendoza Castillo Olson Webb Washington "
    "Tucker Freeman Burns Henry Vasquez Snyder Simpson Crawford Jimenez Porter Mason Shaw Gordon "
    "Wagner Hunter Romero Hicks Dixon Hunt Palmer Robertson Black Holmes Stone Meyer Boyd Mills "
    "Warren Fox Rose Rice Moreno Schmidt Patel Ferguson Nichols Herrera Medina Ryan Fernandez "
    "Weaver Daniels Stephens Gardner Payne Kelley Dunn Pierce Arnold Tran Spencer Peters Hawkins "
    "Grant Hansen Castro Hoffman Hart Elliott Cunningham Knight Bradley Tremblay Gagnon Roy Côté "
    "Bouchard Gauthier Morin Lavoie Fortin Gagné Ouellet Pelletier Bélanger Lévesque Bergeron "
    "Leblanc Paquette Girard Simard Boucher Caron Beaulieu Cloutier Dubé Poirier Fournier "
    "Lapointe Leclerc Lefebvre Poulin Thibault St-Pierre O'Brien O'Neil MacDonald MacLeod Chen "
    "Wong Singh Li Wang Zhang Liu Yang Huang"
)

PLACES = _words(
    "Oakville|Springfield|Riverside|Fairfield|Georgetown|Franklin|Greenville|Bristol|Clinton|"
    "Salem|Madison|Arlington|Ashland|Burlington|Chester|Dover|Kingston|Lexington|Manchester|"
    "Milford|Newport|Oxford|Plymouth|Richmond|Troy|Winchester|Auburn|Camden|Durham|Marion|Monroe|"
    "Mount Vernon|Centerville|Lakewood|Brookfield|Waterloo|Guelph|Laval|Gatineau|Sherbrooke|"
    "Trois-Rivières|Lévis|Saguenay|Kelowna|Nanaimo|Kamloops|Moncton|Fredericton|Regina|Saskatoon|"
    "Barrie|Sudbury|Oshawa|Markham|Mississauga|Brampton|Burnaby|Coquitlam|Lethbridge|Red Deer|"
    "Tacoma|Spokane|Boise|Tulsa|Omaha|Wichita|Fresno|Reno|Dayton|Akron|Toledo|Albany|Syracuse|"
    "Hartford|Providence|Savannah|Charleston|Knoxville|Chattanooga|Lubbock|El Paso|Tucson|"
    "Bakersfield|Modesto|Stockton",
    "|",
)

INDUSTRIES = (
    (
        "Healthcare",
        (
            "Dental Group",
            "Dental Services",
            "Medical Center",
            "Health Services",
            "Family Clinic",
            "Pharmacy",
            "Veterinary Hospital",
            "Physiotherapy",
        ),
    ),
    (
        "Manufacturing",
        (
            "Manufacturing",
            "Industries",
            "Fabrication",
            "Machine Works",
            "Plastics",
            "Metalworks",
            "Tool & Die",
            "Precision Parts",
        ),
    ),
    (
        "Transportation & Logistics",
        (
            "Logistics",
            "Freight",
            "Transport",
            "Trucking",
            "Shipping",
            "Distribution",
            "Moving & Storage",
            "Courier Services",
        ),
    ),
    (
        "Construction",
        ("Construction", "Builders", "Contracting", "Roofing", "Paving", "Homes", "Excavating", "Electrical Services"),
    ),
    (
        "Professional Services",
        (
            "Consulting",
            "Associates",
            "Partners",
            "Advisory",
            "Accounting Services",
            "Law Group",
            "Engineering",
            "Services",
        ),
    ),
    ("Retail", ("Supply", "Hardware", "Outfitters", "Market", "Boutique", "Trading", "Furniture", "Home & Garden")),
    (
        "Technology",
        ("Software", "Systems", "Technologies", "Networks", "Data Services", "Digital", "Labs", "IT Services"),
    ),
    (
        "Hospitality",
        ("Hotels", "Restaurant Group", "Catering", "Bakery", "Café", "Brewing", "Inn & Suites", "Hospitality"),
    ),
    (
        "Financial Services",
        (
            "Capital",
            "Financial",
            "Insurance",
            "Investments",
            "Holdings",
            "Credit Services",
            "Wealth Management",
            "Mortgage",
        ),
    ),
    (
        "Real Estate",
        (
            "Properties",
            "Realty",
            "Property Management",
            "Development",
            "Estates",
            "Land Trust",
            "Real Estate",
            "Management Group",
        ),
    ),
    (
        "Education",
        (
            "Academy",
            "Learning Center",
            "Institute",
            "School",
            "Tutoring Services",
            "Training",
            "Education Services",
            "Montessori",
        ),
    ),
    (
        "Automotive",
        (
            "Auto Repair",
            "Motors",
            "Auto Parts",
            "Collision Center",
            "Tire & Service",
            "Auto Sales",
            "Car Wash",
            "Auto Body",
        ),
    ),
)
INDUSTRY_LABELS = [label for label, _ in INDUSTRIES]
NOUNS = [noun for _, nouns in INDUSTRIES for noun in nouns]
NOUN_INDUSTRY = np.array([i for i, (_, nouns) in enumerate(INDUSTRIES) for _ in nouns], dtype=np.int64)

# Name templates: tuple of slots; a slot is a vocabulary key or a literal (prefixed with "=").
_VOCAB = {"W1": WORDS1, "W2": WORDS2, "S": SURNAMES, "P": PLACES, "N": NOUNS}
NAME_PATTERNS = (
    (0.20, ("W1", "N")),  # Summit Dental Services
    (0.24, ("W1", "W2", "N")),  # Northwind Bay Logistics
    (0.13, ("S", "N")),  # Miller Consulting
    (0.17, ("S", "=&", "S", "N")),  # Miller & Chen Associates
    (0.04, ("S", "=Brothers", "N")),  # Johnson Brothers Roofing
    (0.03, ("S", "=& Sons", "N")),  # Tremblay & Sons Construction
    (0.11, ("P", "N")),  # Oakville Auto Body
    (0.08, ("W1", "=International", "N")),  # Pioneer International Trading
)

# Legal suffix classes; each class lists its surface forms (first = canonical), joiner included.
SUFFIX_FORMS = (
    ("",),
    (" Inc", " Inc.", ", Inc.", " Incorporated", ""),
    (" LLC", " L.L.C.", ", LLC", ""),
    (" Ltd", " Ltd.", " Limited", ""),
    (" Corp", " Corp.", " Corporation", ""),
    (" Co", " Co.", " Company", ""),
    (" GmbH", ""),
)
SUFFIX_P_US = (0.18, 0.34, 0.30, 0.00, 0.10, 0.06, 0.02)
SUFFIX_P_CA = (0.18, 0.34, 0.00, 0.34, 0.08, 0.04, 0.02)

ABBREVIATIONS = {
    "International": "Intl",
    "Manufacturing": "Mfg",
    "Services": "Svcs",
    "Associates": "Assoc",
    "Brothers": "Bros",
    "Management": "Mgmt",
    "Technologies": "Tech",
    "Distribution": "Dist",
    "Center": "Ctr",
    "Development": "Dev",
}
ACCENTS = {
    "é": "e",
    "è": "e",
    "ê": "e",
    "ë": "e",
    "à": "a",
    "â": "a",
    "ç": "c",
    "î": "i",
    "ï": "i",
    "ô": "o",
    "û": "u",
    "ù": "u",
    "É": "E",
    "È": "E",
    "Ê": "E",
    "À": "A",
    "Ç": "C",
    "Ô": "O",
    "Î": "I",
}
BRANCH_WORDS = ("East", "West", "North", "South", "Central", "Midwest", "Pacific", "Atlantic")

# (city, country, area codes, postal prefixes: 3-digit ZIP prefix (US) / FSA letter (CA))
CITIES = (
    ("New York", "US", ("212", "646", "917"), ("100", "101", "104")),
    ("Los Angeles", "US", ("213", "310", "323"), ("900", "902")),
    ("Chicago", "US", ("312", "773"), ("606",)),
    ("Houston", "US", ("713", "832"), ("770",)),
    ("Phoenix", "US", ("602", "480"), ("850",)),
    ("Philadelphia", "US", ("215", "267"), ("191",)),
    ("San Antonio", "US", ("210",), ("782",)),
    ("San Diego", "US", ("619", "858"), ("921",)),
    ("Dallas", "US", ("214", "972"), ("752",)),
    ("San Jose", "US", ("408",), ("951",)),
    ("Austin", "US", ("512",), ("787",)),
    ("Jacksonville", "US", ("904",), ("322",)),
    ("Columbus", "US", ("614",), ("432",)),
    ("Charlotte", "US", ("704",), ("282",)),
    ("Indianapolis", "US", ("317",), ("462",)),
    ("San Francisco", "US", ("415",), ("941",)),
    ("Seattle", "US", ("206",), ("981",)),
    ("Denver", "US", ("303", "720"), ("802",)),
    ("Washington", "US", ("202",), ("200",)),
    ("Boston", "US", ("617",), ("021",)),
    ("Nashville", "US", ("615",), ("372",)),
    ("Detroit", "US", ("313",), ("482",)),
    ("Portland", "US", ("503",), ("972",)),
    ("Las Vegas", "US", ("702",), ("891",)),
    ("Memphis", "US", ("901",), ("381",)),
    ("Louisville", "US", ("502",), ("402",)),
    ("Baltimore", "US", ("410",), ("212",)),
    ("Milwaukee", "US", ("414",), ("532",)),
    ("Albuquerque", "US", ("505",), ("871",)),
    ("Sacramento", "US", ("916",), ("958",)),
    ("Kansas City", "US", ("816",), ("641",)),
    ("Atlanta", "US", ("404", "678"), ("303",)),
    ("Miami", "US", ("305", "786"), ("331",)),
    ("Minneapolis", "US", ("612",), ("554",)),
    ("Cleveland", "US", ("216",), ("441",)),
    ("Tampa", "US", ("813",), ("336",)),
    ("Pittsburgh", "US", ("412",), ("152",)),
    ("Cincinnati", "US", ("513",), ("452",)),
    ("St. Louis", "US", ("314",), ("631",)),
    ("Salt Lake City", "US", ("801",), ("841",)),
    ("Raleigh", "US", ("919",), ("276",)),
    ("Buffalo", "US", ("716",), ("142",)),
    ("Toronto", "CA", ("416", "647"), ("M",)),
    ("Montréal", "CA", ("514", "438"), ("H",)),
    ("Vancouver", "CA", ("604", "778"), ("V",)),
    ("Calgary", "CA", ("403", "587"), ("T",)),
    ("Edmonton", "CA", ("780",), ("T",)),
    ("Ottawa", "CA", ("613",), ("K",)),
    ("Winnipeg", "CA", ("204",), ("R",)),
    ("Québec", "CA", ("418",), ("G",)),
    ("Hamilton", "CA", ("905",), ("L",)),
    ("Kitchener", "CA", ("519",), ("N",)),
    ("London", "CA", ("519",), ("N",)),
    ("Halifax", "CA", ("902",), ("B",)),
    ("Victoria", "CA", ("250",), ("V",)),
    ("Saskatoon", "CA", ("306",), ("S",)),
    ("Mississauga", "CA", ("905",), ("L",)),
    ("Laval", "CA", ("450",), ("H",)),
    ("Gatineau", "CA", ("819",), ("J",)),
)
CA_SHARE = 0.25
CA_LETTERS = "ABCEGHJKLMNPRSTVWXYZ"

STREETS = _words(
    "Main|Oak|Maple|Cedar|Pine|Elm|Washington|Lake|Hill|Park|Church|King|Queen|"
    "Bay|Front|Market|Mill|River|Spring|Center|Broad|Water|High|Union|Lincoln|Jefferson|"
    "Madison|Franklin|Jackson|Highland|Sunset|Ridge|Forest|Meadow|Valley|Willow|Birch|Chestnut|"
    "Walnut|Cherry|Spruce|Poplar|Locust|Hickory|Commerce|Industrial|Enterprise|Technology|Harbor|"
    "Ocean|Bayview|Lakeshore|Victoria|Wellington|1st|2nd|3rd|4th|5th|7th|10th|Elmwood|Colonial|"
    "Pleasant|Grand|Airport|"
    # Canadian-only street names come last (US addresses draw from the generic part only)
    "Yonge|Bloor|Dundas|Sherbrooke|Saint-Denis|René-Lévesque|Granville|Robson|Portage|Jasper",
    "|",
)
N_US_STREETS = len(STREETS) - 10
STREET_TYPES = (
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Boulevard", "Blvd"),
    ("Drive", "Dr"),
    ("Lane", "Ln"),
    ("Way", "Way"),
    ("Court", "Ct"),
    ("Place", "Pl"),
    ("Parkway", "Pkwy"),
    ("Crescent", "Cres"),
    ("Highway", "Hwy"),
)
STREET_TYPE_P = (0.26, 0.2, 0.14, 0.1, 0.1, 0.04, 0.04, 0.03, 0.03, 0.02, 0.02, 0.02)
SUITE_FORMS = (", Suite ", " Suite ", ", Ste ", " #", ", Unit ")

FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Ashley Steven Emily Paul Michelle Andrew Amanda Joshua "
    "Melissa Kevin Stephanie Brian Rebecca George Laura Timothy Sharon Jason Cynthia Ryan Kathleen "
    "Jacob Amy Nicolas Julie Mathieu Isabelle Olivier Nathalie Priya Wei Mei Raj"
)
TEAMS = ("National East", "National West", "Local US", "Local Canada", "Inside Sales")
TEAM_P = (0.17, 0.17, 0.36, 0.18, 0.12)

EVENT_TYPES = ("email", "web_visit", "product_usage", "meeting", "support_ticket", "survey")
EMAIL, WEB_VISIT, PRODUCT_USAGE, MEETING, SUPPORT_TICKET, SURVEY = range(6)
EVENT_P = (0.32, 0.26, 0.22, 0.10, 0.10)  # drawn types; surveys replace some emails and web visits
SURVEY_P = 0.05  # share of email / web-visit events that are survey answers instead (~3% of all events)

# Scoring inputs
OPPORTUNITIES_PER_CLIENT = 0.4
PROSPECTS_PER_CLIENT = 0.15
MIN_PROSPECTS = 30
PROSPECT_CLIENT_SHARE = 0.03  # prospects that are in fact existing clients under a variant name
STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost")
OPEN_STAGE_P = (0.30, 0.27, 0.25, 0.18)
STAGE_PROBABILITY = ((5, 15), (15, 30), (35, 65), (60, 90), (100, 100), (0, 0))  # percent range per stage
OPPORTUNITY_PREFIX = ("OPP-", "Q-", "CRMO-")
PROSPECT_SOURCES = ("event", "referral", "website", "webinar", "partner", "purchased_list", "outbound")
PROSPECT_SOURCE_P = (0.18, 0.20, 0.24, 0.10, 0.08, 0.08, 0.12)
TARGET_NOTES = (
    "Room to grow: buys one product line of three",
    "New budget holder since the reorganisation",
    "Champion asked for a proposal on the second site",
    "Contract renewal coming up, good time to expand",
    None,
)
LEAD_NOTES = (
    "Met at the regional trade show",
    "Referred by an existing client",
    "Asked for pricing on the website",
    None,
)

LINES_PER_INVOICE_P = (0.35, 0.25, 0.18, 0.12, 0.10)  # 1..5 lines
CREDIT_INVOICE_P = 0.025
DORMANT_SHARE = 0.08
NET_NEGATIVE_SHARE = 0.003

BAD_DATES = ("2026-13-45", "31/02/2026", "yesterday", "2026-02-30", "2026/99/01", "00-00-0000")
BAD_AMOUNTS = ("12,50", "abc", "1.2.3", "12.5O", "$-", "1 234,56")
BAD_CURRENCIES = ("XYZ", "ZZZ", "QQQ", "ABC")
ABSURD_AMOUNTS = ("9999999999.00", "1250000000.00", "-2000000000.00", "1000000000.00", "48000000000.00")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _rng(seed: int, stream: int) -> np.random.Generator:
    """Independent random stream per component so that e.g. faults never shift other data."""
    return np.random.default_rng([int(seed), stream])


def _s(values) -> pl.Series:
    return pl.Series(list(values), dtype=pl.String)


def _pick(rng: np.random.Generator, p, size: int) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(size), side="right").clip(0, len(p) - 1)


def _month_day(ym: np.datetime64) -> int:
    return int(ym.astype("datetime64[D]").astype(np.int64))


def _zfill(expr: pl.Expr, width: int) -> pl.Expr:
    return expr.cast(pl.String).str.zfill(width)


def _amount_expr(cents: pl.Expr) -> pl.Expr:
    a = cents.abs()
    return pl.concat_str(
        [
            pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit("")),
            (a // 100).cast(pl.String),
            pl.lit("."),
            _zfill(a % 100, 2),
        ]
    )


def _fmt_cents(c: int) -> str:
    return ("-" if c < 0 else "") + f"{abs(c) // 100}.{abs(c) % 100:02d}"


def _strip_accents(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_many(list(ACCENTS), list(ACCENTS.values()))


def _where(mask: np.ndarray, then: pl.Expr, other: pl.Expr) -> pl.Expr:
    return pl.when(pl.lit(pl.Series(mask, dtype=pl.Boolean))).then(then).otherwise(other)


def _unique_ints(rng: np.random.Generator, low: int, high: int, size: int) -> np.ndarray:
    """``size`` distinct integers in [low, high) (sorted)."""
    return np.sort(rng.choice(high - low, size=size, replace=False).astype(np.int64) + low)


# --------------------------------------------------------------------------------------------
# Organisations (the truth)
# --------------------------------------------------------------------------------------------


def _domains(rng: np.random.Generator, base: pl.Series, ca: np.ndarray) -> pl.Series:
    """Web domains derived from organisation names (`northwindbay.com`, 12% hyphenated `northwind-bay.ca`)."""
    n = len(ca)
    hyphen = rng.random(n) < 0.12
    tld_us = _s([".com", ".net", ".co", ".us"]).gather(_pick(rng, (0.8, 0.1, 0.05, 0.05), n))
    tld_ca = _s([".ca", ".com", ".net"]).gather(_pick(rng, (0.55, 0.4, 0.05), n))
    ddf = pl.DataFrame({"b": base, "h": hyphen, "tu": tld_us, "tc": tld_ca, "ca": ca})
    lower = _strip_accents(pl.col("b").str.to_lowercase())
    return ddf.select(
        d=pl.when(pl.col("h"))
        .then(
            lower.str.replace_all(r"\s*&\s*", " ")
            .str.replace_all(r"[^a-z0-9 ]", "")
            .str.strip_chars()
            .str.replace_all(" +", "-")
        )
        .otherwise(lower.str.replace_all(r"[^a-z0-9]", ""))
        + pl.when(pl.col("ca")).then(pl.col("tc")).otherwise(pl.col("tu"))
    )["d"]


def _city_weights() -> tuple[np.ndarray, np.ndarray]:
    """Whether each city is Canadian, and its weight (Zipf-like within each country)."""
    is_ca_city = np.array([c[1] == "CA" for c in CITIES])
    cw = np.zeros(len(CITIES))
    for mask, share in ((~is_ca_city, 1 - CA_SHARE), (is_ca_city, CA_SHARE)):
        r = np.arange(1, mask.sum() + 1, dtype=np.float64) ** -0.7
        cw[mask] = share * r / r.sum()
    return is_ca_city, cw


def _base_names(rng: np.random.Generator, n: int) -> tuple[pl.Series, np.ndarray]:
    """Unique base names (no legal suffix) and their noun index, sampled without replacement."""
    sizes, weights = [], []
    for w, slots in NAME_PATTERNS:
        sizes.append(math.prod(len(_VOCAB[s]) for s in slots if not s.startswith("=")))
        weights.append(w)
    sizes = np.array(sizes, dtype=np.int64)
    counts = rng.multinomial(n, np.array(weights) / sum(weights)) if n else np.zeros(len(sizes), np.int64)
    caps = (sizes * 0.5).astype(np.int64)
    over = int(np.maximum(counts - caps, 0).sum())
    counts = np.minimum(counts, caps)
    while over > 0:  # spill onto the patterns that still have room (the big combinatorial ones)
        room = np.maximum(sizes - counts, 0)
        if room.sum() == 0:
            raise ValueError(f"too many organisations for the name space: {n}")
        add = np.minimum(room, np.ceil(over * room / room.sum()).astype(np.int64))
        add = np.minimum(add, over - np.concatenate([[0], np.cumsum(add)[:-1]]).clip(0))
        add = np.maximum(add, 0)
        counts += add
        over -= int(add.sum())
    names, nouns = [], []
    for (_, slots), size, cnt in zip(NAME_PATTERNS, sizes, counts, strict=True):
        if cnt == 0:
            continue
        x = rng.choice(int(size), size=int(cnt), replace=False).astype(np.int64)
        parts: list[pl.Series] = []
        noun_idx = None
        for slot in slots:
            if slot.startswith("="):
                parts.append(pl.Series([slot[1:]] * int(cnt), dtype=pl.String))
                continue
            vocab = _VOCAB[slot]
            idx = x % len(vocab)
            x //= len(vocab)
            parts.append(_s(vocab).gather(idx))
            if slot == "N":
                noun_idx = idx
        names.append(
            pl.DataFrame(parts, schema=[f"p{i}" for i in range(len(parts))]).select(
                pl.concat_str(pl.all(), separator=" ").alias("base")
            )["base"]
        )
        nouns.append(noun_idx)
    base = pl.concat(names) if names else pl.Series("base", [], dtype=pl.String)
    noun = np.concatenate(nouns) if nouns else np.zeros(0, np.int64)
    perm = rng.permutation(n)
    return base.gather(perm), noun[perm]


def _make_orgs(seed: int, n: int, win_start: int, win_end: int, n_sellers: int, seller_team: np.ndarray) -> dict:
    rng = _rng(seed, 1)
    o: dict = {"n": n, "n_sellers": n_sellers}
    base, noun = _base_names(rng, n)
    o["industry"] = NOUN_INDUSTRY[noun]

    # geography
    is_ca_city, cw = _city_weights()
    city = _pick(rng, cw, n)
    ca = is_ca_city[city]
    o["city"], o["ca"] = city, ca

    # segment / primary system
    national = rng.random(n) < 0.22
    o["national"] = national
    u = rng.random(n)
    o["primary_sys"] = np.where(national, np.where(u < 0.90, NAT, CRM), np.where(u < 0.92, LOC, CRM))

    # size: heavy-tailed employee counts, national accounts much larger
    emp = np.exp(np.where(national, np.log(350), np.log(14)) + rng.normal(0, 1.25, n))
    o["emp"] = np.clip(np.round(emp), 1, 250_000).astype(np.int64)

    # legal suffix class
    sfx_us = _pick(rng, SUFFIX_P_US, n)
    sfx_ca = _pick(rng, SUFFIX_P_CA, n)
    o["sfx"] = np.where(ca, sfx_ca, sfx_us)

    # address
    o["num"] = np.exp(rng.uniform(0, np.log(9999), n)).astype(np.int64)
    o["street"] = rng.integers(0, np.where(ca, len(STREETS), N_US_STREETS))
    o["stype"] = _pick(rng, STREET_TYPE_P, n)
    o["suite"] = np.where(rng.random(n) < 0.15, rng.integers(1, 40, n) * 100 + rng.integers(0, 3, n), 0)
    # postal codes
    pre_choice = rng.integers(0, 1000, n)
    prefixes = [c[3] for c in CITIES]
    pre = np.array([p[k % len(p)] for p in prefixes for k in range(3)], dtype=object).reshape(len(CITIES), 3)
    pre_idx = city * 3 + (pre_choice % 3)
    flat_pre = _s(pre.ravel())
    letters = _s(CA_LETTERS)
    pre_s = flat_pre.gather(pre_idx)
    df = pl.DataFrame(
        {
            "pre": pre_s,
            "z2": pl.Series(rng.integers(0, 100, n)),
            "d1": pl.Series(rng.integers(0, 10, n)),
            "l1": letters.gather(rng.integers(0, len(CA_LETTERS), n)),
            "d2": pl.Series(rng.integers(0, 10, n)),
            "l2": letters.gather(rng.integers(0, len(CA_LETTERS), n)),
            "d3": pl.Series(rng.integers(0, 10, n)),
            "p4": pl.Series(rng.integers(0, 10000, n)),
            "ca": pl.Series(ca),
        }
    )
    post = df.select(
        postal=pl.when(pl.col("ca"))
        .then(
            pl.concat_str(
                [
                    pl.col("pre"),
                    pl.col("d1").cast(pl.String),
                    pl.col("l1"),
                    pl.lit(" "),
                    pl.col("d2").cast(pl.String),
                    pl.col("l2"),
                    pl.col("d3").cast(pl.String),
                ]
            )
        )
        .otherwise(pl.col("pre") + _zfill(pl.col("z2"), 2)),
        plus4=_zfill(pl.col("p4"), 4),
    )
    o["postal"], o["plus4"] = post["postal"], post["plus4"]
    # phone
    area_lists = [c[2] for c in CITIES]
    area = np.array([a[k % len(a)] for a in area_lists for k in range(3)], dtype=object).reshape(len(CITIES), 3)
    o["area"] = _s(area.ravel()).gather(city * 3 + rng.integers(0, 3, n))
    o["exch"] = rng.integers(200, 1000, n)
    o["line"] = rng.integers(0, 10000, n)

    # domain (derived from the name; branch members below take their head office's)
    o["domain"] = _domains(rng, base, ca)

    # branches / subsidiaries: distinct organisations sharing the head office's address,
    # switchboard phone and domain, named "<head office name> East|West|..."
    n_members = int(round(0.015 * n))
    group_of = np.full(n, -1, dtype=np.int64)
    if n_members >= 2:
        gsizes = 2 + _pick(rng, (0.6, 0.3, 0.1), max(1, n_members // 2))
        gsizes = gsizes[np.cumsum(gsizes) <= n_members]
        if len(gsizes):
            members = rng.choice(n, size=int(gsizes.sum()), replace=False)
            gid = np.repeat(np.arange(len(gsizes)), gsizes)
            starts = np.concatenate([[0], np.cumsum(gsizes)[:-1]])
            rank = np.arange(len(members)) - starts[gid]
            leader = members[starts[gid]]
            group_of[members] = gid
            offset = rng.integers(0, len(BRANCH_WORDS), len(gsizes))[gid]
            branch_word = _s(BRANCH_WORDS).gather((offset + rank) % len(BRANCH_WORDS))
            for key in ("industry", "city", "ca", "num", "street", "stype", "suite", "exch", "line", "sfx"):
                o[key][members] = o[key][leader]
            for key in ("postal", "plus4", "area", "domain"):
                o[key] = o[key].scatter(members, o[key].gather(leader))
            base = base.scatter(members, base.gather(leader) + " " + branch_word)
    o["group"] = group_of
    o["base"] = base

    # customer since / activity window / spend
    lo = _month_day(np.datetime64("1995-01"))
    new = rng.random(n) < 0.15
    since = np.where(new, rng.integers(win_start, win_end - 30, n), rng.integers(lo, win_start, n))
    o["since"] = since
    dormant = rng.random(n) < DORMANT_SHARE
    o["dormant"] = dormant
    start = np.maximum(since, win_start) - win_start
    end = np.full(n, win_end - win_start - 1, dtype=np.int64)  # inclusive last day
    churn = (~new) & (rng.random(n) < 0.07)
    end = np.where(churn, rng.integers(int(0.2 * (win_end - win_start)), win_end - win_start, n), end)
    o["act_start"], o["act_end"] = start, np.maximum(end, start)
    log_spend = np.log(1500) + 0.6 * np.log(o["emp"]) + rng.normal(0, 0.9, n)
    spend = np.clip(np.exp(log_spend), 300, 2e8)
    o["spend"] = np.where(dormant, 0.0, spend)
    active = ~dormant
    net_neg = np.zeros(n, dtype=bool)
    act_idx = np.flatnonzero(active)
    if len(act_idx) >= 20:
        k = max(1, int(round(NET_NEGATIVE_SHARE * len(act_idx))))
        net_neg[rng.choice(act_idx, size=k, replace=False)] = True
    o["net_neg"] = net_neg

    # owner: a seller from a team matching segment / country
    team_key = np.where(
        national, np.where(ca, 0, rng.integers(0, 2, n)), np.where(ca, 3, np.where(rng.random(n) < 0.8, 2, 4))
    )
    owner = np.zeros(n, dtype=np.int64)
    for t in range(len(TEAMS)):
        pool = np.flatnonzero(seller_team == t)
        m = team_key == t
        if len(pool):
            owner[m] = pool[rng.integers(0, len(pool), int(m.sum()))]
        else:
            owner[m] = rng.integers(0, n_sellers, int(m.sum()))
    o["owner"] = owner
    return o


# --------------------------------------------------------------------------------------------
# Client records
# --------------------------------------------------------------------------------------------


def _make_records(
    seed: int, o: dict, clients: int, win_end: int, noise: float = 1.0, hard: HardProfile | None = None
) -> dict:
    """Client records of the organisations. With `hard` (the hard profile) its hooks add large clusters, name and
    field variations on their own random streams, and every record's variation kinds (`variations`)."""
    rng = _rng(seed, 2)

    def p(rate: float) -> float:  # a variation rate scaled by the noise level
        return min(1.0, rate * noise)

    n = o["n"]
    n_large = 0 if hard is None else len(hard.extra_org)
    n_extra = clients - n - n_large
    n_cross = int(round(n_extra * CROSS_SHARE / (CROSS_SHARE + DUP_SHARE)))
    n_cross = min(n_cross, n)
    n_dup = min(n_extra - n_cross, n)
    n_cross = n_extra - n_dup
    cross_org = np.sort(rng.choice(n, size=n_cross, replace=False)) if n_cross else np.zeros(0, np.int64)
    dup_org = np.sort(rng.choice(n, size=n_dup, replace=False)) if n_dup else np.zeros(0, np.int64)
    prim = o["primary_sys"]
    u = rng.random(n_cross)
    ps = prim[cross_org]
    cross_sys = np.where(
        ps == NAT,
        np.where(u < 0.8, LOC, CRM),
        np.where(ps == LOC, np.where(u < 0.8, NAT, CRM), np.where(u < 0.5, NAT, LOC)),
    )
    rec_org = np.concatenate([np.arange(n), cross_org, dup_org]).astype(np.int64)
    rec_sys = np.concatenate([prim, cross_sys, prim[dup_org]]).astype(np.int64)
    rec_kind = np.concatenate([np.zeros(n, np.int64), np.ones(n_cross, np.int64), np.full(n_dup, 2, np.int64)])
    if hard is not None:  # large clusters: 9-17 more records of a few organisations, in any system
        rec_org = np.concatenate([rec_org, hard.extra_org])
        rec_sys = np.concatenate([rec_sys, hard.extra_sys])
        rec_kind = np.concatenate([rec_kind, np.where(hard.extra_sys == prim[hard.extra_org], 2, 1)])
    nr = len(rec_org)
    assert nr == clients, (nr, clients)

    # record ids per system, numbered roughly in customer_since order
    since = o["since"][rec_org].copy()
    later = np.where(
        rec_kind == 1, rng.integers(0, 6 * 365, nr), np.where(rec_kind == 2, rng.integers(30, 3 * 365, nr), 0)
    )
    since = np.minimum(since + later, win_end - 1)
    rec_num = np.zeros(nr, dtype=np.int64)
    width = {}
    for s in range(3):
        idx = np.flatnonzero(rec_sys == s)
        k = len(idx)
        base_w = (7, 6, 5)[s]
        w = max(base_w, len(str(int(k * 1.6))))
        width[s] = w
        if k == 0:
            continue
        nums = _unique_ints(rng, 1, 10**w, k)
        order = np.lexsort((rng.random(k), since[idx]))
        rec_num[idx[order]] = nums
    prefix = np.array(["N", "L-", "CRM-"], dtype=object)

    # per-record random choices
    r = {
        k: rng.random(nr)
        for k in (
            "abbr",
            "amp",
            "the",
            "punct",
            "acc",
            "acc_add",
            "typo",
            "upper",
            "lower",
            "dom",
            "dom_fmt",
            "phone_fmt",
            "phone_new",
            "phone_miss",
            "addr_abbr",
            "addr_up",
            "addr_new",
            "country",
            "post",
            "ind",
            "emp",
            "emp_miss",
            "owner",
            "owner_miss",
            "form",
        )
    }
    variant = rec_kind > 0
    crm = rec_sys == CRM

    # names: legal suffix form
    counts = np.array([len(f) for f in SUFFIX_FORMS])
    offs = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sfx = o["sfx"][rec_org]
    form_any = rng.integers(0, counts[sfx])
    form = np.where(variant | (r["form"] < 0.25), form_any, 0)
    flat_forms = _s([f for forms in SUFFIX_FORMS for f in forms])

    base = o["base"].gather(rec_org)
    kinds: dict[str, np.ndarray] = {}  # hard profile: variation kind -> records it changed

    def note(kind: str, before: pl.Series, after: pl.Series) -> None:
        if hard is not None:
            kinds[kind] = kinds.get(kind, np.zeros(nr, bool)) | (before != after).fill_null(True).to_numpy()

    if hard is not None:
        base, hard_kinds = hard.vary_names(base, rec_org, rec_sys, rec_kind)
        kinds.update(hard_kinds)
        kinds["legal_form"] = form != 0  # another surface form of the legal suffix ("Inc." for "Inc")
    df = pl.DataFrame(
        {
            "base": base,
            "form": flat_forms.gather(offs[sfx] + form),
        }
    )
    name = pl.col("base") + pl.col("form")
    m_abbr = variant & (r["abbr"] < p(0.20))
    m_amp = variant & (r["amp"] < p(0.40))
    m_the = variant & (r["the"] < p(0.06))
    m_punct = variant & (r["punct"] < p(0.20))
    m_acc = (variant & (r["acc"] < p(0.35))) | crm
    m_acc_add = variant & ~crm & (r["acc_add"] < p(0.015))
    m_typo = variant & (r["typo"] < p(0.07))
    m_upper = (variant & (r["upper"] < p(0.08))) | (crm & (r["upper"] < 0.40))
    m_lower = variant & ~m_upper & (r["lower"] < p(0.02))
    df = df.select(name=name)
    nm = pl.col("name")
    if hard is not None:  # a name that already starts with "The" does not get a second one
        m_the = m_the & ~df["name"].str.starts_with("The ").to_numpy()

    def apply(kind: str, mask: np.ndarray, changed: pl.Expr) -> None:
        nonlocal df
        before = df["name"]
        df = df.select(name=_where(mask, changed, pl.col("name")))
        note(kind, before, df["name"])

    apply("abbreviation", m_abbr, nm.str.replace_many(list(ABBREVIATIONS), list(ABBREVIATIONS.values())))
    apply("ampersand", m_amp, nm.str.replace_all(" & ", " and ", literal=True))
    apply("the_prefix", m_the, pl.lit("The ") + nm)
    apply("punctuation", m_punct, nm.str.replace_all(r"[.,]", ""))
    if hard is not None:  # damaged encoding (`CafÃ©`, `Children?s`); such a name is not also stripped of accents
        damaged, kinds["encoding_damage"] = hard.damage_names(df["name"], rec_sys, rec_kind)
        df = pl.DataFrame({"name": damaged})
        m_acc = m_acc & ~kinds["encoding_damage"]
    apply("accents", m_acc, _strip_accents(nm))
    apply("accents", m_acc_add, nm.str.replace("e", "é", literal=True, n=1))
    # one-character typo: substitution, deletion, transposition or doubling (never the 1st char)
    df = df.with_columns(
        u=pl.Series(rng.random(nr)),
        kind=pl.Series(rng.integers(0, 4, nr)),
        ch=_s("abcdefghijklmnopqrstuvwxyz").gather(rng.integers(0, 26, nr)),
    ).with_columns(
        pos=(pl.col("u") * (pl.col("name").str.len_chars().cast(pl.Int64) - 2).clip(1, None)).floor().cast(pl.Int64) + 1
    )
    pos = pl.col("pos")
    typo = (
        pl.when(pl.col("kind") == 0)
        .then(nm.str.slice(0, pos) + pl.col("ch") + nm.str.slice(pos + 1))
        .when(pl.col("kind") == 1)
        .then(nm.str.slice(0, pos) + nm.str.slice(pos + 1))
        .when(pl.col("kind") == 2)
        .then(nm.str.slice(0, pos) + nm.str.slice(pos + 1, 1) + nm.str.slice(pos, 1) + nm.str.slice(pos + 2))
        .otherwise(nm.str.slice(0, pos + 1) + nm.str.slice(pos))
    )
    before = df["name"]
    df = df.select(name=_where(m_typo, typo, nm))
    note("typo", before, df["name"])
    before = df["name"]
    df = df.select(name=_where(m_upper, nm.str.to_uppercase(), _where(m_lower, nm.str.to_lowercase(), nm)))
    note("case", before, df["name"])
    names = df["name"]

    # domain (~60% present, varying formats)
    dom_fmt = _pick(rng, (0.5, 0.25, 0.1, 0.1, 0.05), nr)
    ddf = pl.DataFrame({"d": o["domain"].gather(rec_org), "f": dom_fmt})
    has_domain = r["dom"] < 0.60 if hard is None else hard.domain_present(rec_sys)
    domain = ddf.select(
        d=pl.when(pl.lit(pl.Series(has_domain)))
        .then(
            pl.concat_str(
                [
                    pl.col("f").replace_strict(
                        [0, 1, 2, 3, 4], ["", "www.", "https://www.", "https://", "http://"], return_dtype=pl.String
                    ),
                    pl.col("d"),
                    pl.when(pl.col("f") == 4).then(pl.lit("/")).otherwise(pl.lit("")),
                ]
            )
        )
        .otherwise(pl.lit(None, pl.String))
    )["d"]

    # phone
    exch = o["exch"][rec_org]
    line = np.where(variant & (r["phone_new"] < p(0.10)), rng.integers(0, 10000, nr), o["line"][rec_org])
    sys_bias = np.where(rec_sys == NAT, 0, np.where(rec_sys == LOC, 1, 3))
    pf = (_pick(rng, (0.35, 0.3, 0.1, 0.1, 0.1, 0.05), nr) + sys_bias * (rng.random(nr) < 0.3)) % 6
    pdf = pl.DataFrame(
        {"a": o["area"].gather(rec_org), "e": exch.astype(np.int64), "l": line.astype(np.int64), "f": pf}
    )
    a, e, l4 = pl.col("a"), pl.col("e").cast(pl.String), _zfill(pl.col("l"), 4)
    phone = pdf.select(
        p=pl.when(pl.lit(pl.Series(r["phone_miss"] < 0.08)))
        .then(pl.lit(None, pl.String))
        .when(pl.col("f") == 0)
        .then(pl.concat_str([pl.lit("("), a, pl.lit(") "), e, pl.lit("-"), l4]))
        .when(pl.col("f") == 1)
        .then(pl.concat_str([a, pl.lit("-"), e, pl.lit("-"), l4]))
        .when(pl.col("f") == 2)
        .then(pl.concat_str([pl.lit("+1 "), a, pl.lit(" "), e, pl.lit(" "), l4]))
        .when(pl.col("f") == 3)
        .then(pl.concat_str([a, e, l4]))
        .when(pl.col("f") == 4)
        .then(pl.concat_str([a, pl.lit("."), e, pl.lit("."), l4]))
        .otherwise(pl.concat_str([pl.lit("1-"), a, pl.lit("-"), e, pl.lit("-"), l4]))
    )["p"]

    # address / city / postal / country
    moved = variant & (r["addr_new"] < p(0.08))
    if hard is not None:  # the many records of a large cluster are often other sites of the organisation
        moved = moved | hard.large_cluster_moves(rec_org, rec_kind)
    num = np.where(moved, np.exp(rng.uniform(0, np.log(9999), nr)).astype(np.int64), o["num"][rec_org])
    street = np.where(
        moved, rng.integers(0, np.where(o["ca"][rec_org], len(STREETS), N_US_STREETS)), o["street"][rec_org]
    )
    stype = np.where(moved, _pick(rng, STREET_TYPE_P, nr), o["stype"][rec_org])
    suite = np.where(moved, 0, o["suite"][rec_org])
    abbr_p = np.where(rec_sys == NAT, 0.7, np.where(rec_sys == LOC, 0.4, 0.5))
    st_abbr = (r["addr_abbr"] < abbr_p).astype(np.int64)
    addr_up = (r["addr_up"] < 0.06) | (crm & (r["addr_up"] < 0.5))
    flat_types = _s([t for pair in STREET_TYPES for t in pair])
    adf = pl.DataFrame(
        {
            "num": num,
            "street": _s(STREETS).gather(street),
            "type": flat_types.gather(stype * 2 + st_abbr),
            "suite": suite,
            "sf": _s(SUITE_FORMS).gather(rng.integers(0, len(SUITE_FORMS), nr)),
            "city": _s([c[0] for c in CITIES]).gather(o["city"][rec_org]),
            "postal": o["postal"].gather(rec_org),
            "plus4": o["plus4"].gather(rec_org),
            "ca": o["ca"][rec_org],
        }
    )
    addr = pl.concat_str(
        [
            pl.col("num").cast(pl.String),
            pl.lit(" "),
            pl.col("street"),
            pl.lit(" "),
            pl.col("type"),
            pl.when(pl.col("suite") > 0).then(pl.col("sf") + pl.col("suite").cast(pl.String)).otherwise(pl.lit("")),
        ]
    )
    up = pl.lit(pl.Series(addr_up))
    city_acc = pl.lit(pl.Series(crm | (r["acc"] < 0.2)))
    post_u = r["post"]
    postal = (
        pl.when(pl.col("ca") & pl.lit(pl.Series(post_u < 0.2)))
        .then(pl.col("postal").str.replace(" ", "", literal=True))
        .when(pl.col("ca") & pl.lit(pl.Series(post_u > 0.97)))
        .then(pl.col("postal").str.to_lowercase())
        .when(~pl.col("ca") & pl.lit(pl.Series(post_u < 0.05)))
        .then(pl.col("postal") + "-" + pl.col("plus4"))
        .otherwise(pl.col("postal"))
    )
    country_choice = r["country"]
    country = (
        pl.when(pl.lit(pl.Series(country_choice < 0.03)))
        .then(pl.lit(None, pl.String))
        .when(pl.col("ca"))
        .then(pl.when(pl.lit(pl.Series(country_choice < 0.6))).then(pl.lit("CA")).otherwise(pl.lit("Canada")))
        .when(pl.lit(pl.Series(country_choice < 0.55)))
        .then(pl.lit("US"))
        .when(pl.lit(pl.Series(country_choice < 0.8)))
        .then(pl.lit("USA"))
        .otherwise(pl.lit("United States"))
    )
    city = pl.when(city_acc).then(_strip_accents(pl.col("city"))).otherwise(pl.col("city"))
    geo = adf.select(
        address=pl.when(up).then(addr.str.to_uppercase()).otherwise(addr),
        city=pl.when(up).then(city.str.to_uppercase()).otherwise(city),
        postal_code=postal,
        country=country,
    )

    if hard is not None:
        geo, domain, phone, field_kinds = hard.vary_fields(geo, domain, phone, rec_org, rec_sys, rec_kind, exch, line)
        kinds.update(field_kinds)
        kinds["phone_changed"] = (line != o["line"][rec_org]) & phone.is_not_null().to_numpy()
        kinds["address_moved"] = moved & (
            (num != o["num"][rec_org])
            | (street != o["street"][rec_org])
            | (stype != o["stype"][rec_org])
            | (suite != o["suite"][rec_org])
        )

    # industry / employees / owner / segment
    industry = _s(INDUSTRY_LABELS).gather(o["industry"][rec_org])
    emp = o["emp"][rec_org].astype(np.float64)
    emp = np.where(variant & (r["emp"] < p(0.3)), np.maximum(1, np.round(emp * rng.uniform(0.7, 1.3, nr))), emp)
    owner = np.where(variant & (r["owner"] < 0.4), rng.integers(0, o["n_sellers"], nr), o["owner"][rec_org])
    seg_nat = np.where(rec_sys == NAT, True, np.where(rec_sys == LOC, False, o["national"][rec_org]))
    return {
        "org": rec_org,
        "sys": rec_sys,
        "kind": rec_kind,
        "num": rec_num,
        "width": width,
        "prefix": prefix,
        "since": since,
        "names": names,
        "domain": domain,
        "phone": phone,
        "geo": geo,
        "industry": industry,
        "ind_miss": r["ind"] < 0.08,
        "emp": emp.astype(np.int64),
        "emp_miss": r["emp_miss"] < 0.10,
        "owner": owner,
        "owner_miss": r["owner_miss"] < 0.05,
        "seg_nat": seg_nat,
        "variations": None if hard is None else hard.describe(kinds, rec_org),
    }


# --------------------------------------------------------------------------------------------
# Scoring inputs: account signals, opportunities, prospects, sellers' picks, overrides
# (each on its own random stream, so the clients, billing, sellers and fx rates never move)
# --------------------------------------------------------------------------------------------


def _org_signals(seed: int, o: dict, n_days: int) -> dict:
    """Per organisation: at risk (usage fades, support tickets pile up; every churning one) or growing (every new one)."""
    rng = _rng(seed, 7)
    n = o["n"]
    active = ~o["dormant"]
    new = o["act_start"] > 0
    churned = active & ~new & (o["act_end"] < n_days - 1)
    u = rng.random(n)
    at_risk = churned | (active & ~new & (u < 0.10))
    growing = active & ~at_risk & (new | (u > 0.85))
    decline_day = np.where(churned, o["act_end"] - rng.integers(60, 150, n), rng.uniform(0.35, 0.8, n) * n_days)
    return {
        "at_risk": at_risk,
        "growing": growing,
        "decline_day": decline_day.astype(np.int64),  # day of the window from which usage declines
        "half_days": rng.uniform(30, 90, n),  # ... halving every 1-3 months
        "growth": rng.uniform(0.04, 0.12, n),  # growing usage: +4-12% a month
        "satisfaction": np.where(at_risk, 4.5, np.where(growing, 8.3, 7.6)) + rng.normal(0, 0.8, n),
    }


def _shape_engagement(
    seed: int,
    sig: dict,
    ev_org: np.ndarray,
    rel_day: np.ndarray,
    ev_type: np.ndarray,
    usage_raw: np.ndarray,
    n_days: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event types, product-usage quantities and survey scores (1-10) that carry the organisations' signals."""
    rng = _rng(seed, 8)
    ne = len(ev_org)
    at_risk, growing = sig["at_risk"][ev_org], sig["growing"][ev_org]
    since_decline = rel_day - sig["decline_day"][ev_org]
    declining = at_risk & (since_decline >= 0)
    fade = np.where(declining, 0.5 ** (np.maximum(since_decline, 0) / sig["half_days"][ev_org]), 1.0)
    grow = np.where(growing, np.exp(sig["growth"][ev_org] * (rel_day - n_days / 2) / 30.0), 1.0)
    usage = np.maximum(np.ceil(usage_raw * fade * grow), 1).astype(np.int64)
    chatter = (ev_type == EMAIL) | (ev_type == WEB_VISIT) | (ev_type == MEETING)
    u = rng.random(ne)
    to_ticket = chatter & ((declining & (u < 0.35)) | (at_risk & (u < 0.05)))
    calm = (ev_type == SUPPORT_TICKET) & growing & (rng.random(ne) < 0.5)
    kind = np.where(to_ticket, SUPPORT_TICKET, np.where(calm, EMAIL, ev_type))
    kind = np.where(((kind == EMAIL) | (kind == WEB_VISIT)) & (rng.random(ne) < SURVEY_P), SURVEY, kind)
    mood = sig["satisfaction"][ev_org] - np.where(declining, 1.5, 0.0)
    score = np.clip(np.round(rng.normal(mood, 1.6)), 1, 10).astype(np.int64)
    return kind, usage, score


def _make_opportunities(
    seed: int,
    o: dict,
    rec: dict,
    sig: dict,
    records_of: tuple[np.ndarray, np.ndarray, np.ndarray],
    rec_ids: pl.Series,
    rec_ccy: np.ndarray,
    fx_now: np.ndarray,
    as_of_day: int,
    clients: int,
) -> pl.DataFrame:
    """Deals (contract columns plus `_sys`, `_org`, `_open`): ~0.4 per client record, more and larger for large,
    national and growing organisations; ~60% open, closing in the coming 1-9 months; closed ones closed in the past."""
    rng = _rng(seed, 9)
    n = o["n"]
    prim_rec, cross_rec, dup_rec = records_of
    emp = o["emp"].astype(np.float64)
    w = emp**0.4 * np.where(o["national"], 2.0, 1.0)
    w = w * np.where(sig["growing"], 1.8, np.where(sig["at_risk"], 0.5, 1.0)) * np.where(o["dormant"], 0.12, 1.0)
    expected = w / w.sum() * OPPORTUNITIES_PER_CLIENT * clients
    count = np.floor(expected).astype(np.int64) + (rng.random(n) < expected % 1).astype(np.int64)
    d_org = np.repeat(np.arange(n), count)
    nd = len(d_org)
    u = rng.random(nd)
    d_rec = np.where(
        (cross_rec[d_org] >= 0) & (u < 0.3),
        cross_rec[d_org],
        np.where((dup_rec[d_org] >= 0) & (u > 0.9), dup_rec[d_org], prim_rec[d_org]),
    )
    dormant, growing, at_risk = o["dormant"][d_org], sig["growing"][d_org], sig["at_risk"][d_org]
    is_open = rng.random(nd) < np.where(dormant, 0.85, np.where(growing, 0.68, np.where(at_risk, 0.4, 0.6)))
    won = rng.random(nd) < np.where(dormant, 0.1, np.where(growing, 0.6, np.where(at_risk, 0.25, 0.45)))
    stage = np.where(is_open, _pick(rng, OPEN_STAGE_P, nd), np.where(won, 4, 5))
    # size: a share of the annual spend (or of what an organisation of that size usually spends)
    typical = np.exp(np.log(1500) + 0.6 * np.log(emp))
    base = np.where(o["spend"] > 0, o["spend"], typical)[d_org]
    usd = np.clip(base * np.exp(rng.normal(np.log(0.3), 0.9, nd)) * np.where(growing, 1.3, 1.0), 500, 5e7)
    ccy = rec_ccy[d_rec]
    amount = usd / fx_now[ccy]
    round_hundreds = rng.random(nd) < 0.65
    cents = np.where(round_hundreds, np.maximum(np.round(amount / 100), 1) * 10_000, np.round(amount * 100))
    created = as_of_day - np.where(is_open, rng.integers(0, 330, nd), rng.integers(30, 540, nd))
    close = np.where(
        is_open, as_of_day + rng.integers(20, 275, nd), np.minimum(created + rng.integers(14, 240, nd), as_of_day)
    )
    lo, hi = (np.array(bound) for bound in zip(*STAGE_PROBABILITY, strict=True))
    probability = (np.round((lo[stage] + rng.random(nd) * (hi[stage] - lo[stage])) / 5) * 5).astype(np.int64)
    has_probability = rng.random(nd) < 0.7
    d_sys = rec["sys"][d_rec]
    order = np.lexsort((rng.random(nd), created, d_sys))
    d_org, d_rec, d_sys, stage, cents, ccy, created, close, probability, has_probability, is_open = (
        x[order]
        for x in (d_org, d_rec, d_sys, stage, cents, ccy, created, close, probability, has_probability, is_open)
    )
    number = np.arange(nd) - np.searchsorted(d_sys, np.arange(3))[d_sys] + 1
    width = max(6, len(str(nd)))
    return pl.DataFrame(
        {
            "source_system": _s(SYSTEMS).gather(d_sys),
            "opportunity_id": _s(OPPORTUNITY_PREFIX).gather(d_sys) + pl.Series(number).cast(pl.String).str.zfill(width),
            "source_client_id": rec_ids.gather(d_rec),
            "stage": _s(STAGES).gather(stage),
            "cents": cents.astype(np.int64),
            "currency": _s(CURRENCIES).gather(ccy),
            "expected_close_date": pl.Series(close.astype(np.int32)).cast(pl.Date),
            "probability": probability,
            "created_date": pl.Series(created.astype(np.int32)).cast(pl.Date),
            "_sys": d_sys,
            "_org": d_org,
            "_open": is_open,
        }
    ).select(
        *OPPORTUNITY_COLUMNS[:4],
        _amount_expr(pl.col("cents")).alias("amount"),
        "currency",
        "expected_close_date",
        _where(has_probability, pl.col("probability"), pl.lit(None, pl.Int64)).alias("probability"),
        "created_date",
        "_sys",
        "_org",
        "_open",
    )


def _new_names(rng: np.random.Generator, count: int, taken: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """`count` base names from the organisations' vocabulary that are not in `taken`, and their noun index."""
    names, nouns, have = [], [], 0
    taken = taken.unique()
    while have < count:
        batch, noun = _base_names(rng, int((count - have) * 1.5) + 20)
        fresh = ~batch.is_in(taken.implode()).to_numpy()
        batch, noun = batch.filter(pl.Series(fresh)), noun[fresh]
        names.append(batch)
        nouns.append(noun)
        taken = pl.concat([taken, batch])
        have += batch.len()
    return pl.concat(names).head(count), np.concatenate(nouns)[:count]


def _concat(a, b):
    return pl.concat([a, b]) if isinstance(a, pl.Series) else np.concatenate([a, b])


def _make_prospects(
    seed: int,
    o: dict,
    count: int,
    owner_ids: pl.Series,
    seller_team: np.ndarray,
    win_end: int,
    entity_width: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Prospects (contract columns plus `_org`: the organisation when it is in fact a client, else -1; `_owner`: the
    seller's index or -1) and their truth (prospect_id, entity_id). ~3% are existing clients under a variant name."""
    rng = _rng(seed, 10)
    k_client = min(o["n"], int(round(PROSPECT_CLIENT_SHARE * count)))
    k_new = count - k_client
    is_ca_city, cw = _city_weights()

    # organisations that are not clients: fresh names from the same vocabulary, their own address, size, industry
    base, noun = _new_names(rng, k_new, o["base"])
    city = _pick(rng, cw, k_new)
    ca = is_ca_city[city]
    big = rng.random(k_new) < 0.2
    emp = np.clip(np.round(np.exp(np.where(big, np.log(350), np.log(14)) + rng.normal(0, 1.25, k_new))), 1, 250_000)
    sfx = np.where(ca, _pick(rng, SUFFIX_P_CA, k_new), _pick(rng, SUFFIX_P_US, k_new))
    prefixes = [c[3] for c in CITIES]
    areas = [c[2] for c in CITIES]
    letters = _s(CA_LETTERS)
    parts = pl.DataFrame(
        {
            "base": base,
            "pre": _s([p[k % len(p)] for p in prefixes for k in range(3)]).gather(city * 3 + rng.integers(0, 3, k_new)),
            "ca": ca,
            "ca_tld": ca & (rng.random(k_new) < 0.55),
            "z2": pl.Series(rng.integers(0, 100, k_new)).cast(pl.String).str.zfill(2),
            "a": letters.gather(rng.integers(0, len(CA_LETTERS), k_new)),
            "b": letters.gather(rng.integers(0, len(CA_LETTERS), k_new)),
            **{f"d{i}": pl.Series(rng.integers(0, 10, k_new)).cast(pl.String) for i in range(3)},
        }
    ).select(
        postal=pl.when(pl.col("ca"))
        .then(pl.concat_str(["pre", "d0", "a", pl.lit(" "), "d1", "b", "d2"]))
        .otherwise(pl.col("pre") + pl.col("z2")),
        domain=_strip_accents(pl.col("base").str.to_lowercase()).str.replace_all(r"[^a-z0-9]", "")
        + pl.when(pl.col("ca_tld")).then(pl.lit(".ca")).otherwise(pl.lit(".com")),
    )
    new = {
        "base": base,
        "form": _s([forms[0] for forms in SUFFIX_FORMS]).gather(sfx),
        "industry": NOUN_INDUSTRY[noun],
        "city": city,
        "ca": ca,
        "big": big,
        "emp": emp.astype(np.int64),
        "num": np.exp(rng.uniform(0, np.log(9999), k_new)).astype(np.int64),
        "street": rng.integers(0, np.where(ca, len(STREETS), N_US_STREETS)),
        "stype": _pick(rng, STREET_TYPE_P, k_new),
        "postal": parts["postal"],
        "area": _s([a[k % len(a)] for a in areas for k in range(3)]).gather(city * 3 + rng.integers(0, 3, k_new)),
        "exch": rng.integers(200, 1000, k_new),
        "line": rng.integers(0, 10000, k_new),
        "domain": parts["domain"],
        "org": np.full(k_new, -1, np.int64),
    }
    # existing clients under a variant name (another legal form, case, "The"), with their domain, phone and address
    orgs = np.sort(rng.choice(o["n"], size=k_client, replace=False)).astype(np.int64)
    n_forms = np.array([len(f) for f in SUFFIX_FORMS])
    first_form = np.concatenate([[0], np.cumsum(n_forms)[:-1]])
    form = first_form[o["sfx"][orgs]] + rng.integers(0, n_forms[o["sfx"][orgs]])
    old = {
        "base": o["base"].gather(orgs),
        "form": _s([f for forms in SUFFIX_FORMS for f in forms]).gather(form),
        "industry": o["industry"][orgs],
        "city": o["city"][orgs],
        "ca": o["ca"][orgs],
        "big": o["national"][orgs],
        "emp": np.maximum(1, np.round(o["emp"][orgs] * rng.uniform(0.8, 1.2, k_client))).astype(np.int64),
        "num": o["num"][orgs],
        "street": o["street"][orgs],
        "stype": o["stype"][orgs],
        "postal": o["postal"].gather(orgs),
        "area": o["area"].gather(orgs),
        "exch": o["exch"][orgs],
        "line": o["line"][orgs],
        "domain": o["domain"].gather(orgs),
        "org": orgs,
    }
    perm = rng.permutation(count)
    p = {key: _concat(new[key], old[key]) for key in new}
    p = {key: value.gather(perm) if isinstance(value, pl.Series) else value[perm] for key, value in p.items()}
    is_client, ca, big = p["org"] >= 0, p["ca"], p["big"]
    r = {k: rng.random(count) for k in ("upper", "the", "dom", "www", "abbr", "long", "phone", "ind", "emp", "src")}

    # owner: a seller of the team matching size and country (as for clients), ~10% unassigned
    team_key = np.where(
        big, np.where(ca, 0, rng.integers(0, 2, count)), np.where(ca, 3, np.where(rng.random(count) < 0.8, 2, 4))
    )
    owner = np.zeros(count, dtype=np.int64)
    for t in range(len(TEAMS)):
        pool = np.flatnonzero(seller_team == t)
        m = team_key == t
        owner[m] = (
            pool[rng.integers(0, len(pool), int(m.sum()))]
            if len(pool)
            else rng.integers(0, len(owner_ids), int(m.sum()))
        )
    owner = np.where(rng.random(count) < 0.10, -1, owner)
    created = win_end - 1 - rng.integers(0, 730, count)

    flat_types = _s([t for pair in STREET_TYPES for t in pair])
    frame = pl.DataFrame(
        {
            "i": np.arange(1, count + 1),
            "name": p["base"] + p["form"],
            "upper": is_client & (r["upper"] < 0.3),
            "the": is_client & (r["the"] < 0.1),
            "domain": p["domain"],
            "has_domain": is_client | (r["dom"] < 0.5),
            "www": r["www"] < 0.4,
            "num": p["num"],
            "street": _s(STREETS).gather(p["street"]),
            "type": flat_types.gather(p["stype"] * 2 + (r["abbr"] < 0.5)),
            "city": _s([c[0] for c in CITIES]).gather(p["city"]),
            "postal": p["postal"],
            "ca": ca,
            "long": r["long"] < 0.2,
            "area": p["area"],
            "exch": p["exch"],
            "line": p["line"],
            "has_phone": is_client | (r["phone"] < 0.6),
            "industry": _s(INDUSTRY_LABELS).gather(p["industry"]),
            "has_industry": r["ind"] >= 0.10,
            "employee_count": p["emp"],
            "has_emp": r["emp"] >= 0.12,
            "owner": owner_ids.gather(np.maximum(owner, 0)),
            "has_owner": owner >= 0,
            "source": _s(PROSPECT_SOURCES).gather(_pick(rng, PROSPECT_SOURCE_P, count)),
            "has_source": r["src"] >= 0.05,
            "created": pl.Series(created.astype(np.int32)).cast(pl.Date),
            "_org": p["org"],
            "_owner": owner,
        }
    )
    name = pl.when(pl.col("the")).then(pl.lit("The ") + pl.col("name")).otherwise(pl.col("name"))
    width = max(6, len(str(count)))
    prospects = frame.select(
        prospect_id=pl.lit("P") + _zfill(pl.col("i"), width),
        name=pl.when(pl.col("upper")).then(name.str.to_uppercase()).otherwise(name),
        domain=pl.when(pl.col("has_domain")).then(
            pl.when(pl.col("www")).then(pl.lit("www.") + pl.col("domain")).otherwise(pl.col("domain"))
        ),
        address=pl.concat_str([pl.col("num").cast(pl.String), pl.col("street"), pl.col("type")], separator=" "),
        city=pl.col("city"),
        postal_code=pl.col("postal"),
        country=pl.when(pl.col("ca"))
        .then(pl.when(pl.col("long")).then(pl.lit("Canada")).otherwise(pl.lit("CA")))
        .otherwise(pl.when(pl.col("long")).then(pl.lit("United States")).otherwise(pl.lit("US"))),
        phone=pl.when(pl.col("has_phone")).then(
            pl.concat_str(
                [
                    pl.lit("("),
                    pl.col("area"),
                    pl.lit(") "),
                    pl.col("exch").cast(pl.String),
                    pl.lit("-"),
                    _zfill(pl.col("line"), 4),
                ]
            )
        ),
        industry=pl.when(pl.col("has_industry")).then(pl.col("industry")),
        employee_count=pl.when(pl.col("has_emp")).then(pl.col("employee_count")),
        owner_id=pl.when(pl.col("has_owner")).then(pl.col("owner")),
        source=pl.when(pl.col("has_source")).then(pl.col("source")),
        created_date=pl.col("created"),
        _org=pl.col("_org"),
        _owner=pl.col("_owner"),
    )
    truth = prospects.select(
        "prospect_id",
        entity_id=pl.when(pl.col("_org") >= 0).then(pl.lit("ORG-") + _zfill(pl.col("_org") + 1, entity_width)),
    )
    return prospects, truth


def _last_day(month: np.datetime64, months_later: int) -> np.datetime64:
    return (month + np.timedelta64(months_later + 1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")


def _email(name: str) -> str:
    ascii_name = "".join(ACCENTS.get(ch, ch) for ch in name).lower()
    return (
        ".".join("".join(ch for ch in part if ch.isalnum() or ch == "-") for part in ascii_name.split())
        + "@example.com"
    )


def _make_picks_and_overrides(
    seed: int,
    o: dict,
    rec: dict,
    sig: dict,
    records_of: tuple[np.ndarray, np.ndarray, np.ndarray],
    rec_ids: pl.Series,
    sellers: pl.DataFrame,
    prospects: pl.DataFrame,
    end_month: np.datetime64,
    n_days: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A few valid sellers' picks and front-line overrides.

    Only accounts nobody could get wrong are used: one client record (no second or duplicate record, no branch), an
    owner on that record, a domain and phone no other organisation has, billing over the whole window. Targets are
    small accounts (the bottom 30% by spend), never near the key level; leads are prospects that are not clients."""
    rng = _rng(seed, 11)
    n = o["n"]
    _, cross_rec, dup_rec = records_of
    phone_key = pl.DataFrame({"a": o["area"], "e": o["exch"], "l": o["line"]}).select(
        pl.struct("a", "e", "l").is_duplicated()
    )
    steady = ~o["dormant"] & ~o["net_neg"] & (o["act_start"] == 0) & (o["act_end"] == n_days - 1)
    safe = (
        (cross_rec < 0)
        & (dup_rec < 0)
        & (o["group"] < 0)
        & steady
        & ~rec["owner_miss"][:n]  # records 0..n-1 are the organisations' primary records
        & ~o["domain"].is_duplicated().to_numpy()
        & ~phone_key.to_series().to_numpy()
    )
    small = o["spend"] <= (np.quantile(o["spend"][steady], 0.3) if steady.any() else 0)
    owner = o["owner"]
    reference = _s(SYSTEMS).gather(rec["sys"][:n]) + ":" + rec_ids.head(n)

    # picks: 2-3 sellers with enough small accounts and free prospects, 2-4 targets and 1-3 leads each
    target_pool = safe & small
    n_sellers = sellers.height
    targets_of = np.bincount(owner[target_pool], minlength=n_sellers)
    free = prospects.filter((pl.col("_org") < 0) & (pl.col("_owner") >= 0))
    leads_of = np.bincount(free["_owner"].to_numpy(), minlength=n_sellers)
    able = np.flatnonzero((targets_of >= 2) & (leads_of >= 1))
    pickers = np.sort(rng.choice(able, size=min(3, len(able)), replace=False)) if len(able) else able
    rows = []
    for s in pickers.tolist():
        n_t = min(int(targets_of[s]), int(rng.integers(2, 5)))
        for i in np.sort(rng.choice(np.flatnonzero(target_pool & (owner == s)), size=n_t, replace=False)).tolist():
            rows.append((s, "target", reference[i], TARGET_NOTES[int(rng.integers(0, len(TARGET_NOTES)))]))
        mine = free.filter(pl.col("_owner") == s)["prospect_id"]
        n_l = min(mine.len(), int(rng.integers(1, 4)))
        for j in np.sort(rng.choice(mine.len(), size=n_l, replace=False)).tolist():
            rows.append((s, "lead", mine[j], LEAD_NOTES[int(rng.integers(0, len(LEAD_NOTES)))]))
    owner_ids = sellers["owner_id"]
    picks = pl.DataFrame(
        [(owner_ids[s], kind, ref, note) for s, kind, ref, note in rows],
        schema={c: pl.String for c in PICK_COLUMNS},
        orient="row",
    )

    # overrides: tier and designation, one of them expired before the end of the window
    specs = (  # field, value, preferred accounts, months valid after end_month (negative: expired), set_by, reason
        ("tier", "high", sig["growing"], 6, "name", "Framework agreement signed; volumes ramp up from next quarter"),
        ("tier", "low", sig["at_risk"], 3, "email", "Consolidating suppliers after an acquisition; budget frozen"),
        ("designation", "key", o["national"], 12, "manager", "Regional flagship logo with an executive sponsor"),
        ("designation", "target", sig["growing"], 9, "name", "Champion confirmed a second site opening this year"),
        ("designation", "secondary", np.ones(n, bool), -2, "email", "Project paused during their ERP migration"),
    )
    names = sellers["seller_name"]
    picked = pl.Series([ref for _, kind, ref, _ in rows if kind == "target"], dtype=pl.String)
    taken = reference.is_in(picked.implode()).to_numpy()
    out = []
    for field, value, preferred, months, who, reason in specs:
        candidates = np.flatnonzero(safe & ~taken & preferred)
        if len(candidates) == 0:
            candidates = np.flatnonzero(safe & ~taken)
        if len(candidates) == 0:
            continue
        i = int(rng.choice(candidates))
        taken[i] = True
        seller = names[int(owner[i])]
        set_by = {"name": seller, "email": _email(seller), "manager": "sales.manager@example.com"}[who]
        system, client_id = reference[i].split(":", 1)
        out.append((system, client_id, field, value, set_by, reason, str(_last_day(end_month, months))))
    overrides = pl.DataFrame(out, schema={c: pl.String for c in OVERRIDE_COLUMNS}, orient="row")
    return picks, overrides


# --------------------------------------------------------------------------------------------
# Main entry point
# --------------------------------------------------------------------------------------------


def _parse_month(s: str) -> np.datetime64:
    try:
        return np.datetime64(s, "M")
    except Exception as exc:  # pragma: no cover - argument validation
        raise ValueError(f"end_month must be 'YYYY-MM', got {s!r}") from exc


def generate_demo_data(
    out_dir: Path | str,
    clients: int = 4000,
    seed: int = 7,
    end_month: str = "2026-10",
    months: int = 14,
    file_format: str = "csv",
    faults: bool = True,
    progress: Callable[[str], None] | None = None,
    noise: float = 1.0,
    profile: str = "demo",
    history_months: int = 0,
) -> dict:
    """Write a complete alms input folder under ``out_dir`` and return a summary of counts.

    ``clients`` is the number of client records over all source systems (the scale knob):
    billing lines ~= 10x, engagement events ~= 5x, deals ~= 0.4x, prospects 0.15x (at least 30).
    Output is a pure function of the arguments.
    ``noise`` scales how often a duplicate record differs from its organisation's primary record
    (abbreviations, accents, typos, case, punctuation, new phone line, moved address, size): 1.0 is
    the default mix, 0.5 half of it, 2.0 twice (rates capped at 1).
    ``profile`` is ``demo`` (the default: an easy data set whose files never change for the same arguments) or
    ``hard`` (`pipelines.commands.demo_data_hard`: the variations, large clusters and hard negatives real records have,
    plus ``_truth/record_variations.csv`` and ``_truth/hard_negatives.csv``; see docs/generator.md).
    ``history_months`` > 0 adds that many months of billing and engagement before the first month, with a signal,
    prospects that became clients and sellers' feedback (`pipelines.commands.demo_history`; the other files are unchanged).
    """
    t0 = time.perf_counter()
    if clients < 1:
        raise ValueError("clients must be >= 1")
    if months < 1:
        raise ValueError("months must be >= 1")
    if not 0 <= noise <= 10:
        raise ValueError("noise must be between 0 and 10")
    if file_format not in ("csv", "parquet"):
        raise ValueError("file_format must be 'csv' or 'parquet'")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    ext = file_format
    for sub in ("clients", "billing", "engagement", "opportunities", "prospects", "_truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    written: list[str] = []

    def write(df: pl.DataFrame, rel: str, force_csv: bool = False, float_precision: int | None = None) -> None:
        path = out / rel
        if force_csv or ext == "csv":
            df.write_csv(path, float_precision=float_precision)
        else:
            df.write_parquet(path, statistics=False)
        written.append(rel)

    # ---- time window: `months` full months ending at end_month + days 1-10 of the next month
    last = _parse_month(end_month)
    month_list = [last - np.timedelta64(months - 1 - i, "M") for i in range(months + 1)]
    month_names = [str(m) for m in month_list]
    month_start = np.array([_month_day(m) for m in month_list] + [_month_day(month_list[-1] + 1)], dtype=np.int64)
    win_start = int(month_start[0])
    win_end = int(month_start[-2]) + 10  # exclusive: partial month covers days 1..10
    n_days = win_end - win_start

    # ---- sizes
    if profile == "hard":
        from pipelines.commands import demo_data_hard as hard_profile  # it builds on this module's vocabulary

        per_org = 1 + CROSS_SHARE + DUP_SHARE + hard_profile.extra_records_per_organisation()
    else:
        per_org = 1 + CROSS_SHARE + DUP_SHARE
    n_orgs = max(1, int(round(clients / per_org)))
    n_sellers = max(5, int(round(n_orgs / 150)))

    # ---- sellers
    srng = _rng(seed, 0)
    team = np.concatenate([np.arange(len(TEAMS)), _pick(srng, TEAM_P, n_sellers - len(TEAMS))])[:n_sellers]
    combo = srng.choice(
        len(FIRST_NAMES) * len(SURNAMES), size=n_sellers, replace=n_sellers > len(FIRST_NAMES) * len(SURNAMES)
    )
    sw = max(4, len(str(n_sellers)))
    sellers = pl.DataFrame(
        {
            "owner_id": "S" + pl.Series(np.arange(1, n_sellers + 1)).cast(pl.String).str.zfill(sw),
            "seller_name": _s(FIRST_NAMES).gather(combo % len(FIRST_NAMES))
            + " "
            + _s(SURNAMES).gather(combo // len(FIRST_NAMES)),
            "team": _s(TEAMS).gather(team),
        }
    )
    write(sellers, f"sellers.{ext}")
    owner_ids = sellers["owner_id"]

    # ---- organisations and client records
    orgs = _make_orgs(seed, n_orgs, win_start, win_end, n_sellers, team)
    say(f"organisations: {n_orgs:,}")
    hard = hard_profile.harden_organisations(seed, orgs, noise, clients - n_orgs) if profile == "hard" else None
    rec = _make_records(seed, orgs, clients, win_end, noise, hard)
    nr = clients
    sys_names = _s(SYSTEMS)
    prefix_s = _s(rec["prefix"])
    id_df = pl.DataFrame({"s": rec["sys"], "n": rec["num"]}).select(
        id=pl.concat_str(
            [
                prefix_s.gather(rec["sys"]),
                pl.when(pl.col("s") == 0)
                .then(_zfill(pl.col("n"), rec["width"][0]))
                .when(pl.col("s") == 1)
                .then(_zfill(pl.col("n"), rec["width"][1]))
                .otherwise(_zfill(pl.col("n"), rec["width"][2])),
            ]
        )
    )
    rec_ids = id_df["id"]
    owner_col = owner_ids.gather(rec["owner"])
    clients_df = (
        pl.DataFrame(
            {
                "source_system": sys_names.gather(rec["sys"]),
                "source_client_id": rec_ids,
                "name": rec["names"],
                "domain": rec["domain"],
                "address": rec["geo"]["address"],
                "city": rec["geo"]["city"],
                "postal_code": rec["geo"]["postal_code"],
                "country": rec["geo"]["country"],
                "phone": rec["phone"],
                "industry": rec["industry"],
                "employee_count": rec["emp"],
                "owner_id": owner_col,
                "segment": pl.Series(rec["seg_nat"]).replace_strict(
                    [True, False], ["national", "local"], return_dtype=pl.String
                ),
                "customer_since": pl.Series(rec["since"].astype(np.int32)).cast(pl.Date),
                "_sys": rec["sys"],
                "_num": rec["num"],
                "_org": rec["org"],
                **({} if hard is None else {"_variations": rec["variations"]}),
            }
        )
        .with_columns(
            industry=_where(rec["ind_miss"], pl.lit(None, pl.String), pl.col("industry")),
            employee_count=_where(rec["emp_miss"], pl.lit(None, pl.Int64), pl.col("employee_count")),
            owner_id=_where(rec["owner_miss"], pl.lit(None, pl.String), pl.col("owner_id")),
        )
        .sort(["_sys", "_num"])
    )
    ew = max(7, len(str(n_orgs)))
    truth = clients_df.select(
        "source_system", "source_client_id", entity_id=pl.lit("ORG-") + _zfill(pl.col("_org") + 1, ew)
    )
    by_sys = {}
    for s, name in enumerate(SYSTEMS):
        part = clients_df.filter(pl.col("_sys") == s).select(CLIENT_COLUMNS)
        by_sys[name] = part.height
        write(part, f"clients/{name}.{ext}")
    write(truth, "_truth/client_entities.csv", force_csv=True)
    if hard is not None:
        write(truth.with_columns(variations=clients_df["_variations"]), "_truth/record_variations.csv", force_csv=True)
        hard_negatives = hard.hard_negatives(ew)
        write(hard_negatives, "_truth/hard_negatives.csv", force_csv=True)
    del clients_df, truth
    say(f"clients: {nr:,} records")

    # ---- fx rates: slowly drifting monthly averages, USD per unit
    frng = _rng(seed, 3)
    fx = {"USD": np.ones(len(month_list))}
    fx_rows = []
    for c in ("CAD", "EUR"):
        steps = frng.normal(0, 0.008, len(month_list))
        rate = FX_BASE[c] * np.exp(np.cumsum(steps) - steps[0] * 0)
        rate = np.round(rate, 6)
        fx[c] = rate
        fx_rows.append(
            pl.DataFrame({"currency": [c] * len(month_list), "month": month_names, "rate_to_reporting": rate})
        )
    write(pl.concat(fx_rows), f"fx_rates.{ext}", float_precision=6)
    fx_mat = np.vstack([fx["USD"], fx["CAD"], fx["EUR"]])  # [currency, month]

    # ---- billing
    brng = _rng(seed, 4)
    o = orgs
    n = n_orgs
    # records per organisation
    prim_rec = np.arange(n)  # records 0..n-1 are the primary ones, in org order
    cross_rec = np.full(n, -1, np.int64)
    dup_rec = np.full(n, -1, np.int64)
    kind, org_of = rec["kind"], rec["org"]
    cross_rec[org_of[kind == 1]] = np.flatnonzero(kind == 1)
    dup_rec[org_of[kind == 2]] = np.flatnonzero(kind == 2)
    rec_ccy = np.where(rec["sys"] == NAT, USD, np.where(rec["sys"] == LOC, np.where(o["ca"][org_of], CAD, USD), EUR))

    act_days = (o["act_end"] - o["act_start"] + 1).astype(np.float64)
    spend = o["spend"]
    w = np.where(spend > 0, spend**0.45 * act_days / n_days, 0.0)
    mean_lines = float(np.dot(np.arange(1, 6), LINES_PER_INVOICE_P))
    n_inv_target = LINES_PER_CLIENT * clients / mean_lines
    exp_inv = w / w.sum() * n_inv_target if w.sum() > 0 else w
    inv_cnt = np.floor(exp_inv).astype(np.int64) + (brng.random(n) < (exp_inv % 1)).astype(np.int64)
    inv_org = np.repeat(np.arange(n), inv_cnt)
    NI = len(inv_org)
    # which record (system) the invoice is billed through
    has_cross = cross_rec >= 0
    mode = brng.random(n)
    p_cross = np.where(has_cross, np.where(mode < 0.45, 0.4, np.where(mode < 0.75, 0.0, 1.0)), 0.0)
    p_dup = np.where(dup_rec >= 0, np.where(brng.random(n) < 0.5, 0.3, 0.0), 0.0)
    u1, u2 = brng.random(NI), brng.random(NI)
    inv_rec = np.where(
        u1 < p_cross[inv_org], cross_rec[inv_org], np.where(u2 < p_dup[inv_org], dup_rec[inv_org], prim_rec[inv_org])
    )
    inv_sys = rec["sys"][inv_rec]
    span = o["act_end"][inv_org] - o["act_start"][inv_org] + 1
    inv_day = win_start + o["act_start"][inv_org] + np.floor(brng.random(NI) * span).astype(np.int64)
    credit_p = np.where(o["net_neg"][inv_org], 0.75, CREDIT_INVOICE_P)
    inv_credit = brng.random(NI) < credit_p
    order = np.lexsort((brng.random(NI), inv_day, inv_sys))
    inv_org, inv_rec, inv_sys, inv_day, inv_credit = (
        a[order] for a in (inv_org, inv_rec, inv_sys, inv_day, inv_credit)
    )
    sys_start = np.searchsorted(inv_sys, np.arange(3))
    inv_base_num = np.array([10_000_001, 2_000_001, 100_001])
    inv_num = np.arange(NI) - sys_start[inv_sys] + inv_base_num[inv_sys]
    inv_nlines = 1 + _pick(brng, LINES_PER_INVOICE_P, NI)
    # lines
    NL = int(inv_nlines.sum())
    line_inv = np.repeat(np.arange(NI), inv_nlines)
    inv_first = np.cumsum(inv_nlines) - inv_nlines
    line_no = np.arange(NL) - inv_first[line_inv] + 1
    del inv_first
    l_org = inv_org[line_inv]
    lines_per_org = np.bincount(l_org, minlength=n).astype(np.float64)
    total_usd = spend * act_days / 365.0
    per_line = np.divide(total_usd, lines_per_org, out=np.zeros(n), where=lines_per_org > 0)
    jitter = np.exp(brng.normal(-0.245, 0.7, NL))
    l_credit = inv_credit[line_inv]
    credit_mult = np.where(o["net_neg"][l_org], 1.5, 0.6)
    usd = per_line[l_org] * jitter * np.where(l_credit, -credit_mult, 1.0)
    l_day = inv_day[line_inv]
    l_month = np.searchsorted(month_start, l_day, side="right") - 1
    l_ccy = rec_ccy[inv_rec[line_inv]]
    amt = usd / fx_mat[l_ccy, l_month]
    cents = np.round(amt * 100).astype(np.int64)
    cents = np.where(l_credit, np.minimum(cents, -100), np.maximum(cents, 100))
    cents = np.clip(cents, -50_000_000_000, 50_000_000_000)  # |amount| < 500M, far from "absurd"
    del usd, amt, jitter
    l_sys = inv_sys[line_inv]
    say(f"billing: {NL:,} lines in {NI:,} invoices")

    # faults (own random stream: faults never change the regular data)
    fault_rows: dict[tuple[int, int], list] = {}
    fault_truth = []
    bounds = {}
    for s in range(3):
        for mi in range(len(month_list)):
            lo = int(np.searchsorted(l_sys, s, side="left"))
            hi = int(np.searchsorted(l_sys, s, side="right"))
            a = lo + int(np.searchsorted(l_day[lo:hi], month_start[mi], side="left"))
            b = lo + int(np.searchsorted(l_day[lo:hi], month_start[mi + 1], side="left"))
            bounds[(s, mi)] = (a, b)
    ccy_s = _s(CURRENCIES)
    inv_prefix = {NAT: ("INV-", "CN-"), LOC: ("", "CR"), CRM: ("CL", "CL")}
    inv_width = {NAT: 8, LOC: 7, CRM: 6}

    def inv_id(s: int, num: int, credit: bool) -> str:
        return inv_prefix[s][int(credit)] + str(num).zfill(inv_width[s])

    if faults and NL > 0:
        qrng = _rng(seed, 5)
        k_max = max(1, NL // 7000)
        ks = [int(min(qrng.integers(3, 9), k_max)) for _ in FAULT_REASONS]
        noncredit = np.flatnonzero(~l_credit)
        pool = noncredit if len(noncredit) >= sum(ks) else np.arange(NL)
        picks = qrng.choice(pool, size=min(sum(ks), len(pool)), replace=False)
        reasons = [r for r, k in zip(FAULT_REASONS, ks, strict=True) for _ in range(k)][: len(picks)]
        next_num = {s: int(inv_base_num[s] + (np.sum(inv_sys == s))) for s in range(3)}
        used_nums = {s: rec["num"][rec["sys"] == s] for s in range(3)}
        for j, (li, reason) in enumerate(zip(picks.tolist(), reasons, strict=True)):
            s, mi = int(l_sys[li]), int(l_month[li])
            a, b = bounds[(s, mi)]
            pos = li - a
            row = {
                "source_system": SYSTEMS[s],
                "invoice_id": inv_id(s, int(inv_num[line_inv[li]]), bool(l_credit[li])),
                "line_number": str(int(line_no[li])),
                "source_client_id": rec_ids[int(inv_rec[line_inv[li]])],
                "invoice_date": str(np.datetime64(int(l_day[li]), "D")),
                "amount": _fmt_cents(int(cents[li])),
                "currency": CURRENCIES[int(l_ccy[li])],
            }
            if reason == "duplicate_line":
                after = min(b - a - 1, pos + int(qrng.integers(0, 200)))
            else:
                after = min(b - a - 1, pos + int(qrng.integers(0, 20)))
                row["invoice_id"] = inv_id(s, next_num[s], False)
                next_num[s] += 1
                row["line_number"] = "1"
                if reason == "unparseable_date":
                    row["invoice_date"] = BAD_DATES[int(qrng.integers(0, len(BAD_DATES)))]
                elif reason == "unparseable_amount":
                    row["amount"] = BAD_AMOUNTS[int(qrng.integers(0, len(BAD_AMOUNTS)))]
                elif reason == "unknown_currency":
                    row["currency"] = BAD_CURRENCIES[int(qrng.integers(0, len(BAD_CURRENCIES)))]
                elif reason == "absurd_amount":
                    row["amount"] = ABSURD_AMOUNTS[int(qrng.integers(0, len(ABSURD_AMOUNTS)))]
                elif reason == "missing_value":
                    if qrng.random() < 0.5:
                        row["invoice_id"] = None
                    else:
                        row["source_client_id"] = None
                elif reason == "unknown_client":
                    w_ = rec["width"][s]
                    while True:
                        cand = int(qrng.integers(1, 10**w_))
                        if not np.isin(cand, used_nums[s]).any():
                            break
                    row["source_client_id"] = rec["prefix"][s] + str(cand).zfill(w_)
            fault_rows.setdefault((s, mi), []).append((after, j, row, reason))

    # write billing files, one per system per month (faulty lines merged in place)
    inv_w = np.array([inv_width[s] for s in range(3)])
    n_fault = 0
    for s in range(3):
        pre_n, pre_c = inv_prefix[s]
        for mi, mname in enumerate(month_names):
            a, b = bounds[(s, mi)]
            sl = slice(a, b)
            df = pl.DataFrame(
                {
                    "num": inv_num[line_inv[sl]],
                    "credit": l_credit[sl],
                    "ln": line_no[sl],
                    "rec": inv_rec[line_inv[sl]],
                    "day": l_day[sl].astype(np.int32),
                    "cents": cents[sl],
                    "ccy": l_ccy[sl],
                }
            ).select(
                source_system=pl.lit(SYSTEMS[s]),
                invoice_id=pl.concat_str(
                    [
                        pl.when(pl.col("credit")).then(pl.lit(pre_c)).otherwise(pl.lit(pre_n)),
                        _zfill(pl.col("num"), int(inv_w[s])),
                    ]
                ),
                line_number=pl.col("ln").cast(pl.String),
                source_client_id=pl.col("rec"),
                invoice_date=pl.col("day").cast(pl.Date).cast(pl.String),
                amount=_amount_expr(pl.col("cents")),
                currency=pl.col("ccy"),
            )
            df = df.with_columns(
                source_client_id=rec_ids.gather(df["source_client_id"]), currency=ccy_s.gather(df["currency"])
            )
            rel = f"billing/{SYSTEMS[s]}_{mname}.{ext}"
            frows = fault_rows.get((s, mi))
            if frows:
                frows.sort(key=lambda t: (t[0], t[1]))
                fdf = pl.DataFrame([t[2] for t in frows], schema={c: pl.String for c in BILLING_COLUMNS}, orient="row")
                key_n = pl.DataFrame(
                    {"_k1": np.arange(df.height, dtype=np.int64), "_k2": np.zeros(df.height, np.int64)}
                )
                key_f = pl.DataFrame(
                    {
                        "_k1": np.array([t[0] for t in frows], np.int64),
                        "_k2": np.arange(1, len(frows) + 1, dtype=np.int64),
                    }
                )
                df = pl.concat([pl.concat([df, key_n], how="horizontal"), pl.concat([fdf, key_f], how="horizontal")])
                df = df.sort(["_k1", "_k2"], maintain_order=True).drop("_k1", "_k2")
                for rank, (after, _j, _row, reason) in enumerate(frows):
                    # data rows before it: (after + 1) regular rows + `rank` earlier faulty rows
                    fault_truth.append(("billing", rel, after + 1 + rank + 1, reason))
                n_fault += len(frows)
            write(df, rel)
            del df
    say(f"billing: wrote {NL + n_fault:,} lines ({n_fault} faulty)")
    del line_inv, l_org, l_credit, l_day, l_month, l_ccy, cents, l_sys, line_no
    credit_lines = int(np.sum(inv_nlines[inv_credit]))

    faults_df = pl.DataFrame(
        fault_truth,
        schema={"input": pl.String, "source_file": pl.String, "source_row": pl.Int64, "expected_reason": pl.String},
        orient="row",
    ).sort(["source_file", "source_row"])
    write(faults_df, "_truth/faults.csv", force_csv=True)

    # ---- engagement events (at-risk organisations: usage fading, tickets piling up; growing ones: usage rising)
    signals = _org_signals(seed, o, n_days)
    ergn = _rng(seed, 6)
    ew_ = np.sqrt(o["emp"].astype(np.float64)) * np.where(o["dormant"], 0.25, 1.0) * (ergn.random(n) >= 0.08)
    exp_ev = ew_ / ew_.sum() * EVENTS_PER_CLIENT * clients if ew_.sum() > 0 else ew_
    ev_cnt = np.floor(exp_ev).astype(np.int64) + (ergn.random(n) < (exp_ev % 1)).astype(np.int64)
    ev_org = np.repeat(np.arange(n), ev_cnt)
    NE = len(ev_org)
    u1, u2 = ergn.random(NE), ergn.random(NE)
    ev_rec = np.where(
        (cross_rec[ev_org] >= 0) & (u1 < 0.25),
        cross_rec[ev_org],
        np.where((dup_rec[ev_org] >= 0) & (u2 < 0.35), dup_rec[ev_org], prim_rec[ev_org]),
    )
    ev_sys = rec["sys"][ev_rec]
    a0 = np.where(o["dormant"][ev_org], 0, np.maximum(o["act_start"][ev_org] - 30, 0))
    a1 = np.where(o["dormant"][ev_org], n_days - 1, np.minimum(o["act_end"][ev_org] + 30, n_days - 1))
    ev_day = win_start + a0 + np.floor(ergn.random(NE) * (a1 - a0 + 1)).astype(np.int64)
    ev_type = _pick(ergn, EVENT_P, NE)
    q_email = 1 + ergn.poisson(1.5, NE)
    q_web = 1 + ergn.poisson(3.0, NE)
    usage_raw = np.exp(ergn.normal(3.0, 1.2, NE))
    q_meeting = 1 + (ergn.random(NE) < 0.1)
    q_ticket = 1 + ergn.poisson(0.3, NE)
    ev_type, q_usage, q_survey = _shape_engagement(
        seed, signals, ev_org, ev_day - win_start, ev_type, usage_raw, n_days
    )
    qty = np.select(
        [ev_type == EMAIL, ev_type == WEB_VISIT, ev_type == PRODUCT_USAGE, ev_type == MEETING, ev_type == SURVEY],
        [q_email, q_web, q_usage, q_meeting, q_survey],
        q_ticket,
    ).astype(np.int64)
    del q_email, q_web, usage_raw, q_meeting, q_ticket, q_usage, q_survey
    n_survey = int(np.sum(ev_type == SURVEY))
    order = np.lexsort((ergn.random(NE), ev_day, ev_sys))
    ev_rec, ev_sys, ev_day, ev_type, qty = (x[order] for x in (ev_rec, ev_sys, ev_day, ev_type, qty))
    del ev_org, order
    et_s = _s(EVENT_TYPES)
    for s in range(3):
        lo = int(np.searchsorted(ev_sys, s, side="left"))
        hi = int(np.searchsorted(ev_sys, s, side="right"))
        for mi, mname in enumerate(month_names):
            a = lo + int(np.searchsorted(ev_day[lo:hi], month_start[mi], side="left"))
            b = lo + int(np.searchsorted(ev_day[lo:hi], month_start[mi + 1], side="left"))
            df = pl.DataFrame(
                {
                    "source_system": pl.Series([SYSTEMS[s]], dtype=pl.String).extend_constant(SYSTEMS[s], b - a - 1)
                    if b - a > 0
                    else pl.Series([], dtype=pl.String),
                    "source_client_id": rec_ids.gather(ev_rec[a:b]),
                    "event_date": pl.Series(ev_day[a:b].astype(np.int32)).cast(pl.Date),
                    "event_type": et_s.gather(ev_type[a:b]),
                    "quantity": qty[a:b],
                }
            )
            write(df, f"engagement/{SYSTEMS[s]}_{mname}.{ext}")
    say(f"engagement: {NE:,} events")
    del ev_rec, ev_sys, ev_day, ev_type, qty

    # ---- opportunities, one file per system
    records_of = (prim_rec, cross_rec, dup_rec)
    as_of_day = int(month_start[-2]) - 1  # last day of end_month
    deals = _make_opportunities(
        seed, o, rec, signals, records_of, rec_ids, rec_ccy, fx_mat[:, months - 1], as_of_day, clients
    )
    for s, name in enumerate(SYSTEMS):
        write(deals.filter(pl.col("_sys") == s).select(OPPORTUNITY_COLUMNS), f"opportunities/{name}.{ext}")
    n_open = int(deals["_open"].sum())
    pipeline_orgs = deals.filter(pl.col("_open") & pl.Series(o["dormant"]).gather(deals["_org"]))["_org"].n_unique()
    say(f"opportunities: {deals.height:,} deals ({n_open:,} open)")

    # ---- prospects, sellers' picks, overrides
    n_prospects = max(MIN_PROSPECTS, int(round(PROSPECTS_PER_CLIENT * clients)))
    prospects, prospect_truth = _make_prospects(seed, o, n_prospects, owner_ids, team, win_end, ew)
    write(prospects.select(PROSPECT_COLUMNS), f"prospects/prospects.{ext}")
    write(prospect_truth, "_truth/prospect_entities.csv", force_csv=True)
    picks, overrides = _make_picks_and_overrides(
        seed, o, rec, signals, records_of, rec_ids, sellers, prospects, last, n_days
    )
    write(picks, "seller_picks.csv", force_csv=True)
    write(overrides, "overrides.csv", force_csv=True)
    say(f"prospects: {n_prospects:,}; seller picks: {picks.height}; overrides: {overrides.height}")

    history = {}
    if history_months > 0:
        from pipelines.commands.demo_history import write_history

        history = write_history(
            seed=seed,
            ext=ext,
            write=write,
            o=o,
            rec=rec,
            rec_ids=rec_ids,
            rec_ccy=rec_ccy,
            records_of=records_of,
            signals=signals,
            fx=fx,
            fx_rows=fx_rows,
            first_month=month_list[0],
            history_months=history_months,
            as_of_day=as_of_day,
            prospects=prospects,
            sellers=sellers,
            industry_labels=INDUSTRY_LABELS,
        )
        say(f"history: {history['history_billing_lines']:,} billing lines in {history_months} earlier months")

    summary = {
        "out_dir": str(out),
        "seed": seed,
        "profile": profile,
        "file_format": file_format,
        "organisations": n_orgs,
        "client_records": nr,
        "client_records_by_system": by_sys,
        "sellers": n_sellers,
        "invoices": NI,
        "billing_lines": NL,
        "credit_note_lines": credit_lines,
        "fault_lines": n_fault,
        "billing_lines_written": NL + n_fault,
        "engagement_events": NE,
        "survey_events": n_survey,
        "at_risk_organisations": int(signals["at_risk"].sum()),
        "growing_organisations": int(signals["growing"].sum()),
        "opportunities": deals.height,
        "open_opportunities": n_open,
        "pipeline_organisations": pipeline_orgs,
        "prospects": n_prospects,
        "prospects_already_clients": int(prospect_truth["entity_id"].is_not_null().sum()),
        "seller_picks": picks.height,
        "overrides": overrides.height,
        **(
            {}
            if hard is None
            else {
                "large_clusters": int(hard.large.sum()),
                "hard_negative_groups": dict(hard_negatives.group_by("kind").len().sort("kind").iter_rows()),
            }
        ),
        "currencies": list(CURRENCIES),
        "months": month_names,
        **history,
        "files_written": len(written),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    say(f"done: {len(written)} files in {summary['seconds']} s")
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipelines.commands.demo_data", description=__doc__.splitlines()[0])
    p.add_argument("out_dir")
    p.add_argument("--clients", type=int, default=4000, help="client records over all systems (scale)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--end-month", default="2026-10")
    p.add_argument("--months", type=int, default=14)
    p.add_argument("--format", dest="file_format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--no-faults", dest="faults", action="store_false")
    p.add_argument("--noise", type=float, default=1.0, help="variation rate of duplicate records (1.0 = default)")
    p.add_argument(
        "--profile",
        choices=PROFILES,
        default="demo",
        help="demo: the easy, stable demo data; hard: real-world variations, large clusters, hard negatives",
    )
    p.add_argument("--history-months", type=int, default=0, help="months of billing history before the window")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    summary = generate_demo_data(
        a.out_dir,
        clients=a.clients,
        seed=a.seed,
        end_month=a.end_month,
        months=a.months,
        file_format=a.file_format,
        faults=a.faults,
        noise=a.noise,
        profile=a.profile,
        history_months=a.history_months,
        progress=None if a.quiet else (lambda m: print(m, flush=True)),
    )
    for k, v in summary.items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
