"""The app end to end in a real browser: Streamlit server + headless Chromium (Playwright).

The fixture starts the app's server as ``make app`` does (``python -m sim.app.serve``) on a free port, waits for its health check and
stops exactly that process. The test opens the default scenario, changes a control the
way a person would, waits until the new numbers *and* the new plot are on screen, checks
they moved the right way and saves screenshots to ``artifacts/``. Every wait is for a state,
never for a time: the page's script runs as the server reports them on the page's websocket
(:class:`Runs`: a rerun asked for after the action has started and finished, none pending),
then every plot loaded; values are read before the action that changes them.

Under ``CI=true`` a missing browser or Playwright fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from sim.app import drawing
from sim.params.scenario import load
from sim.runs.metrics import KPIS
from tests.conftest import ROOT, SCENARIOS

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
ARTIFACTS = ROOT / "artifacts"
STARTUP_S = 90
RUN_S = 300  # a full run of the default scenario on a loaded 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing: the browser tests must run in CI (make test installs chromium)")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    """The app's server (``python -m sim.app.serve``) on a free port; stops exactly this process afterwards."""
    port = free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    # started as `make app` starts it (imports and workers warmed before the first visitor)
    cmd = [sys.executable, "-m", "sim.app.serve", "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "SUPPORTSIM_APP_FIXTURES": "1",  # its own disk cache: no runs
                                     "SUPPORTSIM_APP_CACHE": str(log.parent / "cache")})  # left by earlier sessions
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer its health check in {STARTUP_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright")
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        missing(CHROMIUM)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# ---------------------------------------------------------------- reading the page


def metrics(page) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        '[data-testid="stMain"] [data-testid="stMetric"]',
        """els => els.map(e => ({
            label: (e.querySelector('[data-testid="stMetricLabel"]') || {}).innerText || '',
            value: (e.querySelector('[data-testid="stMetricValue"]') || {}).innerText || ''}))""")


def money(text: str) -> float:
    m = re.fullmatch(r"(-?)\$([\d,.]+)([kMB]?)", text.strip())
    assert m, text
    return (-1 if m.group(1) else 1) * float(m.group(2).replace(",", "")) * {"": 1, "k": 1e3, "M": 1e6, "B": 1e9}[
        m.group(3)]


def profits(page) -> list[float]:
    label = KPIS["cumulative_profit"].title
    return [money(m["value"]) for m in metrics(page) if m["label"].strip().startswith(label)]


def first_plot_src(page) -> str:
    return page.eval_on_selector('[data-testid="stMain"] [data-testid="stImage"] img', "e => e.src")


# The page has drawn what the websocket delivered: Playwright sees a frame when it arrives, the
# page's script renders it later, so the DOM must also say the run is over (the script state the
# page shows, and no element left over from before the run).
DRAWN = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null && app.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelector('[data-stale="true"]') === null; }"""
PLOTS_LOADED = """least => {
    const imgs = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img')];
    return imgs.length >= least && imgs.every(i => i.complete && i.naturalWidth > 0); }"""
POLL_MS = 50  # how often the test looks at the run record (Playwright delivers websocket events while it waits)


class Runs:
    """The page's script runs, from its websocket: the reruns the page asks for (BackMsg
    ``rerun_script``), and each run's start and end as the server reports them (ForwardMsg
    ``new_session``, ``script_finished``). Take :meth:`mark` before an action that reruns the
    script, then :meth:`wait` for the rerun it caused to be over."""

    def __init__(self, page) -> None:  # noqa: ANN001
        self.events: list[str] = []
        page.on("websocket", self._attach)

    def _attach(self, ws) -> None:  # noqa: ANN001
        ws.on("framereceived", self._received)
        ws.on("framesent", self._sent)

    def _received(self, payload: bytes | str) -> None:
        if isinstance(payload, str):
            return
        msg = ForwardMsg.FromString(payload)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.events.append("start")
        elif kind == "script_finished":
            early = msg.script_finished == ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
            self.events.append("early" if early else "finish")

    def _sent(self, payload: bytes | str) -> None:
        if not isinstance(payload, str) and BackMsg.FromString(payload).WhichOneof("type") == "rerun_script":
            self.events.append("request")

    def mark(self) -> int:
        return len(self.events)

    def settled(self, since: int) -> bool:
        """A run started after ``since``, the last run has finished and no rerun is asked for since it started."""
        new = self.events[since:]
        if "start" not in new:
            return False
        last = len(new) - 1 - new[::-1].index("start")
        return new[-1] == "finish" and "request" not in new[last:]

    def wait(self, page, since: int, *, plots: bool = True, timeout_s: float = RUN_S) -> None:  # noqa: ANN001
        """Until the rerun asked for after ``since`` is over (:meth:`settled`), the page has drawn
        it (:data:`DRAWN`) and every plot on the page has loaded (``plots``: the open tab has
        figures, so at least one)."""
        deadline = time.monotonic() + timeout_s
        while not self.settled(since):
            assert time.monotonic() < deadline, f"no finished rerun in {timeout_s} s: {self.events[since:]}"
            page.wait_for_timeout(POLL_MS)
        page.wait_for_function(DRAWN, timeout=timeout_s * 1000)
        page.wait_for_function(PLOTS_LOADED, arg=1 if plots else 0, timeout=timeout_s * 1000)


def open_page(browser, url: str, **viewport: int):  # noqa: ANN001
    """A new page at ``url``, its first script run over; returns the page and its :class:`Runs`."""
    page = browser.new_page(viewport=viewport or {"width": 1440, "height": 900})
    runs = Runs(page)
    page.goto(url)
    runs.wait(page, 0)
    return page, runs


def painted(page) -> None:  # noqa: ANN001
    """Until the browser has painted twice since now (after a resize or a scroll, before a screenshot)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def profit_texts(page) -> list[str]:  # noqa: ANN001
    label = KPIS["cumulative_profit"].title
    return [m["value"] for m in metrics(page) if m["label"].strip().startswith(label)]


