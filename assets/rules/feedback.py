"""Sellers' feedback on what alms put in front of them (`seller_feedback.csv`), joined to what alms said then.

A row: `owner_id` (the seller), `reference` (an account as one of its client records, `source_system:
source_client_id`, or a `prospect_id`: what seller picks use), `verdict` (agree, disagree, already_working,
not_reachable), `reason` (required with disagree: a disagreement without a why refines nothing), `date`.

Every problem stops the run with all offending rows listed, each with its file, row and seller (as for the picks):
a missing owner_id, reference, verdict or date; an unknown seller; an unknown verdict; a date that is not
YYYY-MM-DD; a disagree without a reason; a reference that is neither a client record nor a prospect; an account the
seller owned neither then (in the snapshot in force that day) nor now; someone else's prospect; the same seller,
reference and date twice. A control character in owner_id, reference, verdict or date stops the run too; in the
free-text reason it is replaced by a space.

Each row is joined to the snapshot in force on its date: the latest snapshot (recorded, else reconstructed) on or
before it, and in it the account holding the referenced record (or the prospect): its priority score, tier and
designation then, and `top_criterion`, the criterion that contributed most to its score (the reconstructed criteria
of that month end, weighed by the config in force now). A row dated before every snapshot keeps nulls there.

The summary counts verdicts per seller, per top criterion ("sellers disagree most where likelihood drove the
score"), per tier and overall, with each verdict's share of its group and the mean priority score.
"""

from __future__ import annotations

import bisect
import datetime as dt

import polars as pl

from assets.rules.designations import MAX_LISTED_PROBLEMS
from assets.rules.inputs import InputError
from assets.rules.parsing import _fail_on_control_characters, clean_text

VERDICTS = ("agree", "disagree", "already_working", "not_reachable")
CHECKED_SCHEMA = {
    "source_file": pl.String,
    "source_row": pl.Int64,
    "owner_id": pl.String,
    "reference": pl.String,
    "reference_type": pl.String,
    "account_id": pl.String,
    "prospect_id": pl.String,
    "verdict": pl.String,
    "reason": pl.String,
    "feedback_date": pl.Date,
}
FEEDBACK_SCHEMA = {
    "source_file": pl.String,
    "source_row": pl.Int64,
    "owner_id": pl.String,
    "seller_name": pl.String,
    "reference": pl.String,
    "reference_type": pl.String,
    "account_id": pl.String,
    "prospect_id": pl.String,
    "verdict": pl.String,
    "reason": pl.String,
    "feedback_date": pl.Date,
    "snapshot_as_of_date": pl.Date,
    "snapshot_source": pl.String,
    "priority_score": pl.Float64,
    "tier": pl.String,
    "designation": pl.String,
    "top_criterion": pl.String,
}
SUMMARY_SCHEMA = {
    "dimension": pl.String,
    "group_value": pl.String,
    "verdict": pl.String,
    "feedback_rows": pl.Int64,
    "share_of_group": pl.Float64,
    "mean_priority_score": pl.Float64,
}


class FeedbackError(InputError):
    """The sellers' feedback breaks a rule; the message lists every offending row."""


def parse_seller_feedback(text: pl.DataFrame) -> pl.DataFrame:
    """The feedback as text (the rules are checked against sellers, accounts and prospects by `check_feedback`)."""
    _fail_on_control_characters(text, "seller_feedback", ["owner_id", "reference", "verdict", "date"])
    return text.with_columns(clean_text(c) for c in ("owner_id", "reference", "verdict", "reason", "date")).select(
        "source_file", "source_row", "owner_id", "reference", pl.col("verdict").str.to_lowercase(), "reason", "date"
    )


