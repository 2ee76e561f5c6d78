"""Property-based tests of the scenario loader and the ``--set`` parser (hypothesis).

Whatever text, bytes or values arrive, loading either gives a valid scenario or raises
:class:`ScenarioError` whose message names a field path or the problem: never another
exception (a traceback for the user), never a hang (hypothesis deadlines).
"""

from __future__ import annotations

import math
import re
import string
import time
from datetime import date, datetime
from datetime import time as dtime

import pytest
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sim.cli import main
from sim.params.scenario import (
    MAX_FILE_BYTES,
    ScenarioError,
    load,
    load_text,
    parse_set,
    scenario_hash,
    set_path,
    to_toml,
    validate_dict,
)
from sim.params.schema import Scenario
from sim.params.walk import iter_params
from sim.runs import guardrails
from tests.conftest import BOUNDED_S, SCENARIOS

# no per-example deadline: on a loaded machine a 2-s deadline failed examples that were only slow
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Every scalar parameter of the base model with a numeric range, from the schema itself.
PARAMS = [p for p in iter_params()
          if "[]" not in p.path and not p.path.startswith(("scenario.", "policies", "uncertainty"))]
RANGED = [p for p in PARAMS if p.type in ("int", "float") and p.allowed.startswith(("[", "("))]
SEG_RANGED = [p for p in iter_params() if "[]" in p.path and p.type in ("int", "float")]
PATHS = [p.path for p in iter_params() if "[]" not in p.path]


def bounds(p) -> tuple[float, float]:
    lo, hi = p.allowed.strip("[]()").split(", ")
    return float(lo.replace("_", "")), float(hi.replace("_", ""))


def check_error(exc: ScenarioError) -> None:
    """A ScenarioError is a clear message: problems listed, each naming a path or a problem."""
    text = str(exc)
    assert exc.problems, text
    assert text.splitlines()[0].endswith(("invalid scenario", "run refused before it started"))
    assert "Traceback" not in text
    for line in exc.problems:
        assert line.strip(), text
        assert len(line) < 2000, line[:200]


def loads_or_clear_error(text, overrides=None) -> Scenario | None:
    try:
        return load_text(text, overrides)
    except ScenarioError as exc:
        check_error(exc)
        return None


# ------------------------------------------------------------------ strategies

