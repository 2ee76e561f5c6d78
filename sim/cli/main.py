"""The ``supportsim`` command line: a thin caller of the params, runs and output layers.

Exit codes: 0 success, 1 could not write output (e.g. disk full, no permission), 2 invalid
input (message names field, value and allowed range; also a workload above the guardrail),
130 interrupted by Ctrl-C or SIGTERM (no partial output is left behind). Every verb is
interrupted the same way (:class:`_Interrupts`, :func:`main`): one message, exit 130, wherever
the signal lands.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim import __version__
from sim.cli import calibrate as calibrate_cli
from sim.cli import decide as decide_cli
from sim.cli import deck as deck_cli
from sim.cli import optimise as optimise_cli
from sim.cli import report as report_cli
from sim.cli import studies as studies_cli
from sim.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    PartialKept,
    force_arg,
    load_scenario,
    run_option_args,
    run_options,
    scenario_args,
)
from sim.output import findings, fmt
from sim.output.files import SIGNALS, Interrupted, output_target, outputs_written, run_to_dir, set_signal_handlers
from sim.output.fmt import terminal
from sim.params.scenario import ScenarioError, policy_labels, resolve_policies
from sim.params.schema import Scenario
from sim.runs.executors import WorkersLost
from sim.runs.metrics import KPIS


def cmd_validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args)
    policies = resolve_policies(scenario)
    print(f"{terminal(args.scenario)}: valid - scenario '{terminal(scenario.scenario.name)}', "
          f"{len(policies)} policies ({', '.join(terminal(p.name) for p in policies)}), "
          f"{scenario.run.months} months, {scenario.run.replications} replications")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    output_target(args.out, force=args.force)  # before anything runs
    scenario = load_scenario(args)
    options = run_options(args)
    # streams each finished replication to disk (see sim.output.files.run_to_dir); on Ctrl-C with
    # --keep-partial the finished ones are written, marked partial, and Interrupted reaches main
    res = run_to_dir(scenario, args.out, **options.kwargs(), plots=not args.no_plots,
                     precision=studies_cli.precision_from_args(args), keep_partial=args.keep_partial, force=args.force)
    if res.precision is not None and not args.quiet:
        pr = res.precision
        print(f"precision: {pr['replications']} replications; target {'met' if pr['met'] else 'NOT met (cap reached)'}")
    if not args.quiet:
        _print_summary(res)
        _print_verdict(res)
        print(f"wrote {terminal(args.out)}/monthly.csv, kpis.csv, summary.json" + ("" if args.no_plots else ", plots/"))
    return 0


def _print_summary(res) -> None:  # noqa: ANN001
    summary = res.summary()
    print(f"\nscenario '{terminal(res.scenario.scenario.name)}' (sha256 {res.scenario_sha256[:12]}), "
          f"{res.replications} replications, seed {res.seed}; mean [95% CI]")
    for p in res.policies:
        print(f"  {terminal(p)}")
        for k, kpi in KPIS.items():
            s = summary[p][k]
            print(f"    {kpi.title:<30} {s['mean']:>14,.2f}  [{s['ci_low']:,.2f}, {s['ci_high']:,.2f}]")


VERDICT_KPIS = ("value_usd", "cumulative_profit")  # the paired differences a run ends with


def _print_verdict(res) -> None:  # noqa: ANN001
    """The verdict (the best policy on value and how clear its lead is) and every policy's paired
    difference from the reference in value and profit: what the numbers above come to."""
    if len(res.policies) < 2:
        return
    rec = findings.recommend(res)
    print(f"\nverdict: {terminal(rec.sentence)}")
    for line in (rec.clarity, rec.trade_off):
        if line and line != rec.sentence:
            print(f"  {terminal(line)}")
    labels = policy_labels(res.scenario)
    diffs = res.differences()
    print(f"\npaired differences vs the reference, {terminal(labels[res.reference])} "
          f"({res.replications} replications; mean (95% CI of the mean))")
    for p in res.policies:
        if p == res.reference:
            continue
        print(f"  {terminal(labels[p])}")
        for k in VERDICT_KPIS:
            s = diffs[p][k]
            print(f"    {KPIS[k].title:<30} {fmt.kpi(k, s['mean'], signed=True):>10}  "
                  f"({fmt.interval(k, s, signed=True)})")


def build_parser() -> argparse.ArgumentParser:
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
    run_option_args(p)
    studies_cli.add_precision_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a scenario file and its policies",
                       description="Validate a scenario file (and --set overrides) against the schema.")
    scenario_args(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON schema of scenario files",
                       description="Print the JSON schema of scenario files (types, ranges, units, sources).")
    p.set_defaults(func=cmd_schema)

    report_cli.add_command(sub)
    deck_cli.add_command(sub)
    calibrate_cli.add_command(sub)
    studies_cli.add_commands(sub)  # sweep, breakeven, sensitivity, staff
    decide_cli.add_command(sub)  # decisions under uncertainty (sim.decision)
    optimise_cli.add_command(sub)  # the best design of one policy (sim.runs.optimise)
    return parser


class _Interrupts:
    """SIGINT and SIGTERM while a command runs: one way out, exit 130 and one message.

    The first signal raises KeyboardInterrupt wherever the main thread is, so the verb's clean-up
    runs on the way out (temporary output removed, worker processes stopped). Every later one,
    and any after the command has its outcome, is only counted: a second Ctrl-C cannot cut the
    clean-up short or escape as a traceback (or kill the process by the signal, exit -2), and
    :func:`main` still reports the interrupt. Blocks that must not be cut in half (a swap of
    folders) hold signals themselves (``sim.output.files``) and send them on afterwards.

    SIGTERM is always handled, SIGINT unless it was ignored when the command started: a shell
    starts background jobs with Ctrl-C ignored on purpose (Ctrl-C at the terminal is not for
    them), as Python itself respects.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.raising = True
        self.previous: dict[int, Any] = {}

    def __call__(self, signum: int, frame: object) -> None:
        self.received.append(signum)
        if self.raising and len(self.received) == 1:
            raise KeyboardInterrupt

    def install(self) -> None:
        """Handle the signals (a no-op outside the main thread: signals are left alone there)."""
        if threading.current_thread() is not threading.main_thread():
            return
        wanted = {s: self for s in SIGNALS if not (s == signal.SIGINT and signal.getsignal(s) == signal.SIG_IGN)}
        self.previous, raised = set_signal_handlers(wanted)
        if raised is not None:  # a signal that came before: the command is interrupted before it starts
            raise raised

    def uninstall(self) -> None:
        """Put back the handlers there were before :meth:`install`."""
        if self.previous:
            set_signal_handlers(self.previous)
            self.previous = {}


