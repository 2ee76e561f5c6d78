"""The figure registry: every figure of a run declared once, with where it is shown.

Where it sits: runs (``Results``) -> plots (drawing functions) -> **figures** -> files
(``supportsim run`` saves them), report, app. A figure's name (its file stem), caption, how
it is drawn from a ``Results``, its app tab and whether the report embeds it live here and
nowhere else: adding a figure is one plot function plus one entry below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes

from sim.output import plots
from sim.runs.results import Results

# The app's tabs that hold figures of a run, in page order.
CUSTOMERS, MONEY, DESK, LADDER = "Customers & retention", "Money", "Support desk", "Satisfaction ladder"
FIGURE_TABS = (CUSTOMERS, MONEY, DESK, LADDER)


@dataclass(frozen=True)
class FigureSpec:
    """One figure of a run.

    ``tab``: the app tab that shows it (None: not in the app); ``report``: embedded in
    report.html, in registry order; ``run``: saved by ``supportsim run`` into plots/;
    ``paired``: a comparison against the reference policy (needs two policies or more).
    """

    name: str
    caption: str
    draw: Callable[[Results], Axes]
    tab: str | None = None
    report: bool = False
    run: bool = True
    paired: bool = False


def _monthly(fn: Callable[..., Axes]) -> Callable[[Results], Axes]:
    return lambda res: fn(res.monthly, meta=plots.Meta.of(res), policies=res.policies)


def _difference(kpi: str) -> Callable[[Results], Axes]:
    return lambda res: plots.plot_differences(res.differences(), reference=res.reference, kpi=kpi,
                                              meta=plots.Meta.of(res), policies=res.policies)


def _utilisation(res: Results) -> Axes:
    return plots.plot_band(res.monthly, "agent_utilization", policies=res.policies, meta=plots.Meta.of(res),
                           scale=100.0, title="Agent utilisation by support policy",
                           ylabel="Share of paid agent time spent on tickets and VIP work (%)")


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("cumulative_profit", "Cumulative profit: which policy earns most, and when the lines part.",
               _monthly(plots.plot_cumulative_profit), MONEY, report=True),
    FigureSpec("difference_cumulative_profit", "Paired difference of cumulative profit against the reference policy.",
               _difference("cumulative_profit"), MONEY, report=True, paired=True),
    FigureSpec("customers", "Paying customers at each month's end (mean and 95% CI).",
               _monthly(plots.plot_customers), CUSTOMERS, report=True),
    FigureSpec("retention_rate", "Retention rate per month, ((C − B) / A) × 100.",
               _monthly(plots.plot_retention), CUSTOMERS, report=True),
    FigureSpec("difference_avg_retention_rate_pct", "Average retention rate: each policy minus the reference.",
               _difference("avg_retention_rate_pct"), CUSTOMERS, paired=True),
    FigureSpec("profit_waterfall", "Where the profit comes from: revenues up, costs down, mean over the horizon.",
               _monthly(plots.plot_profit_waterfall), MONEY, report=True),
    FigureSpec("tickets", "Demand for support: tickets raised, issues suppressed by fees, tickets abandoned.",
               _monthly(plots.plot_tickets), DESK, report=True),
    FigureSpec("wait_times", "First-response waits per month (mean and 90th percentile).",
               _monthly(plots.plot_wait_times), DESK, report=True),
    FigureSpec("sla_attainment", "Share of answered tickets that met their first-response target.",
               _monthly(plots.plot_sla), DESK, report=True),
    FigureSpec("utilisation", "Agent utilisation: how busy the desk staffed each month is.",
               _utilisation, DESK, run=False),
    FigureSpec("satisfaction", "Satisfaction ladder: shares of paying customers on each level.",
               _monthly(plots.plot_satisfaction), LADDER, report=True),
)
BY_NAME = {f.name: f for f in FIGURES}


def applicable(n_policies: int) -> list[FigureSpec]:
    """The figures a run of ``n_policies`` policies has (paired ones need two or more)."""
    return [f for f in FIGURES if not f.paired or n_policies > 1]


def in_tab(tab: str, n_policies: int) -> list[FigureSpec]:
    return [f for f in applicable(n_policies) if f.tab == tab]


def for_report(n_policies: int) -> list[FigureSpec]:
    return [f for f in applicable(n_policies) if f.report]


def draw(name: str, res: Results) -> Axes:
    """Draw figure ``name`` of ``res``."""
    return BY_NAME[name].draw(res)


def run_figures(res: Results) -> Iterator[tuple[str, Axes]]:
    """(name, Axes) of every figure ``supportsim run`` saves, drawn one at a time."""
    for f in applicable(len(res.policies)):
        if f.run:
            yield f.name, f.draw(res)


def save_run_figures(res: Results, folder: Path) -> list[Path]:
    """Every figure of a run, as PNG, SVG and PDF, in ``folder``."""
    out: list[Path] = []
    for name, ax in run_figures(res):
        out += plots.save_figure(ax.figure, Path(folder) / name)
    return out