def check_feedback(
    feedback: pl.DataFrame,
    sellers: pl.DataFrame,
    records: pl.DataFrame,
    prospects: pl.DataFrame,
    owners_then: pl.DataFrame,
    owners_now: pl.DataFrame,
) -> pl.DataFrame:
    """CHECKED_SCHEMA, or a FeedbackError naming every bad row.

    `records`: source_system, source_client_id, account_id (today); `prospects`: prospect_id, owner_id;
    `owners_then`: as_of_date, record ('system:id'), owner_id of the account holding the record in each snapshot;
    `owners_now`: account_id, owner_id."""
    if feedback.height == 0:
        return pl.DataFrame(schema=CHECKED_SCHEMA)
    references = feedback["reference"].drop_nulls().unique().implode()
    key = pl.col("source_system") + ":" + pl.col("source_client_id")
    record_account = dict(
        records.select(key.alias("reference"), "account_id").filter(pl.col("reference").is_in(references)).iter_rows()
    )
    prospect_owner = dict(
        prospects.filter(pl.col("prospect_id").is_in(references)).select("prospect_id", "owner_id").iter_rows()
    )
    now = dict(owners_now.filter(pl.col("account_id").is_in(list(set(record_account.values())))).iter_rows())
    then = owners_then.filter(pl.col("record").is_in(references)).sort("as_of_date")
    # each referenced record's owners by snapshot date, oldest first: a row finds the owner then by bisection (at 1M
    # client records with two years of history, 24,702 rows each filtering the frame took 59 s)
    by_record = then.group_by("record", maintain_order=True).agg("as_of_date", "owner_id")  # each in date order
    owners_by_date = {record: (days, owners) for record, days, owners in by_record.iter_rows()}
    sellers_known = set(sellers["owner_id"].to_list())
    problems, rows, seen = [], [], set()
    # The feedback file is small (a few rows per seller and month): checked row by row for exact messages.
    for row in feedback.sort("source_file", "source_row").iter_rows(named=True):
        seller, reference = row["owner_id"] or "", row["reference"] or ""
        where = f"{row['source_file']} row {row['source_row']} (seller {seller or '?'})"
        missing = [c for c in ("owner_id", "reference", "verdict", "date") if not row[c]]
        if missing:
            problems.append(f"{where}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")
            continue
        if seller not in sellers_known:
            problems.append(f"{where}: unknown seller {seller!r} (not in sellers)")
            continue
        if row["verdict"] not in VERDICTS:
            problems.append(f"{where}: verdict {row['verdict']!r} is not one of {', '.join(VERDICTS)}")
            continue
        try:
            day = dt.date.fromisoformat(row["date"][:10]) if len(row["date"]) >= 10 else None
        except ValueError:
            day = None
        if day is None:
            problems.append(f"{where}: date {row['date']!r} is not a date (YYYY-MM-DD)")
            continue
        if row["verdict"] == "disagree" and not row["reason"]:
            problems.append(f"{where}: a disagree needs a reason (what would the seller change?)")
            continue
        if reference in record_account:
            account = record_account[reference]
            days, owners = owners_by_date.get(reference, ([], []))
            index = bisect.bisect_right(days, day)  # the snapshots on or before the feedback's date
            owned_then = owners[index - 1] if index else None
            if seller not in (owned_then, now.get(account)):
                problems.append(
                    f"{where}: account {account} of {reference!r} belongs to {now.get(account) or 'nobody'}"
                    + (f" (then {owned_then})" if owned_then and owned_then != now.get(account) else "")
                    + f", not {seller}"
                )
                continue
            kind, account_id, prospect_id = "account", account, None
        elif reference in prospect_owner:
            if prospect_owner[reference] != seller:
                problems.append(
                    f"{where}: prospect {reference} belongs to {prospect_owner[reference] or 'nobody'}, not {seller}"
                )
                continue
            kind, account_id, prospect_id = "prospect", None, reference
        else:
            problems.append(
                f"{where}: {reference!r} is neither a client record (source_system:source_client_id) nor a prospect"
            )
            continue
        if (seller, reference, day) in seen:
            problems.append(f"{where}: feedback on {reference} of {day} is given twice")
            continue
        seen.add((seller, reference, day))
        rows.append(
            (
                row["source_file"],
                row["source_row"],
                seller,
                reference,
                kind,
                account_id,
                prospect_id,
                row["verdict"],
                row["reason"],
                day,
            )
        )
    if problems:
        shown = problems[:MAX_LISTED_PROBLEMS]
        more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        title = f"{feedback['source_file'][0]}: sellers' feedback rejected ({len(problems)} problem"
        raise FeedbackError(title + ("s" if len(problems) != 1 else "") + "):\n" + "\n".join(shown) + more)
    return pl.DataFrame(rows, schema=CHECKED_SCHEMA, orient="row")


def _in_force(frame: pl.DataFrame, dates: list[dt.date]) -> pl.DataFrame:
    """`snapshot_as_of_date`: the latest of `dates` on or before each row's feedback_date (null: none)."""
    if not dates:
        return frame.with_columns(pl.lit(None, pl.Date).alias("snapshot_as_of_date"))
    table = pl.DataFrame({"snapshot_as_of_date": sorted(set(dates))}, schema={"snapshot_as_of_date": pl.Date})
    ordered = frame.with_row_index("_order").sort("feedback_date")
    joined = ordered.join_asof(table, left_on="feedback_date", right_on="snapshot_as_of_date", strategy="backward")
    return joined.sort("_order").drop("_order")


