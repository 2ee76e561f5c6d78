"""What each policy promises, and the share of tickets no roster can answer in time."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine import hours
from sim.params.scenario import load, resolve_policies
from sim.runs.promises import promises_table, unkeepable_warnings
from tests.conftest import SCENARIOS


@pytest.mark.parametrize("promise, expected", [
    # Mon-Fri 09-17, flat arrivals: four 16 h weeknights and a 64 h weekend; a ticket is past
    # saving when the desk opens promise h or more after it arrives: sum of max(L - promise, 0) / 168
    (4.0, (4 * 12 + 60) / 168),
    (16.0, (0 + 48) / 168),
    (64.0, 0.0),
    (0.5, (4 * 15.5 + 63.5) / 168),
])
def test_the_share_is_the_closed_form_on_a_flat_profile(promise, expected):
    mask = hours.weekly_mask(9, 17, 5)
    got = hours.unkeepable_share(hours.Schedule(mask), np.ones(168), promise)
    assert got == pytest.approx(expected, abs=1 / 120 / 168 * 10)


def test_the_share_matches_the_models_own_arrivals():
    """Tickets placed by the model's arrival sampler (the baseline's weekday-heavy profile), counted
    one by one: those whose desk opens promise h or more after they arrive."""
    sc = load(SCENARIOS / "baseline.toml", ["support.sla_clock=calendar"])
    sup = resolve_policies(sc)[0].params.support
    sched, w = hours.desk_schedule(sup), hours.profile(sup)
    rng = np.random.default_rng(7)
    t = np.concatenate([hours.arrivals(sup, 730.0 * m, rng.random(50_000)) for m in range(12)])
    for promise in (2.0, 4.0, 8.0, 24.0):
        counted = float(np.mean(sched.entry(t) - t >= promise))
        assert hours.unkeepable_share(sched, w, promise) == pytest.approx(counted, abs=0.005), promise


def test_business_clock_promises_can_always_be_kept_and_24_7_too():
    base = promises_table(load(SCENARIOS / "baseline.toml"))
    assert (base["clock"] == "business").all() and (base["unkeepable_share"] == 0).all()
    assert unkeepable_warnings(base) == []
    always = promises_table(load(SCENARIOS / "baseline.toml", ["support.sla_clock=calendar", "support.hours=24/7"]))
    assert (always["unkeepable_share"] == 0).all()


def test_a_calendar_promise_the_hours_cannot_keep_is_warned_with_its_share():
    t = promises_table(load(SCENARIOS / "baseline.toml", ["support.sla_clock=calendar"]))
    flat = t[t["policy"] == "flat"]
    assert (flat["promise_h"] == 4).all() and flat["unkeepable_share"].iloc[0] == pytest.approx(0.27, abs=0.01)
    tiered = t[t["policy"] == "tiered"].set_index("plan")
    # a looser promise is kept more often: 24 h (starter) < 8 h (growth) < 2 h (business)
    assert tiered.loc["starter", "unkeepable_share"] < tiered.loc["growth", "unkeepable_share"] \
        < tiered.loc["business", "unkeepable_share"]
    warnings = unkeepable_warnings(t)
    assert any(w.startswith("Flat (included): its 4 h promise cannot be kept for 27% of tickets") for w in warnings)
    assert [w for w in warnings if w.startswith("Tiered")] == [
        "Tiered (plan feature): its promises cannot be kept for 8% (24 h, starter), 23% (8 h, growth), 29% (2 h, "
        "business) of tickets on the desk's hours, whatever the roster (they arrive with no open hour before "
        "their deadline on the calendar clock)"]


CALENDAR = ["--set", "support.sla_clock=calendar", "--set", "support.hours=weekly"]


def test_run_and_report_warn_of_a_promise_the_hours_cannot_keep(tmp_path, capsys):
    from sim.cli import main

    assert main(["validate", str(SCENARIOS / "smoke.toml"), *CALENDAR]) == 0
    assert "warning: Flat (included): its 4 h promise cannot be kept for 27% of tickets" in capsys.readouterr().err
    assert main(["validate", str(SCENARIOS / "smoke.toml")]) == 0  # 24/7 and the business clock: nothing to say
    assert "warning" not in capsys.readouterr().err
    assert main(["report", str(SCENARIOS / "smoke.toml"), "--out", str(tmp_path), "--quiet",
                 "--replications", "1", "--workers", "1", "--set", "run.months=1", *CALENDAR]) == 0
    page = (tmp_path / "report.html").read_text()
    assert "<h2>What each policy promises and charges</h2>" in page
    assert "its 4 h promise cannot be kept for 27% of tickets" in page


def test_the_waits_chart_draws_each_policys_promises():
    import matplotlib

    matplotlib.use("Agg")
    from sim.output import figures
    from sim.runs.experiment import run_scenario

    sc = load(SCENARIOS / "baseline.toml", ["run.replications=1", "run.months=1", "customers.initial=200"])
    ax = figures.draw("wait_times", run_scenario(sc))
    drawn = {}
    for c in ax.collections:
        gid = c.get_gid() or ""
        if gid.endswith(":promise"):
            drawn.setdefault(gid.split(":")[0], set()).update(round(s[0][1], 6) for s in c.get_segments())
    assert drawn == {"flat": {4.0}, "tiered": {24.0, 8.0, 2.0}, "per_ticket": {4.0}, "flat_vip": {4.0}}
