"""How fast the app answers on the default scenario (issue 14's targets, at idle on 2 cores:
first KPI cards <= 3 s after the page loads on a freshly started server; first new numbers
<= 1 s median after a control change; all replications <= 10 s).

    .venv/bin/python bench/bench_app.py                  # function and browser, 5 changes each
    .venv/bin/python bench/bench_app.py --trials 9 --no-browser
    .venv/bin/python bench/bench_app.py --cold           # first KPI cards after a server start
    .venv/bin/python bench/bench_app.py --cold --launcher both   # ... make app's launcher vs streamlit run

Two measurements, each a median over ``--trials`` changes of the agent cost (every change
is a scenario the cache has not seen):

- function: the app's run path (``sim.app.progressive.progressive_run`` on a warm worker pool, as
  the page calls it), timed from the changed scenario to the first results (every policy,
  first replication: what the KPI cards show first), to the cards and reasons computed, and
  to all replications with the first tab's figures drawn as PNGs (as the page ends).
- browser: the app's server (``--launcher``) and headless Chromium; from pressing Enter in
  the "Agent cost" box to the first changed KPI card (both stamped by the page itself, see
  ``MARKS_JS``), to the first plot replaced and
  loaded (the page redraws figures when all replications are in), and to the end of the run
  (the 'Running…' indicator gone, every plot loaded).

The load average is printed with the figures: the machine is shared, so they are noisy.
Results also go to artifacts/bench_app.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.app import drawing, procs, progressive, sources, store, views  # noqa: E402
from sim.params.scenario import DEFAULT_SCENARIO  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
BASE_COST = 35.0


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def median(xs: list[float]) -> float:
    return round(statistics.median(xs), 2)


def replication_cpu(scenario) -> float:
    """CPU seconds of one replication of every policy, in this process (load-independent)."""
    from sim.params.scenario import resolve_policies
    from sim.runs.experiment import jobs, run_job

    job_list = jobs(resolve_policies(scenario), replications=1, months=scenario.run.months, seed=scenario.run.seed)
    t0 = time.process_time()
    for job in job_list:
        run_job(job)
    return time.process_time() - t0


def bench_function(trials: int) -> dict:
    source = sources.load_source(DEFAULT_SCENARIO)
    pool = procs.make_pool(procs.app_workers())
    cache = store.DictCache()
    first, cards, full, cards_cpu, figures_cpu = [], [], [], [], []
    try:
        for k in range(trials):
            scenario = sources.build_scenario(source, [f"support.agent_cost_usd_per_hour={BASE_COST + 1 + k}"])
            specs = [s for s in drawing.figure_specs(len(scenario.policies)) if s.tab == drawing.TABS[0]]
            t0 = time.perf_counter()
            t_first = t_cards = None
            for upd in progressive.progressive_run(scenario, cache=cache, pool=pool):
                if upd.results is not None and t_first is None:
                    t_first = time.perf_counter() - t0
                    c0 = time.process_time()
                    views.kpi_cards(upd.results)
                    views.verdict(upd.results)
                    views.bridge_table(upd.results)
                    views.segment_table(upd.results)
                    cards_cpu.append(time.process_time() - c0)
                    t_cards = time.perf_counter() - t0
                if upd.final and upd.results is not None:
                    c0 = time.process_time()
                    for spec in specs:
                        drawing.render_figure(upd.results, spec.name, "png", dpi=100)
                    figures_cpu.append(time.process_time() - c0)
            t_full = time.perf_counter() - t0
            first.append(t_first)
            cards.append(t_cards)
            full.append(t_full)
            print(f"  function trial {k + 1}: first results {t_first:.2f} s, first cards computed {t_cards:.2f} s, "
                  f"all {scenario.run.replications} replications and the first tab's figures {t_full:.2f} s  "
                  f"(load {load()})", flush=True)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    workers = procs.app_workers()
    rep_cpu = replication_cpu(scenario)
    # On an idle machine the first replication's jobs share the workers evenly, then the page draws.
    idle_first = rep_cpu / min(workers, len(scenario.policies))
    idle_full = rep_cpu * scenario.run.replications / workers + statistics.median(figures_cpu)
    print(f"  CPU: one replication of every policy {rep_cpu:.2f} s, cards and reasons "
          f"{statistics.median(cards_cpu):.2f} s, the first tab's figures {statistics.median(figures_cpu):.2f} s "
          f"-> idle-machine estimate: first cards {idle_first + statistics.median(cards_cpu):.2f} s, "
          f"all replications and figures {idle_full:.2f} s", flush=True)
    return {"first_results_s": median(first), "first_cards_s": median(cards), "all_replications_s": median(full),
            "trials": trials, "workers": workers, "replication_cpu_s": round(rep_cpu, 2),
            "cards_cpu_s": median(cards_cpu), "figures_cpu_s": median(figures_cpu),
            "idle_estimate": {"first_cards_s": round(idle_first + statistics.median(cards_cpu), 2),
                              "all_replications_s": round(idle_full, 2)}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# How the server is started: ``serve`` as ``make app`` does (imports and workers warmed before
# the first visitor), ``streamlit`` as a bare ``streamlit run app.py`` (everything on first open).
SETTLE_S = 5.0
LAUNCHERS = {"serve": ["-m", "sim.app.serve"], "streamlit": ["-m", "streamlit", "run", "app.py"]}


def bench_browser(trials: int, cache_dir: str = "", launcher: str = "serve") -> dict:
    """Open the page on a freshly started server, then change the agent cost ``trials`` times.

    ``cache_dir``: the server's persistent run cache (``SUPPORTSIM_APP_CACHE``; empty: none,
    so opening runs everything). ``launcher``: a key of :data:`LAUNCHERS`."""
    from playwright.sync_api import sync_playwright

    time.sleep(SETTLE_S)  # a server just stopped (the previous measure) is still tearing down its processes
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(ROOT / "artifacts" / "bench_app_server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, *LAUNCHERS[launcher], "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "SUPPORTSIM_APP_CACHE": cache_dir})
    first, plot, full = [], [], []
    t_open = t_complete = float("nan")
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("streamlit did not start") from None
                time.sleep(0.3)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1100})
            page.add_init_script(MARKS_JS)
            t0 = time.perf_counter()
            page.goto(url)
            page.wait_for_function("() => window.__bench.marks.cards !== undefined", polling=POLL_MS, timeout=600_000)
            t_open = page.evaluate("() => window.__bench.marks.cards") / 1000  # since navigation began
            idle(page)
            t_complete = time.perf_counter() - t0
            print(f"  browser: first KPI cards on opening {t_open:.2f} s (fresh server via {launcher}, "
                  f"{'disk cache ' + cache_dir if cache_dir else 'no disk cache'}), complete {t_complete:.2f} s "
                  f"(load {load()})", flush=True)
            sidebar = page.locator('[data-testid="stSidebar"]')
            sidebar.get_by_text("Support desk", exact=True).click()
            cost = sidebar.get_by_role("spinbutton", name="Agent cost (USD/h)", exact=True)
            for k in range(trials):
                before = profit_texts(page)
                src = page.eval_on_selector('[data-testid="stMain"] [data-testid="stImage"] img', "e => e.src")
                cost.fill(f"{BASE_COST + 51 + k:g}")
                page.evaluate("v => { window.__bench.marks = {}; window.__bench.watch = v; }", before[0])
                t0 = time.perf_counter()
                cost.press("Enter")
                page.wait_for_function("() => window.__bench.marks.numbers !== undefined", polling=POLL_MS,
                                       timeout=600_000)
                marks = page.evaluate("() => window.__bench.marks")
                t_first = (marks["numbers"] - marks["key"]) / 1000  # the page's own clock, from the key press
                page.wait_for_function(
                    """src => { const i = document.querySelector('[data-testid="stMain"] [data-testid="stImage"] img');
                        return i && i.src !== src && i.complete && i.naturalWidth > 0; }""", arg=src,
                    polling=POLL_MS, timeout=600_000)
                t_plot = time.perf_counter() - t0
                idle(page)
                t_full = time.perf_counter() - t0
                first.append(t_first)
                plot.append(t_plot)
                full.append(t_full)
                print(f"  browser trial {k + 1}: first new numbers {t_first:.2f} s, first new plot {t_plot:.2f} s, "
                      f"all replications {t_full:.2f} s  (load {load()})", flush=True)
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return {"open_first_cards_s": round(t_open, 2), "open_complete_s": round(t_complete, 2),
            "first_new_numbers_s": median(first) if first else None, "first_new_plot_s": median(plot) if plot else None,
            "all_replications_s": median(full) if full else None, "trials": trials}


def bench_cold(launchers: list[str]) -> dict:
    """Per launcher, cold start twice on a new, empty run-cache folder: the first server runs
    everything; the second, started afresh, finds the first one's runs on disk."""
    import tempfile

    out = {}
    for launcher in launchers:
        with tempfile.TemporaryDirectory(prefix="bench_app_cache_") as folder:
            first = bench_browser(0, cache_dir=folder, launcher=launcher)
            second = bench_browser(0, cache_dir=folder, launcher=launcher)
        out[launcher] = {"nothing_cached": first, "disk_cache_warm": second}
    return out


