"""Labels and names follow edits (issue 23, item 5): a policy label that states a number no longer
true is not shown, and an edited scenario is footed as edited, with its hash."""

from __future__ import annotations

import pytest

from sim.cli.main import main
from sim.output import deck, fmt, report
from sim.output.plots import Meta
from sim.params import labels
from sim.params.scenario import load, load_text, policy_label, policy_labels, scenario_hash, to_toml, validate_dict
from sim.runs.experiment import run_scenario
from sim.runs.options import RunOptions
from tests.conftest import ROOT

BASELINE = ROOT / "scenarios" / "baseline.toml"
FEE = "policies.per_ticket.pricing.per_ticket_fee_usd"


def test_the_files_labels_are_shown_while_true():
    assert policy_labels(load(BASELINE)) == {"flat": "Flat (included)", "tiered": "Tiered (plan feature)",
                                             "per_ticket": "Per ticket ($15)", "flat_vip": "Flat + VIP"}


def test_a_label_stating_an_old_fee_is_replaced():
    sc = load(BASELINE, [f"{FEE}=20"])
    assert policy_label(sc, "per_ticket") == "Per ticket ($20)"
    assert labels.stale_label(sc, "per_ticket") == "Per ticket ($15)"
    assert labels.stale_label(sc, "flat") is None
    # the base fee is not the policy's: its own table still says 15
    assert policy_label(load(BASELINE, ["pricing.per_ticket_fee_usd=20"]), "per_ticket") == "Per ticket ($15)"


def test_a_number_that_is_another_schemes_setting_does_not_hold():
    """$15 is the starter plan's tier fee, which a per-ticket policy never charges."""
    sc = load(BASELINE, [f"{FEE}=9"])
    assert 15.0 in labels.facts(sc, "tiered") and policy_label(sc, "per_ticket") == "Per ticket ($9)"


def test_labels_without_numbers_are_the_users():
    sc = load(BASELINE, ["policies.flat_vip.vip.sla_h=0.5", "customers.segments.0.tier_sla_h=12"])
    assert policy_label(sc, "flat_vip") == "Flat + VIP"
    assert policy_label(sc, "tiered") == "Tiered (plan feature)"


def test_derived_labels_state_the_settings():
    sc = load_text("""
[policies.a]
label = "Per hour ($30)"
pricing.scheme = "per_hour"
pricing.per_hour_fee_usd = 40.0
pricing.included_tickets_per_month = 2
[policies.b]
label = "Flat + $10/month"
pricing.scheme = "flat"
pricing.support_fee_usd_per_month = 12.5
vip.enabled = true
[policies.c]
label = "Tiered, 24/8/2 h"
pricing.scheme = "tiered"
[policies.d]
label = "Tiered, 24/6/2 h"
pricing.scheme = "tiered"
[policies.e]
label = "Flat at +5% price"
pricing.price_multiplier = 1.05
""")
    assert policy_labels(sc) == {"a": "Per hour ($40, 2 free a month)", "b": "Flat (included) + $12.50/month + VIP",
                                 "c": "Tiered, 24/8/2 h", "d": "Tiered (plan feature)",
                                 "e": "Flat at +5% price"}


def test_a_scenario_without_policies_keeps_base_and_an_unlabelled_policy_its_name():
    assert policy_label(load_text("[run]\nmonths = 3\n"), "base") == "base"
    assert policy_label(load_text('[policies.cheap]\npricing.scheme = "per_ticket"\n'), "cheap") == "cheap"


def test_a_made_label_shown_by_another_policy_adds_the_name():
    sc = load_text("""
[policies.p20]
label = "Per ticket ($20)"
pricing.scheme = "per_ticket"
pricing.per_ticket_fee_usd = 20.0
[policies.old]
label = "Per ticket ($15)"
pricing.scheme = "per_ticket"
pricing.per_ticket_fee_usd = 20.0
pricing.included_tickets_per_month = 0
""")
    assert policy_labels(sc) == {"p20": "Per ticket ($20)", "old": "Per ticket ($20) [old]"}


