"""Loyalty: the satisfaction ladder and what moves customers on it, churn, and the programmes (VIP,
loyalty rewards, proactive messages, feedback surveys).

Where it sits: sections of the schema (``sim.params.schema``), declared with ``sim.params.fields``.
Data only.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from sim.params.fields import SRC_PERKS, ActsWhen, _ladder_values, _Section, acts, param  # noqa: F401
from sim.params.pricing import PAID_SCHEMES


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
