"""``supportsim calibrate``: its arguments, its handler and what it prints.

A thin caller of :mod:`sim.calibrate` (reading, estimating and writing live there); errors are
:class:`~sim.calibrate.CalibrationError`, printed by ``sim.cli.main`` with exit code 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from sim.base.atomic import json_safe
from sim.calibrate import (
    Calibration,
    CalibrationError,
    calibrate,
    cohort_report,
    parse_cohort,
    presets,
    read_customers,
    read_tickets,
    write_report,
    write_scenario,
)
from sim.calibrate import fits as sbg
from sim.calibrate.backtest import Backtest, backtest
from sim.calibrate.ingest import CUSTOMER_COLUMNS, TICKET_COLUMNS, shown
from sim.calibrate.presets import Preset
from sim.calibrate.supportfit import SupportFit
from sim.calibrate.writesupport import PROFILE_CHI2_99
from sim.output.calibration_plots import plot_backtest
from sim.output.files import atomic_dir
from sim.output.fmt import terminal
from sim.output.plots import save_figure
from sim.params.scenario import ScenarioError
from sim.params.schema import LADDER


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
    if not 1 <= args.backtest_replications <= 1000:
        raise CalibrationError([f"--backtest-replications: expected 1 to 1000, got {args.backtest_replications}"],
                               "command line")
    if args.hazard_customers < 100:
        raise CalibrationError([f"--hazard-customers: expected at least 100, got {args.hazard_customers}"],
                               "command line")
    bt = None
    c_preset, t_preset = _presets(args)
    try:
        customers, tickets = read_customers(args.customers, c_preset), read_tickets(args.tickets, t_preset)
        options = {"sla_h": args.sla_h, "max_hazard_customers": args.hazard_customers}
        cal = calibrate(customers=customers, tickets=tickets, as_of=args.as_of, observed_from=args.observed_from,
                        export_date=args.export_date, name=args.name, **options)
        if args.backtest is not None:
            bt = backtest(customers, tickets, split=args.backtest_split, replications=args.backtest_replications,
                          **options)
    except (ScenarioError, OSError):  # messages of our own, and disk errors (main: one line, exit 1)
        raise
    except Exception as exc:  # noqa: BLE001
        # Not a message we wrote: still one line and exit 2, never a traceback (issue 16).
        raise CalibrationError([f"could not calibrate from these files ({type(exc).__name__}: {shown(str(exc))}); "
                                "please report it with the files"], str(args.customers)) from None
    write_scenario(cal, args.out)
    if args.report:
        write_report(cal, args.report)
    if bt is not None:
        write_backtest(bt, args.backtest)
    if not args.quiet:
        _print_calibration(cal, args.out)
        if bt is not None:
            _print_backtest(bt, args.backtest)
    return 0


def _presets(args: argparse.Namespace) -> tuple[Preset | None, Preset | None]:
    """(customers preset, tickets preset) from --preset, --customers-preset, --tickets-preset and --mapping."""
    chosen: dict[str, Preset] = {}
    for kind, name in [("customers", args.customers_preset), ("tickets", args.tickets_preset)] + [
            (presets.PRESETS[n.strip().lower()].kind if n.strip().lower() in presets.PRESETS else "tickets", n)
            for n in args.preset]:
        if name is None:
            continue
        if name.strip().lower() not in presets.PRESETS:
            raise CalibrationError([f"preset {shown(name)}: expected one of {', '.join(presets.PRESETS)}"],
                                   "command line")
        p = presets.get(name, kind)
        if kind in chosen and chosen[kind].name != p.name:
            raise CalibrationError([f"two {kind} presets: {chosen[kind].name} and {p.name}"], "command line")
        chosen[kind] = p
    if args.mapping is not None:
        for kind, spec in (("customers", CUSTOMER_COLUMNS), ("tickets", TICKET_COLUMNS)):
            mapped = presets.from_mapping(args.mapping, kind, spec)
            if mapped is not None:
                if kind in chosen:
                    raise CalibrationError([f"--mapping names {kind} columns and the {chosen[kind].label} is "
                                            "given too: use one"], "command line")
                chosen[kind] = mapped
    return chosen.get("customers"), chosen.get("tickets")


def write_backtest(bt: Backtest, folder: Path) -> Path:
    """The back-test's tables, figure, first-part scenario and summary, replacing ``folder`` whole."""
    with atomic_dir(folder, force=True) as tmp:
        bt.monthly.to_csv(tmp / "backtest_months.csv", index=False, lineterminator="\n")
        bt.waits.to_csv(tmp / "backtest_waits.csv", index=False, lineterminator="\n")
        bt.runs.to_csv(tmp / "backtest_runs.csv", index=False, lineterminator="\n")
        (tmp / "fit.toml").write_text(bt.calibration.text, encoding="utf-8")
        (tmp / "summary.json").write_text(json.dumps(json_safe(bt.summary()), indent=2) + "\n", encoding="utf-8")
        ax = plot_backtest(bt.monthly, bt.waits, split=bt.split)
        save_figure(ax.figure, tmp / "backtest", formats=("png",))
    return folder


