"""Make the bundled calibration dataset: run the model once on a known scenario, export as CSV.

    .venv/bin/python examples/calibration/make_data.py            # writes customers.csv, tickets.csv here

The scenario is ``truth.toml`` beside this file (its ``run.months`` and ``run.seed``); the
exports follow the format ``supportsim calibrate`` reads (docs/calibration.md). Deterministic:
the same scenario and seed give byte-identical files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.base.atomic import atomic_write
from sim.calibrate import exports_from_trace
from sim.engine import model
from sim.params.scenario import load, resolve_policies

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=HERE / "truth.toml")
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--start", default="2024-01-01", help="calendar date of month 0")
    args = ap.parse_args(argv)
    scenario = load(args.scenario)
    params = resolve_policies(scenario)[0].params
    trace = model.Trace()
    model.run(params, months=scenario.run.months, seed=scenario.run.seed, trace=trace)
    customers, tickets = exports_from_trace(trace, params=params, start=args.start, seed=scenario.run.seed)
    for name, frame in (("customers.csv", customers), ("tickets.csv", tickets)):
        atomic_write(args.out / name, lambda tmp, f=frame: f.to_csv(tmp, index=False, lineterminator="\n"))
    print(f"wrote {args.out / 'customers.csv'} ({len(customers):,} rows) and "
          f"{args.out / 'tickets.csv'} ({len(tickets):,} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
