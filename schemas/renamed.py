"""Published names that changed, and their old names: BI readers get one release to move to the new ones.

alms 0.2.0 renamed published tables and columns to the house style (STYLE.md: marts are plural business nouns,
booleans `is_`/`has_`, dates `<event>_date`). For one release the published DuckDB file and the PostgreSQL schema
still answer to the old names (assets/rules/old_names.py): a view under each old table name that selects the new table
with the old column names, and, in a table that kept its name, each renamed column once more under its old name, last.
Both carry a comment saying they are deprecated and what replaces them. Parquet has only the new names. The old names
are removed in OLD_NAMES_REMOVED_IN. docs/bi.md ("Renamed in 0.2.0") lists them for analysts.
"""

from dataclasses import dataclass, field

RENAMED_IN = "0.2.0"
OLD_NAMES_REMOVED_IN = "0.3.0"


@dataclass(frozen=True)
class OldNames:
    """What a published table (in schema marts) was called before RENAMED_IN: its old table name (the same when only
    columns were renamed) and its renamed columns, new name -> old name."""

    table: str
    columns: dict[str, str] = field(default_factory=dict)


# renames.sed: keep old names (the integrator's sed script leaves the lines up to its end marker alone)
# new table -> its old names
OLD_NAMES: dict[str, OldNames] = {
    "accounts": OldNames(
        "accounts",
        {"is_key_at_next_review": "would_be_key_at_next_review", "review_period_start_date": "review_period_start"},
    ),
    "key_levels": OldNames(
        "key_levels", {"review_period_start_date": "review_period_start", "review_period_end_date": "review_period_end"}
    ),
    "key_level_reruns": OldNames(
        "key_level_audit", {"review_period_start_date": "review_period_start", "has_changed": "changed"}
    ),
    "seller_account_lists": OldNames(
        "seller_account_lists", {"designation_override_until_date": "designation_override_until"}
    ),
    "quarantined_rows": OldNames("quarantine"),
    "match_review_pairs": OldNames("match_review"),
    "account_scores": OldNames("account_scores", {"tier_override_until_date": "tier_override_until"}),
    "account_overrides": OldNames("override_status", {"valid_until_date": "valid_until"}),
    "account_snapshots": OldNames("account_history", {"review_period_start_date": "review_period_start"}),
    "billing_completeness": OldNames("billing_completeness", {"month_start_date": "month"}),
    "engagement_completeness": OldNames("engagement_completeness", {"month_start_date": "month"}),
    "seller_feedback_counts": OldNames("seller_feedback_summary"),
}
# renames.sed: end