nasty_numbers = st.sampled_from(
    [math.nan, math.inf, -math.inf, -1, -1e300, 1e300, 0, -0.0, 10**30, -(10**30), 2**63, 1e-320, 0.5, 1]
)
toml_scalars = st.one_of(
    nasty_numbers,
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=30),
    st.dates(),
    st.datetimes(),
    st.times(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(string.ascii_letters + "_.", max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)
keys = st.one_of(st.sampled_from([p.split(".")[-1] for p in PATHS] + ["policies", "segments", "0"]),
                 st.text(max_size=12))


def nested(depth: int) -> st.SearchStrategy:
    if depth == 0:
        return toml_values
    return st.dictionaries(keys, st.one_of(toml_values, nested(depth - 1)), max_size=4)


# A scenario-shaped table: the schema's sections with random (often wrong) contents.
scenario_shaped = st.fixed_dictionaries(
    {},
    optional={
        section: st.dictionaries(
            st.one_of(st.sampled_from([p.path.split(".", 1)[1].split(".")[0] for p in PARAMS
                                       if p.section == section] or ["x"]), st.text(max_size=8)),
            toml_values, max_size=5)
        for section in {p.section for p in PARAMS} | {"scenario", "run"}
    } | {"policies": st.dictionaries(st.text(max_size=10), nested(2), max_size=3),
         "uncertainty": st.dictionaries(st.one_of(st.sampled_from(PATHS), st.text(max_size=12)),
                                        st.one_of(toml_values, st.fixed_dictionaries(
                                            {"dist": st.sampled_from(["uniform", "triangular", "normal", "lognormal",
                                                                      "beta", "choice", "x"])},
                                            optional={k: toml_scalars for k in ("low", "high", "mode", "mean", "sd", "mu",
                                                                                "sigma", "a", "b")}
                                            | {"values": toml_values})),
                                        max_size=3)},
)


def dumps(data: dict) -> str | None:
    """TOML text of data, or None if TOML cannot express it (e.g. NaN keys are fine, None is not)."""
    try:
        return tomli_w.dumps(data)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------ loading arbitrary input


@FAST
@given(st.text(max_size=400))
def test_arbitrary_text_loads_or_fails_clearly(text):
    loads_or_clear_error(text)


@FAST
@given(st.binary(max_size=400))
def test_arbitrary_bytes_load_or_fail_clearly(data):
    loads_or_clear_error(data)


@FAST
@given(st.binary(max_size=200))
def test_arbitrary_file_loads_or_fails_clearly(tmp_path_factory, data):
    f = tmp_path_factory.mktemp("f") / "s.toml"
    f.write_bytes(data)
    try:
        load(f)
    except ScenarioError as exc:
        check_error(exc)


@FAST
@given(nested(3))
def test_arbitrary_tables_load_or_fail_clearly(data):
    text = dumps(data)
    assume(text is not None)
    loads_or_clear_error(text)


@FAST
@given(scenario_shaped)
def test_scenario_shaped_tables_load_or_fail_clearly(data):
    text = dumps(data)
    assume(text is not None)
    scenario = loads_or_clear_error(text)
    if scenario is not None:  # what loads must be valid and reproducible from its own TOML
        assert scenario_hash(load_text(to_toml(scenario))) == scenario_hash(scenario)


@FAST
@given(st.one_of(toml_values, st.text(max_size=50)), st.booleans())
def test_validate_dict_never_raises_anything_else(data, wrap):
    try:
        validate_dict({"support": data} if wrap else data)
    except ScenarioError as exc:
        check_error(exc)


# ------------------------------------------------------------------ a bad value is named with its range


@FAST
@given(st.sampled_from(RANGED), st.sampled_from(["below", "above", "nan", "inf", "text", "table", "list"]))
def test_bad_value_error_names_the_path_and_range(p, how):
    lo, hi = bounds(p)
    value = {
        "below": lo - max(1.0, abs(lo)), "above": hi * 2 + 1, "nan": math.nan, "inf": math.inf,
        "text": "lots", "table": {"a": 1}, "list": [1, 2],
    }[how]
    section, key = p.path.split(".", 1)
    with pytest.raises(ScenarioError) as info:
        load_text(tomli_w.dumps({section: {key: value}}))
    msg = str(info.value)
    assert p.path in msg, msg
    if how in ("below", "above"):
        assert p.allowed.replace("_", "") in msg.replace("_", "") or "allowed range" in msg, msg


@FAST
@given(st.sampled_from([p for p in RANGED if p.section != "run"]), st.sampled_from(["below", "above"]),
       st.text(string.ascii_lowercase, min_size=1, max_size=10))
def test_bad_policy_value_names_the_policy(p, how, name):
    lo, hi = bounds(p)
    value = lo - max(1.0, abs(lo)) if how == "below" else hi * 2 + 1
    section, key = p.path.split(".", 1)
    text = tomli_w.dumps({"policies": {name: {section: {key: value}}}})
    with pytest.raises(ScenarioError, match=re.escape(f"policies.{name}.{p.path}")):
        load_text(text)


@FAST
@given(st.sampled_from(RANGED), st.floats(allow_nan=False, allow_infinity=False), st.booleans())
def test_any_value_via_set_is_accepted_exactly_when_in_range(p, x, as_int):
    lo, hi = bounds(p)
    left_open = p.allowed.startswith("(")
    value = int(x) if (p.type == "int" or as_int) and abs(x) < 1e18 else x
    if p.type == "int" and not float(value).is_integer():
        assume(False)
    inside = (lo < value if left_open else lo <= value) and value <= hi
    try:
        s = load_text("", [f"{p.path}={value!r}"])
    except ScenarioError as exc:
        check_error(exc)
        assert p.path in str(exc), str(exc)
        if inside:  # an in-range value may only fail a rule across fields (e.g. min_agents <= max_agents)
            assert "must not exceed" in str(exc), str(exc)
        return
    assert inside, (p.path, value)
    got = s
    for part in p.path.split("."):
        got = getattr(got, part)
    assert got == value


# ------------------------------------------------------------------ the --set parser


@FAST
@given(st.text(max_size=80))
def test_any_set_expression_parses_or_fails_clearly(expr):
    try:
        path, _ = parse_set(expr)
    except ScenarioError as exc:
        check_error(exc)
        return
    assert path and "=" in expr


@FAST
@given(st.text(max_size=60))
def test_any_set_expression_loads_or_fails_clearly(expr):
    loads_or_clear_error("", [expr])


@FAST
@given(st.sampled_from(PATHS + ["customers.segments.0.share", "customers.segments.2.name", "policies.p.support.agents",
                                "customers.segments.9.share", "support.agents.x", "scenario.name.y.z"]),
       st.one_of(st.sampled_from(["nan", "inf", "-inf", "+nan", "1e999", "-1", "1" * 5000, "[" * 3000, "{a=" * 50,
                                  "1979-05-27", "true", "\"x\"", "[]", "{}", "3\nagents = 1", "\ud800", "²"]),
                 st.text(max_size=20)))
def test_set_on_real_paths_loads_or_names_the_path(path, raw):
    try:
        load_text("", [f"{path}={raw}"])
    except ScenarioError as exc:
        check_error(exc)
        head = path.split(".")[0]
        assert head in str(exc) or "--set" in str(exc), str(exc)


@FAST
@given(st.lists(st.text(string.ascii_letters + string.digits + "._²", min_size=1, max_size=12), min_size=1,
                max_size=6), toml_scalars)
def test_set_path_never_breaks_on_odd_paths(parts, value):
    data = Scenario().model_dump(mode="python")
    try:
        set_path(data, ".".join(parts), value)
    except ScenarioError as exc:
        check_error(exc)


def test_set_rejects_injected_second_value():
    with pytest.raises(ScenarioError, match="one value"):
        load_text("", ["support.agents=3\nmax_agents = 1"])


def test_set_cannot_turn_a_bad_file_value_into_a_table():
    """A file's scalar where a table belongs stays an error even if --set writes inside it."""
    with pytest.raises(ScenarioError, match="support"):
        load_text("support = 3\n", ["support.agents=4"])


# ------------------------------------------------------------------ limits: size, depth, encoding, time


def test_enormous_text_is_refused_quickly():
    big = "# " + "x" * (MAX_FILE_BYTES + 10) + "\n"
    t = time.perf_counter()
    with pytest.raises(ScenarioError, match="limit"):
        load_text(big)
    with pytest.raises(ScenarioError, match="limit"):
        load_text(big.encode())
    assert time.perf_counter() - t < BOUNDED_S


def test_enormous_file_is_refused(tmp_path):
    f = tmp_path / "big.toml"
    f.write_text("[run]\nmonths = 3\n" + "#" * (MAX_FILE_BYTES + 1) + "\n")
    with pytest.raises(ScenarioError, match="limit"):
        load(f)


def test_text_just_under_the_limit_still_loads():
    text = "[run]\nmonths = 3\n"
    text += "#" * (MAX_FILE_BYTES - len(text) - 1) + "\n"
    assert load_text(text).run.months == 3


@pytest.mark.parametrize("opener,closer", [("x = ", ""), ("x = " + "[" * 5000, "]" * 5000),
                                           ("x = " + "{a = " * 3000, "1" + "}" * 3000)])
def test_deep_nesting_is_refused(opener, closer):
    with pytest.raises(ScenarioError, match="nested|unknown key|TOML"):
        load_text(opener + closer + "\n")


def test_deep_dotted_keys_are_refused():
    text = "[policies.p]\nsupport." + ".".join(["a"] * 3000) + " = 1\n"
    with pytest.raises(ScenarioError, match="nested"):
        load_text(text)


def test_huge_integer_literal_is_a_clear_error():
    with pytest.raises(ScenarioError, match="customers.initial|digits"):
        load_text("[customers]\ninitial = " + "9" * 5000 + "\n")
    with pytest.raises(ScenarioError, match="customers.initial"):
        load_text("[customers]\ninitial = " + "9" * 40 + "\n")


def test_non_utf8_file_names_the_byte(tmp_path):
    f = tmp_path / "latin1.toml"
    f.write_bytes('[scenario]\nname = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ScenarioError, match=r"not UTF-8 text \(byte \d+\)"):
        load(f)


def test_byte_order_mark_is_accepted(tmp_path):
    f = tmp_path / "bom.toml"
    f.write_bytes(b"\xef\xbb\xbf[run]\nmonths = 3\n")
    assert load(f).run.months == 3


def test_lone_surrogate_text_is_refused():
    with pytest.raises(ScenarioError, match="Unicode"):
        load_text('[scenario]\nname = "a\ud800"\n')


def test_special_files_are_refused_without_reading(tmp_path):
    with pytest.raises(ScenarioError, match="regular file"):
        load(tmp_path)  # a folder
    with pytest.raises(ScenarioError, match="regular file"):
        load("/dev/zero")  # endless: must not be read


def test_thousands_of_unknown_keys_fail_fast_with_a_bounded_message():
    text = "[support]\n" + "".join(f"k{i} = {i}\n" for i in range(20_000))
    t = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_text(text)
    assert time.perf_counter() - t < BOUNDED_S
    assert "more problems" in str(info.value) and len(str(info.value)) < 20_000


# ------------------------------------------------------------------ policies and segments


def test_duplicate_policy_names_are_a_toml_error():
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_text("[policies.a]\npricing.scheme = 'flat'\n[policies.a]\nvip.enabled = true\n")


def test_duplicate_segment_names_are_named():
    segs = [{"name": "a", "share": 0.5}, {"name": "a", "share": 0.5}]
    with pytest.raises(ScenarioError, match="customers.*duplicate segment names: a"):
        load_text(tomli_w.dumps({"customers": {"segments": segs}}))
    with pytest.raises(ScenarioError, match="policies.p.customers.*duplicate segment names: a"):
        load_text(tomli_w.dumps({"policies": {"p": {"customers": {"segments": segs}}}}))


def test_empty_policies():
    assert [p for p in load_text("[policies]\n").policies] == []  # no policies: one policy, "base"
    s = load_text("[policies.same]\n")  # an empty policy is the base parameters
    assert list(s.policies) == ["same"]


def test_reference_policy_must_exist_even_without_policies():
    with pytest.raises(ScenarioError, match="reference_policy"):
        load_text("[scenario]\nreference_policy = 'flat'\n")
    assert load_text("[scenario]\nreference_policy = 'base'\n").scenario.reference_policy == "base"


@pytest.mark.parametrize("name", ["", "a b", "x" * 41, "é", "a/b", "-"])
def test_bad_policy_names_are_named(name):
    with pytest.raises(ScenarioError, match="policy names"):
        load_text(tomli_w.dumps({"policies": {name: {}}}))


@FAST
@given(st.dictionaries(st.text(max_size=10), st.one_of(toml_values, nested(1)), max_size=4))
def test_arbitrary_policy_contents(overrides):
    text = dumps({"policies": {"p": overrides}})
    assume(text is not None)
    loads_or_clear_error(text)


@FAST
@given(st.sampled_from(SEG_RANGED), st.sampled_from([math.nan, -1.0, 1e300, "x"]), st.integers(0, 2))
def test_bad_segment_value_names_the_segment(p, value, index):
    field = p.path.split("[].")[1]
    named = re.escape(f"customers.segments[{index}].{field}") + "|" + re.escape(f"customers.segments.{index}.{field}")
    raw = value if isinstance(value, str) else repr(value)
    with pytest.raises(ScenarioError, match=named):
        load_text("", [f"customers.segments.{index}.{field}={raw}"])


def test_every_shipped_scenario_survives_a_round_trip():
    for path in sorted(SCENARIOS.glob("*.toml")):
        s = load(path)
        assert scenario_hash(load_text(to_toml(s))) == scenario_hash(s), path.name


# ------------------------------------------------------------------ resource guardrails


def test_guardrail_counts_every_policy_and_its_own_size():
    """A policy that overrides customers.initial (or adds growth) cannot slip past the limit."""
    small = load_text("[customers]\ninitial = 10\n[run]\nmonths = 10\nreplications = 2\n[policies.a]\n")
    assert guardrails.work(small) >= 10 * 10 * 2
    big = load_text("[customers]\ninitial = 10\n[run]\nmonths = 10\nreplications = 2\n[policies.a]\n"
                    "[policies.b]\ncustomers.initial = 1000000\n")
    assert guardrails.work(big) >= (10 + 1_000_000) * 10 * 2 > 100 * guardrails.work(small)
    growing = load_text("[customers]\ninitial = 10\n[run]\nmonths = 10\nreplications = 1\n"
                        "[acquisition]\ngrowth_per_month = 100\n")
    assert guardrails.work(growing) > 10 * 10
    with pytest.raises(ScenarioError, match="workload too large"):
        guardrails.check(big, limit=guardrails.work(big) - 1)
    assert guardrails.check(big, limit=guardrails.work(big)) == guardrails.work(big)


def test_guardrail_limit_from_environment(monkeypatch):
    s = load_text("[customers]\ninitial = 100\n[run]\nmonths = 10\nreplications = 1\n")
    monkeypatch.setenv("SUPPORTSIM_MAX_WORK", "999")
    with pytest.raises(ScenarioError, match="limit is 999"):
        guardrails.check(s)
    for bad in ("abc", "nan", "inf", ""):
        monkeypatch.setenv("SUPPORTSIM_MAX_WORK", bad)
        with pytest.raises(ScenarioError, match="SUPPORTSIM_MAX_WORK"):
            guardrails.check(s)


def test_guardrail_in_the_cli_refuses_before_running(tmp_path, capsys, monkeypatch):
    out = tmp_path / "o"
    monkeypatch.setenv("SUPPORTSIM_MAX_WORK", "1000")
    t = time.perf_counter()
    code = main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--quiet", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2 and time.perf_counter() - t < BOUNDED_S
    assert "workload too large" in err and "CPU-" in err and "limit is 1,000" in err
    assert "run refused" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    monkeypatch.delenv("SUPPORTSIM_MAX_WORK")
    code = main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--quiet", "--workers", "1",
                 "--max-work", "5e3"])
    assert code == 2 and "limit is 5,000" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse refuses a limit that is not a positive number
        main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(out), "--max-work", "-1"])


