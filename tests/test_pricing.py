"""The pricing registry: one Scheme per name the schema declares; fees, priority, SLA and
allowance per scheme; an unknown scheme is an error."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine import pricing
from sim.params.schema import SCHEME_NAMES, Params, Pricing


def _params(scheme: str, **pricing_fields) -> Params:
    base = Params()
    return base.model_copy(update={"pricing": Pricing(scheme=scheme, **pricing_fields)})


def _segments(params: Params) -> np.ndarray:
    return np.arange(len(params.customers.segments))


def test_registry_matches_schema() -> None:
    assert set(pricing.SCHEMES) == set(SCHEME_NAMES)
    for name, scheme in pricing.SCHEMES.items():
        assert scheme.name == name


def test_unknown_scheme_is_an_error() -> None:
    bogus = Params().model_copy(update={"pricing": Pricing.model_construct(scheme="annual_contract")})
    with pytest.raises(ValueError, match="annual_contract"):
        pricing.scheme_for(bogus)
    with pytest.raises(ValueError, match="not implemented"):
        pricing.marginal_fee_by_segment(bogus)


def test_flat_charges_nothing_and_serves_all_alike() -> None:
    p = _params("flat", per_ticket_fee_usd=20.0, per_hour_fee_usd=60.0, included_tickets_per_month=2)
    seg = _segments(p)
    assert np.all(pricing.marginal_fee_by_segment(p) == 0)
    assert pricing.free_allowance(p) == pricing.UNLIMITED
    prio, sla = pricing.ticket_service(p, seg, np.zeros(len(seg), bool))
    assert np.all(prio == 1)
    assert np.all(sla == p.support.sla_target_h)


def test_tiered_follows_the_plans() -> None:
    p = _params("tiered", included_tickets_per_month=1)
    segs = p.customers.segments
    seg = _segments(p)
    assert list(pricing.marginal_fee_by_segment(p)) == [s.tier_ticket_fee_usd for s in segs]
    prio, sla = pricing.ticket_service(p, seg, np.zeros(len(seg), bool))
    assert list(prio) == [s.tier_priority for s in segs]
    assert list(sla) == [s.tier_sla_h for s in segs]
    assert pricing.free_allowance(p) == 1
    fees = pricing.ticket_fees(p, seg, np.ones(len(seg)), np.array([True, True, False]))
    assert list(fees) == [segs[0].tier_ticket_fee_usd, segs[1].tier_ticket_fee_usd, 0.0]


def test_vip_tickets_jump_the_queue_under_every_scheme() -> None:
    for name in SCHEME_NAMES:
        p = _params(name)
        seg = _segments(p)
        prio, sla = pricing.ticket_service(p, seg, np.ones(len(seg), bool))
        assert np.all(prio == 0), name
        assert np.all(sla == p.vip.sla_h), name


def test_per_ticket_and_per_hour_fees() -> None:
    p = _params("per_ticket", per_ticket_fee_usd=20.0, included_tickets_per_month=3)
    seg = _segments(p)
    assert np.all(pricing.marginal_fee_by_segment(p) == 20.0)
    assert pricing.free_allowance(p) == 3
    handle = np.array([0.5, 1.0, 2.0])
    assert list(pricing.ticket_fees(p, seg, handle, np.ones(3, bool))) == [20.0] * 3

    h = _params("per_hour", per_hour_fee_usd=60.0)
    # the customer expects the mean handle time; the bill is the actual handle time
    assert np.allclose(pricing.marginal_fee_by_segment(h), 60.0 * h.support.handle_time_mean_h)
    assert list(pricing.ticket_fees(h, seg, handle, np.array([True, False, True]))) == [30.0, 0.0, 120.0]
    assert pricing.free_allowance(h) == 0
