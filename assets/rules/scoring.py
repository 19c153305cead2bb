"""The decision matrix: criteria per account, normalised, weighted into a priority score, tiers, and a health lens.

Everything here works on frames of one row per account (polars); the row-heavy sums over billing lines, events and
deals are SQL models upstream (`int_accounts_aggregated`, `int_account_engagement_monthly`, `int_account_pipeline`).

Criteria (raw value -> 0-100), each null when the account lacks the data:
- current_spend: 12-month billing. Never missing (no billing is 0).
- growth: g = (last 6 months - the 6 before) / (|last| + |before|), in [-1, 1]; normalised 50 * (1 + g). Missing when
  both halves are 0.
- whitespace: estimated wallet (employees x spend per employee of the industry, `wallet`) minus current spend, at
  least 0. Missing without an employee count.
- likelihood: open pipeline weighted by probability (a deal's own probability, else its stage's from `stages`), in the
  reporting currency. 0 without open deals; missing for everyone when no opportunities input exists.
- engagement: sum over the 12 months of event weight x quantity x 0.5 ^ (age in days / half_life_days); age is taken at
  the middle of the event's month. 0 without events; missing for everyone when no engagement input exists.
- icp_fit: mean of industry fit (`icp.industries`, else `default_industry_fit`) and size fit (100 inside the employee
  band, falling linearly in log10 to 0 at a tenth of the minimum or ten times the maximum); over the parts present.
- tenure: years since the earliest customer_since of the account's records; capped at `tenure.cap_years` -> 100.
- strategic: 100 when one of the account's records has a segment in `strategic.segments`, else 0; missing when no
  record has a segment.

Normalisations: percentile = 100 * (accounts with a smaller value) / (accounts with a value - 1), so the largest is
100, the smallest 0 and ties share a value; log_minmax = 100 * ln(1 + x - min) / ln(1 + max - min); ratio, fixed and
capped as above.

Score = sum over the criteria the account has of weight x normalised value, divided by the sum of those weights
(re-weighting over the criteria present). `<criterion>_contribution` = that criterion's part of the score, so the
contributions of an account add up to its score; `weight_coverage` is the share of the configured weight that was
present. Tier: high >= tiers.high, medium >= tiers.medium, else low.

Health (customer-success lens, same re-weighting): usage_trend 50 * (1 + r) with r the product-usage ratio of the last
3 months against the 3 before; satisfaction 100 * (mean survey score - 1) / 9; support_load 100 / (1 + tickets per
month over the last 6 months). An account without any event has no support load (not a
perfect one). Churn risk: an active account whose health is below `health.churn_risk_below`, or whose usage fell by
`health.usage_drop` or more. Upsell candidate: health at least `health.upsell_min_health` and whitespace score at
least `health.upsell_min_whitespace`.

Sums of floats are rounded (engagement to 1e-9, pipeline to 1e-6) before ranking, so equal activity ties whatever the
order of the rows; thresholds (tiers, usage drop, the ICP band) compare with a 1e-9 slack.
"""

from __future__ import annotations

import math

import polars as pl

from assets.rules.scoring_config import CRITERIA, HEALTH_PARTS, ConfigError, ScoringConfig

DAYS_PER_MONTH = 365.25 / 12
TOLERANCE = 1e-9  # a score of 60 computed as 59.99999999999999 is 60: thresholds compare with this slack
STATUS = ("active", "pipeline", "inactive")
TIERS = ("high", "medium", "low")

FEATURE_COLUMNS = {
    "account_id": pl.String,
    "owner_id": pl.String,
    "industry": pl.String,
    "employee_count": pl.Int64,
    "customer_since": pl.Date,
    "segments": pl.List(pl.String),
    "billing_12m": pl.Float64,
    "billing_recent_6m": pl.Float64,
    "billing_earlier_6m": pl.Float64,
    "is_key_account": pl.Boolean,
}


def percentile(value: pl.Expr) -> pl.Expr:
    smaller = value.rank("min") - 1
    present = value.count()
    return pl.when(value.is_null()).then(None).when(present > 1).then(100.0 * smaller / (present - 1)).otherwise(100.0)


def _log_minmax(value: pl.Expr) -> pl.Expr:
    low, high = value.min(), value.max()
    span = (high - low).cast(pl.Float64)
    scaled = 100.0 * (1 + value - low).log() / (1 + span).log()
    return pl.when(value.is_null()).then(None).when(span > 0).then(scaled).otherwise(100.0)


