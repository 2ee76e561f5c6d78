"""How support is priced: the schemes' names and the pricing fields (a policy's main lever).

Where it sits: a section of the schema (``sim.params.schema``). ``SCHEME_NAMES`` are the schemes the
engine implements, one ``Scheme`` each in ``sim.engine.pricing.SCHEMES`` (``tests/test_pricing.py``
checks the two agree); ``PAID_SCHEMES`` those that can charge a ticket. A new scheme is this file
and the engine's registry (docs/guide.md, "A new pricing scheme").
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sim.params.fields import ActsWhen, _Section, acts, param  # noqa: F401

# Pricing schemes the engine implements (one entry each in sim.engine.pricing.SCHEMES).
SCHEME_NAMES = ("flat", "tiered", "per_ticket", "per_hour")
PAID_SCHEMES = ("tiered", "per_ticket", "per_hour")  # the schemes that can charge a ticket
# How a label made from a policy's settings names its scheme (sim.params.labels.derived).
SCHEME_LABELS = {"flat": "Flat (included)", "tiered": "Tiered (plan feature)", "per_ticket": "Per ticket",
                 "per_hour": "Per hour"}


class Pricing(_Section):
    scheme: Literal[SCHEME_NAMES] = Field(  # type: ignore[valid-type]
        "flat",
        description=(
            "How support is priced: flat (same service for every plan, no fee), tiered (priority, SLA and "
            "fee by plan), per_ticket or per_hour (metered)."
        ),
        json_schema_extra={"source": "[article-flat-vs-tiered] the base case is the same support on every plan"},
    )
    per_ticket_fee_usd: float = param(0.0, ge=0, le=10_000, unit="USD/ticket", source="assumption: a policy choice; 0 = no fee unless a policy sets one", doc="Fee per ticket (per_ticket scheme).", acts_when=acts("pricing.scheme", "per_ticket"))
    per_hour_fee_usd: float = param(0.0, ge=0, le=10_000, unit="USD/h", source="assumption: a policy choice; 0 = no fee unless a policy sets one", doc="Fee per hour of agent time (per_hour scheme).", acts_when=acts("pricing.scheme", "per_hour"))
    included_tickets_per_month: int = param(
        0, ge=0, le=1000, unit="tickets/month", source="assumption: a policy choice; 0 = every ticket is metered", doc="Tickets per customer per month free of fee before metering starts.", acts_when=acts("pricing.scheme", *PAID_SCHEMES),
    )
    support_fee_usd_per_month: float = param(
        0.0, ge=0, le=100_000, unit="USD/customer/month", source="assumption: a policy choice; 0 = no support add-on", doc="Flat support add-on charged to every paying customer."
    )
    price_multiplier: float = param(
        1.0, ge=0.1, le=10, unit="x list price", source="[article-satisfaction-levels] customers pay a little more for quality service; 1 = list price",
        doc=("Multiplier on every plan price (e.g. 1.05 to fund flat support); raises churn via churn.price_elasticity "
             "and lowers trial conversion via demand.wtp_sigma."),
    )
