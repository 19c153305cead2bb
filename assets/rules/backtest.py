"""Backtest of the decision matrix: how well would a `scoring.yaml` have ranked past snapshots by the growth that
followed, criterion by criterion, and which weights would have ranked best?

Input: one row per past snapshot (month end) and account with every criterion's raw value at the snapshot
(reconstructed from the data known then, `assets/rules/snapshots.py`) and the account's billing in the 12 months
before and the `horizon` months after (`assets/rules/outcomes.py`). Snapshots whose window is not complete yet are
left out.

Scoring: each criterion's raw value is normalised per snapshot with the config's normalisation (percentile among the
accounts of that snapshot, ...), and the score is the config's weighted mean over the criteria an account has
(`scoring.score_accounts`' formula; a test holds them equal). Raw values are the ones computed when the snapshot was
reconstructed, with the config in force then: a candidate's weights, normalisations and tier thresholds apply, its
`wallet`, `icp`, `engagement`, `stages`, `tenure` and `strategic` sections do not (they change raw values; the
command says so).

Growth of an account, two ways: `growth`, its billing in the `horizon` months after the snapshot minus the same
length of its 12 months before (after - before x horizon / 12), in the reporting currency; and `change`, the same
as a share, bounded and size-neutral like the growth criterion: (a - b) / (|a| + |b|) with a the billing after
scaled to 12 months and b the billing before (-1: stopped billing, 0: flat or no billing at all, 1: started).

Per snapshot and ranking (the score, and each criterion alone), averaged over snapshots in the summary:
- `spearman`: Spearman rank correlation between the ranking and `change` (1: the ranking ordered accounts exactly
  by how much they grew; 0: no relation; below 0: the accounts it ranked first shrank most, as 12-month billing
  does where billing is lumpy: a year with a large invoice is often followed by a smaller one);
- `top_accounts`: the score's high tier (score >= tiers.high); a criterion's top group is the same number of
  accounts by that criterion, so a criterion and the score compare on equal footing;
- `gain_share`: the share of all gains (growth above 0) that the top group earned;
- `precision`: the share of the top group that grew (`change` above 0); `base_rate`: the share of all accounts that
  grew; `lift` = precision / base_rate.

Weight search (`suggest_weights`), a suggestion only, never applied: (1) non-negative least squares of `change`'s
per-snapshot percentile rank on the normalised criteria, both centred per snapshot (a missing criterion counts as
the snapshot's mean), whose coefficients divided by their sum are a first set of weights; (2) a coordinate search
from the better of those and the config's weights, moving one criterion's weight by ±0.05 at a time while the mean
Spearman over the snapshots improves by more than 0.0001 (at most 20 rounds), on at most `SEARCH_ROWS` rows (a fixed
hash sample of accounts when there are more). With 2 or more snapshots the search is also fitted on the earlier half
and scored on the later half (`holdout`): weights that only fit the past they were fitted on show it there. A second
suggestion, `nearby`, keeps every weight within 0.10 of today's: moves of 0.05 to one criterion, taken from (or given
to) the others in proportion, while the mean Spearman improves.

Large snapshots: above `EVAL_ROWS` accounts a snapshot is backtested on a fixed hash sample of about `EVAL_ROWS` of
its accounts (the same accounts for every ranking and config; percentiles are taken within the sample, which a
uniform sample leaves unbiased). At 100,000 accounts the standard error of a Spearman correlation is about 0.003.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from assets.rules.scoring import normalise
from assets.rules.scoring_config import CRITERIA, ScoringConfig

TOLERANCE = 1e-9
STEP = 0.05
NEARBY = 0.10  # the nearby suggestion moves no weight further than this from the config's
MIN_IMPROVEMENT = 1e-4
MAX_ROUNDS = 20
HORIZONS = (3, 6, 12)  # as assets/rules/outcomes.py computes them
SEARCH_ROWS = 120_000
EVAL_ROWS = 100_000  # accounts per snapshot above which a snapshot is backtested on a fixed hash sample
# What `alms backtest` re-scores, copied into every publication beside the what-if's inputs (scoring_inputs/), in
# SCORING_INPUTS' shape: name -> (layer, table, columns); only the reconstructed snapshots carry every criterion.
BACKTEST_INPUTS: dict[str, tuple[str, str, tuple[str, ...] | None]] = {
    "account_outcomes": ("marts", "account_outcomes", None),
}


# ... each published as a folder with a file per as-of date (name -> the column and the order): a month end's rows
# stay as they were until its outcomes change, so a monthly run writes its new month end's file and links the others
BACKTEST_INPUTS_BY: dict[str, tuple[str, str]] = {"account_outcomes": ("as_of_date", "as_of_date, account_id")}


def backtest_input_selects() -> dict[str, str]:
    """name -> the select that copies BACKTEST_INPUTS[name] from the warehouse: the reconstructed snapshots' rows
    (criteria and outcomes). Without an order: each month end's file is written in BACKTEST_INPUTS_BY's order, and
    the digest that decides whether a file is linked sums its rows' hashes in any order (an ordered select here made
    DuckDB sort every month end's rows for it: 6.5 s instead of 1.0 at 1M accounts and 14 month ends)."""
    layer, table, _ = BACKTEST_INPUTS["account_outcomes"]
    return {"account_outcomes": f"select * from {layer}.{table} where snapshot_source = 'reconstructed'"}


