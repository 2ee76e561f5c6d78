"""The Decision tab at its default sample count (AppTest and the helpers): a result below the
command line's 200 samples is a preview, and the page says whether its top two EVPPIs can be
told apart (their bootstrap Monte Carlo errors) and about how many samples would do it."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from sim.app import studies, tabs
from tests.test_app import app_cache_dir, assert_clean, fixtures_in_picker  # noqa: F401  (fixtures)
from tests.test_app_decision import SAMPLES, open_decision, result, uncertain  # noqa: F401  (fixtures)

pytestmark = pytest.mark.xdist_group("app")  # one process with tests/test_app.py: shared caches and workers


def with_evppi(result, rows, evpi=3e6, samples=24):  # noqa: F811
    ev = pd.DataFrame(rows, columns=["parameter", "evppi_usd", "evppi_se"])
    ev["share_of_evpi"], ev["method"], ev["distribution"] = ev["evppi_usd"] / evpi, "gam", "uniform"
    return replace(result, evppi=ev, evpi=evpi, samples=samples)


def test_top_two_within_their_error_need_more_samples(result):  # noqa: F811
    # metered_wins at 24 samples (seed 7): switching ease $1.62M ± $0.66M, fee sensitivity $1.47M ± $0.59M
    close = with_evppi(result, [("churn.switching_ease", 1.62e6, 0.66e6),
                                ("acquisition.cac_multiple", 1.47e6, 0.59e6)])
    need = studies.samples_to_rank(close)
    assert need == pytest.approx(24 * (2 * (0.66e6**2 + 0.59e6**2) ** 0.5 / 0.15e6) ** 2, abs=1)
    note = tabs.ranking_note(close).replace("\\", "")
    assert note.startswith("**Preview: 24 samples**") and "Too few samples to rank what to research" in note
    assert f"about {need:,} samples" in note and "Switching ease" in note and "$1.62M ± $660.0k" in note
    assert "supportsim decide --samples" in note  # beyond what the app runs for this scenario


def test_top_two_apart_or_nothing_to_rank(result):  # noqa: F811
    apart = with_evppi(result, [("churn.switching_ease", 2.0e6, 0.1e6), ("acquisition.cac_multiple", 0.5e6, 0.1e6)],
                       samples=300)
    assert studies.samples_to_rank(apart) == 300
    assert tabs.ranking_note(apart).startswith("The top two EVPPIs are apart")  # no preview at 300 samples
    nothing = with_evppi(result, [("churn.switching_ease", 0.0, 2.5e3), ("acquisition.cac_multiple", 0.0, 1e4)],
                         evpi=24e3)  # netflix at 24 samples: no assumption worth researching
    assert studies.samples_to_rank(nothing) is None
    assert tabs.ranking_note(nothing) == "**Preview: 24 samples** (`supportsim decide` runs 200)."
    tie = with_evppi(result, [("churn.switching_ease", 1e6, 1e5), ("acquisition.cac_multiple", 1e6, 1e5)])
    assert studies.samples_to_rank(tie) > studies.MAX_SAMPLES and "far more samples" in tabs.ranking_note(tie)
    assert tabs.ranking_note(replace(apart, samples=200)) == tabs.ranking_note(apart)


def test_the_page_labels_a_default_run_a_preview():
    at = open_decision(upload=True)
    assert at.number_input(key="dec_samples").value == studies.DECISION_SAMPLES
    at.number_input(key="dec_samples").set_value(SAMPLES)
    at.button(key="dec_run").click().run()
    assert_clean(at)
    assert any(i.value.startswith(f"**Preview: {SAMPLES} samples**") for i in at.main.info)
