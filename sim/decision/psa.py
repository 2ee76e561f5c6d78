"""Probabilistic sensitivity analysis: which policy is best, how sure we are, what to research.

Where it sits: scenario with an ``[uncertainty]`` table -> **psa** (jobs through
``sim.runs.experiment`` on any executor) -> :class:`DecisionResult` tables -> ``sim.output``
(files, plots), the CLI's ``decide`` and the app. It never prints or writes files.

The analysis, step by step:

1. Draw ``samples`` parameter sets from the table's distributions: a Latin hypercube (or a
   scrambled Sobol sequence) on the unit cube, seeded from the scenario seed, mapped through
   each distribution's inverse CDF.
2. Simulate every policy on every set (``replications`` runs each). Sample i uses the
   replications i*R ... i*R + R - 1: every policy of a sample shares its random streams
   (common random numbers, so the comparison is paired), and different samples see different
   streams (so simulation noise averages out over samples instead of biasing them all alike).
3. Net benefit is the value KPI (:data:`DEFAULT_KPI`) per sample and policy. Per policy: the
   expected value, the probability of being best (share of samples where it has the highest
   value; Monte Carlo standard error sqrt(p (1 - p) / n)) and the expected loss (regret) of
   choosing it, E[max - value]. The recommended policy has the highest expected value (the
   smallest expected loss).
4. The value of information (:mod:`sim.decision.voi`): ``evpi`` regresses the value on every
   uncertain parameter together, so it counts only what research on the parameters could
   resolve; ``evpi_sample`` is the plain sample formula, which also counts simulation noise
   (an upper bound). ``evppi`` per parameter says what learning that parameter alone is worth.
5. Optionally (``sobol=True``) Sobol first-order and total indices of the value difference
   between the two leading policies (SALib, Saltelli design), each design point run with the
   same replications (common random numbers across points, so the function is smooth).

Results are identical whichever executor runs the jobs (each job's randomness depends only on
the seed and its replication number).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import beta

from sim import __version__
from sim.decision import voi
from sim.decision.sampling import Design, as_python, design_points, draw, numeric_inputs
from sim.decision.workload import check_work, sample_work  # noqa: F401  (sample_work: the app's import)
from sim.engine.rng import stream_key
from sim.params.groups import grouped
from sim.params.names import display_name
from sim.params.scenario import (
    ScenarioError,
    canonical_json,
    policy_label,
    resolve_policies,
    scenario_hash,
    uncertain_parameters,
)
from sim.params.schema import Params, Scenario
from sim.params.uncertainty import Choice, Distribution
from sim.runs import metrics
from sim.runs.executors import Executor
from sim.runs.experiment import Job, run_job_kpis
from sim.runs.kpis import DEFAULT_KPI  # noqa: F401  (re-exported: the decision's KPI)
from sim.runs.options import SERIAL, RunOptions
from sim.runs.paths import with_values

__all__ = [
    "DEFAULT_KPI", "Analysis", "DecisionResult", "analyse", "check_work", "decision_hash", "decision_map_table",
    "percent", "run_decision", "sample_work", "sobol_indices",
]


MAX_SAMPLES = 100_000
MAP_GRID = 60  # decision map resolution per axis
NEGLIGIBLE_SHARE = 0.05  # an EVPPI below 5% of the EVPI is not worth researching on its own
# Said wherever EVPPIs or their shares of the EVPI are shown (report, deck, app, decide, the chart).
EVPPI_NOT_ADDITIVE = ("EVPPIs do not add up: what one assumption would reveal overlaps with what others would, so "
                      "their shares of the EVPI need not sum to 100%.")
# Parameter sets resolved and run at a time: their validated parameters are held only while they
# run, and each run's KPIs go into one preallocated array, so memory does not grow with --samples.
CHUNK_POINTS = 256
CLIPPED = "clipped to the EVPI"
# The answer names a group of assumptions to research only when perfect information would be worth at
# least this share of the chosen policy's expected value (an EVPI of $4k on $17M is no reason to research).
MATERIAL_EVPI_SHARE = 0.001
# The EVPPI table: evppi_se is its Monte Carlo standard error (a bootstrap; NaN where not feasible).
EVPPI_COLUMNS = ["parameter", "evppi_usd", "share_of_evpi", "method", "distribution", "evppi_se"]


@dataclass
class DecisionResult:
    """Everything a decision run produced: tables for files, plots, the app and the deck.

    ``policies``: one row per policy (expected_value, prob_best, prob_best_se, expected_loss,
    recommended). ``evppi``: one row per uncertain parameter (evppi_usd, share_of_evpi, method,
    distribution, evppi_se: its bootstrap standard error), highest first. ``psa``: one row per (sample, policy) with the sampled
    parameters and the KPIs (means over the replications). ``decision_map``: the best policy on
    a grid over the two parameters with the highest EVPPI (None with fewer than two).
    ``sobol``: first-order and total indices with 95% confidence half-widths (None unless asked).
    """

    scenario: Scenario
    scenario_sha256: str
    decision_sha256: str
    seed: int
    kpi: str
    samples: int
    replications: int
    design: str
    parameters: dict[str, Distribution]
    policy_names: list[str]
    policies: pd.DataFrame
    evppi: pd.DataFrame
    psa: pd.DataFrame
    recommended: str
    evpi: float
    evpi_sample: float
    evppi_groups: pd.DataFrame | None = None  # one row per named group of assumptions (sim.params.groups)
    decision_map: pd.DataFrame | None = None
    sobol: pd.DataFrame | None = None
    sobol_meta: dict[str, Any] = field(default_factory=dict)
    version: str = __version__
    command: str | None = None  # the command line that made it (set by the CLI; shown in the deck's notes)
    notes: list[str] = field(default_factory=list)  # how the estimates were made, when it is not the usual way

    @property
    def net_benefit(self) -> np.ndarray:
        """(samples x policies) array of the value KPI, policies in scenario order."""
        wide = self.psa.pivot(index="sample", columns="policy", values=self.kpi)
        return wide[self.policy_names].to_numpy(dtype=float)

    def answer(self) -> list[str]:
        """The three-line answer: what to choose, what it may cost, what to research first
        (the policy by its display label and the parameter by its display name, as every chart and
        table shows them)."""
        row = self.policies.set_index("policy").loc[self.recommended]
        top = self.evppi.iloc[0] if len(self.evppi) else None
        low, high = prob_best_interval(row["prob_best"], self.samples)
        lines = [
            f"Choose {policy_label(self.scenario, self.recommended)} (highest expected value): best in "
            f"{percent(row['prob_best'])} of {self.samples} plausible worlds (95% CI {percent(low)} to "
            f"{percent(high)}); expected {_kpi_label(self.kpi)} {_usd(row['expected_value'])}.",
            f"Expected loss of that choice: {_usd(row['expected_loss'])} (what perfect knowledge of every "
            f"uncertain parameter would be worth: {_usd(self.evpi)}).",
        ]
        name = display_name(str(top["parameter"]), self.scenario) if top is not None else ""
        if top is None or self.evpi <= 0 or top["evppi_usd"] < NEGLIGIBLE_SHARE * self.evpi:
            best = (f"; the most, {name}, {_usd(top['evppi_usd'])}"
                    if top is not None and top["evppi_usd"] > 0 else "")
            lines.append(f"Research first: no single assumption is worth researching on its own{best}.")
        else:
            lines.append(f"Research first: {name} (EVPPI {_usd(top['evppi_usd'])}, "
                         f"{top['share_of_evpi']:.0%} of the EVPI){self._rank_caveat()}.")
        groups = self.evppi_groups
        material = self.evpi >= MATERIAL_EVPI_SHARE * abs(float(row["expected_value"]))  # a choice worth re-examining
        if groups is not None and len(groups) and material and groups["evppi_usd"].iloc[0] >= NEGLIGIBLE_SHARE * self.evpi:
            g = groups.iloc[0]
            lines.append(f"Of groups of assumptions, {g['group']} matters most (EVPPI {_usd(g['evppi_usd'])}, "
                         f"{g['share_of_evpi']:.0%} of the EVPI; EVPPIs of groups overlap and do not add up).")
        return lines

    def _rank_caveat(self) -> str:
        """"; too few samples to rank it above X" when the top two EVPPIs cannot be told apart: their
        difference lies within 1.96 Monte Carlo standard errors (bootstrap, where it was feasible)."""
        if len(self.evppi) < 2 or "evppi_se" not in self.evppi.columns:
            return ""
        a, b = self.evppi.iloc[0], self.evppi.iloc[1]
        se = float(np.hypot(a["evppi_se"], b["evppi_se"]))
        if not np.isfinite(se) or b["evppi_usd"] <= 0 or a["evppi_usd"] - b["evppi_usd"] > 1.96 * se:
            return ""
        other = display_name(str(b["parameter"]), self.scenario)
        return (f"; too few samples to rank it above {other} (EVPPI {_usd(b['evppi_usd'])}): their Monte Carlo "
                f"intervals overlap, more samples would tell")

    def summary(self) -> dict[str, Any]:
        """The content of decision.json (JSON-safe apart from NaN, which the writer cleans)."""
        pol = self.policies.set_index("policy")
        return {
            "supportsim_version": self.version,
            "scenario_name": self.scenario.scenario.name,
            "scenario_sha256": self.scenario_sha256,
            "decision_sha256": self.decision_sha256,
            "seed": self.seed,
            "kpi": self.kpi,
            "samples": self.samples,
            "replications": self.replications,
            "design": self.design,
            "months": self.scenario.run.months,
            "recommended_policy": self.recommended,
            "policies": {
                p: {"expected_value": float(pol.at[p, "expected_value"]),
                    "prob_best": float(pol.at[p, "prob_best"]),
                    "prob_best_se": float(pol.at[p, "prob_best_se"]),
                    "expected_loss": float(pol.at[p, "expected_loss"])}
                for p in self.policy_names
            },
            "evpi": self.evpi,
            "evpi_sample": self.evpi_sample,
            "evppi": {r.parameter: float(r.evppi_usd) for r in self.evppi.itertuples()},
            "evppi_se": {r.parameter: float(getattr(r, "evppi_se", float("nan"))) for r in self.evppi.itertuples()},
            "evppi_groups": {} if self.evppi_groups is None else {
                r.group: float(r.evppi_usd) for r in self.evppi_groups.itertuples()},
            "uncertainty": {p: d.to_spec() for p, d in self.parameters.items()},
            "sobol": None if self.sobol is None else {
                **self.sobol_meta,
                "indices": {r.parameter: {"S1": r.S1, "S1_conf": r.S1_conf, "ST": r.ST, "ST_conf": r.ST_conf}
                            for r in self.sobol.itertuples()},
            },
            "answer": self.answer(),
            "notes": list(self.notes),
        }


def prob_best_interval(p: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval of a probability of being best observed as ``p`` in ``n``
    sampled worlds: never "+/- 0%", since 24 of 24 worlds still leaves room below 100%."""
    k = round(p * n)
    a = (1 - level) / 2
    low = float(beta.ppf(a, k, n - k + 1)) if k > 0 else 0.0
    high = float(beta.ppf(1 - a, k + 1, n - k)) if k < n else 1.0
    return low, high


