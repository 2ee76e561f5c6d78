"""Sensitivity (the tornado): each main behavioural parameter moved down and up, the swing of a KPI.

Where it sits: **runs**, on the grid of ``sim.runs.grid`` and the paths of ``sim.runs.paths``;
-> tables for the tornado plot, the CLI's ``sensitivity`` and the app's Sensitivity tab.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.params.scenario import (
    ScenarioError,
    allowed_range,
    resolve_policies,
)
from sim.params.schema import Scenario
from sim.params.walk import field_info
from sim.runs.grid import (
    Cell,
    Engine,
    Progress,
    check_kpi,
    check_pair,
    check_points,
    paired,
)
from sim.runs.options import SERIAL, RunOptions
from sim.runs.paths import bounds_of, expand_path, get_path

# The main behavioural parameters of the tornado: (path, label, documented range or None).
# A documented range replaces +-delta when ``documented_ranges`` is on.
SENSITIVITY_PARAMETERS: tuple[tuple[str, str, tuple[float, float] | None], ...] = (
    ("customers.segments.*.issue_rate_per_month", "Issues per customer-month", None),
    ("customers.segments.*.fee_sensitivity_per_usd", "Fee sensitivity (demand suppression)", None),
    ("customers.segments.*.base_churn_per_month", "Base churn per month", None),
    ("help_seeking.base_ask_prob", "P(ask for help) when free", None),
    ("help_seeking.self_resolve_prob", "P(issue resolves itself)", None),
    ("satisfaction.p_down_unresolved", "Ladder down per unresolved issue", None),
    ("satisfaction.late_half_ratio", "Lateness that costs half an unresolved issue", (1.25, 8.0)),
    ("satisfaction.recovery_gain", "Recovery paradox (up per issue resolved in time)", (0.0, 0.05)),  # [dematos2007]
    ("satisfaction.relief_above_meet", "Loyalty above 'meet' (share of the articles' claim)", (0.0, 1.0)),
    ("satisfaction.market_norm_h", "Market norm for a first response", (4.0, 24.0)),
    ("demand.wtp_sigma", "Spread of willingness to pay", (0.3, 1.0)),
    ("satisfaction.resentment_per_usd", "Resentment per USD of fees", None),
    ("churn.switching_ease", "Ease of switching", None),
    ("wom.referral_rate_wow", "Referrals per 'wow' customer", None),
    ("wom.negative_per_unhappy_churner", "Negative word of mouth", None),
    ("acquisition.cac_multiple", "Acquisition cost multiple", (6.0, 7.0)),  # [article-flat-vs-tiered]: 6-7x
    ("support.handle_time_mean_h", "Handle time per ticket", None),
    ("support.agent_cost_usd_per_hour", "Agent cost per hour", None),
    ("support.patience_mean_h", "Customer patience", None),
)


# ---------------------------------------------------------------------------- sensitivity


@dataclass(frozen=True)
class _Swing:
    path: str
    label: str
    low: dict[str, Any]  # concrete path -> value
    high: dict[str, Any]
    low_value: float
    high_value: float


def _swing_for(scenario: Scenario, path: str, label: str, delta: float,
               rng: tuple[float, float] | None, fallback: tuple[float, float] | None = None) -> _Swing:
    """The low and high settings of one tornado bar: ``rng``, or base x (1 -+ delta); a base of 0
    takes ``fallback`` (the documented range), since no share of 0 moves it."""
    data = scenario.model_dump(mode="python")
    if path.startswith("policies."):
        name = path.split(".")[1]
        policies = {p.name: p.params for p in resolve_policies(scenario)}
        if name not in policies:
            raise ScenarioError([f"{path}: no policy named {name!r}; policies: {', '.join(policies)}"], "--param")
        base_data = {"policies": {name: policies[name].model_dump(mode="python")}}
    else:
        base_data = data
    concrete = expand_path(base_data, path)
    lo_b, hi_b, is_int = bounds_of(path)
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    for c in concrete:
        try:
            base = get_path(base_data, c)
        except KeyError:
            raise ScenarioError([f"{c}: no such parameter"], "--param") from None
        if isinstance(base, bool) or not isinstance(base, (int, float)):
            raise ScenarioError([f"{c}: not a numeric parameter (value {base!r})"], "--param")
        if rng is None and base == 0 and fallback is not None:
            rng = fallback
        if rng is not None:
            lv, hv = float(rng[0]), float(rng[1])
            for v in (lv, hv):
                if not lo_b <= v <= hi_b:
                    raise ScenarioError([f"{c}: {v:g} is out of range; {allowed_range(field_info(path))}"], "--range")
        else:
            if base == 0:
                raise ScenarioError([f"{c}: the base value is 0, so +-{delta:.0%} does not move it; give a range "
                                     f"with --range {path}=LOW:HIGH"], "--param")
            lv, hv = base * (1 - delta), base * (1 + delta)
        lv, hv = max(lo_b, min(hi_b, lv)), max(lo_b, min(hi_b, hv))
        if is_int:
            lv, hv = float(math.floor(lv)), float(math.ceil(hv))
        low[c] = int(lv) if is_int else lv
        high[c] = int(hv) if is_int else hv
    low_value, high_value = _representative(base_data, path, concrete, low), _representative(
        base_data, path, concrete, high)
    return _Swing(path, label, low, high, low_value, high_value)


def _representative(data: dict[str, Any], path: str, concrete: list[str], values: dict[str, Any]) -> float:
    """One number for a (possibly wildcard) parameter: segment-share-weighted mean for
    ``customers.segments.*``, the plain mean for other lists."""
    xs = np.array([float(values[c]) for c in concrete])
    if len(concrete) > 1 and path.startswith("customers.segments.*"):
        shares = np.array([float(get_path(data, f"customers.segments.{i}.share")) for i in range(len(concrete))])
        if shares.sum() > 0:
            return float((xs * shares).sum() / shares.sum())
    return float(xs.mean())


def sensitivity(
    scenario: Scenario,
    *,
    kpi: str = "value_usd",
    policy_a: str | None = None,
    policy_b: str | None = None,
    parameters: Sequence[str] | None = None,
    delta: float = 0.2,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    documented_ranges: bool = False,
    options: RunOptions = SERIAL,
) -> pd.DataFrame:
    """One-at-a-time sensitivity (tornado) of the paired difference policy_b - policy_a.

    Each parameter (default: :data:`SENSITIVITY_PARAMETERS`) is moved to base x (1 - delta)
    and base x (1 + delta), clipped to its allowed range, or over ``ranges[path]`` (and its
    documented range when ``documented_ranges``); all others stay at base. Columns:
    ``parameter``, ``label``, ``low_value``, ``high_value``, ``base_mean``, ``low_mean``,
    ``low_ci_low``, ``low_ci_high``, ``high_mean``, ``high_ci_low``, ``high_ci_high``,
    ``swing`` (= |high_mean - low_mean|), sorted by swing, largest first. For a
    ``customers.segments.*`` parameter the values shown are share-weighted means.
    """
    kpi = check_kpi(kpi)
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise ScenarioError([f"--delta: allowed range (0, 1) (got {delta!r})"], "--delta")
    policy_a, policy_b = check_pair(scenario, policy_a, policy_b)
    labels = {p: lab for p, lab, _ in SENSITIVITY_PARAMETERS}
    documented = {p: r for p, _, r in SENSITIVITY_PARAMETERS if r is not None}
    ranges = dict(ranges or {})
    paths = list(parameters) if parameters is not None else [p for p, _, _ in SENSITIVITY_PARAMETERS]
    paths += [p for p in ranges if p not in paths]
    if not paths:
        raise ScenarioError(["--param: no parameters to vary"], "--param")
    swings = []
    for path in paths:
        rng = ranges.get(path) or (documented.get(path) if documented_ranges else None)
        label = labels.get(path) or path.rsplit(".", 1)[-1].replace("_", " ")
        swings.append(_swing_for(scenario, path, label, delta, rng, documented.get(path)))
    reps = options.replications_for(scenario)
    progress = Progress(options.on_progress)
    base_key: tuple[tuple[str, Any], ...] = ()
    keys = [base_key] + [k for s in swings for k in (tuple(s.low.items()), tuple(s.high.items()))]
    resolved = check_points(scenario, [policy_a, policy_b], keys, reps, options.max_work,
                             counted=f"{len(keys)} points (base, each parameter low and high) x 2 policies x {reps} "
                                     "replications",
                             reduce="Use fewer parameters or replications, or a smaller --delta or --range")
    with options.pool() as ex:
        engine = Engine(scenario, replications=reps, seed=options.seed, crn=True, executor=ex, progress=progress,
                         resolved=resolved)
        df = engine.run([Cell(k, p) for k in keys for p in (policy_a, policy_b)])

    def diff(key: tuple) -> dict[str, float]:
        return paired(df[df["_point"] == engine.point(key)], kpi, policy_a, policy_b)

    base = diff(base_key)
    rows = []
    for s in swings:
        lo, hi = diff(tuple(s.low.items())), diff(tuple(s.high.items()))
        rows.append({
            "parameter": s.path, "label": s.label, "low_value": s.low_value, "high_value": s.high_value,
            "base_mean": base["mean"], "low_mean": lo["mean"], "low_ci_low": lo["ci_low"],
            "low_ci_high": lo["ci_high"], "high_mean": hi["mean"], "high_ci_low": hi["ci_low"],
            "high_ci_high": hi["ci_high"], "swing": abs(hi["mean"] - lo["mean"]),
        })
    table = pd.DataFrame(rows).sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)
    table.attrs = {"kpi": kpi, "policy_a": policy_a, "policy_b": policy_b, "delta": delta,
                   "base_ci": [base["ci_low"], base["ci_high"]], "replications": reps}
    return table
