"""Billing history before the demo's window, with a signal, so the outcomes and the backtest show something real
(`generate_demo_data(..., history_months=10)`; `make run`'s demo uses it, docs/outcomes.md "The demo").

It only *adds* files to the demo folder (the demo's own files stay byte for byte what they are without it, so every
figure of the demo is unchanged at its as-of date):

    billing/<system>_<YYYY-MM>.<ext>      the `history_months` months before the demo's first month
    engagement/<system>_<YYYY-MM>.<ext>   the same months
    fx_rates.<ext>                        rewritten with those months' rates before the demo's own rows (unchanged)
    prospects/history_leads.<ext>         prospects that became clients later (a client record of the same name and
                                          domain whose customer_since is after the prospect's creation)
    seller_feedback.csv                   sellers' verdicts on their accounts and prospects over the last 8 months

The signal: every organisation's billing level moves at an annual rate g into the demo's window (flat there), with g
higher for the organisations the demo marks growing (+1.0), lower for those at risk (-0.6), higher for a good fit
with the ideal customer profile (+0.3), plus noise (sd 0.25); growing organisations also have twice the engagement
events, at-risk ones 0.6 times. So accounts whose billing was rising, with deals in
motion and a good fit (what the decision matrix rewards) grow a little more afterwards on average, and the backtest
finds the growth and likelihood criteria predictive. Prospects that convert are drawn with a probability that rises
with their ideal-customer-profile fit and size, so leads with a higher lead score convert more often.

Dagster-free, seeded, on random streams of its own (100+): the same arguments give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from pipelines.commands.demo_data import (
    CURRENCIES,
    EMAIL,
    EVENT_P,
    EVENT_TYPES,
    LINES_PER_INVOICE_P,
    MEETING,
    PRODUCT_USAGE,
    SUPPORT_TICKET,
    SURVEY,
    SURVEY_P,
    SYSTEMS,
    WEB_VISIT,
    _amount_expr,
    _month_day,
    _pick,
    _rng,
    _s,
)

GOOD_FIT = {"Technology", "Financial Services", "Professional Services", "Healthcare"}
INVOICE_BASE = (15_000_001, 7_000_001, 600_001)  # above every invoice number of the demo's own months
INVOICE_PREFIX = ("INV-", "", "CL")
INVOICE_WIDTH = (8, 7, 6)
VERDICTS = ("agree", "disagree", "already_working", "not_reachable")
REASONS = {
    "agree": ("Budget confirmed for next year", "Good fit, champion engaged", "Expansion discussed with their COO"),
    "disagree": (
        "Consolidating suppliers after an acquisition",
        "Spend is seasonal, not growth",
        "Their procurement moved to a framework we are not on",
        "Small team, no room for more",
    ),
    "already_working": ("Already in negotiation", "Quarterly review booked", "Renewal under way"),
    "not_reachable": ("No answer from the buyer since spring", "Contact left the company"),
}


def _org_growth(seed: int, o: dict, signals: dict, industry_labels: list[str]) -> np.ndarray:
    rng = _rng(seed, 101)
    good_fit = np.isin(np.array(industry_labels, dtype=object)[o["industry"]], list(GOOD_FIT))
    return (1.0 * signals["growing"] - 0.6 * signals["at_risk"] + 0.3 * good_fit + rng.normal(0, 0.25, o["n"])).astype(
        np.float64
    )


def _fx_history(seed: int, fx: dict, months: int) -> dict[str, np.ndarray]:
    """Rates of the `months` months before the first demo month, walking back from its rate."""
    rng = _rng(seed, 102)
    out = {"USD": np.ones(months)}
    for currency in ("CAD", "EUR"):
        steps = rng.normal(0, 0.008, months)
        out[currency] = np.round(fx[currency][0] * np.exp(-np.cumsum(steps))[::-1], 6)
    return out


def write_history(
    *,
    seed: int,
    ext: str,
    write: Callable[..., None],
    o: dict,
    rec: dict,
    rec_ids: pl.Series,
    rec_ccy: np.ndarray,
    records_of: tuple[np.ndarray, np.ndarray, np.ndarray],
    signals: dict,
    fx: dict,
    fx_rows: list[pl.DataFrame],
    first_month: np.datetime64,
    history_months: int,
    as_of_day: int,
    prospects: pl.DataFrame,
    sellers: pl.DataFrame,
    industry_labels: list[str],
) -> dict:
    """Write the history files (see the module docstring); returns counts for the generator's summary."""
    n = o["n"]
    months = [first_month - np.timedelta64(history_months - i, "M") for i in range(history_months)]
    starts = np.array([_month_day(m) for m in months] + [_month_day(first_month)], dtype=np.int64)
    win_start = int(starts[-1])
    growth = _org_growth(seed, o, signals, industry_labels)
    prim_rec, cross_rec, _ = records_of

    # fx rates: the history's months first, then the demo's own rows exactly as they were
    rates = _fx_history(seed, fx, history_months)
    names = [str(m) for m in months]
    history_rows = [
        pl.DataFrame({"currency": [c] * history_months, "month": names, "rate_to_reporting": rates[c]})
        for c in ("CAD", "EUR")
    ]
    write(pl.concat([*history_rows, *fx_rows]), f"fx_rates.{ext}", float_precision=6)
    fx_mat = np.vstack([rates[c] for c in CURRENCIES])

    # billing: organisations billing before the window (not new, not dormant), from their customer_since on
    brng = _rng(seed, 103)
    active = (o["spend"] > 0) & (o["act_start"] == 0)
    weight = np.where(active, o["spend"] ** 0.45, 0.0)
    invoices_per_month = np.clip(weight / weight[active].mean() * 0.45, 0.05, 6.0) if active.any() else weight
    mean_lines = float(np.dot(np.arange(1, 6), LINES_PER_INVOICE_P))
    lines_out = {s: [] for s in range(3)}
    next_number = list(INVOICE_BASE)
    for mi in range(history_months):
        lo, hi = int(starts[mi]), int(starts[mi + 1])
        years_before = (win_start - (lo + hi) / 2) / 365.25
        level = o["spend"] / 12 * np.exp(-growth * years_before)
        open_orgs = active & (o["since"] < hi)
        count = brng.poisson(np.where(open_orgs, invoices_per_month, 0.0))
        inv_org = np.repeat(np.arange(n), count)
        ni = len(inv_org)
        inv_day = np.maximum(lo + np.floor(brng.random(ni) * (hi - lo)).astype(np.int64), o["since"][inv_org])
        through_cross = (cross_rec[inv_org] >= 0) & (brng.random(ni) < 0.3)
        inv_rec = np.where(through_cross, cross_rec[inv_org], prim_rec[inv_org])
        inv_rec = np.where(through_cross & (rec["since"][np.maximum(inv_rec, 0)] > inv_day), prim_rec[inv_org], inv_rec)
        nlines = 1 + _pick(brng, LINES_PER_INVOICE_P, ni)
        line_inv = np.repeat(np.arange(ni), nlines)
        line_no = np.arange(len(line_inv)) - (np.cumsum(nlines) - nlines)[line_inv] + 1
        org = inv_org[line_inv]
        per_line = level[org] / (invoices_per_month[org] * mean_lines)
        usd = per_line * np.exp(brng.normal(-0.245, 0.7, len(line_inv)))
        ccy = rec_ccy[inv_rec[line_inv]]
        cents = np.maximum(np.round(usd / fx_mat[ccy, mi] * 100), 100).astype(np.int64)
        system = rec["sys"][inv_rec]
        for s in range(3):
            mine = system[line_inv] == s
            if not mine.any():
                continue
            invoices = np.unique(line_inv[mine])
            numbers = dict(zip(invoices.tolist(), range(next_number[s], next_number[s] + len(invoices)), strict=True))
            next_number[s] += len(invoices)
            lines_out[s].append(
                pl.DataFrame(
                    {
                        "month": [names[mi]] * int(mine.sum()),
                        "number": [numbers[i] for i in line_inv[mine].tolist()],
                        "line_number": line_no[mine],
                        "rec": inv_rec[line_inv[mine]],
                        "day": inv_day[line_inv[mine]].astype(np.int32),
                        "cents": cents[mine],
                        "ccy": ccy[mine],
                    }
                )
            )
    billing_lines = 0
    for s in range(3):
        frame = pl.concat(lines_out[s]) if lines_out[s] else None
        for name in names:
            part = (
                frame.filter(pl.col("month") == name).sort("day", "number", "line_number")
                if frame is not None
                else None
            )
            rows = pl.DataFrame(
                schema={
                    c: pl.String
                    for c in (
                        "source_system",
                        "invoice_id",
                        "line_number",
                        "source_client_id",
                        "invoice_date",
                        "amount",
                        "currency",
                    )
                }
            )
            if part is not None and part.height:
                rows = part.select(
                    source_system=pl.lit(SYSTEMS[s]),
                    invoice_id=pl.lit(INVOICE_PREFIX[s]) + pl.col("number").cast(pl.String).str.zfill(INVOICE_WIDTH[s]),
                    line_number=pl.col("line_number").cast(pl.String),
                    source_client_id=rec_ids.gather(part["rec"]),
                    invoice_date=pl.col("day").cast(pl.Date).cast(pl.String),
                    amount=_amount_expr(pl.col("cents")),
                    currency=_s(CURRENCIES).gather(part["ccy"]),
                )
            billing_lines += rows.height
            write(rows, f"billing/{SYSTEMS[s]}_{name}.{ext}")

    events = _engagement(seed, ext, write, o, rec, rec_ids, records_of, signals, growth, starts, names, win_start)
    converted = _converting_prospects(
        seed, ext, write, o, rec, industry_labels, win_start, as_of_day, history_months, sellers
    )
    feedback = _feedback(seed, write, o, rec, rec_ids, records_of, signals, sellers, prospects, as_of_day)
    return {
        "history_months": names,
        "history_billing_lines": billing_lines,
        "history_engagement_events": events,
        "history_converting_prospects": converted,
        "seller_feedback_rows": feedback,
    }


