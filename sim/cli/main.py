"""The ``supportsim`` command line: a thin caller of the scenario, experiment and results modules.

Exit codes: 0 success, 1 could not write output (e.g. disk full, no permission), 2 invalid
input (message names field, value and allowed range; also a workload above the guardrail),
130 interrupted by Ctrl-C or SIGTERM (no partial output is left behind).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sim import __version__
from sim.params.scenario import ScenarioError, load, resolve_policies

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130


def _positive_int(text: str) -> int:
    try:
        value = int(float(text))  # accepts 2e9
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"expected a positive number (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number (got {text!r})")
    return value


def _scenario_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", type=Path, help="scenario file (TOML), e.g. scenarios/baseline.toml")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
        help="override a parameter, e.g. --set support.agents=8 (repeatable; validated like the file)",
    )


def _load(args: argparse.Namespace, extra: list[str] | None = None):  # noqa: ANN202
    return load(args.scenario, list(args.overrides) + (extra or []))


def cmd_validate(args: argparse.Namespace) -> int:
    scenario = _load(args)
    policies = resolve_policies(scenario)
    print(f"{args.scenario}: valid - scenario '{scenario.scenario.name}', "
          f"{len(policies)} policies ({', '.join(p.name for p in policies)}), "
          f"{scenario.run.months} months, {scenario.run.replications} replications")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from sim.params.schema import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0


def run_overrides(args: argparse.Namespace) -> list[str]:
    """``--seed`` and ``--replications`` as run.* overrides, so the resolved scenario records them."""
    extra = []
    if args.seed is not None:
        extra.append(f"run.seed={args.seed}")
    if args.replications is not None:
        extra.append(f"run.replications={args.replications}")
    return extra


def cmd_run(args: argparse.Namespace) -> int:
    from sim.cli.studies import precision_from_args
    from sim.runs.experiment import Interrupted, default_workers, run_to_dir

    extra = run_overrides(args)
    if args.out.exists() and not args.out.is_dir():
        raise ScenarioError([f"--out {args.out}: exists and is not a folder (it would be replaced)"], "--out")
    scenario = _load(args, extra)
    workers = args.workers or default_workers()
    progress = _progress_bar(args.quiet)
    try:  # streams each finished replication to disk; see sim.runs.experiment.run_to_dir
        res = run_to_dir(scenario, args.out, workers=workers, cluster=args.cluster, on_progress=progress,
                         max_work=args.max_work, plots=not args.no_plots, precision=precision_from_args(args),
                         keep_partial=args.keep_partial)
    except Interrupted as exc:  # --keep-partial: the finished replications were written, marked partial
        print(f"interrupted: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if res.precision is not None and not args.quiet:
        pr = res.precision
        print(f"precision: {pr['replications']} replications; target {'met' if pr['met'] else 'NOT met (cap reached)'}")
    args.written = args.out  # an interrupt from here on comes after complete results are in place
    if not args.quiet:
        _print_summary(res)
        print(f"wrote {args.out}/monthly.csv, kpis.csv, summary.json" + ("" if args.no_plots else ", plots/"))
    return 0


def _progress_bar(quiet: bool) -> Callable[[int, int], None] | None:
    if quiet:
        return None
    from tqdm import tqdm

    bar: dict[str, tqdm] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, unit="run", desc="simulating", file=sys.stderr)
        if bar["bar"].total != total:  # precision mode adds replications as it goes
            bar["bar"].total = total
            bar["bar"].refresh()
        bar["bar"].update(done - bar["bar"].n)
        if done == total:
            bar["bar"].close()

    return update


def _print_summary(res) -> None:  # noqa: ANN001
    from sim.runs.metrics import KPIS

    summary = res.summary()
    print(f"\nscenario '{res.scenario.scenario.name}' (sha256 {res.scenario_sha256[:12]}), "
          f"{res.replications} replications, seed {res.seed}; mean [95% CI]")
    for p in res.policies:
        print(f"  {p}")
        for k, label in KPIS.items():
            s = summary[p][k]
            print(f"    {label:<30} {s['mean']:>14,.2f}  [{s['ci_low']:,.2f}, {s['ci_high']:,.2f}]")


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
    _scenario_args(p)
    p.add_argument("--out", type=Path, required=True, help="output folder (replaced whole on success)")
    p.add_argument("--replications", type=int, help="replications per policy (default: the file's run.replications)")
    p.add_argument("--seed", type=int, help="master seed (default: the file's run.seed)")
    p.add_argument("--workers", type=int, default=0, help="processes (default: all cores; 1 = serial)")
    p.add_argument("--no-plots", action="store_true", help="skip the plots")
    p.add_argument("--max-work", type=_positive_int, default=None, metavar="CUSTOMER_MONTHS",
                   help="refuse runs above this many customer-months (default: $SUPPORTSIM_MAX_WORK or 2e9)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=cmd_run)
    from sim.cli import (
        studies as analysis_cli,  # --cluster, --precision, --keep-partial; and the experiment verbs below
    )

    analysis_cli.add_run_options(p)

    p = sub.add_parser("validate", help="check a scenario file and its policies",
                       description="Validate a scenario file (and --set overrides) against the schema.")
    _scenario_args(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON schema of scenario files",
                       description="Print the JSON schema of scenario files (types, ranges, units, sources).")
    p.set_defaults(func=cmd_schema)

    from sim.output import report  # `supportsim report`: its arguments and handler live with the report

    report.add_command(sub)

    from sim import calibrate  # `supportsim calibrate`: its arguments and handler live with the calibration

    calibrate.add_command(sub)

    analysis_cli.add_commands(sub)  # sweep, breakeven, sensitivity, staff
    from sim.cli import decide  # `supportsim decide`: decisions under uncertainty (sim.decision)
    decide.add_command(sub)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM takes the same clean-up path as Ctrl-C


def _on_sigterm_interrupt() -> Callable[[], None]:
    """Turn SIGTERM into KeyboardInterrupt while a command runs (so temporary output is removed);
    return a function that restores the previous handler."""
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread (main() called from a thread): leave signals alone
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    restore = _on_sigterm_interrupt()
    try:
        return int(args.func(args))
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        if getattr(args, "written", None):
            print(f"interrupted after the results were written to {args.written}", file=sys.stderr)
        else:
            print("interrupted: no results written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into a reader that stopped early (e.g. `| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # disk full, permission denied, ...: one line, not a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}; no results written", file=sys.stderr)
        return EXIT_FAILED
    finally:
        restore()
