"""Which words of two names meet: the same word, an abbreviation (deli / delicatessen), an initial (j / john) or a
typo (Jaro-Winkler 0.88 between words of four letters or more without digits). A word that names a site (a
qualifier: East, 12, the record's own city) meets only itself.

`same_word_sql` is the rule, in SQL. The comparison SQL of `assets.rules.resolution` applies it to every pair of
words of two names inside nested lambdas, which is how Spark runs it. `word_hits` gives the DuckDB engine the same
result, the words of each name that meet a word of the other as bits, without asking DuckDB to evaluate the rule 41M
times (1M records: 3.7M pairs of names, 41M pairs of words, 1.0M of them distinct): numpy lines up the words of each
pair of names by integer ids, an equal id meets, and DuckDB applies the rule once to each distinct pair of different
words that could meet at all (`could_meet`: 83,000 at 1M records).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from assets.rules.tables import scratch

TYPO_SIMILARITY = 0.88
# Words of different first letters get no Winkler prefix boost, so a typo between them needs a Jaro similarity of
# 0.88: with c common letters, (c / |a| + c / |b| + 1) / 3 >= 0.88, c / |a| + c / |b| >= 1.64. A letter one word holds
# and the other lacks is never common, so each word may hold at most 36% of its length in letters the other lacks
# (37%: a margin for rounding). A filter only: the words it passes are measured by the rule itself.
_MAX_LACKING_SHARE = 3 * (1 - TYPO_SIMILARITY) + 0.01
# word pairs lined up at once (a few MB of temporary arrays per thread)
_CHUNK = 1_000_000
# threads lining up the words: one per core (numpy computes outside the interpreter lock)
_THREADS = min(os.cpu_count() or 1, 8)


def similar_sql(left: str, right: str, threshold: float) -> str:
    """SQL: Jaro-Winkler similarity of `left` and `right` at least `threshold`. DuckDB's score cutoff gives up early on
    a dissimilar pair (most of them), but it rounds differently at the threshold itself (0.88 -> 0): a cutoff a hair
    below only screens, and the pairs it passes are measured in full."""
    return (
        f"(case when jaro_winkler_similarity({left}, {right}, {threshold - 0.01:g}) = 0 then false "
        f"else jaro_winkler_similarity({left}, {right}) >= {threshold:g} end)"
    )


def same_word_sql(
    t: str, s: str, t_is_qualifier: str, s_is_qualifier: str, t_may_be_typo: str, s_may_be_typo: str
) -> str:
    """SQL: word `t` meets word `s`: equal, an abbreviation (one starts with the other, 3+ letters: deli / delicatessen),
    an initial (j / john), or a typo (Jaro-Winkler 0.88 where both may be typos: 4+ letters, no digits). A qualifier
    (East, 12, a place) only meets itself, never a look-alike ("central" is no typo of "centennial"). The cheap tests
    come first: a CASE stops at the first that decides."""
    return f"""case
    when {t} = {s} then true
    when {t_is_qualifier} or {s_is_qualifier} then false
    when starts_with({t}, {s}) then length({s}) <> 2
    when starts_with({s}, {t}) then length({t}) <> 2
    when {t_may_be_typo} and {s_may_be_typo} then {similar_sql(t, s, TYPO_SIMILARITY)}
    else false