def _interrupted_message(stop: BaseException | None, written: list[Path]) -> str:
    """The one line an interrupted verb prints (paths and messages shown as text: no control characters)."""
    if isinstance(stop, (Interrupted, PartialKept)) and str(stop):  # --keep-partial: what was kept, and where
        return f"interrupted: {terminal(stop)}"
    if written:
        return f"interrupted after the results were written to {' and '.join(terminal(p) for p in written)}"
    return "interrupted: no results written"


def _memory_advice(verb: str) -> str:
    """What holds memory in ``verb``, so an out-of-memory message names the real cause."""
    runs = "customers (and the growth that compounds them) or months per run, or --workers (each holds a run)"
    if verb == "decide":
        return ("the decision analysis holds every sample's results: reduce --samples, --sobol-samples or --replications, "
                f"or the {runs}")
    if verb in ("sweep", "breakeven", "sensitivity", "staff"):
        return f"a study holds every point's results: use fewer points, policies or replications, or reduce the {runs}"
    return f"reduce the {runs}; the results of every replication are kept, so fewer replications help too"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code. Called without ``argv`` (the ``supportsim`` program),
    signals stay handled, only counted, until the process has exited."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "quiet_needs_out", False) and args.quiet and args.out is None:
        print(f"error: supportsim {args.command}: --quiet without --out would print nothing and write nothing; "
              "give --out DIR (or drop --quiet)", file=sys.stderr)
        return EXIT_INVALID
    interrupts = _Interrupts()
    before = len(outputs_written())
    stop: KeyboardInterrupt | None = None
    code = EXIT_INTERRUPTED
    try:
        try:
            interrupts.install()
            code = _run(args)
        finally:
            interrupts.raising = False  # from here on a signal is only counted
    except KeyboardInterrupt as exc:  # the one way out of an interrupted verb
        stop = exc
    if stop is not None or interrupts.received:
        print(_interrupted_message(stop, outputs_written()[before:]), file=sys.stderr)
        code = EXIT_INTERRUPTED
    if argv is not None:  # called in-process: the caller's handlers come back
        interrupts.uninstall()
    return code


def _run(args: argparse.Namespace) -> int:
    """The command's exit code; an error is one line on stderr, never a traceback (KeyboardInterrupt
    goes to :func:`main`)."""
    try:
        return int(args.func(args))
    except ScenarioError as exc:
        print(f"error: {terminal(exc, keep_newlines=True)}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:  # output piped into a reader that stopped early (e.g. `| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # disk full, permission denied, ...: one line, not a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(terminal(f"error: {exc.strerror or exc}{where}; no results written"), file=sys.stderr)
        return EXIT_FAILED
    except MemoryError:
        print(f"error: out of memory; {_memory_advice(args.command)}; no results written", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - no traceback reaches a user: one line, exit 1
        line = str(exc).splitlines()[0] if str(exc) else "unexpected failure"
        print(terminal(f"error: {line}" if isinstance(exc, WorkersLost) else
                       f"error: {type(exc).__name__}: {line} (a bug: please report it with the command line)"),
              file=sys.stderr)
        return EXIT_FAILED
