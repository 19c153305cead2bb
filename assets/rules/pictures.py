"""Pictures where people would rather look than read: the billing concentration (Pareto curve) with the key level, the
tier mix per seller, the accounts that crossed the key level since the last review.

Each picture is a PNG (bytes) drawn by matplotlib from plain frames, so the asset pages (Markdown with the image
inline, `markdown_image`) and the static report.html (`html_figure`, `*_section`) show the same picture. The
`*_data` functions read what a picture needs from a DuckDB connection onto the marts (the pipeline's warehouse or a
publication); the `*_png` functions draw. matplotlib is imported when a picture is drawn, with its object API (no
pyplot, no global state), so drawing is safe in any thread and loading the definitions stays quick.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from decimal import Decimal
from html import escape

import duckdb
import polars as pl

WIDTH, HEIGHT, DPI = 8.0, 4.5, 100  # inches at DPI: 800 x 450 pixels
MAX_CURVE_POINTS = 2000  # a Pareto curve of 1M accounts is drawn through this many points
MAX_SELLERS = 25  # the tier-mix chart shows the sellers with the most accounts; the rest are one bar
MAX_CROSSINGS = 30  # the crossings chart shows the largest moves; the rest are counted in its title
TIER_COLOURS = {"high": "#b91c1c", "medium": "#f59e0b", "low": "#9ca3af", "none": "#e5e7eb"}
KEY_COLOUR, CURVE_COLOUR = "#1d4ed8", "#111827"


def _figure():
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
    return figure, figure.subplots()


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


# The last picture of each kind and what it was drawn from. In a run the assets draw each picture for their pages and
# the publication's report draws it again from the published tables: the same data, so the second is this PNG (the
# pictures were about 15 % of a small run's CPU). A picture whose data or labels differ in any way is drawn anew.
_LAST_DRAWN: dict[str, tuple[pl.DataFrame, tuple, bytes]] = {}


def _drawn_once(kind: str, data: pl.DataFrame, labels: tuple, draw: Callable[[], bytes]) -> bytes:
    last = _LAST_DRAWN.get(kind)
    if last is not None and last[1] == labels and last[0].equals(data):
        return last[2]
    png = draw()
    _LAST_DRAWN[kind] = (data, labels, png)
    return png


def _money(value: float) -> str:
    return f"{value:,.0f}"


# -- Pareto curve: how concentrated billing is, and where the key level cuts -------------------------------------------


def pareto_points(billing: pl.Series) -> pl.DataFrame:
    """The concentration curve of positive billing: for the top i accounts (by billing, descending), their share of
    accounts and their share of billing; (0, 0) first, (1, 1) last."""
    positive = billing.cast(pl.Float64).filter(billing.cast(pl.Float64) > 0).sort(descending=True)
    n = positive.len()
    total = positive.sum()
    if n == 0 or not total:
        return pl.DataFrame({"account_share": [0.0], "billing_share": [0.0]})
    origin = pl.DataFrame({"account_share": [0.0], "billing_share": [0.0]})
    shares = pl.DataFrame(
        {
            "account_share": pl.int_range(1, n + 1, eager=True).cast(pl.Float64) / n,
            "billing_share": positive.cum_sum() / total,
        }
    )
    return pl.concat([origin, shares])


def pareto_png(billing: pl.Series, key_count: int, key_level: float | Decimal | None, currency: str) -> bytes:
    """The Pareto curve of billing with the key level marked: the point where the key accounts end (their share of
    accounts and of billing) and the 20 % line for reference."""
    points = pareto_points(billing)
    return _drawn_once(
        "pareto", points, (key_count, key_level, currency), lambda: _pareto_png(points, key_count, key_level, currency)
    )


def _pareto_png(points: pl.DataFrame, key_count: int, key_level: float | Decimal | None, currency: str) -> bytes:
    n = points.height - 1
    step = max(1, n // MAX_CURVE_POINTS)
    drawn = pl.concat([points.gather_every(step), points.tail(1)]).unique(maintain_order=True)
    figure, axes = _figure()
    axes.plot(drawn["account_share"] * 100, drawn["billing_share"] * 100, color=CURVE_COLOUR, linewidth=2)
    axes.plot([0, 100], [0, 100], color="#d1d5db", linestyle=":", linewidth=1)  # every account billing the same
    title = "Billing concentration"
    if n and 0 < key_count <= n:
        x, y = points["account_share"][key_count] * 100, points["billing_share"][key_count] * 100
        shaded = pl.concat([drawn.filter(pl.col("account_share") * 100 < x), points.slice(key_count, 1)])
        axes.fill_between(shaded["account_share"] * 100, shaded["billing_share"] * 100, color=KEY_COLOUR, alpha=0.12)
        axes.axvline(x, color=KEY_COLOUR, linestyle="--", linewidth=1)
        axes.plot([x], [y], "o", color=KEY_COLOUR)
        level = f"key level {_money(float(key_level))} {currency}" if key_level is not None else "key level"
        axes.annotate(
            f"{level}:\n{key_count:,} key account{'s' if key_count != 1 else ''} ({x:.1f} % of accounts)\n"
            f"hold{'s' if key_count == 1 else ''} {y:.1f} % of billing",
            (x, y),
            xytext=(12, -48),
            textcoords="offset points",
            color=KEY_COLOUR,
            fontsize=9,
        )
        title += f": the top {x:.0f} % of accounts hold {y:.0f} % of billing"
    if n:
        top_fifth = max(1, -(-n // 5))  # ceil(n / 5)
        share = points["billing_share"][top_fifth] * 100
        axes.axvline(20, color="#9ca3af", linestyle=":", linewidth=1)
        axes.annotate(f"top 20 %: {share:.1f} %", (20, 4), xytext=(4, 0), textcoords="offset points", fontsize=8)
    axes.set(
        xlim=(0, 100),
        ylim=(0, 101),
        xlabel=f"share of the {n:,} accounts with positive billing, largest first (%)",
        ylabel="share of 12-month billing (%)",
        title=title,
    )
    axes.grid(alpha=0.3)
    return _png(figure)


# -- Tier mix per seller ------------------------------------------------------------------------------------------------


def tier_mix(lists: pl.DataFrame) -> pl.DataFrame:
    """Accounts per seller and tier (high, medium, low, none) from marts.seller_account_lists' account rows: one row
    per seller, most accounts first; beyond MAX_SELLERS the rest are summed as '(N other sellers)'."""
    accounts = lists.filter(pl.col("row_type") == "account").with_columns(pl.col("tier").fill_null("none"))
    if accounts.height == 0:
        return pl.DataFrame(schema={"seller": pl.String, **{t: pl.Int64 for t in TIER_COLOURS}, "accounts": pl.Int64})
    wide = (
        accounts.group_by("seller_name", "owner_id", "tier")
        .len()
        .pivot(on="tier", index=["seller_name", "owner_id"], values="len")
        .fill_null(0)
    )
    for tier in TIER_COLOURS:
        if tier not in wide.columns:
            wide = wide.with_columns(pl.lit(0, dtype=pl.UInt32).alias(tier))
    wide = wide.select(
        pl.col("seller_name").alias("seller"), *(pl.col(t).cast(pl.Int64) for t in TIER_COLOURS)
    ).with_columns(pl.sum_horizontal(*TIER_COLOURS).alias("accounts"))
    wide = wide.sort(["accounts", "high", "medium", "seller"], descending=[True, True, True, False])
    if wide.height > MAX_SELLERS:
        shown, rest = wide.head(MAX_SELLERS - 1), wide.slice(MAX_SELLERS - 1)
        others = rest.select(
            pl.lit(f"({rest.height} other sellers)").alias("seller"), *(pl.sum(c) for c in wide.columns[1:])
        )
        wide = pl.concat([shown, others])
    return wide


def tier_mix_png(mix: pl.DataFrame) -> bytes:
    """Stacked horizontal bars: per seller, their accounts by tier."""
    return _drawn_once("tier_mix", mix, (), lambda: _tier_mix_png(mix))


def _tier_mix_png(mix: pl.DataFrame) -> bytes:
    figure, axes = _figure()
    sellers = mix["seller"].to_list()[::-1]  # the largest at the top
    left = [0] * len(sellers)
    for tier, colour in TIER_COLOURS.items():
        counts = mix[tier].to_list()[::-1]
        if not any(counts):
            continue
        axes.barh(sellers, counts, left=left, color=colour, label=tier, edgecolor="white", linewidth=0.5)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set(xlabel="accounts", title=f"Tier mix per seller ({int(mix['accounts'].sum()):,} accounts)")
    axes.tick_params(axis="y", labelsize=7 if len(sellers) > 15 else 9)
    axes.legend(title="tier", loc="lower right", fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)


# -- Accounts that crossed the key level since the last review ----------------------------------------------------------

CROSSINGS_SQL = """
with level as (
    select key_level, as_of_date as reviewed_on
    from marts.key_levels where is_current
),
review as (
    select history.account_id, history.billing_12m, history.is_key_account
    from marts.account_snapshots as history, level
    where history.as_of_date = level.reviewed_on
)
select
    accounts.account_id,
    accounts.account_name,
    review.billing_12m as billing_at_review,
    accounts.billing_12m as billing_now,
    coalesce(review.is_key_account, false) as was_key,
    accounts.is_key_account as is_key,
    level.key_level,
    level.reviewed_on,
    accounts.as_of_date
