"""The ``supportsim`` command line's arguments: every verb's parser, and nothing it runs.

Where it sits: **cli** only. This module imports argparse and a few plain-data modules (the KPI
registry, the calibration's catalogue), never numpy, pandas, SimPy, matplotlib or python-pptx:
``supportsim --help`` and ``supportsim VERB --help`` are answered from here alone. A verb's
``handler`` ("module:function") is imported only when the verb runs (:mod:`sim.cli.main`), as
pip imports its commands.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim import __version__
from sim.calibrate.catalogue import CUSTOMER_PRESETS, MAX_CUSTOMERS, PERIODS_SHOWN, TICKET_PRESETS
from sim.runs.kpis import DEFAULT_KPI, KPIS

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130

# optimise: the defaults its reproduce command leaves out, and the worlds of --robust
OPTION_DEFAULTS: dict[str, Any] = {"trials": 200, "replications": 4, "candidates": 5, "first_stage": 20,
                                   "max_fresh": 200, "batch": 8}
DEFAULT_WORLDS = 8


# ---------------------------------------------------------------------------- shared arguments


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``low`` ("2e9" accepted), with a message naming the rule."""

    def conv(text: str) -> int:
        try:
            value = float(text)
            if not value.is_integer():
                raise ValueError
            value = int(value)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low} (got {text!r})") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low} (got {text!r})")
        return value

    return conv


def scenario_args(p: argparse.ArgumentParser) -> None:
    """The positional scenario FILE and repeatable ``--set`` of every verb that reads a scenario."""
    p.add_argument("scenario", type=Path, help="scenario file (TOML), e.g. scenarios/baseline.toml")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
        help="override a parameter, e.g. --set support.agents=8 (repeatable; validated like the file)",
    )


def force_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty folder supportsim did not write (its other files are kept)")


def run_option_args(p: argparse.ArgumentParser, *, replications: bool = True, cluster: bool = True) -> None:
    """--replications, --seed, --workers, --cluster, --max-work and --quiet: the run options."""
    if replications:
        p.add_argument("--replications", type=int_at_least(1),
                       help="replications per policy (default: the file's run.replications)")
    p.add_argument("--seed", type=int_at_least(0), help="master seed (default: the file's run.seed)")
    p.add_argument("--workers", type=int_at_least(0), default=0,
                   help="local processes (default 0: all cores; 1 = serial in this process)")
    if cluster:
        p.add_argument("--cluster", metavar="tcp://HOST:PORT",
                       help="run on a Dask distributed scheduler instead of local processes (needs supportsim[dask] "
                            "on every worker); results are identical")
    p.add_argument("--max-work", type=int_at_least(1), default=None, metavar="CUSTOMER_MONTHS",
                   help="refuse runs above this many customer-months (default: $SUPPORTSIM_MAX_WORK or 2e9)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or printed summary")


def decision_arg(p: argparse.ArgumentParser) -> None:
    """``--decision DIR``: show a decision under uncertainty (``supportsim decide --out DIR``) too."""
    p.add_argument(
        "--decision", type=Path, metavar="DIR",
        help="also show the decision under uncertainty that `supportsim decide --out DIR` wrote (probability each "
             "policy is best, EVPPI, decision map). It must have been made on the same scenario: the same file, "
             "--set and --seed options (--replications may differ); otherwise exit 2")


def from_arg(p: argparse.ArgumentParser) -> None:
    """``--from DIR``: the results of ``supportsim run --out DIR`` instead of simulating again."""
    p.add_argument(
        "--from", dest="from_dir", type=Path, metavar="DIR",
        help="read the results `supportsim run --out DIR` wrote instead of simulating again (seconds, not "
             "minutes). The run must be of the same scenario: the same file, --set and --seed options; otherwise "
             "exit 2")