# ---------------------------------------------------------------- the test


def test_changing_agent_cost_updates_numbers_and_plot(app_url, browser):
    baseline = load(SCENARIOS / "baseline.toml")
    page, runs = open_page(browser, app_url, width=1600, height=1200)
    before, before_texts = profits(page), profit_texts(page)  # read before anything changes them
    assert len(before) == len(baseline.policies)
    src_before = first_plot_src(page)

    sidebar = page.locator('[data-testid="stSidebar"]')
    mark = runs.mark()
    sidebar.get_by_text("Support desk", exact=True).click()  # opening a group reruns the page
    runs.wait(page, mark)
    cost = sidebar.get_by_role("spinbutton", name="Agent cost (USD/h)", exact=True)
    assert float(cost.input_value()) == baseline.support.agent_cost_usd_per_hour
    new_cost = baseline.support.agent_cost_usd_per_hour * 2
    cost.fill(f"{new_cost:g}")
    mark = runs.mark()
    t0 = time.monotonic()
    cost.press("Enter")
    label = KPIS["cumulative_profit"].title
    page.wait_for_function(
        """([label, before]) => {
            const now = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetric"]')]
              .filter(e => (e.querySelector('[data-testid="stMetricLabel"]') || {}).innerText?.trim().startsWith(label))
              .map(e => e.querySelector('[data-testid="stMetricValue"]').innerText);
            return now.length === before.length && now.some((v, i) => v !== before[i]);
        }""",
        arg=[label, before_texts], timeout=RUN_S * 1000)
    first_numbers_s = time.monotonic() - t0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_browser_refining.png"))  # first replications shown, more running
    runs.wait(page, mark)
    complete_s = time.monotonic() - t0

    after = profits(page)
    assert len(after) == len(before)
    assert all(a < b for a, b in zip(after, before)), (before, after)  # dearer agents, less profit everywhere
    assert first_plot_src(page) != src_before
    assert page.get_by_text("1 change from baseline.toml").is_visible()
    page.screenshot(path=str(ARTIFACTS / "app_browser.png"))

    open_tab(page, runs, baseline, "Support desk")  # tabs draw only when opened (a rerun)
    assert len([s for s in drawing.figure_specs(len(baseline.policies)) if s.tab == "Support desk"]) >= 3
    page.set_viewport_size({"width": 1600, "height": 4000})  # the page scrolls inside; show it all
    painted(page)
    page.screenshot(path=str(ARTIFACTS / "app_browser_support_desk.png"))
    (ARTIFACTS / "app_browser_timing.json").write_text(json.dumps(
        {"first_new_numbers_s": round(first_numbers_s, 2), "all_replications_s": round(complete_s, 2),
         "replications": baseline.run.replications}, indent=2) + "\n")
    page.close()


# ---------------------------------------------------------------- state: the header's scenario, always