# The page times itself: a MutationObserver installed before the page loads stamps
# performance.now() (ms since navigation began) when the first KPI card appears and, once a
# trial sets ``watch`` to the first card's value, when that value changes; a keydown listener
# stamps the Enter press. Playwright then polls every POLL_MS for the stamps instead of on
# every animation frame, which would take CPU from the two cores the app runs on.
POLL_MS = 100
MARKS_JS = """
window.__bench = {marks: {}, watch: null};
(() => {
  const q = '[data-testid="stMain"] [data-testid="stMetricValue"]';
  const check = () => {
    const b = window.__bench, now = performance.now();
    const el = document.querySelector(q);
    if (!el) return;
    if (b.marks.cards === undefined && b.watch === null) b.marks.cards = now;
    if (b.watch !== null && b.marks.numbers === undefined && el.textContent !== b.watch) b.marks.numbers = now;
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
  document.addEventListener('keydown', e => {
    if (e.key === 'Enter' && window.__bench.watch !== null && window.__bench.marks.key === undefined)
      window.__bench.marks.key = performance.now();
  }, true);
})();
"""


def profit_texts(page) -> list[str]:
    return page.eval_on_selector_all('[data-testid="stMain"] [data-testid="stMetricValue"]',
                                     "els => els.map(e => e.innerText)")