def add_precision_options(p: argparse.ArgumentParser) -> None:
    """Precision mode and partial results of ``supportsim run``."""
    p.add_argument("--precision", metavar="TARGET",
                   help="add replications until the 95%% CI half-width of --precision-kpi is at most TARGET: "
                        "relative ('2%%' of the mean) or absolute ('5000', in the KPI's unit); --replications is "
                        "then the first round")
    p.add_argument("--precision-kpi", default="value_usd", choices=list(KPIS), metavar="KPI",
                   help="KPI for --precision (default value_usd; one of: " + ", ".join(KPIS) + ")")
    p.add_argument("--precision-on", default="means", choices=["means", "differences"],
                   help="apply --precision to every policy's mean (default) or to every paired difference vs the "
                        "reference policy")
    p.add_argument("--max-replications", type=int_at_least(2), default=200,
                   help="cap on replications per policy in precision mode (default 200)")
    p.add_argument("--keep-partial", action="store_true",
                   help="on Ctrl-C, write the replications already finished to --out, marked partial in "
                        "summary.json (default: leave the previous output untouched)")


def out_arg(p: argparse.ArgumentParser, out_help: str) -> None:
    p.add_argument("--out", type=Path, help=out_help + " (replaced whole, atomically; default: print only)")
    force_arg(p)
    p.set_defaults(quiet_needs_out=True)  # --quiet alone would do nothing: an error (sim.cli.main)


# ---------------------------------------------------------------------------- the verbs


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: every verb with its arguments (nothing imported that a verb runs)."""
    parser = argparse.ArgumentParser(
        prog="supportsim",
        description="Simulate flat, tiered, metered and VIP support pricing and compare retention and profit.",
    )
    parser.add_argument("--version", action="version", version=f"supportsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run every policy of a scenario and write results",
                       description="Run every policy of a scenario; write monthly.csv, kpis.csv, "
                                   "summary.json and plots/ into --out (atomically).")
    scenario_args(p)
    p.add_argument("--out", type=Path, required=True, help="output folder (replaced whole on success)")
    force_arg(p)
    p.add_argument("--no-plots", action="store_true", help="skip the plots")
    p.add_argument("--pdf", action="store_true",
                   help="also save each figure as PDF (PNG and SVG always; PDF doubles the plotting time)")
    run_option_args(p)
    add_precision_options(p)
    p.set_defaults(handler="sim.cli.run:cmd_run")

    p = sub.add_parser("validate", help="check a scenario file and its policies",
                       description="Validate a scenario file (and --set overrides) against the schema.")
    scenario_args(p)
    p.set_defaults(handler="sim.cli.run:cmd_validate")

    p = sub.add_parser("schema", help="print the JSON schema of scenario files",
                       description="Print the JSON schema of scenario files (types, ranges, units, sources).")
    p.set_defaults(handler="sim.cli.run:cmd_schema")

    _report(sub)
    _deck(sub)
    _calibrate(sub)
    _studies(sub)  # sweep, breakeven, sensitivity, staff
    _decide(sub)  # decisions under uncertainty (sim.decision)
    _optimise(sub)  # the best design of one policy (sim.runs.optimise)
    return parser


def _report(subparsers: Any) -> None:
    """Register ``supportsim report`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "report", help="run a scenario and write a one-page HTML report",
        description="Run every policy of a scenario and write DIR/report.html: headline KPIs with 95% CIs, "
                    "the key plots (embedded) and the assumptions table; with --decision, also how sure the "
                    "recommendation is under the uncertain assumptions (an Uncertainty section). Written atomically.",
        epilog="example: supportsim decide scenarios/baseline.toml --samples 200 --out results/decide && "
               "supportsim report scenarios/baseline.toml --out results/report --decision results/decide")
    scenario_args(p)
    p.add_argument("--out", type=Path, required=True, help="output folder; report.html is written (replaced) there")
    run_option_args(p)
    decision_arg(p)
    from_arg(p)
    p.set_defaults(handler="sim.cli.report:cmd_report")


def _deck(subparsers: Any) -> None:
    """Register ``supportsim deck`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "deck", help="run a scenario and write a 16:9 PowerPoint deck",
        description="Run every policy of a scenario and write a 16:9 .pptx: the recommendation, the KPI table with "
                    "95% CIs, the value bridge of each policy against the reference, tickets raised vs suppressed, "
                    "the satisfaction ladder and the assumptions with sources; with --decision, also a \"How sure are "
                    "we?\" slide (probability each policy is best, EVPPI) and the decision map; with --optimum, \"The "
                    "best design\" slide (the design `supportsim optimise` chose, its KPI on fresh replications and "
                    "its guarantee). Speaker notes carry the command that reproduces the numbers. Written atomically.",
        epilog="example: supportsim decide scenarios/baseline.toml --samples 200 --out results/decide && "
               "supportsim deck scenarios/baseline.toml --out deck.pptx --decision results/decide")
    scenario_args(p)
    p.add_argument("--out", type=Path, required=True, help="the .pptx file to write (replaced)")
    run_option_args(p)
    decision_arg(p)
    from_arg(p)
    p.add_argument(
        "--optimum", type=Path, metavar="DIR",
        help="also show \"The best design\" slide from the folder `supportsim optimise --out DIR` wrote (optimum.json, "
             "trials.csv), checked on read. It must have been made on the same scenario: the same file, --set and "
             "--seed options; otherwise exit 2")
    p.set_defaults(handler="sim.cli.deck:cmd_deck")


