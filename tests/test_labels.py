"""Labels and names follow edits (issue 23, item 5): a policy label that states a number no longer
true is not shown, and an edited scenario is footed as edited, with its hash."""

from __future__ import annotations

from sim.output import fmt
from sim.output.plots import Meta
from sim.params import labels
from sim.params.scenario import load, load_text, policy_label, policy_labels, scenario_hash, to_toml
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
pricing.scheme = "per_hour"
pricing.per_hour_fee_usd = 40.0
pricing.included_tickets_per_month = 2
[policies.b]
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


def test_a_scenario_without_policies_keeps_base():
    assert policy_label(load_text("[run]\nmonths = 3\n"), "base") == "base"


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
