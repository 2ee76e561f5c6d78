"""The lever audit of docs/validation.md: the effect of each behavioural parameter on value_usd.

    .venv/bin/python scripts/lever_audit.py                 # 1,000 customers, 24 months, 6 replications
    .venv/bin/python scripts/lever_audit.py --quick         # 300 customers, 12 months, 3 replications

For every lever of ``sim.runs.levers.LEVERS``: the context where it acts (overrides of the
defaults), the stated change, and the paired difference of value_usd (changed - context),
mean and 95% CI over replications with common random numbers. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time

from sim.params.schema import Params
from sim.runs import levers


def _usd(x: float) -> str:
    return f"{x / 1e3:+,.0f}k" if x == x else "–"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small run (300 customers, 12 months, 3 replications)")
    ap.add_argument("--only", default="", help="comma-separated parameter paths (default: every lever)")
    args = ap.parse_args(argv)
    initial, months, reps = (300, 12, 3) if args.quick else (1000, 24, 6)
    chosen = [lv for lv in levers.LEVERS if not args.only or lv.path in args.only.split(",")]
    start = time.perf_counter()
    table = levers.audit(chosen, Params.model_validate({"customers": {"initial": initial}}), months=months,
                         replications=reps, on_lever=lambda i, n: print(f"\r{i}/{n}", end="", file=sys.stderr))
    print(file=sys.stderr)
    print(f"Defaults with customers.initial = {initial}, {months} months, {reps} replications (CRN), "
          f"value_usd difference changed - context, 95% CI; {time.perf_counter() - start:.0f} s.\n")
    print("| parameter | context | change | Δ value_usd | 95% CI | acts at defaults? |")
    print("|---|---|---|---|---|---|")
    for r in table.itertuples():
        ci = f"[{_usd(r.ci_low)}, {_usd(r.ci_high)}]"
        note = "yes" if not r.why else f"no: {r.why}"
        print(f"| `{r.parameter}` | {r.context or 'defaults'} | {r.change} | {_usd(r.delta_value_usd)} | {ci} | {note} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
