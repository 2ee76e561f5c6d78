"""Calibration in the app: a bundled example (or two uploads) becomes a scenario, a back-test figure and,
on a button, the scenario the page runs."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from sim.app import calibration
from sim.calibrate import CalibrationError
from sim.params.scenario import load_text
from tests.conftest import ROOT

pytestmark = pytest.mark.xdist_group("app")  # with the other page tests: one process, shared workers

APP = str(ROOT / "app.py")


def test_calibrate_exports_gives_a_valid_scenario_and_its_back_test():
    c, t, cp, tp, sla = calibration.BUNDLED["Bundled: Zendesk + Stripe (weekday desk)"]
    out = calibration.calibrate_exports(calibration.EXAMPLES / c, calibration.EXAMPLES / t, customers_preset=cp,
                                        tickets_preset=tp, sla_h=sla, replications=6)
    scenario = load_text(out.text)
    assert scenario.support.hours == "weekly" and "[uncertainty]" in out.text
    assert out.figure[:8] == b"\x89PNG\r\n\x1a\n" and len(out.figure) > 20_000
    assert set(out.coverage) == {"retention_pct", "tickets", "sla_met_pct", "waits"}
    assert any(line.startswith("desk Mon-Fri 09-17") for line in out.summary)


def test_a_wrong_layout_is_a_message_naming_the_preset(tmp_path):
    with pytest.raises(CalibrationError) as err:
        calibration.calibrate_exports(calibration.EXAMPLES / "presets" / "stripe_customers.csv",
                                      calibration.EXAMPLES / "presets" / "freshdesk_tickets.csv",
                                      customers_preset="stripe", tickets_preset="zendesk", sla_h=8.0)
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith("zendesk preset: no column 'Id'")


def test_the_page_calibrates_a_bundled_example_and_opens_it(monkeypatch, tmp_path):
    monkeypatch.setenv("SUPPORTSIM_APP_FIXTURES", "1")
    monkeypatch.setenv("SUPPORTSIM_APP_CACHE", str(tmp_path))
    monkeypatch.setattr(calibration, "REPLICATIONS", 4)
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["scenario"] = "smoke"
    at.run()
    assert not at.exception
    at.button(key="calibrate_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    texts = [t.value for t in at.text]
    rows = {name: sum(1 for _ in (calibration.EXAMPLES / name).open(encoding="utf-8")) - 1
            for name in ("customers.csv", "tickets.csv")}  # the bundled files' data rows
    said = f"{rows['customers.csv']:,} customers and {rows['tickets.csv']:,} tickets"
    assert any(t.startswith(said) for t in texts), (said, texts)
    assert any(c.language == "toml" for c in at.code)
    at.button(key="calibrate_open_it").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("calibrated scenario" in i.value for i in at.info)
    assert at.session_state[calibration.OPENED][0] == "calibrated.toml"
