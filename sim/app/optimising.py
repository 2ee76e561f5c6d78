"""What the Optimise tab searches and shows, without the page: levers, requests, checks, files.

Where it sits: the scenario on screen -> **optimising** (:func:`sim.runs.optimise.optimise` on
the app's pool, :mod:`sim.output.optimise_files` for the downloads) -> the Optimise tab
(:mod:`sim.app.optimise_tab`). It never imports Streamlit.

- :data:`LEVERS`: the design levers the tab offers (fees, allowance, price multiplier,
  promises, desk hours and roster, VIP thresholds), each with a default range; those that act
  on the chosen policy (as :func:`sim.runs.search_space.check_dimensions` rules it) are
  offered, the scheme's own pre-selected (:func:`default_levers`).
- :class:`Request`: one optimisation as the tab's controls describe it, as ``optimise``
  keyword arguments and as the ``supportsim optimise`` command that reproduces it.
- :func:`check`: every problem of a request (a bad range naming the field, a constraint, the
  app's workload limit) before anything runs: ``optimise`` itself, stopped at its first run.
"""

from __future__ import annotations

import io
import json
import math
import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from sim.app.sources import Source
from sim.app.studies import analysis_key
from sim.output import files, fmt
from sim.output.optimise_files import guarantee_text, optimum_json, optimum_toml
from sim.output.optimise_plots import OptimiseMeta, plot_convergence, plot_response
from sim.output.optimise_slide import guarantee_line
from sim.params.names import display_name
from sim.params.scenario import ScenarioError, resolve_policies
from sim.params.schema import Scenario, field_bounds
from sim.params.walk import field_info, field_unit
from sim.runs import metrics
from sim.runs.executors import Executor
from sim.runs.optimise import MAX_TRIALS, OptimiseResult, optimise
from sim.runs.options import RunOptions
from sim.runs.search_space import check_dimensions, policy_params

# The tab's defaults: a quick preview. On the baseline (2,000 customers, 24 months) 16 trials x 2
# replications, 3 candidates and the current design re-run on 8 fresh replications each, and the
# selection's sequential stage: 84 model runs, 18-28 s from the click to the result on two cores
# shared with other work (load 3.8-5.3; docs/app.md). `supportsim optimise` defaults to 200 x 4,
# 5 candidates, 20 first-stage replications.
DEFAULT_TRIALS, DEFAULT_REPLICATIONS, DEFAULT_CANDIDATES, DEFAULT_FIRST_STAGE, DEFAULT_MAX_FRESH = 16, 2, 3, 8, 40
MAX_REPLICATIONS = 50
OUT = "results/optimise"


@dataclass(frozen=True)
class Lever:
    """A parameter the tab can search: its default range (``lo``..``hi``, by ratios when
    ``log``) or its ``choices``."""

    path: str
    lo: float = 0.0
    hi: float = 1.0
    log: bool = False
    choices: tuple[Any, ...] = ()

    @property
    def is_int(self) -> bool:
        return not self.choices and field_info(self.path).annotation is int

    @property
    def bounds(self) -> tuple[float, float]:
        """The field's allowed range (a widget's limits); an open end as the bound itself."""
        lo, hi, _ = field_bounds(field_info(self.path))
        return (-math.inf if lo is None else float(lo)), (math.inf if hi is None else float(hi))

    def label(self, scenario: Scenario) -> str:
        """How the tab names it: "Tier SLA, every segment (h)", "VIP SLA (h)", "Open hour (h, local)"."""
        unit = field_unit(self.path).replace(" (", ", ").replace(")", "")
        name = display_name(self.path, scenario)
        silent = unit in ("", "choice", "on/off", "fraction", "probability") or unit.lower() in name.lower()
        shown = "" if silent else f" ({unit})"
        if self.path.startswith("vip.") and "VIP" not in name:
            name = "VIP " + name[:1].lower() + name[1:] if name[1:2].islower() else "VIP " + name
        return name + (", every segment" if ".*." in self.path else "") + shown

    def help(self) -> str:
        info = field_info(self.path)
        lo, hi = self.bounds
        doc = (info.description or "").rstrip(".")
        allowed = "choices" if self.choices else f"allowed {fmt.param(lo)} to {fmt.param(hi)}"
        return f"{doc}. Parameter `{self.path}`; {allowed}."


