"""Probabilistic client deduplication (Fellegi-Sunter), with blocking, explainable evidence and overrides.

1. Prepare: the normalised keys of `assets.logic.matching` (name, domain, phone, postal code) plus the domain stem
   (no TLD, hyphens or dots), house number and street, city and country, and each name's tokens. Tokens carried by
   many records ("group", "services") are *common*; the others are *rare* and decide whether two names agree.
2. Block: candidate pairs are records sharing at least one blocking key (name key; domain stem; phone; postal code +
   house number; postal code + first rare token; postal code + first 4 letters of the name key). City + name prefix
   was measured too: at 1M records it made 15.5M pairs for no gain in recall (0.9766 vs 0.9759 at 100k). A block larger than
   `max_block_size` is skipped and reported (a switchboard number shared by hundreds of records is no evidence).
3. Compare (DuckDB SQL, vectorised): each field gets an agreement level; missing on either side is "no evidence".
4. Weigh: u-probabilities from random record pairs, m-probabilities by expectation-maximisation over the candidate
   pairs' agreement patterns; a pair's match probability is the posterior from those weights.
5. Link: a pair links when its probability reaches `match_threshold` AND its names agree (level `similar` or
   better). Names must agree, so branches or subsidiaries sharing an address, phone or domain under different names
   never join, and a chain of shared attributes cannot glue different organisations together.
6. Cluster: connected components of the links (scipy), after overrides: must-link pairs are added as links,
   cannot-link pairs split their component again by linking strongest-first and refusing any link that would join
   a cannot-link pair.

Pairs near the threshold, and strong pairs held back by the name rule, go to a review table.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from assets.logic.inputs import InputError
from assets.logic.matching import add_match_keys, match_clients

# Long legal forms, for spotting them misspelt (the exact forms are already gone from the name key).
LEGAL_WORDS = ["incorporated", "corporation", "company", "limited"]
NAME_LEVELS = {4: "exact", 3: "typo", 2: "similar", 1: "weak", 0: "different"}
LINKING_NAME_LEVEL = 2
# Pairs whose names share nothing (level "different") are never reviewed: at 1M records 554k such pairs sat just
# above the review threshold on a shared building or switchboard alone, a queue no person could work through.
REVIEW_NAME_LEVEL = 1
COUNTRIES = {
    "us": "us", "usa": "us", "united states": "us", "united states of america": "us", "u s": "us", "u s a": "us",
    "ca": "ca", "can": "ca", "canada": "ca",
}  # fmt: skip
STREET_WORDS = {
    "street": "st", "avenue": "ave", "av": "ave", "road": "rd", "drive": "dr", "boulevard": "blvd", "lane": "ln",
    "court": "ct", "crescent": "cres", "place": "pl", "highway": "hwy", "parkway": "pkwy", "terrace": "terr",
    "square": "sq", "north": "n", "south": "s", "east": "e", "west": "w", "circle": "cir", "way": "way",
}  # fmt: skip


@dataclass(frozen=True)
class ResolutionSettings:
    match_threshold: float = 0.9
    review_threshold: float = 0.5
    max_block_size: int = 100
    random_pairs: int = 500_000
    em_iterations: int = 30
    common_token_share: float = 0.0005
    common_token_min: int = 20
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
    # every compared pair (left_id, right_id, match_probability, match_weight, is_link): for evaluations
    pairs: pl.DataFrame | None = None


def prepare_records(records: pl.DataFrame, settings: ResolutionSettings) -> tuple[pl.DataFrame, set[str]]:
    """One row per record with an integer id and every comparison key; and the set of common name tokens."""
    keyed = add_match_keys(records.lazy().sort("source_system", "source_client_id"))
    address = (
        pl.col("address")
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace(r",?\s*(unit|ste|suite|apt|#|floor|fl)\b.*$", "")
        .str.replace_all(r"[^a-z0-9 ]", " ")
    )
    street_tokens = (
        address.str.extract(r"^\s*[0-9]+[a-z]?\s+(.*)$", 1)
        .str.split(" ")
        .list.eval(pl.element().replace(STREET_WORDS).filter(pl.element() != ""))
    )
    prepared = (
        keyed.with_row_index("record_id")
        .with_columns(
            pl.col("record_id").cast(pl.Int64),
            pl.col("domain_key").str.replace(r"\.[a-z]+$", "").str.replace_all(r"[-.]", "").alias("domain_stem"),
            address.str.extract(r"^\s*([0-9]+)", 1).alias("house_number"),
            street_tokens.list.join(" ").alias("street_key"),
            pl.col("city")
            .str.normalize("NFKD")
            .str.replace_all(r"\p{M}", "")
            .str.to_lowercase()
            .str.replace_all(r"[^a-z]", "")
            .alias("city_key"),
            pl.col("country")
            .str.to_lowercase()
            .str.replace_all(r"[^a-z ]", " ")
            .str.strip_chars()
            .replace_strict(COUNTRIES, default=None)
            .alias("country_key"),
            pl.col("name_key").str.split(" ").alias("name_tokens"),
        )
        .collect(engine="streaming")
    )
    frequencies = prepared.select(pl.col("name_tokens").list.unique().explode().alias("token")).group_by("token").len()
    cutoff = max(settings.common_token_min, int(settings.common_token_share * prepared.height))
    common = set(frequencies.filter(pl.col("len") >= cutoff)["token"].drop_nulls().to_list())
    prepared = prepared.with_columns(
        pl.col("name_tokens").list.eval(pl.element().filter(~pl.element().is_in(list(common)))).alias("rare_tokens")
    ).with_columns(pl.col("rare_tokens").list.first().alias("first_rare_token"))
    return prepared, common


BLOCKING_RULES: dict[str, list[str]] = {
    "name": ["name_key"],
    "domain": ["domain_stem"],
    "phone": ["phone_key"],
    "postal+house": ["postal_code_key", "house_number"],
    "postal+rare_token": ["postal_code_key", "first_rare_token"],
    "postal+name_prefix": ["postal_code_key", "name_prefix"],
}


def candidate_pairs(prepared: pl.DataFrame, settings: ResolutionSettings) -> tuple[pl.DataFrame, dict]:
    """(left_id, right_id) pairs, left < right, sharing at least one blocking key; and counts per rule."""
    frame = prepared.select(
        "record_id",
        *{column for columns in BLOCKING_RULES.values() for column in columns if column != "name_prefix"},
        pl.col("name_key").str.slice(0, 4).alias("name_prefix"),
    )
    pairs = []
    report = {"pairs_by_rule": {}, "blocks_skipped": {}}
    for rule, keys in BLOCKING_RULES.items():
        blocks = frame.drop_nulls(keys).with_columns(pl.len().over(keys).alias("_block_size"))
        report["blocks_skipped"][rule] = int(
            blocks.filter(pl.col("_block_size") > settings.max_block_size).select(pl.struct(keys).n_unique()).item()
        )
        blocks = blocks.filter((pl.col("_block_size") > 1) & (pl.col("_block_size") <= settings.max_block_size))
        joined = (
            blocks.select("record_id", *keys)
            .join(blocks.select("record_id", *keys), on=keys, suffix="_right")
            .filter(pl.col("record_id") < pl.col("record_id_right"))
            .select(pl.col("record_id").alias("left_id"), pl.col("record_id_right").alias("right_id"))
        )
        report["pairs_by_rule"][rule] = joined.height
        pairs.append(joined)
    unique = pl.concat(pairs).unique()
    report["candidate_pairs"] = unique.height
    return unique, report


COMPARISONS_SQL = """
with pairs as (select * from pair_ids),
records as (select * from prepared),
joined as (
    select
        pairs.left_id, pairs.right_id,
        l.name_key as l_name, r.name_key as r_name, l.name_tokens as l_tokens, r.name_tokens as r_tokens,
        l.domain_key as l_domain, r.domain_key as r_domain, l.domain_stem as l_stem, r.domain_stem as r_stem,
        l.phone_key as l_phone, r.phone_key as r_phone,
        l.postal_code_key as l_postal, r.postal_code_key as r_postal,
        l.house_number as l_house, r.house_number as r_house, l.street_key as l_street, r.street_key as r_street,
        l.city_key as l_city, r.city_key as r_city, l.country_key as l_country, r.country_key as r_country
    from pairs
    join records l on l.record_id = pairs.left_id
    join records r on r.record_id = pairs.right_id
),
raw_differences as (
    select
        *,
        list_filter(l_tokens, lambda t: not list_contains(r_tokens, t)) as l_diff,
        list_filter(r_tokens, lambda t: not list_contains(l_tokens, t)) as r_diff
    from joined
),
token_differences as (
    -- a leftover token that is a misspelt legal form ("incorported", "compnay") is no difference
    select
        *,
        list_filter(l_diff, lambda t: not list_bool_or(list_transform($legal_words,
            lambda f: length(t) >= 4 and jaro_winkler_similarity(t, f) >= 0.9))) as l_only,
        list_filter(r_diff, lambda t: not list_bool_or(list_transform($legal_words,
            lambda f: length(t) >= 4 and jaro_winkler_similarity(t, f) >= 0.9))) as r_only
    from raw_differences
)
select
    left_id,
    right_id,
    case
        when l_name is null or r_name is null then null
        when l_name = r_name or replace(l_name, ' ', '') = replace(r_name, ' ', '') then 4
        when len(l_only) = 0 and len(r_only) = 0 then 3
        when len(l_only) = len(r_only) and len(l_only) <= 2
            and list_bool_and(list_transform(range(1, len(l_only) + 1), lambda i:
                least(length(l_only[i]), length(r_only[i])) >= 3
                and jaro_winkler_similarity(l_only[i], r_only[i]) >= 0.88)) then 3
        when len(l_only) + len(r_only) > 0
            and list_bool_and(list_transform(list_concat(l_only, r_only), lambda t: list_contains($common, t)))
            and len(list_filter(l_tokens, lambda t: not list_contains($common, t))) > 0 then 2
        when jaro_winkler_similarity(l_name, r_name) >= 0.85 then 1
        else 0
    end as name_level,
    case
        when l_stem is null or r_stem is null then null
        when l_domain = r_domain then 2
        when l_stem = r_stem then 1
        else 0
    end as domain_level,
    case when l_phone is null or r_phone is null then null when l_phone = r_phone then 1 else 0 end as phone_level,
    case when l_postal is null or r_postal is null then null when l_postal = r_postal then 1 else 0 end as postal_level,
    case
        when l_house is null or r_house is null or l_street is null or r_street is null then null
        when l_house = r_house and l_street = r_street then 2
        when l_house = r_house and jaro_winkler_similarity(l_street, r_street) >= 0.85 then 1
        else 0
    end as address_level,
    case when l_city is null or r_city is null then null when l_city = r_city then 1 else 0 end as city_level,
    case
        when l_country is null or r_country is null then null when l_country = r_country then 1 else 0
    end as country_level
