"""The page is safe by default (AppTest, no browser): what it reads from disk never runs and is
never shown unless it is the app's own, and a run that fails is a message naming the limit or
the field and what to do, never a traceback.

Planted cache entries of every kind are tested entry by entry in tests/test_app_store.py;
here the page itself, on a cache folder planted with pickles whose loading would run code.
"""

from __future__ import annotations

import os
import pickle

import pytest
import streamlit as st

from sim.params.scenario import load
from sim.runs import metrics
from sim.runs.options import RunOptions
from tests.conftest import SCENARIOS
from tests.test_app import app_cache_dir, assert_clean, card_values, fixtures_in_picker, open_app  # noqa: F401

pytestmark = pytest.mark.xdist_group("app")  # one process with tests/test_app.py: shared workers

SMOKE = load(SCENARIOS / "smoke.toml")


class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def all_cards(at) -> list[tuple[str, str]]:
    return [(m.label, m.value) for m in at.metric]


def test_a_cache_folder_planted_with_pickles_runs_nothing_and_the_page_shows_the_genuine_numbers(
        tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("SUPPORTSIM_APP_CACHE", str(folder))
    st.cache_data.clear()  # runs and figures computed afresh, so that the page keeps them in ``folder``
    at = open_app()
    assert_clean(at)
    genuine = all_cards(at)
    planted = [p for p in folder.rglob("*") if p.is_file()]
    assert planted  # the page kept its runs and figures there
    marker = tmp_path / "pwned"
    for p in planted:  # every file the app wrote, whatever its format, now a pickle that runs code
        p.write_bytes(pickle.dumps(Payload(marker)))
    st.cache_data.clear()  # a freshly started server: nothing in memory, the folder on disk
    at = open_app()
    assert_clean(at)
    assert not marker.exists()
    assert all_cards(at) == genuine


# ---------------------------------------------------------------- failed runs: messages, not tracebacks


def test_a_run_out_of_the_workers_memory_names_the_limit_and_what_to_do(monkeypatch):
    """A real MemoryError: workers capped at 1000 MB, a run of a million customers needs more
    (the workload limits are lifted, so that the memory cap is what stops it). The pool is the
    cap's own (a new cap, a new pool)."""
    monkeypatch.setenv("SUPPORTSIM_APP_MAX_MEMORY_MB", "1000")
    monkeypatch.setenv("SUPPORTSIM_MAX_WORK", "1e15")
    monkeypatch.setenv("SUPPORTSIM_APP_MAX_WORK", "1e15")
    at = open_app(groups=True)
    at.number_input(key="p:run.months").set_value(2)
    next(b for b in at.button if b.label.startswith("Apply run")).click().run()
    assert_clean(at)
    at.number_input(key="p:customers.initial").set_value(1_000_000)
    next(b for b in at.button if b.label.startswith("Apply customers")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    message = at.main.error[0].value
    assert "SUPPORTSIM_APP_MAX_MEMORY_MB" in message and "1,000 MB" in message
    assert "customers.initial" in message and "run.months" in message and "supportsim run" in message
    at.number_input(key="p:customers.initial").set_value(SMOKE.customers.initial)  # back within memory
    next(b for b in at.button if b.label.startswith("Apply customers")).click().run()
    assert_clean(at)
    assert len(at.metric) == len(SMOKE.policies) * 5


def test_no_paid_acquisition_leaves_ltv_cac_undefined_with_a_note_naming_the_field():
    at = open_app(groups=True)
    at.slider(key="p:acquisition.replacement_share").set_value(0.0).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.main.error
    note = next(w.value for w in at.main.warning if "LTV:CAC" in w.value)
    assert "acquisition.replacement_share" in note and "undefined" in note
    assert card_values(at, metrics.KPIS["ltv_cac"].title)  # the cards are there (undefined: a dash)
    assert any("highest value" in m.value for m in at.main.markdown)  # the verdict too


def test_numbers_that_overflow_with_lognormal_handle_times_name_the_fields(monkeypatch):
    """The page's handling of an overflow in a run: the models' own ranges keep the lognormal
    from overflowing today, so the run is made to raise what an overflow raises."""
    from sim.app import progressive

    def overflowing(*args, **kwargs):
        raise OverflowError("(34, 'Numerical result out of range')")
        yield  # a generator, as progressive_run is

    monkeypatch.setattr(progressive, "progressive_run", overflowing)
    at = open_app(groups=True)
    at.selectbox(key="p:support.handle_time_dist").set_value("lognormal").run()
    assert not at.exception, [e.value for e in at.exception]
    message = at.main.error[0].value
    assert "support.handle_time_dist" in message and "lognormal" in message
    assert "support.handle_time_mean_h" in message and "support.handle_time_cv" in message
    assert "OverflowError" in message.replace("\\", "")


def test_any_other_failure_of_a_run_is_a_message_too(monkeypatch):
    from sim.app import progressive

    def broken(*args, **kwargs):
        raise ValueError("something unexpected <b>x</b>")
        yield

    monkeypatch.setattr(progressive, "progressive_run", broken)
    at = open_app()
    assert not at.exception
    message = at.main.error[0].value
    assert "could not run these settings" in message and "Reset controls to the file" in message
    assert "<b>" not in message  # the exception's text is shown literally too


@pytest.mark.skipif(os.cpu_count() == 1, reason="needs a pool of two workers")
def test_the_decision_summary_is_fitted_in_a_worker_not_in_the_server(monkeypatch):
    """The EVPPI regressions run in a (memory-capped) pool worker: in the server's process
    run_decision only records the simulations, and its summary would fail here."""
    from sim.app import procs, studies
    from sim.decision import psa

    scenario = load(SCENARIOS / "baseline.toml", ["run.months=3", "customers.initial=200"])
    pool = procs.make_pool(2)
    try:
        reference = psa.run_decision(scenario, samples=4, options=RunOptions(workers=1))

        def not_here(*args, **kwargs):
            raise AssertionError("EVPPI fitted in the server's process")

        monkeypatch.setattr(psa, "_evppi_table", not_here)  # the worker imports its own, unpatched
        progress = []
        options = RunOptions(executor=procs.pool_executor(pool), max_work=10**12,
                             on_progress=lambda d, t: progress.append((d, t)))
        result = studies.decide_in_pool(pool, scenario=scenario, samples=4, options=options)
    finally:
        pool.shutdown()
    assert progress[-1][0] == progress[-1][1] == 4 * len(scenario.policies)
    assert result.evppi.equals(reference.evppi) and result.psa.equals(reference.psa)
    assert result.recommended == reference.recommended and result.evpi == reference.evpi


def test_a_failed_analysis_is_a_message_too(monkeypatch):
    from sim.runs import tornado

    def out_of_memory(**kwargs):
        raise MemoryError

    monkeypatch.setattr(tornado, "sensitivity", out_of_memory)
    at = open_app()
    at.session_state["tab"] = "Sensitivity"
    at.run()
    at.multiselect(key="sa_params").set_value(["churn.switching_ease"])
    at.number_input(key="sa_reps").set_value(2)
    at.button(key="sa_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "SUPPORTSIM_APP_MAX_MEMORY_MB" in at.main.error[0].value
