"""Bad input through the real command line: exit code 2, one clear message naming the field, the
bad value and what is allowed; never a traceback, never "a bug: please report it". And user text
printed by the command line never reaches the terminal as control characters."""

from __future__ import annotations

import numpy as np
import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.output import fmt
from sim.params.scenario import load
from tests.conftest import SCENARIOS

ESCAPES = "\x1b[31mred\x1b]0;title\x07"  # recolour, then set the window title
# In a policy label the digits above would be numbers the label claims (sim.params.labels replaces
# such a label by one made from the policy's settings): reset, erase the line, ring the bell.
LABEL_ESCAPES = "\x1b[mred\x1b[Kx\x07"
FAST = ["--workers", "1", "--set", "run.months=2"]


def _write(tmp_path, data, name="s.toml"):
    path = tmp_path / name
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


def _smoke(**changes):
    data = load(SCENARIOS / "smoke.toml").model_dump(mode="json", exclude_none=True)
    for key, value in changes.items():
        data[key] = value
    return data


def _refused(capsys, argv, *needles):
    """main(argv) exits 2 with one message that names every needle, no traceback, no 'a bug'."""
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and "a bug" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


# ---------------------------------------------------------------- terminal escapes


def test_terminal_escapes_controls_and_keeps_text():
    assert fmt.terminal(ESCAPES) == "\\x1b[31mred\\x1b]0;title\\x07"
    assert fmt.terminal("Flat + VIP ($20) é 🚀") == "Flat + VIP ($20) é 🚀"
    assert fmt.terminal("a\nb\r\u202ec\x9b") == "a\\nb\\r\\u202ec\\x9b"
    assert fmt.terminal("a\nb\rc", keep_newlines=True) == "a\nb\\rc"


