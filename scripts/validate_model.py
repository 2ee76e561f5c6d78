"""Evidence that the model is right where theory exists; prints the figures of docs/validation.md.

    .venv/bin/python scripts/validate_model.py            # the full run (a few minutes on 1 core)
    .venv/bin/python scripts/validate_model.py --quick    # a smoke run with short queues (~20 s)

Five checks, each printed as a Markdown table:

1. The support desk (``sim.engine.desk.Desk``, the same class the model uses) against Erlang C
   (M/M/c) over utilisations 0.5 to 0.95: probability of waiting and mean wait, simulated
   (mean and 95% CI over independent replications) vs analytic.
2. Priorities: two classes on the same desk against the non-preemptive M/M/c priority
   formula (Cobham): W_k = C(c, a) / (c mu (1 - s_{k-1})(1 - s_k)).
3. Abandonment by virtual waiting time against Erlang A (M/M/c+M), solved exactly as a
   birth-death chain: probability of waiting, of abandoning and mean time in queue.
4. The monthly model on every shipped scenario and policy: conservation of customers
   (A + B - churned = C; C of month m = A of month m + 1), money (revenues - costs =
   profit), the retention formula ((C - B) / A) x 100, as largest absolute residuals, and
   agent-hours (paid = rostered + overtime >= worked) as the smallest margin.
5. Common random numbers: the spread of paired policy differences with CRN (same streams)
   vs without (``model.run(..., crn_salt=...)`` gives a policy its own streams).
6. Opening hours, hand-checkable: tickets arriving over a closed weekend are all served from
   Monday 09:00 in priority order, with business-hour waits 0, 1, 2, ... h.

Checks 1-3 run the desk 24/7 with a flat arrival stream (``hours.desk_hours`` of a 24/7
``Support``), the setting in which queueing theory applies.

Everything is seeded; the output is the same on every run of the same code (except the
elapsed time). Nothing is written to disk.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import simpy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone without installing

from sim.engine import (  # noqa: E402
    erlang,
    hours,
    model,
)
from sim.engine.desk import Desk, TicketBatch  # noqa: E402
from sim.params.scenario import load, resolve_policies  # noqa: E402
from sim.params.schema import Support  # noqa: E402
from sim.runs.metrics import MONEY, t_interval  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ALWAYS_OPEN = hours.desk_hours(Support(hours="24/7", sla_clock="calendar"))


def _counters(n: int) -> SimpleNamespace:
    z = np.zeros(n, dtype=np.int64)
    return SimpleNamespace(on_time=z.copy(), late=z.copy(), abandoned=z.copy(), fees_usd=np.zeros(n),
                           touches=z.copy(), auto_touches=z.copy())


def simulate_desk(agents: int, arrival_rate: float, handle_mean: float, n: int, seed: int, *,
                  classes: np.ndarray | None = None, patience_mean: float = math.inf) -> dict[str, np.ndarray]:
    """n Poisson arrivals on one desk run to completion; per-ticket class, wait (NaN if abandoned), patience."""
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1 / arrival_rate, n))
    handle = rng.exponential(handle_mean, n)
    patience = rng.exponential(patience_mean, n) if math.isfinite(patience_mean) else np.full(n, np.inf)
    cls = np.zeros(n, dtype=np.int64) if classes is None else classes
    log: list[tuple] = []
    env = simpy.Environment()
    desk = Desk(env, agents, _counters(int(cls.max()) + 1), ticket_log=log, hours=ALWAYS_OPEN)
    desk.submit(TicketBatch(arrival, handle, patience, cls + 1, np.zeros(n), cls, np.zeros(n)))
    env.run()
    assert len(log) == n, "every ticket is either served or abandoned"
    order = {(a, c): i for i, (a, c) in enumerate(zip(arrival.tolist(), cls.tolist()))}
    wait = np.full(n, np.nan)
    for cust, arr, start, _h, _fee in log:
        if start is not None:
            wait[order[(arr, cust)]] = start - arr
    return {"cls": cls, "wait": wait, "patience": patience}


def _ci(values: list[float]) -> str:
    s = t_interval(np.asarray(values))
    return f"{s['mean']:.4f} [{s['ci_low']:.4f}, {s['ci_high']:.4f}]"


def _inside(values: list[float], theory: float) -> str:
    s = t_interval(np.asarray(values))
    return "yes" if s["ci_low"] <= theory <= s["ci_high"] else "no"


def check_erlang_c(agents: int, handle_mean: float, rhos: list[float], reps: int, base_n: int, seed: int) -> None:
    print(f"\n### 1. Desk vs Erlang C (M/M/{agents}, mean handle time {handle_mean} h, FIFO, no abandonment)\n")
    print(f"Each row: {reps} independent replications of n arrivals (n = {base_n:,} / (1 - utilisation)), "
          "the first 10% of each discarded as warm-up; simulated values are the mean and 95% CI over replications.\n")
    print("| utilisation | load (Erlangs) | n per rep | P(wait) simulated | P(wait) Erlang C | in CI | "
          "mean wait h simulated | mean wait h Erlang C | in CI |")
    print("|---|---|---|---|---|---|---|---|---|")
    for rho in rhos:
        load_e = rho * agents
        n = int(base_n / (1 - rho))
        p_wait, w_mean = [], []
        for r in range(reps):
            res = simulate_desk(agents, load_e / handle_mean, handle_mean, n, seed + 1000 * r + int(rho * 100))
            w = res["wait"][n // 10:]
            p_wait.append(float(np.mean(w > 1e-12)))
            w_mean.append(float(np.mean(w)))
        tp, tw = erlang.erlang_c(agents, load_e), erlang.mean_wait(agents, load_e, handle_mean)
        print(f"| {rho:.2f} | {load_e:.2f} | {n:,} | {_ci(p_wait)} | {tp:.4f} | {_inside(p_wait, tp)} | "
              f"{_ci(w_mean)} | {tw:.4f} | {_inside(w_mean, tw)} |")


def check_priorities(agents: int, handle_mean: float, rho: float, reps: int, n: int, seed: int) -> None:
    print(f"\n### 2. Priorities vs the non-preemptive M/M/{agents} priority formula "
          f"(utilisation {rho}, two classes of equal volume)\n")
    load_e = rho * agents
    mu_c = agents / handle_mean
    c_wait = erlang.erlang_c(agents, load_e)
    sigma = [0.0, rho / 2, rho]
    theory = [c_wait / (mu_c * (1 - sigma[k]) * (1 - sigma[k + 1])) for k in range(2)]
    sims: list[list[float]] = [[], []]
    for r in range(reps):
        cls = np.random.default_rng(seed + r).integers(0, 2, n)
        res = simulate_desk(agents, load_e / handle_mean, handle_mean, n, seed + 500 + r, classes=cls)
        keep = np.arange(n) >= n // 10
        for k in range(2):
            sims[k].append(float(np.mean(res["wait"][keep & (res["cls"] == k)])))
    print("| class (desk priority) | mean wait h simulated | theory | in CI |")
    print("|---|---|---|---|")
    for k in range(2):
        print(f"| {k + 1} ({'served first' if k == 0 else 'served second'}) | {_ci(sims[k])} | {theory[k]:.4f} | "
              f"{_inside(sims[k], theory[k])} |")
    fcfs = erlang.mean_wait(agents, load_e, handle_mean)
    print(f"\nConservation check: the volume-weighted mean of the two classes, {np.mean(theory):.4f} h, equals the "
          f"FIFO Erlang C mean wait {fcfs:.4f} h.")


def erlang_a(agents: int, arrival_rate: float, handle_mean: float, patience_mean: float) -> dict[str, float]:
    """M/M/c+M by its birth-death chain, truncated where the tail is negligible."""
    mu, theta = 1 / handle_mean, 1 / patience_mean
    weights = [1.0]
    n = 0
    while True:
        n += 1
        death = min(n, agents) * mu + max(n - agents, 0) * theta
        weights.append(weights[-1] * arrival_rate / death)
        if n > agents and weights[-1] < 1e-16 * sum(weights):
            break
    p = np.asarray(weights) / sum(weights)
    states = np.arange(len(p))
    lq = float(np.sum(np.maximum(states - agents, 0) * p))
    return {"p_wait": float(p[agents:].sum()), "p_abandon": theta * lq / arrival_rate,
            "time_in_queue": lq / arrival_rate}


def check_erlang_a(agents: int, handle_mean: float, patience_mean: float, rhos: list[float], reps: int, n: int,
                   seed: int) -> None:
    print(f"\n### 3. Abandonment (virtual waiting time) vs Erlang A (M/M/{agents}+M, mean handle time "
          f"{handle_mean} h, mean patience {patience_mean} h)\n")
    print("Time in queue counts the wait of served tickets and the patience of abandoned ones (Little's law: "
          "E[Lq] / arrival rate).\n")
    print("| offered load / agents | P(wait) sim | theory | P(abandon) sim | theory | time in queue h sim | theory |")
    print("|---|---|---|---|---|---|---|")
    for rho in rhos:
        lam = rho * agents / handle_mean
        pw, pa, tq = [], [], []
        for r in range(reps):
            res = simulate_desk(agents, lam, handle_mean, n, seed + 77 * r + int(rho * 100),
                                patience_mean=patience_mean)
            w, pat = res["wait"][n // 10:], res["patience"][n // 10:]
            abandoned = np.isnan(w)
            pw.append(float(np.mean(abandoned | (w > 1e-12))))
            pa.append(float(np.mean(abandoned)))
            tq.append(float(np.mean(np.where(abandoned, pat, w))))
        th = erlang_a(agents, lam, handle_mean, patience_mean)
        print(f"| {rho:.2f} | {_ci(pw)} | {th['p_wait']:.4f} | {_ci(pa)} | {th['p_abandon']:.4f} | {_ci(tq)} | "
              f"{th['time_in_queue']:.4f} |")


def check_model_accounting(months: int, reps: int, initial: int, seed: int) -> None:
    print(f"\n### 4. Conservation and the retention formula on every shipped scenario "
          f"({initial} initial customers, {months} months, {reps} replications per policy)\n")
    print("| scenario | policy | months checked | max abs(A + B - churned - C) | max abs(C[m] - A[m+1]) | "
          "max abs(revenues - costs - profit) USD | max abs(retention - ((C - B) / A) x 100) | "
          "min(paid - worked agent-hours) h |")
    print("|---|---|---|---|---|---|---|---|")
    signs = {c: (-1 if c.endswith("cost") else 1) for c in MONEY}
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        scenario = load(path, [f"customers.initial={initial}"])
        for policy in resolve_policies(scenario):
            rows = []
            for r in range(reps):
                m = pd.DataFrame(model.run(policy.params, months=months, seed=seed, replication=r))
                a, b, c = m["customers_start"], m["acquired"], m["customers_end"]
                rows.append((
                    len(m),
                    int((a + b - m["churned"] - c).abs().max()),
                    int(np.abs(c.to_numpy()[:-1] - a.to_numpy()[1:]).max(initial=0)),
                    float((sum(s * m[col] for col, s in signs.items()) - m["profit"]).abs().max()),
                    float((m["retention_rate_pct"] - (c - b) / a * 100).abs().max()),
                    float((m["agent_hours_paid"] * (1 - m["agent_utilization"])).min()),
                ))
            print(f"| {path.stem} | {policy.name} | {sum(x[0] for x in rows)} | {max(x[1] for x in rows)} | "
                  f"{max(x[2] for x in rows)} | {max(x[3] for x in rows):.2g} | {max(x[4] for x in rows):.2g} | "
                  f"{min(x[5] for x in rows):.1f} |")


def check_crn(months: int, reps: int, initial: int, seed: int) -> None:
    scenario = load(ROOT / "scenarios" / "baseline.toml", [f"customers.initial={initial}"])
    policies = {p.name: p.params for p in resolve_policies(scenario)}
    ref, other = "flat", "per_ticket"
    print(f"\n### 5. Common random numbers: {other} - {ref} on the baseline scenario "
          f"({initial} initial customers, {months} months, {reps} replications)\n")
    print("With CRN, replication r of both policies draws from the same streams; without, the second policy runs "
          f"with `crn_salt=\"{other}\"` (its own streams).\n")

    def kpis(params, r: int, salt: str | None) -> tuple[float, float]:
        m = pd.DataFrame(model.run(params, months=months, seed=seed, replication=r, crn_salt=salt))
        return float(m["profit"].sum()), float(m["retention_rate_pct"].mean())

    base = [kpis(policies[ref], r, None) for r in range(reps)]
    paired = [kpis(policies[other], r, None) for r in range(reps)]
    indep = [kpis(policies[other], r, other) for r in range(reps)]
    print("| KPI | mean difference with CRN [95% CI] | sd with CRN | mean difference without CRN [95% CI] | "
          "sd without CRN | variance ratio (without / with) |")
    print("|---|---|---|---|---|---|")
    for k, (label, fmt) in enumerate((("cumulative profit (USD)", ",.0f"), ("average retention rate (%)", ".3f"))):
        d_crn = np.array([p[k] - b[k] for p, b in zip(paired, base)])
        d_ind = np.array([p[k] - b[k] for p, b in zip(indep, base)])
        s1, s2 = t_interval(d_crn), t_interval(d_ind)
        print(f"| {label} | {s1['mean']:{fmt}} [{s1['ci_low']:{fmt}}, {s1['ci_high']:{fmt}}] | {s1['std']:{fmt}} | "
              f"{s2['mean']:{fmt}} [{s2['ci_low']:{fmt}}, {s2['ci_high']:{fmt}}] | {s2['std']:{fmt}} | "
              f"{(s2['std'] / s1['std']) ** 2:.1f} |")


def check_business_hours() -> None:
    print("\n### 6. Opening hours: a closed weekend, one agent from Monday 09:00 (Mon-Fri 09-17, business clock)\n")
    sup = Support(hours="weekly", open_hour=9, close_hour=17, open_days=5, sla_clock="business")
    sat, sun, mon9 = 5 * 24, 6 * 24, 7 * 24 + 9.0
    arrival = np.array([sat + 10, sat + 15, sun + 9, sun + 12, sun + 20])
    prio = np.array([3, 1, 2, 1, 3])
    log: list[tuple] = []
    env = simpy.Environment()
    desk = Desk(env, 1, _counters(len(arrival)), ticket_log=log, hours=hours.desk_hours(sup))
    desk.set_roster(0.0, np.where(hours.desk_schedule(sup).open_h, 1, 0), n_hours=2 * 168)
    desk.submit(TicketBatch(arrival, np.ones(5), np.full(5, np.inf), prio, np.full(5, 1.5), np.arange(5),
                            np.zeros(5)))
    env.run(until=mon9 + 8)
    start = {cust: first for cust, _a, first, _h, _f in log}
    expected = sorted(range(5), key=lambda i: (prio[i], arrival[i]))
    print("| ticket | arrives | priority | served from (h after Monday 09:00) | expected | business-hour wait h |")
    print("|---|---|---|---|---|---|")
    names = ["Sat 10:00", "Sat 15:00", "Sun 09:00", "Sun 12:00", "Sun 20:00"]
    for i in range(5):
        print(f"| {i} | {names[i]} | {prio[i]} | {start[i] - mon9:g} | {expected.index(i)} | "
              f"{hours.desk_schedule(sup).clock(start[i]) - hours.desk_schedule(sup).clock(arrival[i]):g} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs: checks the script, not the model")
    ap.add_argument("--seed", type=int, default=20261123)
    args = ap.parse_args(argv)
    q = args.quick
    t0 = time.perf_counter()
    print(f"supportsim validation (seed {args.seed}{', quick' if q else ''}); Python {platform.python_version()}, "
          f"numpy {np.__version__}, simpy {simpy.__version__}")
    check_erlang_c(agents=5, handle_mean=0.5, rhos=[0.5, 0.6, 0.7, 0.8, 0.9, 0.95], reps=4 if q else 8,
                   base_n=1_000 if q else 5_000, seed=args.seed)
    check_priorities(agents=5, handle_mean=0.5, rho=0.8, reps=4 if q else 8, n=10_000 if q else 40_000,
                     seed=args.seed)
    check_erlang_a(agents=5, handle_mean=0.5, patience_mean=1.0, rhos=[0.8, 1.0, 1.3], reps=4 if q else 8,
                   n=10_000 if q else 40_000, seed=args.seed)
    check_model_accounting(months=6 if q else 24, reps=1 if q else 3, initial=300, seed=args.seed)
    check_crn(months=6 if q else 12, reps=8 if q else 30, initial=300 if q else 1000, seed=args.seed)
    check_business_hours()
    print(f"\n(elapsed {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
