"""Small charts as plain SVG text (no plotting library): for the Dagster UI's Markdown metadata (as a base64 data URI
in a Markdown image, which the UI's Markdown renderer accepts) and for report.html (inline).

Two kinds: `line_chart` (one line per series over ordered x labels) and `bar_chart` (grouped bars per category).
Values are numbers or None (a gap); `percent=True` labels the y axis as percentages of 1.
"""

from __future__ import annotations

import base64
import math
from html import escape

WIDTH, HEIGHT = 720, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 150, 34, 74
PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#64748b", "#ec4899", "#14b8a6", "#a16207")
FONT = 'font-family="Helvetica, Arial, sans-serif"'


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if low == high:
        low, high = low - 1, high + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


def _label(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%" if abs(value) >= 0.1 or value == 0 else f"{value * 100:.1f}%"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.0f}"


def _frame(title: str, ticks: list[float], y, percent: bool, y_label: str) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="20" font-size="14" font-weight="bold" {FONT} fill="#111827">{escape(title)}</text>',
    ]
    for tick in ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="{"#9ca3af" if tick == 0 else "#e5e7eb"}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end" {FONT} fill="#374151">'
            f"{escape(_label(tick, percent))}</text>"
        )
    if y_label:
        parts.append(
            f'<text x="14" y="{TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f}" font-size="11" {FONT} fill="#374151" '
            f'transform="rotate(-90 14 {TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f})" text-anchor="middle">'
            f"{escape(y_label)}</text>"
        )
    return parts


def _legend(names: list[str]) -> list[str]:
    parts = []
    for i, name in enumerate(names):
        y = TOP + 8 + i * 18
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{WIDTH - RIGHT + 14}" y="{y - 9}" width="12" height="12" fill="{color}"/>')
        parts.append(
            f'<text x="{WIDTH - RIGHT + 32}" y="{y + 1}" font-size="12" {FONT} fill="#111827">{escape(name)}</text>'
        )
    return parts


def _scale(values: list[float | None], include_zero: bool = True):
    present = [v for v in values if v is not None and not math.isnan(v)]
    low, high = (min(present), max(present)) if present else (0.0, 1.0)
    if include_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    ticks = _ticks(low, high)
    low, high = ticks[0], ticks[-1]
    span = high - low or 1.0

    def y(value: float) -> float:
        return TOP + (high - value) / span * (HEIGHT - TOP - BOTTOM)

    return ticks, y


def line_chart(
    title: str, x_labels: list[str], series: dict[str, list[float | None]], percent: bool = True, y_label: str = ""
) -> str:
    """One line per series (with a dot per point; None leaves a gap) over the x labels, in order."""
    ticks, y = _scale([v for values in series.values() for v in values])
    n = max(len(x_labels), 1)
    inner = WIDTH - LEFT - RIGHT

    def x(i: int) -> float:
        return LEFT + (inner / 2 if n == 1 else i * inner / (n - 1))

    parts = _frame(title, ticks, y, percent, y_label)
    every = max(1, math.ceil(n / 12))
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="middle" {FONT} '
                f'fill="#374151">{escape(label)}</text>'
            )
    for s, values in enumerate(series.values()):
        color = PALETTE[s % len(PALETTE)]
        run: list[str] = []
        for i, value in enumerate(values):
            if value is None or math.isnan(value):
                if len(run) > 1:
                    parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="2"/>')
                run = []
                continue
            run.append(f"{x(i):.1f},{y(value):.1f}")
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3" fill="{color}"/>')
        if len(run) > 1:
            parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{color}" stroke-width="2"/>')
    parts += _legend(list(series))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    title: str, categories: list[str], series: dict[str, list[float | None]], percent: bool = True, y_label: str = ""
) -> str:
    """Grouped bars: for each category, one bar per series (None: no bar), with its value written on it."""
    ticks, y = _scale([v for values in series.values() for v in values])
    parts = _frame(title, ticks, y, percent, y_label)
    inner = WIDTH - LEFT - RIGHT
    slot = inner / max(len(categories), 1)
    width = slot * 0.8 / max(len(series), 1)
    slanted = len(categories) > 6  # long lists: labels at an angle so they do not overlap
    for c, category in enumerate(categories):
        x, y_text = LEFT + slot * (c + 0.5), HEIGHT - BOTTOM + 16
        turn = f' transform="rotate(-30 {x:.1f} {y_text})"' if slanted else ""
        parts.append(
            f'<text x="{x:.1f}" y="{y_text}" font-size="11" text-anchor="{"end" if slanted else "middle"}"{turn} '
            f'{FONT} fill="#374151">{escape(category)}</text>'
        )
        for s, values in enumerate(series.values()):
            value = values[c]
            if value is None or math.isnan(value):
                continue
            left = LEFT + slot * c + slot * 0.1 + s * width
            top, bottom = sorted((y(value), y(0)))
            parts.append(
                f'<rect x="{left:.1f}" y="{top:.1f}" width="{width - 2:.1f}" height="{max(bottom - top, 1):.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"/>'
            )
            label_y = top - 3 if value >= 0 else bottom + 11
            parts.append(
                f'<text x="{left + (width - 2) / 2:.1f}" y="{label_y:.1f}" font-size="10" text-anchor="middle" '
                f'{FONT} fill="#111827">{escape(_label(value, percent))}</text>'
            )
    parts += _legend(list(series))
    parts.append("</svg>")
    return "".join(parts)


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def markdown_image(svg: str, alt: str) -> str:
    """A Markdown image of the chart (what the Dagster UI shows inside Markdown metadata)."""
    return f"![{alt}]({data_uri(svg)})"


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    def cell(value: object) -> str:
        return "" if value is None else str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def html_table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
