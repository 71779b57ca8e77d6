"""The weekly summary's chart: the daily failure rate and the open backlog over the last
8 weeks, drawn headless (matplotlib's Agg canvas on a bare ``Figure``: no display, no
pyplot global state, safe in a worker thread) into a PNG of
``WIDTH`` × ``HEIGHT`` pixels, from the same :class:`~bot.team.weekly_data.WeeklyData` the
message is written from. :func:`render` also answers the series it drew, so a test can hold
the picture to the numbers."""

from __future__ import annotations

import io
from dataclasses import dataclass

from bot.team.weekly_data import WeeklyData

WIDTH, HEIGHT, DPI = 1200, 600, 100


@dataclass(frozen=True)
class Chart:
    """The PNG and the series drawn in it."""

    png: bytes
    rates_percent: list[float]
    backlog: list[int]
    labels: list[str]


def render(data: WeeklyData) -> Chart:
    """Draw ``data.days``: the failure rate (percent, left axis, line) and the open backlog
    (right axis, bars), one point a day. CPU-bound: run it in a worker thread (matplotlib
    is imported here, on first use, so importing this module costs nothing)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [d.day.isoformat() for d in data.days]
    rates = [float(d.rate * 100) for d in data.days]
    backlog = [d.backlog for d in data.days]
    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = list(range(len(labels)))
    right = ax.twinx()
    right.bar(x, backlog, color="#c9d6e3", label="open backlog")
    right.set_ylabel("open failures at day's end")
    ax.set_zorder(right.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(x, rates, color="#b03a2e", marker="o", markersize=3, label="failure rate")
    ax.set_ylabel("failure rate (%)")
    ax.set_ylim(bottom=0)
    ticks = x[::7]
    ax.set_xticks(ticks, [labels[i][5:] for i in ticks])
    ax.set_title(f"Failed payments, {labels[0]} to {labels[-1]}")
    ax.grid(axis="y", alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return Chart(buf.getvalue(), rates, backlog, labels)
