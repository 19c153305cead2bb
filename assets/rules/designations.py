"""Targets, leads, sellers' picks and front-line overrides: from scores to the designation of every account.

Rules (docs/scoring.md, "Targets" and "Leads"):
- Recommended targets: per seller, among their own accounts that are not key and are active or in pipeline, the
  `targets.per_seller` best by the mean of the `targets.rank_by` criteria scores (whitespace and likelihood: room to
  grow and a deal in motion), then priority score, then account_id. Never more than 9.
- Recommended leads: per seller, among the prospects they own that are not already clients (a prospect whose name key
  equals a client record's and which shares its domain, phone or postal code is a client), the `leads.per_seller` best
  by lead score = mean of ICP fit and the percentile of the estimated wallet among prospects. Never more than 10.
- Sellers' picks (`seller_picks`): a seller with target picks gets exactly those targets, one with lead picks exactly
  those leads; the recommendations stay visible beside them (`is_recommended`). Every problem in the file is a clear
  error naming the row and the seller: unknown seller, pick_type other than target/lead, unknown client record or
  prospect, an account or prospect the seller does not own, a key account as target, a repeated pick, more than 9
  targets or 10 leads.
- Overrides (`overrides`): field tier (high/medium/low) or designation (key/target/secondary) for the account of a
  client record, with set_by, reason and valid_until. Active (valid_until on or after the as-of date) overrides replace
  the value; the computed value stays in its own column. Expired overrides and overrides of unknown records are
  reported in `marts.account_overrides` and in the run's log, never dropped silently. A malformed row (unknown field or
  value, unparseable date, missing who/why) or two active overrides of one field of one account stop the run.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from assets.rules.inputs import InputError
from assets.rules.matching import (
    add_match_keys,
    normalise_domain,
    normalise_name,
    normalise_phone,
    normalise_postal_code,
)
from assets.rules.scoring import percentile, wallet_and_icp_fit  # one definition of the wallet, ICP fit and percentile
from assets.rules.scoring_config import MAX_LEADS, MAX_TARGETS, ScoringConfig

OVERRIDE_VALUES = {"tier": ("high", "medium", "low"), "designation": ("key", "target", "secondary")}
MAX_LISTED_PROBLEMS = 25


class PickError(InputError):
    """The sellers' picks break a rule; the message lists every offending row."""


class OverrideFileError(InputError):
    """The overrides file has a malformed row or two active overrides of one account and field."""


def _raise(error: type[InputError], title: str, problems: list[str]) -> None:
    shown = problems[:MAX_LISTED_PROBLEMS]
    more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    raise error(f"{title} ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n" + "\n".join(shown) + more)


def _where(row: dict) -> str:
    return f"{row['source_file']} row {row['source_row']}"


def recommend_targets(scores: pl.DataFrame, config: ScoringConfig) -> pl.DataFrame:
    """account_id, owner_id, target_rank (1 = best) for the recommended targets of every seller."""
    rank_by = pl.mean_horizontal(pl.col(f"{c}_score") for c in config.targets.rank_by)
    candidates = scores.select(
        "account_id", "owner_id", "is_key_account", "status", "priority_score", rank_by.alias("target_rank_score")
    ).filter(
        pl.col("owner_id").is_not_null() & ~pl.col("is_key_account") & pl.col("status").is_in(["active", "pipeline"])
    )
    ranked = candidates.sort(
        ["target_rank_score", "priority_score", "account_id"], descending=[True, True, False], nulls_last=True
    )
    return (
        ranked.with_columns(pl.int_range(1, pl.len() + 1).over("owner_id").alias("target_rank"))
        .filter(pl.col("target_rank") <= config.targets.per_seller)
        .select("account_id", "owner_id", "target_rank", "target_rank_score")
    )


