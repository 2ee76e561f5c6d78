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

    @property
    def shape(self) -> tuple[int, int]:
        return self.abandoned.shape

    def valid(self) -> np.ndarray:
        """(N, P) bool: the month is observed."""
        return np.arange(self.shape[1])[None, :] < self.n_obs[:, None]

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
    row = np.where(cust >= 0, row_of[np.maximum(cust, 0)], -1)
    answered = np.isfinite(t.first_response_h)
    when = np.where(answered, t.first_response_h, t.opened_h)
    ok = row >= 0
    r = row[ok]
    period = np.floor((when[ok] - signup[r]) / MONTH_H).astype(np.int64) + 1  # 0: the trial month
    col = period - first[r]
    in_panel = (col >= 0) & (col < n_obs_k[r])
    in_trial = (period == 0) & (entry[keep][r] == 0)
    ab = (~answered[ok]) & ~still_open[ok]
    unres = answered[ok] & ~np.isfinite(t.resolved_h[ok]) & (t.first_response_h[ok] < export_h - OPEN_GRACE_H)
    x = np.where(answered[ok], sla_waits[ok] / expectation_h, np.nan)
    late = answered[ok] & (x > 1.0)
    fee = np.zeros(len(r)) if t.fee_usd is None else np.nan_to_num(t.fee_usd[ok])
    cell = r * width + np.where(in_panel, col, 0)
    size = n * width

    def grid(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        sel = in_panel & mask
        w = None if weights is None else weights[sel]
        return np.bincount(cell[sel], weights=w, minlength=size).reshape(n, width)

    def trial(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        sel = in_trial & mask
        return np.bincount(r[sel], weights=None if weights is None else weights[sel], minlength=n)

    return Panel(
        segment=seg_code[keep].astype(np.int64), n_obs=n_obs_k, churned=is_churn[keep], new=entry[keep] == 0,
        abandoned=grid(ab).astype(np.int32), unresolved=grid(unres).astype(np.int32),
        fees=grid(fee > 0, fee).astype(np.float64),
        late_cell=cell[in_panel & late], late_x=x[in_panel & late],
        trial_abandoned=trial(ab).astype(np.int32), trial_unresolved=trial(unres).astype(np.int32),
        trial_fees=trial(fee > 0, fee).astype(np.float64),
        trial_late_row=r[in_trial & late], trial_late_x=x[in_trial & late],
        customers_total=total, sampled=sampled,
    )