LEVERS: tuple[Lever, ...] = (
    Lever("pricing.per_ticket_fee_usd", 0.0, 60.0),
    Lever("pricing.per_hour_fee_usd", 0.0, 150.0),
    Lever("pricing.included_tickets_per_month", 0, 10),
    Lever("pricing.price_multiplier", 0.7, 1.5),
    Lever("pricing.support_fee_usd_per_month", 0.0, 200.0),
    Lever("customers.segments.*.tier_sla_h", 2.0, 48.0, log=True),
    Lever("customers.segments.*.tier_ticket_fee_usd", 0.0, 60.0),
    Lever("support.sla_target_h", 1.0, 48.0, log=True),
    Lever("support.hours", choices=("24/7", "weekly")),
    Lever("support.open_hour", 6, 10),
    Lever("support.close_hour", 16, 22),
    Lever("support.open_days", 5, 7),
    Lever("support.agents", 1, 20),
    Lever("support.staffing_service_level", 0.5, 0.95),
    Lever("vip.sla_h", 0.5, 8.0, log=True),
    Lever("vip.min_funding_usd", 1e6, 1e8, log=True),
    Lever("vip.manual_capacity", 0, 500),
)
BY_PATH = {lv.path: lv for lv in LEVERS}
SCHEME_DEFAULTS = {
    "per_ticket": ("pricing.per_ticket_fee_usd", "pricing.included_tickets_per_month", "pricing.price_multiplier"),
    "per_hour": ("pricing.per_hour_fee_usd", "pricing.included_tickets_per_month", "pricing.price_multiplier"),
    "tiered": ("customers.segments.*.tier_sla_h", "pricing.price_multiplier"),
    "flat": ("pricing.price_multiplier", "support.sla_target_h"),
}


def number(lever: Lever, x: float) -> int | float:
    """A range end as its widget holds it: an int for a whole-number field."""
    return int(x) if lever.is_int else float(x)


def spec(lever: Lever) -> dict[str, Any]:
    return {"choices": lever.choices} if lever.choices else {"low": float(lever.lo), "high": float(lever.hi),
                                                             "int": False, "log": lever.log}


def levers_for(scenario: Scenario, policy: str) -> list[Lever]:
    """The levers that act on ``policy`` as it stands (a fee its scheme never charges is left out)."""
    params = policy_params(scenario, policy)
    out = []
    for lv in LEVERS:
        try:
            check_dimensions([(lv.path, spec(lv))], policy=policy, params=params)
        except ScenarioError:
            continue
        out.append(lv)
    return out


def default_levers(scenario: Scenario, policy: str, offered: Sequence[Lever]) -> list[str]:
    """The pre-selected levers: the policy's scheme's own (its fee, allowance, price), as offered."""
    scheme = policy_params(scenario, policy).pricing.scheme
    paths = {lv.path for lv in offered}
    chosen = [p for p in SCHEME_DEFAULTS.get(scheme, ()) if p in paths]
    return chosen or [lv.path for lv in offered[:1]]


def default_policy(scenario: Scenario) -> str:
    """The first policy that charges a fee (the one with most to tune), else the first."""
    policies = resolve_policies(scenario)
    return next((p.name for p in policies if p.params.pricing.scheme in ("per_ticket", "per_hour")), policies[0].name)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(f"{x:.12g}"))


def param_arg(path: str, lo: float, hi: float, *, log: bool = False) -> str:
    """``PATH=LO:HI[:log]`` as ``--param`` takes it."""
    return f"{path}={_num(lo)}:{_num(hi)}" + (":log" if log else "")


def choice_arg(path: str, values: Sequence[Any]) -> str:
    return f"{path}=" + ",".join(str(v) for v in values)


def constraint_arg(kpi: str, op: str, threshold: float) -> str:
    return f"{kpi}{op}{_num(threshold)}"