def _engagement(seed, ext, write, o, rec, rec_ids, records_of, signals, growth, starts, names, win_start) -> int:
    rng = _rng(seed, 104)
    n = o["n"]
    prim_rec, _, _ = records_of
    base = np.sqrt(o["emp"].astype(np.float64)) * np.where(o["dormant"], 0.25, 1.0)
    per_month = base / base.mean() * 0.36  # about the demo window's density of events
    per_month = per_month * (1 + 1.0 * signals["growing"] - 0.4 * signals["at_risk"])  # growers engage more
    total = 0
    for mi, name in enumerate(names):
        lo, hi = int(starts[mi]), int(starts[mi + 1])
        years_before = (win_start - (lo + hi) / 2) / 365.25
        rate = per_month * np.exp(-growth * years_before) * (o["since"] < hi)
        count = rng.poisson(rate)
        org = np.repeat(np.arange(n), count)
        ne = len(org)
        day = np.maximum(lo + np.floor(rng.random(ne) * (hi - lo)).astype(np.int64), o["since"][org])
        kind = _pick(rng, EVENT_P, ne)
        kind = np.where(((kind == EMAIL) | (kind == WEB_VISIT)) & (rng.random(ne) < SURVEY_P), SURVEY, kind)
        usage = np.maximum(np.ceil(np.exp(rng.normal(3.0, 1.2, ne)) * np.exp(-growth[org] * years_before)), 1)
        mood = signals["satisfaction"][org]
        quantity = np.select(
            [
                kind == EMAIL,
                kind == WEB_VISIT,
                kind == PRODUCT_USAGE,
                kind == MEETING,
                kind == SURVEY,
                kind == SUPPORT_TICKET,
            ],
            [
                1 + rng.poisson(1.5, ne),
                1 + rng.poisson(3.0, ne),
                usage,
                1 + (rng.random(ne) < 0.1),
                np.clip(np.round(rng.normal(mood, 1.6)), 1, 10),
                1 + rng.poisson(0.3, ne),
            ],
            1,
        ).astype(np.int64)
        record = prim_rec[org]
        system = rec["sys"][record]
        order = np.lexsort((rng.random(ne), day, system))
        record, system, day, kind, quantity = (x[order] for x in (record, system, day, kind, quantity))
        for s in range(3):
            mine = system == s
            write(
                pl.DataFrame(
                    {
                        "source_system": [SYSTEMS[s]] * int(mine.sum()),
                        "source_client_id": rec_ids.gather(record[mine]),
                        "event_date": pl.Series(day[mine].astype(np.int32)).cast(pl.Date),
                        "event_type": _s(EVENT_TYPES).gather(kind[mine]),
                        "quantity": quantity[mine],
                    },
                    schema_overrides={"source_system": pl.String},
                ),
                f"engagement/{SYSTEMS[s]}_{name}.{ext}",
            )
        total += ne
    return total