def normalise(raw: pl.Expr, method: str, config: ScoringConfig) -> pl.Expr:
    """One criterion's raw value onto 0-100 (see the module docstring); null stays null. Clipped to the scale, so
    float rounding (100 * 7 / 7 = 100.00000000000001) never leaves it."""
    return _normalise(raw, method, config).clip(0, 100)


def _normalise(raw: pl.Expr, method: str, config: ScoringConfig) -> pl.Expr:
    if method == "percentile":
        return percentile(raw)
    if method == "log_minmax":
        return _log_minmax(raw)
    if method == "ratio":
        return 50.0 * (1 + raw.clip(-1, 1))
    if method == "capped":
        return 100.0 * raw.clip(0, config.tenure.cap_years) / config.tenure.cap_years
    return raw.clip(0, 100)  # fixed


def engagement_signals(engagement_monthly: pl.DataFrame, config: ScoringConfig) -> pl.DataFrame:
    """Per account: recency-weighted engagement, usage in the last 3 months and the 3 before, survey mean, tickets.

    `engagement_monthly` has account_id, event_type, months_ago (0 = the window's last month), events, quantity."""
    half_life = config.engagement.half_life_days
    weights = config.engagement.event_weights
    age_days = (pl.col("months_ago").cast(pl.Float64) + 0.5) * DAYS_PER_MONTH
    decay = (-math.log(2) * age_days / half_life).exp()
    weight = pl.col("event_type").replace_strict(weights, default=0.0, return_dtype=pl.Float64)
    usage = pl.col("event_type") == "product_usage"
    survey = pl.col("event_type") == "survey"
    tickets = pl.col("event_type") == "support_ticket"
    return engagement_monthly.group_by("account_id").agg(
        (weight * pl.col("quantity").cast(pl.Float64) * decay).sum().alias("engagement_raw"),
        pl.col("quantity").filter(usage & (pl.col("months_ago") < 3)).sum().alias("usage_recent_3m"),
        pl.col("quantity").filter(usage & pl.col("months_ago").is_between(3, 5)).sum().alias("usage_previous_3m"),
        pl.col("quantity").filter(survey).sum().alias("survey_score_sum"),
        pl.col("events").filter(survey).sum().alias("survey_count"),
        pl.col("events").filter(tickets & (pl.col("months_ago") < 6)).sum().alias("support_tickets_6m"),
        (pl.col("events").sum() > 0).alias("has_events"),
    )


def pipeline_signals(pipeline: pl.DataFrame, config: ScoringConfig) -> pl.DataFrame:
    """Per account: open deals and their probability-weighted amount.

    `pipeline` has account_id, stage, open_deals, weighted_amount (amount x own probability, deals that have one) and
    unweighted_amount (deals without a probability, weighted here by their stage's probability)."""
    unknown = sorted(set(pipeline["stage"].unique().drop_nulls().to_list()) - set(config.stages))
    if unknown:
        raise ConfigError(
            f"opportunities use stage {', '.join(repr(s) for s in unknown)}, which scoring.yaml `stages` does not "
            f"list (known: {', '.join(config.stages)}); add it with its win probability (0-1)"
        )
    stage_probability = pl.col("stage").replace_strict(config.stages, default=0.0, return_dtype=pl.Float64)
    pipeline = pipeline.filter(~pl.col("stage").str.starts_with("closed"))  # closed deals are not pipeline
    return pipeline.group_by("account_id").agg(
        pl.col("open_deals").sum().alias("open_deals"),
        (pl.col("weighted_amount") + pl.col("unweighted_amount") * stage_probability).sum().alias("likelihood_raw"),
    )


def size_fit(employees: pl.Expr, config: ScoringConfig) -> pl.Expr:
    low, high = math.log10(config.icp.employees_min), math.log10(config.icp.employees_max)
    x = employees.cast(pl.Float64).clip(1, None).log10()
    below = (100.0 * (1 - (low - x))).clip(0, 100)
    above = (100.0 * (1 - (x - high))).clip(0, 100)
    edge = 1e-9  # Python's and polars' log10 differ in the last bit: 50 employees is inside a band that starts at 50
    return pl.when(x < low - edge).then(below).when(x > high + edge).then(above).otherwise(100.0)


