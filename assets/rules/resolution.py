"""Probabilistic client deduplication (Fellegi-Sunter), calibrated, with graded name evidence and learning from labels.

1. Prepare: the normalised keys of `assets.rules.matching` (name, domain, phone, postal code) plus the domain stem,
   house number and street, city and country, and each name's words (stop words and misspelt legal forms removed).
   Each word gets a rarity weight, log(distinct names / organisations holding the word): records holding the word
   count once where they share a name, phone, domain or address, so the words of an organisation with many records
   and spellings stay distinctive. Shared words that together weigh as much as a rare word count as a rare word.
2. Block: candidate pairs share at least one blocking key (BLOCKING_RULES): exact name, the same words in any order,
   domain stem, the last 7 phone digits, house number with postal code or with street, the rarest word with postal
   code, city or house number, the two rarest words, and acronyms within a city. Rules without postal codes keep
   pairs comparable when a source leaves them empty. A block larger than `max_block_size` is skipped and reported.
3. Compare (DuckDB SQL, with the words of two names that meet lined up by assets.rules.name_words; with
   ALMS_ENGINE=spark the same SQL transpiled, every pair of words compared in it, on Spark:
   assets/rules/spark_resolution.py): four fields, each with graded levels; missing on either side is no evidence.
   - name: exact / same words (any order, typos, abbreviations) / contained (one name adds words to the other) /
     acronym / partial (both add words) / weak / conflicting qualifiers (East vs West, No. 2 vs No. 3) / different.
   - location: house number, street, postal code, city and country together (they are not independent: a shared
     address implies a shared postal code, and counting both would count one fact twice).
   - phone: full number / the same last 7 digits where one side is a local number / different.
   - domain: same domain / same stem / different.
4. Weigh: u (how often a level occurs between two *random* records) from random pairs; an exact name's u is the
   share of sites with that name (term frequency: a chain's name is weak evidence, a rare name strong). m and the
   prior, the probability that two random records match (over all n(n-1)/2 pairs, so the blocking is not counted
   a second time), by expectation-maximisation over the candidate pairs. A pair's probability is the posterior.
5. Learn from people: labelled pairs (`match_overrides.csv`) are applied, and they teach the model: every pair with
   the same comparison pattern moves towards what the labels of that pattern say (a Beta-binomial update of the
   pattern's probability), so one decision settles the similar pairs elsewhere.
6. Link and cluster: a pair links at `match_threshold`. Names that share nothing, or that differ by conflicting
   qualifiers, never link on place evidence alone unless labels of their pattern say so. Containment guard: a record
   whose name is contained in the names of two partners that are not themselves one organisation ("Acme" beside
   "Acme Financial" and "Acme Insurance") is not merged on containment alone. Connected components of the links
   (scipy); people's cannot-link pairs split a component again, strongest links first.

The review queue ranks the pairs a person should look at by how much a decision would teach (see `review_queue`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl

from assets.rules.inputs import InputError
from assets.rules.matching import add_match_keys, match_clients, repair_text
from assets.rules.name_words import same_word_sql, similar_sql, word_hits
from assets.rules.tables import scratch

# Long legal forms, for spotting them misspelt (the exact forms are already gone from the name key).
LEGAL_WORDS = ["incorporated", "corporation", "company", "limited"]
# Words that carry no identity in a name ("Dining Room at the Ritz" = "Ritz Dining Room").
STOP_WORDS = ["the", "of", "at", "and", "an", "on", "in", "for", "de", "la", "le", "du", "des", "et", "y"]
# Words that tell sites of one organisation apart: two names that differ by these name different sites.
# Words that name a division of an organisation: "Acme West" beside "Acme" or "Acme East" is another unit.
DIVISIONS = [
    "north",
    "south",
    "east",
    "west",
    "ne",
    "nw",
    "se",
    "sw",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
    "northern",
    "southern",
    "eastern",
    "western",
    "central",
    "midwest",
    "midwestern",
    "pacific",
    "atlantic",
    "mountain",
    "gulf",
    "coastal",
    "region",
    "regional",
    "division",
]
# Words that tell sites apart (with numbers and the record's own city): two names that differ by them on both sides
# name different sites.
DISCRIMINATORS = DIVISIONS + [
    "upper",
    "lower",
    "uptown",
    "downtown",
    "midtown",
    "ii",
    "iii",
    "iv",
    "vi",
    "first",
    "second",
    "third",
    "1st",
    "2nd",
    "3rd",
    "4th",
    "5th",
    "inner",
    "outer",
    "metro",
    "branch",
    "campus",
    "annex",
    "depot",
    "store",
    "unit",
]
NAME_LEVELS = {
    9: "exact",
    8: "same_words",
    7: "contained",
    6: "contained_common_words",
    5: "acronym",
    4: "partial",
    3: "shares_rare_word",
    2: "shares_common_word_or_spelling",
    1: "conflicting_qualifiers",
    0: "different",
}
LOCATION_LEVELS = {
    6: "same_address",
    5: "same_address_other_postal",
    4: "same_street",
    3: "same_postal",
    2: "same_city_no_postal",
    1: "same_city_or_postal_only",
    0: "different",
}
PHONE_LEVELS = {2: "same", 1: "same_local_number", 0: "different"}
DOMAIN_LEVELS = {2: "same", 1: "same_stem", 0: "different"}
FIELD_LEVELS = {
    "name_level": NAME_LEVELS,
    "location_level": LOCATION_LEVELS,
    "phone_level": PHONE_LEVELS,
    "domain_level": DOMAIN_LEVELS,
}
FIELDS = tuple(FIELD_LEVELS)
LEVELS = {column: tuple(sorted(levels)) for column, levels in FIELD_LEVELS.items()}
EXACT_NAME = 9
# Agreement on a value that many sites share is weaker evidence (term frequency): an exact name carries the share of
# sites with that name as its u, instead of the level's average u.
TERM_FREQUENCIES = {"name_level": (EXACT_NAME, "name_tf")}
# Names that differ by conflicting qualifiers never link (unless labels of their pattern say they match); names that
# share nothing link only with identity evidence, the same web domain: organisations in one building share an
# address and often a switchboard, not a domain.
CONFLICTING_QUALIFIERS = 1
DIFFERENT_NAMES = 0
CONTAINED_NAMES = (6, 7)
# The name rules hold back pairs that the place evidence says are one client. That a rule is wrong for a comparison
# pattern is a belief of RULE_DOUBT worth RULE_DOUBT_LABELS labels: the labels of the pattern lift the rule once more
# than half of the belief they leave says so. Two must-links of two lift it, one does not: a single must-link joins
# its own pair, it takes two of a kind to teach a kind (one label lifting the rule for every pair of its pattern
# joined 240 pairs at noise 2 of the hard generator, 220 of them wrongly).
RULE_DOUBT = 0.25
RULE_DOUBT_LABELS = 2.0
# Conflicting qualifiers are known to mean different sites: their m is fixed, not learnt (branches of one head office
# share every place field, so unsupervised estimation would take them for duplicates).
FIXED_M = {"name_level": {1: 1e-4}}
M_PRIOR_PAIRS = 2.0
# What random pairs of business records look like (measured on the demo generator and the public sets, rounded): the
# prior of u, worth U_PRIOR_PAIRS pairs.
U_PRIOR = {
    "name_level": {9: 2e-5, 8: 1e-5, 7: 2e-5, 6: 2e-5, 5: 1e-5, 4: 1e-4, 3: 1e-3, 2: 0.04, 1: 4e-3, 0: 0.95482},
    "location_level": {6: 2e-5, 5: 2e-5, 4: 2e-5, 3: 1e-4, 2: 4e-3, 1: 0.02, 0: 0.97584},
    "phone_level": {2: 4e-5, 1: 1e-5, 0: 0.99995},
    "domain_level": {2: 5e-5, 1: 1e-5, 0: 0.99994},
}
U_PRIOR_PAIRS = 1000.0
# The comparison SQL holds a name's word flags as bits of a BIGINT: words past this many are not compared.
MAX_NAME_WORDS = 62
COUNTRIES = {
    "us": "us",
    "usa": "us",
    "united states": "us",
    "united states of america": "us",
    "u s": "us",
    "u s a": "us",
    "ca": "ca",
    "can": "ca",
    "canada": "ca",
    "au": "au",
    "aus": "au",
    "australia": "au",
    "uk": "gb",
    "gb": "gb",
    "united kingdom": "gb",
    "great britain": "gb",
}
STREET_WORDS = {
    "street": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "boulevard": "blvd",
    "lane": "ln",
    "court": "ct",
    "crescent": "cres",
    "place": "pl",
    "highway": "hwy",
    "parkway": "pkwy",
    "terrace": "terr",
    "square": "sq",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "circle": "cir",
    "way": "way",
}


@dataclass(frozen=True)
class ResolutionSettings:
    match_threshold: float = 0.5
    review_threshold: float = 0.05
    max_block_size: int = 100
    # blocks on one word of the name (with a city, postal code or house number) are kept only where the word is rare
    # there: a word shared by more records in one place is no reason to compare them all
    max_word_block_size: int = 10
    random_pairs: int = 500_000
    em_iterations: int = 60
    common_token_share: float = 0.0005
    common_token_min: int = 20
    label_prior_strength: float = 4.0  # how many labels a pattern's model probability is worth
    review_limit: int = 20_000
    seed: int = 42


class _PhaseClock:
    """Seconds per phase, for the report, and a progress line per phase for long runs."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}
        self.start = self.last = time.perf_counter()

    def done(self, message: str) -> None:
        now = time.perf_counter()
        self.seconds[message.split(":")[0].split(" (")[0]] = round(now - self.last, 2)
        self.last = now
        if self.progress:
            self.progress(f"matcher: {message} ({now - self.start:.1f} s)")


