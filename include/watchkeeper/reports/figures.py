"""The reports' figures, drawn with matplotlib from `DayResult` data and returned as inline SVG.

Figures are built on `matplotlib.figure.Figure` (no pyplot state, safe in threads); SVG text stays text and ids are
salted by a constant, so the same result gives the same bytes and the page stays small.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass, field
from datetime import date

import matplotlib
import matplotlib.dates as mdates
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from watchkeeper.result import Distribution

REFERENCE, TODAY, ESTIMATED, REALIZED, BOUND, ALERT = (
    "#8da0b6",
    "#e8710a",
    "#1a73e8",
    "#188038",
    "#c5221f",
    "#d93025",
)
CHALLENGER = "#9334e6"
"""The registry challenger scored in shadow, beside the champion's lines."""
STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "watchkeeper",
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
    "legend.fontsize": 7,
    "legend.frameon": False,
}


_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


def svg(fig: Figure) -> str:
    """The figure as an inline `<svg>` element (no XML prolog, no creation date)."""
    buf = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return _METADATA.sub("", text[text.index("<svg") :])


_DRAWN: dict[tuple[str, str], str] = {}
"""The last distributions drawn, by their JSON and caption: a day's report and its MLflow run show the same."""
_DRAWN_LOCK = threading.Lock()


def distribution_svg(dist: Distribution, caption: str = "") -> str:
    """`svg(distribution(dist, caption))`, drawn once per distribution and caption in a process (the latest 64
    kept): the daily report and the day's MLflow run show the same figures (~30 ms each)."""
    key = (dist.model_dump_json(), caption)
    if (drawn := _DRAWN.get(key)) is None:
        drawn = svg(distribution(dist, caption))
        with _DRAWN_LOCK:  # reports may be drawn in threads
            while len(_DRAWN) >= 64:
                del _DRAWN[next(iter(_DRAWN))]
            _DRAWN[key] = drawn
    return drawn


def _figure(width: float, height: float, **margins: float) -> Figure:
    """Fixed margins rather than a layout engine: constrained layout re-draws the figure and took 4/5 of the time."""
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(**{"left": 0.12, "right": 0.97, "top": 0.88, "bottom": 0.2, **margins})
    return fig


def distribution(dist: Distribution, caption: str = "") -> Figure:
    """Histogram (numeric) or grouped bars (categorical) of the day against the reference, as shares of rows."""
    with matplotlib.rc_context(STYLE):
        fig = _figure(4.4, 2.5, left=0.14 if dist.kind == "numeric" else 0.3)
        ax = fig.add_subplot()
        ref_label = f"reference ({dist.reference_rows:,} rows)" if dist.reference_rows else "reference"
        today_label = f"today ({dist.today_rows:,} rows)"
        if dist.kind == "numeric":
            ax.stairs(dist.reference, dist.edges, fill=True, color=REFERENCE, alpha=0.55, label=ref_label)
            ax.stairs(dist.today, dist.edges, color=TODAY, linewidth=1.6, label=today_label)
            ax.set_xlabel(dist.column)
        else:
            labels = [label if len(label) <= 18 else label[:17] + "…" for label in dist.labels]
            ys = range(len(labels))
            ax.barh([y - 0.2 for y in ys], dist.reference, height=0.4, color=REFERENCE, label=ref_label)
            ax.barh([y + 0.2 for y in ys], dist.today, height=0.4, color=TODAY, label=today_label)
            ax.set_yticks(list(ys), labels)
            ax.invert_yaxis()
        ax.set_ylabel("share of rows" if dist.kind == "numeric" else "")
        ax.set_title(f"{dist.column}{' · ' + caption if caption else ''}", loc="left")
        ax.legend(loc="best")
    return fig


@dataclass
class MetricSeries:
    """One monitored metric over days: estimates with bands and bounds, realized values, alert days."""

    metric: str
    days: list[date] = field(default_factory=list)
    estimated: list[float | None] = field(default_factory=list)
    band_lower: list[float | None] = field(default_factory=list)
    band_upper: list[float | None] = field(default_factory=list)
    lower: list[float | None] = field(default_factory=list)
    upper: list[float | None] = field(default_factory=list)
    realized: dict[date, float] = field(default_factory=dict)
    provisional: set[date] = field(default_factory=set)
    alerts: set[date] = field(default_factory=set)
    challenger: list[float | None] = field(default_factory=list)
    """The registry challenger's estimate of each day, while it is scored in shadow."""
    challenger_realized: dict[date, float] = field(default_factory=dict)


