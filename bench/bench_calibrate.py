"""Benchmark: calibrate a scenario from a million tickets ("under a minute here").

    .venv/bin/python bench/bench_calibrate.py [--tickets 1000000] [--customers 60000] [--keep DIR]

Makes synthetic exports with numpy (customers with sBG-style churn over two years, tickets
spread over their paid spans, lognormal handle times, exponential waits, some abandoned,
a fifth with a satisfaction score), writes them as CSV, then times what ``supportsim
calibrate`` does: read and check both files, estimate, validate and write the scenario.
Generating the files is not timed. Prints one line per phase and the total.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.calibrate import calibrate, read_customers, read_tickets, write_scenario

MONTH_H = 730.0
START = np.datetime64("2023-01-01T00:00:00", "s")


def _stamp(hours: np.ndarray, unit: str) -> np.ndarray:
    out = np.full(len(hours), "", dtype=object)
    ok = np.isfinite(hours)
    out[ok] = np.datetime_as_string(START + np.round(hours[ok] * 3600).astype(np.int64).astype("timedelta64[s]"),
                                    unit=unit)
    return out


def make_exports(folder: Path, *, n_customers: int, n_tickets: int, seed: int = 1) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    months = 24
    plans = np.array(["starter", "growth", "business"])
    price = np.array([49.0, 199.0, 799.0])
    plan = rng.choice(3, n_customers, p=[0.6, 0.3, 0.1])
    signup = rng.uniform(-12, months - 1, n_customers) * MONTH_H
    theta = rng.beta(np.array([1.0, 1.5, 2.0])[plan], np.array([20.0, 45.0, 120.0])[plan])
    life = rng.geometric(theta) * MONTH_H
    cancel = signup + life
    export = months * MONTH_H
    cancel[cancel > export] = np.nan
    customers = pd.DataFrame({
        "customer_id": np.char.add("C", np.arange(n_customers).astype(str)),
        "signup_date": _stamp(signup, "D"),
        "cancel_date": _stamp(cancel, "D"),
        "plan": plans[plan],
        "monthly_revenue_usd": price[plan],
    })
    lo = np.maximum(signup, 0.0)
    hi = np.where(np.isnan(cancel), export, cancel)
    span = np.clip(hi - lo, 0, None)
    weight = span * np.array([0.5, 0.8, 1.2])[plan]
    who = rng.choice(n_customers, n_tickets, p=weight / weight.sum())
    opened = lo[who] + rng.random(n_tickets) * span[who]
    order = np.argsort(opened, kind="stable")
    who, opened = who[order], opened[order]
    wait = rng.exponential(0.8, n_tickets)
    abandoned = rng.random(n_tickets) < 0.04
    first = np.where(abandoned, np.nan, opened + wait)
    handle = rng.lognormal(np.log(0.75) - 0.5 * np.log1p(1.5**2), np.sqrt(np.log1p(1.5**2)), n_tickets)
    score = np.where(~abandoned & (rng.random(n_tickets) < 0.2), rng.integers(1, 6, n_tickets).astype(str), "")
    tickets = pd.DataFrame({
        "ticket_id": np.char.add("T", np.arange(n_tickets).astype(str)),
        "customer_id": customers["customer_id"].to_numpy()[who],
        "opened": _stamp(opened, "s"),
        "first_response": _stamp(first, "s"),
        "resolved": _stamp(first + handle, "s"),
        "satisfaction": score,
    })
    c_path, t_path = folder / "customers.csv", folder / "tickets.csv"
    customers.to_csv(c_path, index=False)
    tickets.to_csv(t_path, index=False)
    return c_path, t_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Time `supportsim calibrate` on a million synthetic tickets.")
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=60_000)
    ap.add_argument("--keep", type=Path, help="write the files here and keep them (default: a temporary folder)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        c_path, t_path = make_exports(folder, n_customers=args.customers, n_tickets=args.tickets)
        print(f"made {args.customers:,} customers and {args.tickets:,} tickets in {time.perf_counter() - t:.1f} s "
              f"({t_path.stat().st_size / 1e6:.0f} MB; not timed)")
        t0 = time.perf_counter()
        customers = read_customers(c_path)
        t1 = time.perf_counter()
        tickets = read_tickets(t_path)
        t2 = time.perf_counter()
        cal = calibrate(customers=customers, tickets=tickets)
        t3 = time.perf_counter()
        write_scenario(cal, folder / "calibrated.toml")
        t4 = time.perf_counter()
    print(f"read customers  {t1 - t0:6.2f} s")
    print(f"read tickets    {t2 - t1:6.2f} s")
    print(f"estimate        {t3 - t2:6.2f} s")
    print(f"validate+write  {t4 - t3:6.2f} s")
    print(f"total           {t4 - t0:6.2f} s  (target: under 60 s)")
    return 0 if t4 - t0 < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
