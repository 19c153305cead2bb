"""The CRM import file: one row per account (key / target / secondary) and per chosen lead, safe to open in a
spreadsheet.

Text comes from the source systems as people typed it, and a CRM import file is opened in Excel, LibreOffice or
Google Sheets before it is imported. So every text value is made inert, as OWASP advises for CSV exports (CSV
injection, CWE-1236), whatever the input layer already did:

- control characters (C0 and C1 controls, DEL, and the Unicode line and paragraph separators) are replaced by a
  space, then leading and trailing spaces are trimmed: a value never spans lines and never hides a tab or a CR;
- a value that then starts with `=`, `+`, `-` or `@` (a spreadsheet would run it as a formula) gets a leading
  single quote: `=HYPERLINK(...)` is written `'=HYPERLINK(...)`, which a spreadsheet shows as text.

Only text columns are touched: numbers (a negative billing of a credit-note account, `-50.00`) and dates stay
numbers and dates. The file is RFC 4180 CSV (fields with a comma or a quote are quoted, quotes doubled).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")  # OWASP's list; tab and CR are removed before this check
_CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+"

CRM_QUERY = """
with crosswalk as (
    select
        account_id,
        string_agg(source_system || ':' || source_client_id, ';' order by source_system, source_client_id)
            as source_ids
    from marts.client_crosswalk
    group by account_id
)
select
    lists.row_type as record_type,
    coalesce(lists.account_id, lists.prospect_id) as alms_id,
    coalesce(crosswalk.source_ids, lists.prospect_id) as source_ids,
    lists.name,
    lists.owner_id,
    lists.seller_name as owner_name,
    lists.designation,
    lists.tier,
    round(lists.priority_score, 1) as score,
    lists.is_key_account as key_account,
    lists.billing_12m,
    cast(? as date) as as_of_date
from marts.seller_account_lists as lists
left join crosswalk
    on crosswalk.account_id = lists.account_id
where lists.designation <> 'recommended_lead'
order by lists.owner_id nulls last, lists.seller_rank
"""


def crm_file_name(as_of: str) -> str:
    return f"alms_crm_import_{as_of}.csv"


LATEST_CRM_FILE = "alms_crm_import_latest.csv"


def make_spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column with control characters replaced by a space, trimmed, and formula triggers neutralised by a
    leading single quote; other columns unchanged."""
    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    cleaned = [pl.col(name).str.replace_all(_CONTROL_CHARACTERS, " ").str.strip_chars(" ") for name in text_columns]
    frame = frame.with_columns(cleaned)
    triggers = "".join("\\" + c for c in FORMULA_TRIGGERS if c.isprintable())
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(f"^[{triggers}]"))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text_columns
    )


def write_crm_import(conn: duckdb.DuckDBPyConnection, folder: Path, as_of: str) -> tuple[Path, int]:
    """`<folder>/alms_crm_import_<as-of>.csv` and `alms_crm_import_latest.csv` (a second name of the same file) from
    the marts behind `conn`. The folder is a publication being built, so nobody reads it before it is complete."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = make_spreadsheet_safe(conn.sql(CRM_QUERY, params=[as_of]).pl())
    target = folder / crm_file_name(as_of)
    frame.write_csv(target)
    latest = folder / LATEST_CRM_FILE
    latest.unlink(missing_ok=True)
    try:
        latest.hardlink_to(target)
    except OSError:  # a file system without hard links: a copy
        latest.write_bytes(target.read_bytes())
    return target, frame.height
