"""Benchmark: `supportsim calibrate` on 1M customers + 5M tickets (target <= 60 s, <= 1 GB RSS on 2 cores).

    .venv/bin/python bench/bench_calibrate.py [--customers 1000000] [--tickets 5000000] [--keep DIR]
    .venv/bin/python bench/bench_calibrate.py --phases      # also time each phase in this process

Makes synthetic exports with numpy (customers with sBG-style churn over two years, tickets
spread over their paid spans, lognormal handle times, exponential waits, some abandoned, a
fifth with a satisfaction score), writes them as CSV (not timed), then runs the real command
in a fresh process, as a user would: ``python -m sim.cli calibrate --customers ... --tickets
... --out ... --quiet``. Prints its wall time, CPU time (user + system), peak RSS (the child's
``ru_maxrss``, interpreter and imports included) and the load average before and after, with
the ratios to the targets of issue 21 (the whole calibration: desk hours, the support -> churn
hazard fit and its mapping on a seeded sample of customers, ``--hazard-customers``). On a shared
machine the load average explains the noise: CPU time is the figure that does not depend on other
load (wall ~ CPU on an idle core).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.calibrate import calibrate, read_customers, read_tickets, write_scenario  # noqa: E402

MONTH_H = 730.0
START = np.datetime64("2023-01-01T00:00:00", "s")
TARGET_WALL_S = 60.0
TARGET_RSS_MB = 1024.0


def load_avg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} cores"


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


def run_command(c_path: Path, t_path: Path, out: Path) -> tuple[float, float, float, int]:
    """The real command in a fresh process: wall s, CPU s (user + system), peak RSS MB, exit code."""
    cmd = [sys.executable, "-m", "sim.cli", "calibrate", "--customers", str(c_path), "--tickets", str(t_path),
           "--out", str(out), "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode


def phases(c_path: Path, t_path: Path, out: Path) -> None:
    t0 = time.perf_counter()
    customers = read_customers(c_path)
    t1 = time.perf_counter()
    tickets = read_tickets(t_path)
    t2 = time.perf_counter()
    cal = calibrate(customers=customers, tickets=tickets)
    t3 = time.perf_counter()
    write_scenario(cal, out)
    t4 = time.perf_counter()
    print(f"  in-process phases: read customers {t1 - t0:.2f} s, read tickets {t2 - t1:.2f} s, "
          f"estimate + render {t3 - t2:.2f} s, validate + write {t4 - t3:.2f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Time `supportsim calibrate` on synthetic exports.")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--tickets", type=int, default=5_000_000)
    ap.add_argument("--keep", type=Path, help="write the files here and keep them (default: a temporary folder)")
    ap.add_argument("--phases", action="store_true", help="also time each phase in this process")
    ap.add_argument("--make-only", type=Path, metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.make_only:  # in a process of its own: see below
        make_exports(args.make_only, n_customers=args.customers, n_tickets=args.tickets)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        c_path, t_path = folder / "customers.csv", folder / "tickets.csv"
        t = time.perf_counter()
        if not (args.keep and c_path.exists() and t_path.exists()):
            # made in a child process: a child forked from a parent holding gigabytes of pandas text would report
            # the parent's pages in its peak RSS (ru_maxrss counts them until exec)
            subprocess.run([sys.executable, __file__, "--make-only", str(folder), "--customers", str(args.customers),
                            "--tickets", str(args.tickets)], check=True)
        print(f"exports: {args.customers:,} customers ({c_path.stat().st_size / 1e6:.0f} MB) and {args.tickets:,} "
              f"tickets ({t_path.stat().st_size / 1e6:.0f} MB), made in {time.perf_counter() - t:.1f} s (not timed)")
        before = load_avg()
        wall, cpu, rss, rc = run_command(c_path, t_path, folder / "calibrated.toml")
        after = load_avg()
        print(f"supportsim calibrate: exit {rc}, wall {wall:.2f} s, CPU {cpu:.2f} s, peak RSS {rss:.0f} MB")
        print(f"  vs targets: wall {wall / TARGET_WALL_S:.2f}x of {TARGET_WALL_S:g} s, "
              f"CPU {cpu / TARGET_WALL_S:.2f}x, RSS {rss / TARGET_RSS_MB:.2f}x of {TARGET_RSS_MB:g} MB")
        print(f"  {os.cpu_count()} cores; CPU / wall = {cpu / wall:.2f}")
        print(f"  {before} before, {after} after")
        if args.phases:
            phases(c_path, t_path, folder / "calibrated-phases.toml")
    return 0 if rc == 0 and wall <= TARGET_WALL_S and rss <= TARGET_RSS_MB else 1


if __name__ == "__main__":
    sys.exit(main())