@dataclass
class Resolution:
    crosswalk: pl.DataFrame
    review: pl.DataFrame
    report: dict = field(default_factory=dict)
    # every compared pair (left_id, right_id, levels, match_probability, match_weight, is_link): for evaluations
    pairs: pl.DataFrame | None = None


def _ascii_lower(expr: pl.Expr) -> pl.Expr:
    return repair_text(expr).str.normalize("NFKD").str.replace_all(r"\p{M}", "").str.to_lowercase()


def prepare_records(records: pl.DataFrame, settings: ResolutionSettings) -> tuple[pl.DataFrame, set[str]]:
    """One row per record with an integer id and every comparison key; and the set of common name words."""
    # the columns the matcher reads (the records' other columns would only be copied along)
    matched_columns = [
        "source_system",
        "source_client_id",
        "name",
        "domain",
        "address",
        "city",
        "postal_code",
        "country",
        "phone",
    ]
    ordered = records.lazy().select(matched_columns)
    if not _strictly_increasing(records, "source_system", "source_client_id"):
        ordered = ordered.sort("source_system", "source_client_id")
    keyed = add_match_keys(ordered)
    address = pl.col("_address")
    street_tokens = (
        address.str.extract(r"^\s*[0-9]+[a-z]?\s+(.*)$", 1)
        .str.split(" ")
        .list.eval(pl.element().replace(STREET_WORDS).filter(pl.element() != ""))
    )
    words = (
        pl.col("name_key")
        .str.split(" ")
        .list.eval(pl.element().filter(~pl.element().is_in(STOP_WORDS)))
        .list.head(MAX_NAME_WORDS)
    )
    # cities and countries are few: each distinct value is keyed once
    places = [
        _keyed_values(records, "city", _ascii_lower(pl.col("city")).str.replace_all(r"[^a-z]", ""), "city_key"),
        _keyed_values(
            records,
            "country",
            pl.col("country")
            .str.to_lowercase()
            .str.replace_all(r"[^a-z ]", " ")
            .str.strip_chars()
            .replace_strict(COUNTRIES, default=None),
            "country_key",
        ),
    ]
    for column, keys in places:
        keyed = keyed.join(keys.lazy(), on=column, how="left", nulls_equal=True, maintain_order="left")
    prepared = (
        keyed.with_row_index("record_id")
        # the address once, for the house number and the street (polars would compute a repeated expression twice)
        .with_columns(
            _ascii_lower(pl.col("address"))
            .str.replace(r",?\s*(unit|ste|suite|apt|#|floor|fl)\b.*$", "")
            .str.replace_all(r"[^a-z0-9 ]", " ")
            .alias("_address")
        )
        .with_columns(
            pl.col("record_id").cast(pl.Int64),
            pl.col("domain_key").str.replace(r"\.[a-z]+$", "").str.replace_all(r"[-.]", "").alias("domain_stem"),
            address.str.extract(r"^\s*([0-9]+)", 1).alias("house_number"),
            street_tokens.list.join(" ").replace("", None).alias("street_key"),
            pl.col("phone_key").str.slice(-7).alias("phone7"),
            pl.col("name_key").str.replace_all(" ", "").alias("name_compact"),
            words.alias("name_tokens"),
        )
        .drop("_address")
        .collect(engine="streaming")
    )
    # one row per record and word, in name order (misspelt legal forms dropped), every step below vectorised over
    # all words at once
    words = (
        prepared.select("record_id", "city_key", pl.col("name_tokens").alias("token"))
        .explode("token")
        .drop_nulls("token")
    )
    words = words.filter(~pl.col("token").is_in(_misspelt_legal_forms(words["token"].unique()).implode()))
    words = words.with_columns(_rank_in_run("record_id").alias("position"))
    # word rarity over organisations, not spellings (see _word_holders)
    n_names = max(prepared["name_key"].drop_nulls().n_unique(), 1)
    frequencies = (
        _word_holders(prepared, words)
        .with_columns((pl.lit(n_names + 1.0) / pl.col("names")).log().alias("weight"))
        .sort("token")
        .with_row_index("alphabetical")
    )
    cutoff = max(settings.common_token_min, int(settings.common_token_share * n_names))
    common = set(frequencies.filter(pl.col("names") >= cutoff)["token"].to_list())
    # words that name a site: compass points and the like, numbers, and the record's own place ("X Aurora" in Aurora)
    qualifiers = pl.Series(DISCRIMINATORS).implode()
    # per word: its weight, and its flags as bits (the i-th word is bit i) for the comparison SQL
    words = words.join(frequencies, on="token", how="left", maintain_order="left")
    bit = pl.lit(2, pl.Int64).pow(pl.col("position"))
    words = words.with_columns(
        pl.when(pl.col("token").is_in(list(common))).then(bit).otherwise(0).alias("common_bit"),
        pl.when(
            pl.col("token").is_in(qualifiers)
            | pl.col("token").str.contains(r"^[0-9]+$")
            | ((pl.col("token") == pl.col("city_key")) & (pl.col("token").str.len_chars() >= 4))
        )
        .then(bit)
        .otherwise(0)
        .alias("qualifier_bit"),
        pl.when(pl.col("token").is_in(DIVISIONS)).then(bit).otherwise(0).alias("division_bit"),
        # words a typo can reach (Jaro-Winkler): four letters or more, no digits
        pl.when((pl.col("token").str.len_chars() >= 4) & ~pl.col("token").str.contains("[0-9]"))
        .then(bit)
        .otherwise(0)
        .alias("typo_bit"),
    )
    per_record = words.group_by("record_id").agg(
        pl.col("token").alias("tokens"),
        # each word as an integer (its alphabetical rank), for comparing words by number (name_words.word_hits)
        pl.col("alphabetical").alias("token_ids"),
        pl.col("weight").alias("token_weights"),
        *(pl.col(f"{flag}_bit").sum().alias(f"{flag}_mask") for flag in ("common", "qualifier", "division", "typo")),
    )
    # the two rarest words (fewest names, then alphabetical): the first two of each record's words in that order.
    # Words that name a site (a number, "West", the record's own city) or are too short to block on come last: they
    # tell sites apart, not organisations ("Kingston Systems of Jacksonville #169" meets its duplicates on kingston)
    by_rarity = words.select(
        "record_id",
        "token",
        ((pl.col("qualifier_bit") > 0) | (pl.col("token").str.len_chars() < 3)).alias("is_site_or_short"),
        "names",
        "alphabetical",
    ).sort("record_id", "is_site_or_short", "names", "alphabetical")
    by_rarity = by_rarity.with_columns(_rank_in_run("record_id").alias("rank"))
    for rank, column in enumerate(("rarest_token", "second_rarest_token")):
        per_record = per_record.join(
            by_rarity.filter(pl.col("rank") == rank).select("record_id", pl.col("token").alias(column)),
            on="record_id",
            how="left",
        )
    # the words in alphabetical order (sorting the words of all records at once is faster than each record's list)
    alphabetical = (
        words.select("record_id", "token", "alphabetical")
        .sort("record_id", "alphabetical")
        .group_by("record_id", maintain_order=True)
        .agg(pl.col("token").alias("name_sorted"))
    )
    per_record = per_record.join(alphabetical, on="record_id", how="left").with_columns(
        pl.col("name_sorted").list.join(" "),
        pl.col("tokens").list.eval(pl.element().str.slice(0, 1)).list.join("").alias("initials"),
        pl.col("tokens").list.len().alias("token_count"),
    )
    # term frequency of an exact name: the share of distinct sites (name, city) that carry it
    # (with the prior's share worth U_PRIOR_PAIRS sites: one name among six sites is not 1 in 6)
    sites = prepared.select("name_key", "city_key").unique()
    # attached column by column: joining the wide frame itself would copy every column of every record
    attached = (
        prepared.select("record_id", "name_key")
        .join(per_record, on="record_id", how="left", maintain_order="left")
        .join(
            sites.group_by("name_key").len("name_sites"),
            on="name_key",
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        .with_columns(
            pl.when(pl.col("token_count") >= 2).then(pl.col("initials")).alias("initials"),
            pl.when((pl.col("token_count") == 1) & pl.col("tokens").list.first().str.contains(r"^[a-z]{2,6}$"))
            .then(pl.col("tokens").list.first())
            .alias("acronym_token"),
            (
                (pl.col("name_sites") + U_PRIOR_PAIRS * U_PRIOR["name_level"][EXACT_NAME])
                / (sites.height + U_PRIOR_PAIRS)
            ).alias("name_tf"),
        )
        .drop("record_id", "name_key", "name_sites")
    )
    prepared = pl.concat([prepared.drop("name_tokens"), attached], how="horizontal").with_columns(
        # words that together weigh as much as one word short of common are together rare ("Mendoza Nelson")
        pl.lit(math.log((n_names + 1.0) / cutoff)).alias("rare_weight")
    )
    return prepared, common


def _strictly_increasing(frame: pl.DataFrame, first: str, second: str) -> bool:
    """The rows are in (first, second) order already, each key once: sorting them would change nothing (records often
    arrive in that order; sorting 1M of them anyway costs 0.6 CPU s)."""
    before_first, before_second = pl.col(first).shift(), pl.col(second).shift()
    after = (pl.col(first) > before_first) | ((pl.col(first) == before_first) & (pl.col(second) > before_second))
    return bool(frame.select(after.slice(1).fill_null(False).all()).item())


# Records holding one word are one holder of it when they share a name or any of these (one organisation's spellings)
HOLDER_KEYS = (("name_key",), ("phone7",), ("domain_key",), ("postal_code_key", "house_number"))


def _word_holders(prepared: pl.DataFrame, words: pl.DataFrame) -> pl.DataFrame:
    """Per word, how many organisations hold it (`names`): the records holding the word, grouped where two of them
    share a name, a phone, a domain or an address (connected components, per word). Counting distinct names instead,
    an organisation with 15 spellings would count 15 times and its own words would become common.

    The graph's nodes are the rows of `words` (a word written twice in one name is two nodes, joined by the name).
    Each word and key is hashed to one 64-bit integer, and each (word, key) group to one more: grouping integers
    instead of strings (1M records: 2.5 CPU s instead of 5.3; two groups colliding among a few million would join
    two holders of a word, about once in 10^7 runs)."""
    present = [pl.all_horizontal(pl.col(key).is_not_null() for key in keys) for keys in HOLDER_KEYS]
    # record ids are row numbers: each word row takes its record's keys by position
    keys = prepared.select(
        pl.when(is_present).then(pl.struct(keys).hash() if len(keys) > 1 else pl.col(keys[0]).hash()).alias(f"key{i}")
        for i, (keys, is_present) in enumerate(zip(HOLDER_KEYS, present, strict=True))
    )
    record = words["record_id"]
    word = words["token"].hash()
    nodes = pl.DataFrame({"node": pl.int_range(0, words.height, eager=True, dtype=pl.Int64)})
    # each group of records that hold a word and share a key: every member linked to the group's first
    edges = pl.concat(
        pl.collect_all(
            nodes.lazy()
            .with_columns(pl.struct(word=word, key=keys[name].gather(record)).hash().alias("group"))
            .filter(keys[name].gather(record).is_not_null())
            .select("node", pl.col("node").min().over("group").alias("first"))
            .filter(pl.col("node") != pl.col("first"))
            for name in keys.columns
        )
    )
    holder = components(words.height, edges["node"].to_numpy(), edges["first"].to_numpy())
    return (
        words.select("token", pl.Series("holder", holder))
        .group_by("token")
        .agg(pl.col("holder").n_unique().cast(pl.UInt32).alias("names"))
    )


def _rank_in_run(key: str) -> pl.Expr:
    """0, 1, 2, ... along each run of equal `key` (a record's words, in a frame ordered by record): vectorised."""
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    starts = pl.col(key) != pl.col(key).shift(1, fill_value=-1)
    return row - pl.when(starts).then(row).forward_fill()


def _keyed_values(records: pl.DataFrame, column: str, key: pl.Expr, name: str) -> tuple[str, pl.DataFrame]:
    """`column` and the frame of its distinct values with their key `name`."""
    return column, records.select(pl.col(column).unique()).with_columns(key.alias(name))


def _misspelt_legal_forms(words: pl.Series) -> pl.Series:
    """The words within Jaro-Winkler 0.9 of a long legal form ("incorported", "compnay"): no part of a name."""
    with scratch() as conn:
        conn.register("words", words.to_frame("token"))
        return conn.sql(
            "select token from words where length(token) >= 4 and list_bool_or(list_transform($legal, "
            "lambda f: jaro_winkler_similarity(token, f) >= 0.9))",
            params={"legal": LEGAL_WORDS},
        ).pl()["token"]


BLOCKING_RULES: dict[str, list[str]] = {
    "name": ["name_key"],
    "same_words": ["name_sorted"],
    "domain": ["domain_stem"],
    "phone": ["phone7"],
    "postal+house": ["postal_code_key", "house_number"],
    "house+street": ["house_number", "street_key"],
    "postal+street": ["postal_code_key", "street_key"],
    "postal+word": ["postal_code_key", "word"],
    "city+word_start": ["city_key", "word_start"],
    "house+word": ["house_number", "word"],
    "postal+name_prefix": ["postal_code_key", "name_prefix"],
}


# Rules that cast a wide net for recall: their pairs are scored, but the model is estimated on the pairs of the tight
# rules (Splink's way): thousands of pairs that share two words and little else would pull m towards them.
BROAD_RULES = {"city+word_start", "house+word"}
# Keys that many unrelated records share in a big city (a word's start, a house number, a busy street, two common
# words): their blocks are kept only while small (max_word_block_size). With the two rarest words no longer a key of
# their own, this cuts the pairs at 300k records from 2.4M to 0.9M for a blocking recall lower by at most 0.003 on
# the labelled sets.
SMALL_BLOCK_RULES = {"city+word_start", "house+word", "house+street", "postal+word"}


def candidate_pairs(prepared: pl.DataFrame, settings: ResolutionSettings) -> tuple[pl.DataFrame, dict]:
    """(left_id, right_id) pairs, left < right, sharing at least one blocking key, with `is_training` (a pair of a
    tight rule); and counts per rule. The pairs come sorted by (left_id, right_id).

    Each rule hashes its key to one integer (a block: the records sharing it; grouping and joining one 64-bit
    integer is twice as fast as the key's strings, and two keys colliding among a million would only add pairs to
    compare), counts each block's size, drops the blocks that are too large, and joins the members of each block;
    the rules run in parallel (lazy frames collected together), and a pair found by several rules is kept once."""
    frame = prepared.lazy().select(
        "record_id",
        *{column for columns in BLOCKING_RULES.values() for column in columns} - set(_WORD_KEYS) - {"name_prefix"},
        pl.col("name_key").str.slice(0, 4).alias("name_prefix"),
        "rarest_token",
        "second_rarest_token",
    )
    sized = []
    for keys in BLOCKING_RULES.values():
        word = next((key for key in keys if key in _WORD_KEYS), None)
        rows = _word_rows(frame, keys, word) if word else frame.select("record_id", *keys)
        block = (pl.struct(keys) if len(keys) > 1 else pl.col(keys[0])).hash().alias("block")
        sized.append(
            rows.drop_nulls(keys)
            .select("record_id", block)
            .with_columns(pl.len().over("block").alias("size"))
            .filter(pl.col("size") > 1)
        )
    # the blocks of every rule (their members and size), sized once and in parallel
    blocks = dict(zip(BLOCKING_RULES, pl.collect_all(sized), strict=True))
    rules, skipped = [], {}
    for rule, members in blocks.items():
        limit = settings.max_word_block_size if rule in SMALL_BLOCK_RULES else settings.max_block_size
        skipped[rule] = members.filter(pl.col("size") > limit)["block"].n_unique()
        kept = members.lazy().filter(pl.col("size") <= limit).select("record_id", "block")
        rules.append(
            kept.join(kept, on="block", suffix="_right")
            .filter(pl.col("record_id") < pl.col("record_id_right"))
            .select(_pair_code("record_id", "record_id_right", is_training=rule not in BROAD_RULES))
        )
    del blocks
    # acronyms: a one-word name equal to the initials of another name in the same city
    short = prepared.lazy().select("record_id", pl.col("acronym_token").alias("acronym"), "city_key").drop_nulls()
    long = prepared.lazy().select("record_id", pl.col("initials").alias("acronym"), "city_key").drop_nulls()
    rules.append(
        short.join(long, on=["acronym", "city_key"], suffix="_right")
        .filter(pl.col("record_id") != pl.col("record_id_right"))
        .select(
            _pair_code(
                pl.min_horizontal("record_id", "record_id_right"),
                pl.max_horizontal("record_id", "record_id_right"),
                is_training=True,
            )
        )
    )
    found = pl.collect_all(rules)
    pair = pl.col("code") // 2
    report = {
        # a pair that shares both rare words is joined twice by a word rule: counted once
        "pairs_by_rule": {
            rule: found[i].select(pair.n_unique()).item()
            if i < len(BLOCKING_RULES) and any(key in _WORD_KEYS for key in BLOCKING_RULES[rule])
            else found[i].height
            for i, rule in enumerate([*BLOCKING_RULES, "acronym+city"])
        },
        "blocks_skipped": skipped,
    }
    # sorted, a pair's codes lie side by side, the training one (even) first: the first of each pair is kept
    unique = (
        pl.concat(found)
        .sort("code")
        .filter(pair != pair.shift(1, fill_value=-1))
        .select(
            (pair // _PAIR_BASE).alias("left_id"),
            (pair % _PAIR_BASE).alias("right_id"),
            (pl.col("code") % 2 == 0).alias("is_training"),
        )
    )
    report["candidate_pairs"] = unique.height
    return unique, report


def _pair_code(left: str | pl.Expr, right: str | pl.Expr, is_training: bool) -> pl.Expr:
    """A pair as one integer (record ids stay below 2^32), times two, plus one where the pair is not for training:
    counting, sorting and de-duplicating one column is cheaper than two."""
    left, right = (pl.col(side) if isinstance(side, str) else side for side in (left, right))
    return ((left * _PAIR_BASE + right) * 2 + int(not is_training)).alias("code")


# Keys made of the two rarest words of the name: each word (3+ letters), or its first three letters
_WORD_KEYS = {"word": lambda token: token, "word_start": lambda token: token.str.slice(0, 3)}
_PAIR_BASE = 2**32


def _word_rows(frame: pl.LazyFrame, keys: list[str], word: str) -> pl.LazyFrame:
    """One row per record and rare word (a typo in one word leaves the other to meet on), the other keys beside."""
    others = [key for key in keys if key != word]
    rarest, second = (_WORD_KEYS[word](pl.col(token)) for token in ("rarest_token", "second_rarest_token"))
    return pl.concat(
        [
            frame.select("record_id", *others, rarest.alias(word)),
            # the second word only where it differs from the first (a word written twice, two words of one start)
            frame.filter(second != rarest).select("record_id", *others, second.alias(word)),
        ]
    ).filter(pl.col(word).str.len_chars() >= 3)


def _bit(mask: str, position: str) -> str:
    """SQL: the word at 1-based `position` has its flag in `mask` (bit i - 1, see prepare_records)."""
    return f"(({mask} >> ({position} - 1)) & 1 = 1)"


# SQL: the left name's word t (position i) and the right name's word s (position j) are the same word (see
# assets.rules.name_words)
SAME_WORD = same_word_sql(
    "t",
    "s",
    _bit("l_qualifier_mask", "i"),
    _bit("r_qualifier_mask", "j"),
    _bit("l_typo_mask", "i"),
    _bit("r_typo_mask", "j"),
)


def _shared_weight(side: str) -> str:
    """SQL: the summed weight of the words of one name that meet the other (no word: 0, every word: the name's)."""
    return (
        f"case when {side}_hits = 0 then 0.0 when {side}_hits = (1::bigint << {side}_word_count) - 1 "
        f"then {side}_weight else list_sum(list_transform({side}_weights, lambda w, i: case when {_bit(f'{side}_hits', 'i')} then w "
        "else 0 end)) end"
    )


_WORD_HITS_CTES = f"""word_matrix as (
    -- per word of the left name, the words of the right name it meets, as bits (each word pair is compared once);
    -- not needed where the names are equal (the level is exact, and every word meets)
    select
        *,
        case when l_name = r_name then null else list_transform(l_tokens, lambda t, i: list_bit_or(
            list_transform(r_tokens, lambda s, j: case when {SAME_WORD} then 1::bigint << (j - 1) else 0::bigint end)
        )) end as l_meets
    from joined
),
word_bits as (
    -- the words of each name that meet a word of the other
    select
        *,
        list_bit_or(list_transform(l_meets, lambda m, i: case when m <> 0 then 1::bigint << (i - 1) else 0::bigint end))
            as l_hits,
        list_bit_or(l_meets) as r_hits
    from word_matrix
),
"""


def _comparisons_sql(hits_given: bool) -> str:
    """The comparison SQL: the word hits (l_hits, r_hits) computed in it (nested lambdas over the words of both
    names), or given as columns of `pair_ids` (`name_words.word_hits`)."""
    given_hits = " pairs.l_hits, pairs.r_hits," if hits_given else ""
    word_ctes = "" if hits_given else _WORD_HITS_CTES
    hits_source = "joined" if hits_given else "word_bits"
    return f"""
with pairs as (select * from pair_ids),
joined as (
    select
        pairs.pair_index, pairs.left_id, pairs.right_id,{given_hits}
        l.name_key as l_name, r.name_key as r_name, l.name_compact as l_compact, r.name_compact as r_compact,
        l.tokens as l_tokens, r.tokens as r_tokens, l.word_count as l_word_count, r.word_count as r_word_count,
        l.token_weights as l_weights, r.token_weights as r_weights,
        l.name_weight as l_weight, r.name_weight as r_weight, l.rare_weight as l_rare_weight,
        r.rare_weight as r_rare_weight,
        l.common_mask as l_common_mask, r.common_mask as r_common_mask, l.qualifier_mask as l_qualifier_mask,
        r.qualifier_mask as r_qualifier_mask, l.division_mask as l_division_mask, r.division_mask as r_division_mask,
        l.typo_mask as l_typo_mask, r.typo_mask as r_typo_mask, l.initials as l_initials, r.initials as r_initials,
        l.acronym_token as l_acronym, r.acronym_token as r_acronym, l.name_tf,
        l.domain_key as l_domain, r.domain_key as r_domain, l.domain_stem as l_stem, r.domain_stem as r_stem,
        l.phone_key as l_phone, r.phone_key as r_phone,
        l.postal_code_key as l_postal, r.postal_code_key as r_postal,
        l.house_number as l_house, r.house_number as r_house, l.street_key as l_street, r.street_key as r_street,
        l.city_key as l_city, r.city_key as r_city, l.country_key as l_country, r.country_key as r_country
    from pairs
    join prepared as l on l.record_id = pairs.left_id
    join prepared as r on r.record_id = pairs.right_id
),
{word_ctes}word_sums as (
    select
        *,
        l_word_count - bit_count(l_hits) as l_unmatched,
        r_word_count - bit_count(r_hits) as r_unmatched,
        {_shared_weight("l")} as l_shared_weight,
        {_shared_weight("r")} as r_shared_weight,
        l_hits & ~l_common_mask <> 0 or {_shared_weight("l")} >= l_rare_weight as l_rare_hit,
        r_hits & ~r_common_mask <> 0 or {_shared_weight("r")} >= r_rare_weight as r_rare_hit,
        l_qualifier_mask & ~l_hits <> 0 as l_discriminator,
        r_qualifier_mask & ~r_hits <> 0 as r_discriminator,
        ~(l_hits | l_division_mask) & ((1::bigint << l_word_count) - 1) = 0 as l_division_only,
        ~(r_hits | r_division_mask) & ((1::bigint << r_word_count) - 1) = 0 as r_division_only
    from {hits_source}
),
address_parts as (
    select
        *,
        -- (a CASE tests Jaro-Winkler only where the values differ: an OR in a select list computes both sides)
        case
            when l_house is null or r_house is null or l_street is null or r_street is null then null
            when l_house = r_house and (l_street = r_street or {similar_sql("l_street", "r_street", 0.88)})
                then true
            else false
        end as same_address,
        case when l_postal is null or r_postal is null then null else l_postal = r_postal end as same_postal,
        case
            when l_city is null or r_city is null then null
            when l_city = r_city then true
            when length(l_city) >= 5 then {similar_sql("l_city", "r_city", 0.92)}
            else false
        end as same_city,
        case when l_country is null or r_country is null then null else l_country = r_country end as same_country
    from word_sums
),
levels as (
    select
        pair_index,
        case
            when l_name is null or r_name is null then null
            when l_name = r_name or l_compact = r_compact then 9
            -- a name of stop words only ("De La") has no words: it lies within any other name, and meets another such
            -- name by its spelling only
            when l_word_count is null and r_word_count is null then case when {similar_sql("l_name", "r_name", 0.85)}
                then 2 else 0 end
            when l_word_count is null or r_word_count is null then 6
            when l_unmatched = 0 and r_unmatched = 0 then 8
            -- one name adds only division words to the other: "Acme West" beside "Acme" is another unit
            when (l_unmatched = 0 and r_unmatched > 0 and r_division_only) or (r_unmatched = 0 and l_unmatched > 0
                and l_division_only) then 1
            when (l_unmatched = 0 or r_unmatched = 0) and (l_rare_hit or r_rare_hit) then 7
            when l_unmatched = 0 or r_unmatched = 0 then 6
            when (l_acronym is not null and l_acronym = r_initials)
                or (r_acronym is not null and r_acronym = l_initials) then 5
            when l_discriminator and r_discriminator then 1
            when (l_rare_hit or r_rare_hit)
                and least(l_shared_weight / nullif(l_weight, 0), r_shared_weight / nullif(r_weight, 0)) >= 0.5 then 4
            when l_rare_hit or r_rare_hit then 3
            when l_shared_weight > 0 or {similar_sql("l_name", "r_name", 0.85)} then 2
            else 0
        end as name_level,
        case
            when same_country = false then 0
            when same_address is null and same_postal is null and same_city is null then null
            when same_address and coalesce(same_postal, true) and coalesce(same_city, true) then 6
            when same_address then 5
            -- the same street, measured only where it decides the level (most pairs are decided before)
            when coalesce(same_postal, true) and coalesce(same_city, true) and (same_postal or same_city) and case
                when l_street is null or r_street is null then null
                when l_street = r_street then true
                else {similar_sql("replace(l_street, ' ', '')", "replace(r_street, ' ', '')", 0.9)}
            end then 4
            when same_postal and coalesce(same_city, true) then 3
            when same_postal is null and same_city then 2
            when same_city or same_postal then 1
            else 0
        end as location_level,
        case
            when l_phone is null or r_phone is null then null
            when l_phone = r_phone then 2
            when (length(l_phone) = 7 or length(r_phone) = 7) and right(l_phone, 7) = right(r_phone, 7) then 1
            else 0
        end as phone_level,
        case
            when l_stem is null or r_stem is null then null
            when l_domain = r_domain then 2
            when l_stem = r_stem then 1
            else 0
        end as domain_level,
        name_tf,
        -- the record whose words all lie within the other name (for the containment guard): the left one?
        l_word_count is null or l_name = r_name or l_unmatched = 0 as left_is_contained
    from address_parts
)
-- one byte per level: 4M pairs' results are held in memory
select
    pair_index,
    name_level::tinyint as name_level,
    location_level::tinyint as location_level,
    phone_level::tinyint as phone_level,
    domain_level::tinyint as domain_level,
    name_tf,
    left_is_contained
from levels
"""


# the comparison SQL, every step in SQL: Spark's (transpiled), and the reference the DuckDB engine's is tested against
COMPARISONS_SQL = _comparisons_sql(hits_given=False)
# the DuckDB engine's: the word hits computed by name_words.word_hits and given with the pairs
COMPARISONS_SQL_GIVEN_HITS = _comparisons_sql(hits_given=True)


def comparison_records(prepared: pl.DataFrame) -> pl.DataFrame:
    """The records' columns that COMPARISONS_SQL reads (as `prepared`), on either engine."""
    columns = [
        "record_id",
        "name_key",
        "name_compact",
        "tokens",
        "token_weights",
        "common_mask",
        "qualifier_mask",
        "division_mask",
        "typo_mask",
        "initials",
        "acronym_token",
        "name_tf",
        "domain_key",
        "domain_stem",
        "phone_key",
        "postal_code_key",
        "house_number",
        "street_key",
        "city_key",
        "country_key",
        "rare_weight",
    ]
    # a name's total word weight computed here: a CTE read twice (once per side) would be materialised, one more copy
    # of the records in memory (1M records: 0.4 GB)
    return prepared.select(
        *columns,
        pl.col("token_weights").list.sum().alias("name_weight"),
        # how many words (null: none), so that the SQL reads the words themselves only where it compares them
        pl.col("token_count").cast(pl.Int64).alias("word_count"),
    )


def compare_pairs(conn: duckdb.DuckDBPyConnection, prepared: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """The comparison levels of each pair (and the exact name's term frequency), in the order of `pairs` and with its
    other columns."""
    left_hits, right_hits = word_hits(prepared, pairs["left_id"].to_numpy(), pairs["right_id"].to_numpy())
    conn.register("prepared", comparison_records(prepared))
    conn.register(
        "pair_ids",
        pairs.select("left_id", "right_id")
        .with_row_index("pair_index")
        .with_columns(pl.Series("l_hits", left_hits), pl.Series("r_hits", right_hits)),
    )
    try:
        # put back in order by the pair's index (cheaper than joining the pairs back on two ids)
        levels = conn.sql(COMPARISONS_SQL_GIVEN_HITS).pl().sort("pair_index").drop("pair_index")
        return pl.concat([pairs, levels], how="horizontal").select(
            "left_id",
            "right_id",
            *(pl.col(column).cast(pl.Int32) for column in FIELDS),
            "name_tf",
            pl.when("left_is_contained").then("left_id").otherwise("right_id").alias("contained_id"),
            pl.exclude("left_id", "right_id", *FIELDS, "name_tf", "left_is_contained"),
        )
    finally:
        for name in ("prepared", "pair_ids"):
            conn.unregister(name)


def random_pairs(n_records: int, count: int, seed: int) -> pl.DataFrame:
    """Random pairs of distinct records (every pair when there are fewer than `count`)."""
    if n_records * (n_records - 1) // 2 <= count:
        ids = pl.int_range(0, n_records, eager=True, dtype=pl.Int64)
        grid = pl.DataFrame({"left_id": ids}).join(pl.DataFrame({"right_id": ids}), how="cross")
        return grid.filter(pl.col("left_id") < pl.col("right_id"))
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n_records, count)
    right = rng.integers(0, n_records, count)
    keep = left != right
    low, high = np.minimum(left, right)[keep], np.maximum(left, right)[keep]
    return pl.DataFrame({"left_id": low, "right_id": high}).unique()


def level_frequencies(levels: pl.DataFrame) -> dict[str, dict[int, float]]:
    """Share of each agreement level per field among random pairs where the field is present on both sides, with a
    Dirichlet prior worth U_PRIOR_PAIRS pairs (U_PRIOR): on a few hundred records the random pairs are few and
    include the duplicates themselves, so the prior keeps u sensible; on real volumes the sample decides."""
    shares = {}
    for column in FIELDS:
        counts = dict(levels.select(column).drop_nulls().group_by(column).len().iter_rows())
        total = sum(counts.values()) + U_PRIOR_PAIRS
        shares[column] = {
            level: (counts.get(level, 0) + U_PRIOR_PAIRS * U_PRIOR[column][level]) / total for level in LEVELS[column]
        }
    return shares


def _log_bayes_factors(patterns: pl.DataFrame, m: dict, u: dict) -> np.ndarray:
    """Natural-log Bayes factor of each pattern: sum over fields of log(m / u), an exact name with its own u."""
    total = np.zeros(patterns.height)
    for column in FIELDS:
        values = patterns[column].to_numpy()
        present = ~np.isnan(values) if values.dtype.kind == "f" else np.ones(len(values), bool)
        levels = np.nan_to_num(values.astype(float), nan=-1).astype(int)
        for level in LEVELS[column]:
            mask = present & (levels == level)
            if not mask.any():
                continue
            if TERM_FREQUENCIES.get(column, (None,))[0] == level:
                tf = patterns[TERM_FREQUENCIES[column][1]].to_numpy()[mask]
                total[mask] += np.log(m[column][level] / np.maximum(tf, u[column][level] * 1e-3))
            else:
                total[mask] += math.log(m[column][level] / u[column][level])
    return total


def _patterns(levels: pl.DataFrame | pl.LazyFrame, count: str | None = None) -> pl.DataFrame:
    """Distinct comparison patterns with their pair counts (the term frequencies, rounded, are part of it). With
    `count`, each row of `levels` stands for that many pairs (patterns counted elsewhere, e.g. on Spark)."""
    rounded = [
        pl.when(pl.col(column) == level).then(pl.lit(2.0) ** pl.col(tf).log(2).round(1)).alias(tf)
        for column, (level, tf) in TERM_FREQUENCIES.items()
    ]
    keys = [*FIELDS, *(tf for _, tf in TERM_FREQUENCIES.values())]
    # sorted, so that the EM's sums run in one order and identical data gives identical probabilities
    grouped = levels.lazy().with_columns(rounded).group_by(keys)
    counted = grouped.len() if count is None else grouped.agg(pl.col(count).sum().alias("len"))
    return counted.sort(keys, nulls_last=True).collect()


def estimate_parameters(
    levels: pl.DataFrame | pl.LazyFrame,
    u: dict,
    n_records: int,
    settings: ResolutionSettings,
    labels: pl.DataFrame | None = None,
    count: str | None = None,
) -> tuple[dict, float]:
    """m-probabilities and the prior (probability that two random records match) by EM over the candidate pairs.

    Every pair outside the candidates counts as a non-match; the E-step uses the prior over all n(n-1)/2 pairs, so
    the evidence that made a pair a candidate is counted once, through its agreement levels. Labelled pairs enter
    with their label as the posterior. `count`: see _patterns."""
    all_pairs = max(n_records * (n_records - 1) / 2, 1.0)
    patterns = _patterns(levels, count)
    counts = patterns["len"].to_numpy().astype(float)
    m = {
        "name_level": {9: 0.5, 8: 0.15, 7: 0.08, 6: 0.02, 5: 0.02, 4: 0.05, 3: 0.05, 2: 0.05, 1: 1e-4, 0: 0.05},
        "location_level": {6: 0.55, 5: 0.1, 4: 0.05, 3: 0.1, 2: 0.05, 1: 0.1, 0: 0.05},
        "phone_level": {2: 0.75, 1: 0.05, 0: 0.2},
        "domain_level": {2: 0.75, 1: 0.1, 0: 0.15},
    }
    start = {column: dict(levels_) for column, levels_ in m.items()}
    prior = min(0.5, max(0.1 * counts.sum() / all_pairs, 1e-12))
    label_patterns = _patterns(labels.filter(pl.col("is_match"))) if labels is not None and labels.height else None
    columns = {c: patterns[c].to_numpy() for c in FIELDS}
    for _ in range(settings.em_iterations):
        log_odds = math.log(prior / (1 - prior)) + _log_bayes_factors(patterns, m, u)
        weight = counts / (1 + np.exp(-np.clip(log_odds, -60, 60)))
        prior = float(min(max(weight.sum() / all_pairs, 1e-12), 0.5))
        for column in FIELDS:
            values = columns[column]
            totals = {}
            for level in LEVELS[column]:
                mask = values == level
                totals[level] = float(weight[mask].sum())
                if label_patterns is not None:
                    totals[level] += float(label_patterns.filter(pl.col(column) == level)["len"].sum())
            grand = sum(totals.values())
            if grand <= 0:
                continue
            fixed = FIXED_M.get(column, {})
            free = 1 - sum(fixed.values())
            # a Dirichlet prior worth a few pairs (the starting m): a level never seen among matches is rare, not
            # impossible, so one disagreeing field never outweighs everything else on a small data set
            smoothed = {level: totals[level] + M_PRIOR_PAIRS * start[column][level] for level in totals}
            free_total = sum(v for level, v in smoothed.items() if level not in fixed)
            m[column] = {
                level: fixed[level] if level in fixed else free * smoothed[level] / free_total
                for level in LEVELS[column]
            }
    return m, prior


def estimate_prior(
    levels: pl.DataFrame | pl.LazyFrame,
    m: dict,
    u: dict,
    prior: float,
    n_records: int,
    iterations: int = 20,
    count: str | None = None,
) -> float:
    """The prior again over every compared pair (the broad rules' too), m and u fixed: the expected matches among
    them over all n(n-1)/2 pairs. `count`: see _patterns."""
    all_pairs = max(n_records * (n_records - 1) / 2, 1.0)
    patterns = _patterns(levels, count)
    counts = patterns["len"].to_numpy().astype(float)
    factors = _log_bayes_factors(patterns, m, u)
    for _ in range(iterations):
        log_odds = math.log(prior / (1 - prior)) + factors
        prior = float(min(max((counts / (1 + np.exp(-np.clip(log_odds, -60, 60)))).sum() / all_pairs, 1e-12), 0.5))
    return prior


def score_pairs(levels: pl.DataFrame, m: dict, u: dict, prior: float) -> pl.DataFrame:
    """match_weight (log2 odds, the prior included) and match_probability of each pair, with the name's and the
    place fields' (location, phone, domain) parts of the weight."""
    contributions = {}
    for column in FIELDS:
        mapping = {level: math.log2(m[column][level] / u[column][level]) for level in LEVELS[column]}
        contribution = pl.col(column).replace_strict(mapping, default=0.0, return_dtype=pl.Float64).fill_null(0.0)
        if column in TERM_FREQUENCIES:
            level, tf = TERM_FREQUENCIES[column]
            adjusted = (pl.lit(m[column][level]) / pl.max_horizontal(pl.col(tf), pl.lit(u[column][level] * 1e-3))).log(
                2
            )
            contribution = pl.when(pl.col(column) == level).then(adjusted).otherwise(contribution)
        contributions[column] = contribution
    place = [contributions[c] for c in FIELDS if c != "name_level"]
    return (
        levels.with_columns(
            contributions["name_level"].alias("name_weight"), pl.sum_horizontal(place).alias("place_weight")
        )
        .with_columns(
            (math.log2(prior / (1 - prior)) + pl.col("name_weight") + pl.col("place_weight")).alias("match_weight")
        )
        .with_columns(_probability(pl.col("match_weight")))
    )


def _probability(weight: pl.Expr) -> pl.Expr:
    return (1 / (1 + (2 ** -weight.clip(-200, 200)))).alias("match_probability")


def learn_from_labels(scored: pl.DataFrame, strength: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Move every pair towards what people's labels of its comparison pattern say.

    For each pattern (the four levels) with labelled pairs: the model's mean probability of those pairs, p, is a
    prior worth `strength` labels; with k matches among n labels the pattern's probability becomes
    (strength * p + k) / (strength + n), and every pair of the pattern has its log-odds shifted by the same amount.
    `is_taught_match`: the labels lift the pattern's name rule (RULE_DOUBT: two must-links of two, not one).
    Returns the pairs with `label_shift` (log2) applied, and the per-pattern table for the report."""
    labelled = scored.filter(pl.col("decision").is_not_null())
    if labelled.height == 0:
        return scored.with_columns(pl.lit(0.0).alias("label_shift"), pl.lit(False).alias("is_taught_match")), None
    # what the pattern's labels leave of the belief that its name rule is wrong (RULE_DOUBT)
    rule_doubt = (RULE_DOUBT_LABELS * RULE_DOUBT + pl.col("matches")) / (RULE_DOUBT_LABELS + pl.col("labels"))
    table = (
        labelled.group_by(FIELDS)
        .agg(
            pl.len().alias("labels"),
            (pl.col("decision") == "must_link").sum().alias("matches"),
            pl.col("match_probability").mean().clip(1e-9, 1 - 1e-9).alias("model_probability"),
        )
        .with_columns(
            ((strength * pl.col("model_probability") + pl.col("matches")) / (strength + pl.col("labels")))
            .clip(1e-9, 1 - 1e-9)
            .alias("taught_probability")
        )
        .with_columns(
            (_logit2(pl.col("taught_probability")) - _logit2(pl.col("model_probability"))).alias("label_shift"),
            (rule_doubt > 0.5).alias("is_taught_match"),
        )
    )
    shifted = (
        scored.join(
            table.select(*FIELDS, "label_shift", "is_taught_match"), on=list(FIELDS), how="left", nulls_equal=True
        )
        .with_columns(pl.col("label_shift").fill_null(0.0), pl.col("is_taught_match").fill_null(False))
        .with_columns((pl.col("match_weight") + pl.col("label_shift")).alias("match_weight"))
        .with_columns(_probability(pl.col("match_weight")))
    )
    return shifted, table


def _logit2(p: pl.Expr) -> pl.Expr:
    return (p / (1 - p)).log(2)


class OverrideError(InputError):
    """A match override names an unknown record, contradicts another override, or cannot be honoured."""


def components(n_nodes: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The connected component of each node 0..n_nodes-1 given the edges left[i]-right[i] (scipy)."""
    # scipy is imported here, not at the top: it costs about 0.4 s at every start of the definitions (the CLI, the
    # code server, each test worker) and only a matching step uses it
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(n_nodes, n_nodes))
    return connected_components(graph, directed=False)[1]


def cluster(n_records: int, links: pl.DataFrame) -> np.ndarray:
    if links.height == 0:
        return np.arange(n_records)
    return components(n_records, links["left_id"].to_numpy(), links["right_id"].to_numpy())


def attach_overrides(prepared: pl.DataFrame, overrides: pl.DataFrame | None) -> pl.DataFrame:
    """Overrides with the record ids of both sides; an unknown record or a pair decided both ways is an error."""
    columns = {
        "left_id": pl.Int64,
        "right_id": pl.Int64,
        "decision": pl.String,
        "source_file": pl.String,
        "source_row": pl.Int64,
    }
    if overrides is None or overrides.height == 0:
        return pl.DataFrame(schema=columns)
    ids = prepared.select("record_id", "source_system", "source_client_id")
    resolved = overrides
    for side in ("1", "2"):
        resolved = resolved.join(
            ids.rename(
                {
                    "record_id": f"id_{side}",
                    "source_system": f"source_system_{side}",
                    "source_client_id": f"source_client_id_{side}",
                }
            ),
            on=[f"source_system_{side}", f"source_client_id_{side}"],
            how="left",
        )
        unknown = resolved.filter(pl.col(f"id_{side}").is_null())
        if unknown.height:
            row = unknown.sort("source_file", "source_row").row(0, named=True)
            raise OverrideError(
                f"{row['source_file']}: row {row['source_row']}: no client record "
                f"{row[f'source_system_{side}']}:{row[f'source_client_id_{side}']} (columns source_system_{side}, "
                f"source_client_id_{side})" + (f"; {unknown.height - 1} more like it" if unknown.height > 1 else "")
            )
    resolved = resolved.with_columns(
        pl.min_horizontal("id_1", "id_2").alias("left_id"), pl.max_horizontal("id_1", "id_2").alias("right_id")
    )
    same = resolved.filter(pl.col("left_id") == pl.col("right_id"))
    if same.height:
        row = same.row(0, named=True)
        raise OverrideError(f"{row['source_file']}: row {row['source_row']}: both sides are the same record")
    decisions = resolved.group_by("left_id", "right_id").agg(pl.col("decision").n_unique().alias("n"))
    conflicting = resolved.join(decisions.filter(pl.col("n") > 1), on=["left_id", "right_id"]).sort("source_row")
    if conflicting.height:
        rows = conflicting.sort("source_file", "source_row")
        where = ", ".join(
            f"{r['source_file']} row {r['source_row']} ({r['decision']})" for r in rows.iter_rows(named=True)
        )
        raise OverrideError(f"match overrides contradict each other for one pair: {where}")
    return resolved.select(list(columns)).unique(["left_id", "right_id"]).sort("left_id", "right_id")


def guard_containment(n_records: int, links: pl.DataFrame) -> pl.DataFrame:
    """Drop the containment links of a record whose name lies within the names of partners that are not one
    organisation themselves ("Acme" beside "Acme Financial" and "Acme Insurance", or a head office beside two
    branches): such a record is not merged on containment alone. Partners count as one organisation when the other
    links (and the containment links of unambiguous records) put them in one cluster."""
    is_contained = pl.col("name_level").is_in(CONTAINED_NAMES) & ~pl.col("is_must_link")
    contained = links.filter(is_contained).with_columns(
        pl.when(pl.col("contained_id") == pl.col("left_id"))
        .then(pl.col("right_id"))
        .otherwise(pl.col("left_id"))
        .alias("partner_id")
    )
    if contained.height == 0:
        return links
    core = links.filter(~is_contained)

    def ambiguous(labels: np.ndarray, candidates: pl.DataFrame) -> pl.Series:
        partner_cluster = pl.Series(labels).gather(candidates["partner_id"])
        return (
            candidates.with_columns(partner_cluster.alias("partner_cluster"))
            .group_by("contained_id")
            .agg(pl.col("partner_cluster").n_unique().alias("clusters"))
            .filter(pl.col("clusters") > 1)["contained_id"]
        )

    first = ambiguous(cluster(n_records, core), contained)
    settled = contained.filter(~pl.col("contained_id").is_in(first.implode()))
    second = ambiguous(
        cluster(n_records, pl.concat([core, settled], how="diagonal_relaxed")),
        contained.filter(pl.col("contained_id").is_in(first.implode())),
    )
    dropped = contained.filter(pl.col("contained_id").is_in(second.implode())).select("left_id", "right_id")
    return links.join(dropped, on=["left_id", "right_id"], how="anti")


def apply_cannot_links(labels: np.ndarray, links: pl.DataFrame, cannot: pl.DataFrame) -> np.ndarray:
    """Split components that hold a cannot-link pair: re-link them strongest first (must-links before all), refusing
    any union that would put a cannot-link pair in one account. Runs only on the few affected components."""
    if cannot.height == 0:
        return labels
    left, right = cannot["left_id"].to_numpy(), cannot["right_id"].to_numpy()
    affected = np.unique(labels[left][labels[left] == labels[right]])
    if affected.size == 0:
        return labels
    labels = labels.copy()
    members = np.flatnonzero(np.isin(labels, affected))
    parent = {int(node): int(node) for node in members}

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    forbidden: dict[int, set[int]] = {}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a in parent and b in parent:
            forbidden.setdefault(a, set()).add(b)
            forbidden.setdefault(b, set()).add(a)
    groups = {node: {node} for node in parent}
    candidates = links.filter(pl.col("left_id").is_in(members) & pl.col("right_id").is_in(members)).sort(
        ["is_must_link", "match_probability", "left_id", "right_id"], descending=[True, True, False, False]
    )
    for a, b, must in candidates.select("left_id", "right_id", "is_must_link").iter_rows():
        root_a, root_b = find(a), find(b)
        if root_a == root_b:
            continue
        clash = any(forbidden.get(node, set()) & groups[root_b] for node in groups[root_a])
        if clash:
            if must:
                raise OverrideError(
                    "match overrides cannot all hold: must-link pairs join two records that a cannot-link "
                    f"override keeps apart (records {sorted(groups[root_a])[:3]} and {sorted(groups[root_b])[:3]})"
                )
            continue
        parent[root_b] = root_a
        groups[root_a] |= groups.pop(root_b)
    next_label = labels.max() + 1
    for root, group in groups.items():
        for node in group:
            labels[node] = next_label + root
    return labels


EVIDENCE_FIELDS = {"name_level": "name", "location_level": "location", "phone_level": "phone", "domain_level": "domain"}


def describe_evidence() -> pl.Expr:
    """'name=exact, location=same_address, phone=same': each field that was compared, with its level."""
    parts = [
        pl.when(pl.col(column).is_not_null()).then(
            pl.concat_str(
                pl.lit(f"{name}="), pl.col(column).replace_strict(FIELD_LEVELS[column], return_dtype=pl.String)
            )
        )
        for column, name in EVIDENCE_FIELDS.items()
    ]
    return pl.concat_list(parts).list.drop_nulls().list.join(", ")


# What one pair of a kind may teach beyond its own uncertainty p(1 - p): a pair whose probability says "match" but a
# name rule holds back (a label settles which is right), and a pair whose name and place argue opposite ways strongly
# (the model may be wrong there, as fields are not independent).
HELD_BACK_VALUE = 0.25
TORN_VALUE = 0.05


def review_queue(scored: pl.DataFrame, labels: np.ndarray, settings: ResolutionSettings) -> pl.DataFrame:
    """Pairs a person should decide, ranked by how much a decision would teach.

    In the queue: undecided pairs in different accounts with some reason to look: a probability from
    `review_threshold` up, names that agree at least by containment, or a shared address, phone or domain. A label
    moves every pair of its comparison pattern, so a pattern is worth the uncertainty it holds, the sum of p(1 - p)
    over its undecided pairs, plus HELD_BACK_VALUE for each pair a name rule holds back although its probability is
    high and TORN_VALUE for each pair whose evidence argues both ways (names strongly against, place strongly for,
    or the reverse), divided by (1 + labels the pattern already has)^2; pairs that would join larger accounts weigh
    more. The queue shows the most valuable pattern's most uncertain pair first, then one pair of each other
    pattern in order of value, then the second pairs, and so on."""
    cluster_of = pl.Series("cluster", labels)
    cluster_size = pl.Series("cluster_size", np.bincount(labels), dtype=pl.UInt32)
    # lazily, so that only the columns each step needs are read (the pairs frame is wide)
    undecided = scored.lazy().filter(pl.col("decision").is_null())
    held_back = (pl.col("match_probability") >= settings.match_threshold) & ~pl.col("is_link")
    torn = ((pl.col("name_weight") <= -4) & (pl.col("place_weight") >= 8)) | (
        (pl.col("name_weight") >= 8) & (pl.col("place_weight") <= -4)
    )
    labelled = scored.lazy().filter(pl.col("decision").is_not_null()).group_by(FIELDS).len("labels")
    pattern_value = (
        undecided.group_by(FIELDS)
        .agg(
            (
                (pl.col("match_probability") * (1 - pl.col("match_probability"))).sum()
                + HELD_BACK_VALUE * held_back.sum()
                + TORN_VALUE * (torn & ~held_back).sum()
            ).alias("pattern_value"),
        )
        # each label already given to a pattern leaves less for the next one to teach
        .join(labelled, on=list(FIELDS), how="left", nulls_equal=True)
        # rounded: a sum's last bits depend on how the rows were split between threads; the order must not
        .with_columns((pl.col("pattern_value") / (1 + pl.col("labels").fill_null(0)) ** 2).round(9))
    )
    worth_a_look = (
        (pl.col("match_probability") >= settings.review_threshold)
        | (pl.col("name_level") >= 2)
        | (pl.col("location_level") >= 5)
        | (pl.col("phone_level") == 2)
        | (pl.col("domain_level") == 2)
    )
    left_cluster, right_cluster = (pl.lit(cluster_of).gather(pl.col(side)) for side in ("left_id", "right_id"))
    # each pair's rank within its pattern (most uncertain first), on the columns that decide it only. Pairs equally
    # uncertain are alike to the model (most patterns hold one probability): among them a pseudo-random one (a hash
    # of the pair) shows the pattern. Ordered by record id instead, the queue showed the same record again and again
    # (one record in 3 of the first 25 labels at hard noise 3), and labels of one record teach about that record, not the
    # pattern.
    ranked = (
        scored.lazy()
        .with_row_index("_row")
        .filter(pl.col("decision").is_null() & worth_a_look.fill_null(False) & (left_cluster != right_cluster))
        .select(
            "_row",
            *FIELDS,
            pl.struct((pl.col("match_probability") - 0.5).abs().round(6), pl.struct("left_id", "right_id").hash(7))
            .rank("ordinal")
            .over(*FIELDS)
            .alias("_rank_in_pattern"),
        )
        .collect()
    )
    # the queue takes every pattern's first pair, then every pattern's second, ...: the first `review_limit` rows have
    # a rank of at most `deepest`, so only those are looked at further
    sizes = np.sort(ranked.group_by(FIELDS).len()["len"].to_numpy())
    ranks = np.arange(1, settings.review_limit + 1)
    smaller = np.searchsorted(sizes, ranks)  # patterns with fewer pairs than the rank
    rows_up_to = np.concatenate([[0], np.cumsum(sizes)])[smaller] + ranks * (sizes.size - smaller)
    enough = rows_up_to >= settings.review_limit
    deepest = int(ranks[np.argmax(enough)]) if enough.any() else settings.review_limit
    shallow = ranked.filter(pl.col("_rank_in_pattern") <= deepest)
    candidates = (
        scored[shallow["_row"]]
        .with_columns(
            pl.lit(cluster_size).gather(left_cluster).alias("left_size"),
            pl.lit(cluster_size).gather(right_cluster).alias("right_size"),
        )
        .join(pattern_value.collect(), on=list(FIELDS), how="left", nulls_equal=True, maintain_order="left")
        .with_columns(
            (pl.col("pattern_value") * (1 + (pl.col("left_size") + pl.col("right_size")).log(2) / 4))
            .round(9)
            .alias("teaching_value"),
            (pl.col("match_probability") - 0.5).abs().alias("_distance"),
            shallow["_rank_in_pattern"],
        )
    )
    queue = (
        candidates.sort(
            ["_rank_in_pattern", "teaching_value", "_distance", "left_id", "right_id"],
            descending=[False, True, False, False, False],
        )
        .head(settings.review_limit)
        .with_columns(
            pl.when(held_back)
            .then(pl.lit("names_disagree"))
            .when(torn)
            .then(pl.lit("evidence_disagrees"))
            .when(pl.col("match_probability") >= settings.review_threshold)
            .then(pl.lit("uncertain"))
            .otherwise(pl.lit("shared_evidence"))
            .alias("review_reason"),
        )
        .with_row_index("review_rank", offset=1)
        .with_columns(pl.col("review_rank").cast(pl.Int64), describe_evidence().alias("evidence"))
    )
    return queue.drop("_distance", "_rank_in_pattern")


# The step from prepared records to scored pairs, DuckDB's (score_candidate_pairs) or Spark's
# (assets.rules.spark_resolution): (prepared, decided, settings, clock) -> (scored pairs, blocking report, (m, u, prior))
PairScorer = Callable[
    [pl.DataFrame, pl.DataFrame, ResolutionSettings, _PhaseClock], tuple[pl.DataFrame, dict, tuple[dict, dict, float]]
]


def blocked_beside_u(
    prepared: pl.DataFrame,
    settings: ResolutionSettings,
    clock: _PhaseClock,
    block: Callable[[], tuple[pl.DataFrame, dict]],
    engine: str = "",
) -> tuple[pl.DataFrame, dict, dict]:
    """`block()` (the candidate pairs and the blocking report, on `engine`), while DuckDB compares the fixed sample of
    random pairs that u is counted from on this machine, alongside: neither keeps both cores busy alone. Returns
    (pairs, report, u)."""
    where = f" ({engine})" if engine else ""
    with duckdb.connect() as conn, ThreadPoolExecutor(max_workers=1) as alongside:
        conn.execute("set enable_progress_bar = false")
        sample = random_pairs(prepared.height, settings.random_pairs, settings.seed)
        random_levels = alongside.submit(compare_pairs, conn, prepared, sample)
        pairs, report = block()
        clock.done(f"blocked: {report['candidate_pairs']:,} candidate pairs{where}")
        u = level_frequencies(random_levels.result())
        clock.done(f"u from {sample.height:,} random pairs (alongside the blocking)")
    return pairs, report, u


def score_candidate_pairs(
    prepared: pl.DataFrame, decided: pl.DataFrame, settings: ResolutionSettings, clock: _PhaseClock
) -> tuple[pl.DataFrame, dict, tuple[dict, dict, float]]:
    """Block, compare (DuckDB), estimate u, m and the prior, and score every candidate pair (and every labelled
    pair) on this machine: the pairs with their levels, decision, weights and probability, in (left_id, right_id)
    order with the labelled pairs blocking did not find last; the blocking report; (m, u, prior)."""
    pairs, report, u = blocked_beside_u(prepared, settings, clock, lambda: candidate_pairs(prepared, settings))
    with duckdb.connect() as conn:
        conn.execute("set enable_progress_bar = false")
        # the labelled pairs too, where blocking did not find them
        unblocked = decided.select("left_id", "right_id").join(pairs, on=["left_id", "right_id"], how="anti")
        compared = pl.concat([pairs, unblocked.with_columns(pl.lit(False).alias("is_training"))])
        levels = compare_pairs(conn, prepared, compared)
        clock.done(f"compared {levels.height:,} pairs")
    levels = (
        levels.join(decided.select("left_id", "right_id", "decision"), on=["left_id", "right_id"], how="left")
        if decided.height
        else levels.with_columns(pl.lit(None, pl.String).alias("decision"))
    )
    labels = levels.filter(pl.col("decision").is_not_null()).with_columns(
        (pl.col("decision") == "must_link").alias("is_match")
    )
    # lazily: the estimates read a few columns of the undecided pairs, no copy of them
    undecided = levels.lazy().filter(pl.col("decision").is_null())
    m, prior = estimate_parameters(undecided.filter("is_training"), u, prepared.height, settings, labels)
    prior = estimate_prior(undecided, m, u, prior, prepared.height)
    clock.done("estimated m and the prior (EM)")
    return score_pairs(levels, m, u, prior), report, (m, u, prior)


def resolve_clients(
    records: pl.DataFrame,
    settings: ResolutionSettings | None = None,
    overrides: pl.DataFrame | None = None,
    progress: Callable[[str], None] | None = None,
    scorer: PairScorer | None = None,
) -> Resolution:
    """Group client records into accounts; see the module docstring. `overrides` has source_system_1,
    source_client_id_1, source_system_2, source_client_id_2, decision (must_link / cannot_link), source_file and
    source_row. `scorer`: what turns the prepared records into scored pairs (default: DuckDB and polars here)."""
    settings = settings or ResolutionSettings()
    clock = _PhaseClock(progress)
    prepared, common = prepare_records(records, settings)
    decided = attach_overrides(prepared, overrides)
    clock.done(f"prepared {prepared.height:,} records ({len(common):,} common name words)")
    scored, report, (m, u, prior) = (scorer or score_candidate_pairs)(prepared, decided, settings, clock)
    scored, taught = learn_from_labels(scored, settings.label_prior_strength)
    name_allows = (
        pl.when(pl.col("name_level") == CONFLICTING_QUALIFIERS)
        .then(False)
        .when(pl.col("name_level") == DIFFERENT_NAMES)
        .then((pl.col("domain_level") == 2).fill_null(False))
        .otherwise(True)
    ) | pl.col("is_taught_match")
    is_must = (pl.col("decision") == "must_link").fill_null(False)
    scored = scored.with_columns(
        (
            is_must
            | (pl.col("decision").is_null() & (pl.col("match_probability") >= settings.match_threshold) & name_allows)
        ).alias("is_link"),
        is_must.alias("is_must_link"),
    )
    links = guard_containment(prepared.height, scored.filter(pl.col("is_link")))
    clock.done(f"scored: {links.height:,} links")
    labels_ = cluster(prepared.height, links)
    labels_ = apply_cannot_links(labels_, links, decided.filter(pl.col("decision") == "cannot_link"))
    clock.done("clustered")
    clustered = prepared.select("record_id", "source_system", "source_client_id").with_columns(
        pl.Series("cluster", labels_)
    )
    cluster_of = clustered.select("record_id", "cluster")
    kept = (
        links.join(cluster_of.rename({"record_id": "left_id", "cluster": "left_cluster"}), on="left_id")
        .join(cluster_of.rename({"record_id": "right_id", "cluster": "right_cluster"}), on="right_id")
        .filter(pl.col("left_cluster") == pl.col("right_cluster"))
    )
    # the evidence text of each comparison pattern once (a few hundred), with its rank for the tie-break below
    evidence = (
        kept.select(FIELDS)
        .unique()
        .with_columns(describe_evidence().alias("evidence"))
        .sort("evidence")
        .with_row_index("evidence_rank")
    )
    kept = kept.join(evidence, on=list(FIELDS), how="left", nulls_equal=True)
    ends = pl.concat(
        [
            kept.select(
                pl.col(side).alias("record_id"), "match_probability", "evidence", "evidence_rank", "is_must_link"
            )
            for side in ("left_id", "right_id")
        ]
    )
    best = (
        ends.sort(["is_must_link", "match_probability", "evidence_rank"], descending=True)
        .unique("record_id", keep="first", maintain_order=True)
        .drop("evidence_rank")
    )
    # an account is named after the smallest source_system:source_client_id among its records
    named = clustered.with_columns((pl.col("source_system") + ":" + pl.col("source_client_id")).alias("account_id"))
    crosswalk = (
        named.drop("account_id")
        .join(
            named.group_by("cluster").agg(pl.col("account_id").min()), on="cluster", how="left", maintain_order="left"
        )
        .join(best, on="record_id", how="left")
        .with_columns(
            pl.when(pl.col("is_must_link"))
            .then(pl.lit("must_link_override"))
            .when(pl.col("match_probability").is_not_null())
            .then(pl.lit("probabilistic"))
            .otherwise(pl.lit("unmatched"))
            .alias("match_rule"),
            pl.col("match_probability").alias("match_confidence"),
            pl.col("evidence").alias("match_evidence"),
        )
        .select(
            "record_id",
            "source_system",
            "source_client_id",
            "account_id",
            "match_rule",
            "match_confidence",
            "match_evidence",
        )
        .sort("record_id")
    )
    review = review_queue(scored, labels_, settings)
    clock.done(f"crosswalk and {review.height:,} review pairs")
    report.update(
        seconds=clock.seconds,
        records_in=prepared.height,
        accounts_out=crosswalk["account_id"].n_unique(),
        links=links.height,
        prior_two_random_records_match=prior,
        uncertain_pair_share=float(
            scored.select(
                pl.col("match_probability").filter(pl.col("decision").is_null()).is_between(0.05, 0.95).mean()
            ).item()
            or 0.0
        ),
        m=m,
        u=u,
        common_tokens=len(common),
        records_by_rule=dict(crosswalk.group_by("match_rule").len().iter_rows()),
        review_pairs=review.height,
        overrides={
            "must_link": decided.filter(pl.col("decision") == "must_link").height,
            "cannot_link": decided.filter(pl.col("decision") == "cannot_link").height,
        },
        patterns_taught=0 if taught is None else taught.height,
    )
    pairs_out = scored.select("left_id", "right_id", *FIELDS, "match_probability", "match_weight", "is_link")
    return Resolution(crosswalk=crosswalk, review=review, report=report, pairs=pairs_out)


REVIEW_COLUMNS = {
    "review_rank": pl.Int64,
    "source_system_1": pl.String,
    "source_client_id_1": pl.String,
    "source_system_2": pl.String,
    "source_client_id_2": pl.String,
    "match_probability": pl.Float64,
    "match_weight": pl.Float64,
    "teaching_value": pl.Float64,
    "review_reason": pl.String,
    "evidence": pl.String,
    "name_level": pl.String,
}


def match_client_records(
    records: pl.DataFrame,
    overrides: pl.DataFrame | None = None,
    matcher: str = "probabilistic",
    match_threshold: float = 0.5,
    review_threshold: float = 0.05,
    progress: Callable[[str], None] | None = None,
    scorer: PairScorer | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """The records with account_id, match_rule, match_confidence and match_evidence; the review pairs by record
    keys; and a report for the UI. `matcher` is probabilistic (this module) or deterministic (matching.py);
    `scorer`: see resolve_clients (the Spark engine's: assets.rules.spark_resolution)."""
    if matcher == "deterministic":
        if overrides is not None and overrides.height:
            raise OverrideError("match_overrides need the probabilistic matcher (ALMS_MATCHER=probabilistic)")
        matched, report = match_clients(records)
        matched = matched.with_columns(
            pl.lit(None, pl.Float64).alias("match_confidence"), pl.col("match_rule").alias("match_evidence")
        )
        return matched, pl.DataFrame(schema=REVIEW_COLUMNS), {"records_by_rule": report["records_by_rule"]}
    settings = ResolutionSettings(match_threshold=match_threshold, review_threshold=review_threshold)
    resolution = resolve_clients(records, settings, overrides, progress, scorer)
    keys = resolution.crosswalk.select("record_id", "source_system", "source_client_id")
    review = (
        resolution.review.join(
            keys.rename(
                {"record_id": "left_id", "source_system": "source_system_1", "source_client_id": "source_client_id_1"}
            ),
            on="left_id",
        )
        .join(
            keys.rename(
                {"record_id": "right_id", "source_system": "source_system_2", "source_client_id": "source_client_id_2"}
            ),
            on="right_id",
        )
        .with_columns(pl.col("name_level").replace_strict(NAME_LEVELS, default="missing", return_dtype=pl.String))
        .select(list(REVIEW_COLUMNS))
        .sort("review_rank")
    )
    matched = records.join(resolution.crosswalk.drop("record_id"), on=["source_system", "source_client_id"], how="left")
    report = resolution.report
    return (
        matched,
        review,
        {
            "pairs_compared": report["candidate_pairs"],
            "pairs_by_blocking_rule": report["pairs_by_rule"],
            "blocks_skipped_as_too_large": report["blocks_skipped"],
            "links": report["links"],
            "records_by_rule": report["records_by_rule"],
            "review_queue": report["review_pairs"],
            "overrides_applied": report["overrides"],
            "patterns_taught_by_labels": report["patterns_taught"],
            "prior_two_random_records_match": report["prior_two_random_records_match"],
            "uncertain_pair_share": report["uncertain_pair_share"],
            "common_name_words": report["common_tokens"],
            "seconds_by_phase": report["seconds"],
        },
    )
