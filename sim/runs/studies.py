"""Experiments over a scenario: parameter sweeps, break-even, sensitivity (tornado), staffing.

Where it sits: scenario -> **analysis** (built on ``experiment`` jobs and ``executors``)
-> tables for plots, the CLI and the app. Every function takes keyword arguments and
returns pandas tables; none prints or writes files (the CLI does, via ``sim.output.files``).

Common random numbers throughout: replication r uses the same random streams at every
grid point and for every policy, so differences between policies *and* between
parameter values are paired, and curves are smooth rather than noisy.

A parameter is named by its path, as in ``--set``: ``support.agents``,
``customers.segments.0.issue_rate_per_month``. A base path is set in the base parameters
and in every policy that overrides it (so sweeping ``pricing.per_ticket_fee_usd`` moves the
per-ticket policy's own fee); ``policies.NAME.path`` sets it for one policy only; in
:func:`sensitivity`, ``customers.segments.*.field`` scales the field in every segment.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.params.scenario import (
    ScenarioError,
    allowed_range,
    reference_policy,
    resolve_policies,
    set_path,
    validate_dict,
)
from sim.params.schema import Params, Scenario
from sim.params.uncertainty import Choice, Distribution, Rounded
from sim.params.walk import acts_when, field_info
from sim.runs import guardrails, metrics
from sim.runs.executors import Executor, use_executor
from sim.runs.experiment import Job, run_job_kpis

KPI_NAMES = list(metrics.KPIS)

# The main behavioural parameters of the tornado: (path, label, documented range or None).
# A documented range replaces +-delta when ``documented_ranges`` is on.
SENSITIVITY_PARAMETERS: tuple[tuple[str, str, tuple[float, float] | None], ...] = (
    ("customers.segments.*.issue_rate_per_month", "Issues per customer-month", None),
    ("customers.segments.*.fee_sensitivity_per_usd", "Fee sensitivity (demand suppression)", None),
    ("customers.segments.*.base_churn_per_month", "Base churn per month", None),
    ("help_seeking.base_ask_prob", "P(ask for help) when free", None),
    ("help_seeking.self_resolve_prob", "P(issue resolves itself)", None),
    ("satisfaction.p_down_unresolved", "Ladder down per unresolved issue", None),
    ("satisfaction.late_half_ratio", "Lateness that costs half an unresolved issue", (1.25, 8.0)),
    ("satisfaction.recovery_gain", "Recovery paradox (up per issue resolved in time)", (0.0, 0.05)),  # [dematos2007]
    ("satisfaction.relief_above_meet", "Loyalty above 'meet' (share of the articles' claim)", (0.0, 1.0)),
    ("satisfaction.market_norm_h", "Market norm for a first response", (4.0, 24.0)),
    ("demand.wtp_sigma", "Spread of willingness to pay", (0.3, 1.0)),
    ("satisfaction.resentment_per_usd", "Resentment per USD of fees", None),
    ("churn.switching_ease", "Ease of switching", None),
    ("wom.referral_rate_wow", "Referrals per 'wow' customer", None),
    ("wom.negative_per_unhappy_churner", "Negative word of mouth", None),
    ("acquisition.cac_multiple", "Acquisition cost multiple", (6.0, 7.0)),  # [article-flat-vs-tiered]: 6-7x
    ("support.handle_time_mean_h", "Handle time per ticket", None),
    ("support.agent_cost_usd_per_hour", "Agent cost per hour", None),
    ("support.patience_mean_h", "Customer patience", None),
)


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`sweep`; ``tidy`` holds the runs that finished (``attrs["partial"]``)."""

    def __init__(self, tidy: pd.DataFrame) -> None:
        super().__init__(f"{len(tidy)} finished runs kept (partial)")
        self.tidy = tidy


# ---------------------------------------------------------------------------- parameter paths


def _bounds(path: str) -> tuple[float, float, bool]:
    """Allowed (low, high) of a numeric parameter and whether it is an integer."""
    info = field_info(path)
    lo, hi = -math.inf, math.inf
    if info is not None:
        for m in info.metadata:
            for attr in ("ge", "gt"):
                if getattr(m, attr, None) is not None:
                    lo = float(getattr(m, attr))
            if getattr(m, "le", None) is not None:
                hi = float(m.le)
    is_int = info is not None and info.annotation is int
    return lo, hi, is_int


def _get(data: Any, path: str) -> Any:
    node = data
    for part in path.split("."):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(path)
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(path)
    return node


def _has(data: Any, path: str) -> bool:
    try:
        _get(data, path)
    except KeyError:
        return False
    return True


def _expand(data: dict[str, Any], path: str) -> list[str]:
    """``a.*.b`` as one concrete path per list item (``a.0.b``, ``a.1.b`` ...)."""
    if "*" not in path.split("."):
        return [path]
    head, _, tail = path.partition(".*")
    try:
        items = _get(data, head)
    except KeyError:
        raise ScenarioError([f"{path}: no list at {head!r}"], "--param") from None
    if not isinstance(items, list):
        raise ScenarioError([f"{path}: {head!r} is not a list; '*' stands for every item of a list"], "--param")
    return [p for i in range(len(items)) for p in _expand(data, f"{head}.{i}{tail}")]


def with_values(scenario: Scenario, values: Mapping[str, Any], *, source: str = "--param") -> Scenario:
    """A copy of ``scenario`` with each parameter path set to its value, validated like the file.

    A base path is also set inside every policy that overrides it; ``policies.NAME.path``
    sets one policy only. Bad paths or values raise :class:`ScenarioError` naming the
    field and its allowed range.
    """
    if not values:
        return scenario
    data = scenario.model_dump(mode="python")
    expanded: dict[str, Any] = {}
    for path, value in values.items():
        if not isinstance(path, str) or not path or any(not p for p in path.split(".")):
            raise ScenarioError([f"{path!r}: expected a parameter path like support.agents"], source)
        expanded.update(dict.fromkeys(_expand(data, path), value))
    for path, value in expanded.items():
        if path.startswith("policies."):
            name = path.split(".")[1]
            if name not in data["policies"]:
                raise ScenarioError([f"{path}: no policy named {name!r}; policies: {', '.join(data['policies'])}"],
                                    source)
            _set(data, path, value, source)
            continue
        _set(data, path, value, source)
        for override in data["policies"].values():
            if _has(override, path):
                _set(override, path, value, source)
    return validate_dict(data, None, source)