def join_snapshots(
    checked: pl.DataFrame,
    snapshots: pl.DataFrame,
    members: pl.DataFrame,
    criteria: pl.DataFrame,
    leads: pl.DataFrame,
    sellers: pl.DataFrame,
    weights: dict[str, float],
    keys: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """FEEDBACK_SCHEMA: `checked` with the snapshot in force on each date.

    `snapshots`: one per as-of date (as_of_date, snapshot_source, account_id, priority_score, tier, designation);
    `members`: as_of_date, record, account_id of the snapshots (the account holding each referenced record then);
    `criteria`: as_of_date, account_id (today's), `<criterion>_score` of the reconstructed month ends; `leads`:
    as_of_date, prospect_id, lead_score, is_recommended; `keys`: as_of_date, snapshot_source of every snapshot, when
    `snapshots` holds only the rows of some accounts (by default, those of `snapshots`)."""
    keys = snapshots.select("as_of_date", "snapshot_source") if keys is None else keys
    dates = keys["as_of_date"].unique().to_list()
    frame = _in_force(checked, dates)
    sources = keys.select("as_of_date", "snapshot_source").unique("as_of_date")
    frame = frame.join(sources, left_on="snapshot_as_of_date", right_on="as_of_date", how="left")
    holding = members.rename({"as_of_date": "snapshot_as_of_date", "account_id": "_account_then"})
    frame = frame.join(
        holding, left_on=["snapshot_as_of_date", "reference"], right_on=["snapshot_as_of_date", "record"], how="left"
    )
    groups = snapshots.select(
        pl.col("as_of_date").alias("snapshot_as_of_date"),
        pl.col("account_id").alias("_account_then"),
        "priority_score",
        "tier",
        "designation",
    )
    frame = frame.join(groups, on=["snapshot_as_of_date", "_account_then"], how="left")
    lead_rows = leads.select(
        pl.col("as_of_date").alias("snapshot_as_of_date"),
        "prospect_id",
        pl.col("lead_score").alias("_lead_score"),
        pl.when(pl.col("is_recommended")).then(pl.lit("lead")).otherwise(pl.lit("prospect")).alias("_lead_designation"),
    )
    frame = frame.join(lead_rows, on=["snapshot_as_of_date", "prospect_id"], how="left").with_columns(
        pl.coalesce("priority_score", "_lead_score").alias("priority_score"),
        pl.coalesce("designation", "_lead_designation").alias("designation"),
    )
    used = {c: w for c, w in weights.items() if w > 0}
    referenced = criteria.filter(pl.col("account_id").is_in(frame["account_id"].drop_nulls().unique().implode()))
    if used and referenced.height:
        names = dict(enumerate(used))
        top = referenced.select(
            pl.col("as_of_date").dt.month_end().alias("_month"),
            "account_id",
            pl.concat_list([pl.col(f"{c}_score").fill_null(-1.0) * w for c, w in used.items()])
            .list.arg_max()
            .replace_strict(names, return_dtype=pl.String)
            .alias("top_criterion"),
            pl.any_horizontal(pl.col(f"{c}_score").is_not_null() for c in used).alias("_any"),
        ).filter(pl.col("_any"))
        frame = frame.with_columns(pl.col("snapshot_as_of_date").dt.month_end().alias("_month")).join(
            top.drop("_any"), on=["_month", "account_id"], how="left"
        )
    else:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("top_criterion"))
    frame = frame.join(sellers.select("owner_id", "seller_name"), on="owner_id", how="left")
    return frame.select(list(FEEDBACK_SCHEMA)).cast(FEEDBACK_SCHEMA).sort("source_file", "source_row")


def summarise(feedback: pl.DataFrame) -> pl.DataFrame:
    """SUMMARY_SCHEMA: verdict counts per seller, top criterion, tier and overall (each with an `all` verdict row)."""
    if feedback.height == 0:
        return pl.DataFrame(schema=SUMMARY_SCHEMA)
    dimensions = {
        "all": pl.lit("all"),
        "seller": pl.col("owner_id"),
        "criterion": pl.col("top_criterion"),
        "tier": pl.col("tier"),
    }
    parts = []
    for dimension, value in dimensions.items():
        frame = feedback.select(value.alias("group_value"), "verdict", "priority_score").drop_nulls("group_value")
        if frame.height == 0:
            continue
        both = pl.concat([frame, frame.with_columns(pl.lit("all").alias("verdict"))])
        counted = both.group_by("group_value", "verdict").agg(
            pl.len().cast(pl.Int64).alias("feedback_rows"), pl.col("priority_score").mean().alias("mean_priority_score")
        )
        totals = frame.group_by("group_value").agg(pl.len().alias("_total"))
        parts.append(
            counted.join(totals, on="group_value").with_columns(
                pl.lit(dimension).alias("dimension"),
                (pl.col("feedback_rows") / pl.col("_total")).alias("share_of_group"),
            )
        )
    order = {d: i for i, d in enumerate(dimensions)}
    verdicts = {v: i for i, v in enumerate([*VERDICTS, "all"])}
    return (
        pl.concat(parts)
        .select(list(SUMMARY_SCHEMA))
        .cast(SUMMARY_SCHEMA)
        .sort(
            pl.col("dimension").replace_strict(order, return_dtype=pl.Int32),
            "group_value",
            pl.col("verdict").replace_strict(verdicts, return_dtype=pl.Int32),
        )
    )
