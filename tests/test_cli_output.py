"""What the command line prints (issue 23, item 8): a run ends with its verdict and the paired
differences; --quiet never silently does nothing; help text reads as written; a curve whose every
interval includes zero is never "A ahead everywhere"."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.cli import main
from sim.output import findings
from tests.conftest import SCENARIOS

TINY = ["--set", "run.months=2", "--set", "run.replications=2", "--set", "customers.initial=150", "--workers", "1"]


def test_run_ends_with_the_verdict_and_the_paired_differences(tmp_path, capsys):
    assert main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(tmp_path / "r"), "--no-plots", *TINY]) == 0
    out = capsys.readouterr().out
    verdict = out.index("\nverdict: ")
    diffs = out.index("paired differences vs the reference, Flat (included) (2 replications; mean (95% CI of the mean))")
    assert verdict < diffs < out.index("wrote ")
    block = out[diffs:out.index("wrote ")]
    assert "Per ticket ($20)" in block and "Flat + VIP + programmes" in block
    assert block.count("Value (USD)") == 2 and block.count("Cumulative profit (USD)") == 2
    assert "in 95% of" not in out  # a CI of the mean, not a share of runs
    assert block.count("% of it terminal value (customers still paying at month 2, valued beyond it)") == 2
    assert "of this lead is terminal value" in out[verdict:diffs]


@pytest.mark.parametrize("argv", [
    ["sweep", str(SCENARIOS / "smoke.toml"), "--param", "support.agents=2,3", "--quiet"],
    ["staff", str(SCENARIOS / "smoke.toml"), "--quiet"],
    ["calibrate", "--cohort", "100,80,70", "--quiet"],
], ids=["sweep", "staff", "calibrate"])
def test_quiet_without_out_is_an_error_naming_the_flags(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--quiet without --out" in err and err.count("\n") == 1


@pytest.mark.parametrize("verb", ["run", "report", "deck", "sweep", "breakeven", "sensitivity", "staff", "decide",
                                  "optimise", "calibrate", "validate"])
def test_help_shows_percent_signs_once(verb, capsys):
    with pytest.raises(SystemExit):
        main([verb, "--help"])
    assert "%%" not in capsys.readouterr().out


def _curve(lows, highs):
    return pd.DataFrame({"value": range(len(lows)), "ci_low": lows, "ci_high": highs})


def test_a_curve_inside_the_noise_is_not_a_lead():
    both = _curve([-2.0, -1.0, -3.0], [1.0, 0.5, 0.1])
    text = findings.curve_without_crossing(both, sign="policy_a ahead everywhere", a_label="Flat", b_label="Tiered",
                                           where="the range tried")
    assert text == "the differences are not distinguishable from zero across the range tried (every 95% CI includes 0)"
    some = _curve([-2.0, -1.0, -3.0], [-1.0, 0.5, -0.1])
    assert findings.curve_without_crossing(some, sign="policy_a ahead everywhere", a_label="Flat", b_label="Tiered",
                                           where="the range tried") == "Flat ahead across the range tried (clear at 2 of 3 points)"
    clear = _curve([1.0, 2.0], [3.0, 4.0])
    assert findings.curve_without_crossing(clear, sign="policy_b ahead everywhere", a_label="Flat", b_label="Tiered",
                                           where="the range tried") == "Tiered ahead across the range tried"


HEAVY = ("numpy", "pandas", "scipy", "simpy", "matplotlib", "pptx", "pyarrow", "pydantic", "streamlit")
HELP_PROBE = r"""
import json, sys
from sim.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["sweep", "--help"], ["calibrate", "--help"],
                                  ["decide", "--help"], ["optimise", "--help"], ["deck", "--help"]],
                         ids=lambda a: " ".join(a))
def test_help_loads_no_heavy_library(argv):
    """supportsim --help and VERB --help come from sim.cli.parser alone: a verb's modules (and
    numpy, pandas, SimPy, matplotlib, python-pptx) are imported only when it runs (issue 23)."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    r = subprocess.run([sys.executable, "-c", HELP_PROBE, *argv], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert "usage: supportsim" in r.stdout
    loaded = set(json.loads(r.stderr.strip().splitlines()[-1]))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
