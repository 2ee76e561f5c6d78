"""Customers and the market: segments, asking for help, what the offer sells, acquisition,
word of mouth, trials and discounting.

Where it sits: sections of the schema (``sim.params.schema``), declared with ``sim.params.fields``.
Data only.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.params.fields import (  # noqa: F401
    SRC_CAC_PAYBACK,
    SRC_DISCOUNT,
    SRC_LIKE_FOR_LIKE,
    _ladder_values,
    _Section,
    acts,
    param,
)
from sim.params.pricing import PAID_SCHEMES


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


class HelpSeeking(_Section):
    base_ask_prob: float = param(
        0.8, ge=0, le=1, unit="probability", source="[article-flat-vs-tiered] free help is asked for without a second thought; the level is assumed",
        doc="Probability that a customer asks for help with an issue when help is free.",
    )
    self_resolve_prob: float = param(
        0.4, ge=0, le=1, unit="probability", source="assumption: no public figure for issues that go away on their own", doc="Probability that an issue the customer does not raise resolves itself."
    )


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