end"""


def word_hits(records: pl.DataFrame, left_ids: np.ndarray, right_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each pair (record ids, which are the rows of `records`): the words of the left name that meet a word of the
    right name (word i: bit i), and the words of the right name that meet a word of the left one; 0 where a name has
    no words. `records`: `tokens` (the name's words), `token_ids` (one integer per distinct word), `qualifier_mask`
    and `typo_mask` (bit i: word i names a site; word i may be a typo), as `prepare_records` makes them."""
    if left_ids.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ids = records["token_ids"]
    counts = ids.list.len().fill_null(0).to_numpy().astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    word = ids.explode().drop_nulls().to_numpy().astype(np.int32)
    position = np.arange(word.size) - np.repeat(starts, counts)

    def flag(mask: str) -> np.ndarray:
        return (np.repeat(records[mask].fill_null(0).to_numpy(), counts) >> position) & 1 == 1

    is_open = ~flag("qualifier_mask")  # a word that may meet another word than itself
    # per distinct word: its text, first byte, letters (a-z as bits), how many it may lack, may it be a typo
    n_words = int(word.max()) + 1 if word.size else 0
    seen_at = np.zeros(n_words, np.int64)
    seen_at[word] = np.arange(word.size)
    holder = np.searchsorted(starts, seen_at, side="right") - 1  # (records without words share the next's start)
    vocabulary = pl.select(
        pl.lit(records["tokens"].gather(holder)).list.get(pl.lit(seen_at - starts[holder]))
    ).to_series()
    may_be_typo = np.zeros(n_words, bool)
    may_be_typo[word] = flag("typo_mask")
    first_byte = vocabulary.str.encode("hex").str.slice(0, 2).rank("dense").to_numpy()
    letters = np.zeros(n_words, np.uint32)
    for bit, letter in enumerate("abcdefghijklmnopqrstuvwxyz"):
        letters |= vocabulary.str.contains(letter, literal=True).to_numpy().astype(np.uint32) << np.uint32(bit)
    may_lack = np.floor(_MAX_LACKING_SHARE * vocabulary.str.len_bytes().to_numpy()).astype(np.uint8)

    left_count, right_count = counts.astype(np.int16)[left_ids], counts.astype(np.int16)[right_ids]
    left_hits = np.zeros(left_ids.size, np.int64)
    right_hits = np.zeros(right_ids.size, np.int64)
    # pairs grouped by how many words each side has: each group's word pairs form a regular (pairs, x, y) array, lined
    # up a chunk at a time
    order = np.argsort(left_count * 64 + right_count, kind="stable")
    group_starts = np.flatnonzero(np.diff(left_count[order] * 64 + right_count[order], prepend=-1))
    chunks = []
    for begin, end in zip(group_starts, [*group_starts[1:], order.size], strict=True):
        x, y = int(left_count[order[begin]]), int(right_count[order[begin]])
        if x > 0 and y > 0:
            step = max(1, _CHUNK // (x * y))
            chunks += [(order[at : min(at + step, end)], x, y) for at in range(begin, end, step)]

    def line_up(share: list) -> list:
        """Equal words meet (written to the hits directly); returns the pairs of different words that could meet: the
        pair of names (its row), each word's position and the pair of words as one integer."""
        maybe_words = []
        for rows, x, y in share:
            left_words = starts[left_ids[rows]][:, None] + np.arange(x)
            right_words = starts[right_ids[rows]][:, None] + np.arange(y)
            t, s = word[left_words], word[right_words]
            meets = t[:, :, None] == s[:, None, :]
            left_hits[rows] = meets.any(axis=2) @ (np.int64(1) << np.arange(x, dtype=np.int64))
            right_hits[rows] = meets.any(axis=1) @ (np.int64(1) << np.arange(y, dtype=np.int64))
            maybe = could_meet(t, s, first_byte, letters, may_lack, may_be_typo)
            maybe &= ~meets & is_open[left_words][:, :, None] & is_open[right_words][:, None, :]
            where = np.flatnonzero(maybe)
            pair, i, j = where // (x * y), where // y % x, where % y
            maybe_words.append(
                (rows[pair], i.astype(np.int8), j.astype(np.int8), t[pair, i].astype(np.int64) * n_words + s[pair, j])
            )
        return maybe_words

    # each thread on every n-th chunk (the rows of the hits it writes are its own)
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        shares = list(pool.map(line_up, [chunks[k::_THREADS] for k in range(_THREADS)]))
    maybe_rows, maybe_left, maybe_right, maybe_codes = (
        [piece[k] for share in shares for piece in share] for k in range(4)
    )
    # each distinct pair of different words that could meet, measured once
    codes = pl.Series("code", np.concatenate(maybe_codes) if maybe_codes else [], pl.Int64)
    distinct = codes.unique()
    t, s = (distinct // max(n_words, 1)).to_numpy(), (distinct % max(n_words, 1)).to_numpy()
    word_pairs = pl.DataFrame(
        {
            "code": distinct,
            "t": vocabulary.gather(t),
            "s": vocabulary.gather(s),
            "t_typo": may_be_typo[t],
            "s_typo": may_be_typo[s],
        }
    )
    with scratch() as conn:
        conn.register("word_pairs", word_pairs)
        rule = same_word_sql("t", "s", "false", "false", "t_typo", "s_typo")
        meeting = conn.sql(f"select code from word_pairs where {rule}").pl()["code"]
    if meeting.len():
        is_meeting = codes.is_in(meeting.implode()).to_numpy()
        rows = np.concatenate(maybe_rows)[is_meeting]
        np.bitwise_or.at(left_hits, rows, np.int64(1) << np.concatenate(maybe_left)[is_meeting].astype(np.int64))
        np.bitwise_or.at(right_hits, rows, np.int64(1) << np.concatenate(maybe_right)[is_meeting].astype(np.int64))
    return left_hits, right_hits


def could_meet(
    t: np.ndarray,
    s: np.ndarray,
    first_byte: np.ndarray,
    letters: np.ndarray,
    may_lack: np.ndarray,
    may_be_typo: np.ndarray,
) -> np.ndarray:
    """(pairs, x, y): word t[p, i] and word s[p, j] (ids) could be an abbreviation, an initial or a typo of each
    other: the same first byte (then anything may hold), or both may be typos and neither holds more letters the
    other lacks than Jaro-Winkler 0.88 allows (_MAX_LACKING_SHARE)."""
    t_letters, s_letters = letters[t][:, :, None], letters[s][:, None, :]
    t_lacking = np.bitwise_count(t_letters & ~s_letters)
    s_lacking = np.bitwise_count(s_letters & ~t_letters)
    return (first_byte[t][:, :, None] == first_byte[s][:, None, :]) | (
        (may_be_typo[t][:, :, None] & may_be_typo[s][:, None, :])
        & (t_lacking <= may_lack[t][:, :, None])
        & (s_lacking <= may_lack[s][:, None, :])
    )