RAW_SECTIONS = ("wallet", "icp", "engagement", "stages", "tenure", "strategic")
METRICS = ("spearman", "top_accounts", "gain_share", "precision", "base_rate", "lift")
PER_SNAPSHOT_SCHEMA = {
    "ranking": pl.String,
    "as_of_date": pl.Date,
    "accounts": pl.Int64,
    "spearman": pl.Float64,
    "top_accounts": pl.Int64,
    "gain_share": pl.Float64,
    "precision": pl.Float64,
    "base_rate": pl.Float64,
    "lift": pl.Float64,
}


@dataclass
class Suggestion:
    weights: dict[str, float]
    current_weights: dict[str, float]
    spearman_current: float
    spearman_suggested: float
    first_guess: dict[str, float]  # the least-squares weights the search started from (when better)
    evaluations: int
    rows_searched: int
    holdout: dict | None = None  # fit_snapshots, test_snapshots, spearman_current, spearman_suggested (on the test)
    nearby: dict[str, float] | None = None  # the best weights within NEARBY of the config's
    spearman_nearby: float | None = None


@dataclass
class BacktestResult:
    horizon_months: int
    config_label: str
    snapshots: list[dt.date]
    accounts: int
    per_snapshot: pl.DataFrame  # PER_SNAPSHOT_SCHEMA
    summary: pl.DataFrame  # ranking, snapshots, accounts, the metrics' means
    suggestion: Suggestion | None
    notes: list[str] = field(default_factory=list)


def prepare(frame: pl.DataFrame, config: ScoringConfig, horizon: int, sampled: bool = False) -> pl.DataFrame:
    """Complete snapshots only: as_of_date, account_id, growth, change, `<criterion>_score` normalised per snapshot.
    `sampled`: `frame` is already `sample_snapshots`'s sample (`stored_complete_rows`), not to be cut again."""
    after = f"billing_after_{horizon}m"
    complete = frame.filter(pl.col(after).is_not_null())
    complete = complete if sampled else sample_snapshots(complete, EVAL_ROWS)
    before = pl.col("billing_before_12m").cast(pl.Float64)
    yearly = pl.col(after).cast(pl.Float64) * 12 / horizon
    spread = yearly.abs() + before.abs()
    return complete.sort("as_of_date", "account_id").select(
        "as_of_date",
        "account_id",
        (pl.col(after).cast(pl.Float64) - before * horizon / 12).alias("growth"),
        pl.when(spread > 0).then((yearly - before) / spread).otherwise(0.0).alias("change"),
        *(
            normalise(pl.col(f"{c}_raw").cast(pl.Float64), config.normalisation(c), config)
            .over("as_of_date")
            .alias(f"{c}_score")
            for c in CRITERIA
        ),
    )


