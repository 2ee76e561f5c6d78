"""Does the terminal value predict what the horizon's customers go on to pay? (docs/value.md, "Value")

    .venv/bin/python scripts/terminal_value_check.py                                   # baseline, 4 replications
    .venv/bin/python scripts/terminal_value_check.py --scenario scenarios/netflix.toml --set support.sla_clock=calendar

For every policy of the scenario: run its months, then follow the customers paying at the horizon
for ``--years`` more years with nobody new acquired (``model.Runoff``), and print per segment the
discounted margin the terminal value predicts over those years (its Markov chain cut there) against
the one the re-simulation realised, summed over replications.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from sim.engine import model
from sim.params.scenario import ScenarioError, load, resolve_policies

ROOT = Path(__file__).resolve().parent.parent


def _one(job: tuple) -> tuple[np.ndarray, np.ndarray]:
    params, months, seed, replication, runoff = job
    ro = model.Runoff(runoff)
    model.run(params, months=months, seed=seed, replication=replication, runoff=ro)
    return ro.predicted_usd, ro.realised_usd


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "baseline.toml")
    ap.add_argument("--replications", type=int, default=4)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    args = ap.parse_args(argv)
    try:
        sc = load(args.scenario, args.set or None)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{args.scenario.name} {' '.join(args.set)}: {sc.run.months} months, then {args.years} years with nobody "
          f"new; {args.replications} replications\n")
    print("| policy | segment | predicted | realised | realised / predicted - 1 |")
    print("|---|---|---|---|---|")
    with ProcessPoolExecutor(args.workers) as ex:
        for pol in resolve_policies(sc):
            jobs = [(pol.params, sc.run.months, sc.run.seed, r, 12 * args.years) for r in range(args.replications)]
            res = list(ex.map(_one, jobs))
            pred, real = sum(a for a, _ in res), sum(b for _, b in res)
            for name, p, q in zip((s.name for s in pol.params.customers.segments), pred, real):
                print(f"| {pol.name} | {name} | ${p / 1e6:,.3f}M | ${q / 1e6:,.3f}M | {q / p - 1:+.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
