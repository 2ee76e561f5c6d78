"""The desk at a glance for one scenario: cost, paid hours, and waits / SLA by tier; the desk plots.

    .venv/bin/python scripts/desk_report.py scenarios/baseline.toml [--replications 3] [--months 24]
        [--set path=value ...] [--plots DIR]

Runs every policy with a ``DeskLog`` (``sim.engine.desk``), prints per policy the fully loaded
cost per resolved ticket (support cost / tickets resolved), support cost as a share of revenue
(subscription + support revenue), paid agent-hours a month (rostered + overtime), and per tier
the mean first-response wait (calendar hours), the share answered within SLA and the abandoned
share; with ``--plots`` it saves the four figures of ``sim.output.desk_plots`` as PNG. Until the
desk tables are part of the run results (the figure registry), this is how to draw them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone without installing

from sim.engine import model  # noqa: E402
from sim.engine.desk import DeskLog  # noqa: E402
from sim.output import desk_plots  # noqa: E402
from sim.output.plots import Meta, save_figure  # noqa: E402
from sim.params.scenario import load, resolve_policies  # noqa: E402


def desk_tables(path: Path, overrides: list[str], replications: int, months: int
                ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(monthly, hourly, roster) tidy tables with policy and replication columns."""
    scenario = load(path, overrides)
    monthly, hourly, roster = [], [], []
    for pol in resolve_policies(scenario):
        for r in range(replications):
            log = DeskLog([s.name for s in pol.params.customers.segments])
            rows = model.run(pol.params, months=months, seed=scenario.run.seed, replication=r, desk_log=log)
            monthly += [dict(policy=pol.name, replication=r, **x) for x in rows]
            tables = log.tables()
            hourly += [dict(policy=pol.name, replication=r, **x) for x in tables["hourly"]]
            roster += [dict(policy=pol.name, replication=r, **x) for x in tables["roster"]]
    return pd.DataFrame(monthly), pd.DataFrame(hourly), pd.DataFrame(roster)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--replications", type=int, default=3)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--plots", type=Path)
    args = ap.parse_args(argv)
    monthly, hourly, roster = desk_tables(args.scenario, args.overrides, args.replications, args.months)
    g = monthly.groupby("policy", sort=False)
    money = pd.DataFrame({
        "cost per resolved ticket USD": g["support_cost"].sum() / g["tickets_resolved"].sum(),
        "support cost / revenue %": 100 * g["support_cost"].sum()
        / (g["subscription_revenue"].sum() + g["support_revenue"].sum()),
        "paid agent-h / month": g["agent_hours_paid"].mean(),
        "overtime h / month": g["agent_hours_overtime"].mean(),
        "utilisation": g["agent_utilization"].mean(),
        "tickets raised / month": g["tickets_raised"].mean(),
    })
    print(f"{args.scenario} ({args.replications} replications x {args.months} months; {' '.join(args.overrides)})\n")
    print(money.round(2).to_string())
    tiers = desk_plots.tier_means(hourly)[["policy", "tier", "tickets_served", "wait_mean_h", "sla_met_share",
                                            "abandoned_share"]]
    print()
    print(tiers.round(3).to_string(index=False))
    if args.plots:
        meta = Meta(args.scenario.stem, "-" * 64, args.replications)
        figures = {"desk_wait_heatmap": desk_plots.plot_wait_heatmap(hourly, meta=meta),
                   "desk_sla_heatmap": desk_plots.plot_sla_heatmap(hourly, meta=meta),
                   "desk_by_tier": desk_plots.plot_desk_by_tier(hourly, meta=meta),
                   "desk_roster": desk_plots.plot_roster_vs_load(roster, meta=meta)}
        for name, ax in figures.items():
            save_figure(ax.figure, args.plots / name, formats=("png",))
    return 0


if __name__ == "__main__":
    sys.exit(main())