def weighted_score(weights: dict[str, float]) -> pl.Expr:
    """The priority score: weighted mean of the normalised criteria an account has (null when it has none)."""
    used = {c: w for c, w in weights.items() if w > 0}
    if not used:
        return pl.lit(None, pl.Float64)
    present = {c: pl.col(f"{c}_score").is_not_null() for c in used}
    coverage = pl.sum_horizontal(pl.when(present[c]).then(w).otherwise(0.0) for c, w in used.items())
    total = pl.sum_horizontal(
        pl.when(present[c]).then(w * pl.col(f"{c}_score")).otherwise(0.0) for c, w in used.items()
    )
    return pl.when(coverage > 0).then((total / coverage).clip(0, 100))


def _metrics(scored: pl.DataFrame, ranking: str, value: pl.Expr, top: pl.Expr) -> pl.DataFrame:
    """Per snapshot metrics of one ranking; `top` marks the top group."""
    frame = scored.with_columns(value.alias("_v"), top.alias("_top"))
    has = pl.col("_v").is_not_null()
    gain = pl.col("growth").clip(0, None)
    grew = (pl.col("change") > 0).cast(pl.Float64)
    per = frame.group_by("as_of_date").agg(
        pl.len().cast(pl.Int64).alias("accounts"),
        pl.corr(pl.col("_v").filter(has), pl.col("change").filter(has), method="spearman").alias("spearman"),
        pl.col("_top").sum().cast(pl.Int64).alias("top_accounts"),
        (gain.filter(pl.col("_top")).sum() / gain.sum()).alias("gain_share"),
        grew.filter(pl.col("_top")).mean().alias("precision"),
        grew.mean().alias("base_rate"),
    )
    return per.with_columns(
        pl.lit(ranking).alias("ranking"),
        pl.col("spearman").fill_nan(None),
        pl.col("gain_share").fill_nan(None),
        (pl.col("precision") / pl.col("base_rate")).fill_nan(None).alias("lift"),
    ).select(list(PER_SNAPSHOT_SCHEMA))


def evaluate(prepared: pl.DataFrame, config: ScoringConfig, criteria: bool = True) -> pl.DataFrame:
    """PER_SNAPSHOT_SCHEMA for the score (`ranking` = score) and, with `criteria`, every criterion alone (the same
    for every weighting: a suggestion's rows need the score's alone)."""
    scored = prepared.with_columns(weighted_score(config.weights).alias("score"))
    high = (pl.col("score") >= config.tiers.high - TOLERANCE).fill_null(False)
    scored = scored.with_columns(high.alias("_high"), high.sum().over("as_of_date").alias("_k"))
    parts = [_metrics(scored, "score", pl.col("score"), pl.col("_high"))]
    for c in CRITERIA if criteria else ():
        value = pl.col(f"{c}_score")
        order = value.rank("ordinal", descending=True).over("as_of_date")
        parts.append(_metrics(scored, c, value, (order <= pl.col("_k")).fill_null(False)))
    order = {name: i for i, name in enumerate(["score", *CRITERIA])}
    return (
        pl.concat(parts)
        .sort(pl.col("ranking").replace_strict(order, return_dtype=pl.Int32), "as_of_date")
        .cast(PER_SNAPSHOT_SCHEMA)
    )