def idle(page) -> None:
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", polling=POLL_MS,
                           timeout=600_000)
    page.wait_for_function(
        """() => { const imgs = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img')];
                   return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }""",
        polling=POLL_MS, timeout=600_000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-function", action="store_true")
    parser.add_argument("--cold", action="store_true", help="only the cold-start figures (two fresh servers per launcher)")
    parser.add_argument("--launcher", choices=[*LAUNCHERS, "both"], default="serve",
                        help="how the server starts: serve (make app: warmed), streamlit (bare streamlit run), both")
    args = parser.parse_args()
    (ROOT / "artifacts").mkdir(exist_ok=True)
    out: dict = {"load_before": load(), "cpus": os.cpu_count()}
    if args.cold:
        print(f"cold start (fresh servers, streamlit + chromium), load {load()}:", flush=True)
        out["cold_start"] = bench_cold(list(LAUNCHERS) if args.launcher == "both" else [args.launcher])
        args.no_function = args.no_browser = True
    if not args.no_function:
        print(f"function (sim.app.progressive.progressive_run, warm pool), load {load()}:", flush=True)
        out["function"] = bench_function(args.trials)
    if not args.no_browser:
        print(f"browser (streamlit + chromium), load {load()}:", flush=True)
        out["browser"] = bench_browser(args.trials, launcher="serve" if args.launcher == "both" else args.launcher)
    out["load_after"] = load()
    (ROOT / "artifacts" / "bench_app.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
