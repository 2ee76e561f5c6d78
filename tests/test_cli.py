"""The command line: shipped scenarios, clear errors, reproducible and atomic output."""

from __future__ import annotations

import json
import sys

import pytest

from sim.cli import main
from sim.params.scenario import ScenarioError, load, load_text, scenario_hash
from tests.conftest import SCENARIOS
from tests.procs import Done, supportsim

SHIPPED = sorted(SCENARIOS.glob("*.toml"))
TINY = ["--set", "run.months=2", "--set", "run.replications=1", "--set", "customers.initial=150"]


def test_required_scenarios_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {"baseline", "netflix", "vip", "metered_wins", "smoke"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_validates_and_runs(path, tmp_path, capsys):
    assert main(["validate", str(path)]) == 0
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--workers", "1", "--quiet", "--no-plots", *TINY]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["policies"] == list(load(path).policies) or summary["policies"] == ["base"]


def _run_cli(*args: str, fresh: bool = False) -> Done:
    """The real command in a process of its own (see tests.procs.supportsim)."""
    return supportsim(*args, fresh=fresh)


def _bad(tmp_path, text: str):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    return _run_cli("validate", str(f))


def test_out_of_range_value_is_named_with_range(tmp_path):
    r = _bad(tmp_path, "[support]\nagents = -3\n")
    assert r.returncode == 2
    assert "support.agents" in r.stderr and "-3" in r.stderr and "[1, 5000]" in r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_key_suggests_the_right_one(tmp_path):
    r = _bad(tmp_path, "[support]\nagnets = 4\n")
    assert r.returncode == 2
    assert "support.agnets: unknown key; did you mean 'agents'?" in r.stderr


def test_wrong_type_and_bad_choice(tmp_path):
    r = _bad(tmp_path, '[pricing]\nscheme = "netflix"\nper_ticket_fee_usd = "cheap"\n')
    assert r.returncode == 2
    assert "pricing.scheme" in r.stderr and "'flat'" in r.stderr
    assert "pricing.per_ticket_fee_usd" in r.stderr


def test_policy_override_errors_name_the_policy(tmp_path):
    r = _bad(tmp_path, '[policies.cheap]\npricing.per_ticket_fee_usd = -1\n[policies.other]\nsuport.agents = 2\n')
    assert r.returncode == 2
    assert "policies.cheap.pricing.per_ticket_fee_usd" in r.stderr and "[0, 10000]" in r.stderr
    assert "policies.other.suport" in r.stderr and "'support'" in r.stderr


def test_invalid_toml_and_missing_file(tmp_path):
    r = _bad(tmp_path, "[support\nagents = 3")
    assert r.returncode == 2 and "not valid TOML" in r.stderr
    r = _run_cli("validate", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "cannot read file" in r.stderr


def test_segment_shares_must_sum_to_one(tmp_path):
    r = _bad(tmp_path, '[[customers.segments]]\nname = "a"\nshare = 0.5\n')
    assert r.returncode == 2 and "sum to 1" in r.stderr


def test_reference_policy_must_exist(tmp_path):
    r = _bad(tmp_path, '[scenario]\nreference_policy = "flta"\n[policies.flat]\npricing.scheme = "flat"\n')
    assert r.returncode == 2 and "did you mean 'flat'" in r.stderr


def test_set_override_is_validated_like_the_file():
    s = load(SCENARIOS / "smoke.toml", ["support.agents=8", "customers.segments.0.share=0.6",
                                        "customers.segments.1.share=0.3"])
    assert s.support.agents == 8 and s.customers.segments[0].share == 0.6
    with pytest.raises(ScenarioError, match=r"support\.agents.*\[1, 5000\]"):
        load(SCENARIOS / "smoke.toml", ["support.agents=0"])
    with pytest.raises(ScenarioError, match="expected path=value"):
        load(SCENARIOS / "smoke.toml", ["support.agents"])
    with pytest.raises(ScenarioError, match="list index"):
        load(SCENARIOS / "smoke.toml", ["customers.segments.9.share=1"])


def test_nan_and_inf_are_rejected():
    with pytest.raises(ScenarioError, match="support.agent_cost_usd_per_hour"):
        load_text("[support]\nagent_cost_usd_per_hour = nan\n")
    with pytest.raises(ScenarioError):
        load(SCENARIOS / "smoke.toml", ["support.handle_time_mean_h=inf"])


def test_schema_command_prints_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "support" in schema["properties"]


def test_help_exits_cleanly():
    r = _run_cli("run", "--help", fresh=True)  # a new interpreter: the entry point itself
    assert r.returncode == 0 and "--replications" in r.stdout and "--set" in r.stdout


def _csv(tmp_path, name, *args):
    out = tmp_path / name
    assert main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--quiet", "--no-plots", *args]) == 0
    return (out / "monthly.csv").read_bytes(), json.loads((out / "summary.json").read_text())


def test_same_seed_identical_bytes_any_process_count(tmp_path):
    a, sa = _csv(tmp_path, "a", "--workers", "1")
    b, sb = _csv(tmp_path, "b", "--workers", "2")
    c, _ = _csv(tmp_path, "c", "--workers", "1", "--seed", "2")
    assert a == b
    assert a != c
    assert sa["scenario_sha256"] == sb["scenario_sha256"]


def test_summary_records_provenance(tmp_path):
    _, s = _csv(tmp_path, "p", "--workers", "1")
    from sim import __version__

    assert s["supportsim_version"] == __version__
    assert s["seed"] == 1 and s["replications"] == 3
    assert s["scenario_sha256"] == scenario_hash(load(SCENARIOS / "smoke.toml"))
    for kpi in ("value_usd", "customers_at_horizon", "avg_retention_rate_pct", "cumulative_profit", "ltv",
                "cac_realised_usd", "ltv_cac", "suppressed_share"):
        stats = s["kpis"]["flat"][kpi]
        assert stats["ci_low"] <= stats["mean"] <= stats["ci_high"]
    assert set(s["differences_vs_reference"]) == {"per_ticket", "flat_vip"}
    # the bridge: per policy, the parts of the paired value difference add up to it
    for policy, parts in s["bridge"].items():
        total = sum(v["mean"] for k, v in parts.items() if k.startswith("pv_"))
        assert abs(total - parts["value_usd"]["mean"]) <= 1e-6 * max(1.0, abs(total)), policy


def test_failed_run_keeps_previous_output(tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--quiet", "--no-plots",
                 "--workers", "1"]) == 0
    before = (out / "monthly.csv").read_bytes()

    import sim.output.files

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sim.output.files, "write_monthly_csv", boom)
    # an unexpected error is one line and exit 1, never a traceback (issue 16)
    assert main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--quiet", "--no-plots", "--workers", "1",
                 "--seed", "9"]) == 1
    assert (out / "monthly.csv").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp folders left behind