def test_printed_labels_and_names_are_escaped(tmp_path, capsys):
    data = _smoke()
    data["scenario"]["name"] = "name " + ESCAPES
    for name in data["policies"]:  # whichever policy is chosen, its label carries the escapes
        data["policies"][name]["label"] = f"{name} {LABEL_ESCAPES}"
    data["uncertainty"] = {"churn.switching_ease": {"dist": "uniform", "low": 0.5, "high": 2.0}}
    path = _write(tmp_path, data)
    assert main(["validate", str(path)]) == 0
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--replications", "2", "--no-plots", *FAST]) == 0
    assert main(["decide", str(path), "--samples", "6", "--no-plots", *FAST]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "name \\x1b[31mred\\x1b]0;title\\x07" in out  # validate and run name the scenario
    assert "Choose " in out and " \\x1b[mred\\x1b[Kx\\x07 (highest expected value)" in out  # decide's answer
    # an error that quotes the scenario's name escapes it too
    other = _write(tmp_path, {**data, "run": {**data["run"], "seed": 2}}, "other.toml")
    assert main(["decide", str(path), "--samples", "4", "--no-plots", "--quiet", "--out", str(tmp_path / "dec"),
                 *FAST]) == 0
    capsys.readouterr()
    err = _refused(capsys, ["report", other, "--out", tmp_path / "rep", "--decision", tmp_path / "dec", "--quiet",
                            *FAST], "does not belong")
    assert "\x1b" not in err and "\\x1b[31m" in err


# ---------------------------------------------------------------- spreadsheet formulas in CSV files

FORMULA = '=HYPERLINK("http://e.example","Go")'


def test_formulas_neutralised_whatever_the_column_dtype():
    import pandas as pd

    from sim.output import files

    raw = pd.DataFrame({"plan": [FORMULA, "-2+3", "@SUM(A1)", "starter", None], "n": [1, 2, 3, 4, 5]})
    for dtype in ("object", "string[python]", "string[pyarrow]", "str", "category"):
        df = raw.astype({"plan": dtype})
        cells = files.neutralise(df)["plan"].tolist()
        assert cells[:4] == ["'" + FORMULA, "'-2+3", "'@SUM(A1)", "starter"], dtype
        assert pd.isna(cells[4]), dtype
        assert files.neutralise(df)["n"].tolist() == [1, 2, 3, 4, 5]
    assert list(files.neutralise(pd.DataFrame({"=cmd": [1]})).columns) == ["'=cmd"]


def test_a_formula_segment_name_reaches_no_csv_verbatim(tmp_path, capsys):
    import csv

    data = _smoke()
    data["customers"]["segments"] = [{"name": FORMULA, "share": 1.0}]
    path = _write(tmp_path, data)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--replications", "1", "--no-plots", "--quiet", *FAST]) == 0
    cells = [c for f in out.glob("*.csv") for row in csv.reader(f.open(newline="")) for c in row]
    assert "'" + FORMULA in cells  # segments.csv names the segment, neutralised
    assert not [c for c in cells if c.startswith(("=", "@", "+"))]


# ---------------------------------------------------------------- a planted manifest deletes nothing


def test_a_planted_manifest_cannot_make_a_run_delete_user_files(tmp_path):
    import hashlib
    import json

    from sim.output import files

    out = tmp_path / "results"
    out.mkdir()
    outside = tmp_path / "outside.csv"
    outside.write_text("not yours")
    mine = {"thesis.txt": "years of work", "kpis.csv": "my own table", "plots/figure.png": "my figure",
            "summary.csv": "listed with its true hash"}
    for rel, text in mine.items():
        (out / rel).parent.mkdir(exist_ok=True)
        (out / rel).write_text(text)
    (out / "link.csv").symlink_to(outside)
    listed = [*mine, "link.csv", "/".join(["..", outside.name]), str(outside)]  # a parent path, an absolute one
    sha = {rel: hashlib.sha256(b"forged").hexdigest() for rel in listed}
    sha["thesis.txt"] = hashlib.sha256(b"years of work").hexdigest()  # the true hash, but not an output name
    (out / files.MANIFEST).write_text(json.dumps({"written_by": "supportsim", "files": listed, "sha256": sha}))
    rc = main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--replications", "1", "--no-plots",
               "--quiet", *FAST])
    assert rc == 0
    assert (out / "thesis.txt").read_text() == "years of work"
    assert (out / "kpis.csv.kept").read_text() == "my own table"  # beside the run's own kpis.csv
    assert (out / "kpis.csv").read_text() != "my own table"
    assert (out / "plots" / "figure.png").read_text() == "my figure"
    assert (out / "summary.csv").read_text() == "listed with its true hash"
    assert (out / "link.csv").is_symlink() and outside.read_text() == "not yours"
    # the files supportsim wrote are its own from now on: a rerun replaces them and keeps the rest
    assert main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--replications", "1", "--no-plots",
                 "--quiet", *FAST]) == 0
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if not p.is_dir()} == {
        files.MANIFEST, "monthly.csv", "kpis.csv", "segments.csv", "summary.json", *mine, "kpis.csv.kept", "link.csv"}
    # and a file of ours edited since is the user's now: kept, not replaced
    (out / "summary.json").write_text("edited by hand")
    assert main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--replications", "1", "--no-plots",
                 "--quiet", *FAST]) == 0
    assert (out / "summary.json.kept").read_text() == "edited by hand"


# ---------------------------------------------------------------- [uncertainty] entries checked on load

HUGE_INT = 10**400  # a TOML integer beyond the floating-point range