def header_line(page) -> str:
    """The scenario name (plain text: user text is never rendered as markdown) and the facts
    line under the title."""
    main = page.locator('[data-testid="stMain"]')
    name = main.locator('[data-testid="stText"]').first.inner_text().split(" · ")[0].strip()
    facts = main.locator('[data-testid="stCaptionContainer"]').first.inner_text()
    return f"{name} | {facts}"


def expected_header(sc) -> tuple[str, str]:
    return sc.scenario.name, (f"{len(sc.policies)} policies · {sc.run.months} months · "
                              f"{sc.customers.initial:,} customers · {sc.run.replications} replications · "
                              f"seed {sc.run.seed}")


def assert_shows(page, sc, where: str) -> None:  # noqa: ANN001
    """Header, controls and cards all belong to ``sc`` (call it once the page's rerun is over)."""
    name, facts = expected_header(sc)
    line = header_line(page)
    assert line.startswith(name + " |") and facts in line, (where, line)
    assert not page.get_by_text(re.compile(r"^\d+ changes? from ")).count(), (where, "controls differ from the file")
    sidebar = page.locator('[data-testid="stSidebar"]')
    initial = sidebar.get_by_role("spinbutton", name="Initial (customers)", exact=True)
    if initial.count():
        assert int(float(initial.first.input_value())) == sc.customers.initial, where
    assert len(profits(page)) == len(sc.policies), where


def open_tab(page, runs: Runs, sc, tab: str) -> bool:  # noqa: ANN001
    """Click ``tab`` and, as tabs draw only when opened (a rerun, if the tab was not open), wait
    for that rerun and the tab's own figures, so the checks that follow see the page after the
    rerun the click asked for (the state bug reverted the scenario there). Returns whether the
    tab has figures."""
    button = page.get_by_role("tab", name=tab, exact=True)
    was_open = button.get_attribute("aria-selected") == "true"
    captions = [s.caption for s in drawing.figure_specs(len(sc.policies)) if s.tab == tab]
    mark = runs.mark()
    button.click()
    if not was_open:
        runs.wait(page, mark, plots=bool(captions))
    for caption in captions:
        page.get_by_text(caption, exact=True).first.wait_for(state="visible", timeout=RUN_S * 1000)
    return bool(captions)


def open_tabs_in_turn(page, runs: Runs, sc, where: str) -> None:  # noqa: ANN001
    for tab in drawing.TABS:
        open_tab(page, runs, sc, tab)
        assert_shows(page, sc, f"{where}, then tab {tab}")


def pick_scenario(page, runs: Runs, stem: str) -> None:  # noqa: ANN001
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    mark = runs.mark()
    page.get_by_role("option", name=stem, exact=True).click()
    runs.wait(page, mark)


def upload(page, runs: Runs, path: Path, *, plots: bool = True) -> None:  # noqa: ANN001
    mark = runs.mark()
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(path))
    runs.wait(page, mark, plots=plots)


def scrolled_to_top(page) -> None:  # noqa: ANN001
    page.evaluate("""() => { window.scrollTo(0, 0);
        document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppScrollToBottomContainer"]')
          .forEach(e => e.scrollTo(0, 0)); }""")  # the tab click scrolled the tabs into view
    page.wait_for_function("""() => window.scrollY === 0 && [...document.querySelectorAll(
        '[data-testid="stMain"], [data-testid="stAppScrollToBottomContainer"]')].every(e => e.scrollTop === 0)""")
    painted(page)


def test_switching_scenario_then_tabs_keeps_the_new_scenario(app_url, browser):
    """Regression: after picking another scenario, clicking a tab reverted the header, the
    controls and the numbers to the previous scenario (the browser sent its old widget values
    back). Starts on the tiny fixture and switches to the smallest shipped scenario, so the test
    takes minutes, not tens of minutes, on a loaded machine."""
    target = "metered_wins"
    other = load(SCENARIOS / f"{target}.toml")
    page, runs = open_page(browser, f"{app_url}/?scenario=smoke")
    assert_shows(page, load(SCENARIOS / "smoke.toml"), "opened smoke")
    pick_scenario(page, runs, target)
    assert_shows(page, other, f"picked {target}")
    assert f"scenario={target}" in page.url
    open_tabs_in_turn(page, runs, other, f"picked {target}")
    ARTIFACTS.mkdir(exist_ok=True)
    for w, h in ((1280, 720), (1440, 900)):
        page.set_viewport_size({"width": w, "height": h})
        open_tab(page, runs, other, drawing.TABS[0])
        assert_shows(page, other, f"tab {drawing.TABS[0]} at {w}x{h}")
        scrolled_to_top(page)
        page.screenshot(path=str(ARTIFACTS / f"app_{target}_{w}x{h}.png"))
    page.close()