def percent(p: float) -> str:
    """A probability as a percentage, with a decimal near 0 and 1 (0.5% is not "0%", 99.5% not "100%")."""
    return f"{p:.1%}" if 0 < p < 0.01 or 0.99 < p < 1 else f"{p:.0%}"


def _usd(x: float) -> str:
    sign = "-" if x < 0 else ""
    a = abs(x)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= size:
            return f"{sign}${a / size:,.2f}{suffix}"
    return f"{sign}${a:,.0f}"


def _kpi_label(kpi: str) -> str:
    return metrics.KPIS[kpi].label.lower() if kpi in metrics.KPIS else kpi


# ---------------------------------------------------------------------------- running


class _Runner:
    """Policies x parameter sets x replications on one executor, with progress.

    Parameter sets are resolved :data:`CHUNK_POINTS` at a time, just before they run, and only
    their KPIs are kept (one float array), so memory is bounded whatever the number of sets.
    """

    def __init__(self, scenario: Scenario, policies: Sequence[str], executor: Executor,
                 on_progress: Callable[[int, int], None] | None, total: int) -> None:
        self.scenario = scenario
        self.policies = list(policies)
        self.executor = executor
        self.on_progress = on_progress
        self.total = total
        self.done = 0

    def params(self, values: Mapping[str, Any]) -> dict[str, Params]:
        sc = with_values(self.scenario, dict(values), source="uncertainty")
        return {p.name: p.params for p in resolve_policies(sc)}

    def validate(self, values: pd.DataFrame) -> None:
        """Resolve every parameter set once (a bad one is refused before anything runs), keeping none."""
        for start in range(0, len(values), CHUNK_POINTS):
            for row in values.iloc[start:start + CHUNK_POINTS].to_dict("records"):
                self.params(row)

    def run(self, values: pd.DataFrame, replications: Callable[[int], range]) -> pd.DataFrame:
        """One row per (point, replication, policy): KPIs of that run (points are ``values``' rows)."""
        months, seed = self.scenario.run.months, self.scenario.run.seed
        n_jobs = sum(len(replications(i)) for i in range(len(values))) * len(self.policies)
        point = np.empty(n_jobs, dtype=np.int64)
        rep = np.empty(n_jobs, dtype=np.int64)
        policy = np.empty(n_jobs, dtype=np.int64)
        kpis: np.ndarray | None = None
        names: list[str] = []
        at = 0
        for start in range(0, len(values), CHUNK_POINTS):
            chunk = values.iloc[start:start + CHUNK_POINTS].to_dict("records")
            job_list = []
            for i, row in enumerate(chunk, start=start):
                params = self.params(row)
                for r in replications(i):
                    for j, name in enumerate(self.policies):
                        point[at + len(job_list)], rep[at + len(job_list)], policy[at + len(job_list)] = i, r, j
                        job_list.append(Job(name, r, params[name], months, seed))
            for idx, out in self.executor.imap_unordered(run_job_kpis, job_list):
                if kpis is None:
                    names = list(out)
                    kpis = np.full((n_jobs, len(names)), np.nan)
                kpis[at + idx] = [out[k] for k in names]
                self.done += 1
                if self.on_progress:
                    self.on_progress(self.done, self.total)
            at += len(job_list)
        table = pd.DataFrame({"point": point, "replication": rep,
                              "policy": np.asarray(self.policies, dtype=object)[policy]})
        for j, name in enumerate(names):
            table[name] = kpis[:, j] if kpis is not None else np.nan
        return table