def test_cli_refuses_an_output_path_that_is_a_file(tmp_path, capsys):
    f = tmp_path / "results.txt"
    f.write_text("keep me")
    assert main(["run", str(SCENARIOS / "smoke.toml"), "--out", str(f), "--quiet", "--workers", "1"]) == 2
    assert "not a folder" in capsys.readouterr().err and f.read_text() == "keep me"


def test_strategies_cover_every_toml_type():
    # the strategies above really produce every TOML type (guards the tests themselves)
    for v in (date(2020, 1, 1), datetime(2020, 1, 1, 1, 1), dtime(1, 2), [1, "a"], {"a": {"b": 1}}):
        assert dumps({"x": v}) is not None


@FAST
@given(st.sampled_from([p for p in RANGED if p.section != "run"]), st.integers(0, 5), st.booleans())
def test_hash_does_not_depend_on_how_a_policy_value_is_written(p, n, as_float_first):
    """15 and 15.0 (or 1 and true) in a policy give the same resolved scenario and the same hash."""
    lo, hi = bounds(p)
    value = int(min(max(lo + n, lo), hi)) if float(lo).is_integer() else None
    assume(value is not None and (lo < value or not p.allowed.startswith("(")) and value <= hi)
    section, key = p.path.split(".", 1)
    as_int = f"[policies.a]\n{section}.{key} = {value}\n"
    as_float = f"[policies.a]\n{section}.{key} = {float(value)!r}\n"
    first, second = (as_float, as_int) if as_float_first else (as_int, as_float)
    try:
        a = load_text(first)
    except ScenarioError:
        assume(False)  # e.g. min_agents above the default max_agents, or a float for an int field
    b = loads_or_clear_error(second)
    if b is not None:
        assert scenario_hash(a) == scenario_hash(b)