def test_reset_and_upload_then_tabs_keep_the_scenario(app_url, browser, tmp_path):
    smoke = load(SCENARIOS / "smoke.toml")
    page, runs = open_page(browser, f"{app_url}/?scenario=smoke")
    assert_shows(page, smoke, "opened smoke")
    sidebar = page.locator('[data-testid="stSidebar"]')
    mark = runs.mark()
    sidebar.get_by_text("Support desk", exact=True).click()  # opening a group reruns the page
    runs.wait(page, mark)
    cost = sidebar.get_by_role("spinbutton", name="Agent cost (USD/h)", exact=True)
    cost.fill(f"{smoke.support.agent_cost_usd_per_hour * 2:g}")
    mark = runs.mark()
    cost.press("Enter")
    runs.wait(page, mark)
    assert page.get_by_text("1 change from smoke.toml").is_visible()
    mark = runs.mark()
    sidebar.get_by_role("button", name="Reset controls to the file").click()
    runs.wait(page, mark)
    assert_shows(page, smoke, "reset")
    open_tab(page, runs, smoke, "Money")
    assert_shows(page, smoke, "reset, then a tab")
    assert float(cost.input_value()) == smoke.support.agent_cost_usd_per_hour

    mine = load(SCENARIOS / "smoke.toml", ["scenario.name=mine", "customers.initial=250"])
    path = tmp_path / "mine.toml"
    path.write_text((SCENARIOS / "smoke.toml").read_text().replace('name = "smoke"', 'name = "mine"')
                    .replace("initial = 300", "initial = 250"))
    sidebar.get_by_text("Use your own scenario file").click()  # opens on the page, no rerun
    upload(page, runs, path)
    assert_shows(page, mine, "uploaded")
    open_tab(page, runs, mine, "Support desk")
    assert_shows(page, mine, "uploaded, then a tab")

    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text().replace("initial = 250", "initial = -5"))
    upload(page, runs, bad, plots=False)
    main = page.locator('[data-testid="stMain"]')
    assert main.get_by_text("bad.toml", exact=False).first.is_visible()  # the error is in the main area
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_upload_error_1440x900.png"))
    page.close()


ANSWER_ON_SCREEN = """h => {
    const box = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stMarkdownContainer"]')]
      .find(e => e.innerText.includes('Choose ')) ?.closest('[data-testid="stVerticalBlock"]');  // the bordered box
    if (!box) return false;
    const r = box.getBoundingClientRect();
    return r.top >= 0 && r.bottom <= h;
}"""


def test_decision_tab_runs_and_its_answer_fits_the_screen(app_url, browser, tmp_path):
    """The Decision tab on the smoke fixture with a small uncertainty table: the button runs the
    analysis, the three-line answer and the three figures appear, and they come back after a tab
    switch without a rerun. Screenshots at both sizes in artifacts/."""
    text = (SCENARIOS / "smoke.toml").read_text().replace('name = "smoke"', 'name = "smoke_uncertain"') + (
        '\n[uncertainty]\n"acquisition.cac_multiple" = { dist = "triangular", low = 5.0, mode = 6.5, high = 25.0 }\n'
        '"policies.per_ticket.pricing.per_ticket_fee_usd" = { dist = "uniform", low = 0.0, high = 60.0 }\n')
    path = tmp_path / "smoke_uncertain.toml"
    path.write_text(text)
    sc = load(path)
    page, runs = open_page(browser, f"{app_url}/?scenario=smoke")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Use your own scenario file").click()  # opens on the page, no rerun
    upload(page, runs, path)
    assert_shows(page, sc, "uploaded")
    open_tab(page, runs, sc, "Decision")
    samples = page.get_by_role("spinbutton", name="Samples (plausible worlds)")
    samples.fill("8")
    mark = runs.mark()
    samples.press("Enter")
    runs.wait(page, mark, plots=False)
    button = page.get_by_role("button", name="Run decision analysis (24 model runs)")  # 8 samples x 3 policies
    assert button.is_visible()
    mark = runs.mark()
    button.click()
    runs.wait(page, mark)
    main = page.locator('[data-testid="stMain"]')
    assert main.get_by_text(re.compile("Research first:")).first.is_visible()  # case-sensitive: the intro says "research first"
    assert main.locator('[data-testid="stImage"] img').count() == len(drawing.DECISION_FIGURES)
    answer = main.get_by_text(re.compile(r"^Choose .+ \(highest expected value\)")).first.inner_text()
    assert "flat_vip" not in answer and "per_ticket" not in answer, answer  # display labels
    ARTIFACTS.mkdir(exist_ok=True)
    for w, h in ((1280, 720), (1440, 900)):
        page.set_viewport_size({"width": w, "height": h})
        # the main area's tabs (the sidebar has tabs too) at the top; then the whole answer must be on screen
        page.evaluate("() => document.querySelector('[data-testid=\"stMain\"] [data-testid=\"stTabs\"]')"
                      ".scrollIntoView({block: 'start'})")
        page.wait_for_function(ANSWER_ON_SCREEN, arg=h, timeout=15_000)
        painted(page)
        page.screenshot(path=str(ARTIFACTS / f"app_decision_{w}x{h}.png"))
    open_tab(page, runs, sc, "Money")
    open_tab(page, runs, sc, "Decision")  # the answer comes back from the session, not from a new analysis
    assert main.get_by_text(re.compile("Research first:")).first.is_visible()
    assert main.locator('[data-testid="stImage"] img').count() == len(drawing.DECISION_FIGURES)
    page.close()


