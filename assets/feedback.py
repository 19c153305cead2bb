"""raw and marts: sellers' feedback (`seller_feedback.csv`), checked like the picks and joined to the score and tier
each account had in the snapshot in force when the seller gave it (`assets/rules/feedback.py`, docs/outcomes.md)."""

import dagster as dg
import polars as pl

from assets.common import errors_as_dagster_failures, table_out, validate
from assets.raw import _raw_asset
from assets.resources import AlmsSettings, Warehouse
from assets.rules import feedback, outcomes
from assets.rules.inputs import SELLER_FEEDBACK
from assets.rules.outcomes_report import feedback_presentation
from assets.rules.scoring_config import CRITERIA, load_scoring_config
from schemas.outcomes import RawSellerFeedback, SellerFeedback, SellerFeedbackCounts

seller_feedback_raw = _raw_asset(
    "seller_feedback",
    SELLER_FEEDBACK,
    feedback.parse_seller_feedback,
    RawSellerFeedback,
    False,
    "Sellers' verdicts on the accounts and prospects alms put in front of them (seller_feedback.csv): agree, "
    "disagree, already_working or not_reachable, with why and when. Optional; checked when it is joined.",
)

SNAPSHOT_COLUMNS = ["as_of_date", "snapshot_source", "account_id", "owner_id", "priority_score", "tier", "designation"]


@dg.multi_asset(
    outs={
        "rows": table_out(
            "marts",
            "seller_feedback",
            "Every feedback row with the snapshot in force that day: the account's (or prospect's) "
            "score, tier and designation then and the criterion that drove its score.",
        ),
        "summary": table_out(
            "marts",
            "seller_feedback_counts",
            "Sellers' verdicts counted per seller, per criterion that drove the score, per tier and overall.",
        ),
    },
    ins={
        "given": dg.AssetIn(key=["raw", "seller_feedback"]),
        "sellers": dg.AssetIn(key=["raw", "sellers"], metadata={"columns": ["owner_id", "seller_name"]}),
        "records": dg.AssetIn(
            key=["intermediate", "int_clients_matched"],
            metadata={"columns": ["source_system", "source_client_id", "account_id"]},
        ),
        "prospects": dg.AssetIn(key=["raw", "prospects"], metadata={"columns": ["prospect_id", "owner_id"]}),
        "accounts": dg.AssetIn(key=["marts", "accounts"], metadata={"columns": ["account_id", "owner_id"]}),
    },
    # read in DuckDB for the referenced records and prospects only: every snapshot ever recorded is in these tables
    deps=[dg.AssetKey(["marts", name]) for name in ("account_snapshots", "account_outcomes", "lead_outcomes")],
)
def seller_feedback(
    context: dg.AssetExecutionContext,
    settings: AlmsSettings,
    warehouse: Warehouse,
    given: pl.DataFrame,
    sellers: pl.DataFrame,
    records: pl.DataFrame,
    prospects: pl.DataFrame,
    accounts: pl.DataFrame,
):
    references = given["reference"].drop_nulls().unique()
    today = records.select((pl.col("source_system") + ":" + pl.col("source_client_id")).alias("record"), "account_id")
    today = today.filter(pl.col("record").is_in(references.implode()))
    with warehouse.connect() as conn:
        history, snapshots, leads, keys = _referenced(conn, references, today)
    used_keys = outcomes.chosen(keys)  # one snapshot per month, of all of them
    used = snapshots.join(used_keys, on=outcomes.KEYS, how="semi")
    reconstructed = used_keys.filter(pl.col("snapshot_source") == "reconstructed").select("as_of_date").unique()
    members = pl.concat(
        [
            history.select("as_of_date", "record", "account_id"),
            reconstructed.join(today, how="cross").select("as_of_date", "record", "account_id"),
        ]
    )
    owners_then = members.join(used.select("as_of_date", "account_id", "owner_id"), on=["as_of_date", "account_id"])
    with errors_as_dagster_failures():
        config = load_scoring_config(settings.data_dir)
        checked = feedback.check_feedback(given, sellers, records, prospects, owners_then.drop("account_id"), accounts)
    criteria = snapshots.filter(pl.col("snapshot_source") == "reconstructed").select(
        "as_of_date", "account_id", *(f"{c}_score" for c in CRITERIA)
    )
    joined = feedback.join_snapshots(
        checked, used.select(SNAPSHOT_COLUMNS), members, criteria, leads, sellers, config.weights, keys=used_keys
    )
    rows = validate(SellerFeedback, joined)
    summary = validate(SellerFeedbackCounts, feedback.summarise(rows))
    verdicts = dict(rows.group_by("verdict").len().sort("verdict").iter_rows())
    no_snapshot = rows.filter(pl.col("snapshot_as_of_date").is_null()).height
    if no_snapshot:
        context.log.warning(f"{no_snapshot} feedback rows are dated before every snapshot: no score or tier to join")
    context.log.info(f"seller feedback: {rows.height} rows ({verdicts or 'no file'})")
    presentation = feedback_presentation(summary)
    yield dg.Output(
        rows,
        output_name="rows",
        metadata={
            "rows": rows.height,
            "verdicts": dg.MetadataValue.json(verdicts),
            "before_every_snapshot": no_snapshot,
        },
    )
    yield dg.Output(summary, output_name="summary", metadata={"feedback": dg.MetadataValue.md(presentation.markdown())})


def _referenced(conn, references: pl.Series, today: pl.DataFrame):
    """What the feedback joins, read for the referenced records and prospects only: the recorded snapshots' accounts
    that held a referenced record (as_of_date, account_id, record), the outcome rows of those accounts and of the
    referenced records' accounts today, the referenced prospects' lead rows, and every snapshot's key."""
    conn.register("feedback_references", references.to_frame("record"))
    try:
        history = conn.sql(
            "select as_of_date, account_id, record from (select as_of_date, account_id, "
            "unnest(string_split(coalesce(member_records, ''), ';')) as record from marts.account_snapshots) "
            "where record in (select record from feedback_references)"
        ).pl()
        needed = pl.concat([history.select("account_id"), today.select("account_id")]).unique()
        conn.register("feedback_accounts", needed)
        columns = ", ".join([*SNAPSHOT_COLUMNS, *(f"{c}_score" for c in CRITERIA)])
        snapshots = conn.sql(
            f"select {columns} from marts.account_outcomes "
            "where account_id in (select account_id from feedback_accounts)"
        ).pl()
        leads = conn.sql(
            "select as_of_date, prospect_id, lead_score, is_recommended from marts.lead_outcomes "
            "where prospect_id in (select record from feedback_references)"
        ).pl()
        keys = conn.sql("select distinct as_of_date, snapshot_source from marts.account_outcomes").pl()
    finally:
        conn.unregister("feedback_references")
        conn.unregister("feedback_accounts")
    return history, snapshots, leads, keys
