"""CPU time of one run of the default scenario, and of the desk within it.

    .venv/bin/python bench/bench_run.py                      # this checkout
    .venv/bin/python bench/bench_run.py --tree /tmp/old      # another checkout (A/B: run both)
    .venv/bin/python bench/bench_run.py --reps 5 --scenario scenarios/netflix.toml

Runs every policy of the scenario for ``--reps`` replications in this process (no workers)
and prints CPU seconds (``time.process_time``: not wall time, so a busy machine moves the
figures less) per run and per ticket served or abandoned, the share of the run spent in the
desk's module and SimPy's (from a profile of one replication), and a digest of the monthly
tables, so that two checkouts that should agree can be seen to. Run it on two checkouts
(``git worktree add /tmp/old REV``) for a before/after ratio; the load average is printed.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", default=str(ROOT), help="checkout whose sim/ is timed (default: this one)")
    parser.add_argument("--scenario", default="scenarios/baseline.toml", help="scenario file, relative to --tree")
    parser.add_argument("--reps", type=int, default=3, help="replications timed (after one untimed warm-up run)")
    args = parser.parse_args()
    tree = Path(args.tree).resolve()
    sys.path.insert(0, str(tree))

    import sim
    from sim.params.scenario import load, resolve_policies
    from sim.runs.experiment import jobs, run_job

    if Path(sim.__file__).resolve().parent.parent != tree:
        raise SystemExit(f"imported sim from {sim.__file__}, not from {tree}")
    scenario = load(tree / args.scenario)
    job_list = jobs(resolve_policies(scenario), replications=args.reps, months=scenario.run.months,
                    seed=scenario.run.seed)
    run_job(job_list[0])  # imports and first-call costs out of the timing
    digest = hashlib.sha256()
    tickets = 0
    t0 = time.process_time()
    for job in job_list:
        monthly = run_job(job)
        digest.update(monthly.drop(columns=["supportsim_version"], errors="ignore").to_csv(index=False).encode())
        tickets += int(monthly["tickets_resolved"].sum() + monthly["tickets_abandoned"].sum())
    cpu = time.process_time() - t0
    first_rep = [j for j in job_list if j.replication == 0]
    profile = cProfile.Profile()
    profile.runcall(lambda: [run_job(j) for j in first_rep])
    stats = pstats.Stats(profile)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]

    def share(fragment: str) -> float:
        return sum(v[2] for k, v in stats.stats.items() if fragment in k[0]) / total  # type: ignore[attr-defined]

    runs = len(job_list)
    print(f"tree {tree} ({args.scenario}, {runs} runs = {len(first_rep)} policies x {args.reps} replications, "
          f"load {' '.join(f'{x:.1f}' for x in os.getloadavg())})")
    print(f"  CPU per run        {cpu / runs:.3f} s")
    print(f"  CPU per ticket     {cpu / max(tickets, 1) * 1e6:.1f} us  ({tickets / runs:,.0f} tickets a run)")
    print(f"  profile (own time) desk {share('sim/engine/desk.py'):.0%}, simpy {share('simpy'):.0%}")
    print(f"  monthly digest     {digest.hexdigest()[:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
