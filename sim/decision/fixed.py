"""What a decision holds fixed: the settings it rests on that its ``[uncertainty]`` table does not vary.

Where it sits: the scenario and its ``[uncertainty]`` table -> **fixed** -> listed beside every
decision (report, deck, app, ``decide``). A decision under uncertainty answers "which policy,
given these prices, promises, desk hours, horizon and discount rate": those settings are not
sampled, so a reader must see them. Pure functions of the validated scenario; values are
returned as they are (the output layer formats them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.params.names import parameter_names
from sim.params.scenario import Policy, resolve_policies
from sim.params.schema import Scenario
from sim.params.walk import acts_when

# The settings a support-pricing decision rests on: the horizon and the discount rate (how much
# of a lead is customers beyond the horizon), the prices and fees, the promises (SLA targets and
# their clock), the desk's week and staffing. Declared once; "segments.*" is every segment.
DECISION_SETTINGS = (
    "run.months", "finance.discount_rate_annual",
    "pricing.scheme", "pricing.per_ticket_fee_usd", "pricing.per_hour_fee_usd",
    "pricing.included_tickets_per_month", "pricing.support_fee_usd_per_month", "pricing.price_multiplier",
    "customers.segments.*.plan_price_usd_per_month", "customers.segments.*.tier_ticket_fee_usd",
    "customers.segments.*.tier_sla_h", "support.sla_target_h", "support.sla_clock", "vip.enabled", "vip.sla_h",
    "support.hours", "support.open_hour", "support.close_hour", "support.open_days", "support.staffing",
    "support.agents",
)


@dataclass(frozen=True)
class Fixed:
    """One setting a decision holds fixed: ``path`` (as ``--set`` writes it), its readable
    ``name``, and its value for each policy it acts on (``values``: policy -> value)."""

    path: str
    name: str
    values: dict[str, Any]

    @property
    def same(self) -> bool:
        """Every policy it acts on has the same value."""
        return len({repr(v) for v in self.values.values()}) <= 1


def _value(scenario: Scenario, policy: Policy, path: str) -> Any:
    node: Any = scenario if path.startswith("run.") else policy.params
    for part in path.split("."):
        node = node[int(part)] if part.isdigit() else getattr(node, part)
    return node


def _paths(scenario: Scenario) -> list[str]:
    out = []
    for path in DECISION_SETTINGS:
        if ".*." in path:
            head, tail = path.split(".*.")
            out += [f"{head}.{i}.{tail}" for i in range(len(scenario.customers.segments))]
        else:
            out.append(path)
    return out


def _uncertain(table: dict[str, Any], path: str, policy: str) -> bool:
    """Whether the ``[uncertainty]`` table varies ``path`` for ``policy`` (base, one policy, or every segment)."""
    parts = path.split(".")
    starred = ".".join("*" if p.isdigit() else p for p in parts)
    return any(p in table for p in (path, starred, f"policies.{policy}.{path}", f"policies.{policy}.{starred}"))


def held_fixed(scenario: Scenario) -> list[Fixed]:
    """The settings of :data:`DECISION_SETTINGS` the decision on ``scenario`` holds fixed: for
    each, the value of every policy it acts on (a fee only under the schemes that charge it, a
    VIP promise only where VIP is on) and that the ``[uncertainty]`` table does not vary."""
    policies = resolve_policies(scenario)
    table = dict(scenario.uncertainty or {})
    names = parameter_names(scenario, _paths(scenario))
    out = []
    for path in _paths(scenario):
        rule = acts_when(path)
        values = {}
        for p in policies:
            if rule is not None and _value(scenario, p, rule[0]) not in rule[1]:
                continue  # inert for this policy (a fee of a scheme it does not use)
            if _uncertain(table, path, p.name):
                continue
            values[p.name] = _value(scenario, p, path)
        if values:
            out.append(Fixed(path, _section_name(path, names[path]), values))
    return out


def _section_name(path: str, name: str) -> str:
    """A name that says whose setting it is where the leaf alone does not ("SLA" -> "VIP SLA")."""
    prefix = {"vip": "VIP", "support": "Desk"}.get(path.split(".", 1)[0])
    if prefix is None or name.split(" ")[0].isupper():  # "SLA target" reads as it is
        return f"{prefix} {name}" if prefix == "VIP" else name
    return f"{prefix} {name[0].lower()}{name[1:]}"