def run_decision(
    scenario: Scenario,
    *,
    samples: int = 200,
    kpi: str | None = None,
    design: Design = "lhs",
    sobol: bool = False,
    sobol_samples: int = 32,
    options: RunOptions = SERIAL,
) -> DecisionResult:
    """Probabilistic sensitivity analysis of every policy over the scenario's ``[uncertainty]`` table.

    ``samples`` parameter sets (``design``: "lhs" or "sobol"), ``options.replications`` runs of
    every policy on each (default 1); ``kpi`` the value to decide on (default
    :data:`DEFAULT_KPI`). With ``sobol``, a Saltelli design of ``sobol_samples`` x
    (parameters + 2) points is run for the two leading policies. ``options`` says where the
    runs execute (serial, local processes, a Dask cluster or the caller's executor); the
    results are identical under all of them.
    """
    kpi = kpi or DEFAULT_KPI
    replications = options.replications_for(scenario, default=1)
    if options.seed is not None and options.seed != scenario.run.seed:  # in the scenario: its hash and jobs see it
        scenario = with_values(scenario, {"run.seed": int(options.seed)})
    problems = []
    if kpi not in metrics.KPIS:
        problems.append(f"--kpi: unknown KPI {kpi!r}; allowed values: {', '.join(metrics.KPIS)}")
    if not (isinstance(samples, int) and 2 <= samples <= MAX_SAMPLES):
        problems.append(f"--samples: allowed range [2, {MAX_SAMPLES}] (got {samples!r})")
    if not (isinstance(replications, int) and 1 <= replications <= 10_000):
        problems.append(f"--replications: allowed range [1, 10000] (got {replications!r})")
    if sobol and not (isinstance(sobol_samples, int) and 2 <= sobol_samples <= MAX_SAMPLES):
        problems.append(f"--sobol-samples: allowed range [2, {MAX_SAMPLES}] (got {sobol_samples!r})")
    if problems:
        raise ScenarioError(problems, "decide")
    parameters = uncertain_parameters(scenario)
    if not parameters:
        raise ScenarioError(["the scenario has no [uncertainty] table: nothing is uncertain, so there is "
                             "nothing to decide under (see docs/decisions.md, 'The method')"], "decide")
    names = [p.name for p in resolve_policies(scenario)]
    if len(names) < 2:
        raise ScenarioError(["decide compares policies: the scenario needs at least two"], "decide")
    k = len(parameters)
    seed = scenario.run.seed
    sobol_points = sobol_samples * (k + 2) if sobol else 0
    check_work(scenario, parameters, samples=samples, replications=replications, sobol_points=sobol_points,
               limit=options.max_work)

    values = draw(parameters, design_points(samples, k, seed=seed, design=design))
    total = samples * replications * len(names) + sobol_points * replications * 2
    with options.pool() as ex:
        runner = _Runner(scenario, names, ex, options.on_progress, total)
        runner.validate(values)  # every set checked before anything runs
        runs = runner.run(values, lambda i: range(i * replications, (i + 1) * replications))
        psa = _psa_table(runs, values, names)
        nb = psa.pivot(index="sample", columns="policy", values=kpi)[names].to_numpy(dtype=float)
        x = numeric_inputs(parameters, values)
        found = analyse(nb, x, parameters, names)
        decision_map = decision_map_table(nb, x, parameters, found.evppi, names)
        sobol_table, sobol_meta = (None, {})
        if sobol:
            sobol_table, sobol_meta = _sobol(runner, parameters, found.policies, kpi, sobol_samples, replications,
                                             seed)
    return DecisionResult(
        scenario=scenario, scenario_sha256=scenario_hash(scenario),
        decision_sha256=decision_hash(scenario, parameters, samples, replications, design, kpi),
        seed=seed, kpi=kpi, samples=samples, replications=replications, design=design, parameters=parameters,
        policy_names=names, policies=found.policies, evppi=found.evppi, psa=psa, recommended=found.recommended,
        evpi=found.evpi, evpi_sample=found.evpi_sample, evppi_groups=found.evppi_groups,
        decision_map=decision_map, sobol=sobol_table,
        sobol_meta=sobol_meta, notes=found.notes,
    )