@pytest.mark.xdist_group("run_with_plots")  # with tests/test_hostile_text.py: one run with plots for both
def test_plots_are_written_in_three_formats_with_pdf(run_with_plots):
    out = run_with_plots  # `supportsim run --pdf` with plots (of the hostile scenario: the figures are the same)
    for name in ("customers", "cumulative_profit"):
        for ext in ("png", "svg", "pdf"):
            assert (out / "plots" / f"{name}.{ext}").stat().st_size > 1000


def test_guardrail_refuses_huge_runs_up_front(tmp_path):
    r = _run_cli("run", str(SCENARIOS / "smoke.toml"), "--out", str(tmp_path / "o"), "--max-work", "1000")
    assert r.returncode == 2
    assert "workload too large" in r.stderr and "customer-months" in r.stderr
    assert not (tmp_path / "o").exists()


def test_csv_files_carry_provenance(tmp_path):
    import pandas as pd

    from sim import __version__

    out = tmp_path / "prov"
    assert main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--quiet", "--no-plots", "--workers", "1"]) == 0
    digest = scenario_hash(load(SCENARIOS / "smoke.toml"))
    for name in ("monthly.csv", "kpis.csv"):
        df = pd.read_csv(out / name)
        assert (df["scenario_sha256"] == digest).all() and (df["seed"] == 1).all()
        assert (df["supportsim_version"] == __version__).all()


