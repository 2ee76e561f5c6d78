"""Exports as helpdesk and billing tools write them: presets, a mapping file, and one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.calibrate import calibrate, presets, read_customers, read_tickets
from sim.cli import main
from tests.conftest import ROOT

EXAMPLES = ROOT / "examples" / "calibration"
PRESET_DIR = EXAMPLES / "presets"


def _tickets(name: str):
    return read_tickets(PRESET_DIR / f"{name}_tickets.csv", presets.PRESETS[name])


def _customers(name: str):
    return read_customers(PRESET_DIR / f"{name}_customers.csv", presets.PRESETS[name])


def test_the_bundled_preset_examples_are_what_make_presets_makes(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_presets", EXAMPLES / "make_presets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--out", str(tmp_path)]) == 0
    for path in PRESET_DIR.glob("*.csv"):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.parametrize("name", presets.TICKET_PRESETS)
def test_every_helpdesk_preset_reads_the_same_tickets(name):
    ref, t = _tickets("intercom"), _tickets(name)  # intercom's layout keeps every timestamp as written
    assert len(t) == len(ref)
    assert (t.customer.to_pylist() == ref.customer.to_pylist())
    assert abs(t.opened_h - ref.opened_h).max() < 1e-6
    answered = pd.notna(ref.first_response_h)
    assert (pd.notna(t.first_response_h) == answered).all()
    # Zendesk writes the first reply in whole minutes
    assert abs(t.first_response_h[answered] - ref.first_response_h[answered]).max() <= 1 / 60 + 1e-9


@pytest.mark.parametrize("name", presets.CUSTOMER_PRESETS)
def test_every_billing_preset_reads_the_same_customers(name):
    c = _customers(name)
    ref = read_customers(PRESET_DIR / "stripe_customers.csv", presets.PRESETS["stripe"])
    assert c.id.to_pylist() == ref.id.to_pylist()
    assert (abs(c.signup_h - ref.signup_h) < 1e-6).all()
    assert ((c.cancel_h == ref.cancel_h) | (pd.isna(c.cancel_h) & pd.isna(ref.cancel_h))).all()
    assert (c.revenue_usd == ref.revenue_usd).all()


def test_a_helpdesk_and_a_billing_preset_calibrate_together(tmp_path, capsys):
    rc = main(["calibrate", "--tickets", str(PRESET_DIR / "zendesk_tickets.csv"), "--tickets-preset", "zendesk",
               "--customers", str(PRESET_DIR / "chargebee_customers.csv"), "--preset", "chargebee",
               "--sla-h", "8", "--out", str(tmp_path / "ours.toml"), "--report", str(tmp_path / "ours.json")])
    assert rc == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "ours.json").read_text())["support"]
    assert report["hours"]["open_hour"] == 9 and report["patience_clock"] == "calendar"
    assert {"estimate", "ci_low", "ci_high"} <= set(report["mechanics"]["estimates"]["m_below"])
    text = (tmp_path / "ours.toml").read_text()
    assert "read with the zendesk preset" in text and "read with the chargebee preset" in text
    assert 'hours = "weekly"' in text and "open_hour = 9" in text and 'patience_clock = "calendar"' in text


def _one_line(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    return err


def test_a_missing_or_mismatched_column_is_one_line_naming_preset_and_column(tmp_path, capsys):
    z = pd.read_csv(PRESET_DIR / "zendesk_tickets.csv", dtype=str, keep_default_na=False)
    z.drop(columns=["Created at"]).to_csv(tmp_path / "no_created.csv", index=False)
    base = ["calibrate", "--customers", str(PRESET_DIR / "stripe_customers.csv"), "--customers-preset", "stripe",
            "--tickets-preset", "zendesk", "--out", str(tmp_path / "o.toml"), "--tickets"]
    err = _one_line(capsys, base + [str(tmp_path / "no_created.csv")])
    assert "zendesk preset" in err and "'Created at'" in err
    z.assign(**{"Created at": "yesterday"}).to_csv(tmp_path / "bad_created.csv", index=False)
    err = _one_line(capsys, base + [str(tmp_path / "bad_created.csv")])
    assert "zendesk preset" in err and "'Created at'" in err and "yesterday" in err
    # a Freshdesk file read as Zendesk
    err = _one_line(capsys, base + [str(PRESET_DIR / "freshdesk_tickets.csv")])
    assert "zendesk preset" in err and "no column 'Id'" in err
    err = _one_line(capsys, ["calibrate", "--customers", str(PRESET_DIR / "stripe_customers.csv"), "--tickets",
                             str(PRESET_DIR / "zendesk_tickets.csv"), "--tickets-preset", "zendsk", "--out",
                             str(tmp_path / "o.toml")])
    assert "zendsk" in err and "zendesk" in err


def test_a_mapping_file_reads_any_export(tmp_path, capsys):
    native = pd.read_csv(EXAMPLES / "tickets.csv", dtype=str, keep_default_na=False)
    renamed = native.rename(columns={"ticket_id": "Case Number", "customer_id": "Account", "opened": "Opened On",
                                     "first_response": "First Touch", "resolved": "Closed On"})
    renamed.to_csv(tmp_path / "cases.csv", index=False)
    mapping = tmp_path / "map.toml"
    mapping.write_text('[tickets]\nticket_id = "Case Number"\ncustomer_id = "Account"\nopened = "Opened On"\n'
                       'first_response = "First Touch"\nresolved = "Closed On"\n')
    cal_mapped = calibrate(customers=read_customers(EXAMPLES / "customers.csv"),
                           tickets=read_tickets(tmp_path / "cases.csv", presets.from_mapping(
                               mapping, "tickets", presets_columns())))
    cal_native = calibrate(customers=read_customers(EXAMPLES / "customers.csv"),
                           tickets=read_tickets(EXAMPLES / "tickets.csv"))
    assert cal_mapped.waits == cal_native.waits and cal_mapped.handle == cal_native.handle
    mapping.write_text('[tickets]\nopend = "Opened On"\n')
    err = _one_line(capsys, ["calibrate", "--customers", str(EXAMPLES / "customers.csv"), "--tickets",
                             str(tmp_path / "cases.csv"), "--mapping", str(mapping), "--out", str(tmp_path / "o.toml")])
    assert "'opend'" in err and "opened" in err


def presets_columns():
    from sim.calibrate.ingest import TICKET_COLUMNS

    return TICKET_COLUMNS


def test_the_catalogue_lists_every_preset_with_its_kind():
    """sim.calibrate.catalogue (what `calibrate --help` lists without loading pyarrow) agrees with the presets."""
    from sim.calibrate import catalogue

    assert {k: p.kind for k, p in presets.PRESETS.items()} == catalogue.PRESET_KINDS
