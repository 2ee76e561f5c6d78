"""The offer and what it sells: price, expected fees and the support promise, per segment.

Where it sits: schema + ``sim.engine.pricing`` -> **demand** -> customers (churn's price
perception) and acquisition (trial conversion). Every question of the form "what does a buyer
of segment s see?" is answered here, once:

- the **offer price**: plan price x ``pricing.price_multiplier`` + the support add-on + what
  metered support costs a customer per month under the scheme (fees paid or help forgone);
- the **promise**: the first response the scheme promises the plan (before VIP), and the
  customer's **expectation**, ``min(promise, satisfaction.market_norm_h)`` on the SLA clock;
- the **conversion factor**: buyers' willingness to pay is lognormal around the plan's market
  price with log-spread ``demand.wtp_sigma``; a promise is worth
  ``(promise / market norm) ** -demand.promise_elasticity`` of the price to them, so a trial
  converts with ``trial_conversion x 2 Phi(-ln(offer / (market x promise value)) / sigma)``:
  exactly ``trial_conversion`` at the market's offer, less above it, up to twice it for a free
  offer. A higher price or a looser promise sells less, so the value-maximising price is finite.

Pure numpy and scipy; no randomness, no I/O.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from sim.engine import pricing
from sim.params.schema import Params


def _segment_values(params: Params, name: str) -> np.ndarray:
    return np.array([getattr(s, name) for s in params.customers.segments], dtype=float)


def offer_price_by_segment(params: Params) -> np.ndarray:
    """What the offer costs a customer of each segment per month (USD): plan price x multiplier +
    support add-on + what metered support costs it, fees paid or help forgone
    (``pricing.metered_cost_per_month``, docs/model.md §6)."""
    return (_segment_values(params, "plan_price_usd_per_month") * params.pricing.price_multiplier
            + params.pricing.support_fee_usd_per_month + pricing.metered_cost_per_month(params))


def revenue_by_segment(params: Params) -> np.ndarray:
    """What a customer of each segment is expected to pay per month (USD): plan price x multiplier +
    support add-on + the metered fees it pays (``pricing.expected_fees_per_month``): the revenue
    side of its margin, which leaves out the help it forgoes."""
    return (_segment_values(params, "plan_price_usd_per_month") * params.pricing.price_multiplier
            + params.pricing.support_fee_usd_per_month + pricing.expected_fees_per_month(params))


def market_price_by_segment(params: Params) -> np.ndarray:
    """The market's reference price per segment (USD/month)."""
    return np.array([s.market_price_usd_per_month if s.market_price_usd_per_month is not None
                     else s.plan_price_usd_per_month for s in params.customers.segments], dtype=float)


def price_ratio_by_segment(params: Params) -> np.ndarray:
    """Offer price / market price per segment, the price perception of the churn hazard (1 for a
    free plan on a free market)."""
    offer, market = offer_price_by_segment(params), market_price_by_segment(params)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(market > 0, offer / np.maximum(market, 1e-12), np.where(offer > 0, np.inf, 1.0))


def promise_by_segment(params: Params) -> np.ndarray:
    """The first response (h, on the SLA clock) the scheme promises each plan (VIPs aside)."""
    n = len(params.customers.segments)
    return pricing.ticket_service(params, np.arange(n), np.zeros(n, bool))[1].astype(float)


def expectation_h(params: Params, promise_h: np.ndarray) -> np.ndarray:
    """What a customer expects of a promise: never less than the market norm (same clock)."""
    return np.minimum(promise_h, params.satisfaction.market_norm_h)


def promise_value(params: Params) -> np.ndarray:
    """Per segment, the share of the price a buyer would pay for the promise vs the market norm."""
    ratio = promise_by_segment(params) / params.satisfaction.market_norm_h
    with np.errstate(divide="ignore", over="ignore"):  # a promise of (almost) nothing-wait: worth unbounded
        return ratio ** -params.demand.promise_elasticity


def conversion_factor_by_segment(params: Params) -> np.ndarray:
    """Trial conversion under this offer / trial conversion under the market's offer, per segment."""
    offer, market = offer_price_by_segment(params), market_price_by_segment(params)
    with np.errstate(invalid="ignore"):  # 0 x inf: a free market's offer is worth 0 whatever it promises
        worth = np.where(market > 0, market * promise_value(params), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(offer > 0, np.log(np.maximum(offer, 1e-300) / np.maximum(worth, 1e-300)), -np.inf)
    log_ratio = np.where(worth > 0, log_ratio, np.where(offer > 0, np.inf, 0.0))
    return 2.0 * ndtr(-log_ratio / params.demand.wtp_sigma)