# ---------------------------------------------------------------- hostile labels in a real browser


HOSTILE_CHECK = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    const side = document.querySelector('[data-testid="stSidebar"]');
    const all = [...(main ? main.querySelectorAll('*') : []), ...(side ? side.querySelectorAll('*') : [])];
    return {
        pwned: window.__pwned !== undefined,
        iframes: [...document.querySelectorAll('iframe')].map(f => f.outerHTML.slice(0, 120)),
        imgs: [...document.images].map(i => i.getAttribute('src') || '').filter(s => s === 'x' || s.includes('example.invalid')),
        links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')).filter(h => /^\\s*javascript:/i.test(h)),
        katex: document.querySelectorAll('.katex, math').length,
        bold: all.filter(e => ['STRONG', 'B'].includes(e.tagName) && e.innerText.trim() === 'bold').length,
        onerror: all.filter(e => e.hasAttribute && e.hasAttribute('onerror')).length,
    };
}"""


def test_hostile_labels_are_shown_literally_and_never_run(app_url, browser, tmp_path):
    """An uploaded scenario whose policy labels, name, description and segment names are an
    iframe running script, an img with onerror, a javascript: link, a remote Markdown image,
    **bold** and $x$: every one appears as the text it is; no iframe, img or link is made of
    it, nothing is fetched, no dialog opens, no script runs. Screenshot in artifacts/."""
    from tests.test_hostile_text import IMG, LINK, MATH, REMOTE, SCRIPT, hostile_scenario

    path = tmp_path / f"{IMG}.toml"
    path.write_text(hostile_scenario())
    sc = load(path)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    runs = Runs(page)
    dialogs, fetched = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: fetched.append(r.url) if "example.invalid" in r.url else None)
    page.goto(f"{app_url}/?scenario=smoke")
    runs.wait(page, 0)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Use your own scenario file").click()  # opens on the page, no rerun
    upload(page, runs, path)
    main = page.locator('[data-testid="stMain"]')
    for label in (SCRIPT, IMG, LINK):  # each card's heading shows its label as typed
        assert main.get_by_text(label, exact=True).first.is_visible(), label
    assert main.locator('[data-testid="stText"]').first.inner_text().startswith(f"{REMOTE} · **bold** {MATH}")
    mark = runs.mark()
    sidebar.get_by_text("Customers and segments", exact=True).click()  # segment names: tabs and headings
    runs.wait(page, mark)
    sidebar.get_by_role("tab", name="**bold**", exact=True).wait_for(state="visible", timeout=RUN_S * 1000)
    sidebar.get_by_role("tab", name=MATH, exact=True).click()  # the sidebar's own tabs: no rerun
    painted(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_hostile_labels_1440x900.png"))
    found = page.evaluate(HOSTILE_CHECK)
    open_tab(page, runs, sc, "Assumptions")  # the policies' overrides, labels included
    assert main.get_by_text("Policies", exact=False).first.is_visible()
    after = page.evaluate(HOSTILE_CHECK)
    page.close()
    for state in (found, after):
        assert state == {"pwned": False, "iframes": [], "imgs": [], "links": [], "katex": 0, "bold": 0,
                         "onerror": 0}, state
    assert not dialogs and not fetched, (dialogs, fetched)
