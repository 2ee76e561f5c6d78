"""The one-page HTML report: contents, the assumptions table, the CLI verb, and a real browser render."""

from __future__ import annotations

import base64
import html
import os
import re
import shutil
from pathlib import Path

import pytest

from sim.cli import main
from sim.output import figures, findings
from sim.output.report import assumptions, render
from sim.params.scenario import load, policy_labels
from sim.params.schema import Params
from sim.params.walk import field_unit
from sim.runs.metrics import KPIS
from sim.runs.options import RunOptions
from tests.conftest import ROOT, SCENARIOS

# module-scoped fixtures: on one worker, run once (xdist would otherwise rebuild them each time
# it interleaves this module with others)
pytestmark = pytest.mark.xdist_group("report")

TINY = ["--replications", "2", "--set", "run.months=3", "--set", "customers.initial=150", "--workers", "1"]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--quiet", *TINY]) == 0
    return out / "report.html"


@pytest.fixture(scope="module")
def html_text(report_file) -> str:
    return report_file.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tiny_results():
    """The run behind ``report_file`` (same scenario, overrides and seed: identical numbers)."""
    from sim.runs.experiment import run_scenario

    return run_scenario(load(SCENARIOS / "smoke.toml", ["run.months=3", "customers.initial=150",
                                                        "run.replications=2"]), options=RunOptions(workers=1))


def _leaf_paths(data, prefix=""):
    """Dotted paths of every leaf of a dumped model, list items of tables as name[i]."""
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _leaf_paths(value, f"{path}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value):
                yield from _leaf_paths(item, f"{path}[{i}].")
        else:
            yield path


def test_assumptions_cover_every_parameter_with_unit_and_source():
    scenario = load(SCENARIOS / "smoke.toml")
    rows = assumptions(scenario)
    got = {re.sub(r"\[(\d+)=[^\]]*\]", r"[\1]", r.path) for r in rows}
    base = scenario.model_dump(include=set(Params.model_fields))
    expected = set(_leaf_paths(base)) | {f"run.{k}" for k in scenario.run.model_dump()}
    assert got == expected
    by_path = {r.path: r for r in rows}
    agents = by_path["support.agents"]
    assert agents.value == scenario.support.agents and agents.unit == "agents" and agents.allowed == "allowed range [1, 5000]"
    assert by_path["acquisition.cac_multiple"].source.startswith("[article-flat-vs-tiered][gallo2014] ")
    assert by_path["customers.segments[0=starter].plan_price_usd_per_month"].unit == "USD/month"
    assert by_path["pricing.scheme"].overrides == {"per_ticket": "per_ticket"}
    assert by_path["vip.enabled"].overrides == {"flat_vip": True}
    # every field that declares a unit shows it
    for r in rows:
        assert r.unit or r.path.endswith(("name", "seed")) or isinstance(r.value, (list, str)), r.path


def test_field_unit_reads_the_schema():
    assert field_unit("pricing.per_ticket_fee_usd") == "USD/ticket"
    assert field_unit("customers.segments.0.plan_price_usd_per_month") == "USD/month"
    assert field_unit("no.such.path") == ""


def test_report_has_kpis_with_cis_plots_and_assumptions(html_text, tiny_results):
    res = tiny_results
    summary = res.summary()
    labels = policy_labels(res.scenario)
    for p in res.policies:
        assert f">{html.escape(labels[p])}</th>" in html_text  # display labels, not code names
    rec = findings.recommend(res)  # the executive summary opens the page
    assert html_text.index("id='summary'") < html_text.index("id='kpis'")
    assert f"Recommendation: {html.escape(labels[rec.best])}" in html_text and html.escape(rec.clarity) in html_text
    assert html_text.count("<details class='assumptions'") >= 10 and "<details open" not in html_text
    for kpi in KPIS.values():
        assert kpi.label in html_text
    # headline numbers come from the results, with their intervals
    flat = summary["flat"]["customers_at_horizon"]
    assert f"{flat['mean']:,.0f} <span class='ci'>[{flat['ci_low']:,.0f}, {flat['ci_high']:,.0f}]" in html_text
    assert "id='differences'" in html_text and f"{html.escape(labels['per_ticket'])} − " in html_text
    images = re.findall(r"src='data:image/png;base64,([^']+)'", html_text)
    assert len(images) == len(figures.report_figures(res))
    for img in images:
        assert base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "id='assumptions'" in html_text and "support.agents" in html_text
    assert "Gallo 2014 (HBR): 6-7x in the article" in html_text and "[gallo2014]" not in html_text  # readable source
    assert res.scenario_sha256 in html_text and f"seed {res.seed}" in html_text
    # self-contained: nothing fetched from anywhere
    assert not re.search(r"""(src|href)=['"]?(https?:|//)""", html_text)
    assert "<script" not in html_text


def test_report_escapes_scenario_text(smoke_results):
    from dataclasses import replace

    sc = smoke_results.scenario.model_copy(deep=True)
    sc.scenario.description = "<script>alert(1)</script> & more"
    text = render(replace(smoke_results, scenario=sc), plots=False)
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in text


def test_report_command_writes_one_file_atomically(report_file):
    out = report_file.parent
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]
    text = report_file.read_text()
    assert "Reproduce: <code>supportsim report" in text and "--replications 2" in text
    assert "2 replications per policy" in text
    assert report_file.stat().st_mode & 0o044  # readable by others, unlike a temp file


def test_report_command_rejects_bad_input_and_keeps_the_old_report(report_file, capsys):
    before = report_file.read_bytes()
    code = main(["report", str(SCENARIOS / "smoke.toml"), "--out", str(report_file.parent), "--quiet",
                 "--set", "support.agents=0"])
    assert code == 2
    assert "support.agents" in capsys.readouterr().err
    assert report_file.read_bytes() == before


def _launch(p):
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: the browser tests must run in CI (make browser)")
        pytest.skip(f"{CHROMIUM} is missing")
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@pytest.mark.browser
def test_report_renders_with_its_images_in_chromium(report_file):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("playwright is not installed")
        pytest.skip("playwright is not installed")
    with sync_playwright() as p:
        browser = _launch(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report_file.as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({w: e.naturalWidth, h: e.naturalHeight, done: e.complete, alt: e.alt}))")
            assert len(images) == len(figures.for_report(3)) + 1  # smoke: three policies, two value bridges
            for img in images:
                assert img["done"] and img["w"] > 0 and img["h"] > 0, img
                assert img["w"] / img["h"] == pytest.approx(16 / 9, rel=0.01)
            assert page.locator("#kpis tbody tr").count() == len(KPIS)
            assert page.locator("#assumptions tbody tr").count() > 50
            assert page.title().startswith("supportsim report")
            assert all(u.startswith(("file:", "data:")) for u in requests), requests
            artifacts = ROOT / "artifacts"
            artifacts.mkdir(exist_ok=True)
            page.screenshot(path=str(artifacts / "report.png"), full_page=False)
        finally:
            browser.close()


def test_assumption_names_and_ranges_read_like_prose():
    from sim.output.report import readable_name, readable_range
    from sim.params.walk import field_info

    assert readable_name("customers.segments[0=starter].funding_median_usd") == "Funding median (starter segment)"
    assert readable_name("support.agents") == "Agents"
    assert readable_range(field_info("vip.min_funding_usd")) == "0 to 100B"
    assert "e+" not in readable_range(field_info("vip.min_funding_usd"))
