"""Make the bundled preset examples: one model run, exported in each helpdesk's and billing tool's layout.

    .venv/bin/python examples/calibration/make_presets.py        # writes presets/*.csv beside this file

The scenario is ``presets/truth.toml`` (its ``run.months`` and ``run.seed``). Tickets are written as
Zendesk, Freshdesk, Intercom and Help Scout export them, customers as Stripe and Chargebee do
(``sim.calibrate.layouts``); customers are named by e-mail in both, the key the tools share.
Deterministic: the same scenario and seed give byte-identical files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.base.atomic import atomic_write
from sim.calibrate import exports_from_trace
from sim.calibrate.layouts import customer_layout, ticket_layout
from sim.engine import model
from sim.params.scenario import load, resolve_policies

HERE = Path(__file__).resolve().parent / "presets"
TICKETS = ("zendesk", "freshdesk", "intercom", "helpscout")
CUSTOMERS = ("stripe", "chargebee")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=HERE / "truth.toml")
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args(argv)
    scenario = load(args.scenario)
    params = resolve_policies(scenario)[0].params
    trace = model.Trace()
    model.run(params, months=scenario.run.months, seed=scenario.run.seed, trace=trace)
    customers, tickets = exports_from_trace(trace, params=params, seed=scenario.run.seed)
    frames = {f"{p}_tickets.csv": ticket_layout(p, tickets) for p in TICKETS}
    frames |= {f"{p}_customers.csv": customer_layout(p, customers) for p in CUSTOMERS}
    for name, frame in frames.items():
        atomic_write(args.out / name, lambda tmp, f=frame: f.to_csv(tmp, index=False, lineterminator="\n"))
        print(f"wrote {args.out / name} ({len(frame):,} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
