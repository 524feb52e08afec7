"""Pictures drawn on the server as SVG (no script, no inline style: classes from console.css): a
case's statutory timeline and the report's bar charts. Each is decorative for screen readers
(aria-hidden): the same facts are in a table beside it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class Point:
    day: date
    label: str
    status: str                  # done | late | due | overdue | reached | ahead


def timeline(points: list[Point], today: date, *, width: int = 960) -> Markup:
    """Milestones on a line of dates, each a dot coloured by its status, with a marker for today."""
    days = [p.day for p in points] + [today]
    start, end = min(days) - timedelta(days=7), max(days) + timedelta(days=7)
    span = max((end - start).days, 1)
    left, right, axis_y = 20, width - 20, 70
    lanes = 3                                     # labels alternate between rows so they do not collide

    def x(day: date) -> float:
        return left + (right - left) * (day - start).days / span

    parts = [f'<svg class="rf-timeline" viewBox="0 0 {width} {axis_y + 40 + lanes * 34}" '
             f'xmlns="http://www.w3.org/2000/svg" aria-hidden="true" focusable="false">',
             f'<line class="rf-timeline__axis" x1="{left}" y1="{axis_y}" x2="{right}" y2="{axis_y}"/>']
    tx = x(today)
    parts.append(f'<line class="rf-timeline__today" x1="{tx:.1f}" y1="10" x2="{tx:.1f}" '
                 f'y2="{axis_y + 20 + lanes * 34}"/>')
    anchor = "end" if tx > width * 0.8 else "start"
    parts.append(f'<text class="rf-timeline__today-label" x="{tx + (-6 if anchor == "end" else 6):.1f}" y="24" '
                 f'text-anchor="{anchor}">Today {today:%d %b %Y}</text>')
    for i, p in enumerate(sorted(points, key=lambda p: p.day)):
        px = x(p.day)
        row = axis_y + 36 + (i % lanes) * 34
        text_anchor = "end" if px > width * 0.5 else "start"
        dx = -4 if text_anchor == "end" else 4
        parts.append(f'<line class="rf-chart__gridline" x1="{px:.1f}" y1="{axis_y}" x2="{px:.1f}" y2="{row - 12}"/>')
        parts.append(f'<circle class="rf-dot--{escape(p.status)}" cx="{px:.1f}" cy="{axis_y}" r="8"/>')
        parts.append(f'<text x="{px + dx:.1f}" y="{row}" text-anchor="{text_anchor}">'
                     f'{escape(_short(p.label))} · {p.day:%d %b %Y}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Bar:
    label: str
    on_time: int
    late: int
    overdue: int


def bars(rows: list[Bar], *, width: int = 960) -> Markup:
    """Horizontal stacked bars: met on time, met late, overdue."""
    label_width, bar_height, gap, top = 330, 26, 18, 30
    total = max([r.on_time + r.late + r.overdue for r in rows] + [1])
    scale = (width - label_width - 60) / total
    height = top + len(rows) * (bar_height + gap) + 10
    parts = [f'<svg class="rf-chart" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
             f'aria-hidden="true" focusable="false">']
    legend = (("rf-bar--on-time", "On time"), ("rf-bar--late", "Late"), ("rf-bar--open", "Overdue, not yet done"))
    lx = label_width
    for cls, text in legend:
        parts.append(f'<rect class="{cls}" x="{lx}" y="4" width="14" height="14"/>'
                     f'<text x="{lx + 20}" y="16">{text}</text>')
        lx += 190
    for i, r in enumerate(rows):
        y = top + i * (bar_height + gap)
        parts.append(f'<text x="0" y="{y + bar_height - 8}">{escape(_short(r.label, 44))}</text>')
        x = float(label_width)
        for cls, n in (("rf-bar--on-time", r.on_time), ("rf-bar--late", r.late), ("rf-bar--open", r.overdue)):
            if n:
                w = n * scale
                parts.append(f'<rect class="{cls}" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_height}"/>')
                x += w
        decided = r.on_time + r.late + r.overdue
        share = f"{round(100 * r.on_time / decided)}% on time" if decided else "none yet"
        parts.append(f'<text x="{x + 8:.1f}" y="{y + bar_height - 8}">{share}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
