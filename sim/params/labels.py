"""A policy's display label: the user's, while every number it states is true; else one made
from the policy's settings.

Where it sits: the scenario's policies (``sim.params.schema``) -> **labels** ->
:func:`sim.params.scenario.policy_label`, which every chart, table, report, slide and card
reads. A label is the user's name for a policy ("Per ticket ($15)"), and a name that states a
number is a claim: once the fee is set to $20 (``--set``, the app's sidebar), "Per ticket
($15)" is false and must not be shown. So a label is shown only while each number in it is one
of the policy's own settings (a value its table sets, or a fee, allowance or promise that acts
under its scheme); otherwise the label made from the settings is shown ("Per ticket ($20)").
A label without numbers ("Flat + VIP") is always the user's, and a policy without one is shown
by its name. Pure functions of the validated scenario: no policy is resolved (cheap enough to
call for every cell of a table).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from sim.params.pricing import SCHEME_LABELS
from sim.params.schema import Scenario

# Keys of a policy table that describe the policy rather than override a parameter.
LABEL_KEY = "label"
LABEL_MAX = 60
# A number as a label writes it: "$15", "1,500", "2.5", "24/8/2 h" (each part), "10%"
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _get(scenario: Scenario, override: dict[str, Any], path: str) -> Any:
    """The value at dotted ``path`` for a policy: its table's value, else the scenario's base one."""
    node: Any = override
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            node = None
            break
    if node is not None:
        return node
    node = scenario
    for part in path.split("."):
        node = getattr(node, part, None) if not isinstance(node, dict) else node.get(part)
        if node is None:
            return None
    return node


def _segments(scenario: Scenario, override: dict[str, Any]) -> list[Any]:
    segs = _get(scenario, override, "customers.segments")
    return list(segs) if segs is not None else []


def _seg(seg: Any, name: str) -> Any:
    return seg.get(name) if isinstance(seg, dict) else getattr(seg, name, None)


def _numbers(node: Any) -> Iterator[float]:
    """Every number in a policy's table (nested), booleans excepted."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != LABEL_KEY:
                yield from _numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _numbers(value)
    elif isinstance(node, (int, float)) and not isinstance(node, bool) and math.isfinite(node):
        yield float(node)


def facts(scenario: Scenario, name: str) -> list[float]:
    """The numbers a label of policy ``name`` may state: every value its table sets, and the fees,
    free allowance, promises (h) and price multiplier that act under its scheme."""
    override = scenario.policies.get(name, {})
    out = list(_numbers(override))
    scheme = _get(scenario, override, "pricing.scheme")
    segs = _segments(scenario, override)
    if scheme == "per_ticket":
        out.append(_get(scenario, override, "pricing.per_ticket_fee_usd"))
    if scheme == "per_hour":
        out.append(_get(scenario, override, "pricing.per_hour_fee_usd"))
    if scheme in ("per_ticket", "per_hour", "tiered"):
        out.append(_get(scenario, override, "pricing.included_tickets_per_month"))
    if scheme == "tiered":
        out += [_seg(s, k) for s in segs for k in ("tier_sla_h", "tier_ticket_fee_usd", "tier_priority")]
    else:
        out.append(_get(scenario, override, "support.sla_target_h"))
    if _get(scenario, override, "vip.enabled"):
        out.append(_get(scenario, override, "vip.sla_h"))
    out.append(_get(scenario, override, "pricing.support_fee_usd_per_month"))
    mult = _get(scenario, override, "pricing.price_multiplier")
    if mult is not None:
        out += [mult, (mult - 1) * 100]
    return [float(x) for x in out if isinstance(x, (int, float)) and not isinstance(x, bool)]


def stated_numbers(label: str) -> list[float]:
    """The numbers a label states ("Per ticket ($15)" -> [15.0]; "24/8/2 h" -> [24, 8, 2])."""
    return [float(m.group().replace(",", "")) for m in _NUMBER.finditer(label)]


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def holds(label: str, known: list[float]) -> bool:
    """Whether every number ``label`` states is among ``known`` (as it is, or as a percentage of it)."""
    return all(any(_same(n, f) or _same(n, 100 * f) for f in known) for n in stated_numbers(label))


def _money(x: float) -> str:
    return f"${x:,.0f}" if float(x).is_integer() else f"${x:,.2f}"


def derived(scenario: Scenario, name: str) -> str:
    """The label made from policy ``name``'s settings: its scheme, its fee, its extras
    ("Per ticket ($20)", "Flat (included) + VIP", "Per hour ($40, 2 free a month)")."""
    override = scenario.policies.get(name, {})
    scheme = str(_get(scenario, override, "pricing.scheme"))
    label = SCHEME_LABELS.get(scheme, scheme.replace("_", " ").capitalize())
    details = []
    if scheme == "per_ticket":
        details.append(_money(float(_get(scenario, override, "pricing.per_ticket_fee_usd"))))
    elif scheme == "per_hour":
        details.append(_money(float(_get(scenario, override, "pricing.per_hour_fee_usd"))))
    free = _get(scenario, override, "pricing.included_tickets_per_month")
    if scheme in ("per_ticket", "per_hour") and free:
        details.append(f"{free:g} free a month")
    if details:
        label += f" ({', '.join(details)})"
    fee = _get(scenario, override, "pricing.support_fee_usd_per_month")
    if fee:
        label += f" + {_money(float(fee))}/month"
    mult = _get(scenario, override, "pricing.price_multiplier")
    if mult is not None and not _same(float(mult), 1.0):
        label += f", prices ×{float(mult):g}"
    if _get(scenario, override, "vip.enabled"):
        label += " + VIP"
    return label


def policy_label(scenario: Scenario, name: str) -> str:
    """The display label of policy ``name`` (see the module docstring): the file's ``label``
    while every number it states is one of the policy's settings, else :func:`derived` (with
    the name added when another policy is shown by the same words); without a label, the name
    (the user's own name for it). A scenario without policies has the one policy ``base``."""
    label = scenario.policies.get(name, {}).get(LABEL_KEY)
    if not (isinstance(label, str) and label.strip()):
        return name
    if holds(label, facts(scenario, name)):
        return label
    made = derived(scenario, name)
    others = {str(t.get(LABEL_KEY) or n) for n, t in scenario.policies.items() if n != name}
    others |= {derived(scenario, n) for n in scenario.policies if n != name and stale_label(scenario, n)}
    return f"{made} [{name}]" if made in others else made


def stale_label(scenario: Scenario, name: str) -> str | None:
    """The file's label of policy ``name`` when it is no longer shown (a number in it is no
    longer true), else None: what the app and the CLI say they replaced."""
    label = scenario.policies.get(name, {}).get(LABEL_KEY)
    if isinstance(label, str) and label.strip() and not holds(label, facts(scenario, name)):
        return label
    return None


def replaced_notes(scenario: Scenario, show: Callable[[str], str] = str) -> list[str]:
    """One sentence per policy whose file label is replaced (see :func:`stale_label`), the user
    text passed through ``show`` (the caller's escaping: a terminal's, the page's)."""
    out = []
    for name in scenario.policies:
        old = stale_label(scenario, name)
        if old is not None:
            out.append(f"policy {show(name)}: its label {show(repr(old))} states a number that is no longer "
                       f"its setting; shown as {show(repr(policy_label(scenario, name)))}")
    return out
