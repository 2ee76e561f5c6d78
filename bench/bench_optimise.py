"""Benchmark: `supportsim optimise` on the baseline ("200 trials x 4 replications in at most
5 minutes on 2 cores").

    .venv/bin/python bench/bench_optimise.py [--trials 200] [--replications 4] [--workers 2] [--out DIR]

Times :func:`sim.runs.optimise.optimise` on ``scenarios/baseline.toml``, policy ``per_ticket``,
over four parameters (per-ticket fee, free tickets, price multiplier, first-response promise on
a log scale) with a retention constraint: the search (trials x replications runs), then the
selection on fresh replications; then the writing of optimum.json, trials.csv, optimum.toml and
the figures separately. Prints wall time, the CPU time of this process and its workers, the
model runs per second, the load average (``os.getloadavg()``) before and after (the machine may
be shared: a load above the core count means the figure is pessimistic), and the answer.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from sim.output.optimise_files import answer, write_optimise
from sim.params.scenario import load
from sim.runs.optimise import optimise
from sim.runs.options import RunOptions

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 300.0
PARAMS = ["pricing.per_ticket_fee_usd=0:60", "pricing.included_tickets_per_month=0:5",
          "pricing.price_multiplier=0.8:1.6", "support.sla_target_h=1:48:log"]


def _cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "baseline.toml")
    ap.add_argument("--policy", default="per_ticket")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--replications", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, help="keep the written output here (default: a temporary folder)")
    args = ap.parse_args(argv)

    scenario = load(args.scenario)
    runs = {"n": 0}

    def count(done: int, total: int) -> None:
        runs["n"] = done

    load_before = _load()
    cpu0, t0 = _cpu_s(), time.perf_counter()
    result = optimise(scenario, policy=args.policy, params=PARAMS, constraints=["avg_retention_rate_pct>=94"],
                      trials=args.trials,
                      options=RunOptions(replications=args.replications, workers=args.workers, on_progress=count))
    wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    search_runs = args.trials * args.replications
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_optimise(result, args.out or Path(tmp) / "opt", force=True)
    write_s = time.perf_counter() - t1
    print(f"scenario {args.scenario.name}, policy {args.policy}: {args.trials} trials x {args.replications} "
          f"replications = {search_runs} search runs, {runs['n'] - search_runs} selection runs on fresh replications "
          f"({result.guarantee['candidates']} candidates), {args.workers} workers")
    print(f"wall {wall:.1f} s (target <= {TARGET_S:.0f} s: {'met' if wall <= TARGET_S else 'NOT met'}), "
          f"CPU {cpu:.1f} s, {runs['n'] / wall:.2f} runs/s, {cpu / max(runs['n'], 1):.3f} CPU-s per run; "
          f"writing outputs and figures {write_s:.1f} s")
    print(f"load average (1, 5, 15 min) before: {load_before}; after: {_load()}; cores: {os.cpu_count()}")
    print("\n".join(answer(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
