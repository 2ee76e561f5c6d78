"""The figure registry: every figure of a run declared once, with where it is shown.

Where it sits: runs (``Results``) -> plots (drawing functions) -> **figures** -> files
(``supportsim run`` saves them), report, app. A figure's name (its file stem), caption, how
it is drawn from a ``Results``, its app tab and whether the report embeds it live here and
nowhere else: adding a figure is one plot function plus one entry below.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from matplotlib.axes import Axes

from sim.output import findings, plots, time_plots
from sim.runs import metrics
from sim.runs.promises import promises_table
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
    each_policy: bool = False  # one figure per policy other than the reference (name_<policy>)


def _monthly(fn: Callable[..., Axes], kpi: str | None = None, subtitle: str | None = None) -> Callable[[Results], Axes]:
    """Draw ``fn`` of the monthly table; with ``kpi``, the title states the finding in that KPI
    (best policy vs runner-up) and ``subtitle`` says what is plotted."""

    def draw(res: Results) -> Axes:
        ax = fn(res.monthly, meta=plots.Meta.of(res), policies=res.policies)
        if kpi is not None and len(res.policies) > 1:
            plots.headline(ax, findings.headline(res, kpi), subtitle and subtitle.format(n=res.replications))
        return ax

    return draw


def _promises(res: Results) -> dict[str, tuple[list[float], str]]:
    """Per policy of ``res``, the first responses it promises its plans (h) and their clock."""
    table = promises_table(res.scenario)
    return {p: (list(g["promise_h"]), str(g["clock"].iloc[0])) for p, g in table.groupby("policy", sort=False)}


def _desk(fn: Callable[..., Axes], measure: str, subtitle: str, *, promises: bool = False) -> Callable[[Results], Axes]:
    """Draw a desk chart of the monthly table titled with its finding
    (:func:`sim.output.findings.desk_headline`); ``subtitle`` says what is plotted; with
    ``promises``, each policy's promises are drawn too."""

    def draw(res: Results) -> Axes:
        extra = {"promises": _promises(res)} if promises else {}
        ax = fn(res.monthly, meta=plots.Meta.of(res), policies=res.policies, **extra)
        if len(res.policies) > 1:
            plots.headline(ax, findings.desk_headline(res, measure), subtitle.format(n=res.replications))
        return ax

    return draw


def _difference(kpi: str) -> Callable[[Results], Axes]:
    def draw(res: Results) -> Axes:
        ax = plots.plot_differences(res.differences(), reference=res.reference, kpi=kpi,
                                    meta=plots.Meta.of(res), policies=res.policies)
        others = [p for p in findings.ranking(res, kpi) if p != res.reference]
        return plots.headline(ax, findings.compare(res, kpi, others[0], res.reference).text)

    return draw


def draw_bridge(res: Results, policy: str | None = None) -> Axes:
    """The value bridge of ``policy`` (default: the best other than the reference) vs the reference."""
    policy = policy or next(p for p in findings.ranking(res) if p != res.reference)
    ax = plots.plot_bridge(res.bridge()[policy], policy=policy, reference=res.reference, meta=plots.Meta.of(res))
    return plots.headline(ax, findings.compare(res, "value_usd", policy, res.reference, subject=policy).text)


def _utilisation(res: Results) -> Axes:
    return time_plots.plot_band(res.monthly, "agent_utilization", policies=res.policies, meta=plots.Meta.of(res),
                           scale=100.0, title="Agent utilisation by support policy",
                           ylabel="Share of paid agent time spent on tickets and VIP work (%)")


def _satisfaction(res: Results) -> Axes:
    """The ladder, titled with the share below expectations in the last month: most vs fewest."""
    ax = time_plots.plot_satisfaction(res.monthly, meta=plots.Meta.of(res), policies=res.policies)
    if len(res.policies) < 2:
        return ax
    last = res.monthly[res.monthly["month"] == res.monthly["month"].max()]
    below = {p: metrics.t_interval(100 * last.loc[last["policy"] == p, "share_below"]) for p in res.policies}
    worst = max(res.policies, key=lambda p: below[p]["mean"])
    best = min(res.policies, key=lambda p: below[p]["mean"])
    meta = plots.Meta.of(res)

    def pct(p: str) -> str:
        s = below[p]
        ci = f" (95% CI {max(s['ci_low'], 0):.0f}–{min(s['ci_high'], 100):.0f}%)" if s["ci_low"] == s["ci_low"] else ""
        return f"{s['mean']:.0f}%{ci}"

    finding = (f"{meta.label(worst)} leaves {pct(worst)} of paying customers below expectations by month "
               f"{res.scenario.run.months}; {meta.label(best)} {pct(best)}")
    finding = textwrap.fill(finding, 80)  # two lines, clear of the legend on the right
    title = ax.title.get_text()  # the first panel's policy label keeps its look
    style = {"fontsize": ax.title.get_fontsize(), "fontweight": ax.title.get_fontweight(),
             "color": ax.title.get_color()}
    plots.headline(ax, finding)
    ax.set_title(title, **style)
    ax.figure._suptitle.set_x(0.42)  # type: ignore[union-attr]  # centred over the panels, not the legend
    return ax


