"""Optimise one policy's design: the best fees, allowance, promise and hours, with a stated guarantee.

Where it sits: scenario -> **optimise** (Optuna proposes designs; jobs through
``sim.runs.experiment`` on any executor; :mod:`sim.runs.selection` chooses) ->
:class:`OptimiseResult` tables -> ``sim.output`` (files, figures), the CLI's ``optimise`` and,
later, the app. It never prints or writes files.

The method, and the two traps of optimising a simulation it avoids:

1. **Search.** A seeded TPE sampler (Optuna) proposes designs of one policy: values for the
   :class:`~sim.runs.search_space.Dimension` s (ranges or choices). Designs are asked for in
   batches of ``batch`` (ask-and-tell), each batch's runs go through the executor together,
   then every result is told back in trial order: the batch size, not the number of workers,
   fixes what the sampler sees, so serial, process and Dask runs give the same trials byte
   for byte. Every trial runs the same replication numbers 0 .. R-1 (common random numbers:
   trials are paired, so the search compares designs, not luck). A trial whose mean breaks a
   constraint is infeasible (told to TPE through its ``constraints_func``). The file's own
   design is the first trial when it lies in the search space.
2. **Honest selection.** The best-looking trial is a lucky one (its mean is the maximum of
   noisy means). So the ``candidates`` best feasible designs, and the file's own design, are
   simulated again on fresh replications (numbers from R on, never used by the search): a
   first stage of ``first_stage`` replications screens out designs that break a constraint,
   then Kim & Nelson's fully sequential procedure (:func:`sim.runs.selection.kim_nelson`)
   selects one within ``delta`` of the best of these candidates with probability at least
   95%. The chosen design's means and 95% intervals come from its fresh replications only;
   a chosen design that breaks a constraint on all its fresh replications is set aside and
   the selection repeated among the others.

``worlds`` (robust mode): a table of parameter sets (one row per world, e.g. drawn from the
scenario's ``[uncertainty]`` table with :func:`sim.decision.sampling.draw`); every observation of a
design is then its mean over all the worlds (world w of observation j runs replication
j x W + w), and the result says in how many worlds the chosen design beats the file's own.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.engine.rng import stream_key
from sim.params import labels
from sim.params.labels import LABEL_KEY, LABEL_MAX
from sim.params.scenario import ScenarioError, policy_label, resolve_policies, scenario_hash, validate_dict
from sim.params.schema import Params, Scenario
from sim.runs import metrics
from sim.runs.executors import Executor
from sim.runs.experiment import Job, run_job_kpis
from sim.runs.options import SERIAL, RunOptions
from sim.runs.search_space import (
    Constraint,
    DesignError,
    Dimension,
    apply_design,
    check_dimensions,
    concrete_paths,
    current_value,
    guard,
    parse_constraint,
    parse_dimension,
    policy_params,
    world_bases,
)
from sim.runs.selection import kim_nelson

__all__ = ["Constraint", "Dimension", "OptimiseResult", "optimise", "pareto_front"]

ALPHA = 0.05  # 95%: the guarantee's confidence
MAX_TRIALS = 10_000
DEFAULT_REPLICATIONS = 4  # per trial (the CLI repeats it in sim.cli.parser.OPTION_DEFAULTS, tested equal)
Key = tuple[tuple[str, Any], ...]


@dataclass
class OptimiseResult:
    """Everything an optimisation produced: tables for files, figures, the CLI and the app.

    ``trials``: one row per trial (``trial``, ``state``, each dimension's value, the search
    mean of every KPI over its R replications, the objective's 95% interval, ``feasible``,
    ``best_so_far``, ``candidate``, ``note``). ``candidates``: one row per design re-run on
    fresh replications (``candidate``, ``trial``, the design, the search mean, ``fresh_n``,
    ``fresh_mean``, ``feasible_fresh``, ``eliminated_at``, ``chosen``). ``chosen``: the
    chosen design (None when no candidate met the constraints on fresh replications);
    ``estimates``: per KPI, mean and 95% t-interval over the chosen design's fresh
    replications; ``vs_current``: per KPI, the paired difference chosen - the file's own
    design on the same replications; ``guarantee``: the selection's procedure, ``delta``,
    confidence and replications; ``robust``: worlds and how often the chosen design beats
    the file's own (robust mode only).
    """

    scenario: Scenario
    scenario_sha256: str
    policy: str
    kpis: list[str]
    constraints: list[Constraint]
    dimensions: list[Dimension]
    seed: int
    replications: int
    trials: pd.DataFrame
    candidates: pd.DataFrame
    chosen: dict[str, Any] | None
    chosen_label: str | None
    estimates: dict[str, dict[str, float]]
    vs_current: dict[str, dict[str, float]]
    constraints_met: dict[str, bool]
    guarantee: dict[str, Any]
    fresh: dict[str, Any]
    pareto: pd.DataFrame | None = None
    worlds: pd.DataFrame | None = None
    robust: dict[str, Any] | None = None
    current: dict[str, Any] = field(default_factory=dict)
    version: str = __version__
    command: str | None = None

    @property
    def kpi(self) -> str:
        """The KPI the selection maximises (the first of ``kpis``)."""
        return self.kpis[0]

    def optimised_name(self) -> str:
        """The new policy's name in :meth:`optimised_scenario`: ``NAME_optimised``, shortened to
        fit policy names and numbered if the file already has one."""
        taken = {p.name for p in resolve_policies(self.scenario)}
        stem = f"{self.policy}_optimised"[:40]
        name, i = stem, 2
        while name in taken:
            name = f"{stem[:36]}_{i}"
            i += 1
        return name

    def optimised_scenario(self) -> Scenario:
        """The scenario with the chosen design added as a new policy (:meth:`optimised_name`):
        the policy's own overrides plus the design (a segment field copies the policy's whole
        segment list). ``supportsim run`` on it reproduces the runs of the selection."""
        if self.chosen is None:
            raise ValueError("no design was chosen: none of the candidates met the constraints")
        data = self.scenario.model_dump(mode="python")
        data["run"]["seed"] = self.seed
        data["uncertainty"] = copy.deepcopy(self.scenario.uncertainty)
        policies = data["policies"] or {"base": {}}
        base = policy_params(self.scenario, self.policy)
        target = apply_design(base.model_dump(mode="python"), self.chosen).model_dump(mode="python")
        override = copy.deepcopy(policies.get(self.policy, {}))
        for path in self.chosen:
            for p in concrete_paths(path, target):
                if p.startswith("customers.segments."):
                    override.setdefault("customers", {})["segments"] = copy.deepcopy(target["customers"]["segments"])
                else:
                    node = override
                    *head, last = p.split(".")
                    for part in head:
                        node = node.setdefault(part, {})
                    node[last] = _get(target, p)
        override[LABEL_KEY] = f"{policy_label(self.scenario, self.policy)} (optimised)"[:LABEL_MAX]
        name = self.optimised_name()
        data["policies"] = {**policies, name: override}
        out = validate_dict(data, None, "optimum")
        if policy_label(out, name) != override[LABEL_KEY]:  # it states a number the design changed
            override[LABEL_KEY] = f"{labels.derived(out, name)} (optimised)"[:LABEL_MAX]
            out = validate_dict(data, None, "optimum")
        got = next(p.params for p in resolve_policies(out) if p.name == name)
        if got.model_dump() != target:  # the file must reproduce what was simulated
            raise AssertionError(f"the optimised policy {name!r} does not resolve to the chosen design")
        return out

    def summary(self) -> dict[str, Any]:
        """The content of optimum.json without the text (JSON-safe apart from NaN)."""
        return {
            "supportsim_version": self.version,
            "command": self.command,
            "scenario_name": self.scenario.scenario.name,
            "scenario_sha256": self.scenario_sha256,
            "seed": self.seed,
            "months": self.scenario.run.months,
            "policy": self.policy,
            "kpis": self.kpis,
            "parameters": [d.describe() for d in self.dimensions],
            "constraints": [c.describe() for c in self.constraints],
            "trials": int(len(self.trials)),
            "replications_per_trial": self.replications,
            "chosen": self.chosen,
            "chosen_from": self.chosen_label,
            "optimised_policy": self.optimised_name() if self.chosen is not None else None,
            "current_design": self.current,
            "estimates_fresh": self.estimates,
            "difference_vs_current": self.vs_current,
            "constraints_met": self.constraints_met,
            "guarantee": self.guarantee,
            "fresh_replications": self.fresh,
            "robust": self.robust,
        }


def _get(data: Any, path: str) -> Any:
    node = data
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _key(design: Mapping[str, Any] | None) -> Key:
    return () if design is None else tuple(design.items())


class _Runs:
    """Designs x observations x worlds on one executor; every run kept (its KPIs) by key."""

    def __init__(self, bases: list[dict[str, Any]], *, months: int, seed: int, executor: Executor,
                 on_progress: Callable[[int, int], None] | None) -> None:
        self.bases, self.months, self.seed, self.executor = bases, months, seed, executor
        self.worlds = len(bases)
        self.on_progress = on_progress
        self.done = self.total = 0
        self.kpis: dict[tuple[Key, int, int], dict[str, float]] = {}
        self._params: dict[Key, list[Params]] = {}

    def params(self, design: Mapping[str, Any] | None) -> list[Params]:
        """The design's parameters in every world (validated once; :class:`DesignError` if invalid)."""
        key = _key(design)
        if key not in self._params:
            self._params[key] = [apply_design(b, design or {}) for b in self.bases]
        return self._params[key]

    def expect(self, runs: int) -> None:
        self.total += runs
        if self.on_progress:
            self.on_progress(self.done, self.total)

    def run(self, designs: Sequence[Mapping[str, Any] | None], obs: range) -> None:
        """Make sure every design has observations ``obs`` (each: one run per world)."""
        todo: dict[tuple[Key, int, int], None] = {}  # insertion-ordered: jobs in a fixed order
        jobs: list[Job] = []
        for design in designs:
            key = _key(design)
            params = self.params(design)
            for j in obs:
                for w in range(self.worlds):
                    if (key, j, w) not in self.kpis and (key, j, w) not in todo:
                        todo[(key, j, w)] = None
                        jobs.append(Job("optimise", j * self.worlds + w, params[w], self.months, self.seed))
        if not jobs:
            return
        if self.done + len(jobs) > self.total:
            self.expect(self.done + len(jobs) - self.total)
        keys = list(todo)
        for i, out in self.executor.imap_unordered(run_job_kpis, jobs):
            self.kpis[keys[i]] = out
            self.done += 1
            if self.on_progress:
                self.on_progress(self.done, self.total)

    def per_world(self, design: Mapping[str, Any] | None, kpi: str, obs: range) -> np.ndarray:
        """(worlds x observations) of one KPI."""
        key = _key(design)
        return np.array([[self.kpis[(key, j, w)][kpi] for j in obs] for w in range(self.worlds)], dtype=float)

    def obs(self, design: Mapping[str, Any] | None, kpi: str, obs: range) -> np.ndarray:
        """Observations of one KPI: each the mean over the worlds."""
        return self.per_world(design, kpi, obs).mean(axis=0)