from token_differences
"""
FIELDS = ("name_level", "domain_level", "phone_level", "postal_level", "address_level", "city_level", "country_level")
LEVELS = {
    "name_level": (0, 1, 2, 3, 4),
    "domain_level": (0, 1, 2),
    "phone_level": (0, 1),
    "postal_level": (0, 1),
    "address_level": (0, 1, 2),
    "city_level": (0, 1),
    "country_level": (0, 1),
}
# Training subsets for m (Splink's way around blocking bias): among pairs whose names are identical, estimate every
# other field; among pairs sharing a phone or a domain, estimate the name. A field that defines the subset says
# nothing there and is left out of that estimation.
TRAINING = {
    "same name": (pl.col("name_level") == 4, ("name_level",)),
    "same phone or domain": (
        (pl.col("phone_level") == 1) | (pl.col("domain_level") == 2),
        ("phone_level", "domain_level"),
    ),
}


def compare_pairs(conn: duckdb.DuckDBPyConnection, prepared: pl.DataFrame, pairs: pl.DataFrame, common: set[str]):
    conn.register("prepared", prepared.drop("rare_tokens"))
    conn.register("pair_ids", pairs)
    try:
        return conn.sql(COMPARISONS_SQL, params={"common": sorted(common), "legal_words": LEGAL_WORDS}).pl()
    finally:
        for name in ("prepared", "pair_ids"):
            conn.unregister(name)


def random_pairs(n_records: int, count: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n_records, count)
    right = rng.integers(0, n_records, count)
    keep = left != right
    low, high = np.minimum(left, right)[keep], np.maximum(left, right)[keep]
    return pl.DataFrame({"left_id": low, "right_id": high}).unique()


def level_frequencies(levels: pl.DataFrame) -> dict[str, dict[int, float]]:
    """Share of each agreement level per field among pairs where the field is present on both sides, smoothed
    (add one half) so a level never seen in the sample is rare, not impossible."""
    shares = {}
    for column in FIELDS:
        counts = dict(levels.select(column).drop_nulls().group_by(column).len().iter_rows())
        total = sum(counts.values()) + 0.5 * len(LEVELS[column])
        shares[column] = {level: (counts.get(level, 0) + 0.5) / total for level in LEVELS[column]}
    return shares


def _expectation_maximisation(
    patterns: pl.DataFrame, m: dict, u: dict, share: float, fields: tuple[str, ...], update_m: bool, iterations: int
) -> tuple[dict, float]:
    counts = patterns["len"].to_numpy().astype(float)
    if counts.sum() == 0:
        return m, share
    columns = {column: patterns[column].to_list() for column in fields}
    m = {column: dict(levels) for column, levels in m.items()}
    for _ in range(iterations):
        log_ratio = np.full(len(counts), math.log(share / (1 - share)))
        for column in fields:
            for i, level in enumerate(columns[column]):
                if level is not None:
                    log_ratio[i] += math.log(m[column][level] / u[column][level])
        posterior = 1 / (1 + np.exp(-np.clip(log_ratio, -50, 50)))
        weight = counts * posterior
        share = float(min(max(weight.sum() / counts.sum(), 1e-6), 1 - 1e-6))
        if not update_m:
            continue
        for column in fields:
            totals = dict.fromkeys(LEVELS[column], 0.0)
            for i, level in enumerate(columns[column]):
                if level is not None:
                    totals[level] += weight[i]
            grand = sum(totals.values())
            if grand > 0:
                m[column] = {level: max(totals[level] / grand, 1e-6) for level in LEVELS[column]}
    return m, share


def estimate_m(levels: pl.DataFrame, u: dict, settings: ResolutionSettings) -> tuple[dict, float, dict]:
    """m-probabilities by EM on training subsets, then the match share of all candidate pairs with m fixed."""
    initial = {
        column: {
            level: (0.9 if level == max(LEVELS[column]) else 0.1 / (len(LEVELS[column]) - 1))
            for level in LEVELS[column]
        }
        for column in FIELDS
    }
    estimates: dict[str, list[dict]] = {column: [] for column in FIELDS}
    subsets = {}
    for name, (condition, fixed) in TRAINING.items():
        fields = tuple(c for c in FIELDS if c not in fixed)
        subset = levels.filter(condition)
        subsets[name] = subset.height
        patterns = subset.group_by(list(fields)).len()
        trained, _ = _expectation_maximisation(patterns, initial, u, 0.5, fields, True, settings.em_iterations)
        for column in fields:
            estimates[column].append(trained[column])
    m = {
        column: {
            level: sum(e[level] for e in estimates[column]) / len(estimates[column])
            if estimates[column]
            else initial[column][level]
            for level in LEVELS[column]
        }
        for column in FIELDS
    }
    patterns = levels.group_by(list(FIELDS)).len()
    _, share = _expectation_maximisation(patterns, m, u, 0.1, FIELDS, False, settings.em_iterations)
    return m, share, subsets


def score_pairs(levels: pl.DataFrame, m: dict, u: dict, share: float) -> pl.DataFrame:
    weight = pl.lit(math.log2(share / (1 - share)))
    for column in FIELDS:
        mapping = {level: math.log2(m[column][level] / u[column][level]) for level in LEVELS[column]}
        weight = weight + pl.col(column).replace_strict(mapping, default=0.0, return_dtype=pl.Float64).fill_null(0.0)
    return levels.with_columns(weight.alias("match_weight")).with_columns(
        (1 / (1 + (2 ** -pl.col("match_weight")))).alias("match_probability")
    )


class OverrideError(InputError):
    """A match override names an unknown record, contradicts another override, or cannot be honoured."""


EVIDENCE_NAMES = {
    "name_level": "name",
    "domain_level": "domain",
    "phone_level": "phone",
    "postal_level": "postal_code",
    "address_level": "address",
    "city_level": "city",
    "country_level": "country",
}


def cluster(n_records: int, links: pl.DataFrame) -> np.ndarray:
    if links.height == 0:
        return np.arange(n_records)
    graph = coo_matrix(
        (np.ones(links.height), (links["left_id"].to_numpy(), links["right_id"].to_numpy())),
        shape=(n_records, n_records),
    )
    _, labels = connected_components(graph, directed=False)
    return labels


def attach_overrides(prepared: pl.DataFrame, overrides: pl.DataFrame | None) -> pl.DataFrame:
    """Overrides with the record ids of both sides; an unknown record or a pair decided both ways is an error."""
    columns = {"left_id": pl.Int64, "right_id": pl.Int64, "decision": pl.String, "source_file": pl.String,
               "source_row": pl.Int64}  # fmt: skip
    if overrides is None or overrides.height == 0:
        return pl.DataFrame(schema=columns)
    ids = prepared.select("record_id", "source_system", "source_client_id")
    resolved = overrides
    for side in ("1", "2"):
        resolved = resolved.join(
            ids.rename({"record_id": f"id_{side}", "source_system": f"source_system_{side}",
                        "source_client_id": f"source_client_id_{side}"}),
            on=[f"source_system_{side}", f"source_client_id_{side}"],
            how="left",
        )  # fmt: skip
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
    return resolved.select(list(columns)).unique(["left_id", "right_id"])


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
        ["is_must_link", "match_probability"], descending=True
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


def describe_evidence() -> pl.Expr:
    """'name=exact, domain, phone': the fields that agreed on a pair (the name with its level)."""
    name_level = pl.col("name_level").replace_strict(NAME_LEVELS, default="missing", return_dtype=pl.String)
    parts = [pl.concat_str(pl.lit("name="), name_level)]
    for column, name in EVIDENCE_NAMES.items():
        if column != "name_level":
            parts.append(pl.when(pl.col(column) == max(LEVELS[column])).then(pl.lit(name)))
    return pl.concat_list(parts).list.drop_nulls().list.join(", ")


def resolve_clients(
    records: pl.DataFrame,
    settings: ResolutionSettings | None = None,
    overrides: pl.DataFrame | None = None,
    progress: Callable[[str], None] | None = None,
) -> Resolution:
    """Group client records into accounts; see the module docstring. `overrides` has source_system_1,
    source_client_id_1, source_system_2, source_client_id_2, decision (must_link / cannot_link), source_file and
    source_row."""
    settings = settings or ResolutionSettings()
    clock = _PhaseClock(progress)
    prepared, common = prepare_records(records, settings)
    decided = attach_overrides(prepared, overrides)
    clock.done(f"prepared {prepared.height:,} records ({len(common):,} common name tokens)")
    pairs, report = candidate_pairs(prepared, settings)
    clock.done(f"blocked: {report['candidate_pairs']:,} candidate pairs")
    conn = duckdb.connect()
    try:
        levels = compare_pairs(
            conn, prepared, pl.concat([pairs, decided.select("left_id", "right_id")]).unique(), common
        )
        clock.done(f"compared {levels.height:,} pairs")
        sample = compare_pairs(
            conn, prepared, random_pairs(prepared.height, settings.random_pairs, settings.seed), common
        )
    finally:
        conn.close()
    u = level_frequencies(sample)
    m, share, subsets = estimate_m(levels, u, settings)
    clock.done("estimated u (random pairs) and m (EM)")
    scored = score_pairs(levels, m, u, share).join(decided.select("left_id", "right_id", "decision"),
                                                    on=["left_id", "right_id"], how="left")  # fmt: skip
    is_link = (pl.col("match_probability") >= settings.match_threshold) & (pl.col("name_level") >= LINKING_NAME_LEVEL)
    scored = scored.with_columns(
        ((is_link & pl.col("decision").is_null()) | (pl.col("decision") == "must_link").fill_null(False)).alias(
            "is_link"
        ),
        (pl.col("decision") == "must_link").fill_null(False).alias("is_must_link"),
    )
    links = scored.filter(pl.col("is_link")).with_columns(describe_evidence().alias("evidence"))
    clock.done(f"scored: {links.height:,} links")
    labels = cluster(prepared.height, links)
    labels = apply_cannot_links(labels, links, decided.filter(pl.col("decision") == "cannot_link"))
    clock.done("clustered")
    clustered = prepared.select("record_id", "source_system", "source_client_id").with_columns(
        pl.Series("cluster", labels)
    )
    cluster_of = clustered.select("record_id", "cluster")
    kept = (
        links.join(cluster_of.rename({"record_id": "left_id", "cluster": "left_cluster"}), on="left_id")
        .join(cluster_of.rename({"record_id": "right_id", "cluster": "right_cluster"}), on="right_id")
        .filter(pl.col("left_cluster") == pl.col("right_cluster"))
    )
    ends = pl.concat(
        [kept.select(pl.col(side).alias("record_id"), "match_probability", "evidence", "is_must_link")
         for side in ("left_id", "right_id")]
    )  # fmt: skip
    best = ends.sort(["is_must_link", "match_probability"], descending=True).unique("record_id", keep="first")
    account = (pl.col("source_system") + ":" + pl.col("source_client_id")).min().over("cluster")
    crosswalk = (
        clustered.with_columns(account.alias("account_id"))
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
        )  # fmt: skip
        .select(
            "record_id",
            "source_system",
            "source_client_id",
            "account_id",
            "match_rule",
            "match_confidence",
            "match_evidence",
        )  # fmt: skip
        .sort("record_id")
    )
    review = (
        scored.filter(
            pl.col("decision").is_null()
            & (pl.col("match_probability") >= settings.review_threshold)
            & ~pl.col("is_link")
            & (pl.col("name_level") >= REVIEW_NAME_LEVEL)
        )
        .with_columns(describe_evidence().alias("evidence"))
        .with_columns(
            pl.when(pl.col("match_probability") >= settings.match_threshold)
            .then(pl.lit("names_disagree"))
            .otherwise(pl.lit("near_threshold"))
            .alias("review_reason")
        )
        .join(clustered.select(pl.col("record_id").alias("left_id"), pl.col("cluster").alias("left_cluster")), on="left_id")
        .join(clustered.select(pl.col("record_id").alias("right_id"), pl.col("cluster").alias("right_cluster")), on="right_id")
        .filter(pl.col("left_cluster") != pl.col("right_cluster"))
    )  # fmt: skip
    merges = crosswalk.group_by("match_rule").len()
    clock.done(f"crosswalk and {review.height:,} review pairs")
    report.update(
        seconds=clock.seconds,
        records_in=prepared.height,
        accounts_out=crosswalk["account_id"].n_unique(),
        links=links.height,
        match_share=share,
        m=m,
        u=u,
        common_tokens=len(common),
        training_pairs=subsets,
        records_by_rule=dict(merges.iter_rows()),
        review_pairs=review.height,
        overrides={"must_link": decided.filter(pl.col("decision") == "must_link").height,
                   "cannot_link": decided.filter(pl.col("decision") == "cannot_link").height},
    )  # fmt: skip
    pairs = scored.select("left_id", "right_id", "match_probability", "match_weight", "is_link")
    return Resolution(crosswalk=crosswalk, review=review, report=report, pairs=pairs)


REVIEW_COLUMNS = {
    "source_system_1": pl.String,
    "source_client_id_1": pl.String,
    "source_system_2": pl.String,
    "source_client_id_2": pl.String,
    "match_probability": pl.Float64,
    "match_weight": pl.Float64,
    "review_reason": pl.String,
    "evidence": pl.String,
    "name_level": pl.String,
}


def match_client_records(
    records: pl.DataFrame,
    overrides: pl.DataFrame | None = None,
    matcher: str = "probabilistic",
    match_threshold: float = 0.9,
    review_threshold: float = 0.5,
    progress: Callable[[str], None] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """The records with account_id, match_rule, match_confidence and match_evidence; the review pairs by record
    keys; and a report for the UI. `matcher` is probabilistic (this module) or deterministic (matching.py)."""
    if matcher == "deterministic":
        if overrides is not None and overrides.height:
            raise OverrideError("match_overrides need the probabilistic matcher (ALMS_MATCHER=probabilistic)")
        matched, report = match_clients(records)
        matched = matched.with_columns(
            pl.lit(None, pl.Float64).alias("match_confidence"), pl.col("match_rule").alias("match_evidence")
        )
        return matched, pl.DataFrame(schema=REVIEW_COLUMNS), {"records_by_rule": report["records_by_rule"]}
    resolution = resolve_clients(records, ResolutionSettings(match_threshold, review_threshold), overrides, progress)
    keys = resolution.crosswalk.select("record_id", "source_system", "source_client_id")
    review = (
        resolution.review.join(keys.rename({"record_id": "left_id", "source_system": "source_system_1",
                                            "source_client_id": "source_client_id_1"}), on="left_id")
        .join(keys.rename({"record_id": "right_id", "source_system": "source_system_2",
                           "source_client_id": "source_client_id_2"}), on="right_id")
        .with_columns(pl.col("name_level").replace_strict(NAME_LEVELS, default="missing", return_dtype=pl.String))
        .select(list(REVIEW_COLUMNS))
    )  # fmt: skip
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
            "common_name_tokens": report["common_tokens"],
            "seconds_by_phase": report["seconds"],
        },
    )
