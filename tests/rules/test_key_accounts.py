from decimal import Decimal

import polars as pl
import pytest

from assets.rules.key_accounts import NoBillingError, designate_key_accounts, key_count


def accounts(billings: list) -> pl.DataFrame:
    return pl.DataFrame(
        {"account_id": [f"a{i:04d}" for i in range(len(billings))], "billing_12m": [str(b) for b in billings]}
    ).with_columns(pl.col("billing_12m").cast(pl.Decimal(38, 2)))


def test_worked_example_500_accounts_gives_125_key_accounts_at_the_125th_billing():
    billings = [Decimal(100_000) - i * Decimal("37.13") for i in range(500)]
    ranked, cut = designate_key_accounts(accounts(billings))
    assert cut.ranked_accounts == 500
    assert cut.key_count_rule == 125
    assert cut.key_accounts == 125
    assert cut.key_level == billings[124]
    assert ranked.filter(pl.col("is_key_account"))["billing_rank"].to_list() == list(range(1, 126))
    assert ranked.filter(pl.col("billing_rank") == 126)["is_key_account"].item() is False


@pytest.mark.parametrize(
    ("n_accounts", "n_key"), [(1, 1), (3, 1), (4, 1), (5, 2), (8, 2), (9, 3), (500, 125), (501, 126)]
)
def test_top_quarter_by_count_rounds_up(n_accounts, n_key):
    ranked, cut = designate_key_accounts(accounts(list(range(n_accounts, 0, -1))))
    assert cut.key_count_rule == n_key
    assert ranked["is_key_account"].sum() == n_key


def test_key_count_uses_the_share_as_written_not_a_binary_float():
    assert key_count(30, 0.1) == 3  # 0.1 * 30 in floats is 3.0000000000000004
    assert key_count(10, 0.3) == 3
    assert key_count(7, 1.0) == 7


@pytest.mark.parametrize("share", [0, -0.1, 1.5])
def test_key_share_out_of_range_is_a_clear_error(share):
    with pytest.raises(ValueError, match="key_share must be greater than 0 and at most 1"):
        designate_key_accounts(accounts([1, 2]), share)


def test_ties_at_the_level_are_all_key():
    ranked, cut = designate_key_accounts(accounts([900, 500, 500, 500, 100, 50, 10, 5]))
    assert cut.key_count_rule == 2
    assert cut.key_level == Decimal(500)
    assert cut.key_accounts == 4
    assert ranked.filter(pl.col("is_key_account"))["billing_12m"].cast(pl.Float64).to_list() == [900, 500, 500, 500]


def test_all_equal_billing_makes_every_account_key():
    ranked, cut = designate_key_accounts(accounts([250] * 12))
    assert cut.key_count_rule == 3
    assert cut.key_accounts == 12
    assert ranked["is_key_account"].all()
    assert ranked["billing_rank"].to_list() == list(range(1, 13))  # ties ordered by account_id
    assert ranked["account_id"].to_list() == sorted(ranked["account_id"].to_list())


def test_one_account_is_key():
    ranked, cut = designate_key_accounts(accounts([42]))
    assert (cut.ranked_accounts, cut.key_accounts, cut.key_level) == (1, 1, Decimal(42))
    assert ranked["cumulative_billing_share"].to_list() == [1.0]


def test_no_billing_at_all_is_a_clear_error():
    with pytest.raises(NoBillingError, match="no account has positive 12-month billing"):
        designate_key_accounts(accounts([0, -10, 0]))
    with pytest.raises(NoBillingError):
        designate_key_accounts(accounts([]))


def test_zero_and_credit_note_accounts_are_never_key_nor_counted():
    # 4 positive billers -> k = 1; the zero and net-negative (credit notes exceed invoices) accounts rank last.
    ranked, cut = designate_key_accounts(accounts([100, 0, 80, -30, 60, 40]))
    assert cut.ranked_accounts == 4
    assert cut.key_count_rule == 1
    assert cut.key_level == Decimal(100)
    bottom = ranked.filter(pl.col("billing_12m") <= 0)
    assert bottom["billing_rank"].to_list() == [5, 6]
    assert not bottom["is_key_account"].any()
    assert bottom["cumulative_billing_share"].is_null().all()


def test_key_share_of_billing_and_cumulative_share_are_exact_shares():
    ranked, cut = designate_key_accounts(accounts(["0.10", "0.20", "0.30", "0.40"]))
    assert cut.total_billing == Decimal("1.00")
    assert cut.key_billing == Decimal("0.40")
    assert cut.key_billing_share == pytest.approx(0.4)
    assert ranked["cumulative_billing_share"].to_list() == pytest.approx([0.4, 0.7, 0.9, 1.0])


def test_ranking_does_not_depend_on_row_order():
    frame = accounts([5, 9, 9, 1, 7, 3, 9, 2])
    first, _ = designate_key_accounts(frame)
    second, _ = designate_key_accounts(frame.sample(fraction=1.0, shuffle=True, seed=3))
    assert first.equals(second)


def test_sums_in_cents_stay_exact_at_the_boundary():
    # 0.1 + 0.2 summed as floats is 0.30000000000000004 > 0.3: with decimals the two accounts tie exactly.
    frame = pl.DataFrame({"account_id": ["a", "b", "c", "d"], "billing_12m": ["0.30", "0.30", "0.10", "0.05"]})
    frame = frame.with_columns(pl.col("billing_12m").cast(pl.Decimal(38, 2)))
    summed = pl.DataFrame({"x": ["0.10", "0.20"]}).with_columns(pl.col("x").cast(pl.Decimal(38, 2)))["x"].sum()
    frame = frame.with_columns(
        pl.when(pl.col("account_id") == "a")
        .then(pl.lit(summed, pl.Decimal(38, 2)))
        .otherwise("billing_12m")
        .alias("billing_12m")
    )
    ranked, cut = designate_key_accounts(frame)
    assert cut.key_accounts == 2  # a (0.1 + 0.2) ties b (0.30) exactly