def _set(data: dict[str, Any], path: str, value: Any, source: str) -> None:
    try:
        set_path(data, path, value)
    except (TypeError, AttributeError):
        raise ScenarioError([f"{path}: cannot set a value inside a non-table"], source) from None


_NUMBER = r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?"


def parse_values(spec: str, *, name: str = "--param") -> list[Any]:
    """``4:16:2`` (start:stop:step, stop included), ``4:16`` (step 1) or ``a,b,c``."""
    text = spec.strip()
    if re.fullmatch(rf"{_NUMBER}:{_NUMBER}(:{_NUMBER})?", text):
        parts = text.split(":")
        as_int = all(re.fullmatch(r"[-+]?\d+", p) for p in parts)
        conv = int if as_int else float
        start, stop = conv(parts[0]), conv(parts[1])
        step = conv(parts[2]) if len(parts) == 3 else 1
        if step <= 0:
            raise ScenarioError([f"{name} {spec!r}: the step must be positive"], name)
        if stop < start:
            raise ScenarioError([f"{name} {spec!r}: start must not exceed stop"], name)
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        if count > 1000:
            raise ScenarioError([f"{name} {spec!r}: {count} values; at most 1000 per parameter"], name)
        return [start + i * step if as_int else float(f"{start + i * step:.12g}") for i in range(count)]
    items = [s.strip() for s in text.split(",")]
    if not text or any(not s for s in items):
        raise ScenarioError([f"{name} {spec!r}: expected start:stop[:step] or a comma-separated list"], name)
    out: list[Any] = []
    for s in items:
        if re.fullmatch(r"[-+]?\d+", s):
            out.append(int(s))
        elif re.fullmatch(_NUMBER, s):
            out.append(float(s))
        elif s.lower() in ("true", "false"):
            out.append(s.lower() == "true")
        else:
            out.append(s)
    return out


def parse_grid_arg(arg: str) -> tuple[str, list[Any]]:
    """``path=values`` as given to ``--param``."""
    if "=" not in arg:
        raise ScenarioError([f"--param {arg!r}: expected path=values, e.g. support.agents=4:16:2"], "--param")
    path, spec = arg.split("=", 1)
    return path.strip(), parse_values(spec, name=f"--param {path.strip()}")


# ---------------------------------------------------------------------------- what a parameter can move

# Sections of a scenario file that are not model parameters: no run reads them from a point's values.
NOT_PARAMETERS = ("scenario", "run", "uncertainty")


def _attr(params: Any, path: str) -> Any:
    for part in path.split("."):
        params = getattr(params, part)
    return params


def acting_switch(param: str) -> tuple[str, tuple[Any, ...]] | None:
    """(switch, values where it acts) of a parameter that acts only under some settings, else None:
    what the schema declares (:func:`sim.params.walk.acts_when`)."""
    return acts_when(param)


def acts_on(param: str, policy: Any) -> bool:
    """Whether base parameter ``param`` can change the results of ``policy`` (a resolved policy):
    False when it belongs to a scheme or programme the policy does not use (:func:`acting_switch`)."""
    rule = acting_switch(param)
    return rule is None or _attr(policy.params, rule[0]) in rule[1]


def _base_path(path: str) -> str:
    """``policies.NAME.rest`` -> ``rest``; a base path as it is."""
    parts = path.split(".")
    return ".".join(parts[2:]) if parts[0] == "policies" and len(parts) > 2 else path


def check_movable(scenario: Scenario, path: str, policies: Sequence[str] | None = None, *,
                  flag: str = "--param") -> None:
    """Refuse (:class:`ScenarioError`, naming the path) a parameter a sweep or break-even cannot move:
    a scenario, run or uncertainty setting (no run reads it from a point), a path that is no
    parameter, a parameter that is not a number (a choice, a switch, text: compare those as
    policies), and one that acts on none of ``policies`` (default: every policy; e.g. a per-ticket
    fee when no policy charges per ticket, or ``policies.NAME.x`` for a policy not compared)."""
    resolved = {p.name: p for p in resolve_policies(scenario)}
    chosen = list(policies) if policies is not None else list(resolved)
    head = path.split(".", 1)[0]
    if head in NOT_PARAMETERS:
        raise ScenarioError([f"{flag} {path}: a {head}.* setting, not a model parameter: no run reads it from a "
                             f"point's values; set it with --set {path}=VALUE"], flag)
    info = field_info(path)
    if info is None or "*" in path.split("."):
        if "*" not in path.split("."):
            with_values(scenario, {path: 0}, source=flag)  # the loader's own message ("did you mean ...?")
        raise ScenarioError([f"{flag} {path}: no such parameter (a path like support.agents or "
                             "customers.segments.0.issue_rate_per_month; see `supportsim schema`)"], flag)
    if info.annotation is bool or info.annotation not in (int, float):
        what = "a switch: true or false" if info.annotation is bool else (allowed_range(info) or "not a number")
        raise ScenarioError([f"{flag} {path}: not a numeric parameter ({what}); a sweep or break-even moves a "
                             f"number. Compare its values as policies ([policies.NAME] {_base_path(path)} = ...) or "
                             f"run each with --set {path}=VALUE"], flag)
    parts = path.split(".")
    if parts[0] == "policies":
        name = parts[1] if len(parts) > 1 else ""
        if name not in chosen:
            raise ScenarioError([f"{flag} {path}: policy {name!r} is not among those compared "
                                 f"({', '.join(chosen)}), so moving it changes nothing"], flag)
        targets = [name]
    else:
        targets = chosen
    base = _base_path(path)
    rule = acting_switch(base)
    if rule is not None and not any(acts_on(base, resolved[n]) for n in targets if n in resolved):
        switch, values = rule
        users = [n for n, p in resolved.items() if acts_on(base, p)]
        hint = (f"it acts on {', '.join(users)}" if users else "no policy of this scenario uses it")
        hint += f" (or add --set {switch}={str(values[0]).lower()})"
        raise ScenarioError([f"{flag} {path}: acts only when {switch} is "
                             f"{' or '.join(str(v).lower() for v in values)}, which none of {', '.join(targets)} has, "
                             f"so it cannot change their results; {hint}"], flag)