@dataclass(frozen=True)
class Request:
    """One optimisation as the tab describes it."""

    policy: str
    params: tuple[str, ...]
    kpi: str = "value_usd"
    constraints: tuple[str, ...] = ()
    trials: int = DEFAULT_TRIALS
    replications: int = DEFAULT_REPLICATIONS
    candidates: int = DEFAULT_CANDIDATES
    first_stage: int = DEFAULT_FIRST_STAGE
    max_fresh: int = DEFAULT_MAX_FRESH

    def kwargs(self, run: RunOptions) -> dict[str, Any]:
        """Keyword arguments of :func:`sim.runs.optimise.optimise`; ``run``: where and how its
        runs execute (executor, progress, work limit), given this request's replications."""
        return {"policy": self.policy, "params": list(self.params), "kpi": [self.kpi],
                "constraints": list(self.constraints), "trials": self.trials, "candidates": self.candidates,
                "first_stage": self.first_stage, "max_fresh": self.max_fresh,
                "options": run.but(replications=self.replications)}

    def runs(self) -> int:
        """Model runs planned before the selection's sequential stage (which adds some)."""
        return self.trials * self.replications + (self.candidates + 1) * self.first_stage

    def key(self, scenario: Scenario) -> str:
        return analysis_key("optimise", scenario, **asdict(self))

    def command(self, source: Source, overrides: Sequence[str], out: str = OUT) -> str:
        """The ``supportsim optimise`` command that reproduces it (in the CLI's order, so the
        optimum.json it writes records this same command)."""
        parts = ["supportsim", "optimise", source.cli_name, "--policy", self.policy]
        for p in self.params:
            parts += ["--param", p]
        parts += ["--kpi", self.kpi]
        for c in self.constraints:
            parts += ["--constraint", c]
        for name, default in (("trials", 200), ("replications", 4), ("candidates", 5), ("first_stage", 20),
                              ("max_fresh", 200)):
            if getattr(self, name) != default:
                parts += ["--" + name.replace("_", "-"), str(getattr(self, name))]
        parts += ["--out", out]
        for o in overrides:
            parts += ["--set", o]
        return " ".join(shlex.quote(p) for p in parts)


class _Checked(Exception):
    """The request passed every check optimise makes before its first run."""


class _DryRun(Executor):
    name = "dry run"

    def imap_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        raise _Checked


def app_wording(problem: str) -> str:
    """A CLI problem as the tab says it: the field first (no ``--param``/``--constraint``), From/To."""
    for flag in ("--param ", "--constraint ", "--kpi "):
        if problem.startswith(flag):
            problem = problem[len(flag):]
    return problem.replace("LO must be below HI", "From must be below To").replace("needs LO > 0", "needs From > 0")


def check(scenario: Scenario, request: Request, max_work: int) -> list[str]:
    """Every problem of ``request`` (empty: it may run): exactly the checks of
    :func:`sim.runs.optimise.optimise`, which is run up to its first model run, the app's
    workload limit ``max_work`` included."""
    if request.trials > MAX_TRIALS:
        return [f"trials: at most {MAX_TRIALS:,}"]
    try:
        optimise(scenario, **request.kwargs(RunOptions(executor=_DryRun(), max_work=max_work)))
    except _Checked:
        return []
    except ScenarioError as exc:
        return [app_wording(p) for p in exc.problems]
    return []


def range_problems(scenario: Scenario, ranges: Sequence[tuple[Lever, float, float, bool]]) -> list[str]:
    """The tab's own checks of its From/To boxes, naming the field (before the optimiser's)."""
    out = []
    for lv, lo, hi, log in ranges:
        name = f"{lv.path} ({lv.label(scenario)})"
        if not lo < hi:
            out.append(f"{name}: From ({fmt.param(lo)}) must be below To ({fmt.param(hi)})")
        elif log and lo <= 0:
            out.append(f"{name}: a log-scale range needs From > 0 (got {fmt.param(lo)})")
    return out


def run(*, options: RunOptions, scenario: Scenario, request: Request, command: str) -> OptimiseResult:
    """The optimisation of ``request``: its runs where ``options`` say (the app's pool, with
    progress and the app's work limit); the result records ``command``."""
    result = optimise(scenario, **request.kwargs(options))
    result.command = command
    return result


# ---------------------------------------------------------------- what the tab shows


