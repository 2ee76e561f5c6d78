"""Acquisition by segment: who the company buys, at what price, and how it sizes the buy.

Where it sits: ``sim.engine.model`` asks the :class:`Funnel` once a month (step 6) how many
trials of each segment start next month and what the paid ones cost. Each segment has its
own cost of acquisition (``cac_usd``, or ``acquisition.cac_multiple x retention_cost_usd``):
a $49 starter is not bought at the price of a $799 business account. By default the company
replaces each segment's churners in that segment (``acquisition.mix = "like_for_like"``), so
losing cheap customers is not a way to a richer mix. Paid trials are sized on the company's
running estimate of its trial conversion per segment (prior: the conversion its offer should
get at 'meet', ``sim.engine.demand``, worth ``acquisition.conversion_prior_trials`` trials,
updated with every trial's outcome), so that replacement is right in expectation and a policy
that converts better buys fewer trials. A paid trial costs what the market charges for one
(``CAC x trial_conversion``), so a paying customer costs more when the offer converts worse:
a dearer plan or a looser promise pays for itself in acquisition.
Pure numpy; draws only from the generator it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.engine import demand
from sim.params.schema import Params

MIN_CONVERSION = 0.01  # trials bought per needed customer are at most 1 / MIN_CONVERSION (100)


def segment_cac_usd(params: Params) -> np.ndarray:
    """Cost to acquire one paying customer, per segment (explicit ``cac_usd`` wins)."""
    mult = params.acquisition.cac_multiple
    return np.array([s.cac_usd if s.cac_usd > 0 else mult * s.retention_cost_usd
                     for s in params.customers.segments])


@dataclass
class Plan:
    """Next month's trials: per segment, how many start and how many of them were paid for."""

    trials: np.ndarray  # int, per segment
    paid: np.ndarray  # int, per segment: trials bought by paid acquisition (<= trials)
    cost_usd: np.ndarray  # float, per segment: spend booked this month
    bought: np.ndarray | None = None  # int, per segment: paid signups, incl. lost ones bought back

    @property
    def paid_signups(self) -> np.ndarray:
        """Paid signups per segment (what the spend bought, lost signups bought back included)."""
        return self.paid if self.bought is None else self.bought

    def segments(self) -> tuple[np.ndarray, np.ndarray]:
        """(segment per trial, paid flag per trial): free trials first, then paid, by segment."""
        seg = np.arange(len(self.trials))
        free = self.trials - self.paid
        return (np.concatenate([np.repeat(seg, free), np.repeat(seg, self.paid)]),
                np.concatenate([np.zeros(free.sum(), bool), np.ones(self.paid.sum(), bool)]))


class Funnel:
    """Per-segment acquisition of one run: prices, conversion estimate, monthly plan."""

    def __init__(self, params: Params) -> None:
        segs = params.customers.segments
        self.params = params
        self.shares = np.array([s.share for s in segs], dtype=float)
        self.shares = self.shares / self.shares.sum()
        # what the market charges for a trial is priced at its conversion under the market's offer;
        # this policy's offer converts at base_conversion (both at 'meet')
        self.market_conversion = np.array([s.trial_conversion for s in segs], dtype=float)
        self.base_conversion = np.minimum(self.market_conversion * demand.conversion_factor_by_segment(params), 1.0)
        self.cac_usd = segment_cac_usd(params)
        prior = params.acquisition.conversion_prior_trials
        self._trials = np.full(len(segs), prior)
        self._converted = prior * self.base_conversion

    def conversion_estimate(self) -> np.ndarray:
        """The company's estimate of trial conversion per segment (prior + outcomes so far)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            est = self._converted / self._trials
        return np.where(self._trials > 0, est, self.base_conversion)

    def observe(self, segment: np.ndarray, converted: np.ndarray) -> None:
        """Learn from this month's trial outcomes (segment and converted flag per trial)."""
        n = len(self.shares)
        self._trials = self._trials + np.bincount(segment, minlength=n)
        self._converted = self._converted + np.bincount(segment, weights=converted.astype(float), minlength=n)

    def need(self, churned: np.ndarray | float) -> np.ndarray:
        """Paying customers to acquire per segment, given churners per segment."""
        a = self.params.acquisition
        churned = np.asarray(churned, dtype=float)
        if a.mix == "like_for_like":
            return a.replacement_share * churned + a.growth_per_month * self.shares
        return (a.replacement_share * churned.sum() + a.growth_per_month) * self.shares

    def target_trials(self, need: np.ndarray) -> np.ndarray:
        """Trials expected to convert into ``need`` paying customers (0 where nobody converts)."""
        # A company buys at most 100 trials per customer it needs: an offer nobody takes (a tenfold
        # price, a conversion estimate of 5e-324) must not ask for unbounded trials (no budget would).
        est = self.conversion_estimate()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(est > 0, need / np.maximum(np.where(est > 0, est, 1.0), MIN_CONVERSION), 0.0)

    def plan(self, churned: np.ndarray, free_signups: int, rng: np.random.Generator) -> Plan:
        """Next month's trials. Free signups (organic + referrals - lost to negative word of
        mouth; may be negative) fall into segments at the segment shares; the company buys the
        rest of each segment's target. Signups lost to word of mouth are bought back: they cost
        money, not extra trials. A paid trial costs its segment's CAC x the market's conversion,
        so a paying customer costs CAC under the market's offer, more under a worse one."""
        free = int(np.sign(free_signups)) * rng.multinomial(abs(free_signups), self.shares)
        target = np.rint(self.target_trials(self.need(churned))).astype(np.int64)
        paid = np.maximum(0, target - free)
        trials = np.maximum(0, free + paid)
        return Plan(trials, np.minimum(paid, trials), paid * self.cac_usd * self.market_conversion, bought=paid)

    def warm_start(self, expected_churn: np.ndarray) -> np.ndarray:
        """Trials per segment of a funnel already at steady state (replacing one month's
        expected churn), started before the horizon."""
        return np.rint(self.target_trials(self.need(expected_churn))).astype(np.int64)