def match_prospects(prospects: pl.DataFrame, client_records: pl.DataFrame) -> pl.DataFrame:
    """prospect_id, source_system, source_client_id, account_id: every client record a prospect is in fact (the same
    normalised name and one of domain, phone or postal code). A pair depends on its prospect and its record only, so
    the pairs of fewer prospects or records are these pairs filtered (the outcomes match once for every month end).

    `prospects`: prospect_id, name, domain, phone, postal_code. `client_records`: source_system, source_client_id,
    account_id, name, domain, phone, postal_code."""
    keys = ["name_key", "domain_key", "phone_key", "postal_code_key"]
    own = add_match_keys(prospects.select("prospect_id", "name", "domain", "phone", "postal_code"))
    # names are normalised only for client records that share a domain, phone or postal code with a prospect (the
    # rule needs one of them), not for every client record
    shared = [
        normalise(pl.col(c)).alias(k)
        for c, k, normalise in (
            ("domain", "domain_key", normalise_domain),
            ("phone", "phone_key", normalise_phone),
            ("postal_code", "postal_code_key", normalise_postal_code),
        )
    ]
    candidates = client_records.lazy().select(
        "source_system", "source_client_id", "account_id", "name", "domain", "phone", "postal_code", *shared
    )
    near = pl.any_horizontal(
        pl.col(k).is_in(own[k].drop_nulls().unique().implode()) for k in ("domain_key", "phone_key", "postal_code_key")
    )
    clients = (
        candidates.filter(near.fill_null(False))
        .with_columns(normalise_name(pl.col("name")).alias("name_key"))
        .collect(engine="streaming")  # lazy: each key's sub-expressions once, on both cores
    )
    return (
        own.select("prospect_id", *keys)
        .join(
            clients.select("source_system", "source_client_id", "account_id", *keys).drop_nulls("name_key"),
            on="name_key",
            suffix="_client",
        )
        .filter(
            pl.any_horizontal(
                pl.col(k) == pl.col(f"{k}_client") for k in ("domain_key", "phone_key", "postal_code_key")
            ).fill_null(False)
        )
        .select("prospect_id", "source_system", "source_client_id", "account_id")
    )