def _print_backtest(bt: Backtest, folder: Path) -> None:
    print(f"\nback-test: fitted before {bt.split}, {bt.months} held-out months, {bt.replications} replications")
    print(f"{'month':>5} {'retention %':>12} {'simulated 95%':>17} {'tickets':>8} {'simulated 95%':>15} "
          f"{'SLA %':>6} {'simulated 95%':>15}")
    m = bt.monthly.set_index(["metric", "month"])
    for k in range(bt.months):
        cells = []
        for metric, w, digits in (("retention_pct", 12, 2), ("tickets", 8, 0), ("sla_met_pct", 6, 1)):
            r = m.loc[(metric, k)]
            band = f"{r.sim_low:.{digits}f} to {r.sim_high:.{digits}f}" + (" " if r.inside else "*")
            cells.append(f"{r.observed:>{w}.{digits}f} {band:>{15 if metric != 'retention_pct' else 17}}")
        print(f"{k:>5} " + " ".join(cells))
    print("  coverage: " + ", ".join(f"{k} {v:.0%}" for k, v in bt.summary()["coverage"].items())
          + " (* outside the band)")
    print(f"wrote {folder}/ (backtest.png, backtest_months.csv, backtest_waits.csv, fit.toml)")


def _print_support(s: SupportFit) -> None:
    if s.hours is not None:
        p = s.profile
        profile = "" if p is None else ("; arrivals flat over the week" if 2 * p.loglik_gain < PROFILE_CHI2_99 else
                                         f"; arrivals: working day {p.day_start:02d}-{p.day_end:02d}, off-hours "
                                         f"x{p.offhours:.2f}, weekend x{p.weekend:.2f}, Monday x{p.monday:.2f}")
        print(f"desk: {s.hours.label()} ({s.hours.off_schedule_share:.1%} of first responses outside){profile}")
        if not s.hours.always:
            print(f"  SLA clock {s.clock} (within the promise: business {s.attainment['business']:.1%}, calendar "
                  f"{s.attainment['calendar']:.1%}); patience clock {s.patience_clock}")
    if s.reduced is None or s.mechanics is None:
        return
    rf, m = s.reduced, s.mechanics
    print(f"\nsupport -> churn: cloglog hazard over {rf.cells:,} customer-months of {s.customers_used:,} customers, "
          f"{rf.churned:,} cancellations; hazard ratio (95% CI) per month with")
    for r in rf.table():
        if not r["covariate"].startswith("segment"):
            print(f"  {r['covariate']:<20} {r['hazard_ratio']:>6.2f}  ({r['hr_low']:.2f} to {r['hr_high']:.2f})")
    print(f"mapped onto the model (J = {m.j_stat:.2f} on {m.j_df} df" + (f", p = {m.j_pvalue:.2f})" if m.j_df else ")"))
    for name in m.estimated():
        _, lo, hi = m.interval(name)
        print(f"  {name:<22} {m.estimate(name):>8.4g}  ({lo:.4g} to {hi:.4g})")


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
        print(f"{terminal(s.name)[:14]:<14} {s.share.value:>7.3f} {s.price.value:>9.2f} {s.ticket_rate.value:>11.3f} "
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
        print(f"staffing: {cal.agents} agent{'s' if cal.agents != 1 else ''} (the Erlang C mean wait closest to the "
              "observed one)")
    if cal.ladder is not None:
        print("ladder shares: " + ", ".join(f"{a} {b:.2f}" for a, b in zip(LADDER, cal.ladder_shares)))
    if cal.support is not None:
        _print_support(cal.support)
    for note in cal.notes:
        print(f"note: {terminal(note)}")  # names from the files: no control characters reach the terminal
    print(f"\nwrote {terminal(out)}")