from marts.accounts as accounts
cross join level
left join review using (account_id)
where accounts.as_of_date > level.reviewed_on
    and accounts.is_key_account <> coalesce(review.is_key_account, false)
order by abs(accounts.billing_12m - coalesce(review.billing_12m, 0)) desc, accounts.account_id
"""


def crossings_data(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    """The accounts whose key status against the frozen level changed since the review that set it: key now and not
    then (up; also accounts that did not exist then), or key then and not now (down). None when the tables are
    not there (a warehouse before its first history); an empty frame when this run is the review."""
    found = conn.sql(
        "select count(distinct table_name) from information_schema.tables where table_schema = 'marts' "
        "and table_name in ('accounts', 'key_levels', 'account_snapshots')"
    ).fetchall()[0][0]
    if found < 3:
        return None
    recorded = conn.sql(
        "select count(*) from marts.account_snapshots where as_of_date = "
        "(select as_of_date from marts.key_levels where is_current)"
    ).fetchall()[0][0]
    if not recorded:  # the review's snapshot is not in the history (an older version's run): nothing to compare
        return None
    return conn.sql(CROSSINGS_SQL).pl()


def crossings_png(crossed: pl.DataFrame, key_level: float | Decimal, reviewed_on, as_of, currency: str) -> bytes:
    """Each crossing account as an arrow from its billing at the review to its billing now, the key level a line."""
    labels = (key_level, reviewed_on, as_of, currency)
    return _drawn_once("crossings", crossed, labels, lambda: _crossings_png(crossed, *labels))


def _crossings_png(crossed: pl.DataFrame, key_level: float | Decimal, reviewed_on, as_of, currency: str) -> bytes:
    figure, axes = _figure()
    shown = crossed.head(MAX_CROSSINGS)
    level = float(key_level)
    axes.axvline(level, color=KEY_COLOUR, linestyle="--", linewidth=1.2)
    labels = []
    for position, row in enumerate(shown.iter_rows(named=True)):
        then = float(row["billing_at_review"] or 0)
        now = float(row["billing_now"])
        colour = "#15803d" if row["is_key"] else "#b91c1c"
        axes.annotate(
            "", (now, position), xytext=(then, position), arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.5}
        )
        axes.plot([then], [position], "o", color="#9ca3af", markersize=3)
        name = row["account_name"] or row["account_id"]
        labels.append((name[:28] + "...") if len(name) > 31 else name)
    axes.set_yticks(range(len(labels)), labels, fontsize=7 if len(labels) > 15 else 9)
    axes.invert_yaxis()
    up = int(crossed["is_key"].sum()) if crossed.height else 0
    more = f"; the {MAX_CROSSINGS} largest moves shown" if crossed.height > MAX_CROSSINGS else ""
    axes.set(
        xlabel=f"12-month billing ({currency}): at the review ({reviewed_on}) -> now ({as_of})",
        title=f"Crossed the key level {_money(level)} {currency} since the review: {up:,} up, "
        f"{crossed.height - up:,} down{more}",
    )
    axes.annotate("key level", (level, 0), xytext=(4, 4), textcoords="offset points", color=KEY_COLOUR, fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    if not labels:
        axes.text(0.5, 0.5, "no account crossed the level", transform=axes.transAxes, ha="center", color="#6b7280")
        axes.set_yticks([])
    return _png(figure)


# -- Embedding ----------------------------------------------------------------------------------------------------------


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def markdown_image(png: bytes, alt: str) -> str:
    """Markdown showing the PNG inline (the Dagster UI renders it on the asset page)."""
    return f"![{alt}]({data_uri(png)})"


def html_figure(png: bytes, alt: str, caption: str) -> str:
    return (
        f'<figure><img alt="{escape(alt)}" src="{data_uri(png)}" style="max-width:100%">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


# -- The pictures from the marts (a warehouse or a publication) ---------------------------------------------------------


def pareto_from(conn: duckdb.DuckDBPyConnection) -> tuple[bytes, str] | None:
    """The Pareto picture of marts.accounts and its caption; None when there are no accounts."""
    accounts = conn.sql("select billing_12m, is_key_account, key_level, reporting_currency from marts.accounts").pl()
    if accounts.height == 0:
        return None
    key_count = int(accounts.filter(pl.col("billing_12m") > 0)["is_key_account"].sum())
    png = pareto_png(accounts["billing_12m"], key_count, accounts["key_level"][0], accounts["reporting_currency"][0])
    return png, "Share of 12-month billing held by the largest accounts; the key accounts are shaded."


def tier_mix_from(conn: duckdb.DuckDBPyConnection) -> tuple[bytes, str] | None:
    lists = conn.sql("select row_type, owner_id, seller_name, tier from marts.seller_account_lists").pl()
    mix = tier_mix(lists)
    if mix.height == 0:
        return None
    return tier_mix_png(mix), "Each seller's accounts by priority tier (marts.seller_account_lists)."


def crossings_from(conn: duckdb.DuckDBPyConnection) -> tuple[bytes, str] | None:
    crossed = crossings_data(conn)
    level = conn.sql(
        "select key_level, as_of_date, (select max(as_of_date) from marts.accounts), "
        "(select max(reporting_currency) from marts.accounts) from marts.key_levels where is_current"
    ).fetchall()
    if crossed is None or len(level) != 1:
        return None
    key_level, reviewed_on, as_of, currency = level[0]
    png = crossings_png(crossed, key_level, reviewed_on, as_of, currency)
    caption = (
        f"Accounts now on the other side of the key level than at the review of {reviewed_on}: green became key, "
        "red is no longer key (marts.accounts against the review's snapshot in marts.account_snapshots)."
    )
    return png, caption


PICTURES = {
    "billing_concentration": ("Billing concentration (Pareto)", pareto_from),
    "tier_mix_per_seller": ("Tier mix per seller", tier_mix_from),
    "key_level_crossings": ("Accounts that crossed the key level since the review", crossings_from),
}


def pictures_section(conn: duckdb.DuckDBPyConnection) -> str | None:
    """The report section with every picture (assets/rules/report.py's section signature)."""
    parts = []
    for title, draw in PICTURES.values():
        drawn = draw(conn)
        if drawn is not None:
            png, caption = drawn
            parts.append(f"<h3>{escape(title)}</h3>" + html_figure(png, title, caption))
    return ("<h2>Accounts at a glance</h2>" + "".join(parts)) if parts else None