def guarantee_sentence(result: OptimiseResult) -> str:
    """"Within $δ of the best of these N candidates with 95% probability", or why not."""
    line = guarantee_line({"chosen": result.chosen, "guarantee": {**result.guarantee,
                                                                  "statement": guarantee_text(result)}})
    return line.replace("(raise --max-fresh or --delta, now", "(raise Most fresh replications under Selection "
                        "settings, or δ with supportsim optimise --delta; δ is now")


def design_table(result: OptimiseResult) -> pd.DataFrame:
    """A row per searched parameter: its name, range searched, the policy's value now, the chosen one."""
    rows = []
    for d in result.dimensions:
        lv = BY_PATH.get(d.path, Lever(d.path))
        searched = (", ".join(map(str, d.choices)) if d.kind == "choice"
                    else f"{fmt.param(d.low)} to {fmt.param(d.high)}" + (" (log)" if d.log else ""))
        now = result.current.get(d.path)
        rows.append({"parameter": lv.label(result.scenario), "searched": searched,
                     "now": "varies" if now is None else fmt.param(now),
                     "chosen": fmt.param(result.chosen[d.path]) if result.chosen else fmt.DASH})
    return pd.DataFrame(rows)


def constraint_lines(result: OptimiseResult) -> list[tuple[bool, str]]:
    """(met, sentence) per constraint, on the chosen design's fresh replications."""
    out = []
    for c in result.constraints:
        e = result.estimates.get(c.kpi, {})
        met = bool(result.constraints_met.get(c.describe()))
        out.append((met, f"{metrics.KPIS[c.kpi].title} {'≥' if c.op == '>=' else '≤'} {fmt.kpi(c.kpi, c.threshold)}: "
                         f"{fmt.kpi(c.kpi, e.get('mean', math.nan))} (95% CI {fmt.interval(c.kpi, e)}), "
                         f"{'met' if met else 'not met'}"))
    return out


def candidates_table(result: OptimiseResult) -> pd.DataFrame:
    kpi = result.kpi
    t = result.candidates
    return pd.DataFrame({
        "candidate": t["label"],
        **{BY_PATH.get(d.path, Lever(d.path)).label(result.scenario): t[d.path].map(fmt.param)
           for d in result.dimensions},
        "search mean": t[f"search_{kpi}"].map(lambda x: fmt.kpi(kpi, x)),
        "fresh replications": t["fresh_n"],
        "fresh mean": t["fresh_mean"].map(lambda x: fmt.kpi(kpi, x)),
        "fresh 95% CI": [fmt.interval(kpi, {"ci_low": lo, "ci_high": hi})
                         for lo, hi in zip(t["fresh_ci_low"], t["fresh_ci_high"])],
        "what the selection did": t["status"],
    })


def figure_names(result: OptimiseResult) -> list[str]:
    return ["convergence", *(f"response:{d.path}" for d in result.dimensions)]


def figure(result: OptimiseResult, name: str) -> Any:
    """Figure ``name`` of :func:`figure_names` (an Axes), as ``supportsim optimise`` saves it."""
    meta = OptimiseMeta.of(result)
    estimate = result.estimates.get(result.kpi)
    if name == "convergence":
        return plot_convergence(result.trials, kpi=result.kpi, estimate=estimate, meta=meta)
    d = next(d for d in result.dimensions if name == f"response:{d.path}")
    return plot_response(result.trials, param=d.path, kpi=result.kpi, estimate=estimate, log=d.log, meta=meta,
                         chosen=result.chosen.get(d.path) if result.chosen else None)


def optimum_json_bytes(result: OptimiseResult) -> bytes:
    """optimum.json as ``supportsim optimise`` writes it."""
    return (json.dumps(optimum_json(result), indent=2) + "\n").encode()


def trials_csv(result: OptimiseResult) -> bytes:
    """trials.csv as ``supportsim optimise`` writes it."""
    buf = io.StringIO()
    files.write_table(result.trials, files.provenance(result.seed, result.scenario_sha256), buf)
    return buf.getvalue().encode()


def optimum_toml_bytes(result: OptimiseResult) -> bytes:
    """optimum.toml: the scenario with the chosen design added as a policy."""
    return optimum_toml(result).encode()
