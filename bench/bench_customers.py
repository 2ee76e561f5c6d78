"""Speed of the customer-month step and of a full run per ticket (issue 11): printed figures.

    .venv/bin/python bench/bench_customers.py            # 100k customers x 12 months; 10k x 12 per ticket
    .venv/bin/python bench/bench_customers.py --quick    # small sizes

- customer-months/s: one model run with every segment's issue rate at 0 (no tickets: the
  vectorised customer step alone: trials, ladder, churn, money, acquisition, terminal value),
  CPU time of this process, best of 3. Goal >= 8 M customer-months/s (3.4-4.1 M before).
- per ticket: a full run (baseline flat, Erlang staffing probed then held fixed) vs a bare
  process-based SimPy M/M/c loop at the same load (``run_benchmarks.efficiency``): the ratio of
  tickets per CPU second (1.23x before; goal: no more than 15% lower).
The load average is printed: on a shared machine it explains the noise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run_benchmarks import efficiency, load_avg  # noqa: E402

from sim.engine import model  # noqa: E402
from sim.params.schema import Params  # noqa: E402


def customer_months_per_s(customers: int, months: int) -> float:
    segs = [s.model_dump() for s in Params().customers.segments]
    for s in segs:
        s["issue_rate_per_month"] = 0.0
    params = Params.model_validate({"customers": {"initial": customers, "segments": segs}})
    best = float("inf")
    for _ in range(3):
        c = time.process_time()
        model.run(params, months=months, seed=1)
        best = min(best, time.process_time() - c)
    return customers * months / best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    customers, months = (20_000, 6) if args.quick else (100_000, 12)
    rate = customer_months_per_s(customers, months)
    print(f"customer-month step (issue rates 0), {customers:,} customers x {months} months: "
          f"{rate / 1e6:.2f} M customer-months/s (CPU, best of 3); {load_avg()}")
    e = efficiency(args.quick)
    print(f"per ticket: model {e['model_tickets_per_s']:,.0f} tickets/CPU-s, bare SimPy M/M/c "
          f"{e['bare_tickets_per_s']:,.0f}; ratio model/bare {e['ratio']:.2f}x "
          f"({e['customers']:,} customers x {e['months']} months, {e['tickets']:,} tickets, {e['agents']} agents); "
          f"{load_avg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