def summarise(per_snapshot: pl.DataFrame) -> pl.DataFrame:
    """One row per ranking: snapshots, accounts (rows) and the mean of each metric over the snapshots."""
    return per_snapshot.group_by("ranking", maintain_order=True).agg(
        pl.col("spearman").is_not_null().sum().cast(pl.Int64).alias("snapshots"),
        pl.col("accounts").sum(),
        *(pl.col(m).mean().alias(m) for m in METRICS if m != "top_accounts"),
        pl.col("top_accounts").mean().alias("top_accounts"),
    )


def mean_spearman(prepared: pl.DataFrame, weights: dict[str, float]) -> float:
    """The search's objective: Spearman of the weighted score with `change`, averaged over the snapshots."""
    return mean_spearmans(prepared, [weights])[0]


def mean_spearmans(prepared: pl.DataFrame, weightings: list[dict[str, float]]) -> list[float]:
    """`mean_spearman` of each weighting, all in one pass over the frame (a search round scores its neighbours
    together: one query instead of one per neighbour)."""
    if not weightings:
        return []
    scores = [f"_s{i}" for i in range(len(weightings))]
    per = (
        prepared.with_columns(weighted_score(w).alias(s) for s, w in zip(scores, weightings, strict=True))
        .group_by("as_of_date", maintain_order=True)  # the mean adds the snapshots in one order: the same result
        .agg(
            pl.corr(
                pl.col(s).filter(pl.col(s).is_not_null()),
                pl.col("change").filter(pl.col(s).is_not_null()),
                method="spearman",
            ).alias(s)
            for s in scores
        )
    )
    means = per.select(pl.col(s).fill_nan(None).mean() for s in scores).row(0)
    return [float(value) if value is not None else float("nan") for value in means]


def _least_squares_weights(prepared: pl.DataFrame, criteria: list[str]) -> dict[str, float]:
    """Non-negative least squares of `change`'s percentile rank on the normalised criteria, per-snapshot centred."""
    by = "as_of_date"
    filled = prepared.select(
        by,
        (pl.col("change").rank("average").over(by) / pl.len().over(by) * 100).alias("_y"),
        *(
            pl.col(f"{c}_score").fill_null(pl.col(f"{c}_score").mean().over(by)).fill_null(0.0).alias(c)
            for c in criteria
        ),
    )
    centred = filled.select(*(pl.col(c) - pl.col(c).mean().over(by) for c in [*criteria, "_y"]))
    n = len(criteria)
    sums = centred.select(
        *(
            ((pl.col(a) * pl.col(b)).sum()).alias(f"{i}:{j}")
            for i, a in enumerate(criteria)
            for j, b in enumerate(criteria)
            if j >= i
        ),
        *(((pl.col(a) * pl.col("_y")).sum()).alias(f"y:{i}") for i, a in enumerate(criteria)),
    ).row(0, named=True)
    gram = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            gram[i, j] = gram[j, i] = sums[f"{i}:{j}"]
    target = np.array([sums[f"y:{i}"] for i in range(n)])
    keep = np.diag(gram) > TOLERANCE
    weights = dict.fromkeys(criteria, 0.0)
    if not keep.any():
        return weights
    g, b = gram[np.ix_(keep, keep)], target[keep]
    g = g + np.eye(len(b)) * 1e-9 * np.trace(g)
    upper = np.linalg.cholesky(g).T  # g = upper.T @ upper
    from scipy.optimize import nnls  # here, not at the top: scipy costs every start of the definitions 0.3 s

    beta, _ = nnls(upper, np.linalg.solve(upper.T, b))
    total = beta.sum()
    if total <= 0:
        return weights
    for name, value in zip([c for c, k in zip(criteria, keep, strict=True) if k], beta, strict=True):
        weights[name] = float(value / total)
    return weights


def _keep(stride: pl.Expr, seed: int = 7) -> pl.Expr:
    return pl.col("account_id").hash(seed=seed) % stride == 0


