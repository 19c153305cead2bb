"""The DuckDB engine's word hits (numpy, each distinct pair of words measured once) equal the comparison SQL's own
(every pair of words in nested lambdas, as Spark runs it): bit for bit, and in every comparison level."""

import itertools

import duckdb
import numpy as np
import polars as pl

from assets.rules.inputs import CLIENTS
from assets.rules.name_words import word_hits
from assets.rules.resolution import (
    COMPARISONS_SQL,
    ResolutionSettings,
    compare_pairs,
    comparison_records,
    prepare_records,
)

# Names that take every branch of the word rule: equal words, qualifiers (a compass point, a number, the record's own
# city) that meet only themselves, abbreviations and two-letter prefixes, initials, typos (with and without a shared
# first letter), words with digits, names without words, and one with more words than a bit mask holds.
NAMES = [
    ("Art's Deli", "Austin"),
    ("Arts Delicatessen", "Austin"),
    ("Art Dl Catering", None),
    ("De La", None),
    ("Trillium Roofing", "Aurora"),
    ("Trilium Roofing", "Aurora"),
    ("Rtillium Roofnig", None),
    ("Trillium Aurora", "Aurora"),
    ("Trillium Aurora", "Denver"),
    ("Aurora Trillium West", "Denver"),
    ("Trillium East", "Boston"),
    ("J Smith Plumbing", "Boston"),
    ("John Smith Plumbing", None),
    ("Jo Smith Plmbing", None),
    ("Smyth John", None),
    ("Store 12 Acme", None),
    ("Acme Store 15", None),
    ("Acme 4th Street", None),
    ("Acme 4 th Str", None),
    ("Central Supply", None),
    ("Centennial Supply", None),
    ("Centrl Supply", None),
    ("Inc.", None),
    (None, None),
    ("Kestrel Analytics Group", None),
    ("Kestrel Analytic Grp", None),
    ("Analytics Kestrel", None),
    (" ".join(f"w{i}x" for i in range(70)), None),
    (" ".join(f"w{i}x" for i in range(0, 70, 2)), None),
    ("Mendoza Nelson Mkt", "El Paso"),
    ("Mendoza & Nelson Market", "El Paso"),
    ("Nelson Mendosa Markets", None),
]


def prepared_names() -> pl.DataFrame:
    rows = [
        {c: None for c in CLIENTS.columns}
        | {"source_system": "s", "source_client_id": f"{i:03}", "name": name, "city": city}
        for i, (name, city) in enumerate(NAMES)
    ]
    prepared, _ = prepare_records(
        pl.DataFrame(rows, schema={c: pl.String for c in CLIENTS.columns}), ResolutionSettings(common_token_min=3)
    )
    return prepared


def every_pair(n: int) -> pl.DataFrame:
    left, right = zip(*itertools.combinations(range(n), 2), strict=True)
    return pl.DataFrame({"left_id": left, "right_id": right}, schema={"left_id": pl.Int64, "right_id": pl.Int64})


def test_word_hits_are_the_sqls_bit_for_bit():
    prepared = prepared_names()
    pairs = every_pair(prepared.height)
    left, right = word_hits(prepared, pairs["left_id"].to_numpy(), pairs["right_id"].to_numpy())
    hits_sql = COMPARISONS_SQL.split("word_sums as (")[0].rstrip().rstrip(",") + (
        "\nselect pair_index, l_hits, r_hits, l_name = r_name as same_name, l_tokens is null or r_tokens is null "
        "as no_words from word_bits order by pair_index"
    )
    with duckdb.connect() as conn:
        conn.register("prepared", comparison_records(prepared))
        conn.register("pair_ids", pairs.with_row_index("pair_index"))
        expected = conn.sql(hits_sql).pl()
    # the SQL skips equal names (their level is exact) and leaves the hits of a name without words null
    compared = ~(expected["same_name"].fill_null(False) | expected["no_words"]).to_numpy()
    assert compared.sum() > 400
    assert np.array_equal(left[compared], expected["l_hits"].to_numpy()[compared])
    assert np.array_equal(right[compared], expected["r_hits"].to_numpy()[compared])
    # and the words with no words are no hits
    assert not left[expected["no_words"].to_numpy()].any()
    # meetings of different words: an abbreviation, an initial, typos with and without the first letter, and a
    # two-letter start that is no abbreviation (jo / john)
    index = {name: i for i, (name, _) in enumerate(NAMES)}
    for one, other, one_hits, other_hits in [
        ("Art's Deli", "Arts Delicatessen", 0b11, 0b11),
        ("J Smith Plumbing", "John Smith Plumbing", 0b111, 0b111),
        ("Trillium Roofing", "Rtillium Roofnig", 0b11, 0b11),
        ("Jo Smith Plmbing", "Smyth John", 0b010, 0b01),
    ]:
        row = pairs.with_row_index().filter(left_id=index[one], right_id=index[other])["index"].item()
        assert (left[row], right[row]) == (one_hits, other_hits), (one, other)


def test_the_levels_with_numpys_word_hits_are_the_sqls():
    prepared = prepared_names()
    pairs = every_pair(prepared.height)
    with duckdb.connect() as conn:
        levels = compare_pairs(conn, prepared, pairs)
        conn.register("prepared", comparison_records(prepared))
        conn.register("pair_ids", pairs.with_row_index("pair_index"))
        expected = conn.sql(COMPARISONS_SQL).pl().sort("pair_index")
    columns = ["name_level", "location_level", "phone_level", "domain_level", "name_tf"]
    assert levels.select(columns).equals(expected.select(pl.col(c).cast(levels[c].dtype) for c in columns))
    contained = pl.when(expected["left_is_contained"]).then(pairs["left_id"]).otherwise(pairs["right_id"])
    assert levels["contained_id"].equals(pl.select(contained.alias("contained_id")).to_series())
    assert levels["name_level"].n_unique() >= 6


def test_no_pairs_and_no_words():
    prepared = prepared_names()
    empty = np.zeros(0, np.int64)
    assert all(hits.size == 0 for hits in word_hits(prepared, empty, empty))
    nameless = prepared.with_columns(
        pl.lit(None, pl.List(pl.UInt32)).alias("token_ids"), pl.lit(None, pl.List(pl.String)).alias("tokens")
    )
    left, right = word_hits(nameless, np.array([0, 1]), np.array([1, 2]))
    assert not left.any() and not right.any()