# ---------------------------------------------------------------------------- the dearest corner of a table

QUANTILE = 1e-3  # an unbounded distribution's ends for the worst case: its 0.1% and 99.9% quantiles


def _ends(dist: Distribution) -> list[Any]:
    """The values of an uncertain parameter the worst case tries: a choice's values, else both ends
    of its support (the 0.1% / 99.9% quantile where the support is unbounded), rounded for a
    whole-number parameter."""
    if isinstance(dist, Choice):
        return [v.item() if isinstance(v, np.generic) else v for v in dist.values]
    lo, hi = dist.support
    q_lo, q_hi = (float(v) for v in np.asarray(dist.ppf(np.array([QUANTILE, 1 - QUANTILE])), dtype=float))
    ends = [lo if math.isfinite(lo) else q_lo, hi if math.isfinite(hi) else q_hi]
    if isinstance(dist, Rounded):
        return [int(round(v)) for v in ends]
    return ends


def worst_case(scenario: Scenario, parameters: Mapping[str, Distribution],
               policies: Sequence[str] | None = None) -> tuple[Scenario, dict[str, Any]]:
    """``scenario`` with every uncertain parameter at the end of its range that makes the work of
    ``policies`` (default: all) largest, and those values: what each PSA sample is costed at by
    the guardrail. A coordinate search over the ends (:func:`_ends`), repeated until no parameter
    changes (at most 3 rounds); combinations the schema refuses (e.g. min_agents above
    max_agents) are skipped."""
    months = scenario.run.months

    def total(values: dict[str, Any]) -> tuple[float, Scenario | None]:
        try:
            sc = with_values(scenario, values, source="uncertainty")
        except ScenarioError:
            return -math.inf, None
        return sum(guardrails.policy_work(p.params, months) for p in resolve_policies(sc)
                   if policies is None or p.name in policies), sc

    chosen: dict[str, Any] = {}
    best, best_sc = total(chosen)
    for _ in range(3):
        changed = False
        for path, dist in parameters.items():
            for value in _ends(dist):
                if path in chosen and value == chosen[path]:
                    continue
                w, sc = total({**chosen, path: value})
                if w > best:
                    best, best_sc, chosen, changed = w, sc, {**chosen, path: value}, True
        if not changed:
            break
    return (best_sc if best_sc is not None else scenario), chosen


# ---------------------------------------------------------------------------- evaluation engine


@dataclass(frozen=True)
class _Cell:
    """One policy at one set of parameter values."""

    values: tuple[tuple[str, Any], ...]
    policy: str


class _Progress:
    def __init__(self, on_progress: Callable[[int, int], None] | None) -> None:
        self.on_progress = on_progress
        self.done = 0
        self.total = 0

    def grow(self, n: int) -> None:
        self.total += n
        if self.on_progress:
            self.on_progress(self.done, self.total)

    def step(self) -> None:
        self.done += 1
        if self.on_progress:
            self.on_progress(self.done, self.total)


class _Engine:
    """Runs cells x replications on one executor; scenarios for each value set are cached."""

    def __init__(self, scenario: Scenario, *, replications: int | None, seed: int | None, crn: bool,
                 executor: Executor, progress: _Progress,
                 resolved: Mapping[tuple[tuple[str, Any], ...], dict[str, Params]] | None = None) -> None:
        self.scenario = scenario
        self.replications = replications or scenario.run.replications
        self.seed = scenario.run.seed if seed is None else seed
        self.months = scenario.run.months
        self.crn = crn
        self.executor = executor
        self.progress = progress
        self._params: dict[tuple[tuple[str, Any], ...], dict[str, Params]] = dict(resolved or {})
        self._ids: dict[tuple[tuple[str, Any], ...], int] = {k: i for i, k in enumerate(self._params)}

    def params(self, values: tuple[tuple[str, Any], ...]) -> dict[str, Params]:
        """Resolved parameters of every policy at ``values`` (validated once, then cached)."""
        if values not in self._params:
            sc = with_values(self.scenario, dict(values))
            self._params[values] = {p.name: p.params for p in resolve_policies(sc)}
            self._ids[values] = len(self._ids)
        return self._params[values]

    def point(self, values: tuple[tuple[str, Any], ...]) -> int:
        """The ``_point`` id of a set of values in the tables :meth:`run` returns."""
        self.params(values)
        return self._ids[values]

    def run(self, cells: Sequence[_Cell], partial: list[dict[str, Any]] | None = None) -> pd.DataFrame:
        """One row per cell x replication: ``_point`` (see :meth:`point`), ``_values``, policy,
        replication, KPIs and :func:`sim.runs.experiment.run_aggregates`."""
        job_list: list[tuple[_Cell, Job]] = []
        for r in range(self.replications):
            for cell in cells:
                params = self.params(cell.values)[cell.policy]
                job_list.append((cell, Job(cell.policy, r, params, self.months, self.seed, self.crn)))
        self.progress.grow(len(job_list))
        rows = partial if partial is not None else []
        for i, out in self.executor.imap_unordered(run_job_kpis, [j for _, j in job_list]):
            cell, job = job_list[i]
            rows.append({"_point": self._ids[cell.values], "_values": cell.values, "policy": cell.policy,
                         "replication": job.replication, **out})
            self.progress.step()
        return pd.DataFrame(rows)


def _check_policies(scenario: Scenario, wanted: Iterable[str] | None) -> list[str]:
    names = [p.name for p in resolve_policies(scenario)]
    if wanted is None:
        return names
    wanted = list(wanted)
    bad = [w for w in wanted if w not in names]
    if bad or not wanted:
        raise ScenarioError([f"--policies: unknown policy {', '.join(map(repr, bad)) or '(none given)'}; "
                             f"allowed values: {', '.join(names)}"], "--policies")
    return [n for n in names if n in wanted] if len(set(wanted)) == len(wanted) else wanted


