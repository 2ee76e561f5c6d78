"""What each policy promises, on the page (AppTest, no browser): the deck's "what each policy
promises and charges" table in the Assumptions tab, and a warning near the KPI cards when the
desk's hours cannot keep a promise for more than a few percent of tickets, whatever the roster."""

from __future__ import annotations

import pytest

from sim.app import views
from sim.params.scenario import load
from sim.runs import promises
from tests.conftest import SCENARIOS
from tests.test_app import app_cache_dir, assert_clean, fixtures_in_picker, open_app  # noqa: F401  (fixtures)

pytestmark = pytest.mark.xdist_group("app")  # one process with tests/test_app.py: shared caches and workers

CALENDAR = ["support.sla_clock=calendar"]


def warnings_text(at) -> str:
    return "\n".join(w.value for w in at.main.warning)


# ---------------------------------------------------------------- helpers (no page)


def test_the_terms_table_is_the_decks_with_what_the_hours_cannot_keep():
    scenario = load(SCENARIOS / "baseline.toml", CALENDAR)
    table = views.terms_frame(scenario)
    assert list(table.columns) == ["Term", "Flat (included)", "Tiered (plan feature)", "Per ticket ($15)", "Flat + VIP"]
    rows = dict(zip(table["Term"], table.to_dict("records")))
    promise = next(r for t, r in rows.items() if t.startswith("Promise"))
    assert promise["Flat (included)"] == "4 h (every plan)" and promise["Tiered (plan feature)"] == "24 / 8 / 2 h"
    assert rows["SLA clock"]["Flat (included)"].startswith("calendar")
    unkeepable = next(r for t, r in rows.items() if "cannot answer in time" in t)
    assert unkeepable["Flat (included)"] == "27% (every plan)"
    # on the business clock every promise can be kept: no such row
    assert not table_has(views.terms_frame(load(SCENARIOS / "baseline.toml")), "cannot answer in time")


def table_has(table, words: str) -> bool:
    return table["Term"].str.contains(words).any()


def test_the_warning_names_each_promise_and_its_share_literally():
    scenario = load(SCENARIOS / "baseline.toml", CALENDAR)
    warning = views.promise_warning(scenario).replace("\\", "")
    # policies with the same promise and share on one line, every case of unkeepable_warnings said
    assert "- Flat (included), Per ticket ($15) and Flat + VIP: 4 h (every plan): 27%" in warning
    assert "- Tiered (plan feature): 24 h (starter): 8%; 8 h (growth): 23%; 2 h (business): 29%" in warning
    cases = promises.unkeepable_warnings(promises.promises_table(scenario))
    assert len(cases) == 4 and all(c.split(": its ")[0] in warning for c in cases)  # one per policy
    assert views.promise_warning(load(SCENARIOS / "baseline.toml")) == ""
    hostile = load(SCENARIOS / "baseline.toml", [*CALENDAR, "policies.flat.label=[x](http://e.x) **b**"])
    shown = views.promise_warning(hostile)
    assert "\\[x\\]\\(http\\:" in shown and "\\*\\*b\\*\\*" in shown  # escaped: shown as text, not a link


# ---------------------------------------------------------------- the page (AppTest)


def test_the_calendar_clock_warns_near_the_cards_and_the_assumptions_show_the_promises():
    at = open_app(groups=True)
    assert_clean(at)
    assert "cannot keep" not in warnings_text(at)  # smoke's desk keeps its promises on business hours
    at.selectbox(key="p:support.sla_clock").set_value("calendar").run()
    assert_clean(at)
    text = warnings_text(at).replace("\\", "")
    assert "Promises the desk's hours cannot keep" in text and "Flat (included), Per ticket ($20)" in text
    at.session_state["tab"] = "Assumptions"
    at.run()
    assert_clean(at)
    terms = at.main.table[0].value  # shown as text: every cell escaped for Markdown
    terms = terms.map(lambda v: v.replace("\\", "")).set_axis([c.replace("\\", "") for c in terms.columns], axis=1)
    assert list(terms.columns)[:2] == ["Term", "Flat (included)"]
    assert terms["Term"].str.startswith("Promise").any() and terms["Term"].str.contains("cannot answer").any()
