"""What every verb shares when it runs: the scenario loaded, the run options, one progress bar.

Where it sits: **cli** only (argparse and printing live here and nowhere below). The arguments
themselves are declared in :mod:`sim.cli.parser`, which loads none of this.
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
from sim.output import findings
from sim.output.decision_files import check_same_scenario, read_decision
from sim.output.fmt import terminal
from sim.output.runfolder import check_same_run, read_run
from sim.params.labels import replaced_notes
from sim.params.scenario import ScenarioError, load
from sim.params.schema import Scenario
from sim.runs.executors import check_cluster_address
from sim.runs.experiment import run_scenario
from sim.runs.options import RunOptions


class PartialKept(KeyboardInterrupt):
    """A verb interrupted after it wrote the runs that had finished (``--keep-partial``); the
    message says what was kept where. ``sim.cli.main`` prints it and exits 130."""


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
    scenario = load(args.scenario, list(args.overrides) + extra)
    if not getattr(args, "quiet", False):
        for note in replaced_notes(scenario, terminal):
            print(f"note: {note}", file=sys.stderr)
    return scenario


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
    arguments of ``write``), run every policy (or, with ``--from DIR``, read a run's folder),
    ``write(res, args.out, command=..., decision=..., **checked)`` (the command with the verb's
    ``options``) and say where."""
    scenario = load_scenario(args, record_replications=getattr(args, "from_dir", None) is None)
    decision = load_decision(args, scenario)
    extra = check(scenario) if check is not None else {}
    if getattr(args, "from_dir", None) is not None:  # a run's folder: its results, not simulated again
        res = check_same_run(read_run(args.from_dir), scenario, folder=args.from_dir)
        if args.replications is not None and args.replications != res.replications:
            raise ScenarioError([f"--replications {args.replications}: the run in {args.from_dir} has "
                                 f"{res.replications}; drop --replications with --from"], "--replications")
        args.replications = res.replications  # the command that reproduces the numbers runs as many
    else:
        res = run_scenario(scenario, options=run_options(args, verb), plots=True)  # the report and deck draw figures
    path = write(res, args.out, command=reproduce_command(verb, args, "decision", *options), decision=decision,
                 **extra)
    if not args.quiet:
        if decision is not None:  # the one recommendation the report or deck states
            sys.stdout.write(f"recommendation: {terminal(findings.answer(res, decision).sentence)}\n")
        sys.stdout.write(f"wrote {terminal(path)}\n")
    return 0