def score_prospects(
    prospects: pl.DataFrame,
    client_records: pl.DataFrame,
    config: ScoringConfig,
    matches: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every prospect with its lead score, estimated wallet and, when it is in fact a client, the account it is.

    `prospects`: prospect_id, name, domain, phone, postal_code, industry, employee_count (Int64), owner_id.
    `client_records`: source_system, source_client_id, account_id, name, domain, phone, postal_code.
    `matches`: match_prospects() of these prospects and records when the caller has them already."""
    if matches is None:
        matches = match_prospects(prospects, client_records)
    same = matches.group_by("prospect_id").agg(pl.col("account_id").min().alias("existing_account_id"))
    wallet, icp_fit = wallet_and_icp_fit(config)
    frame = prospects.join(same, on="prospect_id", how="left").with_columns(
        wallet.alias("estimated_wallet"), icp_fit.alias("icp_fit_score")
    )
    return frame.with_columns(
        pl.mean_horizontal("icp_fit_score", percentile(pl.col("estimated_wallet"))).alias("lead_score")
    )


def recommend_leads(scored_prospects: pl.DataFrame, config: ScoringConfig) -> pl.DataFrame:
    """prospect_id, owner_id, lead_rank for the recommended leads of every seller (prospects that are not clients)."""
    candidates = scored_prospects.filter(pl.col("owner_id").is_not_null() & pl.col("existing_account_id").is_null())
    ranked = candidates.sort(["lead_score", "prospect_id"], descending=[True, False], nulls_last=True)
    return (
        ranked.with_columns(pl.int_range(1, pl.len() + 1).over("owner_id").alias("lead_rank"))
        .filter(pl.col("lead_rank") <= config.leads.per_seller)
        .select("prospect_id", "owner_id", "lead_rank")
    )


def check_picks(
    picks: pl.DataFrame,
    sellers: pl.DataFrame,
    crosswalk: pl.DataFrame,
    accounts: pl.DataFrame,
    prospects: pl.DataFrame,
) -> pl.DataFrame:
    """The picks as owner_id, pick_type, account_id | prospect_id, note; or a PickError naming every bad row.

    `picks`: owner_id, pick_type, reference, note, source_file, source_row. `crosswalk`: source_system,
    source_client_id, account_id. `accounts`: account_id, owner_id, is_key_account. `prospects`: prospect_id, owner_id.
    """
    empty = pl.DataFrame(
        schema={
            "owner_id": pl.String,
            "pick_type": pl.String,
            "account_id": pl.String,
            "prospect_id": pl.String,
            "note": pl.String,
        }
    )
    if picks.height == 0:
        return empty
    # only the rows the picks name are turned into lookups (the picks are few; the accounts may be a million)
    references = picks["reference"].drop_nulls().str.strip_chars().unique().implode()
    record = pl.col("source_system") + ":" + pl.col("source_client_id")
    named = crosswalk.select(record.alias("reference"), "account_id").filter(pl.col("reference").is_in(references))
    record_account = dict(named.iter_rows())
    wanted = accounts.filter(pl.col("account_id").is_in(named["account_id"].implode()))
    account_owner = {a: (o, k) for a, o, k in wanted.select("account_id", "owner_id", "is_key_account").iter_rows()}
    prospect_owner = dict(
        prospects.filter(pl.col("prospect_id").is_in(references)).select("prospect_id", "owner_id").iter_rows()
    )
    known_sellers = set(sellers["owner_id"].to_list())
    problems, rows, seen = [], [], set()
    # The picks file is small reference data (a few rows per seller): checked row by row for exact messages.
    for row in picks.sort("source_file", "source_row").iter_rows(named=True):
        seller, kind = (row["owner_id"] or "").strip(), (row["pick_type"] or "").strip().lower()
        reference = (row["reference"] or "").strip()
        where = f"{_where(row)} (seller {seller or '?'})"
        if not seller or not reference:
            problems.append(f"{where}: owner_id and reference are required")
            continue
        if seller not in known_sellers:
            problems.append(f"{where}: unknown seller {seller!r} (not in sellers)")
            continue
        if kind == "target":
            account = record_account.get(reference)
            if account is None:
                problems.append(f"{where}: unknown client record {reference!r} (write source_system:source_client_id)")
                continue
            if account not in account_owner:
                problems.append(f"{where}: {reference!r} belongs to account {account}, which was not scored")
                continue
            owner, is_key = account_owner[account]
            if owner != seller:
                problems.append(
                    f"{where}: account {account} of {reference!r} belongs to {owner or 'nobody'}, not {seller}"
                )
                continue
            if is_key:
                problems.append(
                    f"{where}: account {account} is already a key account; targets are chosen among the others"
                )
                continue
            key = (seller, "target", account)
            rows.append(
                {
                    "owner_id": seller,
                    "pick_type": "target",
                    "account_id": account,
                    "prospect_id": None,
                    "note": row["note"],
                }
            )
        elif kind == "lead":
            if reference not in prospect_owner:
                problems.append(f"{where}: unknown prospect {reference!r}")
                continue
            if prospect_owner[reference] != seller:
                problems.append(
                    f"{where}: prospect {reference} belongs to {prospect_owner[reference] or 'nobody'}, not {seller}"
                )
                continue
            key = (seller, "lead", reference)
            rows.append(
                {
                    "owner_id": seller,
                    "pick_type": "lead",
                    "account_id": None,
                    "prospect_id": reference,
                    "note": row["note"],
                }
            )
        else:
            problems.append(f"{where}: pick_type {row['pick_type']!r} is not target or lead")
            continue
        if key in seen:
            problems.append(f"{where}: {key[1]} {key[2]} is picked twice")
            rows.pop()
        seen.add(key)
    checked = pl.DataFrame(rows, schema=empty.schema) if rows else empty
    counts = checked.group_by("owner_id", "pick_type").len()
    for seller, kind, count in counts.sort("owner_id", "pick_type").iter_rows():
        limit = MAX_TARGETS if kind == "target" else MAX_LEADS
        if count > limit:
            rows = picks.filter(
                (pl.col("owner_id").str.strip_chars() == seller)
                & (pl.col("pick_type").str.strip_chars().str.to_lowercase() == kind)
            )
            where = ", ".join(str(r) for r in rows["source_row"].to_list())
            problems.append(f"seller {seller}: {count} {kind}s picked (rows {where}); at most {limit} are allowed")
    if problems:
        _raise(PickError, f"{picks['source_file'][0]}: sellers' picks rejected", problems)
    return checked


def check_overrides(overrides: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The override rows with valid_until parsed and `is_active`; a malformed row is an OverrideFileError."""
    problems = []
    parsed = overrides.with_columns(
        pl.col("source_system", "source_client_id").str.strip_chars(),
        pl.col("field").str.strip_chars().str.to_lowercase(),
        pl.col("value").str.strip_chars().str.to_lowercase(),
        pl.col("valid_until").str.strip_chars().str.to_date("%Y-%m-%d", strict=False).alias("valid_until_date"),
    )
    for row in parsed.iter_rows(named=True):
        where = _where(row)
        for column in ("source_system", "source_client_id", "field", "value", "set_by", "reason", "valid_until"):
            if not (row[column] or "").strip():
                problems.append(f"{where}: {column} is empty (who set an override and why are required)")
        if row["field"] and row["field"] not in OVERRIDE_VALUES:
            problems.append(f"{where}: field {row['field']!r} is not tier or designation")
        elif row["field"] and row["value"] and row["value"] not in OVERRIDE_VALUES[row["field"]]:
            allowed = "/".join(OVERRIDE_VALUES[row["field"]])
            problems.append(f"{where}: {row['field']} value {row['value']!r} is not one of {allowed}")
        if row["valid_until"] and row["valid_until_date"] is None:
            problems.append(f"{where}: valid_until {row['valid_until']!r} is not a date (YYYY-MM-DD)")
    if problems:
        _raise(OverrideFileError, "overrides rejected", problems)
    return parsed.with_columns((pl.col("valid_until_date") >= pl.lit(as_of)).alias("is_active"))


def resolve_overrides(checked: pl.DataFrame, crosswalk: pl.DataFrame) -> pl.DataFrame:
    """Every override row with its account and status: applied, expired or unknown_record (or a conflict error)."""
    resolved = checked.join(
        crosswalk.select("source_system", "source_client_id", "account_id"),
        on=["source_system", "source_client_id"],
        how="left",
    )
    resolved = resolved.with_columns(
        pl.when(pl.col("account_id").is_null())
        .then(pl.lit("unknown_record"))
        .when(~pl.col("is_active"))
        .then(pl.lit("expired"))
        .otherwise(pl.lit("applied"))
        .alias("status")
    )
    applied = resolved.filter(pl.col("status") == "applied")
    clashes = (
        applied.group_by("account_id", "field")
        .agg(pl.struct("source_file", "source_row"), pl.len())
        .filter(pl.col("len") > 1)
    )
    if clashes.height:
        problems = [
            f"account {account}: {len(rows)} active {field} overrides ("
            + ", ".join(f"{r['source_file']} row {r['source_row']}" for r in rows)
            + "); keep one"
            for account, field, rows, _ in clashes.sort("account_id", "field").iter_rows()
        ]
        _raise(OverrideFileError, "overrides conflict", problems)
    return resolved


def apply_overrides(frame: pl.DataFrame, resolved: pl.DataFrame, field: str) -> pl.DataFrame:
    """`<field>` replaced where an active override applies; `<field>_computed` keeps the computed value, and
    `<field>_override_by`, `_reason`, `_until` say who, why and until when."""
    active = resolved.filter((pl.col("status") == "applied") & (pl.col("field") == field)).select(
        "account_id",
        pl.col("value").alias("_override"),
        pl.col("set_by").alias(f"{field}_override_by"),
        pl.col("reason").alias(f"{field}_override_reason"),
        pl.col("valid_until_date").alias(f"{field}_override_until_date"),
    )
    return (
        frame.rename({field: f"{field}_computed"})
        .join(active, on="account_id", how="left")
        .with_columns(pl.coalesce("_override", f"{field}_computed").alias(field))
        .drop("_override")
    )


def build_seller_lists(
    scores: pl.DataFrame,
    recommended_targets: pl.DataFrame,
    recommended_leads: pl.DataFrame,
    picks: pl.DataFrame,
    scored_prospects: pl.DataFrame,
    resolved_overrides: pl.DataFrame,
) -> pl.DataFrame:
    """One row per account of every seller (key / target / secondary) and per lead (lead, or recommended_lead when
    the seller picked other leads), in list order: accounts by 12-month billing, then leads by rank."""
    target_picks = picks.filter(pl.col("pick_type") == "target").select(
        "account_id", pl.lit(True).alias("is_seller_pick")
    )
    pickers = picks.filter(pl.col("pick_type") == "target")["owner_id"].unique()
    rec = recommended_targets.select("account_id", pl.col("target_rank").alias("recommendation_rank"))
    columns = [
        "account_id",
        "owner_id",
        "account_name",
        "billing_12m",
        "billing_rank",
        "is_key_account",
        "priority_score",
        "tier",
    ]
    accounts = (
        scores.select(columns)
        .join(rec, on="account_id", how="left")
        .join(target_picks, on="account_id", how="left")
        .with_columns(
            pl.col("recommendation_rank").is_not_null().alias("is_recommended"),
            pl.col("is_seller_pick").fill_null(False),
        )
        .with_columns(
            pl.when(pl.col("is_key_account"))
            .then(pl.lit("key"))
            .when(
                pl.when(pl.col("owner_id").is_in(pickers.implode())).then("is_seller_pick").otherwise("is_recommended")
            )
            .then(pl.lit("target"))
            .otherwise(pl.lit("secondary"))
            .alias("designation")
        )
    )
    accounts = apply_overrides(accounts, resolved_overrides, "designation").select(
        pl.lit("account").alias("row_type"),
        "owner_id",
        "account_id",
        pl.lit(None, pl.String).alias("prospect_id"),
        pl.col("account_name").alias("name"),
        "billing_12m",
        "billing_rank",
        "is_key_account",
        "priority_score",
        "tier",
        "designation_computed",
        "designation",
        "designation_override_by",
        "designation_override_reason",
        "designation_override_until_date",
        "is_recommended",
        "is_seller_pick",
        "recommendation_rank",
    )
    lead_picks = picks.filter(pl.col("pick_type") == "lead").select("prospect_id", pl.lit(True).alias("is_seller_pick"))
    lead_pickers = picks.filter(pl.col("pick_type") == "lead")["owner_id"].unique()
    leads = (
        scored_prospects.join(
            recommended_leads.select("prospect_id", pl.col("lead_rank").alias("recommendation_rank")),
            on="prospect_id",
            how="left",
        )
        .join(lead_picks, on="prospect_id", how="left")
        .with_columns(
            pl.col("recommendation_rank").is_not_null().alias("is_recommended"),
            pl.col("is_seller_pick").fill_null(False),
        )
        .filter(pl.col("is_recommended") | pl.col("is_seller_pick"))
        .with_columns(
            pl.when(
                pl.when(pl.col("owner_id").is_in(lead_pickers.implode()))
                .then("is_seller_pick")
                .otherwise("is_recommended")
            )
            .then(pl.lit("lead"))
            .otherwise(pl.lit("recommended_lead"))
            .alias("designation")
        )
        .select(
            pl.lit("lead").alias("row_type"),
            "owner_id",
            pl.lit(None, pl.String).alias("account_id"),
            "prospect_id",
            "name",
            pl.lit(None, accounts.schema["billing_12m"]).alias("billing_12m"),
            pl.lit(None, pl.Int64).alias("billing_rank"),
            pl.lit(False).alias("is_key_account"),
            pl.col("lead_score").alias("priority_score"),
            pl.lit(None, pl.String).alias("tier"),
            pl.col("designation").alias("designation_computed"),
            "designation",
            pl.lit(None, pl.String).alias("designation_override_by"),
            pl.lit(None, pl.String).alias("designation_override_reason"),
            pl.lit(None, pl.Date).alias("designation_override_until_date"),
            "is_recommended",
            "is_seller_pick",
            "recommendation_rank",
        )
    )
    both = pl.concat([accounts, leads.cast(accounts.schema)], how="vertical")
    order = [pl.col("row_type") == "lead", pl.col("billing_rank"), pl.col("recommendation_rank"), pl.col("prospect_id")]
    return both.sort(["owner_id", *order], nulls_last=True).with_columns(
        pl.int_range(1, pl.len() + 1).over("owner_id").alias("seller_rank")
    )