def _calibrate(subparsers: Any) -> None:
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
    p.add_argument("--tickets-preset", metavar="TOOL", help=f"the tickets file is a helpdesk's export: {', '.join(TICKET_PRESETS)}")
    p.add_argument("--customers-preset", metavar="TOOL", help="the customers file is a billing tool's export: "
                   f"{', '.join(CUSTOMER_PRESETS)}")
    p.add_argument("--preset", metavar="TOOL", action="append", default=[], help="a helpdesk or billing preset "
                   "(either file, by the tool; may be given twice)")
    p.add_argument("--mapping", type=Path, metavar="FILE.toml", help="the headers of any other export: [tickets] and "
                   "[customers] tables of column = \"header as written\" (docs/calibration.md)")
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
    p.add_argument("--backtest", type=Path, metavar="DIR", help="also fit on the history before a split, simulate "
                   "the rest and write the comparison (tables, figure, the first part's scenario) to DIR")
    p.add_argument("--backtest-split", metavar="DATE", help="the split (ISO date, moved to the next Monday; default: "
                   "the first Monday after two thirds of the window)")
    p.add_argument("--backtest-replications", type=int, default=20, help="simulated replications (default 20)")
    p.add_argument("--hazard-customers", type=int, default=MAX_CUSTOMERS, help="customers in the support -> churn "
                   f"fit, a seeded sample above this (default {MAX_CUSTOMERS:,})")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    # --cohort --quiet alone would print nothing: an error (sim.cli.main)
    p.set_defaults(handler="sim.cli.calibrate:cmd_calibrate", quiet_needs_out=True)


