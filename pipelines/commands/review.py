"""`alms review`: decide pairs of client records in the terminal (or by a CSV round trip), teaching the matcher.

    python -m pipelines.commands review                  # pair by pair: [s]ame / [d]ifferent / s[k]ip / [q]uit
    python -m pipelines.commands review --export pairs.csv --limit 50   # a CSV with an empty `decision` column
    python -m pipelines.commands review --import pairs.csv               # its filled rows (same / different)

The pairs come from the last publication's `marts.match_review_pairs`, most instructive first; pairs already decided in
`$ALMS_DATA_DIR/match_overrides.csv` are skipped. Each decision is appended there as a must_link / cannot_link row
with who and why. The next run (the same as-of date is fine) applies the decisions and learns from them: every pair
with the same comparison pattern moves towards what the labels say, so decisions settle similar pairs elsewhere (a
name rule, such as "branches stay apart", is lifted for a pattern by two "same" decisions of it, not one).
"""

from __future__ import annotations

import csv
import getpass
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import polars as pl

from assets.rules.inputs import MATCH_OVERRIDES
from assets.rules.publish import PUBLISHED_FILE

OVERRIDE_COLUMNS = list(MATCH_OVERRIDES.required)  # the columns of match_overrides.csv, as ingest reads them
ANSWERS = {
    "s": "must_link",
    "same": "must_link",
    "d": "cannot_link",
    "different": "cannot_link",
    "must_link": "must_link",
    "cannot_link": "cannot_link",
}
SHOWN = ["name", "address", "city", "postal_code", "phone", "domain", "account_id"]


class ReviewError(RuntimeError):
    """The review cannot start or a decision file is unusable; the message says why in one line."""


def pending_pairs(output_dir: Path, data_dir: Path, limit: int | None = None) -> pl.DataFrame:
    """The published review queue without the pairs match_overrides.csv already decides, in review order."""
    published = output_dir / PUBLISHED_FILE
    if not published.exists():
        raise ReviewError(f"{published} does not exist: run the pipeline first (make run)")
    with duckdb.connect(str(published), read_only=True) as conn:
        queue = conn.sql("select * from marts.match_review_pairs order by review_rank").pl()
    decided = decided_pairs(data_dir / "match_overrides.csv")
    swapped = decided.select(
        pl.col("source_system_2").alias("source_system_1"),
        pl.col("source_client_id_2").alias("source_client_id_1"),
        pl.col("source_system_1").alias("source_system_2"),
        pl.col("source_client_id_1").alias("source_client_id_2"),
    )
    queue = queue.join(pl.concat([decided, swapped]), on=OVERRIDE_COLUMNS[:4], how="anti", maintain_order="left")
    return queue.head(limit) if limit else queue


def decided_pairs(path: Path) -> pl.DataFrame:
    keys = OVERRIDE_COLUMNS[:4]
    if not path.exists():
        return pl.DataFrame(schema={key: pl.String for key in keys})
    return pl.read_csv(path, infer_schema=False).select(keys)


def append_decisions(path: Path, rows: list[dict]) -> int:
    """Append decisions to match_overrides.csv (with its header when the file is new); returns how many."""
    if not rows:
        return 0
    new = not path.exists() or path.stat().st_size == 0
    if not new:
        header = path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
        if [h.strip().lower() for h in header] != OVERRIDE_COLUMNS:
            raise ReviewError(f"{path}: its header is {header}, expected {OVERRIDE_COLUMNS}")
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=OVERRIDE_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows({column: row.get(column, "") for column in OVERRIDE_COLUMNS} for row in rows)
    return len(rows)


def describe(pair: dict) -> str:
    width = max(len(str(pair.get(f"{field}_1") or "")) for field in SHOWN) + 2
    lines = [
        f"pair {pair['review_rank']}: probability {pair['match_probability']:.3f} "
        f"({pair['review_reason']}; names {pair['name_level']})",
        f"  {'':12}{pair['source_system_1'] + ':' + pair['source_client_id_1']:{width}}"
        f"{pair['source_system_2']}:{pair['source_client_id_2']}",
    ]
    for field in SHOWN:
        left, right = pair.get(f"{field}_1") or "", pair.get(f"{field}_2") or ""
        mark = " " if left == right or not left or not right else "*"
        lines.append(f"{mark} {field:12}{left:{width}}{right}")
    return "\n".join(lines)


def interactive(
    pairs: pl.DataFrame, ask: Callable[[str], str], say: Callable[[str], None], by: str, reason: str
) -> Iterator[dict]:
    """Ask about each pair; yield a decision row for each answered one."""
    for pair in pairs.iter_rows(named=True):
        say(describe(pair))
        while True:
            answer = ask("same organisation? [s]ame / [d]ifferent / s[k]ip / [q]uit: ").strip().lower()
            if answer in ("q", "quit"):
                return
            if answer in ("k", "skip", ""):
                break
            if answer in ANSWERS:
                yield decision_row(pair, ANSWERS[answer], by, reason)
                break
            say(f"  '{answer}' is not an answer")


def decision_row(pair: dict, decision: str, by: str, reason: str) -> dict:
    return {**{key: pair[key] for key in OVERRIDE_COLUMNS[:4]}, "decision": decision, "set_by": by, "reason": reason}


def export_pairs(pairs: pl.DataFrame, path: Path) -> int:
    columns = [
        "review_rank",
        *OVERRIDE_COLUMNS[:4],
        "match_probability",
        "review_reason",
        *[f"{field}_{side}" for field in SHOWN for side in ("1", "2")],
    ]
    pairs.select(columns).with_columns(pl.lit("").alias("decision"), pl.lit("").alias("reason")).write_csv(path)
    return pairs.height


def import_decisions(path: Path, by: str, reason: str) -> list[dict]:
    """The filled rows of an exported file: `decision` same / different (or must_link / cannot_link)."""
    if not path.exists():
        raise ReviewError(f"{path} does not exist")
    frame = pl.read_csv(path, infer_schema=False)
    missing = [c for c in [*OVERRIDE_COLUMNS[:4], "decision"] if c not in frame.columns]
    if missing:
        raise ReviewError(f"{path}: column(s) {', '.join(missing)} missing (export it with --export)")
    rows = []
    for number, row in enumerate(frame.iter_rows(named=True), start=2):
        answer = (row["decision"] or "").strip().lower()
        if not answer:
            continue
        if answer not in ANSWERS:
            raise ReviewError(f"{path}: row {number}, column decision: '{row['decision']}' is not same / different")
        rows.append(decision_row(row, ANSWERS[answer], by, (row.get("reason") or "").strip() or reason))
    return rows


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"
