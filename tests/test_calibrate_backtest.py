"""The back-test: fit on the first part of the bundled example, simulate the rest, and cover what happened."""

from __future__ import annotations

import json

import pandas as pd

from sim.cli import main
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "calibration"


def test_the_bundled_example_back_test_covers_the_observed_retention(tmp_path, capsys):
    out = tmp_path / "bt"
    rc = main(["calibrate", "--customers", str(EXAMPLE / "customers.csv"), "--tickets", str(EXAMPLE / "tickets.csv"),
               "--out", str(tmp_path / "ours.toml"), "--backtest", str(out), "--backtest-replications", "12"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "back-test: fitted before" in printed
    months = pd.read_csv(out / "backtest_months.csv")
    retention = months[months["metric"] == "retention_pct"]
    assert len(retention) >= 2 and retention["inside"].all(), retention
    summary = json.loads((out / "summary.json").read_text())
    assert summary["coverage"]["retention_pct"] == 1.0
    assert (out / "backtest.png").stat().st_size > 10_000
    assert "[uncertainty]" in (out / "fit.toml").read_text()
    # the fitted part saw only what was known at the split
    assert pd.read_csv(out / "backtest_runs.csv")["month"].max() == len(retention) - 1


def test_a_split_without_enough_history_is_one_line_and_exit_2(tmp_path, capsys):
    rc = main(["calibrate", "--customers", str(EXAMPLE / "customers.csv"), "--tickets", str(EXAMPLE / "tickets.csv"),
               "--out", str(tmp_path / "ours.toml"), "--backtest", str(tmp_path / "bt"), "--backtest-split",
               "2024-01-15"])
    err = capsys.readouterr().err
    assert rc == 2 and "back-test split" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "bt").exists()