def test_stated_numbers():
    assert labels.stated_numbers("Per ticket ($1,500.50), 2 free") == [1500.5, 2.0]
    assert labels.holds("x 10%", [0.1]) and labels.holds("x 10%", [10.0]) and not labels.holds("x 10%", [0.2])


def test_edits_are_recorded_but_not_hashed_or_dumped():
    plain = load(BASELINE, ["run.seed=3", "run.replications=2"])
    assert plain.edits == []
    edited = load(BASELINE, [f"{FEE}=20", "run.seed=3"])
    assert edited.edits == [f"{FEE}=20"]
    assert "edits" not in edited.model_dump() and "_edits" not in to_toml(edited)
    assert load_text(to_toml(edited)).edits == []  # the written file is a file of its own
    assert edited.model_copy().edits == edited.edits


def test_an_edited_scenario_is_footed_as_edited_with_its_hash():
    edited = load(BASELINE, [f"{FEE}=20"])
    sha = scenario_hash(edited)
    assert fmt.scenario_ref("baseline", sha, 0) == "Scenario 'baseline'"
    ref = fmt.scenario_ref("baseline", sha, len(edited.edits))
    assert ref == f"Scenario 'baseline', edited (1 change; sha256 {sha[:10]})"
    meta = Meta("baseline", sha, 3, edits=1)
    assert meta.footer().startswith(ref + " · ")


# ---------------------------------------------------------------- where the labels are shown

TINY = ["run.months=2", "customers.initial=150", "run.replications=1"]


@pytest.fixture(scope="module")
def edited_run():
    """The smoke scenario with its per-ticket fee changed: its label "Per ticket ($20)" is stale."""
    sc = load(ROOT / "scenarios" / "smoke.toml", [*TINY, "policies.per_ticket.pricing.per_ticket_fee_usd=25"])
    return run_scenario(sc, options=RunOptions(workers=1))


def test_the_report_shows_the_new_label_and_names_the_edits(edited_run):
    page = report.render(edited_run, plots=False)
    assert "Per ticket ($25)" in page and "Per ticket ($20)" not in page
    assert "<title>supportsim report: smoke (edited)</title>" in page
    assert "policies.per_ticket.pricing.per_ticket_fee_usd=25" in page
    assert f"sha256 {edited_run.scenario_sha256[:10]}" in page


def test_the_deck_shows_the_new_label_and_is_footed_as_edited(edited_run):
    prs = deck.build_deck(edited_run)
    title = prs.slides[0]
    texts = [sh.text_frame.text for sh in title.shapes if sh.has_text_frame]
    assert "Support pricing: smoke (edited)" in texts
    everything = " ".join(sh.text_frame.text for s in prs.slides for sh in s.shapes if sh.has_text_frame)
    assert "Per ticket ($20)" not in everything
    ref = fmt.scenario_ref("smoke", edited_run.scenario_sha256, 3)  # months, customers, fee (not replications)
    assert any(t.startswith(ref + " · ") for t in texts)
    assert "edited (" in title.notes_slide.notes_text_frame.text


def test_the_cli_says_which_label_it_replaced(tmp_path, capsys):
    assert main(["validate", str(ROOT / "scenarios" / "smoke.toml"),
                 "--set", "policies.per_ticket.pricing.per_ticket_fee_usd=25"]) == 0
    err = capsys.readouterr().err
    assert "note: policy per_ticket: its label 'Per ticket ($20)' states a number" in err
    assert "shown as 'Per ticket ($25)'" in err


def test_an_optimised_policy_is_not_labelled_with_its_old_fee():
    sc = load(BASELINE)
    data = sc.model_dump(mode="python")
    data["policies"]["per_ticket_opt"] = {**data["policies"]["per_ticket"], "label": "Per ticket ($15) (optimised)"}
    data["policies"]["per_ticket_opt"]["pricing"] = {**data["policies"]["per_ticket"]["pricing"],
                                                     "per_ticket_fee_usd": 22.0}
    out = validate_dict(data)
    assert policy_label(out, "per_ticket_opt") == "Per ticket ($22)"
