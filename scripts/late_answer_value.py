"""What one late answer is worth (docs/findings.md): value lost per late first response, by how late.

    .venv/bin/python scripts/late_answer_value.py                                  # baseline, flat
    .venv/bin/python scripts/late_answer_value.py --scenario scenarios/netflix.toml --policy tiered
    .venv/bin/python scripts/late_answer_value.py --figure docs/img/late_answer_value   # also the figure

Runs one policy of a scenario (its months, ``--replications`` replications) and reads the ladder's
chain at the horizon (``model.LadderChain``): the monthly moves its paying customers made, the churn
per level, the margin per customer and the levels new customers enter at. The value of a customer
slot kept filled (like-for-like replacement at the cost of a paying customer, ``chain.slot_value``)
at each level gives what one level is worth, ``W(meet) - W(below)``; a late answer at
``x = wait / expectation`` costs a level with ``p_down_unresolved x (1 - x^-g)``, so it is worth
that chance times the level. Printed per segment beside the cost of acquiring a paying customer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sim.engine import chain, demand, model
from sim.engine import customers as cu
from sim.engine.acquisition import segment_cac_usd
from sim.output import plots
from sim.output.loyalty_plots import plot_late_answer_value
from sim.params.scenario import ScenarioError, load, resolve_policies, scenario_hash

ROOT = Path(__file__).resolve().parent.parent
LATENESS = (1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0)


def level_value(params, months: int, seed: int, replications: int) -> tuple[np.ndarray, np.ndarray]:
    """(W(meet) - W(below) per segment, cost of a paying customer per segment), from the non-VIP groups."""
    moves, churn, margin, inflow, d = 0, 0.0, 0.0, 0.0, 1.0
    for r in range(replications):
        lc = model.LadderChain()
        model.run(params, months=months, seed=seed, replication=r, ladder=lc)
        moves = moves + lc.moves
        churn, margin, inflow, d = churn + lc.churn, margin + lc.margin_usd, inflow + lc.inflow, lc.discount
    churn, margin, inflow = churn / replications, margin / replications, inflow / replications
    paying_cost = segment_cac_usd(params) / np.maximum(demand.conversion_factor_by_segment(params), 1e-9)
    replace = np.repeat(paying_cost, 2)
    W = chain.slot_value(chain.transition_matrix(moves), churn, inflow, d, margin, replace)
    level = W[0::2, cu.MEET] - W[0::2, cu.BELOW]  # non-VIP group of each segment
    return level, paying_cost


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "baseline.toml")
    ap.add_argument("--policy", default=None, help="policy name (default: the scenario's reference)")
    ap.add_argument("--replications", type=int, default=4)
    ap.add_argument("--figure", type=Path, default=None, help="write the figure to PATH.png")
    args = ap.parse_args(argv)
    try:
        sc = load(args.scenario)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    policies = {p.name: p for p in resolve_policies(sc)}
    name = args.policy or sc.scenario.reference_policy or next(iter(policies))
    if name not in policies:
        print(f"--policy: no policy {name!r}; policies: {', '.join(policies)}", file=sys.stderr)
        return 2
    params = policies[name].params
    level, paying_cost = level_value(params, sc.run.months, sc.run.seed, args.replications)
    s = params.satisfaction
    g = np.log(2) / np.log(s.late_half_ratio)
    segs = [x.name for x in params.customers.segments]
    print(f"{args.scenario.name}, policy {name}: value of one level (meet vs below), {args.replications} "
          f"replications of {sc.run.months} months\n")
    print("| segment | one level | a late answer at 1.5x / 2x / 5x / 20x | unresolved issue | abandoned ticket "
          "| cost of a paying customer |")
    print("|---|---|---|---|---|---|")
    rows = []
    for j, seg in enumerate(segs):
        cost = {x: s.p_down_unresolved * (1 - x ** -g) * level[j] for x in LATENESS}
        rows += [{"segment": seg, "lateness": x, "cost_usd": c, "cac_usd": paying_cost[j]} for x, c in cost.items()]
        print(f"| {seg} | ${level[j]:,.0f} | ${cost[1.5]:,.0f} / ${cost[2.0]:,.0f} / ${cost[5.0]:,.0f} / "
              f"${cost[20.0]:,.0f} | ${s.p_down_unresolved * level[j]:,.0f} | ${cu.abandon_penalty(params) * level[j]:,.0f} "
              f"| ${paying_cost[j]:,.0f} |")
    if args.figure is not None:
        meta = plots.Meta(sc.scenario.name, scenario_hash(sc), args.replications, seed=sc.run.seed,
                          months=sc.run.months, command=" ".join(["scripts/late_answer_value.py", *(argv or sys.argv[1:])]))
        ax = plot_late_answer_value(pd.DataFrame(rows), meta=meta)
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        for path in plots.save_figure(ax.figure, args.figure, formats=("png",)):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
