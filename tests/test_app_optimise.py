"""The app's Optimise tab (AppTest, no browser) and its logic (sim.app.optimising): a run end to
end on the smoke fixture with few trials, its downloads against what the command shown writes,
the deck's "The best design" slide, a refused oversize request and a bad range naming the field."""

from __future__ import annotations

import io
import json
import shlex
import shutil

import pandas as pd
import pytest
from pptx import Presentation

from sim.app import optimising, sources
from sim.params.scenario import load, load_text
from sim.runs.optimise import MAX_TRIALS
from tests.conftest import SCENARIOS
from tests.test_app import app_cache_dir, assert_clean, fixtures_in_picker, media, open_app  # noqa: F401  (fixtures)

pytestmark = pytest.mark.xdist_group("app")  # one process with tests/test_app.py: shared caches and workers

SMOKE = load(SCENARIOS / "smoke.toml")
FEE = "pricing.per_ticket_fee_usd"


def open_optimise():
    at = open_app()
    at.session_state["tab"] = "Optimise"
    return at.run()


def small(at, trials: int = 4):
    """Few trials and a short selection: seconds on smoke."""
    at.number_input(key="op_trials").set_value(trials)
    at.number_input(key="op_cands").set_value(2)
    at.number_input(key="op_first").set_value(3)
    return at.run()


def errors(at) -> str:
    return "\n".join(e.value for e in at.main.error).replace("\\", "")


# ---------------------------------------------------------------- logic (no page)


def test_levers_offered_act_on_the_policy_and_the_schemes_own_are_preselected():
    flat = [lv.path for lv in optimising.levers_for(SMOKE, "flat")]
    ticket = optimising.levers_for(SMOKE, "per_ticket")
    assert FEE not in flat and "pricing.price_multiplier" in flat
    assert optimising.default_levers(SMOKE, "per_ticket", ticket) == [
        FEE, "pricing.included_tickets_per_month", "pricing.price_multiplier"]
    assert optimising.default_policy(SMOKE) == "per_ticket"
    for lv in optimising.LEVERS:  # every default range lies within its field's allowed range
        lo, hi = lv.bounds
        assert lv.choices or lo <= lv.lo < lv.hi <= hi, lv.path


def test_the_command_is_the_one_the_cli_records():
    req = optimising.Request("per_ticket", (f"{FEE}=0:60",), constraints=("avg_retention_rate_pct>=90",),
                             trials=5)
    src = sources.load_source(SCENARIOS / "smoke.toml")
    cmd = req.command(src, ["customers.initial=310"])
    assert shlex.split(cmd) == ["supportsim", "optimise", "scenarios/smoke.toml", "--policy", "per_ticket", "--param",
                                f"{FEE}=0:60", "--kpi", "value_usd", "--constraint", "avg_retention_rate_pct>=90",
                                "--trials", "5", "--replications", "2", "--candidates", "3", "--first-stage", "8",
                                "--max-fresh", "40", "--out", "results/optimise", "--set", "customers.initial=310"]


def test_check_names_the_field_and_the_limit():
    bad = optimising.Request("per_ticket", (f"{FEE}=-5:60",))
    assert any(p.startswith(f"{FEE}=-5:60: -5 is out of range") for p in optimising.check(SMOKE, bad, 10**9))
    big = optimising.Request("per_ticket", (f"{FEE}=0:60",), trials=MAX_TRIALS, replications=50)
    assert optimising.check(SMOKE, big, 10**8)[0].startswith("workload too large")
    assert optimising.check(SMOKE, optimising.Request("per_ticket", (f"{FEE}=0:60",)), 10**9) == []


# ---------------------------------------------------------------- the page


def test_nothing_runs_until_asked_and_the_defaults_are_the_policys_fee_allowance_and_price():
    at = open_optimise()
    assert_clean(at)
    assert not at.main.image
    assert at.selectbox(key="op_policy").value == "per_ticket"
    assert at.multiselect(key="op_params:per_ticket").value == [
        FEE, "pricing.included_tickets_per_month", "pricing.price_multiplier"]
    assert (at.number_input(key=f"op_lo:per_ticket:{FEE}").value, at.number_input(key=f"op_hi:per_ticket:{FEE}").value
            ) == (0.0, 60.0)
    assert at.number_input(key="op_hi:per_ticket:pricing.included_tickets_per_month").value == 10
    widgets = [*at.main.number_input, *at.main.selectbox, *at.main.multiselect, *at.main.checkbox]
    assert all(w.help for w in widgets), [w.label for w in widgets if not w.help]
    assert any(c.value.startswith("supportsim optimise scenarios/smoke.toml --policy per_ticket") for c in at.main.code)