def _studies(sub: Any) -> None:
    """Register sweep, breakeven, sensitivity and staff on the CLI's sub-parsers."""
    kpis = ", ".join(KPIS)

    p = sub.add_parser(
        "sweep", help="run every policy over a 1-D or 2-D grid of parameter values",
        description="Run every policy at each point of a grid over one or two parameters (common random numbers "
                    "across points and policies). Writes tidy.csv (one row per point x policy x replication), "
                    "summary.csv (mean and 95% CI per point, policy, KPI), differences.csv (paired vs the reference "
                    "policy) and sweep.json.",
        epilog="example: supportsim sweep scenarios/baseline.toml --param support.agents=4:16:2 "
               "--set support.staffing=fixed --out results/sweep")
    scenario_args(p)
    p.add_argument("--param", action="append", required=True, metavar="PATH=VALUES",
                   help="parameter and values: start:stop:step (stop included), start:stop, or a,b,c; "
                        "give --param twice for a 2-D grid")
    p.add_argument("--policies", metavar="A,B,...", help="only these policies (default: all)")
    p.add_argument("--kpi", default="value_usd", metavar="KPI", help=f"KPI to print (one of: {kpis})")
    p.add_argument("--keep-partial", action="store_true",
                   help="on Ctrl-C, write the runs already finished to --out, marked partial")
    run_option_args(p)
    out_arg(p, "output folder for tidy.csv, summary.csv, differences.csv, sweep.json")
    p.set_defaults(handler="sim.cli.studies:cmd_sweep")

    p = sub.add_parser(
        "breakeven", help="find the parameter value at which two policies tie on a KPI",
        description="Estimate the paired difference B - A of a KPI over a range of one parameter, bisect where it "
                    "changes sign, and report the break-even value with the range of values Monte Carlo noise "
                    "cannot tell from it. Writes curve.csv and breakeven.json.",
        epilog="example: supportsim breakeven scenarios/baseline.toml --param pricing.per_ticket_fee_usd "
               "--between 0 60 --kpi cumulative_profit --policies flat,per_ticket")
    scenario_args(p)
    p.add_argument("--param", required=True, metavar="PATH",
                   help="parameter path, e.g. pricing.per_ticket_fee_usd or policies.flat.pricing.price_multiplier")
    p.add_argument("--between", type=float, nargs=2, required=True, metavar=("A", "B"), help="range of values")
    p.add_argument("--kpi", default="value_usd", metavar="KPI", help=f"one of: {kpis}")
    p.add_argument("--policies", metavar="A,B",
                   help="the two policies; B - A is reported (default: the reference and the next policy)")
    p.add_argument("--points", type=int_at_least(2), default=5, help="evenly spaced values first (default 5)")
    p.add_argument("--refine", type=int_at_least(0), default=4,
                   help="bisection steps where the difference changes sign (default 4)")
    run_option_args(p)
    out_arg(p, "output folder for curve.csv and breakeven.json")
    p.set_defaults(handler="sim.cli.studies:cmd_breakeven")

    p = sub.add_parser(
        "sensitivity", help="tornado: which parameters move the difference between two policies most",
        description="One-at-a-time sensitivity: each parameter to base x (1 - delta) and base x (1 + delta) (or "
                    "--range), the paired difference B - A of a KPI at each end, ranked by swing. Default "
                    "parameters: the main behavioural ones (each a row of the tornado it prints).",
        epilog="example: supportsim sensitivity scenarios/baseline.toml --policies flat,per_ticket --delta 0.2")
    scenario_args(p)
    p.add_argument("--kpi", default="value_usd", metavar="KPI", help=f"one of: {kpis}")
    p.add_argument("--policies", metavar="A,B",
                   help="the two policies; B - A is reported (default: the reference and the next policy)")
    p.add_argument("--param", action="append", default=[], metavar="PATH",
                   help="vary this parameter (repeatable; default: the main behavioural parameters); "
                        "customers.segments.*.FIELD scales every segment")
    p.add_argument("--delta", type=float, default=0.2, help="relative move each way (default 0.2 = +-20%%)")
    p.add_argument("--range", action="append", default=[], metavar="PATH=LOW:HIGH",
                   help="explicit low and high values for a parameter (repeatable; adds it if not listed)")
    p.add_argument("--documented-ranges", action="store_true",
                   help="use documented ranges where they exist (acquisition.cac_multiple 6-7) instead of +-delta")
    run_option_args(p)
    out_arg(p, "output folder for tornado.csv and sensitivity.json")
    p.set_defaults(handler="sim.cli.studies:cmd_sensitivity")

    p = sub.add_parser(
        "staff", help="fewest agents meeting an SLA target, per policy",
        description="With fixed staffing, find per policy the fewest agents whose share of tickets answered within "
                    "their SLA reaches --sla (doubling then bisection, or the --agents given), and the monthly "
                    "support cost at that staffing: the cost of the tickets a policy invites. Writes staff.csv and "
                    "staff.json.",
        epilog="example: supportsim staff scenarios/baseline.toml --sla 0.8")
    scenario_args(p)
    p.add_argument("--sla", type=float, default=0.8, help="target share of tickets answered within SLA (default 0.8)")
    p.add_argument("--agents", metavar="COUNTS", help="evaluate exactly these counts: lo:hi[:step] or a,b,c "
                                                      "(default: search from 1 up to support.max_agents)")
    p.add_argument("--policies", metavar="A,B,...", help="only these policies (default: all)")
    p.add_argument("--strict", action="store_true", help="require the lower 95%% bound, not the mean, to reach --sla")
    run_option_args(p)
    out_arg(p, "output folder for staff.csv and staff.json")
    p.set_defaults(handler="sim.cli.studies:cmd_staff")


