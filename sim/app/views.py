"""What the page shows of results: KPI cards, the verdict, the tables, the downloads, and
what it says when a run fails.

Where it sits: results (:mod:`sim.app.progressive`) -> **views** -> ``app.py`` and the tabs.
Every number is formatted by :mod:`sim.output.fmt` and every KPI described by
:data:`sim.runs.metrics.KPIS`, as in the CLI's outputs; the downloads are the CLI's files
byte for byte. Text from the scenario file (policy labels) reaches Markdown only through
:func:`sim.app.kit.text`. It never imports Streamlit and never runs the model.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.app.drawing import MPL_LOCK
from sim.app.kit import code, text
from sim.decision.psa import DecisionResult, percent, prob_best_interval
from sim.engine import ledger
from sim.output import deck, files, findings, fmt, report
from sim.output.decision_files import decision_json, scenario_differences
from sim.output.optimise_read import Optimum
from sim.output.report import assumptions
from sim.output.terms import terms_rows
from sim.params.scenario import policy_label, resolve_policies
from sim.params.schema import Scenario
from sim.runs import economics, metrics, promises
from sim.runs.results import Results

# ---------------------------------------------------------------- KPI cards


CARD_KPIS = ("value_usd", "cumulative_profit", "customers_at_horizon", "avg_retention_rate_pct", "ltv_cac")
fmt_kpi = fmt.kpi  # a KPI value (or, signed, a difference) as a card shows it


@dataclass(frozen=True)
class Card:
    """One KPI of one policy as a metric card shows it."""

    policy: str
    kpi: str
    label: str
    value: str
    delta: str | None  # difference vs the reference ("+$0.41M"), None for the reference itself
    delta_description: str  # its 95% CI, or why there is none
    delta_color: str  # "normal" / "inverse" when the CI excludes 0, else "off"
    help: str
    mean: float
    diff_mean: float | None


def kpi_cards(res: Results, kpis: Sequence[str] = CARD_KPIS) -> dict[str, list[Card]]:
    """Per policy, the headline KPI cards with deltas vs the reference and their 95% CIs."""
    summary, diffs = res.summary(), res.differences()
    out: dict[str, list[Card]] = {}
    for p in res.policies:
        cards = []
        for k in kpis:
            s = summary[p][k]
            label = metrics.KPIS[k].title
            ci = (f"95% CI {fmt_kpi(k, s['ci_low'])} to {fmt_kpi(k, s['ci_high'])}"
                  if math.isfinite(s["ci_low"]) else "a CI needs two replications or more")
            helptext = f"{kpi_meaning(res, k)}\n\nMean over {s['n']} replications, {ci}."
            if p == res.reference or p not in diffs:
                cards.append(Card(p, k, label, fmt_kpi(k, s["mean"]), None, "reference", "off",
                                  helptext, s["mean"], None))
                continue
            d = diffs[p][k]
            delta = fmt_kpi(k, d["mean"], signed=True)
            if math.isfinite(d["ci_low"]):
                half = fmt_kpi(k, (d["ci_high"] - d["ci_low"]) / 2, signed=True).lstrip("+")
                desc = f"±{half} (95% CI)"
                diff_ci = f"95% CI {fmt_kpi(k, d['ci_low'], signed=True)} to {fmt_kpi(k, d['ci_high'], signed=True)}"
                clear = d["ci_low"] > 0 or d["ci_high"] < 0
            else:
                desc, diff_ci, clear = "CI after 2 replications", "no CI yet", False
            better = metrics.KPIS[k].better
            color = "off" if not clear or better == "neutral" else ("inverse" if better == "lower" else "normal")
            helptext += (f" Difference vs {text(policy_label(res.scenario, res.reference))}, paired by replication "
                         "(common random numbers): "
                         f"{text(delta)}, {text(diff_ci)} (a CI of the mean difference, not a range of single runs). "
                         "Coloured only when the 95% CI excludes zero.")
            cards.append(Card(p, k, label, fmt_kpi(k, s["mean"]), delta, desc, color, helptext, s["mean"],
                              d["mean"]))
        out[p] = cards
    return out


def kpi_meaning(res: Results, kpi: str) -> str:
    """What a KPI is, for a card's help: its registry definition and this run's horizon."""
    months = res.scenario.run.months
    return (f"**{metrics.KPIS[kpi].title}**: {metrics.KPIS[kpi].definition.rstrip('.')}. "
            f"Horizon: {months} months (one run of the model).")


# KPIs a verdict looks at for the leader's main trade-off, in order of how much they matter
TRADE_OFF_KPIS = ("customers_at_horizon", "cumulative_profit", "avg_retention_rate_pct", "ltv_cac")


def _trade_off(kpi: str, diff: float, other: str) -> str:
    """'142 fewer customers' / 'a lower LTV:CAC (-0.41×)' than ``other`` (Markdown, shown literally)."""
    if kpi == "customers_at_horizon":
        return f"ends with {abs(diff):,.0f} fewer customers than {other}"
    return f"has a lower {metrics.KPIS[kpi].label.lower()} than {other} ({text(fmt_kpi(kpi, diff, signed=True))})"


def verdict(res: Results, kpi: str = "value_usd") -> str:
    """Which policy leads on ``kpi`` (value_usd), how clear the lead is, and its main trade-off.

    The lead is measured against the runner-up, paired by replication through the reference
    (common random numbers): 'a clear lead' when the 95% CI of the gap excludes zero. The
    trade-off is the first of :data:`TRADE_OFF_KPIS` on which the leader is clearly worse
    than the runner-up (CI excludes zero), if any.
    """
    if len(res.policies) < 2:
        return ""
    scen = res.scenario
    # every KPI kept, even one undefined in every run (LTV:CAC without paid acquisition); while
    # refining, compare on the replications every policy has
    paired = res.kpis.pivot_table(index="replication", columns="policy", values=list({kpi, *TRADE_OFF_KPIS}),
                                  dropna=False)
    paired = paired[paired[kpi][res.policies].notna().all(axis=1)]
    means = {p: paired[kpi][p].mean() for p in res.policies}
    best, second = sorted(res.policies, key=lambda p: -means[p])[:2]
    gap = metrics.t_interval(paired[kpi][best] - paired[kpi][second])
    name = metrics.KPIS[kpi].label.lower()
    lead, b2 = text(policy_label(scen, best)), text(policy_label(scen, second))
    if math.isfinite(gap["ci_low"]):
        sure = ("a clear lead" if gap["ci_low"] > 0 else "not a clear lead: the 95% CI of the gap includes zero")
        ci = (f" (95% CI {text(fmt_kpi(kpi, gap['ci_low'], signed=True))} to "
              f"{text(fmt_kpi(kpi, gap['ci_high'], signed=True))})")
    else:
        sure, ci = "more replications will tell how clear", ""
    line = (f"**{lead}** has the highest {name}: {text(fmt_kpi(kpi, gap['mean'], signed=True))} ahead of "
            f"{b2}{ci}, {sure}")
    for k in TRADE_OFF_KPIS:
        d = metrics.t_interval(paired[k][best] - paired[k][second])
        worse = d["ci_high"] < 0 if metrics.KPIS[k].better == "higher" else d["ci_low"] > 0
        if math.isfinite(d["ci_low"]) and worse and metrics.KPIS[k].better != "neutral":
            return line + f", but it {_trade_off(k, d['mean'], b2)}."
    return line + "."


def bridge_table(res: Results) -> pd.DataFrame:
    """Where each policy's difference in value vs the reference comes from: one row per part of
    value (subscription revenue, support fees, support cost, acquisition, VIP, loyalty, terminal
    value) and the total, one column per policy (mean paired difference ± 95% CI half-width).
    Parts are signed as they add to value: a cost that grows is negative."""
    bridge = res.bridge()
    parts = [*economics.BRIDGE_COLUMNS, "value_usd"]
    rows = []
    for col in parts:
        part = col.removeprefix("pv_")
        row = {"part of value": "Value (total)" if col == "value_usd" else BRIDGE_LABELS.get(part, part)}
        for p, b in bridge.items():
            d = b[col]
            half = (d["ci_high"] - d["ci_low"]) / 2 if math.isfinite(d["ci_low"]) else math.nan
            row[policy_label(res.scenario, p)] = fmt.usd(d["mean"], signed=True) + (
                f" ± {fmt.usd(half)}" if math.isfinite(half) else "")
        rows.append(row)
    return pd.DataFrame(rows)


BRIDGE_LABELS = {m.part: m.part_label for m in (*ledger.MONEY, ledger.TERMINAL)}


def segment_table(res: Results) -> pd.DataFrame:
    """Per segment and policy: "customers at the horizon · revenue over the horizon"
    (subscription plus support fees, undiscounted), means over replications."""
    seg = res.segments
    if seg is None or seg.empty:
        return pd.DataFrame()
    last = seg["month"].max()
    rev = seg.assign(revenue=seg["subscription_revenue"] + seg["support_revenue"])
    per_rep = rev.groupby(["policy", "segment", "replication"], sort=False).agg(revenue=("revenue", "sum"))
    ends = seg[seg["month"] == last].set_index(["policy", "segment", "replication"])["customers_end"]
    per_rep["customers"] = ends
    mean = per_rep.groupby(["policy", "segment"], sort=False).mean()
    rows = []
    for segment in seg["segment"].drop_duplicates():
        row: dict[str, Any] = {"segment": segment}
        for p in res.policies:
            row[policy_label(res.scenario, p)] = (f"{mean.loc[(p, segment), 'customers']:,.0f} · "
                                                  f"{fmt.usd(mean.loc[(p, segment), 'revenue'])}")
        rows.append(row)
    return pd.DataFrame(rows)


def kpi_table(res: Results) -> pd.DataFrame:
    """Every KPI per policy as the page shows it: mean, 95% CI, difference vs the reference
    and its 95% CI (paired by replication), formatted."""
    summary, diffs = res.summary(), res.differences()

    def ci(k: str, s: dict[str, float], signed: bool = False) -> str:
        if not math.isfinite(s["ci_low"]):
            return "–"
        return f"{fmt_kpi(k, s['ci_low'], signed=signed)} to {fmt_kpi(k, s['ci_high'], signed=signed)}"

    rows = []
    for k, kpi in metrics.KPIS.items():
        label = kpi.title
        for p in res.policies:
            s = summary[p][k]
            d = diffs.get(p, {}).get(k)
            rows.append({
                "KPI": label, "policy": p, "mean": fmt_kpi(k, s["mean"]), "95% CI": ci(k, s),
                f"difference vs {res.reference}": fmt_kpi(k, d["mean"], signed=True) if d else "reference",
                "difference 95% CI": ci(k, d, signed=True) if d else "",
            })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- downloads


def _csv(table: pd.DataFrame, stamp: Results | dict[str, object]) -> bytes:
    """A results table as the CLI writes it (same columns, float format, provenance, bytes)."""
    buf = io.StringIO()
    files.write_table(table, stamp, buf)
    return buf.getvalue().encode()


def monthly_csv(res: Results) -> bytes:
    """monthly.csv of the run: one row per policy x replication x month."""
    return _csv(res.monthly, res)


def kpis_csv(res: Results) -> bytes:
    """kpis.csv of the run: one row per policy x replication."""
    return _csv(res.kpis, res)


def report_html(res: Results, command: str | None = None, *, decision: DecisionResult | None = None) -> bytes:
    """The run's one-page report (``supportsim report``, with ``--decision`` when ``decision`` is given)."""
    return report.render(res, command=command, decision=decision).encode("utf-8")


