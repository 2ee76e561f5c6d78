"""The lever audit: every behavioural parameter, a setting where it is active, and a stated change.

Where it sits: params -> engine -> **levers** (uses the model and the KPIs) -> the audit
script (``scripts/lever_audit.py``, the table in docs/validation.md) and
``tests/test_levers.py`` (every lever changes the outputs; every schema parameter is either a
lever here or listed in :data:`NOT_LEVERS` with the reason).

A :class:`Lever` names a parameter path (``customers.segments[]`` fields act on the first
segment), the context that makes it active (overrides of the defaults, e.g. the scheme it is
used under) and the change whose effect on ``value_usd`` the audit measures, paired by
replication (common random numbers).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sim.engine import model
from sim.params.schema import Params
from sim.runs import metrics

PER_TICKET = {"pricing.scheme": "per_ticket", "pricing.per_ticket_fee_usd": 15.0}
PER_HOUR = {"pricing.scheme": "per_hour", "pricing.per_hour_fee_usd": 40.0}
TIERED = {"pricing.scheme": "tiered"}
FIXED = {"support.staffing": "fixed", "support.agents": 2}
VIP = {"vip.enabled": True}
LOADED = {"customers.initial": 3000}  # about two Erlangs of tickets: staffing choices bind
VIP_SCALED = {"vip.enabled": True, "vip.manual_capacity": 10}
VIP_LINE = {"vip.enabled": True, "support.vip_line": True}
SHARES = {"satisfaction.initial_mix": "shares"}


@dataclass(frozen=True)
class Lever:
    """A parameter, the context where it acts, and the change the audit makes."""

    path: str
    to: Any  # the new value, or a function of the old one
    context: dict[str, Any] = field(default_factory=dict)
    why: str = ""  # why the context is needed (the parameter cannot act at the defaults)

    def value(self, old: Any) -> Any:
        return self.to(old) if callable(self.to) else self.to

    def describe(self, old: Any) -> str:
        new = self.value(old)
        return f"{_short(old)} → {_short(new)}"


def _short(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    if isinstance(x, list):
        return "[" + ", ".join(_short(v) for v in x) + "]"
    return str(x)


def _times(k: float) -> Callable[[Any], Any]:
    return lambda old: [v * k for v in old] if isinstance(old, list) else old * k


LEVERS: list[Lever] = [
    Lever("customers.initial", _times(1.5)),
    Lever("customers.segments[].share", [0.4, 0.45, 0.15]),
    Lever("customers.segments[].plan_price_usd_per_month", _times(1.2)),
    Lever("customers.segments[].issue_rate_per_month", _times(1.5)),
    Lever("customers.segments[].fee_sensitivity_per_usd", _times(2), PER_TICKET, "only a fee is suppressed"),
    Lever("customers.segments[].base_churn_per_month", _times(1.5)),
    Lever("customers.segments[].trial_conversion", _times(1.2)),
    Lever("customers.segments[].market_price_usd_per_month", _times(1.3)),
    Lever("customers.segments[].tier_priority", 1, TIERED, "tiered scheme only"),
    Lever("customers.segments[].tier_sla_h", 1.0, TIERED, "tiered scheme only"),
    Lever("customers.segments[].tier_ticket_fee_usd", _times(2), TIERED, "tiered scheme only"),
    Lever("customers.segments[].retention_cost_usd", _times(1.5)),
    Lever("customers.segments[].cac_usd", 2000.0),
    Lever("customers.segments[].is_top_plan", True, VIP, "VIP selection rule"),
    Lever("customers.segments[].big_name_share", 0.2, VIP, "VIP selection rule"),
    Lever("customers.segments[].funding_median_usd", _times(5), VIP, "VIP selection rule"),
    Lever("customers.funding_sigma", 2.0, VIP, "VIP selection rule"),
    Lever("pricing.scheme", "tiered"),
    Lever("pricing.per_ticket_fee_usd", 30.0, PER_TICKET, "per_ticket scheme only"),
    Lever("pricing.per_hour_fee_usd", 80.0, PER_HOUR, "per_hour scheme only"),
    Lever("pricing.included_tickets_per_month", 1, PER_TICKET, "metered schemes only"),
    Lever("pricing.support_fee_usd_per_month", 10.0),
    Lever("pricing.price_multiplier", 1.1),
    Lever("help_seeking.base_ask_prob", 0.6),
    Lever("help_seeking.self_resolve_prob", 0.7),
    Lever("support.staffing", "fixed"),
    Lever("support.agents", 1, FIXED, "fixed staffing only"),
    Lever("support.min_agents", 3),
    Lever("support.max_agents", 1, LOADED, "binds only when the load needs more agents than the cap (never at 200)"),
    Lever("support.staffing_service_level", 0.99, {**LOADED, "support.sla_target_h": 0.1},
          "with a 4 h target the Erlang level is met at any target by the fewest agents above the load"),
    Lever("support.sla_target_h", 0.25),
    Lever("support.handle_time_mean_h", 1.5),
    Lever("support.handle_time_dist", "lognormal"),
    Lever("support.handle_time_cv", 3.0, {"support.handle_time_dist": "lognormal"}, "lognormal handle times only"),
    Lever("support.patience_mean_h", 0.5, FIXED, "patience matters when waits are long (a small fixed desk)"),
    Lever("support.agent_cost_usd_per_hour", 70.0),
    Lever("support.hours", "24/7"),
    Lever("support.open_hour", 7),
    Lever("support.close_hour", 20),
    Lever("support.open_days", 7),
    Lever("support.vip_line", True, VIP, "a VIP line serves VIP tickets only"),
    Lever("support.vip_line_open_hour", 5, VIP_LINE, "the VIP line's hours act only when it is on"),
    Lever("support.vip_line_close_hour", 23, VIP_LINE, "the VIP line's hours act only when it is on"),
    Lever("support.vip_line_days", 5, VIP_LINE, "the VIP line's hours act only when it is on"),
    Lever("support.sla_clock", "calendar"),
    Lever("support.patience_clock", "calendar"),
    Lever("support.arrival_day_start_hour", 5),
    Lever("support.arrival_day_end_hour", 23),
    Lever("support.arrival_offhours_factor", 1.0),
    Lever("support.arrival_weekend_factor", 1.0),
    Lever("support.arrival_monday_factor", 2.0),
    Lever("satisfaction.initial_mix", "shares"),
    Lever("satisfaction.initial_shares", [0.2, 0.5, 0.2, 0.05, 0.05], SHARES, "read only when the mix is given"),
    Lever("satisfaction.recovery_gain", 0.3),
    Lever("satisfaction.late_half_ratio", 20.0, {**FIXED, "support.agents": 1}, "late answers need a busy desk"),
    Lever("satisfaction.p_down_effort", 1.0, {**FIXED, "support.agents": 1}, "abandonment needs a busy desk"),
    Lever("satisfaction.p_down_unresolved", 0.6),
    Lever("satisfaction.market_norm_h", 1.0),
    Lever("satisfaction.relief_above_meet", 1.0, VIP, "customers above 'meet' need a programme that lifts them"),
    Lever("demand.wtp_sigma", 2.0, {"pricing.price_multiplier": 1.3}, "a price away from the market's"),
    Lever("demand.promise_elasticity", 0.3),
    Lever("satisfaction.resentment_per_usd", 0.05, PER_TICKET, "resentment needs fees"),
    Lever("satisfaction.p_decay_above_meet", 0.3, VIP, "customers above 'meet' need a programme that lifts them"),
    Lever("satisfaction.p_recover_from_below", 0.3),
    Lever("churn.level_hazard_multiplier", _times(1.3)),
    Lever("churn.switching_ease", 1.5),
    Lever("churn.price_elasticity", 4.0, PER_TICKET, "the perceived price equals the list price under flat"),
    Lever("churn.price_elasticity_level_multiplier", _times(3), PER_TICKET, "as churn.price_elasticity"),
    Lever("wom.referral_rate_delight", 0.05, VIP, "delighted customers need a programme that lifts them"),
    Lever("wom.referral_rate_wow", 0.1, VIP, "'wow' customers need a programme that lifts them"),
    Lever("wom.negative_per_unhappy_churner", 3.0),
    Lever("acquisition.cac_multiple", 13.0),
    Lever("acquisition.mix", "target"),
    Lever("acquisition.replacement_share", 0.5),
    Lever("acquisition.growth_per_month", 20.0),
    Lever("acquisition.organic_signups_per_month", 50.0),
    Lever("acquisition.conversion_prior_trials", 0.0),
    Lever("trial.conversion_level_multiplier", [0.3, 1.0, 2.0, 2.0, 2.0], VIP, "trials above 'meet' need VIP touches"),
    Lever("vip.enabled", True),
    Lever("vip.select_top_plan", False, VIP, "VIP programme only"),
    Lever("vip.select_big_name", False, VIP, "VIP programme only"),
    Lever("vip.select_funded", False, VIP, "VIP programme only"),
    Lever("vip.min_funding_usd", 2_000_000.0, VIP, "VIP programme only"),
    Lever("vip.sla_h", 24.0, {**VIP, **FIXED, "support.agents": 1}, "VIP programme, a busy desk"),
    Lever("vip.welcome_h", 0.0, VIP, "VIP programme only"),
    Lever("vip.concierge_checkins", 0, VIP, "VIP programme only"),
    Lever("vip.checkin_h", 0.0, VIP, "VIP programme only"),
    Lever("vip.concierge_conversion_uplift", 0.4, VIP, "VIP programme only"),
    Lever("vip.lifecycle_checkins", False, VIP, "VIP programme only"),
    Lever("vip.p_up_per_touch", 0.0, VIP, "VIP programme only"),
    Lever("vip.alert_detection_prob", 0.0, VIP, "VIP programme only"),
    Lever("vip.alert_false_positive_rate", 0.5, VIP, "VIP programme only"),
    Lever("vip.outreach_h", 8.0, {**VIP, **FIXED, "support.agents": 1}, "VIP programme; hours show on a small desk"),
    Lever("vip.outreach_save_prob", 1.0, VIP, "VIP programme only"),
    Lever("vip.perks_usd_per_vip_month", 50.0, VIP, "VIP programme only"),
    Lever("vip.perks_p_up_per_month", 0.3, VIP, "VIP programme with perks"),
    Lever("vip.manual_capacity", 10, VIP, "binds only with more VIPs than the capacity (never at 1,000,000)"),
    Lever("vip.automated_p_up_per_touch", 0.5, VIP_SCALED, "VIPs beyond manual capacity only"),
    Lever("vip.automated_save_prob", 0.8, VIP_SCALED, "VIPs beyond manual capacity only"),
    Lever("loyalty.enabled", True),
    Lever("loyalty.cost_usd_per_customer_month", 20.0, {"loyalty.enabled": True}, "programme switched on"),
    Lever("loyalty.p_up_per_month", 0.2, {"loyalty.enabled": True}, "programme switched on"),
    Lever("proactive.enabled", True),
    Lever("proactive.p_up_per_month", 0.2, {"proactive.enabled": True}, "programme switched on"),
    Lever("proactive.cost_usd_per_customer_month", 5.0, {"proactive.enabled": True}, "programme switched on"),
    Lever("feedback.enabled", True),
    Lever("feedback.survey_response_rate", 0.9, {"feedback.enabled": True}, "programme switched on"),
    Lever("feedback.p_recover_detected", 1.0, {"feedback.enabled": True}, "programme switched on"),
    Lever("feedback.followup_cost_usd", 100.0, {"feedback.enabled": True}, "programme switched on"),
    Lever("feedback.survey_cost_usd_per_customer_month", 2.0, {"feedback.enabled": True}, "programme switched on"),
    Lever("finance.discount_rate_annual", 0.2),
]

# Schema fields that are not behavioural levers, and why.
NOT_LEVERS = {
    "customers.segments[].name": "a label (appears in traces and segments.csv only)",
    "uncertainty": "the distributions of `supportsim decide`; a plain run does not read them",
}


def _parent(data: dict[str, Any], path: str) -> tuple[Any, str]:
    """The dict holding the last part of ``path`` (``segments[]``: the first segment), and that part."""
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node["segments"][0] if part == "segments[]" else node[part]
    return node, last


def _get(data: dict[str, Any], path: str) -> Any:
    node, last = _parent(data, path)
    return node[last]


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    if path == "customers.segments[].share" and isinstance(value, list):  # a mix: one share per segment
        for seg, share in zip(data["customers"]["segments"], value):
            seg["share"] = share
        return
    node, last = _parent(data, path)
    node[last] = value


def params_pair(lever: Lever, base: Params) -> tuple[Params, Params, Any]:
    """(context, context with the change, old value) for ``lever`` on top of ``base``."""
    data = base.model_dump()
    for path, value in lever.context.items():
        _set(data, path, value)
    before = copy.deepcopy(data)
    old = _get(data, lever.path) if lever.path != "customers.segments[].share" else \
        [s["share"] for s in data["customers"]["segments"]]
    _set(data, lever.path, lever.value(old))
    return Params.model_validate(before), Params.model_validate(data), old


def audit(levers: Sequence[Lever], base: Params, *, months: int, replications: int, seed: int = 1,
          on_lever: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """For each lever: the paired difference of value_usd (changed - context), mean and 95% CI."""
    rows = []
    cache: dict[str, list[float]] = {}
    for i, lever in enumerate(levers):
        ctx, changed, old = params_pair(lever, base)
        key = ctx.model_dump_json()
        if key not in cache:
            cache[key] = _values(ctx, months, replications, seed)
        diff = [b - a for a, b in zip(cache[key], _values(changed, months, replications, seed))]
        s = metrics.t_interval(diff)
        rows.append({"parameter": lever.path, "context": ", ".join(f"{k}={_short(v)}" for k, v in lever.context.items()),
                     "change": lever.describe(old), "delta_value_usd": s["mean"], "ci_low": s["ci_low"],
                     "ci_high": s["ci_high"], "why": lever.why})
        if on_lever:
            on_lever(i + 1, len(levers))
    return pd.DataFrame(rows)


def _values(params: Params, months: int, replications: int, seed: int) -> list[float]:
    return [metrics.run_kpis(pd.DataFrame(model.run(params, months=months, seed=seed, replication=r)))["value_usd"]
            for r in range(replications)]
