"""supportsim benchmarks: printed figures and ratios (not timed tests).

    .venv/bin/python bench/run_benchmarks.py                 # everything (about 10-20 minutes on 2 idle cores)
    .venv/bin/python bench/run_benchmarks.py --only efficiency,parallel
    .venv/bin/python bench/run_benchmarks.py --quick         # small sizes: checks the script in a minute
    .venv/bin/python bench/run_benchmarks.py --profile       # where one 10k x 36-month run spends its time

Sections (goals from issue 3):
- efficiency: tickets per second of a full model run / tickets per second of a bare SimPy
  M/M/c loop with the same arrival rate, handle times and agents, in the same process
  (goal >= 0.5). Best of 3 of each, to damp noise from other load on the machine.
- scaling: wall time and peak memory (RSS above the interpreter's own) of one run at
  1k, 10k and 100k customers over 36 months, each in a fresh process (time should grow
  linearly with customers; memory with customers + months).
- stream: peak memory of `run_to_dir` (streams to disk) vs `run_scenario` (keeps monthly rows)
  as replications grow 4x: streaming stays flat.
- parallel: 16 replications, local processes (all cores) vs serial (goal >= 1.8x on 2 cores);
  wall-clock ratio plus the CPU-time estimate for idle cores (robust to other load).
- reference: 10,000 customers x 36 months x 5 policies x 30 replications, all cores, the way
  `supportsim run` does it (goal <= 3 minutes).
The load average is printed with every figure: on a shared machine it explains the noise.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.engine import model  # noqa: E402
from sim.output.files import run_to_dir  # noqa: E402
from sim.params.scenario import load, resolve_policies  # noqa: E402
from sim.params.schema import HOURS_PER_MONTH  # noqa: E402
from sim.runs.executors import ProcessExecutor, SerialExecutor, default_workers  # noqa: E402
from sim.runs.experiment import execute, jobs  # noqa: E402
from sim.runs.options import RunOptions  # noqa: E402

BASELINE = ROOT / "scenarios" / "baseline.toml"
# The reference workload: the baseline's four policies plus per-hour metering = 5 policies.
FIVE_POLICIES = ["policies.per_hour.pricing.scheme=per_hour", "policies.per_hour.pricing.per_hour_fee_usd=40.0"]


def load_avg() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} (1/5 min) on {os.cpu_count()} cores"


def flat_params(customers: int, extra: list[str] | None = None):
    sc = load(BASELINE, [f"customers.initial={customers}", *(extra or [])])
    return next(p.params for p in resolve_policies(sc) if p.name == "flat")


class RssSampler:
    """Peak resident memory above the level at start, sampled every 5 ms in a thread (the
    process's high-water mark alone would hide a run smaller than the imports' peak)."""

    def __init__(self) -> None:
        import threading

        import psutil

        self._proc = psutil.Process()
        self.start_mb = self._proc.memory_info().rss / 2**20
        self.peak_mb = self.start_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)


# ---------------------------------------------------------------------------- efficiency


def bare_mmc(arrival_rate_per_h: float, handle_mean_h: float, agents: int, n: int, seed: int) -> tuple[float, float]:
    """(wall, CPU) seconds for a textbook SimPy M/M/c loop (generator processes) to serve n customers."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1 / arrival_rate_per_h, n).tolist()
    handles = rng.exponential(handle_mean_h, n).tolist()
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=agents)
    waits: list[float] = []

    def customer(handle: float):
        arrived = env.now
        with desk.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(handle)

    def source():
        for gap, handle in zip(gaps, handles):
            yield env.timeout(gap)
            env.process(customer(handle))

    env.process(source())
    t, c = time.perf_counter(), time.process_time()
    env.run()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert len(waits) == n
    return wall, cpu


def efficiency(quick: bool) -> dict:
    """Model and bare loop alternate (best of 3 each), so both see the same background load;
    the ratio uses CPU time of this process, which other load disturbs far less than wall time."""
    customers, months = (3000, 6) if quick else (10_000, 12)
    probe = flat_params(customers)
    rows = model.run(probe, months=months, seed=1)
    agents = int(np.median([r["agents"] for r in rows]))  # what Erlang staffing picks, then held fixed
    params = flat_params(customers, ["support.staffing=fixed", f"support.agents={agents}"])
    model_wall = model_cpu = bare_wall = bare_cpu = math.inf
    tickets = 0
    for rep in range(3):
        t, c = time.perf_counter(), time.process_time()
        rows = model.run(params, months=months, seed=1)
        model_wall, model_cpu = min(model_wall, time.perf_counter() - t), min(model_cpu, time.process_time() - c)
        tickets = sum(r["tickets_raised"] for r in rows)
        rate = tickets / (months * HOURS_PER_MONTH)
        w, c = bare_mmc(rate, params.support.handle_time_mean_h, agents, tickets, seed=rep)
        bare_wall, bare_cpu = min(bare_wall, w), min(bare_cpu, c)
    return {"customers": customers, "months": months, "agents": agents, "tickets": tickets,
            "model_s": model_wall, "bare_s": bare_wall, "model_cpu_s": model_cpu, "bare_cpu_s": bare_cpu,
            "model_tickets_per_s": tickets / model_cpu, "bare_tickets_per_s": tickets / bare_cpu,
            "ratio": bare_cpu / model_cpu, "ratio_wall": bare_wall / model_wall}