def one_answer(res: Results, decision: DecisionResult | None) -> str:
    """The recommendation the report and deck state once a decision of this scenario is on the
    page (how the point estimate and the decision under uncertainty relate), as Markdown; "" without one."""
    if decision is None or scenario_differences(decision, res.scenario):
        return ""
    return f"**Recommendation: {text(findings.answer(res, decision).sentence)}.**"


PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def deck_pptx(res: Results, command: str | None = None, *, decision: DecisionResult | None = None,
              optimum: Optimum | None = None) -> bytes:
    """The run's slide deck (``supportsim deck``, with ``--decision`` / ``--optimum`` when
    ``decision`` / ``optimum`` is given) as .pptx bytes; one figure at a time (the lock)."""
    with MPL_LOCK:
        return deck.deck_bytes(res, command=command, decision=decision, optimum=optimum)


# ---------------------------------------------------------------- decision


def decision_table(result: DecisionResult) -> pd.DataFrame:
    """Per policy (display label): probability of being best with its exact 95% binomial interval
    over the sampled worlds, expected value and expected loss of choosing it, recommended."""
    rows = []
    for r in result.policies.itertuples():
        low, high = prob_best_interval(r.prob_best, result.samples)
        rows.append({
            "policy": policy_label(result.scenario, r.policy),
            "probability best": f"{percent(r.prob_best)} ({percent(low)} to {percent(high)})",
            "expected value": fmt.kpi(result.kpi, r.expected_value),
            "expected loss": fmt.kpi(result.kpi, r.expected_loss),
            "recommended": bool(r.recommended),
        })
    return pd.DataFrame(rows)