def test_optimise_runs_end_to_end_with_its_result_figures_downloads_and_deck(media, tmp_path):  # noqa: F811
    at = small(open_optimise())
    at.multiselect(key="op_cons:per_ticket").set_value(["avg_retention_rate_pct"]).run()
    at.number_input(key="op_x:per_ticket:avg_retention_rate_pct").set_value(50.0)
    at.button(key="op_run").click().run()
    assert_clean(at)
    text = "\n".join(m.value for m in at.main.markdown).replace("\\", "")
    assert "The best design for Per ticket ($20)" in text  # the label as text: "$" shown, not LaTeX
    assert "Guarantee:" in text and ("of the best of these" in text or "no selection guarantee" in text
                                     or "raise Most fresh replications under Selection settings" in text)
    assert "Average retention rate (%) ≥ 50.00%: " in text and ", met" in text
    metric = [m for m in at.main.metric if m.label == "Value (USD)"][-1]  # after the cards above
    assert metric.value.startswith("$") and "vs now" in metric.delta
    assert len(at.main.image) == 4  # convergence, a response per parameter

    body = json.loads(media(at, "dl_optimum_json"))
    assert body["policy"] == "per_ticket" and body["trials"] == 4 and body["constraints"] == [
        "avg_retention_rate_pct >= 50"]
    assert set(body["chosen"]) == {FEE, "pricing.included_tickets_per_month", "pricing.price_multiplier"}
    trials = pd.read_csv(io.BytesIO(media(at, "dl_trials_csv")))
    assert list(trials["trial"]) == [0, 1, 2, 3]
    toml = load_text(media(at, "dl_optimum_toml").decode(), source="optimum.toml")
    assert "per_ticket_optimised" in toml.policies

    # the command shown writes the same optimum.json (command and all) and trials.csv
    command = next(c.value for c in at.main.code if c.value.startswith("supportsim optimise"))
    assert body["command"] == command
    (tmp_path / "scenarios").mkdir()
    shutil.copy(SCENARIOS / "smoke.toml", tmp_path / "scenarios")
    from tests.procs import supportsim

    done = supportsim(*shlex.split(command)[1:], "--workers", "1", "--quiet", "--no-plots", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "results" / "optimise"
    got = json.loads((out / "optimum.json").read_text())
    assert got == body  # the command it records included
    assert (out / "trials.csv").read_bytes() == media(at, "dl_trials_csv")

    prs = Presentation(io.BytesIO(media(at, "dl_deck")))
    titles = [s.shapes.title.text for s in prs.slides if s.shapes.title is not None]
    assert any(t.startswith("The best design for Per ticket ($20)") for t in titles), titles


def test_an_oversize_request_is_refused_before_anything_runs():
    at = open_optimise()
    at.number_input(key="op_trials").set_value(MAX_TRIALS)
    at.number_input(key="op_reps").set_value(optimising.MAX_REPLICATIONS).run()
    assert not at.exception
    message = errors(at)
    assert "too large for the app" in message and "workload too large" in message
    assert "SUPPORTSIM_APP_MAX_WORK" in message
    assert at.button(key="op_run").disabled
    assert not at.main.image


def test_a_bad_range_is_a_message_naming_the_field():
    at = open_optimise()
    at.number_input(key=f"op_lo:per_ticket:{FEE}").set_value(50.0)
    at.number_input(key=f"op_hi:per_ticket:{FEE}").set_value(10.0).run()
    assert not at.exception
    message = errors(at)
    assert f"{FEE} (Per ticket fee (USD/ticket)): From (50) must be below To (10)" in message, message
    assert at.button(key="op_run").disabled
    at.number_input(key=f"op_hi:per_ticket:{FEE}").set_value(80.0).run()
    assert not at.main.error and not at.button(key="op_run").disabled
