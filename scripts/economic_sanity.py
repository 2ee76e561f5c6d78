"""The economic sanity checks of docs/validation.md (issue 11): printed figures.

    .venv/bin/python scripts/economic_sanity.py                      # every check (~15 min on 2 busy cores)
    .venv/bin/python scripts/economic_sanity.py --only churn,steady  # some of them

Checks (value_usd unless stated; paired differences vs flat with 95% CIs, 10 replications):
- scenarios: every policy of baseline (24 and 48 months), netflix (36 and 24 months) and
  metered_wins: value, cumulative profit, customers at the horizon, realised CAC, and the
  bridge of each difference (subscription, fees, support cost, acquisition, VIP, loyalty,
  terminal value).
- churn: flat with the starter segment's base churn at 2%, 4% (default) and 12% a month,
  36 months, 6 replications: value and cumulative profit must fall as churn rises.
- steady: zero growth, full replacement, 1,000 customers, 48 months, 6 replications: paying
  customers at the end vs the start.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from sim.engine import model
from sim.params.scenario import load
from sim.params.schema import Params
from sim.runs import metrics
from sim.runs.experiment import run_scenario
from sim.runs.options import RunOptions

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = [("baseline", []), ("baseline", ["run.months=48"]), ("netflix", []), ("netflix", ["run.months=24"]),
             ("metered_wins", [])]


def _ci(d: dict[str, float], scale: float = 1e3, unit: str = "k") -> str:
    return f"{d['mean'] / scale:+,.0f}{unit} [{d['ci_low'] / scale:+,.0f}, {d['ci_high'] / scale:+,.0f}]"


def scenarios(reps: int) -> None:
    for name, over in SCENARIOS:
        res = run_scenario(load(ROOT / "scenarios" / f"{name}.toml", over or None),
                           options=RunOptions(replications=reps, workers=2))
        s, d, b = res.summary(), res.differences(), res.bridge()
        print(f"\n{name} {' '.join(over)} ({res.scenario.run.months} months, {reps} replications)\n")
        print("| policy | value_usd | cumulative profit | customers at horizon | realised CAC |")
        print("|---|---|---|---|---|")
        for p in res.policies:
            k = s[p]
            print(f"| {p} | ${k['value_usd']['mean'] / 1e6:.2f}M | ${k['cumulative_profit']['mean'] / 1e6:.2f}M | "
                  f"{k['customers_at_horizon']['mean']:,.0f} | ${k['cac_realised_usd']['mean']:,.0f} |")
        print("\n| vs flat | Δ value_usd | Δ cumulative profit | bridge (Δ present values) |")
        print("|---|---|---|---|")
        for p, diff in d.items():
            parts = ", ".join(f"{c[3:]} {v['mean'] / 1e3:+,.0f}k" for c, v in b[p].items() if c.startswith("pv_"))
            print(f"| {p} | {_ci(diff['value_usd'])} | {_ci(diff['cumulative_profit'])} | {parts} |")


def _run_kpis(params: Params, months: int, reps: int) -> pd.DataFrame:
    return pd.DataFrame([metrics.run_kpis(pd.DataFrame(model.run(params, months=months, seed=11, replication=r)))
                         for r in range(reps)])


def churn(reps: int = 6) -> None:
    print("\nflat, starter base churn varied (36 months, 6 replications, 2,000 customers)\n")
    print("| starter churn / month | value_usd | cumulative profit | customers at horizon |")
    print("|---|---|---|---|")
    for rate in (0.02, 0.04, 0.12):
        segs = [s.model_dump() for s in Params().customers.segments]
        segs[0]["base_churn_per_month"] = rate
        k = _run_kpis(Params.model_validate({"customers": {"initial": 2000, "segments": segs}}), 36, reps)
        print(f"| {rate:.0%} | ${k['value_usd'].mean() / 1e6:.2f}M | ${k['cumulative_profit'].mean() / 1e6:.2f}M | "
              f"{k['customers_at_horizon'].mean():,.0f} |")


def steady(reps: int = 6) -> None:
    p = Params.model_validate({"customers": {"initial": 1000}})
    ends = np.array([pd.DataFrame(model.run(p, months=48, seed=9, replication=r))["customers_end"].to_numpy()
                     for r in range(reps)])
    change = metrics.t_interval(ends[:, -1] - 1000)
    print(f"\nsteady start: 1,000 paying customers, 48 months, {reps} replications: change at the end "
          f"{change['mean']:+.1f} [{change['ci_low']:+.1f}, {change['ci_high']:+.1f}]; path (mean, every 12 months): "
          f"{', '.join(f'{x:,.0f}' for x in ends.mean(axis=0)[::12])}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="scenarios,churn,steady")
    ap.add_argument("--replications", type=int, default=10)
    args = ap.parse_args(argv)
    only = args.only.split(",")
    if "scenarios" in only:
        scenarios(args.replications)
    if "churn" in only:
        churn()
    if "steady" in only:
        steady()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
