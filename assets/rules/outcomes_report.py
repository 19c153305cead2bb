"""What the outcomes and the backtest look like to a person: a few tables and charts, the same ones on the asset pages
of the Dagster UI (Markdown with SVG images) and in the publication's report.html (assets/rules/report.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import polars as pl

from assets.rules.charts import bar_chart, html_table, line_chart, markdown_image, markdown_table
from assets.rules.scoring_config import CRITERIA

PREFERRED_HORIZONS = (6, 3, 12)  # the window shown first: half a year, else what is complete
GROUP_ORDER = {
    ("accounts", "all"): ["all"],
    ("accounts", "tier"): ["high", "medium", "low", "none"],
    ("accounts", "designation"): ["key", "target", "secondary", "none"],
    ("accounts", "target"): ["target", "not_target"],
    ("accounts", "target_source"): ["recommended", "seller_pick", "override"],
    ("prospects", "lead"): ["recommended", "not_recommended"],
}


@dataclass
class Presentation:
    title: str
    intro: str
    tables: list[tuple[str, list[str], list[list[object]]]] = field(default_factory=list)  # caption, header, rows
    charts: list[tuple[str, str]] = field(default_factory=list)  # alt text, svg
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        parts = [f"**{self.title}**", self.intro]
        for alt, svg in self.charts:
            parts.append(markdown_image(svg, alt))
        for caption, header, rows in self.tables:
            parts += [f"*{caption}*", markdown_table(header, rows)]
        parts += [f"- {note}" for note in self.notes]
        return "\n\n".join(p for p in parts if p)

    def html(self) -> str:
        from html import escape

        parts = [f"<h2>{escape(self.title)}</h2>", f"<p>{escape(self.intro)}</p>"]
        parts += [f'<figure aria-label="{escape(alt)}">{svg}</figure>' for alt, svg in self.charts]
        for caption, header, rows in self.tables:
            parts += [f"<h3>{escape(caption)}</h3>", html_table(header, rows)]
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in self.notes) + "</ul>")
        return "\n".join(parts)


def _pct(value: float | None) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value * 100:.1f}%"


def preferred_horizon(groups: pl.DataFrame) -> int:
    complete = set(groups.filter(pl.col("is_complete"))["horizon_months"].unique().to_list())
    return next((h for h in PREFERRED_HORIZONS if h in complete), PREFERRED_HORIZONS[0])


def outcomes_presentation(groups: pl.DataFrame, min_group_size: int) -> Presentation:
    """`groups`: marts.prioritization_outcomes."""
    horizon = preferred_horizon(groups)
    complete = groups.filter(pl.col("is_complete") & (pl.col("horizon_months") == horizon))
    snapshots = complete["as_of_date"].n_unique()
    all_dates = groups["as_of_date"].n_unique()
    intro = (
        f"Billing in the {horizon} months after each snapshot against the same length of the 12 months before, per "
        f"group the snapshot put the account in: {snapshots} of {all_dates} snapshots have {horizon} complete months "
        "after them (the others are incomplete, not zero). Means over snapshots; their windows overlap, so they are "
        "not independent samples. Correlation, not causation: see docs/outcomes.md."
    )
    presentation = Presentation(title=f"Did the prioritization work? ({horizon}-month outcomes)", intro=intro)
    if complete.height == 0:
        presentation.notes.append(
            f"No snapshot has {horizon} complete months after it yet: outcomes appear as the months pass (or with "
            "billing history older than 12 months, from which past snapshots are reconstructed)."
        )
        return presentation
    summary = complete.group_by("population", "group_kind", "group_value").agg(
        pl.len().alias("snapshots"),
        pl.col("members").mean().alias("members"),
        pl.col("is_small_group").any().alias("small"),
        pl.col("billing_change_share").mean(),
        pl.col("median_account_change_share").mean(),
        pl.col("churn_share").mean(),
        pl.col("conversion_share").mean(),
    )
    rows, order = [], []
    for (population, kind), values in GROUP_ORDER.items():
        for value in values:
            found = summary.filter(
                (pl.col("population") == population) & (pl.col("group_kind") == kind) & (pl.col("group_value") == value)
            )
            if found.height:
                r = found.row(0, named=True)
                order.append((kind, value, r))
                rows.append(
                    [
                        kind,
                        value,
                        r["snapshots"],
                        f"{r['members']:,.0f}" + (" (small)" if r["small"] else ""),
                        _pct(r["billing_change_share"]),
                        _pct(r["median_account_change_share"]),
                        _pct(r["churn_share"]),
                        _pct(r["conversion_share"]),
                    ]
                )
    presentation.tables.append(
        (
            f"Mean over the snapshots with {horizon} complete months after them",
            [
                "group",
                "value",
                "snapshots",
                "members",
                "billing change",
                "median account change",
                "churn",
                "lead conversion",
            ],
            rows,
        )
    )
    tiers = complete.filter((pl.col("population") == "accounts") & pl.col("group_kind").is_in(["tier", "all"])).sort(
        "as_of_date"
    )
    dates = sorted({str(d) for d in tiers["as_of_date"].to_list()})
    series = {}
    for value in ("high", "medium", "low", "all"):
        by_date = dict(
            tiers.filter(pl.col("group_value") == value)
            .select(pl.col("as_of_date").cast(pl.String), "billing_change_share")
            .iter_rows()
        )
        if by_date:
            series[value] = [by_date.get(d) for d in dates]
    if series:
        presentation.charts.append(
            (
                "billing change by tier",
                line_chart(
                    f"Billing change in the {horizon} months after each snapshot, by tier",
                    dates,
                    series,
                    y_label="billing change",
                ),
            )
        )
    bars = [(kind, value, r) for kind, value, r in order if kind in ("tier", "target", "target_source")]
    labels = {("tier", v): f"{v} tier" for v in ("high", "medium", "low", "none")} | {
        ("target", "target"): "targets",
        ("target", "not_target"): "not targets",
        ("target_source", "recommended"): "recommended",
        ("target_source", "seller_pick"): "seller-picked",
        ("target_source", "override"): "override",
    }
    if bars:
        presentation.charts.append(
            (
                "billing change and churn by group",
                bar_chart(
                    f"Accounts: mean {horizon}-month billing change and churn, by group",
                    [labels.get((kind, value), value) for kind, value, _ in bars],
                    {
                        "billing change": [r["billing_change_share"] for *_, r in bars],
                        "median account": [r["median_account_change_share"] for *_, r in bars],
                        "churn": [r["churn_share"] for *_, r in bars],
                    },
                ),
            )
        )
    leads = [(value, r) for kind, value, r in order if kind == "lead"]
    if leads:
        presentation.charts.append(
            (
                "lead conversion",
                bar_chart(
                    f"Prospects: became billing clients within {horizon} months",
                    [value for value, _ in leads],
                    {"converted": [r["conversion_share"] for _, r in leads]},
                ),
            )
        )
    small = complete.filter(pl.col("is_small_group"))
    if small.height:
        presentation.notes.append(
            f"{small.height} group-snapshots have fewer than {min_group_size} members (marked small): their shares "
            "move a lot with one account."
        )
    return presentation


def backtest_presentation(
    summary: pl.DataFrame, weights: list[list[object]], notes: list[str], horizon: int, config_label: str
) -> Presentation:
    """`summary`: the mean rows of marts.scoring_backtest; `weights`: rows criterion, current, suggested."""
    presentation = Presentation(
        title=f"Backtest of the decision matrix ({config_label}, {horizon}-month growth)",
        intro=(
            "How well each ranking of past snapshots ordered accounts by the billing growth that followed (Spearman: "
            "1 = exactly, 0 = not at all), and what its top group (the high tier; for a criterion, as many accounts) "
            "earned: its share of all gains, the share of it that grew (precision) against the share of all accounts "
            "that grew (base rate)."
        ),
        notes=list(notes),
    )
    if summary.height == 0:
        return presentation
    rows = []
    for r in summary.iter_rows(named=True):
        rows.append(
            [
                r["ranking"],
                r["snapshots"],
                None if r["spearman"] is None else f"{r['spearman']:.3f}",
                None if r["top_accounts"] is None else f"{r['top_accounts']:,.0f}",
                _pct(r["gain_share"]),
                _pct(r["precision"]),
                _pct(r["base_rate"]),
                None if r["lift"] is None else f"{r['lift']:.2f}",
            ]
        )
    presentation.tables.append(
        (
            "Mean over the snapshots",
            ["ranking", "snapshots", "Spearman", "top group", "gain share", "precision", "base rate", "lift"],
            rows,
        )
    )
    ranked = [r for r in summary.iter_rows(named=True) if r["spearman"] is not None]
    if ranked:
        presentation.charts.append(
            (
                "Spearman by ranking",
                bar_chart(
                    "Spearman rank correlation with the growth that followed",
                    [r["ranking"].replace("_", " ") for r in ranked],
                    {"Spearman": [r["spearman"] for r in ranked]},
                    percent=False,
                ),
            )
        )
    if weights:
        presentation.tables.append(
            (
                "Weights: current, and the suggestions (never applied; `alms backtest` writes them to files): the best on "
                "the past, and the best within 0.10 of each current weight",
                ["criterion", "current", "suggested", "nearby"],
                weights,
            )
        )
    return presentation


def weight_rows(
    current: dict[str, float], suggested: dict[str, float] | None, nearby: dict[str, float] | None = None
) -> list[list[object]]:
    if not suggested:
        return []
    return [
        [c, f"{current.get(c, 0.0):.2f}", f"{suggested.get(c, 0.0):.2f}", f"{(nearby or {}).get(c, 0.0):.2f}"]
        for c in CRITERIA
    ]


def feedback_presentation(summary: pl.DataFrame) -> Presentation:
    """`summary`: marts.seller_feedback_counts."""
    presentation = Presentation(
        title="Sellers' feedback",
        intro=(
            "Sellers' verdicts on the accounts and prospects alms put in front of them, by the criterion that drove "
            "the account's score in the snapshot in force that day: where sellers disagree most, that criterion's "
            "weight is the first to question (then check it against the backtest)."
        ),
    )
    if summary.height == 0:
        presentation.notes.append("No seller_feedback.csv in the input folder (docs/outcomes.md, 'The feedback file').")
        return presentation
    verdicts = ["agree", "disagree", "already_working", "not_reachable"]

    def table(dimension: str) -> tuple[list[str], list[list[object]]]:
        part = summary.filter(pl.col("dimension") == dimension)
        rows = []
        for value in part["group_value"].unique().sort().to_list():
            group = part.filter(pl.col("group_value") == value)
            total = group.filter(pl.col("verdict") == "all")
            shares = dict(group.select("verdict", "share_of_group").iter_rows())
            rows.append(
                [
                    value,
                    total["feedback_rows"].item() if total.height else 0,
                    *(_pct(shares.get(v, 0.0)) for v in verdicts),
                ]
            )
        return [dimension, "rows", *verdicts], rows

    header, rows = table("criterion")
    if rows:
        presentation.tables.append(("By the criterion that drove the score", header, rows))
        disagree = [float(r[3].rstrip("%")) / 100 for r in rows]
        presentation.charts.append(
            (
                "disagreement by criterion",
                bar_chart(
                    "Share of feedback that disagrees, by the criterion that drove the score",
                    [r[0].replace("_", " ") for r in rows],
                    {"disagree": disagree},
                ),
            )
        )
    header, rows = table("seller")
    presentation.tables.append(("By seller", header, rows))
    return presentation


# ---- report.html sections (assets/rules/report.py): each reads the published marts through the warehouse ----------


def _table(conn, name: str) -> pl.DataFrame | None:
    found = conn.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' and table_name = ?", [name]
    ).fetchall()[0][0]
    return conn.sql(f"select * from marts.{name}").pl() if found else None


def outcomes_section(conn) -> str | None:
    groups = _table(conn, "prioritization_outcomes")
    if groups is None:
        return None
    from assets.rules.outcomes import MIN_GROUP_SIZE

    return outcomes_presentation(groups, MIN_GROUP_SIZE).html()


def backtest_section(conn) -> str | None:
    table = _table(conn, "scoring_backtest")
    if table is None or table.height == 0:
        return None
    summary = table.filter(pl.col("as_of_date").is_null() & (pl.col("snapshots") > 0))
    weights = dict(table.filter(pl.col("as_of_date").is_null()).select("ranking", "weights").iter_rows())

    def parsed(text: str | None) -> dict[str, float]:
        pairs = [item.rsplit(" ", 1) for item in (text or "").split(", ") if item]
        return {name: float(value) for name, value in pairs}

    rows = weight_rows(
        parsed(weights.get("score")),
        parsed(weights.get("suggested_score")) or None,
        parsed(weights.get("nearby_score")),
    )
    notes = [] if summary.height else ["No snapshot has a complete window after it yet: nothing to backtest."]
    return backtest_presentation(
        summary, rows, notes, int(table["horizon_months"][0]), str(table["config_version"][0])
    ).html()


def feedback_section(conn) -> str | None:
    summary = _table(conn, "seller_feedback_counts")
    return None if summary is None else feedback_presentation(summary).html()


def summary_lines(conn) -> list[str]:
    """What `make run` prints about the outcomes and the backtest (the published tables, read as a BI reader would)."""
    groups = _table(conn, "prioritization_outcomes")
    if groups is None or groups.height == 0:
        return []
    accounts = groups.filter(pl.col("population") == "accounts")  # lead groups are reconstructed at every date
    dates = accounts["as_of_date"].n_unique()
    recorded = accounts.filter(pl.col("snapshot_source") == "recorded")["as_of_date"].n_unique()
    horizon = preferred_horizon(groups)
    complete = groups.filter(pl.col("is_complete") & (pl.col("horizon_months") == horizon))
    head = (
        f"outcomes:  {dates} snapshots ({dates - recorded} reconstructed, {recorded} recorded); "
        f"{complete['as_of_date'].n_unique()} with {horizon} complete months after them"
    )
    if complete.height == 0:
        return [head + " (none yet: see docs/outcomes.md)"]
    mean = complete.group_by("group_kind", "group_value").agg(
        pl.col("billing_change_share").mean(), pl.col("conversion_share").mean()
    )
    value = {(kind, group): (share, conversion) for kind, group, share, conversion in mean.iter_rows()}

    def change(kind: str, group: str) -> str:
        share = value.get((kind, group), (None, None))[0]
        return "-" if share is None else f"{share * 100:+.1f}%"

    lines = [
        head,
        f"           mean {horizon}-month billing change: high {change('tier', 'high')}, medium "
        f"{change('tier', 'medium')}, low {change('tier', 'low')}; targets {change('target', 'target')} vs "
        f"{change('target', 'not_target')}; leads converted: recommended "
        f"{_pct(value.get(('lead', 'recommended'), (None, None))[1]) or '-'}, others "
        f"{_pct(value.get(('lead', 'not_recommended'), (None, None))[1]) or '-'}",
    ]
    backtest = _table(conn, "scoring_backtest")
    if backtest is not None:
        spearman = dict(
            backtest.filter(pl.col("as_of_date").is_null() & (pl.col("snapshots") > 0))
            .select("ranking", "spearman")
            .iter_rows()
        )
        if spearman.get("score") is not None:
            lines.append(
                f"backtest:  Spearman of the score with the growth that followed {spearman['score']:.3f}"
                + (f"; suggested weights {spearman['suggested_score']:.3f}" if spearman.get("suggested_score") else "")
                + " (alms backtest; never applied)"
            )
    return lines