def _optuna() -> Any:
    import optuna  # heavy (about a second): imported when an optimisation starts, not with the CLI

    return optuna


def _distribution(optuna: Any, d: Dimension) -> Any:
    dists = optuna.distributions
    if d.kind == "choice":
        return dists.CategoricalDistribution(list(d.choices))
    if d.kind == "int":
        return dists.IntDistribution(int(d.low), int(d.high), log=d.log)
    return dists.FloatDistribution(d.low, d.high, log=d.log)


def _sampler_seed(seed: int) -> int:
    return int(np.random.SeedSequence(seed, spawn_key=(stream_key("optimise-tpe"),)).generate_state(1)[0])


def optimise(
    scenario: Scenario,
    *,
    policy: str,
    params: Sequence[str | Dimension],
    kpi: str | Sequence[str] = "value_usd",
    constraints: Sequence[str | Constraint] = (),
    trials: int = 200,
    worlds: pd.DataFrame | None = None,
    candidates: int = 5,
    delta: float | None = None,
    first_stage: int = 20,
    max_fresh: int = 200,
    batch: int = 8,
    options: RunOptions = SERIAL,
) -> OptimiseResult:
    """Search ``policy``'s design over ``params`` for the highest expected ``kpi`` under
    ``constraints``, then choose among the best designs on fresh replications (module docstring).

    ``params``: ``"PATH=LO:HI[:int|:log]"`` / ``"PATH=a,b,c"`` strings or :class:`Dimension` s;
    ``kpi``: one KPI, or two (a Pareto search; the first is the one selected on);
    ``constraints``: ``"KPI>=X"`` / ``"KPI<=X"`` strings or :class:`Constraint` s; ``trials``
    designs of ``options.replications`` runs each (default 4); ``candidates`` best designs re-run with
    ``first_stage`` fresh replications, then up to ``max_fresh``; ``delta``: the indifference
    zone in the KPI's unit (default: the standard error of a trial's mean in the search,
    median over the candidates). ``options.on_progress(done, total)`` is called as runs finish (the
    total grows while the selection adds replications). Bad input raises
    :class:`ScenarioError` naming the field before anything runs.
    """
    kpis = [kpi] if isinstance(kpi, str) else list(kpi)
    replications = options.replications if options.replications is not None else DEFAULT_REPLICATIONS
    problems = []
    for k in kpis:
        if k not in metrics.KPIS:
            problems.append(f"--kpi: unknown KPI {k!r}; allowed values: {', '.join(metrics.KPIS)}")
        elif metrics.KPIS[k].better == "neutral":
            problems.append(f"--kpi {k}: neither direction is better, so there is nothing to optimise")
    if not 1 <= len(kpis) <= 2 or len(set(kpis)) != len(kpis):
        problems.append(f"--kpi: give one KPI, or two different ones for a Pareto front (got {', '.join(kpis)})")
    for name, value, lo, hi in (("--trials", trials, 1, MAX_TRIALS), ("--replications", replications, 1, 10_000),
                                ("--candidates", candidates, 1, 50), ("--first-stage", first_stage, 2, 1000),
                                ("--max-fresh", max_fresh, first_stage, 100_000), ("--batch", batch, 1, 1000)):
        if not (isinstance(value, int) and lo <= value <= hi):
            problems.append(f"{name}: allowed range [{lo}, {hi}] (got {value!r})")
    if delta is not None and not (isinstance(delta, (int, float)) and math.isfinite(delta) and delta > 0):
        problems.append(f"--delta: must be a positive number in the KPI's unit (got {delta!r})")
    if delta is None and replications < 2:
        problems.append("--replications 1 leaves no noise to size the default --delta on: give --delta or at "
                        "least 2 replications")
    if problems:
        raise ScenarioError(problems, "optimise")
    base = policy_params(scenario, policy)
    dims = check_dimensions([(d.path, _spec(d)) if isinstance(d, Dimension) else parse_dimension(d) for d in params],
                            policy=policy, params=base)
    cons = [c if isinstance(c, Constraint) else parse_constraint(c) for c in constraints]
    seed = options.seed_for(scenario)
    bases = world_bases(scenario, policy, worlds)
    data = base.model_dump(mode="python")
    current = {d.path: current_value(d.path, data) for d in dims}
    planned = (trials * replications + (candidates + 1) * first_stage) * len(bases)
    guard(bases, dims, current, policy=policy, months=scenario.run.months, runs=planned // len(bases),
           limit=options.max_work)
    signs = [1.0 if metrics.KPIS[k].better == "higher" else -1.0 for k in kpis]
    with options.pool() as ex:
        runs = _Runs(bases, months=scenario.run.months, seed=seed, executor=ex, on_progress=options.on_progress)
        runs.expect(planned)
        table, designs = _search(runs, dims, kpis, signs, cons, current, trials=trials, replications=replications,
                                 batch=batch, seed=seed)
        sel = _select(runs, table, designs, kpis[0], signs[0], cons, current, replications=replications,
                      candidates=candidates, delta=delta, first_stage=first_stage, max_fresh=max_fresh)
    return OptimiseResult(
        scenario=scenario, scenario_sha256=scenario_hash(scenario), policy=policy, kpis=kpis, constraints=cons,
        dimensions=dims, seed=seed, replications=replications, trials=table,
        pareto=pareto_front(table, kpis) if len(kpis) == 2 else None, worlds=worlds, current=current, **sel)


