"""Scenario schema: the single source of truth for every parameter.

Where it sits: scenario file (TOML) -> **schema** (types, units, ranges, defaults,
sources) -> ``sim.params.scenario`` (load, merge policies, overrides, errors) -> model.

Every field is declared with ``sim.params.fields.param``, which records its unit, allowed range,
default and the source of the default: ``"[key] note"`` citing an entry of
``docs/sources.md`` (the registry ``sim.params.sources``) or ``"assumption: reason"``. The
sections live by concept in ``sim.params.customers``, ``pricing``, ``desk`` and ``loyalty``; this
module assembles them into :class:`Params` and :class:`Scenario` and re-exports every name, so
``from sim.params.schema import X`` keeps working.
The CLI (``supportsim schema``), the app's controls and ``docs/parameters.md`` are all
generated from these declarations. This module must not run anything or read files.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, PrivateAttr

from sim.params.customers import (  # noqa: F401
    Acquisition,
    Customers,
    Demand,
    Finance,
    HelpSeeking,
    Segment,
    Trial,
    WordOfMouth,
    _default_segments,
)
from sim.params.desk import Support  # noqa: F401
from sim.params.fields import (  # noqa: F401
    ASSUMPTION,
    HOURS_PER_MONTH,
    LADDER,
    SRC_BENCH,
    SRC_CAC_PAYBACK,
    SRC_DISCOUNT,
    SRC_LADDER,
    SRC_LIKE_FOR_LIKE,
    SRC_NETFLIX,
    SRC_PERKS,
    SRC_RETENTION,
    SRC_VIP,
    ActsWhen,
    _ladder_values,
    _Section,
    acts,
    field_bounds,
    param,
)
from sim.params.loyalty import Churn, Feedback, Loyalty, Proactive, Satisfaction, Vip  # noqa: F401
from sim.params.pricing import PAID_SCHEMES, SCHEME_NAMES, Pricing  # noqa: F401


class Params(_Section):
    """Everything the model reads; a policy is a set of overrides of these."""

    customers: Customers = Field(default_factory=Customers)
    pricing: Pricing = Field(default_factory=Pricing)
    help_seeking: HelpSeeking = Field(default_factory=HelpSeeking)
    support: Support = Field(default_factory=Support)
    satisfaction: Satisfaction = Field(default_factory=Satisfaction)
    churn: Churn = Field(default_factory=Churn)
    wom: WordOfMouth = Field(default_factory=WordOfMouth)
    acquisition: Acquisition = Field(default_factory=Acquisition)
    demand: Demand = Field(default_factory=Demand)
    finance: Finance = Field(default_factory=Finance)
    trial: Trial = Field(default_factory=Trial)
    vip: Vip = Field(default_factory=Vip)
    loyalty: Loyalty = Field(default_factory=Loyalty)
    proactive: Proactive = Field(default_factory=Proactive)
    feedback: Feedback = Field(default_factory=Feedback)


class Meta(_Section):
    name: str = Field("scenario", min_length=1, max_length=80, description="Scenario name (shown on plots).")
    description: str = Field("", max_length=2000, description="What the scenario is about.")
    reference_policy: str | None = Field(None, description="Policy others are compared with (default: the first).")


class Run(_Section):
    months: int = param(24, ge=1, le=240, unit="months", source="assumption: two years, long enough for churn and referrals to show", doc="Horizon.")
    replications: int = param(10, ge=1, le=10_000, unit="runs", source="assumption: enough for first intervals; raise it before deciding", doc="Monte Carlo replications per policy.")
    seed: int = param(20261123, ge=0, le=2**63 - 1, unit="", source="assumption: any fixed seed; results are reproducible per seed", doc="Master seed of all random streams.")


POLICY_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_+\-]{0,39}$"


class Scenario(Params):
    """A scenario file: metadata, run settings, base parameters and named policies."""

    scenario: Meta = Field(default_factory=Meta)
    run: Run = Field(default_factory=Run)
    policies: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named policies: each a table of overrides of the base parameters (e.g. pricing.scheme) "
        "and an optional display label (label = \"Flat (included)\"; default: the name).",
    )
    # What is not known, for `supportsim decide`: parameter path -> distribution table (checked by
    # sim.params.scenario, distributions in sim.params.uncertainty). Excluded from dumps, so it
    # changes neither the scenario hash nor anything `run` writes.
    uncertainty: dict[str, dict[str, Any]] = Field(
        default_factory=dict, exclude=True,
        description=(
            'Uncertain parameters for `supportsim decide`: "path" = { dist = "uniform", low = ..., high = ... } '
            "(uniform, triangular, normal, lognormal, beta, choice)."
        ),
    )
    # The ``--set`` changes (``path=value``) made to the file it was loaded from, run settings
    # that do not change the model (seed, replications) excepted: an edited scenario is footed
    # as edited. Not a parameter (a file cannot set it), and not in dumps or the hash.
    _edits: list[str] = PrivateAttr(default_factory=list)

    @property
    def edits(self) -> list[str]:
        return list(self._edits)

    def record_edits(self, edits: list[str]) -> None:
        """Record the ``--set`` changes this scenario was loaded with (see :attr:`edits`)."""
        self._edits = [str(e) for e in edits]