def _decide(sub: Any) -> None:
    """Register ``decide`` on the CLI's sub-parsers."""
    p = sub.add_parser(
        "decide", help="which policy is best under uncertainty, how sure, and what to research first",
        description="Probabilistic sensitivity analysis over the scenario's [uncertainty] table: draw --samples "
                    "parameter sets (Latin hypercube), run every policy on each with common random numbers, and "
                    "report per policy the probability of being best, the expected value and the expected loss, "
                    "the EVPI and the EVPPI of each uncertain parameter (USD). Writes decision.json, psa.csv and "
                    "plots/ into --out (atomically).",
        epilog="example: supportsim decide scenarios/baseline.toml --samples 200 --out results/decide; then show it "
               "in a report or deck of the same scenario: supportsim report scenarios/baseline.toml --out "
               "results/report --decision results/decide (or: supportsim deck ... --out deck.pptx --decision ...)")
    scenario_args(p)
    p.add_argument("--samples", type=int_at_least(2), default=200, help="parameter sets to draw (default 200)")
    p.add_argument("--replications", type=int_at_least(1), default=1,
                   help="runs of every policy on each parameter set (default 1)")
    p.add_argument("--out", type=Path, help="output folder (replaced whole, atomically; default: print only)")
    p.add_argument("--seed", type=int_at_least(0), help="master seed (default: the file's run.seed)")
    p.add_argument("--kpi", default=DEFAULT_KPI, choices=list(KPIS), metavar="KPI",
                   help=f"the value to decide on (default {DEFAULT_KPI}; one of: {', '.join(KPIS)})")
    p.add_argument("--design", default="lhs", choices=["lhs", "sobol"],
                   help="how parameter sets are drawn: Latin hypercube (default) or a scrambled Sobol sequence")
    p.add_argument("--sobol", action="store_true",
                   help="also compute Sobol first-order and total indices of the value gap between the two leading "
                        "policies (runs --sobol-samples x (parameters + 2) extra points for those two)")
    p.add_argument("--sobol-samples", type=int_at_least(2), default=32,
                   help="base samples of the Sobol (Saltelli) design (default 32; a power of two)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int_at_least(0), default=0,
                       help="local processes (default 0: all cores; 1 = serial in this process)")
    where.add_argument("--cluster", metavar="tcp://HOST:PORT",
                       help="run on a Dask distributed scheduler instead of local processes; results are identical")
    p.add_argument("--max-work", type=int_at_least(1), default=None, metavar="CUSTOMER_MONTHS",
                   help="refuse runs above this many customer-months (default: $SUPPORTSIM_MAX_WORK or 2e9)")
    p.add_argument("--no-plots", action="store_true", help="skip the plots")
    p.add_argument("--pdf", action="store_true",
                   help="also save each figure as PDF (PNG and SVG always; PDF doubles the plotting time)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or tables; only the three-line answer")
    p.set_defaults(handler="sim.cli.decide:cmd_decide")