@dataclass
class Analysis:
    """What the PSA table says: the policy table, the recommendation, the EVPI (by regression and
    by the sample formula), the EVPPI table and notes on how they were estimated."""

    policies: pd.DataFrame
    recommended: str
    evpi: float
    evpi_sample: float
    evppi: pd.DataFrame
    notes: list[str]
    evppi_groups: pd.DataFrame | None = None


def analyse(nb: np.ndarray, x: np.ndarray, parameters: Mapping[str, Distribution], names: list[str]) -> Analysis:
    """The decision figures of a PSA sample: net benefit ``nb`` (samples x policies) and the sampled
    inputs ``x`` (samples x parameters, :func:`numeric_inputs`). ``decide`` computes them this way,
    and reading a decision back recomputes them this way from psa.csv to check decision.json."""
    policies = _policy_table(nb, names)
    recommended = str(policies.loc[policies["recommended"], "policy"].iloc[0])
    joint = voi.conditional_mean(nb, x)
    evpi_all = voi.value_of_information(joint.fitted)
    evppi = _evppi_table(nb, x, parameters, evpi_all)
    groups = _evppi_group_table(nb, x, parameters, evpi_all)
    notes = []
    if joint.method.startswith("gp ("):
        notes.append(f"EVPI by a Gaussian process conditioned on a {joint.method.removeprefix('gp (').rstrip(')')} "
                     "(its memory grows with the square of the samples); every sample is predicted")
    clipped = [str(r.parameter) for r in evppi.itertuples() if CLIPPED in str(r.method)]
    if clipped:
        notes.append(f"EVPPI of {', '.join(clipped)} {CLIPPED} (each parameter's own regression found more than "
                     "the regression on all of them; knowing one parameter cannot be worth more than knowing all)")
    return Analysis(policies, recommended, evpi_all, voi.evpi(nb), evppi, notes, groups)