@pytest.mark.parametrize(("path", "spec", "needles"), [
    ("support.handle_time_mean_h", {"dist": "lognormal", "mu": 1000, "sigma": 1}, ["mu", "1000", "[-700, 700]"]),
    ("support.handle_time_mean_h", {"dist": "lognormal", "mu": -1000, "sigma": 1}, ["mu", "-1000", "[-700, 700]"]),
    ("support.handle_time_mean_h", {"dist": "lognormal", "mean": 1.0, "sd": 1e200}, ["sd / mean", "(0, 1000]"]),
    ("support.handle_time_mean_h", {"dist": "lognormal", "mean": 1e-300, "sd": 1e300}, ["sd / mean", "1e-300"]),
    ("support.handle_time_cv", {"dist": "lognormal", "mu": 0, "sigma": 1e300}, ["sigma", "(0, 50]"]),
    ("help_seeking.base_ask_prob", {"dist": "beta", "mean": 0.5, "sd": 1e-200}, ["sd must lie in", "1e-200"]),
    ("help_seeking.base_ask_prob", {"dist": "beta", "a": 1e-300, "b": 2}, ["shape a", "1e-300"]),
    ("churn.switching_ease", {"dist": "uniform", "low": 0.5, "high": HUGE_INT}, ["high must be a finite number"]),
    ("churn.switching_ease", {"dist": "uniform", "low": 0.5, "high": 1e9}, ["support [0.5, 1e+09]", "allowed range"]),
    ("support.agents", {"dist": "choice", "values": [1.5, 2]}, ["whole numbers"]),
    ("support.no_such_field", {"dist": "uniform", "low": 0, "high": 1}, ["unknown parameter"]),
])
def test_uncertainty_entries_refused_on_load_naming_the_path(tmp_path, capsys, path, spec, needles):
    data = _smoke()
    data["support"] = {**data.get("support", {}), "handle_time_dist": "lognormal"}
    text = tomli_w.dumps(data) + f'\n[uncertainty]\n"{path}" = {{ ' + ", ".join(
        f"{k} = {tomli_w.dumps({'v': v})[4:].strip()}" for k, v in spec.items()) + " }\n"
    scenario = tmp_path / "u.toml"
    scenario.write_text(text)
    for verb in (["validate"], ["decide", "--samples", "4", "--quiet"]):
        _refused(capsys, [*verb[:1], scenario, *verb[1:]], f'uncertainty."{path}"', *needles)


_numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**400), 10**400),
                     st.sampled_from([0, 1e-300, 1e300, 700, 1000, -1000, 5e-324]))


@settings(max_examples=300, deadline=None)
@given(dist=st.sampled_from(["uniform", "triangular", "normal", "lognormal", "beta"]),
       params=st.dictionaries(st.sampled_from(["low", "high", "mode", "mean", "sd", "mu", "sigma", "a", "b"]),
                              _numbers, max_size=4),
       field=st.sampled_from([(0.0, 1.0, False), (0.001, 100.0, False), (0.0, None, True), (None, None, False)]))
def test_any_distribution_is_refused_with_a_value_error_or_draws_finite_numbers(dist, params, field):
    from sim.params.uncertainty import PROBES, from_spec

    try:
        d = from_spec({"dist": dist, **params}).within(field[0], field[1], low_open=field[2])
    except ValueError:
        return
    x = np.asarray(d.ppf(PROBES), dtype=float)
    assert np.isfinite(x).all()
    lo, hi = d.support
    assert (x >= lo).all() and (x <= hi).all()


# ---------------------------------------------------------------- sweeps and break-evens move numbers


@pytest.mark.parametrize(("verb", "needles"), [
    (["sweep", "--param", "support.staffing=fixed,erlang"], ["support.staffing", "not a numeric parameter",
                                                             "'fixed', 'erlang'"]),
    (["sweep", "--param", "vip.enabled=true,false"], ["vip.enabled", "not a numeric parameter", "true or false"]),
    (["sweep", "--param", "scenario.name=a,b"], ["scenario.name", "not a model parameter"]),
    (["sweep", "--param", "run.months=2,3"], ["run.months", "not a model parameter"]),
    (["sweep", "--param", "support.no_such=1,2"], ["support.no_such", "unknown key"]),
    (["sweep", "--param", "pricing.per_ticket_fee_usd=5,10", "--policies", "flat,flat_vip"],
     ["pricing.per_ticket_fee_usd", "acts only when pricing.scheme is per_ticket", "it acts on per_ticket"]),
    (["sweep", "--param", "support.agents=2,3", "--policies", "flat"], ["support.agents", "support.staffing=fixed"]),
    (["sweep", "--param", "policies.per_ticket.support.agents=2,3", "--policies", "flat,flat_vip"],
     ["policies.per_ticket.support.agents", "not among those compared"]),
    (["breakeven", "--param", "support.staffing", "--between", "0", "1"], ["support.staffing",
                                                                           "not a numeric parameter"]),
    (["breakeven", "--param", "scenario.name", "--between", "0", "1"], ["scenario.name", "not a model parameter"]),
    (["breakeven", "--param", "support.sla_clock", "--between", "0", "1"], ["support.sla_clock", "'calendar'"]),
])
def test_sweep_and_breakeven_refuse_what_cannot_move(tmp_path, capsys, verb, needles):
    _refused(capsys, [verb[0], SCENARIOS / "smoke.toml", *verb[1:], "--out", tmp_path / "o", "--replications", "1",
                      *FAST], *needles)
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- an edited decision folder is refused