def _converting_prospects(
    seed, ext, write, o, rec, industry_labels, win_start, as_of_day, history_months, sellers: pl.DataFrame
) -> int:
    """Prospects that became clients: organisations whose customer_since falls between 2 months into the history and
    a month before the as-of date, recorded as a prospect 2-10 months before; drawn with a probability rising with
    their ideal-customer-profile fit and size (a high lead score converts more often)."""
    rng = _rng(seed, 105)
    n = o["n"]
    first = win_start - history_months * 30 + 60
    became = (o["since"] >= first) & (o["since"] <= as_of_day - 30) & ~o["dormant"] & (o["group"] < 0)
    good_fit = np.isin(np.array(industry_labels, dtype=object)[o["industry"]], list(GOOD_FIT))
    size_fit = (o["emp"] >= 50) & (o["emp"] <= 2000)
    chance = np.where(became, 0.10 + 0.35 * good_fit + 0.25 * size_fit, 0.0)
    chosen = np.flatnonzero(rng.random(n) < chance)
    k = len(chosen)
    created = o["since"][chosen] - rng.integers(60, 300, k)
    frame = pl.DataFrame(
        {
            "prospect_id": [f"PH{i + 1:05d}" for i in range(k)],
            "name": rec["names"].gather(chosen),
            "domain": rec["domain"].gather(chosen),
            "address": rec["geo"]["address"].gather(chosen),
            "city": rec["geo"]["city"].gather(chosen),
            "postal_code": rec["geo"]["postal_code"].gather(chosen),
            "country": rec["geo"]["country"].gather(chosen),
            "phone": rec["phone"].gather(chosen),
            "industry": _s(industry_labels).gather(o["industry"][chosen]),
            "employee_count": o["emp"][chosen],
            "owner_id": sellers["owner_id"].gather(o["owner"][chosen]),
            "source": ["referral"] * k,
            "created_date": pl.Series(created.astype(np.int32)).cast(pl.Date),
        }
    )
    write(frame, f"prospects/history_leads.{ext}")
    return k


