"""Pricing schemes: every decision that depends on how support is priced, in one registry.

Where it sits: ``sim.params.schema`` declares the scheme names (``SCHEME_NAMES``); this module
gives each name a :class:`Scheme` that answers the engine's questions about it:

- the marginal fee a customer expects to pay for one more ticket (drives demand suppression),
- the fee charged on a ticket once it is served (``per_hour`` charges the actual handle time),
- the desk priority and first-response target (SLA) of a ticket,
- how many tickets per month are free before metering starts,
- the support fees a customer expects to pay per month (part of the perceived price).

Adding a scheme is the schema's ``SCHEME_NAMES`` plus one entry in :data:`SCHEMES`;
``tests/test_pricing.py`` checks the two agree. An unknown scheme is an error
(:func:`scheme_for`), never a silent flat. Pure numpy: no SimPy, no randomness, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.params.schema import Params

UNLIMITED = int(np.iinfo(np.int32).max)  # free allowance of a scheme without metering


def _segment_values(params: Params, name: str) -> np.ndarray:
    return np.array([getattr(s, name) for s in params.customers.segments])


def _no_fee(params: Params) -> np.ndarray:
    return np.zeros(len(params.customers.segments))


def _per_ticket_fee(params: Params) -> np.ndarray:
    return np.full(len(params.customers.segments), params.pricing.per_ticket_fee_usd)


def _per_hour_expected_fee(params: Params) -> np.ndarray:
    # the customer anticipates the mean handle time
    return np.full(len(params.customers.segments), params.pricing.per_hour_fee_usd * params.support.handle_time_mean_h)


def _tier_fee(params: Params) -> np.ndarray:
    return _segment_values(params, "tier_ticket_fee_usd")


def _same_service(params: Params, segment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(segment)
    return np.ones(n, dtype=np.int64), np.full(n, params.support.sla_target_h)


def _service_by_tier(params: Params, segment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _segment_values(params, "tier_priority")[segment], _segment_values(params, "tier_sla_h")[segment]


def _allowance(params: Params) -> int:
    return params.pricing.included_tickets_per_month


@dataclass(frozen=True)
class Scheme:
    """How one pricing scheme treats a ticket.

    ``marginal_fee``: params -> expected fee (USD) of one ticket beyond the allowance, per segment.
    ``service``: (params, segment per ticket) -> (desk priority, SLA in hours) per ticket, before VIP.
    ``free_allowance``: params -> tickets per customer per month free of fee.
    ``bills_handle_time``: the fee charged is per_hour_fee_usd x the ticket's actual handle time
    (otherwise it is the marginal fee of the customer's segment).
    """

    name: str
    marginal_fee: Callable[[Params], np.ndarray]
    service: Callable[[Params, np.ndarray], tuple[np.ndarray, np.ndarray]] = _same_service
    free_allowance: Callable[[Params], int] = _allowance
    bills_handle_time: bool = False

    def ticket_fee(self, params: Params, segment: np.ndarray, handle_h: np.ndarray) -> np.ndarray:
        """Fee (USD) of each ticket if charged: by handle time, or the segment's marginal fee."""
        if self.bills_handle_time:
            return params.pricing.per_hour_fee_usd * handle_h
        return self.marginal_fee(params)[segment]


SCHEMES: dict[str, Scheme] = {
    "flat": Scheme("flat", _no_fee, free_allowance=lambda params: UNLIMITED),
    "tiered": Scheme("tiered", _tier_fee, service=_service_by_tier),
    "per_ticket": Scheme("per_ticket", _per_ticket_fee),
    "per_hour": Scheme("per_hour", _per_hour_expected_fee, bills_handle_time=True),
}


def scheme_for(params: Params) -> Scheme:
    """The :class:`Scheme` of ``params.pricing.scheme``; an unknown name raises ValueError."""
    name = params.pricing.scheme
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(f"pricing.scheme {name!r} is not implemented by the engine "
                         f"(known: {', '.join(sorted(SCHEMES))})") from None


def marginal_fee_by_segment(params: Params) -> np.ndarray:
    """Marginal fee (USD) of one more ticket beyond the free allowance, per segment."""
    return scheme_for(params).marginal_fee(params)


def ticket_service(params: Params, segment: np.ndarray, vip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Desk priority and SLA (h) per ticket: the scheme's, with VIP work at priority 0 and vip.sla_h."""
    priority, sla = scheme_for(params).service(params, segment)
    return np.where(vip, 0, priority), np.where(vip, params.vip.sla_h, sla)


def ticket_fees(params: Params, segment: np.ndarray, handle_h: np.ndarray, charged: np.ndarray) -> np.ndarray:
    """Fee (USD) charged per ticket: the scheme's fee on tickets beyond the allowance, else 0."""
    return np.where(charged, scheme_for(params).ticket_fee(params, segment, handle_h), 0.0)


def free_allowance(params: Params) -> int:
    """Tickets per customer per month free of fee under the scheme."""
    return scheme_for(params).free_allowance(params)


def poisson_excess(lam: float, k: int) -> float:
    """E[(N - k)+] for N ~ Poisson(lam): the expected issues beyond a free allowance of k."""
    if k <= 0:
        return lam
    if k >= UNLIMITED:
        return 0.0
    # E[(N-k)+] = lam - k + sum_{n<k} (k - n) P(N = n)
    p, below = math.exp(-lam), 0.0
    for n in range(k):
        below += (k - n) * p
        p *= lam / (n + 1)
    return max(0.0, lam - k + below)


def expected_fees_per_month(params: Params) -> np.ndarray:
    """Support fees (USD/month) a customer of each segment expects to pay under the scheme:
    marginal fee x P(ask | fee) x E[issues beyond the free allowance]."""
    fee = marginal_fee_by_segment(params)
    ask = params.help_seeking.base_ask_prob * np.exp(-_segment_values(params, "fee_sensitivity_per_usd") * fee)
    return fee * ask * _excess_issues(params)


def metered_cost_per_month(params: Params) -> np.ndarray:
    """What metered support costs a customer of each segment per month (USD), as part of the price
    it weighs (churn's price perception, the offer's price; docs/model.md §6): for every issue
    beyond the allowance that it would raise if help were free, the fee it pays or the help it
    goes without. The ask probability ``p0 exp(-s f)`` of demand suppression says a would-be
    asker's value of help on one issue is exponential with mean 1/s, and asks when it exceeds the
    fee ``f``: the expected cost is ``E[min(f, W)] = (1 - exp(-s f)) / s`` (``f`` when s = 0). So a
    fee nobody pays still costs the customer the help it forgoes, ``1/s`` per issue, and is never
    free support's equal."""
    fee = marginal_fee_by_segment(params)
    sens = _segment_values(params, "fee_sensitivity_per_usd")
    with np.errstate(divide="ignore", invalid="ignore"):
        per_issue = np.where(sens > 0, -np.expm1(-sens * fee) / np.where(sens > 0, sens, 1.0), fee)
    return params.help_seeking.base_ask_prob * per_issue * _excess_issues(params)


def _excess_issues(params: Params) -> np.ndarray:
    """E[issues beyond the free allowance] per customer-month of each segment (Poisson issues)."""
    k = free_allowance(params)
    return np.array([poisson_excess(s.issue_rate_per_month, k) for s in params.customers.segments])
