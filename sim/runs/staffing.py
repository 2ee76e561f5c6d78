"""Staffing: the fewest agents that answer a share of tickets within the promise, per policy.

Where it sits: **runs**, on the grid of ``sim.runs.grid``; -> tables for the CLI's ``staff`` and
the app.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.params.scenario import (
    ScenarioError,
    resolve_policies,
)
from sim.params.schema import Scenario
from sim.runs.grid import Cell, Engine, Progress, check_points, check_policies, interval
from sim.runs.options import SERIAL, RunOptions

# ---------------------------------------------------------------------------- staffing


def staff(
    scenario: Scenario,
    *,
    sla: float = 0.8,
    agents: Sequence[int] | None = None,
    policies: Sequence[str] | None = None,
    strict: bool = False,
    options: RunOptions = SERIAL,
) -> pd.DataFrame:
    """The fewest agents (fixed staffing) at which each policy meets the SLA target.

    ``sla``: target share of answered tickets that get a first response within their SLA
    (each ticket's own target: ``support.sla_target_h``, the plan's under tiered, the VIP
    one for VIPs), over the whole run. A count meets it when the mean share across
    replications reaches ``sla`` (``strict``: when the 95% interval's lower end does).
    With ``agents`` every given count is run; otherwise each policy is searched by doubling
    from 1 and then bisecting (the share grows with agents), up to ``support.max_agents``.

    Columns: ``policy``, ``agents``, ``sla_met_share`` (mean), ``ci_low``, ``ci_high``,
    ``support_cost`` (mean per month, USD). ``attrs["answer"]``: policy -> fewest agents
    meeting the target (None if none did); ``attrs["support_cost_at_answer"]`` likewise.
    """
    if not (isinstance(sla, (int, float)) and 0 < sla <= 1):
        raise ScenarioError([f"--sla: allowed range (0, 1] (got {sla!r})"], "--sla")
    names = check_policies(scenario, policies)
    counts = None
    if agents is not None:
        counts = sorted({int(a) for a in agents})
        if not counts or counts[0] < 1 or counts[-1] > 5000:
            raise ScenarioError([f"--agents: counts must lie in [1, 5000] (got {list(agents)})"], "--agents")
    reps = options.replications_for(scenario)
    cap = max(p.params.support.max_agents for p in resolve_policies(scenario) if p.name in names)
    progress = Progress(options.on_progress)
    stats: dict[tuple[str, int], dict[str, float]] = {}

    def key(n: int) -> tuple[tuple[str, Any], ...]:
        return (("support.staffing", "fixed"), ("support.agents", int(n)))

    # the search doubles from 1 agent to the cap, then bisects: each count it may try, and as many
    # bisection steps again at the dearest count (the fewest agents: the longest queue)
    tried = counts if counts is not None else sorted({min(cap, 2**i) for i in range(math.ceil(math.log2(cap)) + 1)})
    resolved = check_points(scenario, names, [key(n) for n in tried], reps, options.max_work,
                             more_runs=0 if counts is not None else reps * len(tried),
                             counted=f"{len(tried)} agent counts{'' if counts is not None else ' and the bisection'} x "
                                     f"{len(names)} policies x {reps} replications",
                             reduce="Use fewer --agents counts, policies or replications")

    def meets(s: dict[str, float]) -> bool:
        x = s["ci_low"] if strict else s["mean"]
        return bool(np.isfinite(x) and x >= sla)

    with options.pool() as ex:
        engine = Engine(scenario, replications=reps, seed=options.seed, crn=True, executor=ex, progress=progress,
                         resolved=resolved)

        def evaluate(cells: list[tuple[str, int]]) -> None:
            cells = [c for c in dict.fromkeys(cells) if c not in stats]
            if not cells:
                return
            df = engine.run([Cell(key(n), p) for p, n in cells])
            for p, n in cells:
                sub = df[(df["policy"] == p) & (df["_point"] == engine.point(key(n)))]
                s = interval(sub["sla_met_share"])
                stats[(p, n)] = {**s, "support_cost": float(sub["support_cost_per_month"].mean())}

        if counts is not None:
            for n in counts:
                engine.params(key(n))
            evaluate([(p, n) for n in counts for p in names])
        else:
            # per policy: [lo, hi] with lo failing (or 0) and hi meeting (or None = not found yet)
            state = {p: [0, None, 1] for p in names}  # lo, hi, next count to try while doubling
            while True:
                todo = []
                for p, (lo, hi, nxt) in state.items():
                    if hi is None and nxt is not None:
                        todo.append((p, nxt))
                    elif hi is not None and hi - lo > 1:
                        todo.append((p, (lo + hi) // 2))
                if not todo:
                    break
                for _, n in todo:
                    engine.params(key(n))
                evaluate(todo)
                for p, n in todo:
                    lo, hi, nxt = state[p]
                    if meets(stats[(p, n)]):
                        hi = n if hi is None else min(hi, n)
                        nxt = None
                    else:
                        lo = max(lo, n)
                        if hi is None:
                            nxt = None if n >= cap else min(cap, 2 * n)
                    state[p] = [lo, hi, nxt]
    rows = [{"policy": p, "agents": n, "sla_met_share": s["mean"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
             "support_cost": s["support_cost"]} for (p, n), s in stats.items()]
    order = {p: i for i, p in enumerate(names)}
    table = pd.DataFrame(rows, columns=["policy", "agents", "sla_met_share", "ci_low", "ci_high", "support_cost"])
    table = table.sort_values(["policy", "agents"], key=lambda s: s.map(order) if s.name == "policy" else s,
                              kind="stable").reset_index(drop=True)
    answer: dict[str, int | None] = {}
    cost: dict[str, float | None] = {}
    for p in names:
        ok = [n for (q, n), s in stats.items() if q == p and meets(s)]
        answer[p] = min(ok) if ok else None
        cost[p] = stats[(p, answer[p])]["support_cost"] if ok else None
    table.attrs = {"sla_target": sla, "strict": strict, "answer": answer, "support_cost_at_answer": cost,
                   "replications": reps, "policies": names}
    return table
