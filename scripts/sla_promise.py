"""What decides flat vs tiered at the defaults: the first-response promise and the clock it runs on.

    .venv/bin/python scripts/sla_promise.py                          # netflix, 6 replications
    .venv/bin/python scripts/sla_promise.py --scenario scenarios/baseline.toml --replications 10

Runs flat and tiered of the scenario (common random numbers) under the file's settings and
three variants of what customers are promised and how they time it, and prints the paired
difference tiered - flat in value_usd and in paying customers at the horizon (mean and 95% CI):

- the file as it is: flat and metered schemes promise ``support.sla_target_h`` (4 h) to every
  plan, tiered promises each plan its ``tier_sla_h`` (24 h starter, 8 h growth, 2 h business),
  on business hours (the default SLA clock);
- tiered promises every plan 4 h (the promise made equal, priorities and fees kept);
- tiered charges no fees (the promise and priorities kept);
- flat promises 24 h (the starter plan's tiered promise, to everyone);
- the SLA runs on the calendar (``support.sla_clock = "calendar"``).

docs/findings.md ("What decides flat vs tiered") quotes its output.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sim.params.scenario import ScenarioError, load
from sim.runs import metrics
from sim.runs.experiment import run_scenario
from sim.runs.options import RunOptions

ROOT = Path(__file__).resolve().parent.parent


def variants(segments: int) -> dict[str, list[str]]:
    return {
        "as in the file": [],
        "tiered promises every plan 4 h": [f"customers.segments.{i}.tier_sla_h=4" for i in range(segments)],
        "tiered charges no fees": [f"customers.segments.{i}.tier_ticket_fee_usd=0" for i in range(segments)],
        "flat promises 24 h": ["support.sla_target_h=24"],
        "SLA on the calendar clock": ["support.sla_clock=calendar"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "netflix.toml")
    ap.add_argument("--replications", type=int, default=6)
    ap.add_argument("--workers", type=int, default=1, help="worker processes (the same numbers for any count)")
    args = ap.parse_args(argv)
    try:
        base = load(args.scenario)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not {"flat", "tiered"} <= set(base.policies):
        print(f"{args.scenario}: needs policies named flat and tiered", file=sys.stderr)
        return 2
    start = time.perf_counter()
    print(f"{args.scenario.name}: tiered - flat, {base.run.months} months, {args.replications} replications (CRN), "
          "paired 95% CI\n")
    print("| variant | Δ value_usd | Δ customers at horizon |")
    print("|---|---|---|")
    for name, overrides in variants(len(base.customers.segments)).items():
        sc = load(args.scenario, [*overrides, f"run.replications={args.replications}"])
        sc = sc.model_copy(update={"policies": {k: sc.policies[k] for k in ("flat", "tiered")}})
        kpis = run_scenario(sc, options=RunOptions(workers=args.workers)).kpis
        d = metrics.paired_differences(kpis, "flat", ["flat", "tiered"],
                                       ["value_usd", "customers_at_horizon"])["tiered"]
        v, c = d["value_usd"], d["customers_at_horizon"]
        print(f"| {name} | {v['mean'] / 1e6:+.2f}M [{v['ci_low'] / 1e6:+.2f}, {v['ci_high'] / 1e6:+.2f}] "
              f"| {c['mean']:+.0f} [{c['ci_low']:+.0f}, {c['ci_high']:+.0f}] |", flush=True)
    print(f"\n{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
