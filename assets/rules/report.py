"""report.html: one static page in every publication folder (`publications/<name>/report.html`, through the current
publication `$ALMS_OUTPUT_DIR/current/report.html`), for people who read results rather than query them.

The page is a list of sections. A section is a function `(conn) -> str | None` that reads the warehouse through the
connection the publication is built from and returns an HTML fragment (None: nothing to say). Adding pictures to
the report is writing a section function (in a module of its own) and adding it to `SECTIONS`: nothing else here
changes. Charts are inline SVG (assets/rules/charts.py) or PNG as data URIs (assets/rules/pictures.py): the page
needs no network, no script and no other file.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path

import duckdb

from assets.rules.outcomes_report import backtest_section, feedback_section, outcomes_section
from assets.rules.pictures import pictures_section

REPORT_FILE = "report.html"
Section = Callable[[duckdb.DuckDBPyConnection], "str | None"]
SECTIONS: list[Section] = [pictures_section, outcomes_section, backtest_section, feedback_section]

STYLE = """
body { font-family: Helvetica, Arial, sans-serif; color: #111827; margin: 2rem auto; max-width: 64rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #e5e7eb; padding-bottom: .3rem; }
h3 { font-size: 1rem; margin-top: 1.5rem; } figure { margin: 1rem 0; }
table { border-collapse: collapse; font-size: .85rem; } th, td { border: 1px solid #e5e7eb; padding: .25rem .5rem; }
th { background: #f9fafb; text-align: left; } td { text-align: right; } td:first-child, td:nth-child(2) { text-align: left; }
.meta { color: #6b7280; font-size: .9rem; }
"""


def write_report(
    conn: duckdb.DuckDBPyConnection, folder: Path, as_of: str, run_id: str, sections: Sequence[Section] | None = None
) -> Path:
    """Write `folder/report.html` from the sections and return its path."""
    parts = []
    for section in SECTIONS if sections is None else sections:
        fragment = section(conn)
        if fragment:
            parts.append(f"<section>{fragment}</section>")
    written = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>alms report, as of {escape(as_of)}</title><style>{STYLE}</style></head><body>"
        f'<h1>alms: account prioritization report</h1><p class="meta">Data as of {escape(as_of)}; run '
        f"{escape(run_id[:8])}; written {escape(written)}. The tables behind every figure are in alms.duckdb "
        "(schema marts) and parquet/.</p>" + "\n".join(parts) + "</body></html>\n"
    )
    path = Path(folder) / REPORT_FILE
    temporary = path.with_suffix(".html.partial")
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, path)
    return path
