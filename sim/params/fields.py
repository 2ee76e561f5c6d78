"""How a parameter is declared: the helpers and constants every schema section uses.

Where it sits: the bottom of ``sim.params``. :func:`param` records a field's unit, allowed range,
default, the source of the default (``"[key] note"`` citing ``docs/sources.md``, or
``"assumption: reason"``), a one-line doc and, when it is read only under some setting, where it
acts (:func:`acts`). The sections (``sim.params.customers``, ``pricing``, ``desk``, ``loyalty``)
declare their fields with it; ``sim.params.schema`` assembles them. Data only: it must not run
anything or read files.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

HOURS_PER_MONTH = 730.0  # 365 days * 24 h / 12: the desk runs on hours, customers on months
LADDER = ("below", "meet", "exceed", "delight", "wow")

# Generic citations kept for code that still names them; prefer a source string written for the
# field ("[key] what the source says"; see docs/sources.md, "How to cite a default").
SRC_NETFLIX = "[article-flat-vs-tiered] flat vs metered support"
SRC_RETENTION = "[article-retention] retention levers"
SRC_LADDER = "[article-satisfaction-levels] the four levels of satisfaction"
SRC_VIP = "[article-vip-support] VIP customer support"
SRC_BENCH = "[gasp-support-metrics] SaaS support benchmarks"
SRC_LS2006 = "[lambrecht2006] pay-per-use raises churn"
SRC_CAC_PAYBACK = ("assumption: retention cost about two months of the plan price, so CAC at cac_multiple 6.5 "
                   "is ~13 months of price (a common SaaS CAC payback)")
SRC_LIKE_FOR_LIKE = "assumption: marketing replaces the revenue it lost, plan by plan"
SRC_DISCOUNT = "assumption: a 10% cost of capital, common for valuing a growing software business"
SRC_PERKS = "assumption: gifts, swag and thank-you notes, about $120 a year"
ASSUMPTION = "assumption"  # the bare default of param(): tests/test_sources.py rejects it until a reason is given


# Where a parameter acts: (switch path, values of the switch under which it is read). A field
# declares its own with ``acts_when=``; a section declares one for all its fields with an ``ACTS_WHEN``
# class attribute (its switch itself excepted). ``sim.params.walk.acts_when`` answers for any path;
# studies refuse to move a parameter no compared policy reads, and tests/test_acts_when.py moves
# every declared field under every value of its switch and watches the outputs.
ActsWhen = tuple[str, tuple[Any, ...]]


def acts(switch: str, *values: Any) -> ActsWhen:
    return switch, values


def param(
    default: Any,
    *,
    unit: str = "",
    source: str = ASSUMPTION,
    doc: str,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    acts_when: ActsWhen | None = None,
) -> Any:
    """Declare one parameter: default, allowed range, unit, source, a one-line doc and, if it is
    read only under some setting, where it acts (``acts_when``)."""
    extra: dict[str, Any] = {"unit": unit, "source": source}
    if acts_when is not None:
        extra["acts_when"] = [acts_when[0], list(acts_when[1])]
    return Field(
        default,
        ge=ge,
        le=le,
        gt=gt,
        description=doc,
        json_schema_extra=extra,
    )


def field_bounds(info: Any) -> tuple[float | None, float | None, bool]:
    """(lower, upper, lower_is_open) of a field from its ge/gt/le constraints (None where absent)."""
    lo = hi = None
    lo_open = False
    for m in info.metadata:
        if getattr(m, "ge", None) is not None:
            lo, lo_open = m.ge, False
        if getattr(m, "gt", None) is not None:
            lo, lo_open = m.gt, True
        if getattr(m, "le", None) is not None:
            hi = m.le
    return lo, hi, lo_open


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)


def _ladder_values(values: list[float], lo: float, hi: float) -> list[float]:
    """Check a per-level list: one value per ladder level, each within [lo, hi]."""
    if len(values) != len(LADDER):
        raise ValueError(f"needs {len(LADDER)} values, one per level {LADDER} (got {len(values)})")
    if any(not (lo <= x <= hi) for x in values):
        raise ValueError(f"each value must lie in [{lo:g}, {hi:g}] (got {values})")
    return values