def _check_kpi(kpi: str) -> str:
    if kpi not in metrics.KPIS:
        raise ScenarioError([f"--kpi: unknown KPI {kpi!r}; allowed values: {', '.join(metrics.KPIS)}"], "--kpi")
    return kpi


Key = tuple[tuple[str, Any], ...]


def _label(key: Key) -> str:
    return " at " + ", ".join(f"{p}={v}" for p, v in key) if key else ""


def _check_points(scenario: Scenario, policies: Sequence[str], keys: Sequence[Key], replications: int,
                  limit: int | None, *, more_runs: int = 0, counted: str, reduce: str) -> dict[Key, dict[str, Params]]:
    """The guardrail of :mod:`sim.runs.guardrails` over every point of a study, each with its own
    parameters (a point whose values compound the funnel or overload the desk costs what it
    costs, not what the base scenario would), ``replications`` runs of each of ``policies`` per
    point, and ``more_runs`` runs per policy beyond them (bisection points, counted at the
    dearest point). Returns every point's resolved parameters (validated once, for the engine)."""
    months = scenario.run.months
    runs = len(policies) * (len(keys) * replications + more_runs)
    floor = (guardrails.RUN_COST + guardrails.MONTH_COST * months) * runs  # fixed costs alone
    if floor > (guardrails.max_work() if limit is None else limit):  # refused before resolving every point
        guardrails.check_parts(guardrails.parts_of(scenario, runs // max(len(policies), 1), policies=list(policies)),
                               limit=limit, counted=counted, reduce=reduce)
    resolved: dict[Key, dict[str, Params]] = {}
    for key in keys:
        if key not in resolved:
            sc = with_values(scenario, dict(key))
            resolved[key] = {p.name: p.params for p in resolve_policies(sc)}
    parts = [guardrails.Part(f"{name!r}{_label(key)}", guardrails.population_bound(params[name], months),
                             replications)
             for key, params in resolved.items() for name in policies]
    if more_runs and parts:
        dearest = max(parts, key=lambda p: p.estimate.work)
        parts += [guardrails.Part(f"{dearest.what} (bisection)", dearest.estimate, more_runs)]
    guardrails.check_parts(parts, limit=limit, counted=counted, reduce=reduce)
    return resolved


def _interval(x: pd.Series | np.ndarray) -> dict[str, float]:
    return metrics.t_interval(np.asarray(x, dtype=float))


def _paired(df: pd.DataFrame, kpi: str, policy_a: str, policy_b: str) -> dict[str, float]:
    """t-interval of kpi(policy_b) - kpi(policy_a), paired by replication."""
    a = df[df["policy"] == policy_a].set_index("replication")[kpi]
    b = df[df["policy"] == policy_b].set_index("replication")[kpi]
    common = a.index.intersection(b.index)
    return _interval(b.loc[common] - a.loc[common])


def _run_options(scenario: Scenario, workers: int, cluster: str | None, executor: Executor | None) -> Executor:
    return use_executor(executor, workers=workers, cluster=cluster)


# ---------------------------------------------------------------------------- sweep


def sweep(
    scenario: Scenario,
    *,
    grid: Mapping[str, Sequence[Any]],
    policies: Sequence[str] | None = None,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    cluster: str | None = None,
    executor: Executor | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    max_work: int | None = None,
    crn: bool = True,
) -> pd.DataFrame:
    """Run every policy at every point of a 1-D or 2-D grid; the tidy per-replication table.

    ``grid`` maps one or two parameter paths to their values (the full product is run).
    Columns: each parameter path, ``policy``, ``replication``, then one column per KPI of
    :data:`sim.runs.metrics.KPIS`. ``attrs``: params, policies, reference, seed, replications,
    partial. Summaries: :func:`sweep_summary`, :func:`sweep_differences`.
    On Ctrl-C raises :class:`SweepInterrupted` carrying the runs that finished.
    """
    paths = list(grid)
    if not 1 <= len(paths) <= 2:
        raise ScenarioError([f"--param: give one or two parameters to sweep (got {len(paths)})"], "--param")
    for path in paths:
        if not list(grid[path]):
            raise ScenarioError([f"--param {path}: no values"], "--param")
    names = _check_policies(scenario, policies)
    for path in paths:
        check_movable(scenario, path, names)
    points = [tuple(zip(paths, combo)) for combo in itertools.product(*(list(grid[p]) for p in paths))]
    reps = replications or scenario.run.replications
    resolved = _check_points(scenario, names, points, reps, max_work,  # every point validated and costed first
                             counted=f"{len(points)} points x {len(names)} policies x {reps} replications",
                             reduce="Use fewer values, policies or replications, or narrower values")
    progress = _Progress(on_progress)
    rows: list[dict[str, Any]] = []
    attrs = {"params": paths, "policies": names, "reference": _reference(scenario, names),
             "seed": scenario.run.seed if seed is None else seed, "replications": reps, "partial": False}
    with _run_options(scenario, workers, cluster, executor) as ex:
        engine = _Engine(scenario, replications=reps, seed=seed, crn=crn, executor=ex, progress=progress,
                         resolved=resolved)
        try:
            engine.run([_Cell(pt, p) for pt in points for p in names], partial=rows)
        except KeyboardInterrupt:
            tidy = _tidy(rows, paths, names, points)
            tidy.attrs = {**attrs, "partial": True}
            raise SweepInterrupted(tidy) from None
    tidy = _tidy(rows, paths, names, points)
    tidy.attrs = attrs
    return tidy


def _reference(scenario: Scenario, names: Sequence[str]) -> str:
    ref = reference_policy(scenario)
    return ref if ref in names else names[0]


def _tidy(rows: list[dict[str, Any]], paths: list[str], names: list[str], points: list[tuple]) -> pd.DataFrame:
    columns = [*paths, "policy", "replication", *KPI_NAMES]
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows)
    point_idx = {pt: i for i, pt in enumerate(points)}
    pol_idx = {p: i for i, p in enumerate(names)}
    df["_p"] = df["_values"].map(point_idx)
    df["_q"] = df["policy"].map(pol_idx)
    df = df.sort_values(["_p", "_q", "replication"], kind="stable")
    for j, path in enumerate(paths):
        df[path] = [v[j][1] for v in df["_values"]]
    return df[columns].reset_index(drop=True)


