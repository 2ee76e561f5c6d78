"""Display names of parameter paths: what a reader calls a parameter.

Where it sits: schema paths (``sim.params.walk``) -> **names** -> every chart, table and sentence
that names a parameter (plots, decision plots, report, deck, the decision's answer). One place,
so "Fee sensitivity per USD (starter segment)" reads the same on a chart, in the report and on a
slide. ``readable_name`` needs only the path; ``parameter_names`` / ``display_name`` also use the
scenario for segment names and policy labels.
"""

from __future__ import annotations

from collections.abc import Iterable

from sim.params.scenario import policy_labels
from sim.params.schema import Scenario

__all__ = ["ACRONYMS", "display_name", "mid_sentence", "parameter_names", "readable_name"]

ACRONYMS = {"usd": "USD", "cac": "CAC", "vip": "VIP", "sla": "SLA", "csat": "CSAT"}
_SUFFIXES = ("_usd_per_customer_month", "_usd_per_hour", "_usd_per_month", "_per_month", "_usd", "_pct", "_h", "_share")


def readable_name(path: str) -> str:
    """A parameter path as a reader names it: ``customers.segments[0=starter].funding_median_usd``
    -> "Funding median (starter segment)"; ``support.agents`` -> "Agents"."""
    leaf = path.rsplit(".", 1)[-1]
    for suffix in _SUFFIXES:
        if leaf.endswith(suffix) and len(leaf) > len(suffix):
            if not leaf[: -len(suffix)].endswith("_per"):  # "resentment_per_usd" keeps its "per USD"
                leaf = leaf[: -len(suffix)]
            break
    words = leaf.replace("_", " ").strip().capitalize().split(" ")
    name = " ".join(ACRONYMS.get(w.lower(), w) for w in words)
    qualifiers = [q.split("=", 1)[1] + " " + part.split("[", 1)[0].rstrip("s")
                  for part in path.split(".")[:-1] if "[" in part and "=" in part
                  for q in [part[part.index("[") + 1: part.index("]")]]]
    return f"{name} ({', '.join(qualifiers)})" if qualifiers else name


def parameter_names(scenario: Scenario, paths: Iterable[str]) -> dict[str, str]:
    """Readable names of ``[uncertainty]`` paths: list items by their name
    (``customers.segments.0.fee_sensitivity_per_usd`` -> "Fee sensitivity per USD (starter
    segment)") and policy overrides by the policy's label."""
    labels = policy_labels(scenario)
    segments = [s.name for s in scenario.customers.segments]
    out = {}
    for path in paths:
        parts = path.split(".")
        suffix = ""
        if parts[0] == "policies" and len(parts) > 2:
            suffix = f" ({labels.get(parts[1], parts[1])} policy)"
            parts = parts[2:]
        named = []
        for part in parts:
            if part.isdigit() and named and named[-1] == "segments" and int(part) < len(segments):
                named[-1] = f"segments[{part}={segments[int(part)]}]"
            else:
                named.append(part)
        out[path] = readable_name(".".join(named)) + suffix
    return out


def display_name(path: str, scenario: Scenario | None = None) -> str:
    """One parameter path as a reader names it: with ``scenario``, segments by name and policy
    overrides by the policy's label; without, by index and policy key."""
    if scenario is not None:
        return parameter_names(scenario, [path])[path]
    parts = path.split(".")
    qualifiers = []
    if parts[0] == "policies" and len(parts) > 2:
        qualifiers.append(f"{parts[1]} policy")
        parts = parts[2:]
    named = []
    for part in parts:
        if part.isdigit() and named:
            qualifiers.insert(0, f"{named[-1].rstrip('s')} {int(part) + 1}")
        else:
            named.append(part)
    name = readable_name(".".join(named))
    return f"{name} ({', '.join(qualifiers)})" if qualifiers else name


def mid_sentence(name: str) -> str:
    """A display name inside a sentence: "the fee sensitivity …" lower-cased, "CAC multiple" kept."""
    return name[0].lower() + name[1:] if len(name) > 1 and name[1].islower() else name