BAND = "{what}: mean per month and 95% CI band across {{n}} replications"


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("value_bridge", "Where the difference in value comes from: each part of value, this policy minus "
               "the reference (paired by replication), adding up to the total with its 95% CI.",
               draw_bridge, MONEY, report=True, paired=True, each_policy=True),
    FigureSpec("cumulative_profit", "Cumulative profit: which policy earns most, and when the lines part.",
               _monthly(time_plots.plot_cumulative_profit, "cumulative_profit",
                        BAND.format(what="Cumulative profit")), MONEY, report=True),
    FigureSpec("difference_cumulative_profit", "Paired difference of cumulative profit against the reference policy.",
               _difference("cumulative_profit"), MONEY, report=True, paired=True),
    FigureSpec("customers", "Paying customers at each month's end (mean and 95% CI).",
               _monthly(time_plots.plot_customers, "customers_at_horizon", BAND.format(what="Paying customers at month end")),
               CUSTOMERS, report=True),
    FigureSpec("retention_rate", "Retention rate per month, ((C − B) / A) × 100.",
               _monthly(time_plots.plot_retention, "avg_retention_rate_pct", BAND.format(what="Monthly retention rate")),
               CUSTOMERS, report=True),
    FigureSpec("difference_avg_retention_rate_pct", "Average retention rate: each policy minus the reference.",
               _difference("avg_retention_rate_pct"), CUSTOMERS, paired=True),
    FigureSpec("tickets", "Demand for support: tickets raised, issues suppressed by fees, tickets abandoned.",
               _monthly(time_plots.plot_tickets, "suppressed_share",
                        "Tickets per month: mean over {n} replications with 95% CIs"), DESK, report=True),
    FigureSpec("wait_times", "First-response waits per month (mean and 90th percentile).",
               _desk(time_plots.plot_wait_times, "wait_mean_h",
                     "First-response waits (calendar hours): each box holds every month of every replication; "
                     "lines: what each policy promises", promises=True), DESK, report=True),
    FigureSpec("sla_attainment", "Share of answered tickets that met their first-response target.",
               _desk(time_plots.plot_sla, "sla_met_share", BAND.format(what="Answered tickets within their SLA")),
               DESK, report=True),
    FigureSpec("utilisation", "Agent utilisation: how busy the desk staffed each month is.",
               _utilisation, DESK, run=False),
    FigureSpec("satisfaction", "Satisfaction ladder: shares of paying customers on each level.",
               _satisfaction, LADDER, report=True),
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
    """Draw figure ``name`` of ``res`` (``value_bridge_<policy>``: the bridge of that policy)."""
    if name not in BY_NAME and name.startswith("value_bridge_"):
        return draw_bridge(res, name.removeprefix("value_bridge_"))
    return BY_NAME[name].draw(res)


def expand(f: FigureSpec, res: Results) -> Iterator[tuple[str, Callable[[], Axes]]]:
    """(name, draw) of each figure ``f`` makes of ``res``: one, or one per policy other than the
    reference for a per-policy figure (the bridge)."""
    if not f.each_policy:
        yield f.name, lambda: f.draw(res)
        return
    for p in res.policies:
        if p != res.reference:
            yield f"{f.name}_{p}", lambda p=p: draw_bridge(res, p)


def report_figures(res: Results) -> list[tuple[str, str, Callable[[], Axes]]]:
    """(name, caption, draw) of every figure report.html embeds, in registry order."""
    return [(name, f.caption, make) for f in for_report(len(res.policies)) for name, make in expand(f, res)]


def run_figures(res: Results) -> Iterator[tuple[str, Axes]]:
    """(name, Axes) of every figure ``supportsim run`` saves, drawn one at a time."""
    for f in applicable(len(res.policies)):
        if f.run:
            for name, make in expand(f, res):
                yield name, make()


def save_run_figures(res: Results, folder: Path, *, pdf: bool = False) -> list[Path]:
    """Every figure of a run, as PNG and SVG (and PDF with ``pdf``), in ``folder``."""
    out: list[Path] = []
    for name, ax in run_figures(res):
        out += plots.save_figure(ax.figure, Path(folder) / name, formats=plots.WITH_PDF if pdf else plots.FORMATS)
    return out