def _optimise(sub: Any) -> None:
    """Register ``optimise`` on the CLI's sub-parsers."""
    kpis = ", ".join(KPIS)
    p = sub.add_parser(
        "optimise", help="the best design of one policy (fees, allowance, promise, hours) with a stated guarantee",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Search one policy's design for the highest expected KPI under constraints (seeded TPE, "
                    "Optuna; every trial on the same replications), then re-run the best designs and the file's "
                    "own on fresh replications and choose by Kim & Nelson's ranking-and-selection procedure: the "
                    "choice is within --delta of the best of those candidates with 95% probability, and its KPI "
                    "and 95% CI come from the fresh replications only. Writes optimum.json, trials.csv, "
                    "candidates.csv, optimum.toml (the scenario with policy NAME_optimised added) and plots/ into "
                    "--out, atomically.",
        epilog="""examples:
  supportsim optimise scenarios/baseline.toml --policy per_ticket \\
      --param pricing.per_ticket_fee_usd=0:60 --param pricing.included_tickets_per_month=0:5 \\
      --param support.sla_target_h=1:48:log --out results/opt
  supportsim optimise scenarios/baseline.toml --policy tiered --param customers.segments.0.tier_sla_h=2:48:log \\
      --param pricing.price_multiplier=0.8:1.5 --constraint avg_retention_rate_pct>=95 \\
      --constraint support_cost_share<=10% --out results/opt-tiered
  supportsim optimise scenarios/baseline.toml --policy flat --param pricing.price_multiplier=0.8:1.6 \\
      --param support.hours=24/7,weekly --kpi value_usd --kpi avg_retention_rate_pct --out results/pareto
  supportsim optimise scenarios/baseline.toml --policy flat --param pricing.price_multiplier=0.8:1.6 --robust

--param PATH=LO:HI searches a range (whole numbers for an integer parameter; :int forces them, :log
spaces a positive range by ratios), PATH=a,b,c a list of choices. PATH is any numeric or choice
parameter of the policy, e.g. pricing.per_ticket_fee_usd, customers.segments.0.tier_sla_h,
customers.segments.*.tier_priority (every segment alike), support.open_hour, vip.min_funding_usd.""")
    scenario_args(p)
    p.add_argument("--policy", required=True, metavar="NAME", help="the policy whose design is optimised")
    p.add_argument("--param", action="append", required=True, metavar="PATH=LO:HI[:int|:log] | PATH=a,b,c",
                   help="a parameter and its range or choices (repeatable)")
    p.add_argument("--kpi", action="append", metavar="KPI",
                   help=f"the KPI to maximise (or minimise, by its better direction; default value_usd); give two for a "
                        f"Pareto front (the first is the one selected on). One of: {kpis}")
    p.add_argument("--constraint", action="append", default=[], metavar="KPI>=X | KPI<=X",
                   help="a bound on a KPI's mean, e.g. avg_retention_rate_pct>=95, sla_met_share>=0.8, "
                        "support_cost_share<=10%% (repeatable)")
    p.add_argument("--trials", type=int_at_least(1), default=OPTION_DEFAULTS["trials"],
                   help="designs the search tries (default 200)")
    p.add_argument("--replications", type=int_at_least(1), default=OPTION_DEFAULTS["replications"],
                   help="replications per trial, the same numbers for every trial (default 4)")
    p.add_argument("--robust", action="store_true",
                   help="maximise the KPI's mean over --worlds parameter sets drawn from the scenario's [uncertainty] "
                        "table (each trial runs every world); the result says in how many worlds the chosen design "
                        "beats the file's own")
    p.add_argument("--worlds", type=int_at_least(2), default=DEFAULT_WORLDS,
                   help=f"parameter sets for --robust (default {DEFAULT_WORLDS}); multiplies every trial's runs")
    p.add_argument("--candidates", type=int_at_least(1), default=OPTION_DEFAULTS["candidates"],
                   help="best designs of the search re-run on fresh replications, with the file's own (default 5)")
    p.add_argument("--delta", type=float, metavar="X",
                   help="indifference zone in the KPI's unit: differences smaller than X do not matter (default: the "
                        "standard error of a trial's mean in the search)")
    p.add_argument("--first-stage", type=int_at_least(2), default=OPTION_DEFAULTS["first_stage"],
                   help="fresh replications of every candidate before any is screened out (default 20)")
    p.add_argument("--max-fresh", type=int_at_least(2), default=OPTION_DEFAULTS["max_fresh"],
                   help="most fresh replications of a candidate (default 200; reaching it voids the guarantee)")
    p.add_argument("--batch", type=int_at_least(1), default=OPTION_DEFAULTS["batch"],
                   help="trials proposed at a time (default 8; the result depends on it, not on --workers)")
    p.add_argument("--seed", type=int_at_least(0), help="master seed (default: the file's run.seed)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int_at_least(0), default=0,
                       help="local processes (default 0: all cores; 1 = serial in this process)")
    where.add_argument("--cluster", metavar="tcp://HOST:PORT",
                       help="run on a Dask distributed scheduler instead of local processes; results are identical")
    p.add_argument("--max-work", type=int_at_least(1), default=None, metavar="CUSTOMER_MONTHS",
                   help="refuse runs above this many customer-months (default: $SUPPORTSIM_MAX_WORK or 2e9)")
    p.add_argument("--out", type=Path, help="output folder (replaced whole, atomically; default: print only)")
    force_arg(p)
    p.add_argument("--no-plots", action="store_true", help="skip the figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar or table; only the answer")
    p.set_defaults(handler="sim.cli.optimise:cmd_optimise")
