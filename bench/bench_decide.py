"""Benchmark: `supportsim decide` on the baseline ("200 samples x every policy x 1 replication
in at most 5 minutes on 2 idle cores").

    .venv/bin/python bench/bench_decide.py [--samples 200] [--workers 2] [--sobol] [--out DIR]

Times :func:`sim.decision.psa.run_decision` on ``scenarios/baseline.toml`` with its uncertainty
table (parameter draws, every model run, the EVPI/EVPPI regressions, the decision map), then
the writing of decision.json, psa.csv and the plots separately. Prints wall time, the CPU time
of this process and its workers, the model runs per second, the load average before and after
(the machine may be shared: a load above the core count means the figure is pessimistic), and
the three-line answer.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from sim.decision.psa import run_decision
from sim.output.decision_files import write_decision
from sim.params.scenario import load
from sim.runs.options import RunOptions

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 300.0


def _cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "n/a"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "baseline.toml")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--replications", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sobol", action="store_true")
    ap.add_argument("--out", type=Path, help="keep the written output here (default: a temporary folder)")
    args = ap.parse_args(argv)

    scenario = load(args.scenario)
    policies = len(scenario.policies)
    print(f"scenario {args.scenario.name}: {policies} policies, {len(scenario.uncertainty)} uncertain parameters, "
          f"{scenario.customers.initial} customers x {scenario.run.months} months; {args.samples} samples x "
          f"{args.replications} replication(s), {args.workers} workers, {os.cpu_count()} cores")
    print(f"load average before: {_load()}")
    cpu0, t0 = _cpu_s(), time.perf_counter()
    result = run_decision(scenario, samples=args.samples, sobol=args.sobol,
                          options=RunOptions(replications=args.replications, workers=args.workers))
    wall = time.perf_counter() - t0
    cpu = _cpu_s() - cpu0
    runs = args.samples * args.replications * policies + (result.sobol_meta.get("points", 0) * 2 * args.replications)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_decision(result, args.out or Path(tmp) / "decide")
    write_s = time.perf_counter() - t1
    print(f"load average after:  {_load()}")
    print(f"run_decision: {wall:,.1f} s wall, {cpu:,.1f} s CPU, {runs} model runs, {runs / wall:,.2f} runs/s "
          f"({wall / TARGET_S:.2f} of the {TARGET_S:.0f} s target)")
    print(f"write_decision (decision.json, psa.csv, plots): {write_s:,.1f} s")
    print("\n".join(result.answer()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
