"""Named groups of assumptions: what `supportsim decide` says to research, beside single parameters.

Where it sits: beside the schema (params layer, data only). A decision often turns on several
assumptions at once (the promise and the clock customers time it on; the ladder's mechanics),
and the value of learning them together is not the sum of learning each alone (single-parameter
EVPPI misses interactions). Each uncertain parameter path belongs to the first group below whose
pattern matches it; a pattern is a path prefix, with ``*`` for a list index
(``customers.segments.*.tier_sla_h``). ``sim.decision.psa`` reports one EVPPI per group that holds
at least one uncertain parameter.
"""

from __future__ import annotations

from collections.abc import Iterable

# (group, patterns): the order decides (the first match wins), so specific patterns come first
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("promise and clock", ("support.sla_clock", "support.sla_target_h", "satisfaction.market_norm_h",
                           "customers.segments.*.tier_sla_h", "vip.sla_h", "demand.promise_elasticity")),
    ("fees and resentment", ("satisfaction.resentment_per_usd", "customers.segments.*.fee_sensitivity_per_usd",
                             "customers.segments.*.tier_ticket_fee_usd", "pricing.")),
    ("satisfaction mechanics", ("satisfaction.", "churn.level_hazard_multiplier",
                                "churn.price_elasticity_level_multiplier", "trial.conversion_level_multiplier")),
    ("what the offer sells", ("demand.", "customers.segments.*.market_price_usd_per_month",
                              "customers.segments.*.trial_conversion")),
    ("churn and switching", ("customers.segments.*.base_churn_per_month", "churn.")),
    ("acquisition and word of mouth", ("acquisition.", "wom.", "trial.")),
    ("discounting", ("finance.",)),
    ("VIP programme", ("vip.",)),
    ("support desk", ("support.", "help_seeking.", "customers.segments.*.issue_rate_per_month")),
    ("customers", ("customers.",)),
    ("programmes", ("loyalty.", "proactive.", "feedback.")),
)


def _matches(path: str, pattern: str) -> bool:
    parts, pats = path.split("."), pattern.rstrip(".").split(".")
    if len(parts) < len(pats):
        return False
    if any(q != "*" and q != p for p, q in zip(parts, pats)):
        return False
    return pattern.endswith(".") or len(parts) == len(pats)


def group_of(path: str) -> str:
    """The named group an uncertain parameter path belongs to ("other" if none)."""
    for name, patterns in GROUPS:
        if any(_matches(path, p) for p in patterns):
            return name
    return "other"


def grouped(paths: Iterable[str]) -> dict[str, list[str]]:
    """Group -> the given paths in it, groups in the declared order, only non-empty ones."""
    out: dict[str, list[str]] = {}
    paths = list(paths)
    for name in [g for g, _ in GROUPS] + ["other"]:
        members = [p for p in paths if group_of(p) == name]
        if members:
            out[name] = members
    return out
