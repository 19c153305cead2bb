"""The key cut-off: top-down listing of accounts by 12-month billing and the 25% key level.

The rule, exactly (docs/method.md, "The key cut-off"):
- n = the number of accounts with positive net 12-month billing. Accounts with zero or negative net billing
  (dormant accounts, accounts whose credit notes exceed their invoices) are never key and are not counted in n.
- k = ceil(key_share * n), computed exactly (0.1 * 30 is 3, not 3.0000000000000004 rounded up to 4).
- Accounts are listed by billing, largest first, ties broken by account_id ascending; `billing_rank` is that position
  (1..N over all accounts, so zero and negative billers come last).
- The key level is the billing of the k-th account of that list. Key accounts are those with billing >= key level, so
  every account tied with the k-th is key as well and the key count can exceed k (never fall below it).
- `cumulative_billing_share` is the running share of positive billing down the list; null for accounts with zero or
  negative billing, which hold no share.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from fractions import Fraction

import polars as pl


class NoBillingError(ValueError):
    """No account has positive 12-month billing, so there is nothing to rank."""


@dataclass(frozen=True)
class KeyCut:
    key_share: float
    ranked_accounts: int  # n
    key_count_rule: int  # k = ceil(key_share * n)
    key_level: Decimal
    key_accounts: int  # accounts with billing >= key level (>= k because of ties)
    total_billing: Decimal  # positive billing of all ranked accounts
    key_billing: Decimal
    key_billing_share: float

    def as_dict(self) -> dict:
        return asdict(self)


def key_count(ranked_accounts: int, key_share: float) -> int:
    """k = ceil(share * n), exactly: the share is read as the decimal the user wrote, not a binary float."""
    check_key_share(key_share)
    return math.ceil(Fraction(str(key_share)) * ranked_accounts)


def check_key_share(key_share: float) -> None:
    if not (0 < key_share <= 1):
        raise ValueError(f"key_share must be greater than 0 and at most 1 (0.25 means the top 25%); got {key_share}")


def rank_accounts(accounts: pl.DataFrame) -> pl.DataFrame:
    """Order accounts top-down and add `billing_rank` and `cumulative_billing_share`."""
    ordered = accounts.sort(["billing_12m", "account_id"], descending=[True, False], nulls_last=True)
    positive = pl.col("billing_12m") > 0
    positive_billing = pl.when(positive).then(pl.col("billing_12m")).otherwise(0)
    total = positive_billing.sum()
    return ordered.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("billing_rank"),
        pl.when(positive)
        .then(positive_billing.cum_sum().cast(pl.Float64) / total.cast(pl.Float64))
        .alias("cumulative_billing_share"),
    )


def compute_key_cut(ranked: pl.DataFrame, key_share: float) -> KeyCut:
    """The key level of a ranked frame (output of `rank_accounts`)."""
    positive = ranked.filter(pl.col("billing_12m") > 0)
    n = positive.height
    if n == 0:
        raise NoBillingError(
            f"no account has positive 12-month billing ({ranked.height} accounts, all with zero or negative net billing "
            "in the window): there is nothing to rank and no key level can be set. Check ALMS_AS_OF and the billing files."
        )
    k = key_count(n, key_share)
    level = positive["billing_12m"][k - 1]
    key = positive.filter(pl.col("billing_12m") >= level)
    total = positive["billing_12m"].sum()
    key_billing = key["billing_12m"].sum()
    return KeyCut(
        key_share=key_share,
        ranked_accounts=n,
        key_count_rule=k,
        key_level=Decimal(level),
        key_accounts=key.height,
        total_billing=Decimal(total),
        key_billing=Decimal(key_billing),
        key_billing_share=float(Fraction(Decimal(key_billing)) / Fraction(Decimal(total))),
    )


def designate_key_accounts(accounts: pl.DataFrame, key_share: float = 0.25) -> tuple[pl.DataFrame, KeyCut]:
    """Rank accounts, compute the key level and flag key accounts.

    `accounts` has one row per account with `account_id` and `billing_12m` (a decimal, exact to the cent). Returns the
    ranked frame with `billing_rank`, `cumulative_billing_share`, `is_key_account` and `key_level`, and the cut.
    """
    check_key_share(key_share)
    ranked = rank_accounts(accounts)
    cut = compute_key_cut(ranked, key_share)
    level = pl.lit(cut.key_level, dtype=ranked.schema["billing_12m"])
    designated = ranked.with_columns(
        ((pl.col("billing_12m") > 0) & (pl.col("billing_12m") >= level)).fill_null(False).alias("is_key_account"),
        level.alias("key_level"),
    )
    return designated, cut