def _nan(values: list[float | None]) -> list[float]:
    return [float("nan") if v is None else v for v in values]


def _days_axis(ax, first: date, last: date) -> None:
    span = (last - first).days + 1
    ax.set_xlim(mdates.date2num(first) - 0.6, mdates.date2num(last) + 0.6)
    ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, round(span / 7))))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))


def metric_over_days(s: MetricSeries, today: date) -> Figure:
    """Estimate with its band, the alert bounds as dashed lines, realized values as dots, alert days shaded red."""
    with matplotlib.rc_context(STYLE):
        fig = _figure(5.4, 2.3, left=0.11, right=0.98, top=0.8, bottom=0.13)
        ax = fig.add_subplot()
        x = s.days
        if any(v is not None for v in s.estimated):
            ax.fill_between(
                x, _nan(s.band_lower), _nan(s.band_upper), color=ESTIMATED, alpha=0.15, linewidth=0, label="band",
            )  # fmt: skip
            ax.plot(
                x,
                _nan(s.estimated),
                color=ESTIMATED,
                linewidth=1.4,
                marker=".",
                markersize=3,
                label="estimated",
            )
        if any(v is not None for v in s.challenger):
            ax.plot(x, _nan(s.challenger), color=CHALLENGER, linewidth=1.2, linestyle=":", marker=".",
                    markersize=3, label="challenger est.")  # fmt: skip
        if s.challenger_realized:
            days = sorted(s.challenger_realized)
            ax.plot(days, [s.challenger_realized[d] for d in days], "D", color=CHALLENGER, markersize=3,
                    label="challenger")  # fmt: skip
        for bound in (s.lower, s.upper):
            if any(v is not None for v in bound):
                ax.step(x, _nan(bound), where="mid", color=BOUND, linestyle="--", linewidth=1, label="bound")
        if s.realized:
            days = sorted(s.realized)
            final = [d for d in days if d not in s.provisional]
            early = [d for d in days if d in s.provisional]
            ax.plot(days, [s.realized[d] for d in days], color=REALIZED, linewidth=0.8, alpha=0.6)
            ax.plot(
                final, [s.realized[d] for d in final], "o", color=REALIZED, markersize=3.5, label="realized"
            )
            if early:
                ax.plot(
                    early, [s.realized[d] for d in early], "o", markerfacecolor="white", color=REALIZED,
                    markersize=3.5, label="provisional",
                )  # fmt: skip
        for day in sorted(s.alerts):
            ax.axvspan(
                mdates.date2num(day) - 0.5, mdates.date2num(day) + 0.5, color=ALERT, alpha=0.13, linewidth=0
            )
        if s.alerts:
            ax.fill_between([], [], color=ALERT, alpha=0.3, label="alert")
        shown = [d for d, v in zip(x, s.estimated, strict=True) if v is not None] + list(s.realized)
        _days_axis(ax, min(shown, default=today), today)
        ax.set_title(s.metric, loc="left", y=1.12)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), ncols=len(unique), loc="lower right", bbox_to_anchor=(1, 1.0),
                  handlelength=1.2, columnspacing=0.8, borderaxespad=0.1)  # fmt: skip
    return fig


def timeline(days: list[date], rows: list[str], cells: dict[tuple[str, date], str]) -> Figure:
    """A grid of signals (rows) by days (columns): alert red, could not measure grey, ok pale green."""
    colors = {
        "alert": ALERT,
        "could_not_measure": "#9aa0a6",
        "ok": "#ceead6",
        "warning": "#f9ab00",
        "action": "#8ab4f8",
    }
    with matplotlib.rc_context(STYLE):
        width = max(5.0, 2.2 + 0.16 * len(days))
        fig = _figure(
            width,
            0.7 + 0.22 * len(rows),
            left=2.0 / width,
            right=0.98,
            top=0.97,
            bottom=0.5 / (0.7 + 0.22 * len(rows)),
        )
        ax = fig.add_subplot()
        for y, row in enumerate(rows):
            for day in days:
                state = cells.get((row, day))
                if state:
                    ax.add_patch(
                        Rectangle(
                            (mdates.date2num(day) - 0.45, y - 0.4),
                            0.9,
                            0.8,
                            color=colors.get(state, "#ffffff"),
                        )
                    )
        _days_axis(ax, days[0], days[-1])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_yticks(range(len(rows)), rows)
        ax.spines[["left", "bottom"]].set_visible(False)
        ax.tick_params(length=0)
    return fig
