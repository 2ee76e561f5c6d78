"""A new pricing scheme is two files: the schema (its name, where its fields act) and the pricing
registry (what it charges). This test makes one end to end on a copy of the package, and its text
is the recipe of docs/guide.md ("A new pricing scheme").
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.conftest import ROOT

# 1. sim/params/schema.py: the scheme's name, and the paid schemes (fee sensitivity, resentment and the
#    free allowance act under it); the per-ticket fee it charges acts under it too.
SCHEMA_EDITS = [
    ('SCHEME_NAMES = ("flat", "tiered", "per_ticket", "per_hour")',
     'SCHEME_NAMES = ("flat", "tiered", "per_ticket", "per_hour", "prepaid_bundle")'),
    ('PAID_SCHEMES = ("tiered", "per_ticket", "per_hour")',
     'PAID_SCHEMES = ("tiered", "per_ticket", "per_hour", "prepaid_bundle")'),
    ('acts_when=acts("pricing.scheme", "per_ticket")',
     'acts_when=acts("pricing.scheme", "per_ticket", "prepaid_bundle")'),
]
# 2. sim/engine/pricing.py: one Scheme in SCHEMES. A prepaid bundle: the included tickets are paid
#    for in the monthly add-on, the rest at the per-ticket fee (marginal_fee: what one more ticket
#    costs; the allowance and the add-on come from the existing pricing fields).
PRICING_EDITS = [
    ('    "per_hour": Scheme("per_hour", _per_hour_expected_fee, bills_handle_time=True),\n}',
     '    "per_hour": Scheme("per_hour", _per_hour_expected_fee, bills_handle_time=True),\n'
     '    "prepaid_bundle": Scheme("prepaid_bundle", _per_ticket_fee),\n}'),
]
SCENARIO = """
[scenario]
name = "bundle"
[run]
months = 4
replications = 2
[customers]
initial = 300
[policies.flat]
pricing.scheme = "flat"
[policies.bundle]
label = "Prepaid bundle (3 tickets for $12, then $20)"
pricing.scheme = "prepaid_bundle"
pricing.included_tickets_per_month = 3
pricing.support_fee_usd_per_month = 12.0
pricing.per_ticket_fee_usd = 20.0
"""


def _edit(path: Path, edits: list[tuple[str, str]]) -> None:
    text = path.read_text()
    for old, new in edits:
        assert text.count(old) == 1, f"{path.name}: the recipe's anchor moved: {old[:60]}"
        text = text.replace(old, new)
    path.write_text(text)


def test_a_new_scheme_is_two_files(tmp_path):
    pkg = tmp_path / "pkg"
    shutil.copytree(ROOT / "sim", pkg / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    _edit(pkg / "sim" / "params" / "schema.py", SCHEMA_EDITS)
    _edit(pkg / "sim" / "engine" / "pricing.py", PRICING_EDITS)
    scenario = tmp_path / "bundle.toml"
    scenario.write_text(SCENARIO)
    env = {"PYTHONPATH": str(pkg), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "HOME": str(tmp_path)}
    out = tmp_path / "out"
    for argv in (["validate", str(scenario)],
                 ["run", str(scenario), "--out", str(out), "--quiet", "--no-plots", "--workers", "1"],
                 ["report", str(scenario), "--out", str(tmp_path / "report"), "--workers", "1", "--quiet"]):
        done = subprocess.run([sys.executable, "-m", "sim.cli", *argv], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    monthly = pd.read_csv(out / "monthly.csv", comment="#")
    bundle = monthly[monthly["policy"] == "bundle"]
    # the add-on is charged every month and tickets beyond the bundle pay the fee
    assert (bundle["support_revenue"] >= 12.0 * bundle["customers_start"]).all()
    assert bundle["support_revenue"].sum() > 12.0 * (bundle["customers_start"] + bundle["acquired"]).sum()
    assert (tmp_path / "report" / "report.html").read_text().count("Prepaid bundle") >= 1