DECIDE = ["--set", "run.months=3", "--set", "customers.initial=120"]


@pytest.fixture(scope="module")
def decided(tmp_path_factory):
    """A decision on a small scenario whose answer is uncertain (so every figure is non-zero)."""
    folder = tmp_path_factory.mktemp("decided")
    data = _smoke()
    data["policies"].pop("flat_vip")
    data["uncertainty"] = {
        "policies.per_ticket.pricing.per_ticket_fee_usd": {"dist": "uniform", "low": 0.0, "high": 60.0},
        "satisfaction.resentment_per_usd": {"dist": "uniform", "low": 0.0, "high": 0.03},
        "churn.switching_ease": {"dist": "triangular", "low": 0.5, "mode": 1.0, "high": 2.0},
    }
    scenario = _write(folder, data, "decided.toml")
    out = folder / "dec"
    assert main(["decide", str(scenario), "--samples", "16", "--workers", "1", "--quiet", "--no-plots",
                 "--out", str(out), *DECIDE]) == 0
    return scenario, out


def _edited(decided, tmp_path, edit_json=None, edit_psa=None):
    import json
    import shutil

    scenario, folder = decided
    copy = tmp_path / "edited"
    shutil.copytree(folder, copy)
    if edit_json is not None:
        body = json.loads((copy / "decision.json").read_text())
        text = edit_json(body)
        (copy / "decision.json").write_text(text if isinstance(text, str) else json.dumps(body))
    if edit_psa is not None:
        lines = (copy / "psa.csv").read_text().splitlines()
        (copy / "psa.csv").write_text("\n".join(edit_psa(lines)) + "\n")
    return scenario, copy


def _report_refuses(capsys, tmp_path, scenario, folder, *needles):
    return _refused(capsys, ["report", scenario, "--out", tmp_path / "rep", "--decision", folder, "--quiet",
                             "--workers", "1", *DECIDE], *needles)


def test_an_untouched_decision_is_read(decided, tmp_path, capsys):
    scenario, folder = decided
    assert main(["report", str(scenario), "--out", str(tmp_path / "rep"), "--decision", str(folder), "--quiet",
                 "--workers", "1", "--replications", "1", *DECIDE]) == 0
    assert "Traceback" not in capsys.readouterr().err


def _set_policy(body, field, value):
    body["policies"][next(iter(body["policies"]))][field] = value


def _forge(body):
    """Swap the two policies' figures and the recommendation: every field valid and consistent."""
    a, b = list(body["policies"])
    body["policies"] = {a: body["policies"][b], b: body["policies"][a]}
    body["recommended_policy"] = a if body["recommended_policy"] == b else b


@pytest.mark.parametrize(("edit", "needles"), [
    (lambda b: b["policies"].update({"gold": b["policies"].pop("per_ticket")}), ["policies", "gold"]),
    (lambda b: b.update(recommended_policy="gold"), ["recommended_policy", "gold"]),
    (lambda b: b.update(kpi="happiness"), ["kpi", "happiness"]),
    (lambda b: json_text(b).replace('"evpi": ', '"evpi": NaN, "x": '), ["NaN"]),
    (lambda b: b.update(evpi=None), ["evpi = null", "finite number"]),
    (lambda b: b.update(evpi=1e300), ["evpi is 1e+300", "psa.csv gives"]),
    (lambda b: _set_policy(b, "prob_best", 2), ["prob_best = 2", "[0, 1]"]),
    (lambda b: _set_policy(b, "expected_value", "a lot"), ["expected_value", "finite number"]),
    (lambda b: b["evppi"].update({k: b["evpi"] * 74.44 + 1 for k in b["evppi"]}), ["evppi", "[0, "]),
    (lambda b: b.pop("samples"), ["samples: missing"]),
    (lambda b: b.update(samples=10**9), ["samples = 1000000000"]),
    (lambda b: b.update(evpi_sample=10**400), ["evpi_sample", "finite number"]),
    (lambda b: b.update(months="many"), ["months"]),
    (lambda b: "[" * 100_000 + "]" * 100_000, ["nested"]),
    (lambda b: b.update(scenario_sha256="0" * 64), ["scenario_sha256", "hashes to"]),
    (lambda b: b.update(decision_sha256="f" * 64), ["decision_sha256"]),
    (_forge, ["does not match psa.csv"]),
])
def test_an_edited_decision_json_is_refused(decided, tmp_path, capsys, edit, needles):
    scenario, folder = _edited(decided, tmp_path, edit_json=edit)
    _report_refuses(capsys, tmp_path, scenario, folder, "decision.json", *needles)


