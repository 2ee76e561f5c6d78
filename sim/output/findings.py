"""Findings: one sentence per comparison, computed from the results with its interval.

Where it sits: runs (``Results``, paired differences) and a decision under uncertainty ->
**findings** -> figures (titles), report (executive summary), deck (title slide), app, cli. A finding states who is ahead, by how much,
over what horizon and how sure we are ("Flat (included) creates $1.2M more value than
Per ticket ($20) over 24 months (95% CI $1.1M to $1.3M)"); when the 95% interval spans zero
it says so ("No clear difference in value between ..."). Pure functions; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sim.decision.psa import NEGLIGIBLE_SHARE, DecisionResult, percent, prob_best_interval
from sim.engine import ledger
from sim.output import fmt
from sim.params.names import mid_sentence, parameter_names
from sim.params.scenario import policy_label
from sim.runs import metrics
from sim.runs.economics import BRIDGE_COLUMNS, TERMINAL
from sim.runs.results import Results

# How a difference in a KPI reads: "{a} <phrase> {b}", with {d} the size of the difference
# and {more} the word for its direction (more / less when a is ahead / behind).
PHRASES: dict[str, tuple[str, str, str]] = {
    "value_usd": ("creates {d} {more} value than", "more", "less"),
    "cumulative_profit": ("earns {d} {more} cumulative profit than", "more", "less"),
    "customers_at_horizon": ("ends with {d} {more} paying customers than", "more", "fewer"),
    "avg_retention_rate_pct": ("retains {d} {more} of its customers a month than", "more", "fewer"),
    "ltv": ("has a {d} {more} LTV than", "higher", "lower"),
    "cac_realised_usd": ("pays {d} {more} per customer won than", "more", "less"),
    "ltv_cac": ("has a {d} {more} LTV:CAC than", "higher", "lower"),
    "suppressed_share": ("suppresses {d} {more} of customers' issues than", "more", "fewer"),
}


# Parts of the value bridge as a sentence states a change in them: (when it adds value, when it takes value).
PART_PHRASES = {f"pv_{m.part}": (m.gain, m.loss) for m in (*ledger.MONEY, ledger.TERMINAL)}


def part_phrase(column: str, delta: float) -> str:
    """How a change of ``delta`` USD in bridge part ``column`` reads ("spends $1.2M less on acquisition")."""
    gain, loss = PART_PHRASES[column]
    return (gain if delta >= 0 else loss).format(d=fmt.usd(abs(delta)))


@dataclass(frozen=True)
class Finding:
    """``a`` minus ``b`` in ``kpi`` (paired by replication; ``a`` the one with the higher mean)."""

    kpi: str
    a: str
    b: str
    mean: float
    ci_low: float
    ci_high: float
    n: int
    text: str

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.ci_low) and math.isfinite(self.ci_high)

    @property
    def clear(self) -> bool:
        """The 95% interval of the difference excludes zero."""
        return self.has_interval and (self.ci_low > 0 or self.ci_high < 0)


def _horizon(res: Results) -> str:
    return f"over {res.scenario.run.months} months"


def paired(res: Results, kpi: str, a: str, b: str) -> dict[str, float]:
    """Mean and 95% CI of ``a`` minus ``b`` in ``kpi`` (or a bridge column), paired by replication."""
    return metrics.paired_differences(res.kpis, b, [b, a], [kpi])[a][kpi]


def _size(kpi: str, x: float) -> str:
    """The size of a difference as a sentence reads it ("$1.2M", "1.3 pp", "120")."""
    kind = metrics.KPIS[kpi].fmt if kpi in metrics.KPIS else ""
    if kind in ("pct", "share"):
        return fmt.kpi(kpi, x, signed=True).lstrip("+")
    return fmt.kpi(kpi, x)


def compare(res: Results, kpi: str, a: str, b: str, *, subject: str | None = None) -> Finding:
    """The finding of ``a`` vs ``b`` in ``kpi``, stated from the one ahead (or from ``subject``,
    one of the two, whichever is ahead: "Per ticket creates $0.7M less value than Flat")."""
    s = paired(res, kpi, a, b)
    mean, lo, hi = float(s["mean"]), float(s.get("ci_low", math.nan)), float(s.get("ci_high", math.nan))
    if (subject is None and mean < 0) or (subject is not None and subject == b):
        a, b, mean, lo, hi = b, a, -mean, -hi, -lo
    la, lb = policy_label(res.scenario, a), policy_label(res.scenario, b)
    n = int(s.get("n", 0) or 0)
    label = metrics.KPIS[kpi].label.lower() if kpi in metrics.KPIS else kpi
    finding = Finding(kpi, a, b, mean, lo, hi, n, "")
    if finding.has_interval and not finding.clear:
        text = (f"No clear difference in {label} between {la} and {lb} {_horizon(res)} "
                f"(95% CI of the difference {fmt.kpi(kpi, lo, signed=True)} to {fmt.kpi(kpi, hi, signed=True)})")
    else:
        template, up, down = PHRASES.get(kpi, ("is {d} {more} in " + label + " than", "higher", "lower"))
        ahead = mean >= 0
        a_lo, a_hi = (lo, hi) if ahead else (-hi, -lo)
        tail = (f"95% CI {_size(kpi, abs(a_lo))} to {_size(kpi, abs(a_hi))}" if finding.has_interval
                else "one replication: no interval")
        text = (f"{la} {template.format(d=_size(kpi, abs(mean)), more=up if ahead else down)} {lb} "
                f"{_horizon(res)} ({tail})")
    return Finding(kpi, a, b, mean, lo, hi, n, text)


def ranking(res: Results, kpi: str = "value_usd") -> list[str]:
    """Policies from best to worst by their mean ``kpi`` (the KPI's better direction)."""
    summary = res.summary()
    lower = metrics.KPIS[kpi].better == "lower" if kpi in metrics.KPIS else False
    key = {p: summary[p][kpi]["mean"] for p in res.policies}
    return sorted(res.policies, key=lambda p: (key[p] if math.isfinite(key[p]) else -math.inf) * (-1 if not lower
                                                                                                  else 1))


def headline(res: Results, kpi: str = "value_usd") -> str:
    """The chart title of ``kpi`` over every policy: the best against the runner-up."""
    order = ranking(res, kpi)
    if len(order) < 2:
        s = res.summary()[order[0]][kpi]
        label = metrics.KPIS[kpi].label if kpi in metrics.KPIS else kpi
        ci = f" (95% CI {fmt.interval(kpi, s)})" if math.isfinite(s.get("ci_low", math.nan)) else ""
        return f"{policy_label(res.scenario, order[0])}: {label.lower()} {fmt.kpi(kpi, s['mean'])} {_horizon(res)}{ci}"
    if kpi in metrics.KPIS and metrics.KPIS[kpi].better == "neutral":  # no "best": the extreme vs the reference
        other = order[0] if order[0] != res.reference else order[-1]
        return compare(res, kpi, other, res.reference, subject=other).text
    return compare(res, kpi, order[0], order[1]).text


def curve_without_crossing(table: Any, *, sign: str, a_label: str, b_label: str, where: str) -> str:
    """What a break-even curve of B − A that never changes sign says, over ``where`` ("the fee
    range tried"): that the differences are not distinguishable from zero when every 95% CI
    includes zero (never "A ahead everywhere" then), else who is ahead and at how many of the
    points tried that is clear. ``table``: the curve (columns ``ci_low``, ``ci_high``);
    ``sign``: the study's "policy_a ahead everywhere" / "policy_b ahead everywhere" / "mixed" /
    "indistinguishable" (every 95% CI includes 0)."""
    lo, hi = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
    covers = (lo <= 0) & (hi >= 0)
    if covers.all():
        return f"the differences are not distinguishable from zero across {where} (every 95% CI includes 0)"
    if "policy_a ahead" in sign or "policy_b ahead" in sign:
        who = a_label if "policy_a ahead" in sign else b_label
        clear = int((~covers).sum())
        return f"{who} ahead across {where}" + ("" if clear == len(covers) else
                                                 f" (clear at {clear} of {len(covers)} points)")
    return f"no break-even in {where}"


def terminal_share(res: Results, a: str, b: str) -> float:
    """The share of ``a``'s lead over ``b`` in value (value_usd, paired means) that is terminal
    value: the customers still paying at the horizon, valued beyond it (NaN without a lead)."""
    lead = paired(res, "value_usd", a, b)["mean"]
    beyond = paired(res, f"pv_{TERMINAL}", a, b)["mean"]
    return float(beyond / lead) if lead and math.isfinite(lead) else math.nan


def terminal_phrase(res: Results, a: str, b: str) -> str:
    """ "82% of this lead is terminal value: ..." (empty without a lead), with the horizon and the
    discount rate it rests on."""
    share = terminal_share(res, a, b)
    if not math.isfinite(share):
        return ""
    rate = res.scenario.finance.discount_rate_annual
    months = res.scenario.run.months
    if share < 0.005:  # the lead is earned within the horizon (the customers beyond it even narrow it)
        return (f"None of this lead is terminal value ({share:.0%}): it is earned within the {months} months "
                f"(customers beyond the horizon valued at a {rate:.0%} annual discount rate).")
    return (f"{share:.0%} of this lead is terminal value: the customers still paying at month "
            f"{months}, valued beyond the horizon at a {rate:.0%} annual discount rate.")


@dataclass(frozen=True)
class Recommendation:
    """The policy to choose on value, how clear that is, the main trade-off behind it, and how much
    of the lead is terminal value (``terminal``)."""

    best: str
    finding: Finding | None
    clarity: str
    trade_off: str
    terminal: str = ""

    @property
    def sentence(self) -> str:
        return self.finding.text if self.finding else self.clarity


def recommend(res: Results) -> Recommendation:
    """Recommend the policy with the highest mean value (value_usd) and say how clear the lead is
    over the runner-up and which parts of value it gains and gives up."""
    order = ranking(res, "value_usd")
    best = order[0]
    lb = policy_label(res.scenario, best)
    if len(order) < 2:
        return Recommendation(best, None, f"Only one policy ({lb}) was simulated: nothing to compare.", "")
    f = compare(res, "value_usd", best, order[1])
    lr = policy_label(res.scenario, order[1])
    if f.clear:
        clarity = (f"Clear: the mean lead of {lb} over {lr} lies between {fmt.usd(f.ci_low)} and "
                   f"{fmt.usd(f.ci_high)} with 95% confidence ({f.n} paired replications).")
    elif f.has_interval:
        clarity = (f"Not clear: the 95% interval of {lb} − {lr} spans zero ({fmt.usd(f.ci_low, signed=True)} to "
                   f"{fmt.usd(f.ci_high, signed=True)}); more replications or a closer look at the assumptions "
                   f"are needed before deciding.")
    else:
        clarity = "Not assessed: one replication gives no interval; run more replications."
    parts = {c: paired(res, c, f.a, f.b)["mean"] for c in BRIDGE_COLUMNS}
    gain = max(parts, key=lambda c: parts[c])
    loss = min(parts, key=lambda c: parts[c])
    la, lo = policy_label(res.scenario, f.a), policy_label(res.scenario, f.b)
    trade = ""
    if parts[loss] < 0 < parts[gain]:
        trade = (f"Compared with {lo}, {la} {part_phrase(gain, parts[gain])} but {part_phrase(loss, parts[loss])} "
                 f"(present values).")
    elif parts[gain] > 0:
        trade = f"Compared with {lo}, {la} {part_phrase(gain, parts[gain])} (present value)."
    return Recommendation(best, f, clarity, trade, terminal_phrase(res, f.a, f.b))


# ---------------------------------------------------------------- the desk's monthly measures


@dataclass(frozen=True)
class DeskMeasure:
    """A desk measure of the monthly table, as a finding states it: ``column`` averaged over a
    run's months weighted by ``weight`` (tickets), ``better`` direction, how one value reads."""

    column: str
    weight: str
    better: str  # "lower" or "higher"
    what: str  # "mean first-response wait"
    superlative: str  # "shortest"
    show: str  # format of one value, e.g. "{:.1f} h"
    scale: float = 1.0
    diff_unit: str = ""  # the difference reads in this unit (" h", " pp")


DESK_MEASURES = {
    "wait_mean_h": DeskMeasure("wait_mean_h", "tickets_resolved", "lower", "mean first-response wait", "shortest",
                               "{:.1f} h", diff_unit=" h"),
    "sla_met_share": DeskMeasure("sla_met_share", "tickets_resolved", "higher",
                                 "share of answered tickets within their SLA", "highest", "{:.0f}%", scale=100.0,
                                 diff_unit=" pp"),
}


def _per_run(res: Results, m: DeskMeasure) -> dict[str, dict[int, float]]:
    """Per policy and replication, the run's ticket-weighted mean of ``m.column``."""
    out: dict[str, dict[int, float]] = {}
    df = res.monthly[["policy", "replication", m.column, m.weight]].dropna(subset=[m.column])
    for (p, r), g in df.groupby(["policy", "replication"], sort=False):
        w = g[m.weight].to_numpy(dtype=float)
        x = g[m.column].to_numpy(dtype=float)
        out.setdefault(str(p), {})[int(r)] = float((x * w).sum() / w.sum() if w.sum() > 0 else x.mean()) * m.scale
    return out


def desk_headline(res: Results, measure: str) -> str:
    """The chart title of a desk measure: the best policy against the runner-up, with the
    paired 95% CI of the difference; "No clear difference" when it spans zero."""
    m = DESK_MEASURES[measure]
    runs = _per_run(res, m)
    policies = [p for p in res.policies if runs.get(p)]
    if not policies:
        return m.what[0].upper() + m.what[1:]
    means = {p: sum(runs[p].values()) / len(runs[p]) for p in policies}
    order = sorted(policies, key=lambda p: means[p] if m.better == "lower" else -means[p])
    la = policy_label(res.scenario, order[0])
    if len(order) < 2:
        return f"{la}: {m.what} {m.show.format(means[order[0]])} {_horizon(res)}"
    a, b = order[0], order[1]
    lb = policy_label(res.scenario, b)
    common = sorted(set(runs[a]) & set(runs[b]))
    d = metrics.t_interval([runs[a][r] - runs[b][r] for r in common])
    va, vb = m.show.format(means[a]), m.show.format(means[b])
    if not math.isfinite(d["ci_low"]):
        return f"{la} has the {m.superlative} {m.what}, {va} vs {vb} for {lb} (one replication: no interval)"
    if d["ci_low"] <= 0 <= d["ci_high"]:
        return (f"No clear difference in {m.what} between {la}, {va}, and {lb}, {vb} "
                f"(95% CI of the difference {d['ci_low']:+.1f} to {d['ci_high']:+.1f}{m.diff_unit})")
    lo, hi = sorted((abs(d["ci_low"]), abs(d["ci_high"])))
    return (f"{la} has the {m.superlative} {m.what}, {va} vs {vb} for {lb} "
            f"(difference 95% CI {lo:.1f} to {hi:.1f}{m.diff_unit})")


# ---------------------------------------------------------------- one recommendation per output

# Below this probability of being best, the policy recommended under uncertainty is a close call.
CLOSE_CALL = 0.6


@dataclass(frozen=True)
class Answer:
    """The one recommendation of an output (report, deck, app, command line). ``policy``: the
    decision's best under uncertainty (highest expected value) when a decision is attached, else
    the best on the point estimate. ``point``: the best on the run's point estimate (None without
    a run); ``robust``: the decision's (None without one), best in ``share`` of its sampled worlds.
    ``sentence`` says how the two relate."""

    policy: str
    point: str | None
    robust: str | None
    share: float | None
    sentence: str

    @property
    def agrees(self) -> bool:
        """The point estimate and the decision under uncertainty choose the same policy."""
        return self.point is None or self.robust is None or self.point == self.robust


def turns_on(decision: DecisionResult) -> str | None:
    """The uncertain parameter a decision turns most on (the largest EVPPI, in words), or None
    when no single one is worth researching on its own (EVPPI below a negligible share of EVPI)."""
    top = decision.evppi.iloc[0] if len(decision.evppi) else None
    if top is None or decision.evpi <= 0 or float(top["evppi_usd"]) < NEGLIGIBLE_SHARE * decision.evpi:
        return None
    return mid_sentence(parameter_names(decision.scenario, [str(top["parameter"])])[str(top["parameter"])])


def answer(res: Results | None, decision: DecisionResult | None = None) -> Answer:
    """The one recommendation of ``res`` (a run; its point estimate) and ``decision`` (the same
    scenario under uncertainty), and the sentence every output states it with: "Flat + VIP on the
    point estimate and under uncertainty (best in 100% of 24 sampled worlds, exact 95% interval
    86% to 100%)", or "Tiered on the point estimate; Flat under uncertainty (best in 58% of 24
    sampled worlds, ...): a close call that turns most on the SLA clock". The one place this
    sentence is made."""
    if res is None and decision is None:
        raise ValueError("answer() needs a run or a decision")
    scenario = res.scenario if res is not None else decision.scenario  # type: ignore[union-attr]
    point = recommend(res).best if res is not None else None
    if decision is None:
        return Answer(str(point), point, None, None, f"{policy_label(scenario, str(point))} on the point estimate")
    robust = decision.recommended
    share = float(decision.policies.set_index("policy").at[robust, "prob_best"])
    low, high = prob_best_interval(share, decision.samples)
    worlds = (f"best in {percent(share)} of {decision.samples} sampled worlds, exact 95% interval "
              f"{percent(low)} to {percent(high)}")
    lr = policy_label(scenario, robust)
    if point is None:
        text = f"{lr} under uncertainty ({worlds})"
    elif point == robust:
        text = f"{lr} on the point estimate and under uncertainty ({worlds})"
    else:
        text = f"{policy_label(scenario, point)} on the point estimate; {lr} under uncertainty ({worlds})"
    if share < CLOSE_CALL:
        on = turns_on(decision)
        text += ": a close call" + (f" that turns most on {on}" if on else "")
    return Answer(robust, point, robust, share, text)