def held_fixed_frame(scenario: Scenario) -> pd.DataFrame:
    """What a decision on ``scenario`` holds fixed (setting, value), as the report and deck list it."""
    head, *rows = report.held_fixed_rows(scenario)
    return pd.DataFrame(rows, columns=["setting", "value"])


def decision_json_bytes(result: DecisionResult) -> bytes:
    """decision.json as ``supportsim decide --out`` writes it."""
    return (json.dumps(decision_json(result), indent=2) + "\n").encode()


def psa_csv(result: DecisionResult) -> bytes:
    """psa.csv as ``supportsim decide --out`` writes it: one row per sample x policy."""
    return _csv(result.psa, files.provenance(result.seed, result.scenario_sha256))


# ---------------------------------------------------------------- assumptions


def terms_frame(scenario: Scenario) -> pd.DataFrame:
    """What each policy promises and charges (the deck's table, :func:`sim.output.terms.terms_rows`):
    one row per term, one column per policy label, and, when the SLA clock leaves some promise
    unkeepable on the desk's hours, the share of tickets no roster can answer in time."""
    header, *rows = terms_rows(scenario)
    columns = ["Term", *_unique(header[1:])]
    table = promises.promises_table(scenario)
    if (table["unkeepable_share"] > 0).any():
        shares = []
        for _, t in table.groupby("policy", sort=False):
            shown = [f"{x:.0%}" for x in t["unkeepable_share"]]
            shares.append(f"{shown[0]} (every plan)" if len(set(shown)) == 1 else " / ".join(shown))
        rows.append(["Tickets the desk's hours cannot answer in time, whatever the roster", *shares])
    return pd.DataFrame(rows, columns=columns)