def decision_hash(scenario: Scenario, parameters: Mapping[str, Distribution], samples: int, replications: int,
                   design: str, kpi: str) -> str:
    """SHA-256 of everything a decision run's results depend on (the scenario hash leaves out the table)."""
    body = json.dumps({"scenario": json.loads(canonical_json(scenario)),
                       "uncertainty": {p: d.to_spec() for p, d in parameters.items()},
                       "samples": samples, "replications": replications, "design": design, "kpi": kpi},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


# ---------------------------------------------------------------------------- tables


def _psa_table(runs: pd.DataFrame, values: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """One row per (sample, policy): sample, policy, the sampled values, the KPIs (mean over replications)."""
    kpis = [c for c in runs.columns if c not in ("point", "replication", "policy")]
    means = runs.groupby(["point", "policy"], sort=False)[kpis].mean().reset_index()
    means["_order"] = means["policy"].map({p: i for i, p in enumerate(names)})
    means = means.sort_values(["point", "_order"], kind="stable").drop(columns="_order")
    means = means.rename(columns={"point": "sample"}).reset_index(drop=True)
    sampled = values.reset_index(drop=True).rename_axis("sample").reset_index()
    out = means[["sample", "policy"]].merge(sampled, on="sample", how="left")
    return pd.concat([out, means[kpis]], axis=1)


def _policy_table(nb: np.ndarray, names: list[str]) -> pd.DataFrame:
    n = len(nb)
    best = np.argmax(nb, axis=1)
    p_best = np.bincount(best, minlength=len(names)) / n
    expected = nb.mean(axis=0)
    table = pd.DataFrame({
        "policy": names,
        "expected_value": expected,
        "prob_best": p_best,
        "prob_best_se": np.sqrt(p_best * (1 - p_best) / n),
        "expected_loss": voi.expected_loss(nb),
    })
    table["recommended"] = np.arange(len(names)) == int(np.argmax(expected))
    bounds = [prob_best_interval(p, n) for p in p_best]
    table["prob_best_low"], table["prob_best_high"] = [b[0] for b in bounds], [b[1] for b in bounds]
    return table


GROUP_COLUMNS = ["group", "parameters", "evppi_usd", "share_of_evpi", "method"]


def _evppi_group_table(nb: np.ndarray, x: np.ndarray, parameters: Mapping[str, Distribution],
                       evpi_all: float) -> pd.DataFrame:
    """EVPPI of each named group of assumptions (``sim.params.groups``) with two or more uncertain
    parameters, learnt together (one regression on the group's inputs: it sees their interactions,
    which the single EVPPIs miss); clipped to the EVPI. Highest first."""
    paths = list(parameters)
    rows = []
    for name, members in grouped(paths).items():
        if len(members) < 2:
            continue
        cm = voi.conditional_mean(nb, x[:, [paths.index(m) for m in members]])
        value, method = voi.value_of_information(cm.fitted), cm.method
        if value > evpi_all:
            value, method = evpi_all, f"{method}, {CLIPPED}"
        rows.append({"group": name, "parameters": ", ".join(members), "evppi_usd": value,
                     "share_of_evpi": value / evpi_all if evpi_all > 0 else float("nan"), "method": method})
    table = pd.DataFrame(rows, columns=GROUP_COLUMNS)
    return table.sort_values("evppi_usd", ascending=False, kind="stable").reset_index(drop=True)


def _evppi_table(nb: np.ndarray, x: np.ndarray, parameters: Mapping[str, Distribution],
                 evpi_all: float) -> pd.DataFrame:
    rows = []
    for j, (path, dist) in enumerate(parameters.items()):
        cm = voi.conditional_mean(nb, x[:, j])
        value = voi.value_of_information(cm.fitted)
        method = cm.method
        if value > evpi_all:  # two regressions of different flexibility: never report more than the whole
            value, method = evpi_all, f"{method}, {CLIPPED}"
        rows.append({"parameter": path, "evppi_usd": value,
                     "share_of_evpi": value / evpi_all if evpi_all > 0 else float("nan"),
                     "method": method, "distribution": str(dist), "evppi_se": voi.evppi_se(nb, x[:, j])})
    table = pd.DataFrame(rows, columns=EVPPI_COLUMNS)
    return table.sort_values("evppi_usd", ascending=False, kind="stable").reset_index(drop=True)


def _axis(column: np.ndarray, dist: Distribution) -> np.ndarray:
    if dist.discrete:
        return np.unique(column)
    return np.linspace(column.min(), column.max(), MAP_GRID)


def decision_map_table(nb: np.ndarray, x: np.ndarray, parameters: Mapping[str, Distribution], evppi: pd.DataFrame,
                  names: list[str]) -> pd.DataFrame | None:
    """Best policy (by the fitted expected value, among the policies best in at least one sampled
    world) on a grid over the two highest-EVPPI parameters."""
    if len(evppi) < 2:
        return None
    paths = list(parameters)
    a, b = (paths.index(p) for p in evppi["parameter"].iloc[:2])
    cm = voi.conditional_mean(nb, x[:, [a, b]], method="gam")
    ga, gb = _axis(x[:, a], parameters[paths[a]]), _axis(x[:, b], parameters[paths[b]])
    mesh_a, mesh_b = np.meshgrid(ga, gb, indexing="ij")
    grid = np.column_stack([mesh_a.ravel(), mesh_b.ravel()])
    fitted = cm.predict(grid)
    # Only a policy that is best in some sampled world may claim a region: the fitted surfaces can
    # put one on top where no sample does (between samples, at the grid's edges).
    won = np.isin(np.arange(len(names)), nb.argmax(axis=1))
    best = np.where(won, fitted, -np.inf).argmax(axis=1)
    out = pd.DataFrame({"x": grid[:, 0], "y": grid[:, 1], "best": [names[i] for i in best]})
    for j, name in enumerate(names):
        out[f"value_{name}"] = fitted[:, j]
    out.attrs = {"x": paths[a], "y": paths[b],
                 # a non-numeric choice is on the grid by its position: these name the positions
                 "x_categories": _categories(parameters[paths[a]]), "y_categories": _categories(parameters[paths[b]])}
    return out


def _categories(dist: Distribution) -> list[Any] | None:
    """The values of a non-numeric choice in the order :func:`numeric_inputs` numbers them."""
    return [as_python(v) for v in dist.values] if isinstance(dist, Choice) and not dist.numeric else None


# ---------------------------------------------------------------------------- Sobol indices


def sobol_indices(parameters: Mapping[str, Distribution], evaluate: Callable[[pd.DataFrame], np.ndarray], *,
                  n_base: int, seed: int) -> pd.DataFrame:
    """Sobol first-order (S1) and total (ST) indices of ``evaluate`` over the parameters' distributions.

    A Saltelli design of ``n_base`` x (k + 2) points (SALib, scrambled Sobol sequence) on the unit
    cube is mapped through each distribution's inverse CDF; ``evaluate`` gets the parameter values
    (one row per point) and returns one number per point. ``S1_conf``/``ST_conf``: 95% bootstrap
    half-widths. Rows sorted by ST, largest first.
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    paths = list(parameters)
    problem = {"num_vars": len(paths), "names": paths, "bounds": [[0.0, 1.0]] * len(paths)}
    design_seed, ci_seed = np.random.SeedSequence(seed, spawn_key=(stream_key("sobol"),)).generate_state(2)
    with warnings.catch_warnings():  # SALib warns when n_base is not a power of two
        warnings.simplefilter("ignore")
        u = sobol_sample.sample(problem, n_base, calc_second_order=False, scramble=True, seed=int(design_seed))
    u = np.clip(u, 0.0, np.nextafter(1.0, 0.0))
    y = np.asarray(evaluate(draw(parameters, u)), dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sobol_analyze.analyze(problem, y, calc_second_order=False, print_to_console=False, seed=int(ci_seed))
    table = pd.DataFrame({"parameter": paths, "S1": res["S1"], "S1_conf": res["S1_conf"],
                          "ST": res["ST"], "ST_conf": res["ST_conf"]})
    table = table.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)
    table.attrs = {"points": len(u), "base_samples": n_base}
    return table


def _sobol(runner: _Runner, parameters: Mapping[str, Distribution], policies: pd.DataFrame, kpi: str,
           n_base: int, replications: int, seed: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Sobol indices of value(leader) - value(runner-up), every design point run with the same replications."""
    ranked = policies.sort_values("expected_value", ascending=False, kind="stable")["policy"].tolist()
    leader, second = ranked[0], ranked[1]
    pair = _Runner(runner.scenario, [leader, second], runner.executor, runner.on_progress, runner.total)
    pair.done = runner.done

    def gap(values: pd.DataFrame) -> np.ndarray:
        pair.validate(values)
        runs = pair.run(values, lambda i: range(replications))  # same streams at every point
        wide = runs.groupby(["point", "policy"])[kpi].mean().unstack("policy").sort_index()
        return (wide[leader] - wide[second]).to_numpy(dtype=float)

    table = sobol_indices(parameters, gap, n_base=n_base, seed=seed)
    runner.done = pair.done
    meta = {"difference": f"{leader} - {second}", "leader": leader, "runner_up": second,
            "base_samples": n_base, "points": table.attrs["points"], "kpi": kpi}
    table.attrs = dict(meta)
    return table, meta