# ---------------------------------------------------------------------------- scaling


def scaling_child(customers: int, months: int) -> None:
    """Run in a fresh process: one flat run; print seconds and peak memory as JSON."""
    params = flat_params(customers)
    model.run(flat_params(50), months=1, seed=0)  # warm imports and caches, with a negligible footprint
    with RssSampler() as mem:
        t, c = time.perf_counter(), time.process_time()
        rows = model.run(params, months=months, seed=1)
        elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    print(json.dumps({"customers": customers, "months": months, "seconds": elapsed, "cpu_s": cpu,
                      "peak_rss_mb": mem.peak_mb, "rss_before_mb": mem.start_mb,
                      "tickets": sum(r["tickets_raised"] for r in rows)}))


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def scaling(quick: bool) -> list[dict]:
    sizes, months = ((1000, 5000), 12) if quick else ((1000, 10_000, 100_000), 36)
    return [_child("--child-scaling", str(n), str(months)) for n in sizes]


# ---------------------------------------------------------------------------- streaming memory


def stream_child(mode: str, replications: int) -> None:
    from sim.runs.experiment import run_scenario

    sc = load(BASELINE, ["customers.initial=300", "run.months=36", f"run.replications={replications}"])
    from sim.output.files import write_results

    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, RssSampler() as mem:
        if mode == "stream":
            run_to_dir(sc, Path(tmp) / "o", plots=False)
        else:
            write_results(run_scenario(sc), Path(tmp) / "o", plots=False)
    print(json.dumps({"mode": mode, "replications": replications, "seconds": time.perf_counter() - t,
                      "peak_rss_mb": mem.peak_mb, "rss_before_mb": mem.start_mb}))


def stream(quick: bool) -> list[dict]:
    reps = (4, 16) if quick else (25, 100)
    return [_child("--child-stream", mode, str(r)) for mode in ("stream", "memory") for r in reps]


# ---------------------------------------------------------------------------- parallel


def parallel(quick: bool, workers: int) -> dict:
    customers, months = (2000, 12) if quick else (10_000, 12)
    sc = load(BASELINE, [f"customers.initial={customers}", f"run.months={months}"])
    flat = [p for p in resolve_policies(sc) if p.name == "flat"]
    job_list = jobs(flat, replications=16, months=months, seed=1)
    t, c = time.perf_counter(), _cpu_children()
    serial = [tab for _, tab in execute(job_list, executor=SerialExecutor())]
    serial_s, serial_cpu = time.perf_counter() - t, _cpu_children() - c
    t, c = time.perf_counter(), _cpu_children()
    with ProcessExecutor(workers) as ex:
        procs = [tab for _, tab in execute(job_list, executor=ex)]
    procs_s, procs_cpu = time.perf_counter() - t, _cpu_children() - c  # workers are reaped: their CPU counts
    same = all(a.equals(b) for a, b in zip(serial, procs))
    # On a shared machine the wall-clock ratio mostly measures other people's load; the CPU
    # the parallel run spent (workers + this process) over the serial CPU is the overhead,
    # and workers x serial CPU / parallel CPU the speed-up the same jobs would get on idle cores.
    return {"customers": customers, "months": months, "replications": 16, "workers": workers,
            "serial_s": serial_s, "processes_s": procs_s, "speedup": serial_s / procs_s, "identical": same,
            "serial_cpu_s": serial_cpu, "processes_cpu_s": procs_cpu,
            "idle_speedup": min(workers, workers * serial_cpu / procs_cpu)}


# ---------------------------------------------------------------------------- reference workload


def reference(quick: bool, workers: int) -> dict:
    reps = 2 if quick else 30
    sc = load(BASELINE, ["customers.initial=10000", "run.months=36", f"run.replications={reps}", *FIVE_POLICIES])
    n_pol = len(resolve_policies(sc))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        cpu0 = _cpu_children()
        res = run_to_dir(sc, Path(tmp) / "ref", plots=False, options=RunOptions(workers=workers))
        wall = time.perf_counter() - t
        cpu = _cpu_children() - cpu0
    return {"customers": 10_000, "months": 36, "policies": n_pol, "replications": res.replications,
            "runs": n_pol * res.replications, "workers": workers, "wall_s": wall,
            "cpu_s_per_run": cpu / (n_pol * res.replications)}


def _cpu_children() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime + me.ru_utime + me.ru_stime


# ---------------------------------------------------------------------------- profile


def profile() -> str:
    params = flat_params(10_000)
    prof = cProfile.Profile()
    prof.enable()
    model.run(params, months=36, seed=1)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(15)
    return buf.getvalue()