def _unique(labels: Sequence[str]) -> list[str]:
    """Column names: a repeated label gets its place appended (a table's columns must differ)."""
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if seen[lab] == 1 else f"{lab} ({seen[lab]})")
    return out


def promise_warning(scenario: Scenario) -> str:
    """Markdown for one warning near the cards, or "": each promise that the desk's hours cannot
    keep for more than :data:`sim.runs.promises.WARN_SHARE` of its tickets whatever the roster
    (the cases of :func:`sim.runs.promises.unkeepable_warnings`), one line per policy, policies
    with the same promises and shares on one line; user text shown literally."""
    lines: dict[str, list[str]] = {}  # what a policy cannot keep -> the policies
    for label, parts in promises.unkeepable_by_policy(promises.promises_table(scenario)):
        what = "; ".join(f"{promise:g} h ({plans}): {share:.0%}" for promise, share, plans in parts)
        lines.setdefault(what, []).append(label)
    if not lines:
        return ""
    return ("**Promises the desk's hours cannot keep, whatever the roster**: the share of tickets that arrive with "
            "no open hour before their deadline on the calendar clock\n"
            + "\n".join(f"- {text(_and(labels))}: {text(what)}" for what, labels in lines.items()))


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def assumptions_frame(scenario: Scenario, changed: Sequence[str] = ()) -> pd.DataFrame:
    """Every parameter: value, policies that differ, unit, allowed range, source, meaning,
    and whether the app changed it from the file."""
    changed_paths = {o.split("=", 1)[0] for o in changed}
    rows = []
    for r in assumptions(scenario):
        dotted = r.path.replace("[", ".").replace("]", "")
        dotted = ".".join(part.split("=")[0] for part in dotted.split("."))
        rows.append({
            "parameter": r.path, "value": _cell(r.value),
            "policies that differ": ", ".join(f"{k}: {_cell(v)}" for k, v in r.overrides.items()),
            "unit": r.unit, "allowed": r.allowed.removeprefix("allowed range ").removeprefix("allowed values: "),
            "source": r.source or "assumption", "meaning": r.description,
            "changed in app": dotted in changed_paths or any(p.endswith("." + dotted) for p in changed_paths),
        })
    return pd.DataFrame(rows)


