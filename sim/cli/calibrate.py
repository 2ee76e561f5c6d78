"""``supportsim calibrate``: its arguments, its handler and what it prints.

A thin caller of :mod:`sim.calibrate` (reading, estimating and writing live there); errors are
:class:`~sim.calibrate.CalibrationError`, printed by ``sim.cli.main`` with exit code 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibrate import (
    Calibration,
    CalibrationError,
    calibrate_files,
    cohort_report,
    parse_cohort,
    write_report,
    write_scenario,
)
from sim.calibrate import fits as sbg
from sim.calibrate.retention import PERIODS_SHOWN
from sim.calibrate.ingest import shown
from sim.calibrate.write import comment_text
from sim.params.scenario import ScenarioError
from sim.params.schema import LADDER


def add_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``supportsim calibrate`` on the CLI's sub-parsers."""
    p = subparsers.add_parser(
        "calibrate", help="estimate a scenario from your customers.csv and tickets.csv (or fit an sBG cohort)",
        description="Estimate a scenario from a company's own CSV exports, each estimate commented with its "
                    "uncertainty and rows; or, with --cohort, fit the shifted-beta-geometric retention model "
                    "to one cohort's survivor counts. See docs/calibration.md.")
    p.add_argument("--customers", type=Path, help="customers CSV: customer_id, signup_date, cancel_date, plan, "
                   "monthly_revenue_usd [, segment, vip, big_name, funding_usd]")
    p.add_argument("--tickets", type=Path, help="tickets CSV: ticket_id, customer_id, opened, first_response, "
                   "resolved [, channel, fee_usd, satisfaction]")
    p.add_argument("--out", type=Path, help="scenario file to write (replaced atomically)")
    p.add_argument("--as-of", help="ISO date the simulation starts from (default: the export date)")
    p.add_argument("--observed-from", help="ISO date the observation window starts (default: the first ticket)")
    p.add_argument("--export-date", help="ISO date of the export (default: the latest date in the files)")
    p.add_argument("--sla-h", type=float, help="first-response target in hours (default: the schema's)")
    p.add_argument("--name", default="calibrated", help="scenario name (default: calibrated)")
    p.add_argument("--report", type=Path, help="also write every estimate as JSON here")
    p.add_argument("--cohort", metavar="N0,N1,...", help="survivor counts of one cohort, e.g. 1000,631,468,382,326")
    p.add_argument("--horizon", type=int, default=PERIODS_SHOWN, help="periods to project with --cohort "
                   f"(default {PERIODS_SHOWN})")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_calibrate)
    return p


def cmd_calibrate(args: argparse.Namespace) -> int:
    if args.cohort is not None:
        if args.horizon < 1 or args.horizon > 1000:
            raise CalibrationError([f"--horizon: expected 1 to 1000 periods, got {args.horizon}"], "command line")
        f, table = cohort_report(parse_cohort(args.cohort), horizon=args.horizon)
        if not args.quiet:
            _print_cohort(f, table)
        return 0
    missing = [flag for flag, v in (("--customers", args.customers), ("--tickets", args.tickets),
                                    ("--out", args.out)) if v is None]
    if missing:
        raise CalibrationError([f"missing {', '.join(missing)}: calibrate needs --customers, --tickets and --out "
                                "(or --cohort N0,N1,...)"], "command line")
    _check_outputs(args)
    try:
        cal = calibrate_files(customers=args.customers, tickets=args.tickets, as_of=args.as_of,
                              observed_from=args.observed_from, export_date=args.export_date, sla_h=args.sla_h,
                              name=args.name)
    except (ScenarioError, OSError):  # messages of our own, and disk errors (main: one line, exit 1)
        raise
    except Exception as exc:  # noqa: BLE001
        # Not a message we wrote: still one line and exit 2, never a traceback (issue 16).
        raise CalibrationError([f"could not calibrate from these files ({type(exc).__name__}: {shown(str(exc))}); "
                                "please report it with the files"], str(args.customers)) from None
    write_scenario(cal, args.out)
    if args.report:
        write_report(cal, args.report)
    if not args.quiet:
        _print_calibration(cal, args.out)
    return 0


def _check_outputs(args: argparse.Namespace) -> None:
    """--out and --report must be files that are not folders and not one of the inputs."""
    inputs = {Path(args.customers).resolve(), Path(args.tickets).resolve()}
    for flag, path in (("--out", args.out), ("--report", args.report)):
        if path is None:
            continue
        if str(path) == "" or Path(path).is_dir():
            raise CalibrationError([f"{flag} {shown(str(path))}: is a folder; give a file name such as "
                                    f"{'results/ours.toml' if flag == '--out' else 'results/ours.json'}"], "command line")
        if Path(path).resolve() in inputs:
            raise CalibrationError([f"{flag} {shown(str(path))}: is one of the input files; it would be replaced"],
                                   "command line")