def _feedback(seed, write, o, rec, rec_ids, records_of, signals, sellers, prospects, as_of_day) -> int:
    """Sellers' verdicts on accounts of theirs with a single client record and an owner (so the owner is the same in
    every snapshot), and on some of their prospects, dated over the last 8 months. At-risk accounts are disagreed
    with or unreachable more often; growing ones agreed with."""
    rng = _rng(seed, 106)
    n = o["n"]
    _, cross_rec, dup_rec = records_of
    single = (cross_rec < 0) & (dup_rec < 0) & (o["group"] < 0) & ~rec["owner_miss"][:n] & (o["spend"] > 0)
    single &= o["act_start"] == 0
    pool = np.flatnonzero(single)
    k = min(len(pool), max(20, n // 40))
    chosen = np.sort(
        rng.choice(pool, size=k, replace=False, p=o["spend"][pool] ** 0.3 / (o["spend"][pool] ** 0.3).sum())
    )
    probabilities = np.where(
        signals["at_risk"][chosen, None],
        (0.2, 0.4, 0.15, 0.25),
        np.where(signals["growing"][chosen, None], (0.6, 0.1, 0.2, 0.1), (0.45, 0.2, 0.25, 0.1)),
    )
    verdict = (rng.random(k)[:, None] > np.cumsum(probabilities, axis=1)).sum(axis=1).clip(0, 3)
    owner_ids = sellers["owner_id"]
    reference = _s(SYSTEMS).gather(rec["sys"][chosen]) + ":" + rec_ids.gather(chosen)
    days = as_of_day - rng.integers(0, 240, k)
    rows = [
        (
            owner_ids[int(rec["owner"][i])],
            reference[j],
            VERDICTS[v],
            _reason(rng, VERDICTS[v]),
            str(np.datetime64(int(d), "D")),
        )
        for j, (i, v, d) in enumerate(zip(chosen.tolist(), verdict.tolist(), days.tolist(), strict=True))
    ]
    leads = prospects.filter((pl.col("_org") < 0) & (pl.col("_owner") >= 0))
    picked = leads.sample(n=min(leads.height, max(5, k // 4)), seed=seed) if leads.height else leads
    for row in picked.iter_rows(named=True):
        v = VERDICTS[int(rng.choice(4, p=(0.35, 0.2, 0.15, 0.3)))]
        day = max(as_of_day - int(rng.integers(0, 240)), _day(row["created_date"]))
        rows.append((row["owner_id"], row["prospect_id"], v, _reason(rng, v), str(np.datetime64(day, "D"))))
    frame = pl.DataFrame(
        rows, schema={c: pl.String for c in ("owner_id", "reference", "verdict", "reason", "date")}, orient="row"
    ).unique(["owner_id", "reference", "date"], keep="first", maintain_order=True)
    write(frame.sort("date", "owner_id", "reference"), "seller_feedback.csv", force_csv=True)
    return frame.height


def _reason(rng: np.random.Generator, verdict: str) -> str:
    options = REASONS[verdict]
    return options[int(rng.integers(0, len(options)))]


def _day(value) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))