def sweep_summary(tidy: pd.DataFrame, *, params: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (grid point, policy, KPI): mean, ci_low, ci_high (95% t-interval), n."""
    params = list(params or tidy.attrs.get("params") or _param_columns(tidy))
    rows = []
    for key, g in tidy.groupby([*params, "policy"], sort=False):
        key = key if isinstance(key, tuple) else (key,)
        for kpi in KPI_NAMES:
            s = _interval(g[kpi])
            rows.append({**dict(zip([*params, "policy"], key)), "kpi": kpi, "mean": s["mean"],
                         "ci_low": s["ci_low"], "ci_high": s["ci_high"], "n": s["n"]})
    out = pd.DataFrame(rows, columns=[*params, "policy", "kpi", "mean", "ci_low", "ci_high", "n"])
    out.attrs = dict(tidy.attrs)
    return out


def sweep_differences(tidy: pd.DataFrame, *, reference: str | None = None,
                      params: Sequence[str] | None = None) -> pd.DataFrame:
    """Per (grid point, policy other than ``reference``, KPI): the paired difference
    policy - reference at that point (mean, ci_low, ci_high, n). Same layout as
    :func:`sweep_summary`."""
    params = list(params or tidy.attrs.get("params") or _param_columns(tidy))
    reference = reference or tidy.attrs.get("reference") or str(tidy["policy"].iloc[0])
    rows = []
    for key, g in tidy.groupby(params, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        for policy in [p for p in pd.unique(g["policy"]) if p != reference]:
            for kpi in KPI_NAMES:
                s = _paired(g, kpi, reference, policy)
                rows.append({**dict(zip(params, key)), "policy": policy, "kpi": kpi, "mean": s["mean"],
                             "ci_low": s["ci_low"], "ci_high": s["ci_high"], "n": s["n"]})
    out = pd.DataFrame(rows, columns=[*params, "policy", "kpi", "mean", "ci_low", "ci_high", "n"])
    out.attrs = {**tidy.attrs, "reference": reference}
    return out


def _param_columns(tidy: pd.DataFrame) -> list[str]:
    return [c for c in tidy.columns if c not in ("policy", "replication", *KPI_NAMES)]


# ---------------------------------------------------------------------------- break-even


def breakeven(
    scenario: Scenario,
    *,
    param: str,
    between: tuple[float, float],
    kpi: str = "value_usd",
    policy_a: str | None = None,
    policy_b: str | None = None,
    points: int = 5,
    refine: int = 4,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    cluster: str | None = None,
    executor: Executor | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    max_work: int | None = None,
) -> pd.DataFrame:
    """Where policy_b and policy_a tie on ``kpi`` as ``param`` moves over ``between``.

    The paired difference policy_b - policy_a (same replications, common random numbers)
    is estimated at ``points`` evenly spaced values, then ``refine`` bisection steps add the
    midpoint of the interval where its mean changes sign. The curve table has columns
    ``value``, ``mean``, ``ci_low``, ``ci_high`` (95% t-interval of the difference).

    ``attrs["breakeven"]``: where the mean curve (linear between evaluated values) crosses
    zero, None if it does not within ``between``. ``attrs["breakeven_ci"]``: the values
    around it at which the 95% interval of the difference still contains zero, i.e. the
    values Monte Carlo noise cannot tell from the break-even ([lo, hi]; an end at a bound
    of ``between`` is marked in ``attrs["breakeven_ci_clipped"]``).
    """
    kpi = _check_kpi(kpi)
    names = [p.name for p in resolve_policies(scenario)]
    policy_a = policy_a or _reference(scenario, names)
    policy_b = policy_b or next((n for n in names if n != policy_a), None)
    pair = _check_policies(scenario, [policy_a, policy_b] if policy_b else [policy_a])
    if len(pair) != 2 or policy_a == policy_b:
        raise ScenarioError(["--policies: need two different policies, e.g. --policies flat,per_ticket"], "--policies")
    check_movable(scenario, param, [policy_a, policy_b])
    lo_v, hi_v = (float(between[0]), float(between[1]))
    if not (math.isfinite(lo_v) and math.isfinite(hi_v)) or lo_v >= hi_v:
        raise ScenarioError([f"--between: expected two numbers A < B (got {between[0]!r}, {between[1]!r})"],
                            "--between")
    if not 2 <= points <= 101:
        raise ScenarioError([f"--points: allowed range [2, 101] (got {points})"], "--points")
    if not 0 <= refine <= 30:
        raise ScenarioError([f"--refine: allowed range [0, 30] (got {refine})"], "--refine")
    _, _, is_int = _bounds(param)
    values = [float(v) for v in np.linspace(lo_v, hi_v, points)]
    if is_int:
        values = sorted({float(round(v)) for v in values})
    reps = replications or scenario.run.replications

    def as_param(v: float) -> Any:
        return int(round(v)) if is_int else v

    resolved = _check_points(scenario, [policy_a, policy_b], [((param, as_param(v)),) for v in values], reps,
                             max_work, more_runs=refine * reps,
                             counted=f"{len(values)} values + up to {refine} bisection steps x 2 policies x {reps} "
                                     "replications",
                             reduce="Use fewer --points, --refine steps or replications, or a narrower --between")
    progress = _Progress(on_progress)
    curve: dict[float, dict[str, float]] = {}
    with _run_options(scenario, workers, cluster, executor) as ex:
        engine = _Engine(scenario, replications=reps, seed=seed, crn=True, executor=ex, progress=progress,
                         resolved=resolved)

        def evaluate(vs: list[float]) -> None:
            cells = [_Cell(((param, as_param(v)),), p) for v in vs for p in (policy_a, policy_b)]
            df = engine.run(cells)
            for v in vs:
                sub = df[df["_point"] == engine.point(((param, as_param(v)),))]
                s = _paired(sub, kpi, policy_a, policy_b)
                curve[v] = {"mean": s["mean"], "ci_low": s["ci_low"], "ci_high": s["ci_high"]}

        evaluate(values)
        for _ in range(refine):
            xs = sorted(curve)
            bracket = _first_sign_change(xs, [curve[x]["mean"] for x in xs])
            if bracket is None:
                break
            mid = (xs[bracket] + xs[bracket + 1]) / 2
            if is_int:
                mid = float(math.floor(mid))
            if mid in curve:
                break
            evaluate([mid])
    table = pd.DataFrame([{"value": v, **curve[v]} for v in sorted(curve)],
                         columns=["value", "mean", "ci_low", "ci_high"])
    table.attrs = {"param": param, "kpi": kpi, "policy_a": policy_a, "policy_b": policy_b,
                   **_breakeven_of(table, lo_v, hi_v), "replications": reps}
    return table


def _sign_changes(xs: Sequence[float], ys: Sequence[float]) -> list[tuple[int, int]]:
    """Pairs (i, j) of consecutive points with a finite, non-zero mean and opposite signs
    (exact zeros between them are skipped: j > i + 1 means the tie itself was evaluated)."""
    idx = [k for k in range(len(xs)) if np.isfinite(ys[k]) and ys[k] != 0]
    return [(i, j) for i, j in zip(idx, idx[1:]) if ys[i] * ys[j] < 0]


def _first_sign_change(xs: Sequence[float], ys: Sequence[float]) -> int | None:
    """Index i of the first pair (i, i+1) whose means have strictly opposite signs, if bisection
    can still narrow it (no evaluated tie in between)."""
    pairs = _sign_changes(xs, ys)
    if pairs and pairs[0][1] == pairs[0][0] + 1:
        return pairs[0][0]
    return None


def _root(x0: float, x1: float, y0: float, y1: float) -> float:
    return x0 if y0 == y1 else x0 + (x1 - x0) * (0 - y0) / (y1 - y0)


def _breakeven_of(table: pd.DataFrame, lo_v: float, hi_v: float) -> dict[str, Any]:
    """Break-even and its Monte Carlo interval from a curve table (see :func:`breakeven`)."""
    xs = table["value"].to_numpy(float)
    mean = table["mean"].to_numpy(float)
    # Sign changes between non-zero means. A mean of exactly 0 between opposite signs is the
    # crossing itself; elsewhere it is two policies behaving identically at that value (a
    # per-ticket fee of 0 is flat pricing), listed under "ties" but not a break-even.
    crossings = [_root(xs[i], xs[j], mean[i], mean[j]) if j == i + 1 else float(np.median(xs[i + 1:j]))
                 for i, j in _sign_changes(xs, mean)]
    out: dict[str, Any] = {"breakeven": None, "breakeven_ci": None, "breakeven_ci_clipped": False,
                           "crossings": [float(c) for c in crossings],
                           "ties": [float(x) for x, m in zip(xs, mean) if m == 0]}
    if not crossings:
        finite = mean[np.isfinite(mean) & (mean != 0)]
        if len(finite):
            out["sign"] = "policy_b ahead everywhere" if (finite > 0).all() else (
                "policy_a ahead everywhere" if (finite < 0).all() else "mixed")
        return out
    star = crossings[0]
    # Where does the interval contain zero? Piecewise-linear band edges on a fine grid.
    fine = np.linspace(xs[0], xs[-1], 4001)
    low = np.interp(fine, xs, table["ci_low"].to_numpy(float))
    high = np.interp(fine, xs, table["ci_high"].to_numpy(float))
    inside = (low <= 0) & (high >= 0)
    if np.isnan(low).any() or np.isnan(high).any():
        out["breakeven"] = float(star)
        return out
    k = int(np.clip(np.searchsorted(fine, star), 0, len(fine) - 1))
    if not inside[k]:  # numerically next to the root: take the nearest point inside
        idx = np.flatnonzero(inside)
        k = int(idx[np.argmin(np.abs(fine[idx] - star))]) if len(idx) else k
    i = j = k
    while i > 0 and inside[i - 1]:
        i -= 1
    while j < len(fine) - 1 and inside[j + 1]:
        j += 1
    out["breakeven"] = float(star)
    out["breakeven_ci"] = [float(fine[i]), float(fine[j])]
    out["breakeven_ci_clipped"] = bool(i == 0 or j == len(fine) - 1)
    return out


# ---------------------------------------------------------------------------- sensitivity


@dataclass(frozen=True)
class _Swing:
    path: str
    label: str
    low: dict[str, Any]  # concrete path -> value
    high: dict[str, Any]
    low_value: float
    high_value: float


def _swing_for(scenario: Scenario, path: str, label: str, delta: float,
               rng: tuple[float, float] | None, fallback: tuple[float, float] | None = None) -> _Swing:
    """The low and high settings of one tornado bar: ``rng``, or base x (1 -+ delta); a base of 0
    takes ``fallback`` (the documented range), since no share of 0 moves it."""
    data = scenario.model_dump(mode="python")
    if path.startswith("policies."):
        name = path.split(".")[1]
        policies = {p.name: p.params for p in resolve_policies(scenario)}
        if name not in policies:
            raise ScenarioError([f"{path}: no policy named {name!r}; policies: {', '.join(policies)}"], "--param")
        base_data = {"policies": {name: policies[name].model_dump(mode="python")}}
    else:
        base_data = data
    concrete = _expand(base_data, path)
    lo_b, hi_b, is_int = _bounds(path)
    low: dict[str, Any] = {}
    high: dict[str, Any] = {}
    for c in concrete:
        try:
            base = _get(base_data, c)
        except KeyError:
            raise ScenarioError([f"{c}: no such parameter"], "--param") from None
        if isinstance(base, bool) or not isinstance(base, (int, float)):
            raise ScenarioError([f"{c}: not a numeric parameter (value {base!r})"], "--param")
        if rng is None and base == 0 and fallback is not None:
            rng = fallback
        if rng is not None:
            lv, hv = float(rng[0]), float(rng[1])
            for v in (lv, hv):
                if not lo_b <= v <= hi_b:
                    raise ScenarioError([f"{c}: {v:g} is out of range; {allowed_range(field_info(path))}"], "--range")
        else:
            if base == 0:
                raise ScenarioError([f"{c}: the base value is 0, so +-{delta:.0%} does not move it; give a range "
                                     f"with --range {path}=LOW:HIGH"], "--param")
            lv, hv = base * (1 - delta), base * (1 + delta)
        lv, hv = max(lo_b, min(hi_b, lv)), max(lo_b, min(hi_b, hv))
        if is_int:
            lv, hv = float(math.floor(lv)), float(math.ceil(hv))
        low[c] = int(lv) if is_int else lv
        high[c] = int(hv) if is_int else hv
    low_value, high_value = _representative(base_data, path, concrete, low), _representative(
        base_data, path, concrete, high)
    return _Swing(path, label, low, high, low_value, high_value)


def _representative(data: dict[str, Any], path: str, concrete: list[str], values: dict[str, Any]) -> float:
    """One number for a (possibly wildcard) parameter: segment-share-weighted mean for
    ``customers.segments.*``, the plain mean for other lists."""
    xs = np.array([float(values[c]) for c in concrete])
    if len(concrete) > 1 and path.startswith("customers.segments.*"):
        shares = np.array([float(_get(data, f"customers.segments.{i}.share")) for i in range(len(concrete))])
        if shares.sum() > 0:
            return float((xs * shares).sum() / shares.sum())
    return float(xs.mean())


def sensitivity(
    scenario: Scenario,
    *,
    kpi: str = "value_usd",
    policy_a: str | None = None,
    policy_b: str | None = None,
    parameters: Sequence[str] | None = None,
    delta: float = 0.2,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    documented_ranges: bool = False,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    cluster: str | None = None,
    executor: Executor | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    max_work: int | None = None,
) -> pd.DataFrame:
    """One-at-a-time sensitivity (tornado) of the paired difference policy_b - policy_a.

    Each parameter (default: :data:`SENSITIVITY_PARAMETERS`) is moved to base x (1 - delta)
    and base x (1 + delta), clipped to its allowed range, or over ``ranges[path]`` (and its
    documented range when ``documented_ranges``); all others stay at base. Columns:
    ``parameter``, ``label``, ``low_value``, ``high_value``, ``base_mean``, ``low_mean``,
    ``low_ci_low``, ``low_ci_high``, ``high_mean``, ``high_ci_low``, ``high_ci_high``,
    ``swing`` (= |high_mean - low_mean|), sorted by swing, largest first. For a
    ``customers.segments.*`` parameter the values shown are share-weighted means.
    """
    kpi = _check_kpi(kpi)
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise ScenarioError([f"--delta: allowed range (0, 1) (got {delta!r})"], "--delta")
    names = [p.name for p in resolve_policies(scenario)]
    policy_a = policy_a or _reference(scenario, names)
    policy_b = policy_b or next((n for n in names if n != policy_a), None)
    pair = _check_policies(scenario, [policy_a, policy_b] if policy_b else [policy_a])
    if len(pair) != 2 or policy_a == policy_b:
        raise ScenarioError(["--policies: need two different policies, e.g. --policies flat,per_ticket"], "--policies")
    labels = {p: lab for p, lab, _ in SENSITIVITY_PARAMETERS}
    documented = {p: r for p, _, r in SENSITIVITY_PARAMETERS if r is not None}
    ranges = dict(ranges or {})
    paths = list(parameters) if parameters is not None else [p for p, _, _ in SENSITIVITY_PARAMETERS]
    paths += [p for p in ranges if p not in paths]
    if not paths:
        raise ScenarioError(["--param: no parameters to vary"], "--param")
    swings = []
    for path in paths:
        rng = ranges.get(path) or (documented.get(path) if documented_ranges else None)
        label = labels.get(path) or path.rsplit(".", 1)[-1].replace("_", " ")
        swings.append(_swing_for(scenario, path, label, delta, rng, documented.get(path)))
    reps = replications or scenario.run.replications
    progress = _Progress(on_progress)
    base_key: tuple[tuple[str, Any], ...] = ()
    keys = [base_key] + [k for s in swings for k in (tuple(s.low.items()), tuple(s.high.items()))]
    resolved = _check_points(scenario, [policy_a, policy_b], keys, reps, max_work,
                             counted=f"{len(keys)} points (base, each parameter low and high) x 2 policies x {reps} "
                                     "replications",
                             reduce="Use fewer parameters or replications, or a smaller --delta or --range")
    with _run_options(scenario, workers, cluster, executor) as ex:
        engine = _Engine(scenario, replications=reps, seed=seed, crn=True, executor=ex, progress=progress,
                         resolved=resolved)
        df = engine.run([_Cell(k, p) for k in keys for p in (policy_a, policy_b)])

    def diff(key: tuple) -> dict[str, float]:
        return _paired(df[df["_point"] == engine.point(key)], kpi, policy_a, policy_b)

    base = diff(base_key)
    rows = []
    for s in swings:
        lo, hi = diff(tuple(s.low.items())), diff(tuple(s.high.items()))
        rows.append({
            "parameter": s.path, "label": s.label, "low_value": s.low_value, "high_value": s.high_value,
            "base_mean": base["mean"], "low_mean": lo["mean"], "low_ci_low": lo["ci_low"],
            "low_ci_high": lo["ci_high"], "high_mean": hi["mean"], "high_ci_low": hi["ci_low"],
            "high_ci_high": hi["ci_high"], "swing": abs(hi["mean"] - lo["mean"]),
        })
    table = pd.DataFrame(rows).sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)
    table.attrs = {"kpi": kpi, "policy_a": policy_a, "policy_b": policy_b, "delta": delta,
                   "base_ci": [base["ci_low"], base["ci_high"]], "replications": reps}
    return table


def parse_range_arg(arg: str) -> tuple[str, tuple[float, float]]:
    """``path=LOW:HIGH`` as given to ``--range``."""
    m = re.fullmatch(rf"\s*([^=\s]+)\s*=\s*({_NUMBER})\s*:\s*({_NUMBER})\s*", arg)
    if not m:
        raise ScenarioError([f"--range {arg!r}: expected path=LOW:HIGH, e.g. churn.switching_ease=0.5:1.5"],
                            "--range")
    lo, hi = float(m.group(2)), float(m.group(6))
    if lo >= hi:
        raise ScenarioError([f"--range {arg!r}: LOW must be below HIGH"], "--range")
    return m.group(1), (lo, hi)


# ---------------------------------------------------------------------------- staffing


def staff(
    scenario: Scenario,
    *,
    sla: float = 0.8,
    agents: Sequence[int] | None = None,
    policies: Sequence[str] | None = None,
    strict: bool = False,
    replications: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    cluster: str | None = None,
    executor: Executor | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    max_work: int | None = None,
) -> pd.DataFrame:
    """The fewest agents (fixed staffing) at which each policy meets the SLA target.

    ``sla``: target share of answered tickets that get a first response within their SLA
    (each ticket's own target: ``support.sla_target_h``, the plan's under tiered, the VIP
    one for VIPs), over the whole run. A count meets it when the mean share across
    replications reaches ``sla`` (``strict``: when the 95% interval's lower end does).
    With ``agents`` every given count is run; otherwise each policy is searched by doubling
    from 1 and then bisecting (the share grows with agents), up to ``support.max_agents``.

    Columns: ``policy``, ``agents``, ``sla_met_share`` (mean), ``ci_low``, ``ci_high``,
    ``support_cost`` (mean per month, USD). ``attrs["answer"]``: policy -> fewest agents
    meeting the target (None if none did); ``attrs["support_cost_at_answer"]`` likewise.
    """
    if not (isinstance(sla, (int, float)) and 0 < sla <= 1):
        raise ScenarioError([f"--sla: allowed range (0, 1] (got {sla!r})"], "--sla")
    names = _check_policies(scenario, policies)
    counts = None
    if agents is not None:
        counts = sorted({int(a) for a in agents})
        if not counts or counts[0] < 1 or counts[-1] > 5000:
            raise ScenarioError([f"--agents: counts must lie in [1, 5000] (got {list(agents)})"], "--agents")
    reps = replications or scenario.run.replications
    cap = max(p.params.support.max_agents for p in resolve_policies(scenario) if p.name in names)
    progress = _Progress(on_progress)
    stats: dict[tuple[str, int], dict[str, float]] = {}

    def key(n: int) -> tuple[tuple[str, Any], ...]:
        return (("support.staffing", "fixed"), ("support.agents", int(n)))

    # the search doubles from 1 agent to the cap, then bisects: each count it may try, and as many
    # bisection steps again at the dearest count (the fewest agents: the longest queue)
    tried = counts if counts is not None else sorted({min(cap, 2**i) for i in range(math.ceil(math.log2(cap)) + 1)})
    resolved = _check_points(scenario, names, [key(n) for n in tried], reps, max_work,
                             more_runs=0 if counts is not None else reps * len(tried),
                             counted=f"{len(tried)} agent counts{'' if counts is not None else ' and the bisection'} x "
                                     f"{len(names)} policies x {reps} replications",
                             reduce="Use fewer --agents counts, policies or replications")

    def meets(s: dict[str, float]) -> bool:
        x = s["ci_low"] if strict else s["mean"]
        return bool(np.isfinite(x) and x >= sla)

    with _run_options(scenario, workers, cluster, executor) as ex:
        engine = _Engine(scenario, replications=reps, seed=seed, crn=True, executor=ex, progress=progress,
                         resolved=resolved)

        def evaluate(cells: list[tuple[str, int]]) -> None:
            cells = [c for c in dict.fromkeys(cells) if c not in stats]
            if not cells:
                return
            df = engine.run([_Cell(key(n), p) for p, n in cells])
            for p, n in cells:
                sub = df[(df["policy"] == p) & (df["_point"] == engine.point(key(n)))]
                s = _interval(sub["sla_met_share"])
                stats[(p, n)] = {**s, "support_cost": float(sub["support_cost_per_month"].mean())}

        if counts is not None:
            for n in counts:
                engine.params(key(n))
            evaluate([(p, n) for n in counts for p in names])
        else:
            # per policy: [lo, hi] with lo failing (or 0) and hi meeting (or None = not found yet)
            state = {p: [0, None, 1] for p in names}  # lo, hi, next count to try while doubling
            while True:
                todo = []
                for p, (lo, hi, nxt) in state.items():
                    if hi is None and nxt is not None:
                        todo.append((p, nxt))
                    elif hi is not None and hi - lo > 1:
                        todo.append((p, (lo + hi) // 2))
                if not todo:
                    break
                for _, n in todo:
                    engine.params(key(n))
                evaluate(todo)
                for p, n in todo:
                    lo, hi, nxt = state[p]
                    if meets(stats[(p, n)]):
                        hi = n if hi is None else min(hi, n)
                        nxt = None
                    else:
                        lo = max(lo, n)
                        if hi is None:
                            nxt = None if n >= cap else min(cap, 2 * n)
                    state[p] = [lo, hi, nxt]
    rows = [{"policy": p, "agents": n, "sla_met_share": s["mean"], "ci_low": s["ci_low"], "ci_high": s["ci_high"],
             "support_cost": s["support_cost"]} for (p, n), s in stats.items()]
    order = {p: i for i, p in enumerate(names)}
    table = pd.DataFrame(rows, columns=["policy", "agents", "sla_met_share", "ci_low", "ci_high", "support_cost"])
    table = table.sort_values(["policy", "agents"], key=lambda s: s.map(order) if s.name == "policy" else s,
                              kind="stable").reset_index(drop=True)
    answer: dict[str, int | None] = {}
    cost: dict[str, float | None] = {}
    for p in names:
        ok = [n for (q, n), s in stats.items() if q == p and meets(s)]
        answer[p] = min(ok) if ok else None
        cost[p] = stats[(p, answer[p])]["support_cost"] if ok else None
    table.attrs = {"sla_target": sla, "strict": strict, "answer": answer, "support_cost_at_answer": cost,
                   "replications": reps, "policies": names}
    return table