def _cell(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:,.6g}"
    if isinstance(v, list):
        return "[" + ", ".join(_cell(x) for x in v) + "]"
    return str(v)


# ---------------------------------------------------------------- when a run cannot be shown


def undefined_kpis(res: Results) -> str:
    """Why a headline KPI has no value (Markdown), or "": LTV:CAC and the realised CAC need
    customers acquired by paid acquisition, and a scenario may have none."""
    kpis = res.kpis
    missing = [p for p in res.policies if kpis.loc[kpis["policy"] == p, "ltv_cac"].isna().all()]
    if not missing:
        return ""
    acq = res.scenario.acquisition
    who = "any policy" if len(missing) == len(res.policies) else ", ".join(text(policy_label(res.scenario, p))
                                                                          for p in missing)
    return (f"**LTV:CAC and the realised CAC are undefined** for {who}: no customer was acquired by paid "
            f"acquisition, so nothing was spent to divide by ({code('acquisition.replacement_share')} = "
            f"{acq.replacement_share:g}, {code('acquisition.growth_per_month')} = {acq.growth_per_month:g}). "
            f"To compare them, set {code('acquisition.replacement_share')} above 0 under **Acquisition and "
            "finance**; every other number is unaffected.")


def _lognormal_fields(scenario: Scenario) -> list[str]:
    """The handle-time fields of every policy that draws lognormal handle times."""
    out = []
    for p in resolve_policies(scenario):
        s = p.params.support
        if s.handle_time_dist == "lognormal":
            where = "support" if not scenario.policies else f"policy {p.label}: support"  # shown as code
            out.append(f"{where}.handle_time_mean_h = {s.handle_time_mean_h:g}, handle_time_cv = {s.handle_time_cv:g}")
    return out


def run_failure(exc: BaseException, scenario: Scenario, *, memory_mb: int) -> str:
    """What the page says, instead of a traceback, when the runs of ``scenario`` fail with
    ``exc``: the limit or the fields responsible, and what to do (Markdown)."""
    cli = f"or run it from the command line ({code('supportsim run')}), which has no such cap"
    if isinstance(exc, MemoryError):
        return (f"**These settings need more memory than the app allows one run**: "
                f"{code('SUPPORTSIM_APP_MAX_MEMORY_MB')} = {memory_mb:,} MB per worker process, so they were "
                f"not run. Use fewer customers ({code('customers.initial')} = {scenario.customers.initial:,}) or "
                f"months ({code('run.months')} = {scenario.run.months}), raise {code('SUPPORTSIM_APP_MAX_MEMORY_MB')} "
                f"where the app is started, {cli}.")
    if isinstance(exc, BrokenProcessPool):
        return (f"**A simulation worker stopped unexpectedly** (killed, or out of the machine's memory; each is "
                f"capped at {code('SUPPORTSIM_APP_MAX_MEMORY_MB')} = {memory_mb:,} MB). Change any control to run "
                "again; if it happens again, use fewer customers or months.")
    detail = text(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ArithmeticError):
        fields = _lognormal_fields(scenario)
        if fields:
            return (f"**The model's numbers overflowed with lognormal handle times** ({detail}). "
                    f"{code('support.handle_time_dist')} = lognormal with " + "; ".join(code(f) for f in fields)
                    + f": so extreme a mean or spread draws handle times beyond what the model can count. Bring "
                    f"{code('support.handle_time_mean_h')} or {code('support.handle_time_cv')} closer to their "
                    f"defaults under **Support desk**, or use {code('support.handle_time_dist')} = exponential.")
        return (f"**The model's numbers overflowed with these settings** ({detail}). Bring the most extreme "
                "parameters you changed closer to their defaults (**Reset controls to the file** undoes them all).")
    return (f"**The model could not run these settings** ({detail}). Change the last control you moved, or "
            f"**Reset controls to the file**; {code('supportsim run')} on the exported scenario shows the full "
            "error.")
