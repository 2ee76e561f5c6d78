"""What every verb shares: the scenario arguments, the run options, one progress bar.

Where it sits: **cli** only (argparse and printing live here and nowhere below).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sim.base.atomic import PAUSE_ENV, pause_point
from sim.decision.psa import DecisionResult
from sim.output.decision_files import check_same_scenario, read_decision
from sim.output.fmt import terminal
from sim.params.scenario import ScenarioError, load
from sim.params.schema import Scenario
from sim.runs.executors import check_cluster_address
from sim.runs.experiment import run_scenario
from sim.runs.options import RunOptions

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130


class PartialKept(KeyboardInterrupt):
    """A verb interrupted after it wrote the runs that had finished (``--keep-partial``); the
    message says what was kept where. ``sim.cli.main`` prints it and exits 130."""


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


def run_options(args: argparse.Namespace, desc: str = "simulating") -> RunOptions:
    """The :class:`RunOptions` asked for on the command line (the cluster address checked first)."""
    cluster = getattr(args, "cluster", None)
    if cluster:
        check_cluster_address(cluster)
    return RunOptions(replications=getattr(args, "replications", None), seed=args.seed, workers=args.workers,
                      cluster=cluster, max_work=args.max_work, on_progress=progress_bar(args.quiet, desc))


def load_scenario(args: argparse.Namespace, *, record_replications: bool = True) -> Scenario:
    """The scenario of ``args`` with its ``--set`` overrides; ``--seed`` (and, unless a study
    runs its own count per point, ``--replications``) are recorded as ``run.*`` overrides so
    the resolved scenario and its hash carry them."""
    reps = getattr(args, "replications", None) if record_replications else None
    extra = RunOptions(replications=reps, seed=getattr(args, "seed", None)).overrides()
    return load(args.scenario, list(args.overrides) + extra)


def progress_bar(quiet: bool, desc: str) -> Callable[[int, int], None] | None:
    """A tqdm bar on stderr with rate and ETA; its total follows the caller (precision mode grows it).
    It is also where a test pauses a verb while it simulates (``sim.base.atomic.pause_point``)."""
    if quiet:
        return _simulating if os.environ.get(PAUSE_ENV) else None
    from tqdm import tqdm

    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        _simulating(done, total)
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, unit="run", desc=desc, file=sys.stderr, dynamic_ncols=True)
        if bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)
        if done >= total and total:
            bar.close()
            state.pop("bar")

    return update


def _simulating(done: int, total: int) -> None:
    if 0 < done < total:  # a run has finished and more are due
        pause_point("simulating")


def reproduce_command(verb: str, args: argparse.Namespace, *options: str) -> str:
    """The command line that reproduces a verb's output: ``supportsim VERB FILE``, then ``--out``,
    ``--replications``, ``--seed`` and the verb's own ``options`` (argparse destinations) when
    set (a flag when true), then every ``--set``; shell-quoted."""
    parts = ["supportsim", verb, str(args.scenario)]
    for name in ("out", "replications", "seed", *options):
        value = getattr(args, name, None)
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        parts += [flag] if value is True else [flag, str(value)]
    for o in args.overrides:
        parts += ["--set", o]
    return " ".join(shlex.quote(p) for p in parts)


def decision_arg(p: argparse.ArgumentParser) -> None:
    """``--decision DIR``: show a decision under uncertainty (``supportsim decide --out DIR``) too."""
    p.add_argument(
        "--decision", type=Path, metavar="DIR",
        help="also show the decision under uncertainty that `supportsim decide --out DIR` wrote (probability each "
             "policy is best, EVPPI, decision map). It must have been made on the same scenario: the same file, "
             "--set and --seed options (--replications may differ); otherwise exit 2")


def load_decision(args: argparse.Namespace, scenario: Scenario) -> DecisionResult | None:
    """The decision of ``--decision DIR`` (None without it), checked to belong to ``scenario``
    (:class:`ScenarioError`, exit 2, naming both otherwise). Read before anything runs."""
    if getattr(args, "decision", None) is None:
        return None
    decision = read_decision(args.decision)
    check_same_scenario(decision, scenario, folder=args.decision)
    return decision


def printable(df: Any) -> Any:
    """A table to print: every cell that is not a number shown as :func:`sim.output.fmt.terminal`
    shows text (a policy label or a text value cannot send escapes to the terminal)."""
    text = [c for c in df.columns if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]))]
    return df.assign(**{c: df[c].map(terminal) for c in text}) if text else df


def policies_arg(text: str | None) -> list[str] | None:
    """``--policies a,b,c`` as a list (None when not given)."""
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise ScenarioError([f"--policies {text!r}: expected names separated by commas, e.g. flat,per_ticket"],
                            "--policies")
    return names


def run_and_write(args: argparse.Namespace, verb: str, write: Callable[..., Path], *,
                  check: Callable[[Scenario], dict[str, Any]] | None = None, options: tuple[str, ...] = ()) -> int:
    """The body of ``report`` and ``deck``: load the scenario and the ``--decision`` (a bad one
    fails before anything runs), ``check(scenario)`` (the verb's own inputs, as keyword
    arguments of ``write``), run every policy, ``write(res, args.out, command=...,
    decision=..., **checked)`` (the command with the verb's ``options``) and say where."""
    scenario = load_scenario(args)
    decision = load_decision(args, scenario)
    extra = check(scenario) if check is not None else {}
    res = run_scenario(scenario, **run_options(args, verb).kwargs(), plots=True)  # the report and deck draw figures
    path = write(res, args.out, command=reproduce_command(verb, args, "decision", *options), decision=decision,
                 **extra)
    if not args.quiet:
        sys.stdout.write(f"wrote {terminal(path)}\n")
    return 0
