"""Customer-months with what support did to each customer: the panel the churn hazard is fitted on.

Where it sits: ``ingest`` (tables) and ``deskhours`` (the SLA clock) -> **panel** -> ``hazard``.
A customer's months are their paid periods (730 h from the signup, as in ``retention``); the
months observed are those that end inside the window (left truncation at its start). In each
month the panel counts the support outcomes the model's ladder reacts to
(docs/model.md section 5):

* **abandoned** tickets (never answered, and not still open at the export),
* **late** answers, each with ``x = wait / expectation`` on the SLA clock (``expectation = min(promise,
  market norm)``; a ticket is late when ``x > 1``),
* **unresolved** tickets (answered, never resolved, older than :data:`OPEN_GRACE_H` at the export),
* **fees** paid (USD),

placed in the month of the first response (answered) or of the opening (abandoned). Tickets in
the 730 h before a signup inside the window are the customer's trial month (month 0): they set
where a new customer starts. Pure computation: nothing is read, written or printed here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.calibrate.ingest import CustomerTable, TicketTable, match_ids
from sim.calibrate.quantities import MONTH_H
from sim.calibrate.retention import renewal_periods

OPEN_GRACE_H = 30 * 24.0  # an answered ticket unresolved this long before the export counts as unresolved
LATE_BANDS = (1.0, 2.0, 5.0)  # x = wait / expectation: (1, 2], (2, 5], > 5


@dataclass
class Panel:
    """Customers (rows) by observed months (columns j = 0 .. n_obs - 1), and their trial month."""

    segment: np.ndarray  # (N,) segment code
    n_obs: np.ndarray  # (N,) months observed
    churned: np.ndarray  # (N,) bool: left at the end of their last observed month
    new: np.ndarray  # (N,) bool: signed up inside the window (trial month observed; starts at 'meet')
    abandoned: np.ndarray  # (N, P) counts
    unresolved: np.ndarray  # (N, P)
    fees: np.ndarray  # (N, P) USD
    late_cell: np.ndarray  # (L,) flat index i * P + j of each late answer
    late_x: np.ndarray  # (L,) its wait / expectation (> 1)
    trial_abandoned: np.ndarray  # (N,)
    trial_unresolved: np.ndarray  # (N,)
    trial_fees: np.ndarray  # (N,)
    trial_late_row: np.ndarray  # (Lt,) customer row of each late answer in a trial month
    trial_late_x: np.ndarray
    customers_total: int  # customers with at least one observed month before sampling
    sampled: bool
    weight: np.ndarray | None = None  # (N,) customers each row stands for (rows without any outcome are merged)

    @property
    def shape(self) -> tuple[int, int]:
        return self.abandoned.shape

    def valid(self) -> np.ndarray:
        """(N, P) bool: the month is observed."""
        return np.arange(self.shape[1])[None, :] < self.n_obs[:, None]

    def weights(self) -> np.ndarray:
        """(N,) customers each row stands for."""
        return np.ones(self.shape[0]) if self.weight is None else self.weight

    @property
    def customers(self) -> int:
        return int(round(float(self.weights().sum())))

    def y(self) -> np.ndarray:
        """(N, P) 1 where the customer left at the end of that month."""
        out = np.zeros(self.shape, np.int8)
        rows = np.flatnonzero(self.churned)
        out[rows, self.n_obs[rows] - 1] = 1
        return out

    def late_counts(self, bands: tuple[float, ...] = LATE_BANDS) -> np.ndarray:
        """(len(bands), N, P) late answers by band of x."""
        edges = [*bands[1:], np.inf]
        out = np.zeros((len(bands), *self.shape), np.int32)
        for b, (lo, hi) in enumerate(zip(bands, edges)):
            sel = (self.late_x > lo) & (self.late_x <= hi)
            out[b].ravel()[:] = np.bincount(self.late_cell[sel], minlength=out[b].size)
        return out


def build_panel(c: CustomerTable, t: TicketTable, *, seg_code: np.ndarray, w0: float, export_h: float,
                sla_waits: np.ndarray, expectation_h: float, still_open: np.ndarray,
                max_customers: int | None = None, seed: int = 0) -> Panel:
    """The customer-month panel (see the module docstring).

    ``sla_waits``: each ticket's first-response wait on the SLA clock (NaN if unanswered);
    ``still_open``: unanswered tickets too recent to count as abandoned; ``max_customers``: a
    seeded random sample of this many customers when there are more (the fit's cost grows with
    customer-months).
    """
    entry, churn_t, tenure = renewal_periods(signup_h=c.signup_h, cancel_h=c.cancel_h, window_start_h=w0,
                                             export_h=export_h)
    churned_any = np.isfinite(c.cancel_h)
    in_window = np.where(churned_any, c.cancel_h, np.inf) > w0
    is_churn = churned_any & in_window
    last = np.where(is_churn, churn_t, tenure)
    n_obs = np.where(in_window, last - entry, 0)
    keep = np.flatnonzero(n_obs >= 1)
    total = len(keep)
    sampled = max_customers is not None and total > max_customers
    if sampled:
        keep = np.sort(np.random.default_rng(seed).choice(keep, size=max_customers, replace=False))
    n = len(keep)
    row_of = np.full(len(c), -1, np.int64)
    row_of[keep] = np.arange(n)
    n_obs_k = n_obs[keep].astype(np.int64)
    width = int(n_obs_k.max()) if n else 1
    signup = c.signup_h[keep]
    first = entry[keep] + 1  # the first observed period (1-based)

    cust = match_ids(t.customer, c.id)
    sel = np.flatnonzero(cust >= 0)  # tickets of known customers ...
    r = row_of[cust[sel]]
    del cust
    sel, r = sel[r >= 0], r[r >= 0]  # ... in the sample: everything below is on these only (peak memory)
    answered = np.isfinite(t.first_response_h[sel])
    opened = t.opened_h[sel]
    when = np.where(answered, t.first_response_h[sel], opened)
    period = np.floor((when - signup[r]) / MONTH_H).astype(np.int64) + 1  # 0: the trial month
    del when
    col = period - first[r]
    in_panel = (col >= 0) & (col < n_obs_k[r])
    in_trial = (period == 0) & (entry[keep][r] == 0)
    ab = (~answered) & ~still_open[sel]
    unres = answered & ~np.isfinite(t.resolved_h[sel]) & (t.first_response_h[sel] < export_h - OPEN_GRACE_H)
    x = np.where(answered, sla_waits[sel] / expectation_h, np.nan)
    late = answered & (x > 1.0)
    fee = np.zeros(len(r)) if t.fee_usd is None else np.nan_to_num(t.fee_usd[sel])
    cell = r * width + np.where(in_panel, col, 0)
    size = n * width

    def grid(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        sel = in_panel & mask
        w = None if weights is None else weights[sel]
        return np.bincount(cell[sel], weights=w, minlength=size).reshape(n, width)

    def trial(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        sel = in_trial & mask
        return np.bincount(r[sel], weights=None if weights is None else weights[sel], minlength=n)

    return merge_quiet(Panel(
        segment=seg_code[keep].astype(np.int64), n_obs=n_obs_k, churned=is_churn[keep], new=entry[keep] == 0,
        abandoned=grid(ab).astype(np.int32), unresolved=grid(unres).astype(np.int32),
        fees=grid(fee > 0, fee).astype(np.float64),
        late_cell=cell[in_panel & late], late_x=x[in_panel & late],
        trial_abandoned=trial(ab).astype(np.int32), trial_unresolved=trial(unres).astype(np.int32),
        trial_fees=trial(fee > 0, fee).astype(np.float64),
        trial_late_row=r[in_trial & late], trial_late_x=x[in_trial & late],
        customers_total=total, sampled=sampled,
    ))


def merge_quiet(p: Panel) -> Panel:
    """Rows without a single outcome (no abandoned, late or unresolved ticket, no fee, in any month or the trial) differ
    only by segment, months observed, leaving and being new: merge them into one weighted row each. Every
    likelihood here sums over customers, so a weighted row gives the same fit at a fraction of the cost."""
    n, width = p.shape
    busy = (p.abandoned.any(axis=1) | p.unresolved.any(axis=1) | (p.fees > 0).any(axis=1)
            | (p.trial_abandoned > 0) | (p.trial_unresolved > 0) | (p.trial_fees > 0))
    busy[p.late_cell // max(width, 1)] = True
    busy[p.trial_late_row] = True
    quiet = np.flatnonzero(~busy)
    if len(quiet) < 2:
        return p
    key = ((p.segment[quiet] * (width + 1) + p.n_obs[quiet]) * 2 + p.churned[quiet]) * 2 + p.new[quiet]
    uniq, first, count = np.unique(key, return_index=True, return_counts=True)
    rows = np.concatenate([np.flatnonzero(busy), quiet[first]])
    weight = np.concatenate([np.ones(int(busy.sum())), count.astype(float)])
    new_row = np.full(n, -1, np.int64)
    new_row[rows] = np.arange(len(rows))
    late_row = new_row[p.late_cell // max(width, 1)]
    return Panel(
        segment=p.segment[rows], n_obs=p.n_obs[rows], churned=p.churned[rows], new=p.new[rows],
        abandoned=p.abandoned[rows], unresolved=p.unresolved[rows], fees=p.fees[rows],
        late_cell=late_row * width + p.late_cell % max(width, 1), late_x=p.late_x,
        trial_abandoned=p.trial_abandoned[rows], trial_unresolved=p.trial_unresolved[rows],
        trial_fees=p.trial_fees[rows], trial_late_row=new_row[p.trial_late_row], trial_late_x=p.trial_late_x,
        customers_total=p.customers_total, sampled=p.sampled, weight=weight,
    )