# ---------------------------------------------------------------- one way out of an interrupted verb
# In-process, with SIGTERM sent to this process at chosen points (main always handles SIGTERM; it
# leaves an ignored SIGINT ignored, and the suite may run with SIGINT ignored).


def test_a_signal_after_the_output_is_written_says_so(tmp_path, monkeypatch, capsys):
    """Regression: report, deck and the studies said "no results written" when the signal came
    after their output had been swapped in (only run and decide kept track)."""
    import os
    import signal

    from sim.cli import report as report_cli

    real = report_cli.write_report

    def write_then_stopped(*args, **kwargs):  # noqa: ANN002, ANN003
        path = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # as if stopped while the command goes on to print
        return path

    monkeypatch.setattr(report_cli, "write_report", write_then_stopped)
    out = tmp_path / "rep"
    assert main(["report", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--workers", "1", *TINY]) == 130
    err = capsys.readouterr().err
    assert f"interrupted after the results were written to {out / 'report.html'}" in err, err
    assert (out / "report.html").is_file()


class _StopWhileReporting:
    """stderr that gets a signal (SIGTERM) when the interrupt is reported: another Ctrl-C on the way out."""

    def __init__(self, stream) -> None:  # noqa: ANN001
        self.stream, self.sent = stream, 0

    def write(self, text: str) -> int:
        if text.startswith("interrupted") and not self.sent:
            import os
            import signal

            self.sent += 1
            os.kill(os.getpid(), signal.SIGTERM)
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


def test_more_signals_on_the_way_out_change_nothing(monkeypatch, capsys):
    """Regression: a second signal while an interrupted verb cleaned up or printed its message
    escaped main as KeyboardInterrupt (the process then died of the signal, exit -2, after the
    message). Now the first signal decides; later ones are only counted."""
    import importlib
    import os
    import signal

    run_module = importlib.import_module("sim.cli.run")  # the module of validate

    def stopped(args):  # noqa: ANN001
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # the first: KeyboardInterrupt here
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # another during the clean-up
        return 0

    monkeypatch.setattr(run_module, "cmd_validate", stopped)
    monkeypatch.setattr(sys, "stderr", _StopWhileReporting(sys.stderr))
    handler = signal.getsignal(signal.SIGTERM)
    try:
        code = main(["validate", str(SCENARIOS / "smoke.toml")])
    except KeyboardInterrupt:
        pytest.fail("a signal on the way out escaped main (the process would die of it, exit -2)")
    assert code == 130
    assert sys.stderr.sent == 1
    err = capsys.readouterr().err
    assert err.splitlines() == ["interrupted: no results written"], err
    assert signal.getsignal(signal.SIGTERM) == handler  # called in-process: the caller's handler is back


def test_an_ignored_sigint_stays_ignored_and_sigterm_still_stops(monkeypatch, capsys):
    """A shell starts background jobs with Ctrl-C ignored on purpose; SIGTERM is handled regardless."""
    import importlib
    import os
    import signal

    run_module = importlib.import_module("sim.cli.run")  # the module of validate
    reached = []

    def verb(args):  # noqa: ANN001
        os.kill(os.getpid(), signal.SIGINT)
        reached.append("after SIGINT")
        os.kill(os.getpid(), signal.SIGTERM)
        reached.append("after SIGTERM")
        return 0

    monkeypatch.setattr(run_module, "cmd_validate", verb)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = main(["validate", str(SCENARIOS / "smoke.toml")])
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == 130 and reached == ["after SIGINT"]
    assert "interrupted: no results written" in capsys.readouterr().err