# ---------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="efficiency,scaling,stream,parallel,reference",
                    help="comma-separated sections (default: all)")
    ap.add_argument("--quick", action="store_true", help="small sizes, to check the script")
    ap.add_argument("--workers", type=int, default=0, help="processes for parallel/reference (default: all cores)")
    ap.add_argument("--profile", action="store_true", help="profile one 10k-customer x 36-month run and stop")
    ap.add_argument("--child-scaling", nargs=2, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-stream", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_scaling:
        scaling_child(*args.child_scaling)
        return 0
    if args.child_stream:
        stream_child(args.child_stream[0], int(args.child_stream[1]))
        return 0
    if args.profile:
        print(profile())
        return 0
    workers = args.workers or default_workers()
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    print(f"supportsim benchmarks{' (quick sizes)' if args.quick else ''}: Python {sys.version.split()[0]}, "
          f"simpy {simpy.__version__}, {load_avg()}")
    for name in sections:
        before = load_avg()
        if name == "efficiency":
            r = efficiency(args.quick)
            print(f"\n[efficiency] {r['customers']:,} customers x {r['months']} months, flat, {r['agents']} agents fixed, "
                  f"{r['tickets']:,} tickets (best of 3)")
            print(f"  full model     {r['model_cpu_s']:7.2f} CPU-s ({r['model_s']:.2f} s wall)  "
                  f"{r['model_tickets_per_s']:>10,.0f} tickets/CPU-s")
            print(f"  bare M/M/c     {r['bare_cpu_s']:7.2f} CPU-s ({r['bare_s']:.2f} s wall)  "
                  f"{r['bare_tickets_per_s']:>10,.0f} tickets/CPU-s")
            print(f"  ratio model/bare = {r['ratio']:.2f} on CPU time, {r['ratio_wall']:.2f} on wall time (goal >= 0.5)")
        elif name == "scaling":
            rs = scaling(args.quick)
            print("\n[scaling] one flat run each, fresh process")
            print(f"  {'customers':>10} {'months':>6} {'wall s':>8} {'CPU s':>8} {'CPU s/1M cust-months':>21} "
                  f"{'peak RSS MB':>12} {'run adds MB':>12} {'tickets':>10}")
            for r in rs:
                per = r["cpu_s"] / (r["customers"] * r["months"]) * 1e6
                print(f"  {r['customers']:>10,} {r['months']:>6} {r['seconds']:>8.2f} {r['cpu_s']:>8.2f} {per:>21.1f} "
                      f"{r['peak_rss_mb']:>12.0f} {r['peak_rss_mb'] - r['rss_before_mb']:>12.0f} {r['tickets']:>10,}")
            for a, b in zip(rs, rs[1:]):
                print(f"  {b['customers'] // a['customers']}x customers -> {b['cpu_s'] / a['cpu_s']:.1f}x CPU time, "
                      f"{b['seconds'] / a['seconds']:.1f}x wall time")
        elif name == "stream":
            rs = stream(args.quick)
            print("\n[stream] baseline, 300 customers x 36 months x 4 policies, serial, peak RSS (fresh process)")
            for r in rs:
                print(f"  {r['mode']:>6} {r['replications']:>4} replications: {r['seconds']:6.1f} s, peak RSS "
                      f"{r['peak_rss_mb']:6.0f} MB ({r['peak_rss_mb'] - r['rss_before_mb']:+.0f} MB during the run)")
        elif name == "parallel":
            r = parallel(args.quick, workers)
            print(f"\n[parallel] 16 replications, flat, {r['customers']:,} customers x {r['months']} months")
            print(f"  serial {r['serial_s']:.1f} s; {r['workers']} processes {r['processes_s']:.1f} s; "
                  f"speed-up {r['speedup']:.2f}x wall (goal >= 1.8x on 2 cores); identical results: {r['identical']}")
            print(f"  CPU: serial {r['serial_cpu_s']:.1f} s, processes {r['processes_cpu_s']:.1f} s in all -> "
                  f"{r['idle_speedup']:.2f}x expected on {r['workers']} idle cores")
        elif name == "reference":
            r = reference(args.quick, workers)
            print(f"\n[reference] {r['customers']:,} customers x {r['months']} months x {r['policies']} policies x "
                  f"{r['replications']} replications = {r['runs']} runs, {r['workers']} processes, streamed to disk")
            ideal = r["cpu_s_per_run"] * r["runs"] / r["workers"]
            print(f"  wall {r['wall_s']:.0f} s ({r['wall_s'] / 60:.1f} min; goal <= 3 min); "
                  f"{r['cpu_s_per_run']:.2f} CPU-s per run, i.e. {ideal:.0f} s ({ideal / 60:.1f} min) on "
                  f"{r['workers']} otherwise idle cores")
        else:
            print(f"unknown section {name!r}", file=sys.stderr)
            return 2
        print(f"  ({before} before, {load_avg()} after)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
