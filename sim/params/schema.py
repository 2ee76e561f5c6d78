"""Scenario schema: the single source of truth for every parameter.

Where it sits: scenario file (TOML) -> **schema** (types, units, ranges, defaults,
sources) -> ``sim.params.scenario`` (load, merge policies, overrides, errors) -> model.

Every field is declared with :func:`param`, which records its unit, allowed range,
default and the source of the default: ``"[key] note"`` citing an entry of
``docs/sources.md`` (the registry ``sim.params.sources``) or ``"assumption: reason"``.
The CLI (``supportsim schema``), the app's controls and ``docs/parameters.md`` are all
generated from these declarations. This module must not run anything or read files.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HOURS_PER_MONTH = 730.0  # 365 days * 24 h / 12: the desk runs on hours, customers on months
LADDER = ("below", "meet", "exceed", "delight", "wow")
# Pricing schemes the engine implements (one entry each in sim.engine.pricing.SCHEMES).
SCHEME_NAMES = ("flat", "tiered", "per_ticket", "per_hour")

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
PAID_SCHEMES = ("tiered", "per_ticket", "per_hour")  # the schemes that can charge a ticket
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


class Segment(_Section):
    """One customer segment (usually one plan)."""

    name: str = Field("segment", min_length=1, max_length=40, description="Segment name.")
    share: float = param(1.0, ge=0, le=1, unit="fraction", source="assumption: one segment holds every customer unless the file lists several", doc="Share of new and initial customers in this segment.")
    plan_price_usd_per_month: float = param(
        100.0, ge=0, le=1_000_000, unit="USD/month", source="assumption: a typical self-serve plan price; set it to your price list", doc="Subscription price of the plan."
    )
    issue_rate_per_month: float = param(
        0.7, ge=0, le=20, unit="issues/customer/month", source="[gasp-support-metrics] 0.5-1.0 tickets per active customer per month is typical (issues x ask prob = tickets)",
        doc="Mean number of support-worthy issues a customer meets per month (Poisson). Typical 0.5-1.0.",
    )
    fee_sensitivity_per_usd: float = param(
        0.04, ge=0, le=1, unit="1/USD", source="[article-flat-vs-tiered] metered customers think twice before asking; the strength is assumed",
        doc="Demand suppression: P(ask) falls by the factor exp(-sensitivity x marginal fee) (inert under flat: no fee).", acts_when=acts("pricing.scheme", *PAID_SCHEMES),
    )
    base_churn_per_month: float = param(
        0.03, ge=0, le=0.99, unit="probability/month", source="[knowledgelib-churn] monthly logo churn: SMB 3-5%, mid-market 1.5-3%, enterprise 0.7-2%",
        doc="Monthly churn probability of a customer at the 'meet' level (SMB 3-5%, mid 1.5-3%, enterprise 0.7-2%).",
    )
    trial_conversion: float = param(
        0.25, ge=0, le=1, unit="probability", source="assumption: no public trial-to-paid benchmark taken; mid-range, calibrate to your funnel",
        doc=("Trial-to-paid conversion at the 'meet' level when the offer is the market's (price = market price, "
             "promise = market norm); demand.* moves it with the offer."),
    )
    market_price_usd_per_month: float | None = param(
        None, ge=0, le=1_000_000, unit="USD/month",
        source="assumption: the scenario file's own plan price is the market's reference price unless set",
        doc=("The market's reference price for this plan (buyers' willingness to pay centres on it); unset = the "
             "plan's price in the scenario's base, so policies and sweeps that change the price are judged "
             "against it."),
    )
    tier_priority: int = param(
        1, ge=1, le=9, unit="rank",
        source="assumption: a policy choice, not an empirical figure (1 = served first)", doc="Desk priority under the tiered scheme (1 = served first; VIP work is always 0).", acts_when=acts("pricing.scheme", "tiered"),
    )
    tier_sla_h: float = param(
        4.0, gt=0, le=720, unit="h", source="[gasp-support-metrics] B2B email first-response target 4-6 h",
        doc="First-response promise to this plan under the tiered scheme (customers expect at most satisfaction.market_norm_h).", acts_when=acts("pricing.scheme", "tiered"),
    )
    tier_ticket_fee_usd: float = param(
        0.0, ge=0, le=10_000, unit="USD/ticket", source="assumption: a policy choice; no fee unless a policy sets one", doc="Per-ticket fee this plan pays under the tiered scheme.", acts_when=acts("pricing.scheme", "tiered"),
    )
    retention_cost_usd: float = param(
        200.0, ge=0, le=1_000_000, unit="USD/customer",
        source=SRC_CAC_PAYBACK,
        doc="Cost of keeping one existing customer of this segment (the '1' in '6-7x'); prices acquisition.",
    )
    cac_usd: float = param(
        0.0, ge=0, le=10_000_000, unit="USD/paying customer",
        source="assumption: 0 derives it from cac_multiple x retention_cost_usd; set it from your own data",
        doc="Explicit cost to acquire one paying customer of this segment; 0 = acquisition.cac_multiple x retention_cost_usd.",
    )
    is_top_plan: bool = Field(False, description="Top plan: VIP-eligible under the 'top plan' rule.", json_schema_extra={"source": "[article-vip-support] high-value customers on the top plan are VIPs"})
    big_name_share: float = param(
        0.02, ge=0, le=1, unit="fraction", source="[article-vip-support] big-name signups are VIPs; the share is assumed",
        doc="Share of customers that are big names (known brands, influential people).",
    )
    funding_median_usd: float = param(
        150_000.0, ge=0, le=1e11, unit="USD", source="assumption: a seed-stage median; no public distribution of customer funding taken",
        doc="Median total funding of customers (lognormal, sigma = customers.funding_sigma).",
    )

    @model_validator(mode="after")
    def _market_price(self) -> Segment:
        if self.market_price_usd_per_month is None:  # the file's price is the market's
            self.market_price_usd_per_month = self.plan_price_usd_per_month
        return self


def _default_segments() -> list[Segment]:
    return [
        Segment(name="starter", share=0.6, plan_price_usd_per_month=49, issue_rate_per_month=0.5,
                fee_sensitivity_per_usd=0.05, base_churn_per_month=0.031, trial_conversion=0.22,
                tier_priority=3, tier_sla_h=24.0, tier_ticket_fee_usd=15.0, retention_cost_usd=100.0,
                big_name_share=0.01, funding_median_usd=50_000),
        Segment(name="growth", share=0.3, plan_price_usd_per_month=199, issue_rate_per_month=0.8,
                fee_sensitivity_per_usd=0.03, base_churn_per_month=0.014, trial_conversion=0.28,
                tier_priority=2, tier_sla_h=8.0, tier_ticket_fee_usd=0.0, retention_cost_usd=400.0,
                big_name_share=0.03, funding_median_usd=400_000),
        Segment(name="business", share=0.1, plan_price_usd_per_month=799, issue_rate_per_month=1.2,
                fee_sensitivity_per_usd=0.015, base_churn_per_month=0.006, trial_conversion=0.32,
                tier_priority=1, tier_sla_h=2.0, tier_ticket_fee_usd=0.0, retention_cost_usd=1600.0, is_top_plan=True,
                big_name_share=0.08, funding_median_usd=3_000_000),
    ]


class Customers(_Section):
    initial: int = param(2000, ge=1, le=2_000_000, unit="customers", source="assumption: a mid-size SaaS customer base; totals scale with it", doc="Paying customers at month 0.")
    segments: list[Segment] = Field(default_factory=_default_segments, min_length=1, max_length=20,
                                    description="Customer segments (shares must sum to 1).")
    funding_sigma: float = param(1.2, ge=0, le=5, unit="log-USD", source="assumption: a wide lognormal spread of funding; no public figure taken", doc="Lognormal sigma of customer funding.")

    @model_validator(mode="after")
    def _check_segments(self) -> Customers:
        total = sum(s.share for s in self.segments)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"segment shares must sum to 1 (got {total:.6g})")
        names = [s.name for s in self.segments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate segment names: {', '.join(dupes)}")
        return self


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


class HelpSeeking(_Section):
    base_ask_prob: float = param(
        0.8, ge=0, le=1, unit="probability", source="[article-flat-vs-tiered] free help is asked for without a second thought; the level is assumed",
        doc="Probability that a customer asks for help with an issue when help is free.",
    )
    self_resolve_prob: float = param(
        0.4, ge=0, le=1, unit="probability", source="assumption: no public figure for issues that go away on their own", doc="Probability that an issue the customer does not raise resolves itself."
    )


class Support(_Section):
    staffing: Literal["fixed", "erlang"] = Field(
        "erlang",
        description=(
            "fixed: support.agents in every open hour; erlang: each month, each hour of the week gets the fewest "
            "agents whose Erlang C service level on that hour's offered load (this month's tickets spread by the "
            "arrival profile, tickets held while closed spread over the first open hours, VIP touch hours) meets "
            "support.staffing_service_level. Agents are paid for rostered hours plus overtime."
        ),
        json_schema_extra={"source": "[cch-erlang-c] contact centres staff to a service level with Erlang C"},
    )
    agents: int = param(3, ge=1, le=5000, unit="agents", source="assumption: a small desk; read only under fixed staffing", doc="Agents on duty in every open hour (fixed staffing).", acts_when=acts("support.staffing", "fixed"))
    min_agents: int = param(1, ge=1, le=5000, unit="agents", source="assumption: at least one agent on duty", doc="Fewest agents in an open hour (erlang staffing).", acts_when=acts("support.staffing", "erlang"))
    max_agents: int = param(200, ge=1, le=5000, unit="agents", source="assumption: a cap far above the default load, so it rarely binds", doc="Most agents in any hour (erlang staffing); binds only when the load needs more.", acts_when=acts("support.staffing", "erlang"))
    staffing_service_level: float = param(
        0.8, gt=0, le=0.999, unit="fraction", source="[cch-erlang-c][gasp-support-metrics] the 80/20 convention: 80% answered within the target",
        doc="Erlang staffing target: share of tickets answered within support.sla_target_h (80/20-style rule).", acts_when=acts("support.staffing", "erlang"),
    )
    sla_target_h: float = param(
        4.0, gt=0, le=720, unit="h", source="[gasp-support-metrics] B2B email first-response target 4-6 h",
        doc=("First-response promise to every plan under flat and metered schemes (B2B email 4-6 h); customers expect "
             "min(promise, satisfaction.market_norm_h) and the Erlang roster staffs for that."),
    )
    handle_time_mean_h: float = param(
        0.5, ge=0.001, le=100, unit="h", source="[lorikeet-cost-per-ticket] with agent cost and ~75% utilisation it gives ~$23 per resolved ticket, inside SaaS $18-35",
        doc=("Mean agent time per ticket: 0.5 h at $35/h and ~75% utilisation gives ~$23 per resolved ticket, "
             "inside the $12-35 benchmark."),
    )
    handle_time_dist: Literal["exponential", "lognormal"] = Field(
        "exponential", description="Distribution of handle times."
    , json_schema_extra={"source": "assumption: exponential as in Erlang C, so the desk can be checked against theory"})
    handle_time_cv: float = param(
        1.0, gt=0, le=5, unit="ratio", source="assumption: 1 matches the exponential default", doc="Coefficient of variation of handle time (lognormal only).", acts_when=acts("support.handle_time_dist", "lognormal"),
    )
    patience_mean_h: float = param(
        24.0, gt=0, le=1e7, unit="h", source="[garnett2002] exponential patience (Erlang A); the 24 h mean is assumed",
        doc=("Mean time a customer waits for a first response before abandoning the ticket (exponential; on "
             "support.patience_clock)."),
    )
    agent_cost_usd_per_hour: float = param(
        35.0, ge=0, le=10_000, unit="USD/h", source="[lorikeet-cost-per-ticket] fully loaded; x handle time gives ~$23 per ticket, inside SaaS $18-35", doc="Fully loaded cost of one rostered agent-hour (and of overtime)."
    )
    # Opening hours (sim/engine/hours.py). Hour 0 of the run is Monday 00:00 in the desk's time zone.
    hours: Literal["24/7", "weekly"] = Field(
        "weekly",
        description=(
            "When the desk is open: 24/7, or weekly from support.open_hour to support.close_hour on the first "
            "support.open_days days of the week (Monday first). Tickets arriving while closed wait for opening. "
            "Assumption: B2B SaaS desks typically keep business hours in one time zone."
        ),
        json_schema_extra={"source": "assumption: B2B SaaS desks typically keep business hours in one time zone"},
    )
    open_hour: int = param(9, ge=0, le=23, unit="h (local)",
                           source="assumption: a 9-to-5 business day",
        doc="Hour the desk opens (weekly hours). Assumption: a 9-to-5 business day.", acts_when=acts("support.hours", "weekly"))
    close_hour: int = param(17, ge=1, le=24, unit="h (local)",
                            source="assumption: a 9-to-5 business day",
        doc="Hour the desk closes (weekly hours). Assumption: a 9-to-5 business day.", acts_when=acts("support.hours", "weekly"))
    open_days: int = param(5, ge=1, le=7, unit="days/week",
                           source="assumption: a Monday-to-Friday desk",
        doc="Days the desk is open, from Monday (5 = Mon-Fri). Assumption: a Monday-to-Friday desk.", acts_when=acts("support.hours", "weekly"))
    vip_line: bool = Field(
        False,
        description=(
            "A VIP line with longer hours: VIP tickets are also answered from support.vip_line_open_hour to "
            "support.vip_line_close_hour on the first support.vip_line_days days, by agents rostered for them "
            "(manual VIP care runs into time zones and 24/7 coverage)."
        ),
        json_schema_extra={"source": "[article-vip-support] manual VIP care runs into time zones and 24/7 coverage",
                           "acts_when": ["vip.enabled", [True]]},
    )
    vip_line_open_hour: int = param(7, ge=0, le=23, unit="h (local)",
                                    source="assumption: a premium line extends the business day",
        doc="Hour the VIP line opens. Assumption: a premium line extends the business day.", acts_when=acts("support.vip_line", True))
    vip_line_close_hour: int = param(22, ge=1, le=24, unit="h (local)",
                                     source="assumption: a premium line extends the business day",
        doc="Hour the VIP line closes. Assumption: a premium line extends the business day.", acts_when=acts("support.vip_line", True))
    vip_line_days: int = param(7, ge=1, le=7, unit="days/week",
                               source="assumption: a premium line covers weekends",
        doc="Days the VIP line is open, from Monday. Assumption: a premium line covers weekends.", acts_when=acts("support.vip_line", True))
    sla_clock: Literal["business", "calendar"] = Field(
        "business",
        description=(
            "The clock promises (first-response targets) and customers' expectations run on: business (only the "
            "hours the ticket's line is open count; what B2B support contracts write) or calendar (every hour "
            "counts: a promise kept at night and at weekends)."
        ),
        json_schema_extra={"source": "assumption: B2B support contracts state first-response targets in business hours; calendar stays a choice"},
    )
    patience_clock: Literal["business", "calendar"] = Field(
        "business",
        description=(
            "The clock customers' patience (support.patience_mean_h) runs on: business or calendar. Assumption: "
            "customers know the desk's hours and do not give up while it is visibly closed."
        ),
        json_schema_extra={"source": "assumption: customers know the desk's hours and do not give up while it is visibly closed"},
    )
    # Arrival profile over the hours of the week (relative rates; all 1 = flat).
    arrival_day_start_hour: int = param(
        8, ge=0, le=23, unit="h (local)",
        source="assumption: customers work office hours in the desk's time zone",
        doc="Start of customers' working day (weekday peak of ticket arrivals). Assumption: customers work office "
            "hours in the desk's time zone.")
    arrival_day_end_hour: int = param(
        18, ge=1, le=24, unit="h (local)",
        source="assumption: customers work office hours in the desk's time zone",
        doc="End of customers' working day. Assumption: customers work office hours in the desk's time zone.")
    arrival_offhours_factor: float = param(
        0.15, ge=0, le=10, unit="x working-hour rate",
        source="assumption: B2B users meet issues while they work; some work late",
        doc="Ticket arrival rate on weekdays outside the working day, relative to working hours. Assumption: B2B "
            "users meet issues while they work; some work late.")
    arrival_weekend_factor: float = param(
        0.1, ge=0, le=10, unit="x working-hour rate",
        source="assumption: B2B products see little weekend use",
        doc="Ticket arrival rate on Saturday and Sunday (every hour), relative to weekday working hours. "
            "Assumption: B2B products see little weekend use.")
    arrival_monday_factor: float = param(
        1.2, ge=0, le=10, unit="x working-hour rate",
        source="assumption: issues met over the weekend reach the desk on Monday",
        doc="Ticket arrival rate in Monday's working hours, relative to other weekdays. Assumption: issues met "
            "over the weekend reach the desk on Monday.")

    @model_validator(mode="after")
    def _check_bounds(self) -> Support:
        if self.min_agents > self.max_agents:
            raise ValueError(f"min_agents ({self.min_agents}) must not exceed max_agents ({self.max_agents})")
        for a, b in (("open_hour", "close_hour"), ("vip_line_open_hour", "vip_line_close_hour"),
                     ("arrival_day_start_hour", "arrival_day_end_hour")):
            if getattr(self, a) >= getattr(self, b):
                raise ValueError(f"{a} ({getattr(self, a)}) must be before {b} ({getattr(self, b)})")
        return self


def _ladder_values(values: list[float], lo: float, hi: float) -> list[float]:
    """Check a per-level list: one value per ladder level, each within [lo, hi]."""
    if len(values) != len(LADDER):
        raise ValueError(f"needs {len(LADDER)} values, one per level {LADDER} (got {len(values)})")
    if any(not (lo <= x <= hi) for x in values):
        raise ValueError(f"each value must lie in [{lo:g}, {hi:g}] (got {values})")
    return values


class Satisfaction(_Section):
    initial_mix: Literal["steady_state", "shares"] = Field(
        "steady_state",
        description=(
            "Where the initial customers stand on the ladder: steady_state = each segment's (and VIP group's) "
            "stationary mix under the policy's own monthly dynamics, measured on a pilot month of the desk, so the "
            "run does not drift from its start; shares = satisfaction.initial_shares (e.g. the status quo's "
            "survey shares, to see a policy change play out)."
        ),
        json_schema_extra={"source": "[pfeifer2000] a customer base at the steady state of its Markov chain of states"},
    )
    initial_shares: list[float] = Field(
        default_factory=lambda: [0.1, 0.9, 0.0, 0.0, 0.0],
        description=("Initial shares of customers on the ladder (below, meet, exceed, delight, wow; sum to 1) when "
                     "satisfaction.initial_mix = \"shares\"; otherwise only the first guess that sizes the warm start."),
        json_schema_extra={"unit": "fraction", "source": "assumption: close to the default steady state (about 1 in 10 below expectations, the rest at 'meet')",
                           "acts_when": ["satisfaction.initial_mix", ["shares"]]},
    )
    p_down_unresolved: float = param(
        0.3, ge=0, le=1, unit="probability",
        source="[bolton1998][article-flat-vs-tiered] a problem left unsolved lowers the customer's valuation; the chance is assumed",
        doc=("Chance that an issue the customer meets and that is not resolved (not raised and not gone on its own) "
             "moves them one level down: a product problem is a loss. A resolution within expectation recovers it "
             "all, a late one part of it (satisfaction.late_half_ratio)."),
    )
    p_down_effort: float = param(
        0.2, ge=0, le=1, unit="probability",
        source="[dixon2010] customer effort (waiting, repeat contacts) predicts disloyalty; the chance is assumed",
        doc=("Added chance of a step down when the customer raised a ticket and gave up waiting (abandoned): the "
             "issue stays unresolved and the effort was wasted, so an abandoned ticket moves down with "
             "1 - (1 - p_down_unresolved)(1 - p_down_effort), the worst outcome."),
    )
    late_half_ratio: float = param(
        2.0, gt=1, le=1000, unit="x expectation",
        source="assumption: an answer twice as late as expected recovers half of the issue's loss; no public figure",
        doc=("A late answer recovers the issue's loss in part: with x = wait / expectation (on the SLA clock) it "
             "moves the customer down with p_down_unresolved x (1 - x^-g), g = ln 2 / ln(late_half_ratio): zero "
             "just past the expectation, half the unresolved penalty at x = late_half_ratio, the whole of it as x "
             "grows (a week of silence is nearly no answer)."),
    )
    recovery_gain: float = param(
        0.0, ge=0, le=1, unit="probability",
        source="[dematos2007] the service recovery paradox lifts satisfaction but not repurchase or word of mouth",
        doc=("Chance that an issue resolved within expectation lifts the customer one level above where they were "
             "(the service recovery paradox). 0 = a resolution restores loyalty and no more, so more product "
             "problems never pay."),
    )
    market_norm_h: float = param(
        12.0, gt=0, le=720, unit="h",
        source="[superoffice-response-times] companies answer customer emails in 12 h on average",
        doc=("Longest first response customers accept whatever is promised, on the SLA clock: a customer expects "
             "min(promise, market_norm_h), so promising nothing does not free a desk from expectations."),
    )
    relief_above_meet: float = param(
        0.2, ge=0, le=1, unit="share",
        source="[dixon2010] exceeding expectations buys little loyalty over meeting them; 1 = the source articles' claim",
        doc=("How much of the ladder's benefit above 'meet' is real (churn.level_hazard_multiplier, "
             "churn.price_elasticity_level_multiplier and trial.conversion_level_multiplier at exceed, delight and "
             "wow): each factor v acts as 1 + relief x (v - 1). 0 = exceeding buys nothing over meeting; 1 = the "
             "source articles' factors in full."),
    )
    resentment_per_usd: float = param(
        0.01, ge=0, le=1, unit="1/USD", source="[lambrecht2006][article-flat-vs-tiered] pay-per-use raises churn; the strength is assumed",
        doc="Resentment: paying f USD of support fees in a month moves one level down with probability 1-exp(-k f).", acts_when=acts("pricing.scheme", *PAID_SCHEMES),
    )
    p_decay_above_meet: float = param(
        0.1, ge=0, le=1, unit="probability/month", source="[article-satisfaction-levels] delight fades without new reasons; the rate is assumed",
        doc="Monthly chance that a customer above 'meet' slips one level (delight fades without new reasons).",
    )
    p_recover_from_below: float = param(
        0.1, ge=0, le=1, unit="probability/month", source="assumption: slow natural recovery; no public figure taken", doc="Monthly chance a customer below expectations recovers to 'meet'."
    )

    @field_validator("initial_shares")
    @classmethod
    def _sum_one(cls, v: list[float]) -> list[float]:
        _ladder_values(v, 0.0, 1.0)
        if abs(sum(v) - 1.0) > 1e-6:
            raise ValueError(f"shares must sum to 1 (got {sum(v):.6g})")
        return v


class Churn(_Section):
    level_hazard_multiplier: list[float] = Field(
        default_factory=lambda: [4.0, 1.0, 0.7, 0.45, 0.3],
        description=("Churn hazard multiplier per ladder level (below, meet, exceed, delight, wow); the factors above "
                     "'meet' act in part (satisfaction.relief_above_meet)."),
        json_schema_extra={"unit": "x base hazard", "source": "[article-satisfaction-levels][bolton1998] below 'meet' customers leave, delighted ones stay; multipliers assumed"},
    )
    switching_ease: float = param(
        1.0, ge=0, le=5, unit="x base hazard", source="[article-flat-vs-tiered] switching to a competitor is easy; 1 = base hazard unchanged",
        doc="How easy switching to a competitor is: multiplies every churn hazard (0 = locked in).",
    )
    price_elasticity: float = param(
        1.0, ge=0, le=10, unit="ratio", source="[article-satisfaction-levels] price rises push customers away; unit elasticity is assumed",
        doc=(
            "Hazard x (perceived price / list price)^(elasticity x level factor); the perceived price adds the support "
            "add-on and the expected metered fees (docs/model.md §6), so price rises and support fees raise churn; "
            "inert while the perceived price is the list price (flat, no add-on, multiplier 1)."
        ),
    )
    price_elasticity_level_multiplier: list[float] = Field(
        default_factory=lambda: [1.5, 1.0, 0.7, 0.4, 0.25],
        description=(
            "Factor on churn.price_elasticity per ladder level (below, meet, exceed, delight, wow): satisfied "
            "customers will pay a little more for quality service."
        ),
        json_schema_extra={"unit": "x elasticity", "source": "[article-satisfaction-levels] satisfied customers pay a little more; factors assumed"},
    )

    @field_validator("level_hazard_multiplier", "price_elasticity_level_multiplier")
    @classmethod
    def _check(cls, v: list[float]) -> list[float]:
        return _ladder_values(v, 0.0, 100.0)


class WordOfMouth(_Section):
    referral_rate_delight: float = param(
        0.01, ge=0, le=1, unit="signups/customer/month", source="[article-flat-vs-tiered][article-retention] happy customers become advocates; rate assumed",
        doc="Free trial signups each 'delight' customer brings per month (advocates).",
    )
    referral_rate_wow: float = param(
        0.03, ge=0, le=1, unit="signups/customer/month", source="[article-flat-vs-tiered][article-retention] happy customers become advocates; rate assumed",
        doc="Free trial signups each 'wow' customer brings per month.",
    )
    negative_per_unhappy_churner: float = param(
        0.5, ge=0, le=100, unit="signups lost/churner", source="[article-retention] a customer who leaves spreads negativity; the number is assumed",
        doc="Signups lost to negative word of mouth per customer who churns from 'below'.",
    )


class Acquisition(_Section):
    cac_multiple: float = param(
        6.5, ge=1, le=25, unit="x retention cost", source="[article-flat-vs-tiered][gallo2014] 6-7x in the article; public estimates range 5-25x",
        doc="Cost to acquire one paying customer of a segment as a multiple of its segments[].retention_cost_usd.",
    )
    mix: Literal["like_for_like", "target"] = Field(
        "like_for_like",
        description=(
            "Segments of paid acquisition: like_for_like replaces each segment's churners in that segment "
            "(growth and free signups at the segment shares); target buys every paying customer at the segment "
            "shares whoever left."
        ),
        json_schema_extra={"source": SRC_LIKE_FOR_LIKE},
    )
    replacement_share: float = param(
        1.0, ge=0, le=5, unit="fraction",
        source="assumption: every churned customer is replaced (a steady customer base)", doc="Share of last month's churned customers the company sets out to replace with paid acquisition.",
    )
    growth_per_month: float = param(
        0.0, ge=0, le=1_000_000, unit="customers/month", source="assumption: no growth beyond replacement unless the scenario sets it", doc="Paying customers acquired beyond replacement each month."
    )
    organic_signups_per_month: float = param(
        0.0, ge=0, le=1_000_000, unit="signups/month", source="assumption: no organic signups unless the scenario sets them", doc="Free trial signups per month (not paid for)."
    )
    conversion_prior_trials: float = param(
        200.0, ge=0, le=1_000_000, unit="trials",
        source="assumption: the company's own estimate starts from the segment's conversion worth 200 trials",
        doc=(
            "Weight, in trials, of segments[].trial_conversion in the company's estimate of its trial conversion "
            "per segment (updated with every trial's outcome); paid trials are bought at need / estimate."
        ),
    )


class Demand(_Section):
    """How the offer sells: trial conversion answers price and the support promise."""

    wtp_sigma: float = param(
        0.5, ge=0.05, le=5, unit="log-USD",
        source=("assumption: a competitive market, where the list price a company keeps is near the one that "
                "maximises its value (at the defaults the best multiplier is 1.1-1.2); an elasticity of trial "
                "conversion of -3.2 at the market price; range 0.3-1.0 in the uncertainty tables"),
        doc=("Spread of buyers' willingness to pay (lognormal around each plan's market price): trial conversion is "
             "trial_conversion x 2 x Phi(-ln(offer / (market price x promise value)) / wtp_sigma), where the offer is "
             "the plan price x pricing.price_multiplier + the support add-on + the fees a buyer expects to pay. "
             "Smaller = buyers more price-sensitive; the elasticity at the market price is -1.6 / wtp_sigma."),
    )
    promise_elasticity: float = param(
        0.03, ge=0, le=1, unit="ratio",
        source="assumption: a promise three times faster than the market norm is worth about 3% of the price to a buyer; range 0-0.1",
        doc=("How the first-response promise sells: buyers value the offer at (promise / satisfaction.market_norm_h)"
             "^-promise_elasticity of its price, so a looser promise sells less and a faster one more (0 = buyers "
             "ignore the promise)."),
    )


class Finance(_Section):
    discount_rate_annual: float = param(
        0.10, ge=0.001, le=1, unit="1/year",
        source=SRC_DISCOUNT,
        doc=(
            "Annual discount rate of value_usd (monthly factor (1 + r)^(-1/12)); also discounts the terminal value, "
            "which is why it is above 0 (a customer who never leaves would be worth an infinite sum)."
        ),
    )


class Trial(_Section):
    conversion_level_multiplier: list[float] = Field(
        default_factory=lambda: [0.3, 1.0, 1.15, 1.3, 1.4],
        description="Trial conversion multiplier per ladder level at the end of the trial.",
        json_schema_extra={"unit": "x conversion", "source": "[article-satisfaction-levels][article-vip-support] trial experience drives conversion; factors assumed"},
    )

    @field_validator("conversion_level_multiplier")
    @classmethod
    def _check(cls, v: list[float]) -> list[float]:
        return _ladder_values(v, 0.0, 100.0)


class Vip(_Section):
    ACTS_WHEN: ClassVar[ActsWhen] = acts("vip.enabled", True)  # every field but the switch
    enabled: bool = Field(False, description="Run the VIP programme.", json_schema_extra={"source": "[article-vip-support] the VIP programme is an option to test; off in the base case"})
    select_top_plan: bool = Field(True, description="Customers on a top plan are VIP.", json_schema_extra={"source": "[article-vip-support] VIP rule: high-value customers on the top plan"})
    select_big_name: bool = Field(True, description="Big-name customers are VIP.", json_schema_extra={"source": "[article-vip-support] VIP rule: big-name signups"})
    select_funded: bool = Field(True, description="Customers with funding >= vip.min_funding_usd are VIP.", json_schema_extra={"source": "[article-vip-support] VIP rule: well-funded start-ups"})
    min_funding_usd: float = param(500_000.0, ge=0, le=1e11, unit="USD", source="[article-vip-support] total funding of $500k or more", doc="Funding threshold for VIP.")
    sla_h: float = param(1.0, gt=0, le=720, unit="h", source="[gasp-support-metrics] enterprise premium SLA under 1 h", doc="VIP first-response target (top desk priority).")
    welcome_h: float = param(0.5, ge=0, le=40, unit="h", source="[article-vip-support] a personal welcome with a 1:1 demo offer; the time is assumed", doc="Agent time of the personal welcome (1:1 demo offer).")
    concierge_checkins: int = param(2, ge=0, le=20, unit="check-ins", source="[article-vip-support] scheduled manual check-ins during the trial; the number is assumed", doc="Concierge check-ins during the trial.")
    checkin_h: float = param(0.5, ge=0, le=40, unit="h", source="[article-vip-support] manual concierge and lifecycle check-ins; the time is assumed", doc="Agent time per concierge or lifecycle check-in.")
    concierge_conversion_uplift: float = param(
        0.15, ge=0, le=1, unit="probability", source="[article-vip-support] concierge onboarding raised trial-to-paid conversion; the uplift is assumed",
        doc=(
            "Added trial conversion probability of a VIP trial whose concierge onboarding was fully served, scaled by "
            "the share served (automated messages count at automated_p_up_per_touch / p_up_per_touch); capped at 1."
        ),
    )
    lifecycle_checkins: bool = Field(True, description="Check in 1 month after conversion, then every 3 months.", json_schema_extra={"source": "[article-vip-support] check in during the first 30 days after conversion, then quarterly"})
    p_up_per_touch: float = param(
        0.3, ge=0, le=1, unit="probability", source="[article-vip-support] VIP care made customers more active and loyal; the chance is assumed", doc="Chance each VIP touch moves the customer one level up."
    )
    alert_detection_prob: float = param(
        0.6, ge=0, le=1, unit="probability", source="[article-vip-support] account-level activity churn signals a cancellation; the chance is assumed",
        doc="Chance account-level activity churn flags a VIP who is about to cancel.",
    )
    alert_false_positive_rate: float = param(
        0.05, ge=0, le=1, unit="probability/month", source="assumption: healthy accounts rarely go quiet as a whole team; no public figure", doc="Monthly chance a healthy VIP account raises an alert."
    )
    outreach_h: float = param(1.0, ge=0, le=40, unit="h", source="[article-vip-support] personal outreach when activity churn appears; the time is assumed", doc="Agent time of personal outreach on an alert.")
    outreach_save_prob: float = param(
        0.35, ge=0, le=1, unit="probability", source="[article-vip-support] personal outreach keeps some VIPs; the chance is assumed", doc="Chance outreach keeps a flagged VIP who would have left."
    )
    perks_usd_per_vip_month: float = param(
        10.0, ge=0, le=100_000, unit="USD/VIP/month", source=SRC_PERKS,
        doc="Direct perks cost per paying VIP (rewards, gifts: the 'delight' level of the satisfaction ladder).",
    )
    perks_p_up_per_month: float = param(
        0.05, ge=0, le=1, unit="probability/month",
        source="[article-satisfaction-levels] rewards and gifts lift customers to 'delight'; the rate is assumed",
        doc="Monthly chance perks lift a paying VIP one level (0 when perks_usd_per_vip_month is 0).",
    )
    manual_capacity: int = param(
        1_000_000, ge=0, le=10_000_000, unit="VIP customers", source="[article-vip-support] manual care does not scale; the default sets no cap",
        doc=(
            "Most VIPs cared for by hand (earliest first); the rest get automated personalised messages instead "
            "(the default never binds: every VIP is cared for by hand)."
        ),
    )
    automated_p_up_per_touch: float = param(
        0.1, ge=0, le=1, unit="probability", source="[article-vip-support] automated personalised messages beyond capacity; weaker, assumed",
        doc="Chance an automated message (in place of a manual touch) moves the customer one level up.",
    )
    automated_save_prob: float = param(
        0.1, ge=0, le=1, unit="probability", source="[article-vip-support] automated personalised messages beyond capacity; weaker, assumed",
        doc="Chance an automated message keeps a flagged VIP beyond manual capacity who would have left.",
    )


class Loyalty(_Section):
    ACTS_WHEN: ClassVar[ActsWhen] = acts("loyalty.enabled", True)  # every field but the switch
    enabled: bool = Field(False, description="Run a loyalty/reward programme (a delight/wow lever).", json_schema_extra={"source": "[article-retention] reward programmes are a retention lever; off in the base case"})
    cost_usd_per_customer_month: float = param(
        5.0, ge=0, le=100_000, unit="USD/customer/month", source="assumption: no public cost of rewards per customer taken", doc="Cost of rewards per paying customer."
    )
    p_up_per_month: float = param(
        0.05, ge=0, le=1, unit="probability/month", source="[article-satisfaction-levels] rewards and loyalty points delight; the rate is assumed",
        doc="Monthly chance rewards lift a customer one level.",
    )


class Proactive(_Section):
    ACTS_WHEN: ClassVar[ActsWhen] = acts("proactive.enabled", True)  # every field but the switch
    enabled: bool = Field(
        False, description="Automated proactive messages to every customer (onboarding flows, tips)."
    , json_schema_extra={"source": "[article-retention][article-vip-support] reach out before the customer has to; off in the base case"})
    p_up_per_month: float = param(
        0.03, ge=0, le=1, unit="probability/month", source="[article-retention] proactive communication retains customers; the rate is assumed",
        doc="Monthly chance proactive communication lifts a customer one level.",
    )
    cost_usd_per_customer_month: float = param(
        0.5, ge=0, le=100_000, unit="USD/customer/month", source="assumption: automated messages cost little per customer; no public figure", doc="Cost of the messaging per customer (trial or paying)."
    )


class Feedback(_Section):
    ACTS_WHEN: ClassVar[ActsWhen] = acts("feedback.enabled", True)  # every field but the switch
    enabled: bool = Field(False, description="Regular satisfaction surveys, acted upon.", json_schema_extra={"source": "[article-retention][reichheld1990] surveys, acted upon, show why customers leave; off in the base case"})
    survey_response_rate: float = param(
        0.3, ge=0, le=1, unit="probability/month", source="assumption: no public survey response rate taken",
        doc="Monthly chance a paying customer answers the survey (tells where they stand on the ladder).",
    )
    p_recover_detected: float = param(
        0.5, ge=0, le=1, unit="probability", source="[article-retention][reichheld1990] acting on feedback wins customers back; the chance is assumed",
        doc="Chance a follow-up lifts a respondent who is below expectations back to 'meet'.",
    )
    followup_cost_usd: float = param(
        25.0, ge=0, le=100_000, unit="USD/follow-up",
        source="assumption: about half an hour of success-team time; no public figure", doc="Cost of one follow-up with an unhappy respondent (success-team time, outside the desk).",
    )
    survey_cost_usd_per_customer_month: float = param(
        0.2, ge=0, le=100_000, unit="USD/customer/month", source="assumption: survey tooling per customer; no public figure", doc="Cost of running the survey per paying customer."
    )


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