def _print_cohort(f: sbg.SBGFit, table: pd.DataFrame) -> None:
    print(f"shifted-beta-geometric fit to {f.customers:,} customers, {f.churned:,} lost "
          f"(log-likelihood {f.log_likelihood:.2f})")
    print(f"  alpha = {f.alpha:.4f}  (SE {f.alpha_se:.4f})")
    print(f"  beta  = {f.beta:.4f}  (SE {f.beta_se:.4f})")
    print(f"  mean churn alpha/(alpha+beta) = {f.mean_churn:.4f}" + ("  [at the edge of the search box]"
                                                                     if f.at_bound else ""))
    print(f"\n{'period':>6} {'observed':>10} {'obs %':>7} {'sBG %':>7} {'retention %':>12}")
    for r in table.itertuples():
        obs = f"{r.observed:>10,.0f} {r.observed_pct:>7.1f}" if pd.notna(r.observed) else f"{'':>10} {'':>7}"
        ret = "" if pd.isna(r.retention_pct) else f"{r.retention_pct:.1f}"
        tag = "  projected" if r.projected else ""
        print(f"{r.period:>6} {obs} {r.fitted_pct:>7.1f} {ret:>12}{tag}")


def _print_calibration(cal: Calibration, out: Path) -> None:
    w = cal.window
    print(f"calibrated from {cal.counts['customers']:,} customers and {cal.counts['tickets']:,} tickets; window "
          f"{w['observed_from']} to {w['export_date']} ({w['window_months']} months); start {w['as_of']} with "
          f"{cal.counts['active_as_of']:,} active customers")
    print(f"\n{'segment':<14} {'share':>7} {'price $':>9} {'tickets/mo':>11} {'issues/mo':>10} "
          f"{'churn/mo':>9} {'base churn':>11}")
    for s in cal.segments:
        print(f"{comment_text(s.name)[:14]:<14} {s.share.value:>7.3f} {s.price.value:>9.2f} {s.ticket_rate.value:>11.3f} "
              f"{s.issue_rate.value:>10.3f} {s.churn_monthly.value:>9.4f} {s.base_churn.value:>11.4f}")
    if cal.sbg_all is not None:
        f = cal.sbg_all
        print(f"\nretention: {f.summary()}")
        t = np.array([1, 3, 6, 12, 24])
        print("  projected survival " + ", ".join(f"m{a} {b:.1%}" for a, b in zip(t, f.survival(t))))
    if cal.retention_rate_pct is not None:
        print(f"  monthly retention rate ((C-B)/A): {cal.retention_rate_pct.value:.2f}%")
    if len(cal.cohorts):
        shown = [f"m{p}" for p in range(1, 7)]
        print("  cohorts by signup month, % still there after 1..6 periods:")
        for r in cal.cohorts.tail(12).itertuples(index=False):
            row = r._asdict()
            cells = " ".join(f"{row[k]:>5.1f}" if pd.notna(row[k]) else f"{'':>5}" for k in shown)
            print(f"    {row['cohort']} {row['customers']:>6,} {cells}")
    if cal.handle is not None:
        h = cal.handle
        print(f"\nhandle time: {h.chosen} (KS D exponential {h.exp_ks:.3f}, lognormal {h.lognormal_ks:.3f}), "
              f"mean {h.mean_h:.3f} h (SE {h.mean_se:.2g})" + (f", cv {h.cv:.2f}" if h.chosen == "lognormal" else ""))
    if cal.waits is not None:
        wt = cal.waits
        print(f"waits: mean {wt.mean_h:.3f} h, p90 {wt.p90_h:.3f} h, {wt.within_sla:.1%} within {wt.sla_h:g} h; "
              f"{wt.abandoned:,} abandoned" + (f"; patience {cal.patience.value:.3g} h (SE {cal.patience.se:.2g})"
                                               if cal.patience else ""))
    if cal.agents is not None:
        print(f"staffing: about {cal.agents} agents (Erlang C, average month)")
    if cal.ladder is not None:
        print("ladder shares: " + ", ".join(f"{a} {b:.2f}" for a, b in zip(LADDER, cal.ladder_shares)))
    for note in cal.notes:
        print(f"note: {comment_text(note)}")  # names from the files: no control characters reach the terminal
    print(f"\nwrote {out}")

