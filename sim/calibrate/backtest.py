"""Back-test a calibration: fit on the first part of the history, simulate the rest, compare.

Where it sits: ``ingest`` (tables) -> ``estimate`` and ``write`` (the calibration of the first part)
-> **backtest** (the model on the held-out months) -> tables for ``sim.output.calibration_plots``
and the CLI. The split is a Monday 00:00 (the model's week starts on a Monday), by default the
first Monday after two thirds of the window; the calibration sees only what was known then
(customers signed up before it, cancellations and answers before it, tickets opened before it).
The scenario written for the first part then runs for the held-out months, each replication
with its own draw of the ``[uncertainty]`` table (so the band holds both the model's luck and
what the data left open), and four things are compared month by month with what happened:
monthly retention ``(C - B) / A``, tickets raised, the SLA attainment on the chosen clock, and the
mean first-response wait by hour of the week. Nothing is printed or written here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.calibrate.deskhours import EPOCH_TO_MONDAY_H, business_waits, week_hour
from sim.calibrate.estimate import Calibration, estimate_all
from sim.calibrate.ingest import CalibrationError, CustomerTable, TicketTable, iso, parse_date
from sim.calibrate.quantities import MONTH_H
from sim.calibrate.write import render
from sim.engine import hours as desk_hours
from sim.engine import model
from sim.params.scenario import resolve_policies, uncertain_parameters
from sim.runs.paths import with_values

WEEK_H = 168
BLOCK_H = 6  # waits by hour of the week are shown in blocks of this many hours
MIN_FIT_MONTHS = 3
METRICS = ("retention_pct", "tickets", "sla_met_pct")


@dataclass
class Backtest:
    """The calibration of the first part, the split, and the comparison tables."""

    calibration: Calibration
    split: str
    months: int
    replications: int
    monthly: pd.DataFrame  # metric, month, observed, sim_mean, sim_low, sim_high, inside
    waits: pd.DataFrame  # block (hour of week / BLOCK_H), label, observed, sim_mean, sim_low, sim_high, inside
    runs: pd.DataFrame  # every replication's month: replication, month, retention_pct, tickets, sla_met_pct

    def coverage(self, metric: str) -> float:
        rows = self.monthly[self.monthly["metric"] == metric] if metric != "waits" else self.waits
        rows = rows[rows["observed"].notna()]
        return float(rows["inside"].mean()) if len(rows) else float("nan")

    def summary(self) -> dict[str, Any]:
        return {"split": self.split, "held_out_months": self.months, "replications": self.replications,
                "coverage": {m: self.coverage(m) for m in (*METRICS, "waits")}}


def _filter(table: Any, mask: np.ndarray, **changes: Any) -> Any:
    """A copy of a table dataclass with its rows filtered by ``mask`` (arrays and Arrow id columns)."""
    out = {}
    for f in fields(table):
        v = changes.get(f.name, getattr(table, f.name))
        if isinstance(v, np.ndarray) and len(v) == len(mask):
            out[f.name] = v[mask]
        elif isinstance(v, pa.ChunkedArray) and len(v) == len(mask):
            out[f.name] = v.filter(pa.array(mask))
        else:
            out[f.name] = v
    return replace(table, **out)


def known_at(c: CustomerTable, t: TicketTable, split_h: float) -> tuple[CustomerTable, TicketTable]:
    """The exports as they would have been at ``split_h``: later signups and tickets gone, later dates empty."""
    cancel = np.where(c.cancel_h > split_h, np.nan, c.cancel_h)
    first = np.where(t.first_response_h > split_h, np.nan, t.first_response_h)
    resolved = np.where(t.resolved_h > split_h, np.nan, t.resolved_h)
    return (_filter(c, c.signup_h < split_h, cancel_h=cancel),
            _filter(t, t.opened_h < split_h, first_response_h=first, resolved_h=resolved))


def default_split(t: TicketTable, export_h: float) -> float:
    """The first Monday 00:00 after two thirds of the window (the window opens at the first ticket's day)."""
    w0 = math.floor(float(np.nanmin(t.opened_h)) / 24.0) * 24.0
    at = w0 + (export_h - w0) * 2 / 3
    return _monday(at)


def _monday(h: float) -> float:
    week_start = math.floor((h + EPOCH_TO_MONDAY_H) / WEEK_H) * WEEK_H - EPOCH_TO_MONDAY_H
    return week_start if week_start >= h - 1e-9 else week_start + WEEK_H


def observed_months(c: CustomerTable, t: TicketTable, *, split_h: float, months: int, promise_h: float,
                    sla_waits: np.ndarray) -> pd.DataFrame:
    """What happened in each held-out month of 730 h: retention (C - B) / A, tickets opened, SLA attainment."""
    sig = np.sort(c.signup_h)
    end = np.sort(np.where(np.isnan(c.cancel_h), np.inf, c.cancel_h))

    def active(at: float) -> int:
        return int(np.searchsorted(sig, at, side="left") - np.searchsorted(end, at, side="right"))

    rows = []
    answered = np.isfinite(t.first_response_h)
    for k in range(months):
        lo, hi = split_h + k * MONTH_H, split_h + (k + 1) * MONTH_H
        a, cc = active(lo), active(hi)
        b = int(np.searchsorted(sig, hi, side="left") - np.searchsorted(sig, lo, side="left"))
        in_month = answered & (t.first_response_h >= lo) & (t.first_response_h < hi)
        rows.append({"month": k, "retention_pct": 100.0 * (cc - b) / a if a else np.nan,
                     "tickets": int(np.count_nonzero((t.opened_h >= lo) & (t.opened_h < hi))),
                     "sla_met_pct": 100.0 * float(np.mean(sla_waits[in_month] <= promise_h + 1e-9))
                     if in_month.any() else np.nan})
    return pd.DataFrame(rows)


def _block_labels() -> list[str]:
    return [f"{desk_hours.DAYS[b * BLOCK_H // 24]} {b * BLOCK_H % 24:02d}" for b in range(WEEK_H // BLOCK_H)]


def _waits_by_block(arrival_week_h: np.ndarray, waits: np.ndarray) -> np.ndarray:
    block = (arrival_week_h // BLOCK_H).astype(np.int64)
    n = np.bincount(block, minlength=WEEK_H // BLOCK_H)
    s = np.bincount(block, weights=waits, minlength=WEEK_H // BLOCK_H)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= 5, s / np.maximum(n, 1), np.nan)


def backtest(c: CustomerTable, t: TicketTable, *, split: str | None = None, months: int | None = None,
             replications: int = 20, seed: int = 0, **options: Any) -> Backtest:
    """Calibrate on the history before ``split`` (ISO date; default :func:`default_split`), simulate the
    held-out months ``replications`` times and compare (see the module docstring)."""
    dates = [c.signup_h, c.cancel_h, t.opened_h, t.first_response_h, t.resolved_h]
    export_h = float(max(np.nanmax(d) if np.isfinite(d).any() else -np.inf for d in dates))
    split_h = _monday(parse_date(split, what="--backtest-split")) if split else default_split(t, export_h)
    left = int((export_h - split_h) // MONTH_H)
    months = left if months is None else min(months, left)
    w0 = math.floor(float(np.nanmin(t.opened_h)) / 24.0) * 24.0
    if months < 1 or (split_h - w0) / MONTH_H < MIN_FIT_MONTHS:
        raise CalibrationError([f"back-test split {iso(split_h)}: needs at least {MIN_FIT_MONTHS} months before it and "
                                f"one whole month of 730 h after it (the data run {iso(w0)} to {iso(export_h)})"],
                               "command line")
    c_fit, t_fit = known_at(c, t, split_h)
    cal = render(estimate_all(customers=c_fit, tickets=t_fit, export_date=iso(split_h), as_of=iso(split_h),
                              **options), name="backtest-fit")
    scenario = cal.scenario
    assert scenario is not None
    params0 = resolve_policies(scenario)[0].params
    promise = params0.support.sla_target_h
    table = uncertain_parameters(scenario) if scenario.uncertainty else {}
    rng = np.random.default_rng(seed)
    runs, block_waits = [], []
    for r in range(replications):
        params = params0
        if table:
            values = {p: d.ppf(np.array([rng.random()]))[0] for p, d in table.items()}
            params = resolve_policies(with_values(scenario, values, source="uncertainty"))[0].params
        trace = model.Trace()
        rows = model.run(params, months=months, seed=seed, replication=r, trace=trace)
        for row in rows:
            runs.append({"replication": r, "month": int(row["month"]), "retention_pct": row["retention_rate_pct"],
                         "tickets": row["tickets_raised"], "sla_met_pct": 100.0 * row["sla_met_share"]})
        tk = np.array([(a, f) for _, a, f, _, _ in trace.tickets if f is not None], dtype=np.float64).reshape(-1, 2)
        block_waits.append(_waits_by_block(tk[:, 0] % WEEK_H, tk[:, 1] - tk[:, 0]))
    runs_df = pd.DataFrame(runs)
    support = cal.support
    business = support is not None and support.clock == "business"
    full_sla = business_waits(t.opened_h, t.first_response_h, support.hours if business else None)
    obs = observed_months(c, t, split_h=split_h, months=months, promise_h=promise, sla_waits=full_sla)
    monthly = []
    for metric in METRICS:
        sims = runs_df.pivot(index="replication", columns="month", values=metric)
        for k in range(months):
            col = sims[k].to_numpy(dtype=float)
            lo, hi = np.nanquantile(col, [0.025, 0.975])
            o = float(obs.loc[k, metric])
            monthly.append({"metric": metric, "month": k, "observed": o, "sim_mean": float(np.nanmean(col)),
                            "sim_low": float(lo), "sim_high": float(hi),
                            "inside": bool(lo - 1e-9 <= o <= hi + 1e-9) if math.isfinite(o) else False})
    answered = np.isfinite(t.first_response_h) & (t.opened_h >= split_h) & (t.opened_h < split_h + months * MONTH_H)
    obs_blocks = _waits_by_block(week_hour(t.opened_h[answered]), (t.first_response_h - t.opened_h)[answered])
    sim_blocks = np.vstack(block_waits)
    waits = []
    for b, label in enumerate(_block_labels()):
        col = sim_blocks[:, b]
        col = col[np.isfinite(col)]
        lo, hi = (np.quantile(col, [0.025, 0.975]) if len(col) else (np.nan, np.nan))
        o = float(obs_blocks[b])
        waits.append({"block": b, "label": label, "observed": o, "sim_mean": float(np.mean(col)) if len(col) else np.nan,
                      "sim_low": float(lo), "sim_high": float(hi),
                      "inside": bool(lo - 1e-9 <= o <= hi + 1e-9) if math.isfinite(o) and len(col) else False})
    return Backtest(cal, iso(split_h), months, replications, pd.DataFrame(monthly), pd.DataFrame(waits), runs_df)