def json_text(body):
    import json

    return json.dumps(body)


def _bump_kpi(lines):
    header = lines[0].split(",")
    j = header.index("value_usd")
    row = lines[1].split(",")
    row[j] = str(float(row[j]) + 1e7)
    return [lines[0], ",".join(row), *lines[2:]]


def _bump_parameter(lines):
    header = lines[0].split(",")
    j = header.index("satisfaction.resentment_per_usd")
    out = [lines[0]]
    for line in lines[1:]:
        row = line.split(",")
        row[j] = "0.02999"
        out.append(",".join(row))
    return out


@pytest.mark.parametrize(("edit", "needles"), [
    (_bump_kpi, ["decision.json", "does not match psa.csv"]),
    (_bump_parameter, ["psa.csv", "satisfaction.resentment_per_usd", "draws"]),
    (lambda lines: lines[:-1], ["psa.csv", "one row per sample and policy"]),
    (lambda lines: [lines[0].replace("scenario_sha256", "sha")] + lines[1:], ["psa.csv", "scenario_sha256"]),
    (lambda lines: [lines[0], *(line.replace("per_ticket", "gold") for line in lines[1:])], ["psa.csv"]),
])
def test_an_edited_psa_csv_is_refused(decided, tmp_path, capsys, edit, needles):
    scenario, folder = _edited(decided, tmp_path, edit_psa=edit)
    _report_refuses(capsys, tmp_path, scenario, folder, *needles)


@pytest.mark.parametrize("name", ["decision.json", "psa.csv"])
def test_fifos_and_oversized_files_are_refused_without_reading(decided, tmp_path, capsys, name):
    import os
    import time

    from sim.output import decision_files
    from tests.conftest import BOUNDED_S
    from tests.procs import supportsim

    scenario, folder = _edited(decided, tmp_path)
    (folder / name).unlink()
    os.mkfifo(folder / name)  # nobody ever writes: reading it would wait forever
    t = time.perf_counter()
    done = supportsim("report", str(scenario), "--out", str(tmp_path / "r"), "--decision", str(folder), "--quiet",
                      *DECIDE)  # the real command, in a process of its own
    assert done.returncode == 2 and "not a regular file" in done.stderr and name in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and time.perf_counter() - t < BOUNDED_S
    (folder / name).unlink()
    limit = decision_files.MAX_JSON_BYTES if name == "decision.json" else decision_files.MAX_PSA_BYTES
    with open(folder / name, "wb") as fh:  # sparse: the size is what counts, not the disk
        fh.truncate(limit + 1)
    _report_refuses(capsys, tmp_path, scenario, folder, name, "limit")


@pytest.mark.parametrize("extreme", [
    ["support.handle_time_mean_h=100", "support.handle_time_cv=5"],
    ["support.handle_time_mean_h=0.001", "support.handle_time_cv=0.000001"],
])
def test_lognormal_handle_times_at_the_ends_of_their_ranges_run(tmp_path, capsys, extreme):
    """The schema's extremes of a lognormal handle time are valid input: they run (no overflow)."""
    sets = [a for e in ["support.handle_time_dist=lognormal", *extreme] for a in ("--set", e)]
    rc = main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(tmp_path / "o"), "--replications", "1",
               "--no-plots", "--quiet", *FAST, *sets])
    err = capsys.readouterr().err
    assert rc == 0 and "Traceback" not in err, err
