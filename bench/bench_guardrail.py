"""The guardrail's estimate against measured CPU time, corner by corner (its calibration).

    .venv/bin/python bench/bench_guardrail.py            # every corner, a few seconds to a minute each
    .venv/bin/python bench/bench_guardrail.py --quick    # smaller corners

Each corner is one model run (or the figures of a run with many policies) timed
in this process with ``time.process_time`` (CPU seconds, so a busy machine moves it less), next
to :mod:`sim.runs.guardrails`' estimate of the same work in seconds (its customer-month
equivalents / CUSTOMER_MONTHS_PER_SECOND). The constants of the guardrail were set from this
table (see the comment above them); the estimate should stay at or above the measurement
(an upper bound) without being orders of magnitude above it. The load average is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from sim.runs.options import RunOptions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def corners(quick: bool) -> dict[str, str]:
    """Scenario TOML per corner: tiny runs (fixed costs), a big population, many tickets, an
    overloaded desk, VIP touches."""
    big = 4_000 if quick else 20_000
    return {
        "one customer, 36 months": "[customers]\ninitial = 1\n[run]\nmonths = 36\n",
        "one customer, 6 months": "[customers]\ninitial = 1\n[run]\nmonths = 6\n",
        f"{big:,} customers, 12 months": f"[customers]\ninitial = {big}\n[run]\nmonths = 12\n",
        f"{big:,} customers, many tickets": (f"[customers]\ninitial = {big}\n[[customers.segments]]\nname = \"s\"\n"
                                            "share = 1.0\nissue_rate_per_month = 4.0\n[run]\nmonths = 6\n"
                                            "[support]\nstaffing = \"fixed\"\nagents = 400\n"),
        f"{big // 4:,} customers, 1 agent (overloaded)": (f"[customers]\ninitial = {big // 4}\n[run]\nmonths = 6\n"
                                                           "[support]\nstaffing = \"fixed\"\nagents = 1\n"),
        f"{big // 2:,} customers, VIP on": (f"[customers]\ninitial = {big // 2}\n[run]\nmonths = 6\n"
                                            "[vip]\nenabled = true\n"),
        "baseline, flat + VIP": None,  # the shipped scenario's flat_vip policy
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller corners")
    parser.add_argument("--plots", type=int, default=20, help="policies in the plots corner (0: skip it)")
    args = parser.parse_args()

    from sim.output import figures
    from sim.params.scenario import load, load_text, resolve_policies
    from sim.runs import guardrails
    from sim.runs.experiment import Job, run_job, run_scenario

    print(f"load average {os.getloadavg()[0]:.2f}; estimate in CPU-s = work / {guardrails.CUSTOMER_MONTHS_PER_SECOND:,}")
    print(f"{'corner':<40} {'measured CPU-s':>15} {'estimate CPU-s':>15} {'ratio':>7}")
    for name, text in corners(args.quick).items():
        if text is None:
            scenario = load(ROOT / "scenarios" / "baseline.toml")
            policy = next(p for p in resolve_policies(scenario) if p.name == "flat_vip")
        else:
            scenario = load_text(text, source=name)
            policy = resolve_policies(scenario)[0]
        months = scenario.run.months
        job = Job(policy.name, 0, policy.params, months, scenario.run.seed)
        t = time.process_time()
        run_job(job)
        measured = time.process_time() - t
        estimate = guardrails.policy_work(policy.params, months) / guardrails.CUSTOMER_MONTHS_PER_SECOND
        print(f"{name:<40} {measured:>15.3f} {estimate:>15.3f} {estimate / measured:>7.2f}")
    if args.plots:
        n = args.plots
        text = "[customers]\ninitial = 1\n[run]\nmonths = 12\nreplications = 2\n" + "".join(
            f"[policies.p{i}]\n" for i in range(n))
        scenario = load_text(text, source="plots")
        res = run_scenario(scenario, options=RunOptions(workers=1))
        with tempfile.TemporaryDirectory() as folder:
            t = time.process_time()
            figures.save_run_figures(res, Path(folder))  # PNG, SVG and PDF, as `supportsim run` saves them
            measured = time.process_time() - t
        estimate = guardrails.plot_work(n) / guardrails.CUSTOMER_MONTHS_PER_SECOND
        print(f"{f'figures of {n} policies (PNG, SVG, PDF)':<40} {measured:>15.3f} {estimate:>15.3f} "
              f"{estimate / measured:>7.2f}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
