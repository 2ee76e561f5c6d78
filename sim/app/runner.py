"""The app's runs and results: progressive runs, caches, KPI cards, figures, downloads.

Where it sits: scenario (from :mod:`sim.app.kit`) -> **apprun** -> ``app.py``. It runs the
replications of a scenario in a long-lived process pool, yielding partial
:class:`~sim.runs.experiment.Results` (the first replication of every policy first, then
refined) and caching every finished replication by scenario hash; the final results are
identical to :func:`sim.runs.experiment.run_scenario` (same jobs, seeds and table order). It
also turns results into what the page shows (KPI cards, a verdict, figures, CSVs) and
adapts the pool for :mod:`sim.runs.studies`. Streamlit is imported lazily, for the cache only.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import multiprocessing as mp
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from sim.app.kit import Group
from sim.decision.psa import DecisionResult, percent, sample_work
from sim.output import decision_plots, deck, figures, files, fmt, plots, report
from sim.output.decision_files import decision_json
from sim.params.scenario import Policy, policy_label, resolve_policies
from sim.params.schema import Scenario
from sim.runs import economics, metrics
from sim.runs.executors import Executor, default_workers, worker_init
from sim.runs.experiment import Job, results_from_tables, run_job_tables
from sim.runs.results import Results

# ---------------------------------------------------------------- runs: cache, pool, progress


CACHE_VERSION = 2  # bump when what a cached run holds changes (2: per policy, with segment rows)


def sim_key(scenario: Scenario) -> str:
    """Hash of what the model sees: the scenario without its name, description, reference
    policy and replication count (so more replications extend cached ones)."""
    data = scenario.model_dump(mode="json")
    data["scenario"] = {}
    data["run"].pop("replications", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


PACKAGE = Path(__file__).resolve().parents[1]


def _fingerprint(files: Sequence[Path]) -> str:
    """Hash of source files (names and contents)."""
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.relative_to(PACKAGE).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


# The source that decides a run's rows (engine, parameters, experiment): a cached run from other
# code is never reused, whatever the version number says.
CODE_FINGERPRINT = _fingerprint([*PACKAGE.joinpath("engine").rglob("*.py"), *PACKAGE.joinpath("params").rglob("*.py"),
                                 PACKAGE / "runs" / "experiment.py", PACKAGE / "runs" / "economics.py"])


def policy_key(policy: Policy, *, months: int, seed: int) -> str:
    """Hash of what one policy's runs depend on: its name, resolved parameters, horizon and seed.

    Common random numbers make a policy's run in a replication independent of the other
    policies, so changing one policy's control leaves the others' cached runs valid.
    """
    data = {"v": CACHE_VERSION, "code": CODE_FINGERPRINT, "policy": policy.name, "params": policy.params.model_dump(mode="json"),
            "months": months, "seed": seed}
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class ReplicationCache(Protocol):
    """Finished runs (a policy's monthly rows and segment rows in one replication) by key."""

    def get(self, key: str, replication: int) -> Any | None: ...

    def put(self, key: str, replication: int, table: Any) -> None: ...


class DictCache:
    """An in-memory :class:`ReplicationCache` (tests, benchmarks)."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, int], Any] = {}

    def get(self, key: str, replication: int) -> Any | None:
        return self.tables.get((key, replication))

    def put(self, key: str, replication: int, table: Any) -> None:
        self.tables[(key, replication)] = table


class DiskCache:
    """A :class:`ReplicationCache` in a folder (one pickle per run), so a freshly started
    server answers at once for scenarios run before. Keys include the code fingerprint;
    files are written atomically (temporary name, then rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _path(self, key: str, replication: int) -> Path:
        return self.folder / key[:2] / f"{key}-{replication}.pkl"

    def get(self, key: str, replication: int) -> Any | None:
        path = self._path(key, replication)
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except FileNotFoundError:
            return None
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
            return None  # a damaged or foreign file is a miss, never an error on the page

    def put(self, key: str, replication: int, table: Any) -> None:
        _keep(self._path(key, replication), pickle.dumps(table, protocol=pickle.HIGHEST_PROTOCOL))


def _keep(path: Path, data: bytes) -> None:
    """Write a cache file atomically (temporary name, then rename); a read-only or full disk
    only costs speed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        pass


class LayeredCache:
    """Look in each cache in turn; a hit in a later one is copied to the earlier ones."""

    def __init__(self, *caches: ReplicationCache) -> None:
        self.caches = caches

    def get(self, key: str, replication: int) -> Any | None:
        for i, c in enumerate(self.caches):
            hit = c.get(key, replication)
            if hit is not None:
                for earlier in self.caches[:i]:
                    earlier.put(key, replication, hit)
                return hit
        return None

    def put(self, key: str, replication: int, table: Any) -> None:
        for c in self.caches:
            c.put(key, replication, table)


DEFAULT_CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "app-runs"


def cache_folder() -> Path | None:
    """The app's cache folder (``SUPPORTSIM_APP_CACHE``; default ``.cache/app-runs``; empty: none)."""
    folder = os.environ.get("SUPPORTSIM_APP_CACHE", str(DEFAULT_CACHE_DIR))
    return Path(folder) if folder else None


def app_cache() -> ReplicationCache:
    """The page's run cache: the server's memory, then the cache folder, if any."""
    folder = cache_folder()
    return LayeredCache(StreamlitCache(), DiskCache(folder)) if folder else StreamlitCache()


class _Missing(Exception):
    """Cache miss signal: st.cache_data does not store a call that raises."""


_st_store: Callable[..., pd.DataFrame] | None = None


def _streamlit_store() -> Callable[..., pd.DataFrame]:
    global _st_store
    if _st_store is None:
        import streamlit as st

        @st.cache_data(max_entries=2000, show_spinner=False)
        def replication_table(key: str, replication: int, _table: pd.DataFrame | None = None) -> pd.DataFrame:
            # Called without _table: a hit returns the stored table, a miss raises (nothing stored).
            # Called with _table after computing it: a miss stores it.
            if _table is None:
                raise _Missing
            return _table

        _st_store = replication_table
    return _st_store


class StreamlitCache:
    """:class:`ReplicationCache` on ``st.cache_data``: shared by every session of the server."""

    def get(self, key: str, replication: int) -> pd.DataFrame | None:
        try:
            return _streamlit_store()(key, replication)
        except _Missing:
            return None

    def put(self, key: str, replication: int, table: pd.DataFrame) -> None:
        _streamlit_store()(key, replication, _table=table)

    @staticmethod
    def clear() -> None:
        _streamlit_store().clear()


def _warm() -> int:
    return os.getpid()


def app_workers() -> int:
    """Worker processes for the app (SUPPORTSIM_APP_WORKERS; default: all cores)."""
    raw = os.environ.get("SUPPORTSIM_APP_WORKERS")
    try:
        return max(1, int(raw)) if raw else default_workers()
    except ValueError:
        return default_workers()


APP_MAX_MEMORY_MB = 4096  # address space per worker: an upload that needs more fails alone


def app_max_memory() -> int:
    """Memory cap per app worker in bytes (SUPPORTSIM_APP_MAX_MEMORY_MB; 0 = no cap)."""
    raw = os.environ.get("SUPPORTSIM_APP_MAX_MEMORY_MB")
    try:
        mb = int(float(raw)) if raw else APP_MAX_MEMORY_MB
    except (ValueError, OverflowError):
        mb = APP_MAX_MEMORY_MB
    return max(0, mb) * 2**20


# Pools started ahead by the server launcher (sim.app.serve), each taken once by the page:
# key "workers:N" for the simulation workers, "figures" for the figure process.
_prewarmed: dict[str, Future[ProcessPoolExecutor]] = {}


def _prewarm(key: str, start: Callable[[], ProcessPoolExecutor]) -> Future[ProcessPoolExecutor]:
    """Call ``start`` now, in a background thread, for :func:`_take` to pick up."""
    if key not in _prewarmed:
        starter = ThreadPoolExecutor(1, thread_name_prefix=f"supportsim-prewarm-{key}")
        _prewarmed[key] = starter.submit(start)
        starter.shutdown(wait=False)
    return _prewarmed[key]


def _take(key: str, start: Callable[[], ProcessPoolExecutor]) -> ProcessPoolExecutor:
    """The pool :func:`_prewarm` started under ``key``, or a new one if none was (or it failed)."""
    started = _prewarmed.pop(key, None)
    if started is not None:
        try:
            return started.result()
        except Exception:  # noqa: BLE001 - a failed pre-start: start afresh, which reports the error
            pass
    return start()


def prewarm_pool(workers: int) -> Future[ProcessPoolExecutor] | None:
    """Start the app's pool now, for the first ``make_pool(workers)`` to take: the server
    launcher calls it at start, so the first page finds warm workers instead of waiting for
    them. Returns the pool's future (None for one worker: the app then runs in-process)."""
    return _prewarm(f"workers:{workers}", lambda: _new_pool(workers)) if workers > 1 else None


def make_pool(workers: int) -> ProcessPoolExecutor | None:
    """A long-lived pool for the app (None for 1 worker: run in-process).

    Workers come from a ``forkserver`` (never forked from the threaded Streamlit server) and
    are started and warmed here, so the first control change does not pay for imports;
    jobs not yet started can be cancelled when the user changes a control mid-run. A pool
    that :func:`prewarm_pool` started is taken once.
    """
    return _take(f"workers:{workers}", lambda: _new_pool(workers)) if workers > 1 else None


def _new_pool(workers: int, warm: Callable[[], int] = _warm) -> ProcessPoolExecutor:
    """``workers`` processes, each having run ``warm`` once."""
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=worker_init,
                               initargs=(app_max_memory(),))
    for f in [pool.submit(warm) for _ in range(workers)]:
        f.result()
    return pool


Run = tuple[pd.DataFrame, pd.DataFrame]  # one (policy, replication): monthly rows, segment rows


def assemble(scenario: Scenario, runs: dict[tuple[str, int], Run], names: Sequence[str],
             done: dict[str, int]) -> Results:
    """Results from finished runs, as :func:`sim.runs.experiment.run_scenario` builds them:
    policy ``p``'s first ``done[p]`` replications (paired differences use the common ones)."""
    keys = [(p, r) for p in names for r in range(done[p])]
    res = results_from_tables(scenario, [runs[k][0] for k in keys], replications=min(done.values()),
                              policies=list(names))
    order = {p: i for i, p in enumerate(names)}
    segments = pd.concat([runs[k][1] for k in keys], ignore_index=True)
    res.segments = segments.sort_values(["policy", "replication", "month"], kind="stable",
                                        key=lambda c: c.map(order) if c.name == "policy" else c
                                        ).reset_index(drop=True)
    return res


@dataclass
class Update:
    """One step of a progressive run: progress, and results when it is time to redraw."""

    jobs_done: int
    jobs_total: int
    replications_done: int  # replications finished for every policy (a prefix 0..k-1)
    replications: int
    results: Results | None = None
    from_cache: int = 0  # runs (policy x replication) that came from the cache

    @property
    def final(self) -> bool:
        return self.replications_done == self.replications


@dataclass
class _Pending:
    key: str
    job: Job
    future: Future | None = None


def progressive_run(scenario: Scenario, *, cache: ReplicationCache,
                    pool: ProcessPoolExecutor | Callable[[], ProcessPoolExecutor | None] | None = None,
                    redraw_every_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> Iterator[Update]:
    """Run ``scenario``'s missing (policy, replication) runs, yielding an :class:`Update` once
    the jobs are submitted and after every job.

    Runs are cached per policy (:func:`policy_key`): changing one policy's control runs only
    that policy, and the other policies show all their cached replications at once, so
    their cards do not move while the changed one refines. Updates carry :class:`Results`
    once every policy has a replication, then at most every ``redraw_every_s`` seconds, and
    at the end (``final``); the final results are those of ``run_scenario``. Jobs run in
    ``pool`` (all submitted at once, replication-major) or in this process; ``pool`` may be a
    function that makes it, called only when a run is missing (a fully cached scenario never
    waits for worker processes to start). Closing the
    generator early (the user changed a control) cancels the jobs not yet started.
    """
    reps, months, seed = scenario.run.replications, scenario.run.months, scenario.run.seed
    policies = resolve_policies(scenario)
    names = [p.name for p in policies]
    keys = {p.name: policy_key(p, months=months, seed=seed) for p in policies}
    runs: dict[tuple[str, int], Run] = {}
    for p in names:
        for r in range(reps):
            hit = cache.get(keys[p], r)
            if hit is not None:
                runs[(p, r)] = hit
    cached = len(runs)

    def prefixes() -> dict[str, int]:
        out = {}
        for p in names:
            k = 0
            while (p, k) in runs:
                k += 1
            out[p] = k
        return out

    pending = [_Pending(keys[p.name], Job(p.name, r, p.params, months, seed))
               for r in range(reps) for p in policies if (p.name, r) not in runs]
    total = len(pending)
    if not pending:
        yield Update(0, 0, reps, reps, assemble(scenario, runs, names, prefixes()), from_cache=cached)
        return
    shown: dict[str, int] = {p: 0 for p in names}
    last_draw = -math.inf
    if min(prefixes().values()) > 0:  # every policy has cached runs: show them at once
        shown, last_draw = prefixes(), clock()
        yield Update(0, total, min(shown.values()), reps, assemble(scenario, runs, names, shown), from_cache=cached)
    if callable(pool) and not isinstance(pool, ProcessPoolExecutor):
        pool = pool()
    try:
        if pool is not None:
            for p in pending:
                p.future = pool.submit(run_job_tables, p.job)
        yield Update(0, total, min(shown.values()), reps, None, from_cache=cached)  # the page may draw meanwhile
        for n, p in enumerate(pending, start=1):
            run = p.future.result() if p.future is not None else run_job_tables(p.job)
            runs[(p.job.policy, p.job.replication)] = run
            cache.put(p.key, p.job.replication, run)
            now_done = prefixes()
            k = min(now_done.values())
            res = None
            if k > 0 and now_done != shown and (n == total or min(shown.values()) == 0
                                                  or clock() - last_draw >= redraw_every_s):
                res, shown, last_draw = assemble(scenario, runs, names, now_done), now_done, clock()
            yield Update(n, total, k, reps, res, from_cache=cached)
    finally:
        for p in pending:
            if p.future is not None:
                p.future.cancel()


def run_app_scenario(scenario: Scenario, *, cache: ReplicationCache | None = None,
                     pool: ProcessPoolExecutor | None = None) -> Results:
    """The app's run function to completion (for benchmarks and tests)."""
    final = None
    for upd in progressive_run(scenario, cache=cache or DictCache(), pool=pool):
        if upd.results is not None:
            final = upd.results
    assert final is not None
    return final


# ---------------------------------------------------------------- KPI cards


CARD_KPIS = ("value_usd", "cumulative_profit", "customers_at_horizon", "avg_retention_rate_pct", "ltv_cac")
fmt_kpi = fmt.kpi  # a KPI value (or, signed, a difference) as a card shows it


@dataclass(frozen=True)
class Card:
    """One KPI of one policy as a metric card shows it."""

    policy: str
    kpi: str
    label: str
    value: str
    delta: str | None  # difference vs the reference ("+$0.41M"), None for the reference itself
    delta_description: str  # its 95% CI, or why there is none
    delta_color: str  # "normal" / "inverse" when the CI excludes 0, else "off"
    help: str
    mean: float
    diff_mean: float | None


def kpi_cards(res: Results, kpis: Sequence[str] = CARD_KPIS) -> dict[str, list[Card]]:
    """Per policy, the headline KPI cards with deltas vs the reference and their 95% CIs."""
    summary, diffs = res.summary(), res.differences()
    out: dict[str, list[Card]] = {}
    for p in res.policies:
        cards = []
        for k in kpis:
            s = summary[p][k]
            label = metrics.KPIS[k].title
            ci = (f"95% CI {fmt_kpi(k, s['ci_low'])} to {fmt_kpi(k, s['ci_high'])}"
                  if math.isfinite(s["ci_low"]) else "a CI needs two replications or more")
            helptext = f"{kpi_meaning(res, k)}\n\nMean over {s['n']} replications, {ci}."
            if p == res.reference or p not in diffs:
                cards.append(Card(p, k, label, fmt_kpi(k, s["mean"]), None, "reference", "off",
                                  helptext, s["mean"], None))
                continue
            d = diffs[p][k]
            delta = fmt_kpi(k, d["mean"], signed=True)
            if math.isfinite(d["ci_low"]):
                half = fmt_kpi(k, (d["ci_high"] - d["ci_low"]) / 2, signed=True).lstrip("+")
                desc = f"±{half} (95% CI)"
                diff_ci = f"95% CI {fmt_kpi(k, d['ci_low'], signed=True)} to {fmt_kpi(k, d['ci_high'], signed=True)}"
                clear = d["ci_low"] > 0 or d["ci_high"] < 0
            else:
                desc, diff_ci, clear = "CI after 2 replications", "no CI yet", False
            better = metrics.KPIS[k].better
            color = "off" if not clear or better == "neutral" else ("inverse" if better == "lower" else "normal")
            helptext += (f" Difference vs {res.reference}, paired by replication (common random numbers): "
                         f"{delta}, {diff_ci}. Coloured only when the 95% CI excludes zero.")
            cards.append(Card(p, k, label, fmt_kpi(k, s["mean"]), delta, desc, color, helptext, s["mean"],
                              d["mean"]))
        out[p] = cards
    return out


def kpi_meaning(res: Results, kpi: str) -> str:
    """What a KPI is, for a card's help: its registry definition and this run's horizon."""
    months = res.scenario.run.months
    return (f"**{metrics.KPIS[kpi].title}**: {metrics.KPIS[kpi].definition.rstrip('.')}. "
            f"Horizon: {months} months (one run of the model).")


# KPIs a verdict looks at for the leader's main trade-off, in order of how much they matter
TRADE_OFF_KPIS = ("customers_at_horizon", "cumulative_profit", "avg_retention_rate_pct", "ltv_cac")


def _trade_off(kpi: str, diff: float, other: str) -> str:
    """'142 fewer customers' / 'a lower LTV:CAC (-0.41×)' than ``other``."""
    if kpi == "customers_at_horizon":
        return f"ends with {abs(diff):,.0f} fewer customers than {other}"
    return f"has a lower {metrics.KPIS[kpi].label.lower()} than {other} ({fmt_kpi(kpi, diff, signed=True)})"


def verdict(res: Results, kpi: str = "value_usd") -> str:
    """Which policy leads on ``kpi`` (value_usd), how clear the lead is, and its main trade-off.

    The lead is measured against the runner-up, paired by replication through the reference
    (common random numbers): 'a clear lead' when the 95% CI of the gap excludes zero. The
    trade-off is the first of :data:`TRADE_OFF_KPIS` on which the leader is clearly worse
    than the runner-up (CI excludes zero), if any.
    """
    if len(res.policies) < 2:
        return ""
    scen = res.scenario
    paired = res.kpis.pivot_table(index="replication", columns="policy", values=list({kpi, *TRADE_OFF_KPIS}))
    paired = paired.dropna()  # while refining, compare on the replications every policy has
    means = {p: paired[kpi][p].mean() for p in res.policies}
    best, second = sorted(res.policies, key=lambda p: -means[p])[:2]
    gap = metrics.t_interval(paired[kpi][best] - paired[kpi][second])
    name = metrics.KPIS[kpi].label.lower()
    lead, b2 = policy_label(scen, best), policy_label(scen, second)
    if math.isfinite(gap["ci_low"]):
        sure = ("a clear lead" if gap["ci_low"] > 0 else "not a clear lead: the 95% CI of the gap includes zero")
        ci = f" (95% CI {fmt_kpi(kpi, gap['ci_low'], signed=True)} to {fmt_kpi(kpi, gap['ci_high'], signed=True)})"
    else:
        sure, ci = "more replications will tell how clear", ""
    line = (f"**{lead}** has the highest {name}: {fmt_kpi(kpi, gap['mean'], signed=True)} ahead of "
            f"{b2}{ci}, {sure}")
    for k in TRADE_OFF_KPIS:
        d = metrics.t_interval(paired[k][best] - paired[k][second])
        worse = d["ci_high"] < 0 if metrics.KPIS[k].better == "higher" else d["ci_low"] > 0
        if math.isfinite(d["ci_low"]) and worse and metrics.KPIS[k].better != "neutral":
            return line + f", but it {_trade_off(k, d['mean'], b2)}."
    return line + "."


def bridge_table(res: Results) -> pd.DataFrame:
    """Where each policy's difference in value vs the reference comes from: one row per part of
    value (subscription revenue, support fees, support cost, acquisition, VIP, loyalty, terminal
    value) and the total, one column per policy (mean paired difference ± 95% CI half-width).
    Parts are signed as they add to value: a cost that grows is negative."""
    bridge = res.bridge()
    parts = [*economics.BRIDGE_COLUMNS, "value_usd"]
    rows = []
    for col in parts:
        part = col.removeprefix("pv_")
        row = {"part of value": "Value (total)" if col == "value_usd" else BRIDGE_LABELS.get(part, part)}
        for p, b in bridge.items():
            d = b[col]
            half = (d["ci_high"] - d["ci_low"]) / 2 if math.isfinite(d["ci_low"]) else math.nan
            row[policy_label(res.scenario, p)] = fmt.usd(d["mean"], signed=True) + (
                f" ± {fmt.usd(half)}" if math.isfinite(half) else "")
        rows.append(row)
    return pd.DataFrame(rows)


BRIDGE_LABELS = {"subscription_revenue": "Subscription revenue", "support_fees": "Support fees",
                 "support_cost": "Support cost", "acquisition": "Acquisition", "vip": "VIP programme",
                 "loyalty": "Loyalty programme", "terminal_value": "Terminal value"}


def segment_table(res: Results) -> pd.DataFrame:
    """Per segment and policy: "customers at the horizon · revenue over the horizon"
    (subscription plus support fees, undiscounted), means over replications."""
    seg = res.segments
    if seg is None or seg.empty:
        return pd.DataFrame()
    last = seg["month"].max()
    rev = seg.assign(revenue=seg["subscription_revenue"] + seg["support_revenue"])
    per_rep = rev.groupby(["policy", "segment", "replication"], sort=False).agg(revenue=("revenue", "sum"))
    ends = seg[seg["month"] == last].set_index(["policy", "segment", "replication"])["customers_end"]
    per_rep["customers"] = ends
    mean = per_rep.groupby(["policy", "segment"], sort=False).mean()
    rows = []
    for segment in seg["segment"].drop_duplicates():
        row: dict[str, Any] = {"segment": segment}
        for p in res.policies:
            row[policy_label(res.scenario, p)] = (f"{mean.loc[(p, segment), 'customers']:,.0f} · "
                                                  f"{fmt.usd(mean.loc[(p, segment), 'revenue'])}")
        rows.append(row)
    return pd.DataFrame(rows)


def kpi_table(res: Results) -> pd.DataFrame:
    """Every KPI per policy as the page shows it: mean, 95% CI, difference vs the reference
    and its 95% CI (paired by replication), formatted."""
    summary, diffs = res.summary(), res.differences()

    def ci(k: str, s: dict[str, float], signed: bool = False) -> str:
        if not math.isfinite(s["ci_low"]):
            return "–"
        return f"{fmt_kpi(k, s['ci_low'], signed=signed)} to {fmt_kpi(k, s['ci_high'], signed=signed)}"

    rows = []
    for k, kpi in metrics.KPIS.items():
        label = kpi.title
        for p in res.policies:
            s = summary[p][k]
            d = diffs.get(p, {}).get(k)
            rows.append({
                "KPI": label, "policy": p, "mean": fmt_kpi(k, s["mean"]), "95% CI": ci(k, s),
                f"difference vs {res.reference}": fmt_kpi(k, d["mean"], signed=True) if d else "reference",
                "difference 95% CI": ci(k, d, signed=True) if d else "",
            })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- figures


TABS = (*figures.FIGURE_TABS, "Sensitivity", "Decision", "Assumptions")
FigureSpec = figures.FigureSpec


def figure_specs(n_policies: int = 2) -> list[FigureSpec]:
    """The app's figures (those with a tab in the figure registry), in page order."""
    return [f for f in figures.applicable(n_policies) if f.tab is not None]


def figure_bytes(fig: Any, kind: Literal["png", "svg"], *, dpi: int | None = None) -> bytes:
    """A figure as PNG or SVG bytes, sized as :func:`sim.output.plots.save_figure` saves it."""
    bbox = None if isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine) else "tight"
    buf = io.BytesIO()
    with plots.deck_style():
        fig.savefig(buf, format=kind, dpi=dpi or plots.DPI, bbox_inches=bbox,
                    metadata=plots.file_metadata(fig, kind))
    return buf.getvalue()


# matplotlib's rc parameters (the deck style's rc_context) are process-wide: one figure at a
# time, whichever session (or download thread) of the server asks.
_MPL_LOCK = threading.Lock()


def draw_bytes(draw: Callable[[], Any], kind: Literal["png", "svg"], *, dpi: int | None = None) -> bytes:
    """Call ``draw`` (returns an Axes) and return the figure's bytes."""
    with _MPL_LOCK:
        return figure_bytes(draw().figure, kind, dpi=dpi)


def render_figure(res: Results, name: str, kind: Literal["png", "svg"], *, dpi: int | None = None) -> bytes:
    """Draw figure ``name`` of ``res`` and return its bytes (the figure is closed)."""
    return draw_bytes(lambda: figures.draw(name, res), kind, dpi=dpi)


# ---------------------------------------------------------------- the figure process
# The page's figures are drawn in a process of their own: matplotlib holds the GIL for long
# stretches, and drawing in the server's process stalled its web server, which also sends the
# browser the page's code. On a fresh page whose runs were cached, the KPI cards showed 0.6-1.2 s
# later when the figures were drawn in the server than when they were not drawn at all.


def warm_figures() -> int:
    """Draw one small figure and throw it away: loads the fonts and the canvas code (in a new
    figure process, and in the server's own process for downloads and analyses)."""
    draw_bytes(lambda: Figure(figsize=(2, 1)).add_subplot().plot([0, 1], [0, 1])[0].axes, "png", dpi=50)
    return os.getpid()


def _new_figure_pool() -> ProcessPoolExecutor:
    return _new_pool(1, warm_figures)


def make_figure_pool() -> ProcessPoolExecutor:
    """One warm process for the page's figures (the one :func:`prewarm_figure_pool` started, if any)."""
    return _take("figures", _new_figure_pool)


def prewarm_figure_pool() -> Future[ProcessPoolExecutor]:
    """Start the figure process now, for :func:`make_figure_pool` to take."""
    return _prewarm("figures", _new_figure_pool)


# Every source file of the package: a figure drawn by other code is never reused.
SOURCE_FINGERPRINT = _fingerprint(list(PACKAGE.rglob("*.py")))


def display_png(pool: ProcessPoolExecutor | None, res: Results, name: str, *, dpi: int) -> bytes:
    """Figure ``name`` of ``res`` as the page shows it: from the run cache's folder
    (``SUPPORTSIM_APP_CACHE``) when drawn before, else drawn in ``pool`` and, once every
    replication is in, kept there. Keyed by the package's source, the scenario hash, the
    replications, the figure, the dpi and the date in its footer, so that a freshly started
    server whose runs are on disk does not draw its first page's figures while the browser
    draws the page."""
    folder = cache_folder()
    if folder is None or res.replications != res.scenario.run.replications:
        return render_figure_in(pool, res, name, "png", dpi=dpi)
    key = hashlib.sha256(json.dumps([SOURCE_FINGERPRINT, res.scenario_sha256, res.replications, name, dpi,
                                     plots.today()]).encode()).hexdigest()[:32]
    path = folder / "figures" / f"{key}.png"
    try:
        return path.read_bytes()
    except OSError:
        pass
    png = render_figure_in(pool, res, name, "png", dpi=dpi)
    _keep(path, png)
    return png


def render_figure_in(pool: ProcessPoolExecutor | None, res: Results, name: str, kind: Literal["png", "svg"], *,
                     dpi: int | None = None) -> bytes:
    """:func:`render_figure` in ``pool`` (the figure process), or here if there is none or it broke."""
    if pool is not None:
        try:
            return pool.submit(render_figure, res, name, kind, dpi=dpi).result()
        except (BrokenProcessPool, RuntimeError):
            pass
    return render_figure(res, name, kind, dpi=dpi)


# ---------------------------------------------------------------- downloads


def _csv(table: pd.DataFrame, stamp: Results | dict[str, object]) -> bytes:
    """A results table as the CLI writes it (same columns, float format, provenance, bytes)."""
    buf = io.StringIO()
    files.write_table(table, stamp, buf)
    return buf.getvalue().encode()


def monthly_csv(res: Results) -> bytes:
    """monthly.csv of the run: one row per policy x replication x month."""
    return _csv(res.monthly, res)


def kpis_csv(res: Results) -> bytes:
    """kpis.csv of the run: one row per policy x replication."""
    return _csv(res.kpis, res)


def report_html(res: Results, command: str | None = None) -> bytes:
    return report.render(res, command=command).encode("utf-8")


PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def deck_pptx(res: Results, command: str | None = None, *, decision: DecisionResult | None = None) -> bytes:
    """The run's slide deck (``supportsim deck``, with ``--decision`` when ``decision`` is given)
    as .pptx bytes; one figure at a time (the lock)."""
    with _MPL_LOCK:
        return deck.deck_bytes(res, command=command, decision=decision)


# ---------------------------------------------------------------- sensitivity (sim.runs.studies)


def pool_executor(pool: ProcessPoolExecutor | None) -> Any:
    """The app's pool as a :class:`sim.runs.executors.Executor` for :mod:`sim.runs.studies`.

    Jobs not yet started are cancelled when the caller stops reading (the user changed a
    control): the pool is shared and must not keep computing an abandoned analysis.
    """
    class _AppPool(Executor):
        name = "app pool"
        workers = getattr(pool, "_max_workers", 1) if pool is not None else 1

        def imap_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
            if pool is None:
                for i, item in enumerate(items):
                    yield i, fn(item)
                return
            futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
            try:
                for f in as_completed(futures):
                    yield futures[f], f.result()
            finally:
                for f in futures:
                    f.cancel()

        def describe(self) -> str:
            return f"the app's {self.workers} worker processes"

    return _AppPool()


@dataclass(frozen=True)
class SweepParam:
    """A numeric parameter the break-even analysis can move."""

    path: str
    label: str
    value: float
    lo: float
    hi: float
    is_int: bool


def sweep_params(groups: Sequence[Group]) -> list[SweepParam]:
    """Numeric controls (run settings excepted) as break-even candidates, in sidebar order."""
    out = []
    for g in groups:
        if g.key == "run":
            continue
        for s in g.sections:
            for c in s.controls:
                if c.kind not in ("int", "float") or c.lo is None or c.hi is None:
                    continue
                where = s.tab or s.title or g.title
                out.append(SweepParam(c.path, f"{where} · {c.label}", float(c.default), float(c.lo), float(c.hi),
                                      c.kind == "int"))
    return out


def default_between(p: SweepParam) -> tuple[float, float]:
    """A range around the current value: half to one and a half times it, within bounds."""
    if p.value > 0:
        lo, hi = p.value * 0.5, p.value * 1.5
    else:
        lo, hi = p.lo, p.lo + max(1.0, (p.hi - p.lo) / 100)
    lo, hi = max(p.lo, lo), min(p.hi, hi)
    if p.is_int:
        lo, hi = math.floor(lo), math.ceil(hi)
    return float(lo), float(hi)


def default_breakeven_param(params: Sequence[SweepParam], policy_b: str) -> str:
    """The policy's own fee when it has one, else the agent cost."""
    for p in params:
        if p.path.startswith(f"policies.{policy_b}.pricing.per_") and p.value > 0:
            return p.path
    return next((p.path for p in params if p.path == "support.agent_cost_usd_per_hour"), params[0].path)


def analysis_key(kind: str, scenario: Scenario, **args: Any) -> str:
    """Cache key of an analysis: the simulation key plus the analysis' own arguments."""
    blob = json.dumps({"kind": kind, "sim": sim_key(scenario), "args": args}, sort_keys=True, default=str)
    return f"{kind}:" + hashlib.sha256(blob.encode()).hexdigest()


def analysis_runs(kind: str, *, n_params: int = 0, points: int = 0, refine: int = 0, replications: int) -> int:
    """Model runs an analysis needs (two policies each)."""
    n_points = 2 * n_params + 1 if kind == "sensitivity" else points + refine
    return 2 * n_points * replications


# ---------------------------------------------------------------- decision (sim.decision.psa)


# Default parameter samples of the app's decision analysis: the baseline (4 policies) at one
# replication is 4 x 24 = 96 model runs, about half a minute on two cores. The CLI's default
# is 200; more samples narrow the probabilities (Monte Carlo s.e. sqrt(p(1-p)/n)).
DECISION_SAMPLES = 24
DECISION_FIGURES = ("probability_best", "evppi", "decision_map")


def decision_runs(scenario: Scenario, samples: int, replications: int = 1) -> int:
    """Model runs of a decision analysis: every policy on every sample."""
    return samples * replications * len(resolve_policies(scenario))


def decision_max_samples(scenario: Scenario, max_work: int, replications: int = 1) -> int:
    """The most samples a decision analysis of ``scenario`` may have under ``max_work``
    (the guardrail's customer-month equivalents, each sample at the worst case of the
    ``[uncertainty]`` table, as run_decision checks it; 0 when not even one fits)."""
    per_sample = sample_work(scenario, replications)
    return int(max_work // per_sample) if math.isfinite(per_sample) and per_sample > 0 else 0


def decision_figure(result: DecisionResult, name: str) -> Any:
    """Figure ``name`` of :data:`DECISION_FIGURES` (an Axes), as ``supportsim decide`` saves it."""
    for n, ax in decision_plots.decision_figures(result):  # drawn one at a time: stop at ``name``
        if n == name:
            return ax
    raise KeyError(name)


def decision_table(result: DecisionResult) -> pd.DataFrame:
    """Per policy (display label): probability of being best ± its 95% Monte Carlo interval
    (1.96 standard errors), expected value and expected loss of choosing it, recommended."""
    rows = []
    for r in result.policies.itertuples():
        rows.append({
            "policy": policy_label(result.scenario, r.policy),
            "probability best": f"{percent(r.prob_best)} ± {percent(1.96 * r.prob_best_se)}",
            "expected value": fmt.kpi(result.kpi, r.expected_value),
            "expected loss": fmt.kpi(result.kpi, r.expected_loss),
            "recommended": bool(r.recommended),
        })
    return pd.DataFrame(rows)


def decision_json_bytes(result: DecisionResult) -> bytes:
    """decision.json as ``supportsim decide --out`` writes it."""
    return (json.dumps(decision_json(result), indent=2) + "\n").encode()


def psa_csv(result: DecisionResult) -> bytes:
    """psa.csv as ``supportsim decide --out`` writes it: one row per sample x policy."""
    return _csv(result.psa, files.provenance(result.seed, result.scenario_sha256))
