"""Support -> churn recovered: print what two generators with a known truth give back, with 95% intervals.

    .venv/bin/python examples/calibration/recovery.py          # the figures quoted in docs/calibration.md

1. A plain discrete-time hazard in numpy, independent of the model (``sim.calibrate.synthetic.hazard_exports``):
   the calibration's hazard model against the generator's coefficients.
2. The model itself on ``support_truth.toml`` (a weekday desk with a calendar promise): the mapped
   satisfaction parameters and base churn against the scenario's values.
tests/test_calibrate_support.py checks the same runs.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

from sim.calibrate import calibrate, exports_from_trace, read_customers, read_tickets
from sim.calibrate.synthetic import TRUE_BASE, TRUE_BETA, hazard_exports
from sim.engine import model
from sim.params.scenario import load, resolve_policies

HERE = Path(__file__).resolve().parent


def _calibrate(folder: Path, customers, tickets):
    customers.to_csv(folder / "customers.csv", index=False)
    tickets.to_csv(folder / "tickets.csv", index=False)
    return calibrate(customers=read_customers(folder / "customers.csv"), tickets=read_tickets(folder / "tickets.csv"))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        cal = _calibrate(Path(tmp), *hazard_exports())
        table = {r["covariate"]: r for r in cal.support.reduced.table()}
        print("1. plain hazard simulation (8,000 customers, 12 months): cloglog coefficients")
        print(f"   {'covariate':<16} {'truth':>7} {'estimate':>9} {'95% CI':>18}")
        truth = {**TRUE_BETA, **{f"segment {s}": math.log(-math.log1p(-b)) for s, b in TRUE_BASE.items()},
                 "bad last month": 0.0, "bad 2-3 months ago": 0.0, "two or more bad": 0.0}
        for name, r in table.items():
            lo, hi = r["coef"] - 1.959964 * r["se"], r["coef"] + 1.959964 * r["se"]
            v = truth.get(name, float("nan"))
            print(f"   {name:<16} {v:>7.3f} {r['coef']:>9.3f} {lo:>8.3f} to {hi:>6.3f}  {'in' if lo <= v <= hi else 'OUT'}")

        scenario = load(HERE / "support_truth.toml")
        params = resolve_policies(scenario)[0].params
        trace = model.Trace()
        model.run(params, months=scenario.run.months, seed=scenario.run.seed, trace=trace)
        cal = _calibrate(Path(tmp), *exports_from_trace(trace, params=params, seed=scenario.run.seed))
        mech, fit = cal.support.mechanics, cal.support
        sat = params.satisfaction
        segs = sorted(params.customers.segments, key=lambda x: x.plan_price_usd_per_month)
        truth = {"p_down_unresolved": sat.p_down_unresolved, "p_down_effort": sat.p_down_effort,
                 "late_half_ratio": sat.late_half_ratio, "p_recover_from_below": sat.p_recover_from_below,
                 "m_below": params.churn.level_hazard_multiplier[0],
                 **{f"base_churn_{j}": s.base_churn_per_month for j, s in enumerate(segs)}}
        print(f"\n2. the model on support_truth.toml ({fit.customers_used:,} customers, {fit.reduced.cells:,} "
              f"customer-months, {fit.reduced.churned:,} cancellations); desk found: {fit.hours.label()}, "
              f"SLA clock {fit.clock}")
        print(f"   {'parameter':<22} {'truth':>7} {'estimate':>9} {'95% CI':>20}")
        for name, v in truth.items():
            _, lo, hi = mech.interval(name)
            print(f"   {name:<22} {v:>7.4g} {mech.estimate(name):>9.4g} {lo:>9.4g} to {hi:>8.4g}  "
                  f"{'in' if lo <= v <= hi else 'OUT'}")
        print(f"   mapping J = {mech.j_stat:.2f} on {mech.j_df} df, p = {mech.j_pvalue:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