def wallet_and_icp_fit(config: ScoringConfig) -> tuple[pl.Expr, pl.Expr]:
    """An organisation's estimated wallet (employees x its industry's spend per employee) and its ICP fit (the mean of
    its industry's fit and its size fit, each null where unknown), from `employee_count` and `industry`: one definition
    for accounts (whitespace, icp_fit) and prospects (lead score)."""
    wallet = pl.col("employee_count").cast(pl.Float64) * pl.col("industry").replace_strict(
        config.wallet.per_employee, default=config.wallet.default_per_employee, return_dtype=pl.Float64
    )
    industry_fit = pl.when(pl.col("industry").is_not_null()).then(
        pl.col("industry").replace_strict(
            config.icp.industries, default=config.icp.default_industry_fit, return_dtype=pl.Float64
        )
    )
    size_fit_score = pl.when(pl.col("employee_count").is_not_null()).then(size_fit(pl.col("employee_count"), config))
    return wallet, pl.mean_horizontal(industry_fit, size_fit_score)


def criteria_values(
    features: pl.DataFrame,
    engagement: pl.DataFrame | None,
    pipeline: pl.DataFrame | None,
    config: ScoringConfig,
    as_of: object,
) -> pl.DataFrame:
    """Raw criterion values (`<criterion>_raw`) per account; `engagement`/`pipeline` None means that input is absent."""
    frame = features
    if engagement is not None:
        frame = frame.join(engagement_signals(engagement, config), on="account_id", how="left").with_columns(
            # a float sum depends on the order of its terms in the last bit: rounded, equal activity ties
            pl.col("engagement_raw").fill_null(0.0).round(9),
            pl.col("usage_recent_3m", "usage_previous_3m", "survey_score_sum", "survey_count", "support_tickets_6m")
            .fill_null(0)
            .cast(pl.Int64),
            pl.col("has_events").fill_null(False),
        )
    else:
        frame = frame.with_columns(
            pl.lit(None, pl.Float64).alias("engagement_raw"),
            *(
                pl.lit(None, pl.Int64).alias(c)
                for c in (
                    "usage_recent_3m",
                    "usage_previous_3m",
                    "survey_score_sum",
                    "survey_count",
                    "support_tickets_6m",
                )
            ),
            pl.lit(False).alias("has_events"),
        )
    if pipeline is not None:
        frame = frame.join(pipeline_signals(pipeline, config), on="account_id", how="left").with_columns(
            pl.col("open_deals").fill_null(0).cast(pl.Int64), pl.col("likelihood_raw").fill_null(0.0).round(6)
        )
    else:
        frame = frame.with_columns(
            pl.lit(0, pl.Int64).alias("open_deals"), pl.lit(None, pl.Float64).alias("likelihood_raw")
        )
    recent, earlier = pl.col("billing_recent_6m"), pl.col("billing_earlier_6m")
    spread = recent.abs() + earlier.abs()
    wallet, icp_fit = wallet_and_icp_fit(config)
    years = (pl.lit(as_of, pl.Date) - pl.col("customer_since")).dt.total_days().cast(pl.Float64) / 365.25
    segments = pl.col("segments")
    return frame.with_columns(
        pl.col("billing_12m").alias("current_spend_raw"),
        pl.when(spread > 0).then((recent - earlier) / spread).alias("growth_raw"),
        (wallet - pl.col("billing_12m").clip(0, None)).clip(0, None).alias("whitespace_raw"),
        icp_fit.alias("icp_fit_raw"),
        years.alias("tenure_raw"),
        pl.when(segments.list.len() > 0)
        .then(
            pl.when(segments.list.eval(pl.element().is_in(config.strategic.segments)).list.any())
            .then(100.0)
            .otherwise(0.0)
        )
        .alias("strategic_raw"),
        wallet.alias("estimated_wallet"),
    )