def sample_snapshots(frame: pl.DataFrame, per_snapshot: int) -> pl.DataFrame:
    """Snapshots of more than `per_snapshot` accounts cut to a fixed hash sample of about that many (rows in their
    order; a filter, not a join that copies every row first)."""
    sizes = frame.group_by("as_of_date").len()
    if sizes.height == 0 or sizes["len"].max() <= per_snapshot:
        return frame
    strides = (sizes["len"] + per_snapshot - 1) // per_snapshot
    stride = pl.col("as_of_date").replace_strict(sizes["as_of_date"], strides, return_dtype=pl.UInt64)
    return frame.filter(_keep(stride))


def _sample(prepared: pl.DataFrame, rows: int) -> pl.DataFrame:
    if prepared.height <= rows:
        return prepared
    stride = math.ceil(prepared.height / rows)
    return prepared.filter(_keep(pl.lit(stride, pl.UInt64), seed=11))  # not the snapshots' sample again


def _normalised(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {c: w / total for c, w in weights.items()} if total > 0 else weights


def _climb(
    prepared: pl.DataFrame, weights: dict[str, float], neighbours: Callable[[dict[str, float]], Iterator[dict]]
) -> tuple[dict[str, float], int]:
    """Hill climbing on the mean Spearman: each round scores every neighbour of the current weights and takes the
    best while it improves by more than MIN_IMPROVEMENT (at most MAX_ROUNDS). Returns the weights and the number of
    weightings scored."""
    best = mean_spearman(prepared, weights)
    evaluations = 1
    for _ in range(MAX_ROUNDS):
        candidates = list(neighbours(weights))
        evaluations += len(candidates)
        scored = zip(mean_spearmans(prepared, candidates), candidates, strict=True)
        moves = [(score, candidate) for score, candidate in scored if not math.isnan(score)]
        if not moves:
            break
        score, candidate = max(moves, key=lambda move: move[0])
        if math.isnan(best) or score > best + MIN_IMPROVEMENT:
            best, weights = score, candidate
        else:
            break
    return weights, evaluations


def _search(prepared: pl.DataFrame, start: dict[str, float], criteria: list[str]) -> tuple[dict[str, float], int]:
    """Coordinate search on a 0.05 grid from `start`: the best single ±0.05 move per round while it improves."""
    weights = {c: round(start.get(c, 0.0) / STEP) * STEP for c in criteria}
    if sum(weights.values()) <= 0:
        weights = dict.fromkeys(criteria, STEP)

    def neighbours(weights: dict[str, float]) -> Iterator[dict[str, float]]:
        for c in criteria:
            for delta in (STEP, -STEP):
                value = round(weights[c] + delta, 10)
                if value < 0:
                    continue
                candidate = {**weights, c: value}
                if sum(candidate.values()) > 0:
                    yield candidate

    return _climb(prepared, weights, neighbours)


def _nearby(prepared: pl.DataFrame, current: dict[str, float], criteria: list[str]) -> tuple[dict[str, float], int]:
    """The best weights within NEARBY of the config's: 0.05 more (or less) weight on one criterion, taken from (or
    given to) the other searched criteria in proportion to their weights, the best move per round while it
    improves and no weight leaves NEARBY of where it was."""
    weights = _normalised({c: current.get(c, 0.0) for c in CRITERIA})
    start = dict(weights)

    def neighbours(weights: dict[str, float]) -> Iterator[dict[str, float]]:
        for c in criteria:
            others = {o: weights[o] for o in criteria if o != c}
            pool = sum(others.values())
            for delta in (STEP, -STEP):
                if pool <= 0 and delta > 0:
                    continue
                candidate = dict(weights)
                candidate[c] = weights[c] + delta
                for o, w in others.items():
                    candidate[o] = w - delta * (w / pool if pool > 0 else 1 / len(others))
                if any(v < -TOLERANCE or abs(v - start[o]) > NEARBY + TOLERANCE for o, v in candidate.items()):
                    continue
                yield {o: max(round(v, 10), 0.0) for o, v in candidate.items()}

    return _climb(prepared, weights, neighbours)


def _fit(prepared: pl.DataFrame, current: dict[str, float], criteria: list[str]) -> tuple[dict, dict, int, int]:
    sample = _sample(prepared, SEARCH_ROWS)
    guess = _least_squares_weights(sample, criteria)
    start = current
    if sum(guess.values()) > 0 and mean_spearman(sample, guess) > mean_spearman(sample, current):
        start = guess
    weights, evaluations = _search(sample, start, criteria)
    return _normalised(weights), guess, evaluations, sample.height


def suggest_weights(prepared: pl.DataFrame, config: ScoringConfig) -> Suggestion | None:
    """The weights that would have ranked the past snapshots best (see the module docstring); None without data."""
    if prepared.height == 0:
        return None
    criteria = [c for c in CRITERIA if prepared[f"{c}_score"].drop_nulls().n_unique() > 1]
    if not criteria:
        return None
    current = {c: config.weights.get(c, 0.0) for c in CRITERIA}
    weights, guess, evaluations, rows = _fit(prepared, current, criteria)
    weights = {c: weights.get(c, 0.0) for c in CRITERIA}
    nearby, nearby_evaluations = _nearby(_sample(prepared, SEARCH_ROWS), current, criteria)
    holdout = None
    dates = sorted(prepared["as_of_date"].unique().to_list())
    if len(dates) >= 2:
        fit_dates, test_dates = dates[: len(dates) // 2], dates[len(dates) // 2 :]
        fitted, *_ = _fit(prepared.filter(pl.col("as_of_date").is_in(fit_dates)), current, criteria)
        test = prepared.filter(pl.col("as_of_date").is_in(test_dates))
        holdout = {
            "fit_snapshots": [str(d) for d in fit_dates],
            "test_snapshots": [str(d) for d in test_dates],
            "weights": {c: fitted.get(c, 0.0) for c in CRITERIA},
        }
        holdout["spearman_current"], holdout["spearman_suggested"] = mean_spearmans(test, [current, fitted])
    on_current, on_suggested, on_nearby = mean_spearmans(prepared, [current, weights, nearby])  # one pass
    return Suggestion(
        weights=weights,
        current_weights=current,
        spearman_current=on_current,
        spearman_suggested=on_suggested,
        first_guess={c: guess.get(c, 0.0) for c in CRITERIA},
        evaluations=evaluations + nearby_evaluations,
        rows_searched=rows,
        holdout=holdout,
        nearby=nearby,
        spearman_nearby=on_nearby,
    )


def default_horizon(frame: pl.DataFrame) -> int:
    """6 months when a snapshot has them complete, else 3, else 12 (nothing complete at all: 6)."""
    return horizon_of({h: frame[f"billing_after_{h}m"].drop_nulls().len() if frame.height else 0 for h in HORIZONS})


def horizon_of(complete: dict[int, int]) -> int:
    """`default_horizon` from the count of rows with each horizon complete."""
    for horizon in (6, 3, 12):
        if complete.get(horizon):
            return horizon
    return 6


def stored_complete_rows(conn, horizon: int | None = None) -> tuple[int, pl.DataFrame]:
    """The default horizon (or `horizon`) and what run_backtest reads of the warehouse's reconstructed snapshots:
    only the rows with that many complete months after them, only the columns it reads (at 1M accounts and 24 month
    ends the whole table is tens of millions of rows), and of a large snapshot only `sample_snapshots`'s sample (pass
    `sampled=True` to run_backtest)."""
    layer, table, _ = BACKTEST_INPUTS["account_outcomes"]
    where = "snapshot_source = 'reconstructed'"
    if horizon is None:
        counts = conn.sql(
            f"select {', '.join(f'count(billing_after_{h}m)' for h in HORIZONS)} from {layer}.{table} where {where}"
        ).fetchall()[0]
        horizon = horizon_of(dict(zip(HORIZONS, counts, strict=True)))
    after = f"billing_after_{horizon}m"
    columns = ["as_of_date", "account_id", "billing_before_12m", after, *(f"{c}_raw" for c in CRITERIA)]
    rows = f"from {layer}.{table} where {where} and {after} is not null"
    # the sample is taken on the keys, and only its rows are read: at 1M accounts and 18 month ends with complete
    # windows, 1.8M rows instead of 14M
    keys = sample_snapshots(conn.sql(f"select as_of_date, account_id {rows}").pl(), EVAL_ROWS)
    conn.register("_backtest_keys", keys)
    try:
        frame = conn.sql(
            f"select {', '.join(f't.{c}' for c in columns)} from (select * {rows}) as t "
            "join _backtest_keys as k on t.as_of_date = k.as_of_date and t.account_id = k.account_id "
            "order by t.as_of_date, t.account_id"
        ).pl()
    finally:
        conn.unregister("_backtest_keys")
    return horizon, frame


def raw_sections_changed(candidate: ScoringConfig, published: ScoringConfig) -> list[str]:
    """Sections of `candidate` that change raw criterion values, which the backtest cannot apply."""
    return [s for s in RAW_SECTIONS if getattr(candidate, s) != getattr(published, s)]


def run_backtest(
    frame: pl.DataFrame, config: ScoringConfig, horizon: int = 6, search: bool = True, sampled: bool = False
) -> BacktestResult:
    """Backtest `config` on `frame` (as_of_date, account_id, `<criterion>_raw`, billing_before_12m,
    billing_after_<horizon>m): per-snapshot and summary metrics, and the suggested weights. `sampled`: `frame` is
    `stored_complete_rows`'s, already sampled."""
    prepared = prepare(frame, config, horizon, sampled)
    per_snapshot = evaluate(prepared, config) if prepared.height else pl.DataFrame(schema=PER_SNAPSHOT_SCHEMA)
    notes = []
    if prepared.height == 0:
        notes.append(f"no snapshot has {horizon} complete months after it yet: nothing to backtest")
    dates = sorted(prepared["as_of_date"].unique().to_list())
    suggestion = suggest_weights(prepared, config) if search else None
    if suggestion is not None:
        for name, weights in (("suggested_score", suggestion.weights), ("nearby_score", suggestion.nearby)):
            scored = evaluate(prepared, with_weights(config, weights), criteria=False)
            per_snapshot = pl.concat([per_snapshot, scored.with_columns(pl.lit(name).alias("ranking"))])
    return BacktestResult(
        horizon_months=horizon,
        config_label=config.label,
        snapshots=dates,
        accounts=prepared.height,
        per_snapshot=per_snapshot,
        summary=summarise(per_snapshot),
        suggestion=suggestion,
        notes=notes,
    )


def with_weights(config: ScoringConfig, weights: dict[str, float]) -> ScoringConfig:
    """`config` with these criteria weights (criteria at 0 disabled), its normalisations kept."""
    from assets.rules.scoring_config import Criterion

    criteria = {
        c: Criterion(
            weight=w, enabled=w > 0, normalisation=config.criteria[c].normalisation if c in config.criteria else None
        )
        for c, w in weights.items()
    }
    return config.model_copy(update={"criteria": criteria})


TABLE_SCHEMA = {
    "horizon_months": pl.Int64,
    "ranking": pl.String,
    "as_of_date": pl.Date,
    "config_version": pl.String,
    "snapshots": pl.Int64,
    "accounts": pl.Int64,
    "spearman": pl.Float64,
    "top_accounts": pl.Float64,
    "gain_share": pl.Float64,
    "precision": pl.Float64,
    "base_rate": pl.Float64,
    "lift": pl.Float64,
    "weights": pl.String,
}
RANKINGS = ("score", "suggested_score", "nearby_score", *CRITERIA)


def describe_weights(weights: dict[str, float]) -> str:
    """'current_spend 0.25, growth 0.10, ...' (criteria with a weight above 0, in the config's order)."""
    return ", ".join(f"{c} {weights[c]:.2f}" for c in CRITERIA if weights.get(c, 0) > 0)


def table(result: BacktestResult, config: ScoringConfig) -> pl.DataFrame:
    """The published rows (marts.scoring_backtest): every snapshot's row and the mean row (as_of_date null) of each
    ranking; without any complete snapshot, one empty mean row per ranking (snapshots 0)."""
    per = result.per_snapshot.with_columns(
        pl.lit(1, pl.Int64).alias("snapshots"), pl.col("top_accounts").cast(pl.Float64)
    )
    mean = result.summary.with_columns(pl.lit(None, pl.Date).alias("as_of_date"))
    if result.summary.height == 0:
        mean = pl.DataFrame(
            {"ranking": [r for r in RANKINGS if r not in ("suggested_score", "nearby_score")]}
        ).with_columns(
            pl.lit(None, pl.Date).alias("as_of_date"),
            pl.lit(0, pl.Int64).alias("snapshots"),
            pl.lit(0, pl.Int64).alias("accounts"),
        )
    weights = {"score": describe_weights(config.weights), **{c: f"{c} 1.00" for c in CRITERIA}}
    if result.suggestion is not None:
        weights["suggested_score"] = describe_weights(result.suggestion.weights)
        weights["nearby_score"] = describe_weights(result.suggestion.nearby)
    frame = pl.concat([per, mean], how="diagonal_relaxed").with_columns(
        pl.lit(result.horizon_months, pl.Int64).alias("horizon_months"),
        pl.lit(result.config_label).alias("config_version"),
        pl.col("ranking").replace_strict(weights, default=None, return_dtype=pl.String).alias("weights"),
    )
    frame = frame.with_columns(
        pl.lit(None, dtype).alias(c) for c, dtype in TABLE_SCHEMA.items() if c not in frame.columns
    )
    order = {name: i for i, name in enumerate(RANKINGS)}
    return (
        frame.select(list(TABLE_SCHEMA))
        .cast(TABLE_SCHEMA)
        .sort(pl.col("ranking").replace_strict(order, return_dtype=pl.Int32), pl.col("as_of_date"), nulls_last=True)
    )


def suggestion_yaml(suggestion: Suggestion, config: ScoringConfig, header: list[str], nearby: bool = False) -> str:
    """A `criteria:` section with the suggested weights (`nearby`: the nearby ones), the config's normalisations, to
    copy into a scoring.yaml."""
    chosen = suggestion.nearby if nearby else suggestion.weights
    score = suggestion.spearman_nearby if nearby else suggestion.spearman_suggested
    what = f"the best weights within {NEARBY:.2f} of the current ones" if nearby else "the best weights on the past"
    lines = [f"# {line}" for line in header] + [f"# {what}"]
    lines += [
        "# A suggestion, NOT applied: copy this section into your scoring.yaml only after reading docs/outcomes.md",
        "# (correlation is not causation; weights fitted on the past fit that past best).",
        f"# mean Spearman over the snapshots: current {suggestion.spearman_current:.3f}, suggested {score:.3f}",
    ]
    if suggestion.holdout and not nearby:
        h = suggestion.holdout
        lines.append(
            f"# fitted on {', '.join(h['fit_snapshots'])} and scored on {', '.join(h['test_snapshots'])}: current "
            f"{h['spearman_current']:.3f}, suggested {h['spearman_suggested']:.3f}"
        )
    lines.append("criteria:")
    for c in CRITERIA:
        weight = chosen.get(c, 0.0)
        was = suggestion.current_weights.get(c, 0.0)
        lines.append(
            f"  {c + ':':<16} {{weight: {weight:.2f}, normalisation: {config.normalisation(c)}}}   # now {was:.2f}"
        )
    return "\n".join(lines) + "\n"