def _spec(d: Dimension) -> dict[str, Any]:
    if d.kind == "choice":
        return {"choices": d.choices}
    return {"low": d.low, "high": d.high, "int": d.kind == "int", "log": d.log}


# ---------------------------------------------------------------------------- search


def _search(runs: _Runs, dims: list[Dimension], kpis: list[str], signs: list[float], cons: list[Constraint],
            current: dict[str, Any], *, trials: int, replications: int, batch: int,
            seed: int) -> tuple[pd.DataFrame, dict[int, dict[str, Any]]]:
    """The trials table of a seeded TPE search, asked and told in batches (module docstring), and
    each trial's design."""
    optuna = _optuna()
    dists = {d.path: _distribution(optuna, d) for d in dims}
    search = range(replications)
    rows: list[dict[str, Any]] = []
    by_trial: dict[int, dict[str, Any]] = {}
    seen: dict[Key, int] = {}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():  # multivariate TPE and constraints_func are marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # Optuna 5 reads constraints a trial sets itself; Optuna 4 through constraints_func
            legacy = cons and not hasattr(optuna.trial.Trial, "set_constraint")
            sampler = optuna.samplers.TPESampler(
                seed=_sampler_seed(seed), multivariate=True, constant_liar=True,
                n_startup_trials=min(10, max(2, trials // 10)),
                **({"constraints_func": lambda t: t.user_attrs["constraints"]} if legacy else {}))
            study = optuna.create_study(sampler=sampler, directions=["maximize" if s > 0 else "minimize"
                                                                     for s in signs])
            if all(d.contains(current[d.path]) for d in dims):
                study.enqueue_trial({d.path: current[d.path] for d in dims})
            for start in range(0, trials, batch):
                asked = [study.ask(dists) for _ in range(min(batch, trials - start))]
                designs: list[tuple[Any, dict[str, Any], str | None]] = []
                for t in asked:
                    design = by_trial[t.number] = {d.path: d.snap(t.params[d.path]) for d in dims}
                    try:
                        runs.params(design)
                        designs.append((t, design, None))
                    except DesignError as exc:
                        designs.append((t, design, str(exc)))
                runs.run([d for _, d, err in designs if err is None], search)
                for t, design, err in designs:
                    rows.append(_tell(study, optuna, runs, t, design, err, kpis, cons, search, seen))
    finally:
        optuna.logging.set_verbosity(verbosity)
    table = pd.DataFrame(rows)
    best, so_far = [], -math.inf
    for r in rows:
        if r["feasible"]:
            so_far = max(so_far, signs[0] * r[kpis[0]])
        best.append(signs[0] * so_far if math.isfinite(so_far) else math.nan)
    table["best_so_far"] = best
    table["candidate"] = pd.array([pd.NA] * len(table), dtype="Int64")
    return table, by_trial


def _tell(study: Any, optuna: Any, runs: _Runs, trial: Any, design: dict[str, Any], err: str | None,
          kpis: list[str], cons: list[Constraint], search: range, seen: dict[Key, int]) -> dict[str, Any]:
    row: dict[str, Any] = {"trial": trial.number, **design}
    if err is not None:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return {**row, "state": "invalid", "feasible": False, "note": err}
    means = {k: float(np.nanmean(v)) if np.isfinite(v := runs.obs(design, k, search)).any() else math.nan
             for k in metrics.KPIS}
    ci = metrics.t_interval(runs.obs(design, kpis[0], search))
    values = [means[k] for k in kpis]
    key = _key(design)
    note = f"same design as trial {seen[key]}" if key in seen else ""
    seen.setdefault(key, trial.number)
    if not all(math.isfinite(v) for v in values):
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return {**row, "state": "failed", **means, "feasible": False, "note": f"{kpis[0]} is not a number"}
    violations = [min(c.violation(means[c.kpi]), 1e300) for c in cons]
    if hasattr(trial, "set_constraint"):
        for c, v in zip(cons, violations):
            trial.set_constraint(c.describe(), v)
    else:
        trial.set_user_attr("constraints", violations)
    study.tell(trial, values)
    broken = [c.describe() for c, v in zip(cons, violations) if v > 0]
    return {**row, "state": "complete", **means, f"{kpis[0]}_ci_low": ci["ci_low"], f"{kpis[0]}_ci_high": ci["ci_high"],
            "feasible": not broken, "note": "; ".join(filter(None, [note, "breaks " + ", ".join(broken) if broken else ""]))}


def pareto_front(trials: pd.DataFrame, kpis: Sequence[str]) -> pd.DataFrame:
    """The feasible trials no other feasible trial beats on both KPIs (search means, each KPI in
    its better direction), one per design, sorted by the first KPI."""
    ok = trials[trials["feasible"]].drop_duplicates(subset=[c for c in trials.columns if c not in
                                                          ("trial", "note", "best_so_far", "candidate")])
    signs = np.array([1.0 if metrics.KPIS[k].better == "higher" else -1.0 for k in kpis])
    v = ok[list(kpis)].to_numpy(dtype=float) * signs
    keep = [i for i in range(len(v)) if not any((v[j] >= v[i]).all() and (v[j] > v[i]).any() for j in range(len(v)))]
    front = ok.iloc[keep].sort_values(list(kpis)[0], ascending=signs[0] < 0, kind="stable")
    return front.reset_index(drop=True)


# ---------------------------------------------------------------------------- selection


def _select(runs: _Runs, table: pd.DataFrame, designs: dict[int, dict[str, Any]], kpi: str, sign: float,
            cons: list[Constraint], current: dict[str, Any], *, replications: int, candidates: int,
            delta: float | None, first_stage: int, max_fresh: int) -> dict[str, Any]:
    """Kim & Nelson among the best feasible designs and the file's own, on fresh replications."""
    done = table[table["state"] == "complete"].copy()
    done["_rank"] = sign * done[kpi]
    done = done.sort_values(["feasible", "_rank", "trial"], ascending=[False, False, True], kind="stable")
    cands: list[tuple[str, int | None, dict[str, Any] | None]] = []
    for trial in done["trial"].tolist():
        if len(cands) < candidates and all(designs[trial] != d for _, _, d in cands):
            cands.append((f"trial {trial}", trial, designs[trial]))
    own = dict(current) if all(v is not None for v in current.values()) else None
    if own is None or all(d != own for _, _, d in cands):
        cands.append(("the file's own design", None, own))
    for i, (_, trial, _) in enumerate(cands):
        if trial is not None:
            table.loc[table["trial"] == trial, "candidate"] = i
    fresh0 = replications  # fresh observations start where the search's ended
    first = range(fresh0, fresh0 + first_stage)
    runs.run([d for _, _, d in cands], first)

    def fresh_means(design: dict[str, Any] | None, n: int) -> dict[str, float]:
        return {c.kpi: float(np.nanmean(runs.obs(design, c.kpi, range(fresh0, fresh0 + n)))) for c in cons}

    feasible = [i for i, (_, _, d) in enumerate(cands) if all(c.met(fresh_means(d, first_stage)[c.kpi]) for c in cons)]
    if delta is None:
        delta, source = _default_delta(runs, [d for _, t, d in cands if t is not None], kpi, range(replications))
    else:
        source = "given (--delta)"
    used = dict.fromkeys(range(len(cands)), first_stage)
    status: dict[int, str] = {i: "breaks a constraint on the first stage" for i in range(len(cands)) if i not in feasible}
    chosen, pool, truncated = None, list(feasible), False
    while pool:
        def sample(systems: Sequence[int], n: int, pool: list[int] = pool) -> np.ndarray:
            ds = [cands[pool[s]][2] for s in systems]
            runs.run(ds, range(fresh0, fresh0 + n))
            return np.array([sign * runs.obs(d, kpi, range(fresh0, fresh0 + n)) for d in ds])

        sel = kim_nelson(sample, len(pool), n0=first_stage, delta=delta, alpha=ALPHA, max_n=max_fresh)
        truncated = truncated or sel.truncated
        for s, i in enumerate(pool):
            used[i] = sel.replications[s]
            at = sel.eliminated_at[s]
            status[i] = f"screened out after {at} fresh replications" if at is not None else "chosen"
        winner = pool[sel.chosen]
        means = fresh_means(cands[winner][2], used[winner])
        if all(c.met(means[c.kpi]) for c in cons):
            chosen = winner
            break
        status[winner] = f"set aside: breaks a constraint on its {used[winner]} fresh replications"
        pool = [i for i in pool if i != winner]
    rows = []
    for i, (label, trial, design) in enumerate(cands):
        s = metrics.t_interval(runs.obs(design, kpi, range(fresh0, fresh0 + used[i])))
        search = table.loc[table["trial"] == trial, kpi] if trial is not None else pd.Series(dtype=float)
        rows.append({"candidate": i, "label": label, "trial": trial, **(design or current),
                     f"search_{kpi}": float(search.iloc[0]) if len(search) else math.nan,
                     "fresh_n": used[i], "fresh_mean": s["mean"], "fresh_ci_low": s["ci_low"],
                     "fresh_ci_high": s["ci_high"], "feasible_fresh": i in feasible,
                     "status": status.get(i, "not chosen"), "chosen": i == chosen})
    n = used[chosen] if chosen is not None else first_stage
    out: dict[str, Any] = {
        "candidates": pd.DataFrame(rows), "chosen": None, "chosen_label": None, "estimates": {}, "vs_current": {},
        "constraints_met": {}, "robust": None,
        "guarantee": {"procedure": "Kim & Nelson (2001) fully sequential selection, paired by common random numbers",
                      "confidence": 1 - ALPHA, "delta": delta, "delta_source": source, "kpi": kpi,
                      "candidates": len(cands), "feasible_candidates": len(feasible), "first_stage": first_stage,
                      "max_fresh": max_fresh, "truncated": truncated, "holds": chosen is not None and not truncated},
        "fresh": {"first_observation": fresh0, "observations": n, "worlds": runs.worlds,
                  "replication_numbers": [j * runs.worlds + w for j in range(fresh0, fresh0 + n)
                                          for w in range(runs.worlds)]},
    }
    if chosen is None:
        return out
    label, _, design = cands[chosen]
    got = range(fresh0, fresh0 + n)
    runs.run([own], got)  # the file's own design on the same replications, for the paired comparison
    out["chosen"] = dict(design if design is not None else current)
    out["chosen_label"] = label
    out["estimates"] = {k: metrics.t_interval(runs.obs(design, k, got)) for k in metrics.KPIS}
    out["vs_current"] = {k: metrics.t_interval(runs.obs(design, k, got) - runs.obs(own, k, got)) for k in metrics.KPIS}
    out["constraints_met"] = {c.describe(): c.met(out["estimates"][c.kpi]["mean"]) for c in cons}
    if runs.worlds > 1:
        diff = sign * (runs.per_world(design, kpi, got) - runs.per_world(own, kpi, got)).mean(axis=1)
        out["robust"] = {"worlds": runs.worlds, "observations_per_world": n,
                         "share_of_worlds_better_than_current": float((diff > 0).mean()),
                         "worlds_better": int((diff > 0).sum()), "worlds_tied": int((diff == 0).sum()),
                         "difference_by_world": [float(sign * x) for x in diff]}
    return out


def _default_delta(runs: _Runs, designs: list[dict[str, Any] | None], kpi: str, search: range) -> tuple[float, str]:
    """The search's resolution: the standard error of one trial's mean at the search's
    replications (the KPI's standard deviation across them / sqrt(R), median over the
    candidates), a difference the search could not see."""
    x = [runs.obs(d, kpi, search) for d in designs]
    ses = [s for s in (float(np.std(v, ddof=1) / math.sqrt(len(search))) for v in x) if math.isfinite(s)]
    scale = max(1.0, float(np.nanmax(np.abs(np.concatenate(x))))) if x else 1.0
    value = float(np.median(ses)) if ses else 0.0
    how = (f"the standard error of a trial's mean in the search (the standard deviation across its {len(search)} "
           f"replications / sqrt({len(search)}), median over the candidates)")
    if value <= 1e-9 * scale:  # the KPI did not vary: any positive zone separates nothing
        return 1e-9 * scale, how + "; the KPI did not vary, so a negligible zone"
    return value, how