def score_accounts(values: pl.DataFrame, config: ScoringConfig) -> pl.DataFrame:
    """Normalised criteria, contributions, priority score and tier, status, health and churn risk per account."""
    weights = config.weights
    frame = values.with_columns(
        normalise(pl.col(f"{c}_raw"), config.normalisation(c), config).alias(f"{c}_score") for c in CRITERIA
    )
    present = {c: pl.col(f"{c}_score").is_not_null() for c in weights}
    covered = pl.sum_horizontal(pl.when(present[c]).then(w).otherwise(0.0) for c, w in weights.items())
    frame = frame.with_columns(covered.alias("weight_coverage"))
    frame = frame.with_columns(
        (
            pl.when(pl.col("weight_coverage") > 0).then(weights[c] * pl.col(f"{c}_score") / pl.col("weight_coverage"))
            if c in weights
            else pl.lit(None, pl.Float64)
        ).alias(f"{c}_contribution")
        for c in CRITERIA
    )
    score = pl.sum_horizontal(pl.col(f"{c}_contribution") for c in weights).clip(0, 100)
    missing = pl.concat_str([pl.when(~present[c]).then(pl.lit(c)) for c in weights], separator=", ", ignore_nulls=True)
    frame = frame.with_columns(
        pl.when(pl.col("weight_coverage") > 0).then(score).alias("priority_score"),
        missing.fill_null("").alias("missing_criteria"),
    )
    frame = frame.with_columns(
        pl.when(pl.col("priority_score") >= config.tiers.high - TOLERANCE)
        .then(pl.lit("high"))
        .when(pl.col("priority_score") >= config.tiers.medium - TOLERANCE)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
        .alias("tier"),
        pl.when(pl.col("billing_12m") > 0)
        .then(pl.lit("active"))
        .when(pl.col("open_deals") > 0)
        .then(pl.lit("pipeline"))
        .otherwise(pl.lit("inactive"))
        .alias("status"),
    )
    return health(frame, config)


def health(frame: pl.DataFrame, config: ScoringConfig) -> pl.DataFrame:
    weights = config.health_weights
    recent, previous = pl.col("usage_recent_3m").cast(pl.Float64), pl.col("usage_previous_3m").cast(pl.Float64)
    parts = {
        "usage_trend": pl.when(recent + previous > 0).then(50.0 * (1 + (recent - previous) / (recent + previous))),
        "satisfaction": pl.when(pl.col("survey_count") > 0).then(
            100.0 * (pl.col("survey_score_sum") / pl.col("survey_count") - 1) / 9
        ),
        # an account without any event says nothing about its support load (it is not "perfectly healthy")
        "support_load": pl.when(pl.col("has_events")).then(
            100.0 / (1 + pl.col("support_tickets_6m").cast(pl.Float64) / 6)
        ),
    }
    frame = frame.with_columns(parts[p].clip(0, 100).alias(f"health_{p}_score") for p in HEALTH_PARTS)
    used = {p: w for p, w in weights.items() if w > 0}
    covered = pl.sum_horizontal(
        pl.when(pl.col(f"health_{p}_score").is_not_null()).then(w).otherwise(0.0) for p, w in used.items()
    )
    frame = frame.with_columns(covered.alias("_health_coverage")).with_columns(
        (
            pl.when(pl.col("_health_coverage") > 0).then(
                used[p] * pl.col(f"health_{p}_score") / pl.col("_health_coverage")
            )
            if p in used
            else pl.lit(None, pl.Float64)
        ).alias(f"health_{p}_contribution")
        for p in HEALTH_PARTS
    )
    frame = frame.with_columns(
        pl.when(pl.col("_health_coverage") > 0)
        .then(pl.sum_horizontal(pl.col(f"health_{p}_contribution") for p in used))
        .alias("health_score")
    )
    dropped = (previous > 0) & (recent <= (1 - config.health.usage_drop) * previous + TOLERANCE * previous)
    low = pl.col("health_score") < config.health.churn_risk_below
    active = pl.col("status") == "active"
    reason = pl.concat_str(
        [
            pl.when(active & low).then(pl.lit(f"health below {config.health.churn_risk_below:g}")),
            pl.when(active & dropped).then(pl.lit(f"usage down {config.health.usage_drop:.0%} or more")),
        ],
        separator="; ",
        ignore_nulls=True,
    )
    return frame.with_columns(
        (active & (low.fill_null(False) | dropped.fill_null(False))).alias("is_churn_risk"),
        reason.fill_null("").alias("churn_risk_reason"),
        (
            active
            & (pl.col("health_score") >= config.health.upsell_min_health)
            & (pl.col("whitespace_score") >= config.health.upsell_min_whitespace)
        )
        .fill_null(False)
        .alias("is_upsell_candidate"),
    ).drop("_health_coverage")


def score(
    features: pl.DataFrame,
    engagement: pl.DataFrame | None,
    pipeline: pl.DataFrame | None,
    config: ScoringConfig,
    as_of: object,
) -> pl.DataFrame:
    """The whole sales and health scoring of one set of accounts (rows in any order; result sorted by account_id)."""
    values = criteria_values(features, engagement, pipeline, config, as_of)
    return score_accounts(values, config).sort("account_id")
